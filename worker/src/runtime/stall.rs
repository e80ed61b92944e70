//! Noticing that the whole process stood still (SIGSTOP, a VM pause, a long swap storm), so a
//! task does not write on behalf of partitions the group may have given away meanwhile.
//!
//! A frozen worker keeps its TCP ports, so neither its peers nor Kafka learn that it is frozen
//! until its consumer session expires; then its partitions go to other tasks, which read back what
//! landed and carry on. When the frozen process wakes, its tasks still hold batches and open
//! files, and librdkafka only finds out that the assignment is lost at its next heartbeat: a
//! task that wrote in that window would write rows twice, or publish a Parquet file over the
//! new owner's. So every write of a sink task first asks [`StallWatch::mark`]: if it changed
//! since the task last proved its membership, the task proves it again (a synchronous offset
//! commit, which the group coordinator refuses to a member it dropped) before writing.
//! A stall shorter than [`harmless_stall`] (the consumer's session timeout less a heartbeat
//! interval and a second) cannot have cost the membership and needs no proof.
//!
//! One thread per process ticks every [`TICK`]; a tick later than [`STALL`] counts a stall. A
//! stall still under way when a task asks (the process just woke and this thread has not run
//! yet) counts too, so a task cannot slip a write in before the thread notices.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often the watch thread wakes.
const TICK: Duration = Duration::from_millis(100);
/// A pause this long is a stall. Far below any session timeout (Sluice's task consumers
/// default to 10 s, librdkafka's heartbeats are 3 s apart), far above scheduling noise.
pub const STALL: Duration = Duration::from_secs(2);
/// How many stall lengths are kept; a task that missed more than that assumes the worst.
const KEPT: usize = 64;

/// The process-wide stall counter (see the module doc).
pub struct StallWatch {
    origin: Instant,
    /// Nanoseconds since `origin` of the watch thread's last tick.
    last_tick: AtomicU64,
    /// Stalls seen by the watch thread.
    stalls: AtomicU64,
    /// The lengths of the last [`KEPT`] stalls, oldest first.
    lengths: Mutex<VecDeque<Duration>>,
}

impl StallWatch {
    /// The process's watch, started on first use.
    pub fn global() -> &'static StallWatch {
        static WATCH: OnceLock<StallWatch> = OnceLock::new();
        let mut first = false;
        let watch = WATCH.get_or_init(|| {
            first = true;
            StallWatch::new()
        });
        if first {
            let spawned = std::thread::Builder::new().name("sluice-stall-watch".into()).spawn(move || loop {
                std::thread::sleep(TICK);
                watch.tick();
            });
            if let Err(error) = spawned {
                tracing::error!(%error, "The stall watch thread did not start; a frozen worker may write after its partitions moved.");
            }
        }
        watch
    }

    fn new() -> Self {
        StallWatch {
            origin: Instant::now(),
            last_tick: AtomicU64::new(0),
            stalls: AtomicU64::new(0),
            lengths: Mutex::new(VecDeque::with_capacity(KEPT)),
        }
    }

    fn now_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// One tick of the watch thread: counts a stall if the previous tick is too long ago.
    fn tick(&self) {
        let now = self.now_nanos();
        let before = self.last_tick.swap(now, Ordering::SeqCst);
        let gap = Duration::from_nanos(now.saturating_sub(before));
        if gap > STALL + TICK {
            {
                let mut lengths = self.lengths.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                if lengths.len() == KEPT {
                    lengths.pop_front();
                }
                lengths.push_back(gap);
            }
            let n = self.stalls.fetch_add(1, Ordering::SeqCst) + 1;
            tracing::warn!(
                stalled_ms = (now.saturating_sub(before)) / 1_000_000,
                stalls = n,
                "The worker process stood still; its tasks confirm they still own their partitions before writing again."
            );
        }
    }

    /// Changes whenever the process stood still for longer than [`STALL`], including a stall
    /// that has just ended and that the watch thread has not counted yet.
    pub fn mark(&self) -> u64 {
        self.stalls.load(Ordering::SeqCst) + u64::from(self.since_tick() > STALL + TICK)
    }

    fn since_tick(&self) -> Duration {
        Duration::from_nanos(self.now_nanos().saturating_sub(self.last_tick.load(Ordering::SeqCst)))
    }

    /// The longest stall after mark `confirmed` (zero if none), including one under way. More
    /// stalls than are kept count as endless.
    pub fn longest_since(&self, confirmed: u64) -> Duration {
        let stalls = self.stalls.load(Ordering::SeqCst);
        let newer = usize::try_from(stalls.saturating_sub(confirmed)).unwrap_or(usize::MAX);
        let lengths = self.lengths.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut longest = if newer > lengths.len() {
            Duration::MAX
        } else {
            lengths.iter().rev().take(newer).copied().max().unwrap_or_default()
        };
        drop(lengths);
        let under_way = self.since_tick();
        if under_way > STALL + TICK {
            longest = longest.max(under_way);
        }
        longest
    }
}

/// How long the process may stand still without the group possibly dropping a consumer with
/// these settings: a member is dropped after `session.timeout.ms` without a heartbeat, and the
/// last one may have been up to `heartbeat.interval.ms` before the stall (and a second's margin).
pub fn harmless_stall(settings: &std::collections::BTreeMap<String, String>) -> Duration {
    let ms = |key: &str, default: u64| settings.get(key).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(default);
    let (session, heartbeat) = (ms("session.timeout.ms", 45_000), ms("heartbeat.interval.ms", 3_000));
    Duration::from_millis(session.saturating_sub(heartbeat).saturating_sub(1_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_tick_counts_one_stall_seen_before_and_after_the_watch_notices() {
        let watch = StallWatch::new();
        watch.tick();
        let quiet = watch.mark();
        // The process "stands still": no tick for longer than STALL.
        watch.last_tick.store(0, Ordering::SeqCst);
        let origin_shift = STALL + TICK * 3;
        let watch = StallWatch { origin: Instant::now() - origin_shift, ..watch };
        let during = watch.mark();
        assert_eq!(during, quiet + 1, "a stall not yet counted by the thread is seen");
        watch.tick();
        assert_eq!(watch.mark(), during, "once the thread counts it, the mark stays the same");
        watch.tick();
        assert_eq!(watch.mark(), during, "regular ticks change nothing");
        let longest = watch.longest_since(quiet);
        assert!(longest >= STALL + TICK * 3 && longest < STALL * 3, "{longest:?}");
        assert_eq!(watch.longest_since(during), Duration::ZERO, "nothing since the stall");
    }

    #[test]
    fn a_stall_is_harmless_below_the_session_less_a_heartbeat_and_a_second() {
        let settings = |pairs: &[(&str, &str)]| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(harmless_stall(&settings(&[("session.timeout.ms", "10000")])), Duration::from_secs(6));
        assert_eq!(
            harmless_stall(&settings(&[("session.timeout.ms", "30000"), ("heartbeat.interval.ms", "10000")])),
            Duration::from_secs(19)
        );
        assert_eq!(harmless_stall(&settings(&[])), Duration::from_secs(41), "librdkafka's defaults");
        assert_eq!(harmless_stall(&settings(&[("session.timeout.ms", "3000")])), Duration::ZERO);
    }
}
