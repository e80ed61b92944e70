//! [`Backoff`]: exponential backoff with jitter, for everything a task retries (a sink or
//! converter outage, a dead letter queue that cannot be written, a failing consumer).

use std::time::Duration;

/// The longest wait between two attempts.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Exponential backoff with jitter, from 100 ms to [`MAX_BACKOFF`].
#[derive(Default)]
pub(super) struct Backoff {
    attempt: u32,
    /// The longest delay; [`MAX_BACKOFF`] unless set lower.
    cap: Option<Duration>,
}

impl Backoff {
    /// Backoff whose delays stop growing at `cap` (or [`MAX_BACKOFF`] if that is lower).
    pub(super) fn capped(cap: Duration) -> Self {
        Backoff { attempt: 0, cap: Some(cap.min(MAX_BACKOFF)) }
    }

    pub(super) fn next(&mut self) -> Duration {
        let cap = self.cap.unwrap_or(MAX_BACKOFF);
        let base = Duration::from_millis(100).saturating_mul(1 << self.attempt.min(10)).min(cap);
        self.attempt += 1;
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
        // Up to 20 % jitter keeps tasks that failed together from retrying in lockstep.
        base.mul_f64(0.8 + 0.2 * (nanos % 1000) as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        let mut b = Backoff::default();
        let first = b.next();
        assert!(first >= Duration::from_millis(80) && first <= Duration::from_millis(100), "{first:?}");
        let later: Vec<_> = (0..12).map(|_| b.next()).collect();
        assert!(later[0] > first);
        assert!(later.iter().all(|d| *d <= MAX_BACKOFF));
        assert!(*later.last().unwrap() >= MAX_BACKOFF.mul_f64(0.8));

        let mut short = Backoff::capped(Duration::from_millis(500));
        let delays: Vec<_> = (0..8).map(|_| short.next()).collect();
        assert!(delays.iter().all(|d| *d <= Duration::from_millis(500)), "{delays:?}");
        assert!(delays[7] >= Duration::from_millis(400), "{delays:?}");
    }
}
