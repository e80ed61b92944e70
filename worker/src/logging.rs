//! Log levels that can be read and changed while the worker runs (`/admin/loggers`), with
//! Kafka Connect's semantics mapped onto `tracing`.
//!
//! A logger is a `tracing` target (a module path such as `sluice_worker::runtime`, or a `log`
//! target such as `librdkafka`); `root` is the default level. Setting a level on a namespace
//! sets it on every known logger whose name starts with it, as log4j does for a logger and its
//! children, and returns their names. The levels become the directives of an [`EnvFilter`]
//! that is swapped in through `tracing-subscriber`'s reload layer, so nothing is restarted.
//!
//! Known loggers are the targets of the callsites `tracing` has registered so far (like
//! log4j's loggers, they appear once code that logs has run), plus every logger given a level.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::Serialize;
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{reload, EnvFilter, Layer};

/// Log4j's name for the root logger; matched case-insensitively, as log4j does.
pub const ROOT_LOGGER: &str = "root";

/// One logger's level as `GET /admin/loggers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggerLevel {
    /// `TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR` or `OFF`.
    pub level: String,
    /// When the level was last set through the REST API (ms since the epoch); `null` for
    /// levels from the start-up filter.
    pub last_modified: Option<i64>,
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    #[error("invalid log filter {spec:?}: {message}; use e.g. \"info,sluice_worker=debug\"")]
    Filter { spec: String, message: String },
    #[error("a global tracing subscriber is already installed: {0}")]
    AlreadyInstalled(String),
}

/// How log lines are written to stderr.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// One human-readable line per event (the default).
    #[default]
    Text,
    /// One JSON object per line (`timestamp`, `level`, `fields`, `target`, `spans`), for log
    /// collectors.
    Json,
}

/// A level name the REST API does not know.
#[derive(Debug, thiserror::Error)]
#[error("invalid log level '{0}'.")]
pub struct InvalidLevel(pub String);

#[derive(Debug, Clone, Copy)]
struct Entry {
    level: LevelFilter,
    last_modified: Option<i64>,
}

impl Entry {
    fn view(self) -> LoggerLevel {
        LoggerLevel { level: level_name(self.level).to_owned(), last_modified: self.last_modified }
    }
}

struct Levels {
    root: Entry,
    /// Loggers with a level of their own, by name.
    explicit: BTreeMap<String, Entry>,
    /// Start-up directives this model does not cover (span and field filters), kept verbatim.
    other: Vec<String>,
}

/// Applies a new filter spec to the running subscriber.
type Apply = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// The worker's log levels; see the module docs.
pub struct Loggers {
    levels: Mutex<Levels>,
    known: Arc<Mutex<BTreeSet<&'static str>>>,
    apply: Apply,
}

impl Loggers {
    /// Installs the global subscriber: output in `format`, filtered by `spec` (`EnvFilter`
    /// syntax, e.g. `info,librdkafka=warn`), with levels changeable at runtime. `log` records
    /// (librdkafka's) go through the same filter.
    pub fn install(spec: &str, format: LogFormat) -> Result<Arc<Loggers>, LoggingError> {
        let filter = parse_filter(spec)?;
        let known = Arc::new(Mutex::new(BTreeSet::new()));
        let (filter, handle) = reload::Layer::new(filter);
        // Both formats sit behind the same reloadable filter, so `/admin/loggers` works in each.
        let text = (format == LogFormat::Text).then(|| tracing_subscriber::fmt::layer().with_target(false));
        let json = (format == LogFormat::Json).then(|| tracing_subscriber::fmt::layer().json());
        tracing_subscriber::registry()
            .with(filter)
            .with(text)
            .with(json)
            .with(TargetRecorder(known.clone()))
            .try_init()
            .map_err(|e| LoggingError::AlreadyInstalled(e.to_string()))?;
        let apply: Apply = Box::new(move |spec| {
            let filter = parse_filter(spec).map_err(|e| e.to_string())?;
            handle.reload(filter).map_err(|e| e.to_string())
        });
        Ok(Arc::new(Loggers { levels: Mutex::new(Levels::parse(spec)), known, apply }))
    }

