//! `sluice`: the binary edge. Parses the command line, sets up logging, and runs a worker.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use rdkafka::consumer::{BaseConsumer, Consumer};
use sluice_worker::distributed::config::DistributedConfig;
use sluice_worker::distributed::herder::DistributedHerder;
use sluice_worker::herder::{ConnectHerder, Herder};
use sluice_worker::kafka_clients::KafkaClients;
use sluice_worker::logging::{LogFormat, Loggers};
use sluice_worker::rest::{self, RestState};
use sluice_worker::store::ConfigStore;
use sluice_worker::worker::Worker;
use sluice_worker::worker_config::{self, WorkerConfig};
use sluice_worker::{connector_file, plugins};

#[derive(Parser)]
#[command(name = "sluice", version, about = "Kafka Connect, rebuilt in Rust, for Kafka → ClickHouse and Parquet.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log line format: `text` (human-readable) or `json` (one JSON object per line)
    /// [default: the worker config's `sluice.log.format`, else text].
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormatArg>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

impl From<LogFormatArg> for LogFormat {
    fn from(arg: LogFormatArg) -> Self {
        match arg {
            LogFormatArg::Text => LogFormat::Text,
            LogFormatArg::Json => LogFormat::Json,
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run a standalone worker: state in a local sled store, REST API on `listeners`.
    Standalone {
        /// Worker config (`.properties`, Kafka Connect's keys).
        worker_config: PathBuf,
        /// Connector configs to create or update at start (`.json` or `.properties`).
        connectors: Vec<PathBuf>,
    },
    /// Run a distributed worker: workers with the same `group.id` share connectors and tasks
    /// through Kafka (config, offset and status topics).
    Distributed {
        /// Worker config (`.properties`, Kafka Connect's distributed keys).
        worker_config: PathBuf,
    },
    /// Produce the sample event (user_id, event_type, timestamp, session_id, device) to a
    /// topic, as JSON or through a schema registry: the demo's and the benchmarks' load.
    Gen(GenArgs),
    /// A client for any Kafka Connect REST API: get, describe, apply, pause, restart, offsets.
    Ctl(sluice_worker::ctl::CtlArgs),
}

#[derive(clap::Args)]
struct GenArgs {
    /// Topic to produce to.
    #[arg(long)]
    topic: String,
    /// Kafka brokers [default: $SLUICE_KAFKA_BOOTSTRAP, else 127.0.0.1:9092].
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// How many records (with --duration-s, whichever ends first).
    #[arg(long)]
    count: Option<u64>,
    /// For how many seconds.
    #[arg(long)]
    duration_s: Option<f64>,
    /// Records per second [default: as fast as the producer goes].
    #[arg(long)]
    rate: Option<u64>,
    /// Value format; avro, json-schema and protobuf register the schema under `<topic>-value`.
    #[arg(long, value_enum, default_value = "json")]
    format: sluice_worker::gen::Format,
    /// Schema registry (Confluent API) [default: $SLUICE_REGISTRY_URL].
    #[arg(long)]
    registry_url: Option<String>,
    /// Record key.
    #[arg(long, value_enum, default_value = "none")]
    key: sluice_worker::gen::KeyChoice,
    /// Number of the first event (a second run can continue where the first stopped).
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// A librdkafka producer setting, `-X key=value` (repeatable).
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    producer: Vec<String>,
}

const DEFAULT_LOG_FILTER: &str = "info,librdkafka=warn,rdkafka=warn";

/// Logging from `SLUICE_LOG` (else `RUST_LOG`, else the default), changeable at runtime
/// through `/admin/loggers`.
fn init_logging(format: LogFormat) -> anyhow::Result<Arc<Loggers>> {
    let spec = std::env::var("SLUICE_LOG").or_else(|_| std::env::var("RUST_LOG")).ok();
    match spec.as_deref().map(|spec| Loggers::install(spec, format)) {
        Some(Ok(loggers)) => Ok(loggers),
        Some(Err(error)) => {
            let loggers = Loggers::install(DEFAULT_LOG_FILTER, format)?;
            tracing::warn!(%error, default = DEFAULT_LOG_FILTER, "Ignoring the log filter from the environment.");
            Ok(loggers)
        }
        None => Ok(Loggers::install(DEFAULT_LOG_FILTER, format)?),
    }
}

/// Asks Kafka for its cluster id (shown by `GET /`); a broker that is not up yet is not fatal.
/// When Kafka does not answer, why (a refused login, a TLS failure, an unreachable broker) waits
/// in the client's event queue: one poll hands it to the log.
async fn kafka_cluster_id(kafka: KafkaClients) -> Option<String> {
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = kafka.internal().create().ok()?;
        let id = consumer.client().fetch_cluster_id(Duration::from_secs(10));
        if id.is_none() {
            if let Some(Err(error)) = consumer.poll(Duration::from_millis(200)) {
                tracing::warn!(%error, bootstrap = kafka.bootstrap(), "Kafka did not answer.");
            }
        }
        id
    })
    .await
    .ok()
    .flatten()
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

async fn run_standalone(
    worker_config: PathBuf,
    connector_files: Vec<PathBuf>,
    loggers: Arc<Loggers>,
) -> anyhow::Result<()> {
    let worker = Arc::new(WorkerConfig::load(&worker_config)?);
    let listeners = rest::bind(&worker.rest)?;
    std::fs::create_dir_all(&worker.data_dir)
        .with_context(|| format!("cannot create data dir {}", worker.data_dir.display()))?;
    let store = ConfigStore::open(&worker.data_dir)?;
    let cluster_id = kafka_cluster_id(worker.kafka.clone()).await;
    if cluster_id.is_none() {
        tracing::warn!(bootstrap = %worker.bootstrap_servers, "Kafka did not answer yet; tasks will keep trying to connect.");
    }
    let herder =
        Herder::start(Worker::new(worker.clone(), Arc::new(plugins::builtin_plugins()), loggers), store).await?;
    for path in connector_files {
        let file = connector_file::read(&path)?;
        herder
            .put_connector_config(&file.name, file.config)
            .await
            .with_context(|| format!("connector config {}", path.display()))?;
    }

    serve_until_signal(&worker, listeners, herder, cluster_id, "standalone").await
}

/// Serves the REST API until SIGINT/SIGTERM, then stops the tasks (committing offsets).
async fn serve_until_signal(
    worker: &WorkerConfig,
    listeners: rest::BoundListeners,
    herder: Arc<dyn ConnectHerder>,
    cluster_id: Option<String>,
    mode: &str,
) -> anyhow::Result<()> {
    let server =
        rest::serve(&worker.rest, listeners, RestState { herder: herder.clone(), kafka_cluster_id: cluster_id })?;
    let handle = server.handle();
    let listen: Vec<String> = worker.rest.listeners.iter().map(ToString::to_string).collect();
    tracing::info!(listen = ?listen, basic_auth = worker.rest.basic_auth.is_some(), worker_id = %worker.advertised, mode, "Sluice worker started.");
    tokio::select! {
        result = server => result.context("REST server failed")?,
        _ = shutdown_signal() => tracing::info!("Shutting down: stopping tasks and committing offsets."),
    }
    herder.shutdown().await;
    handle.stop(true).await;
    Ok(())
}

async fn run_distributed(worker_config: PathBuf, loggers: Arc<Loggers>) -> anyhow::Result<()> {
    let worker = Arc::new(WorkerConfig::load(&worker_config)?);
    let dist = DistributedConfig::from_worker(&worker.raw).context("distributed worker config")?;
    let listeners = rest::bind(&worker.rest)?;
    let cluster_id = kafka_cluster_id(worker.kafka.clone()).await;
    let herder =
        DistributedHerder::start(Worker::new(worker.clone(), Arc::new(plugins::builtin_plugins()), loggers), &dist)
            .await
            .context("cannot join the worker cluster")?;
    serve_until_signal(&worker, listeners, herder, cluster_id, "distributed").await
}

/// `sluice gen`: progress on stderr, the result on stdout.
async fn run_gen(args: GenArgs) -> anyhow::Result<()> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let producer = args
        .producer
        .iter()
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Ok((k.to_owned(), v.to_owned())),
            None => Err(anyhow::anyhow!("-X {kv}: expected KEY=VALUE, e.g. -X linger.ms=5")),
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let options = sluice_worker::gen::GenOptions {
        bootstrap: args.bootstrap_server.or_else(|| env("SLUICE_KAFKA_BOOTSTRAP")).unwrap_or("127.0.0.1:9092".into()),
        topic: args.topic,
        count: args.count,
        duration: args.duration_s.map(Duration::from_secs_f64),
        rate: args.rate,
        format: args.format,
        registry_url: args.registry_url.or_else(|| env("SLUICE_REGISTRY_URL")),
        key: args.key,
        start: args.start,
        producer,
    };
    let topic = options.topic.clone();
    let report = sluice_worker::gen::run(options).await?;
    println!(
        "produced {} records ({} bytes of values) to {topic} in {:.1} s: {:.0} records/s",
        report.records,
        report.bytes,
        report.elapsed.as_secs_f64(),
        report.records_per_s()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let from_file = match &cli.command {
        Command::Standalone { worker_config, .. } | Command::Distributed { worker_config } => {
            worker_config::log_format_of(worker_config)?
        }
        Command::Gen(_) | Command::Ctl(_) => None,
    };
    let loggers = init_logging(cli.log_format.map(LogFormat::from).or(from_file).unwrap_or_default())?;
    match cli.command {
        Command::Standalone { worker_config, connectors } => run_standalone(worker_config, connectors, loggers).await,
        Command::Distributed { worker_config } => run_distributed(worker_config, loggers).await,
        Command::Gen(args) => run_gen(args).await,
        // Its own exit codes (1 failed, 2 usage from clap) and error lines, for scripts.
        Command::Ctl(args) => std::process::exit(sluice_worker::ctl::main(args).await),
    }
}
