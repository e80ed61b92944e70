//! The process's own figures, read from `/proc/self` when Prometheus scrapes, under the names
//! every Prometheus client library uses (`process_*`). Elsewhere than Linux there are none.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

/// Clock ticks per second of `/proc/self/stat`'s times: `USER_HZ`, 100 on every Linux
/// architecture Sluice is built for.
const TICKS_PER_SECOND: f64 = 100.0;

/// Reads `/proc/self` at each scrape.
#[derive(Debug)]
pub struct ProcessCollector;

/// What one scrape reads.
#[derive(Debug, Default, PartialEq)]
struct ProcessFigures {
    cpu_seconds: Option<f64>,
    resident_bytes: Option<f64>,
    virtual_bytes: Option<f64>,
    open_fds: Option<f64>,
    max_fds: Option<f64>,
    threads: Option<f64>,
    start_time_seconds: Option<f64>,
}

/// `/proc/self/stat` after the command name (which may hold spaces), split on spaces: the
/// first entry is field 3 (`state`).
fn stat_fields(stat: &str) -> Vec<&str> {
    stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default()
}

/// A `Key:   1234 kB` line of `/proc/self/status`, in bytes.
fn status_kb(status: &str, key: &str) -> Option<f64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024.0)
}

fn read() -> ProcessFigures {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields = stat_fields(&stat);
    // Fields 14, 15 (utime, stime), 20 (num_threads), 22 (starttime), counted from 1.
    let field = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<f64>().ok());
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()
        .and_then(|s| s.lines().find_map(|l| l.strip_prefix("btime ")?.trim().parse::<f64>().ok()));
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    ProcessFigures {
        cpu_seconds: field(14).zip(field(15)).map(|(u, s)| (u + s) / TICKS_PER_SECOND),
        resident_bytes: status_kb(&status, "VmRSS:"),
        virtual_bytes: status_kb(&status, "VmSize:"),
        open_fds: std::fs::read_dir("/proc/self/fd").ok().map(|d| d.count() as f64),
        max_fds: limits
            .lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3)?.parse().ok()),
        threads: field(20),
        start_time_seconds: field(22).zip(boot_time).map(|(ticks, boot)| boot + ticks / TICKS_PER_SECOND),
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let p = read();
        if let Some(v) = p.cpu_seconds {
            let counter = ConstCounter::new(v);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time the process used, in seconds.",
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        let gauges = [
            ("process_resident_memory_bytes", "Resident memory size in bytes.", p.resident_bytes),
            ("process_virtual_memory_bytes", "Virtual memory size in bytes.", p.virtual_bytes),
            ("process_open_fds", "Open file descriptors.", p.open_fds),
            ("process_max_fds", "The limit on open file descriptors.", p.max_fds),
            ("process_threads", "Threads of the process.", p.threads),
            (
                "process_start_time_seconds",
                "When the process started, in seconds since the Unix epoch.",
                p.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            if let Some(v) = value {
                let gauge = ConstGauge::new(v);
                let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
                gauge.encode(metric)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_survive_a_command_name_with_spaces_and_parens() {
        let stat = "42 (tokio (rt) w) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 1234 0 0";
        let f = stat_fields(stat);
        assert_eq!(f[0], "S");
        assert_eq!(f[14 - 3], "250");
        assert_eq!(f[15 - 3], "50");
        assert_eq!(f[20 - 3], "9");
        assert_eq!(f[22 - 3], "1234");
    }

    #[test]
    fn this_process_has_figures() {
        let p = read();
        assert!(p.resident_bytes.is_some_and(|b| b > 1024.0 * 1024.0), "{p:?}");
        assert!(p.open_fds.is_some_and(|n| n >= 3.0), "{p:?}");
        assert!(p.threads.is_some_and(|n| n >= 1.0), "{p:?}");
        assert!(p.start_time_seconds.is_some_and(|t| t > 1.6e9), "{p:?}");
        assert_eq!(status_kb("VmRSS:\t  2048 kB\n", "VmRSS:"), Some(2048.0 * 1024.0));
    }
}
