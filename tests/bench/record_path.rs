//! What the in-process record path benches share (`connectors/sluice-clickhouse/benches/encode.rs`,
//! `connectors/sluice-parquet/benches/write.rs`, each including this file as a module): the
//! benchmark topic's events and how long each stage runs.

use std::time::{Duration, Instant};

/// Records per batch, as `sluice.batch.max.records` (the worker's default).
pub const BATCH: usize = 10_000;

/// The benchmark topic's events (`tests/bench/bench_topics.py`): five string fields, an ISO-8601
/// timestamp with milliseconds, ~145 bytes.
pub fn event(i: usize) -> Vec<u8> {
    const TYPES: [&str; 16] = [
        "page_view",
        "click",
        "add_to_cart",
        "remove_from_cart",
        "purchase",
        "signup",
        "login",
        "logout",
        "search",
        "share",
        "like",
        "comment",
        "subscribe",
        "unsubscribe",
        "video_play",
        "video_pause",
    ];
    const DEVICES: [&str; 3] = ["mobile", "desktop", "tablet"];
    let ms = 1_758_189_600_000u64 + i as u64 * 37;
    let (secs, milli) = (ms / 1000 % 86_400, ms % 1000);
    format!(
        r#"{{"user_id":"user_{}","event_type":"{}","timestamp":"2025-09-18T{:02}:{:02}:{:02}.{milli:03}Z","session_id":"sess_{:012x}","device":"{}"}}"#,
        (i * 7919) % 50_000,
        TYPES[(i * 31) % 16],
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        (i as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 16,
        DEVICES[i % 3],
    )
    .into_bytes()
}

/// How long each stage runs: for about a time (`SLUICE_BENCH_MS`, default 2,000 ms), or a
/// fixed number of batches (`SLUICE_BENCH_ROUNDS`), which makes instruction counts
/// comparable: `valgrind --tool=cachegrind` of a run with N rounds minus one with 0 rounds,
/// divided by N × 10,000, is the stage's instructions per record, free of the timing noise of
/// a shared machine. `SLUICE_BENCH_ONLY` runs only the stages whose name contains it.
pub struct Budget {
    time: Duration,
    rounds: Option<usize>,
    only: Option<String>,
}

impl Budget {
    pub fn from_env() -> Self {
        let var = |name| std::env::var(name).ok();
        Budget {
            time: Duration::from_millis(var("SLUICE_BENCH_MS").and_then(|v| v.parse().ok()).unwrap_or(2_000)),
            rounds: var("SLUICE_BENCH_ROUNDS").and_then(|v| v.parse().ok()),
            only: var("SLUICE_BENCH_ONLY"),
        }
    }

    /// Runs `work` (one batch) as the budget says: the stage's name and nanoseconds per
    /// record, `None` for a stage left out.
    pub fn measure<'n>(&self, name: &'n str, mut work: impl FnMut() -> usize) -> (&'n str, Option<f64>) {
        if self.only.as_ref().is_some_and(|only| !name.contains(only.as_str())) {
            return (name, None);
        }
        let started = Instant::now();
        let mut records = 0usize;
        match self.rounds {
            Some(rounds) => (0..rounds).for_each(|_| records += work()),
            None => {
                work(); // warm-up
                while started.elapsed() < self.time {
                    records += work();
                }
            }
        }
        (name, Some(started.elapsed().as_nanos() as f64 / records.max(1) as f64))
    }
}