    /// Tracks levels without installing a subscriber, for tests and for embedding the worker
    /// in a program that sets up its own logging.
    pub fn detached(spec: &str) -> Result<Loggers, LoggingError> {
        parse_filter(spec)?;
        Ok(Loggers {
            levels: Mutex::new(Levels::parse(spec)),
            known: Arc::new(Mutex::new(BTreeSet::new())),
            apply: Box::new(|_| Ok(())),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Levels> {
        self.levels.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn known(&self) -> BTreeSet<&'static str> {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Every logger with a level of its own, and `root` (`GET /admin/loggers`).
    pub fn all_levels(&self) -> BTreeMap<String, LoggerLevel> {
        let levels = self.lock();
        let mut out: BTreeMap<String, LoggerLevel> =
            levels.explicit.iter().map(|(name, e)| (name.clone(), e.view())).collect();
        out.insert(ROOT_LOGGER.to_owned(), levels.root.view());
        out
    }

    /// The level of one logger, inherited from its closest configured ancestor when it has
    /// none of its own; `None` when no such logger is known (`GET /admin/loggers/{logger}`).
    pub fn level(&self, logger: &str) -> Option<LoggerLevel> {
        let levels = self.lock();
        if logger.eq_ignore_ascii_case(ROOT_LOGGER) {
            return Some(levels.root.view());
        }
        if let Some(e) = levels.explicit.get(logger) {
            return Some(e.view());
        }
        let module_prefix = format!("{logger}::");
        if !self.known().iter().any(|t| *t == logger || t.starts_with(&module_prefix)) {
            return None;
        }
        Some(LoggerLevel { level: level_name(levels.effective(logger)).to_owned(), last_modified: None })
    }

    /// Sets `level` on `namespace` and every known logger under it (all of them for `root`);
    /// returns the affected loggers' names, sorted (`PUT /admin/loggers/{logger}`).
    pub fn set_level(&self, namespace: &str, level: &str) -> Result<Vec<String>, InvalidLevel> {
        let new = parse_level(level).ok_or_else(|| InvalidLevel(level.to_owned()))?;
        let now = now_ms();
        let mut levels = self.lock();
        let is_root = namespace.eq_ignore_ascii_case(ROOT_LOGGER);
        let mut affected: BTreeSet<String> = self
            .known()
            .into_iter()
            .map(str::to_owned)
            .chain(levels.explicit.keys().cloned())
            .filter(|name| is_root || name.starts_with(namespace))
            .collect();
        if !is_root {
            affected.insert(namespace.to_owned());
        }
        // Decide from the levels before this change, so a child is not skipped just because
        // its parent was set first.
        let changed: Vec<&String> = affected.iter().filter(|name| levels.effective(name) != new).collect();
        for name in changed {
            levels.explicit.insert(name.clone(), Entry { level: new, last_modified: Some(now) });
        }
        if is_root {
            if levels.root.level != new {
                levels.root = Entry { level: new, last_modified: Some(now) };
            }
            affected.insert(ROOT_LOGGER.to_owned());
        }
        let spec = levels.spec();
        drop(levels);
        match (self.apply)(&spec) {
            Ok(()) => tracing::info!(%namespace, level = level_name(new), "Log level changed."),
            Err(error) => tracing::error!(%namespace, %spec, %error, "Could not apply the new log levels."),
        }
        Ok(affected.into_iter().collect())
    }

    /// The `EnvFilter` spec the current levels amount to.
    pub fn filter_spec(&self) -> String {
        self.lock().spec()
    }
}

impl Levels {
    fn parse(spec: &str) -> Levels {
        // EnvFilter's default when no bare level is given.
        let mut levels = Levels {
            root: Entry { level: LevelFilter::ERROR, last_modified: None },
            explicit: BTreeMap::new(),
            other: Vec::new(),
        };
        for directive in spec.split(',').map(str::trim).filter(|d| !d.is_empty()) {
            if directive.contains(['[', '{']) {
                levels.other.push(directive.to_owned());
                continue;
            }
            match directive.split_once('=') {
                Some((target, level)) => match parse_level(level) {
                    Some(level) => {
                        levels.explicit.insert(target.trim().to_owned(), Entry { level, last_modified: None });
                    }
                    None => levels.other.push(directive.to_owned()),
                },
                None => match parse_level(directive) {
                    Some(level) => levels.root.level = level,
                    // A bare target enables everything it logs.
                    None => {
                        levels
                            .explicit
                            .insert(directive.to_owned(), Entry { level: LevelFilter::TRACE, last_modified: None });
                    }
                },
            }
        }
        levels
    }

    /// The level a target logs at: its own, else that of the longest configured prefix (as
    /// `EnvFilter` picks the most specific directive), else root's.
    fn effective(&self, target: &str) -> LevelFilter {
        self.explicit
            .iter()
            .filter(|(name, _)| target.starts_with(name.as_str()))
            .max_by_key(|(name, _)| name.len())
            .map_or(self.root.level, |(_, e)| e.level)
    }

    fn spec(&self) -> String {
        std::iter::once(level_name(self.root.level).to_ascii_lowercase())
            .chain(self.other.iter().cloned())
            .chain(self.explicit.iter().map(|(name, e)| format!("{name}={}", level_name(e.level).to_ascii_lowercase())))
            .collect::<Vec<_>>()
            .join(",")
    }
}

fn parse_filter(spec: &str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::builder().parse(spec).map_err(|e| LoggingError::Filter { spec: spec.to_owned(), message: e.to_string() })
}

/// Log4j's level names, mapped onto tracing's: FATAL is ERROR, ALL is TRACE.
fn parse_level(level: &str) -> Option<LevelFilter> {
    match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" | "ALL" => Some(LevelFilter::TRACE),
        "DEBUG" => Some(LevelFilter::DEBUG),
        "INFO" => Some(LevelFilter::INFO),
        "WARN" | "WARNING" => Some(LevelFilter::WARN),
        "ERROR" | "FATAL" => Some(LevelFilter::ERROR),
        "OFF" => Some(LevelFilter::OFF),
        _ => None,
    }
}

fn level_name(level: LevelFilter) -> &'static str {
    match level {
        LevelFilter::TRACE => "TRACE",
        LevelFilter::DEBUG => "DEBUG",
        LevelFilter::INFO => "INFO",
        LevelFilter::WARN => "WARN",
        LevelFilter::ERROR => "ERROR",
        _ => "OFF",
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// Remembers the target of every callsite `tracing` registers. It sits outermost and never
/// filters, so it sees callsites the filter disables too.
struct TargetRecorder(Arc<Mutex<BTreeSet<&'static str>>>);

impl<S: Subscriber> Layer<S> for TargetRecorder {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).insert(metadata.target());
        Interest::always()
    }

    fn enabled(&self, _metadata: &Metadata<'_>, _ctx: Context<'_, S>) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loggers(spec: &str, known: &[&'static str]) -> Loggers {
        let l = Loggers::detached(spec).unwrap();
        l.known.lock().unwrap().extend(known);
        l
    }

    #[test]
    fn startup_filter_becomes_root_and_explicit_levels() {
        let l = loggers("info,librdkafka=warn", &["sluice_worker::herder"]);
        let all = l.all_levels();
        assert_eq!(all.keys().collect::<Vec<_>>(), ["librdkafka", "root"]);
        assert_eq!(all["root"], LoggerLevel { level: "INFO".into(), last_modified: None });
        assert_eq!(all["librdkafka"].level, "WARN");
        assert_eq!(l.level("ROOT").unwrap().level, "INFO");
        // Known but not configured: inherits root's level, never modified.
        assert_eq!(
            l.level("sluice_worker::herder").unwrap(),
            LoggerLevel { level: "INFO".into(), last_modified: None }
        );
        assert_eq!(l.level("sluice_worker").unwrap().level, "INFO", "a module with known children exists");
        assert!(l.level("no_such::logger").is_none());
        assert!(l.level("sluice_work").is_none(), "only whole path segments make a parent");
    }

    #[test]
    fn setting_a_namespace_sets_its_children_and_reports_them() {
        let l = loggers("info", &["sluice_worker::herder", "sluice_worker::runtime::sink_runner", "rdkafka::client"]);
        let affected = l.set_level("sluice_worker", "debug").unwrap();
        assert_eq!(affected, ["sluice_worker", "sluice_worker::herder", "sluice_worker::runtime::sink_runner"]);
        let level = l.level("sluice_worker::runtime::sink_runner").unwrap();
        assert_eq!(level.level, "DEBUG");
        assert!(level.last_modified.is_some());
        assert_eq!(l.level("rdkafka::client").unwrap().level, "INFO", "other namespaces are untouched");
        assert_eq!(
            l.filter_spec(),
            "info,sluice_worker=debug,sluice_worker::herder=debug,sluice_worker::runtime::sink_runner=debug"
        );

        // A more specific setting wins; re-setting the parent overrides it again, as in log4j.
        l.set_level("sluice_worker::herder", "ERROR").unwrap();
        assert_eq!(l.level("sluice_worker::herder").unwrap().level, "ERROR");
        l.set_level("sluice_worker", "INFO").unwrap();
        assert_eq!(l.level("sluice_worker::herder").unwrap().level, "INFO");
    }

    #[test]
    fn root_covers_every_logger_and_bad_levels_are_refused() {
        let l = loggers("warn,librdkafka=error", &["sluice_worker::herder"]);
        let affected = l.set_level("root", "fatal").unwrap();
        assert_eq!(affected, ["librdkafka", "root", "sluice_worker::herder"]);
        assert_eq!(l.all_levels()["root"].level, "ERROR");
        assert!(l.all_levels()["root"].last_modified.is_some());
        let err = l.set_level("root", "LOUD").unwrap_err();
        assert_eq!(err.to_string(), "invalid log level 'LOUD'.");
    }

    #[test]
    fn unmodelled_directives_are_kept_and_bad_specs_rejected() {
        let l = loggers("debug,my_crate[span{id=1}]=trace", &[]);
        assert_eq!(l.filter_spec(), "debug,my_crate[span{id=1}]=trace");
        assert!(Loggers::detached("foo=loud=1").is_err());
    }
}
