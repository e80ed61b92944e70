//! `sluice ctl`: a command-line client for any Kafka Connect REST API (Sluice's and the JVM
//! runtime's): list and describe connectors, apply configs from files, pause, resume, stop,
//! restart, delete, and read or change sink offsets.
//!
//! Exit codes are for scripts: 0 done, 1 failed (server error, not found, invalid config,
//! unreachable worker), 2 usage (clap's own code for a bad command line).
//!
//! Layout: this file holds the command line and the dispatch; [`config`] where to connect
//! (options, environment, contexts file), [`client`] the HTTP, [`output`] tables and JSON/YAML,
//! [`commands`] the small commands, [`apply`] and [`describe`] the two larger ones.

mod apply;
mod client;
mod commands;
mod config;
mod describe;
mod output;

use std::path::PathBuf;

use clap::{Args, Subcommand};

pub use output::Format;

/// `sluice ctl …`
#[derive(Debug, Args)]
pub struct CtlArgs {
    /// REST API base URL [env: SLUICE_URL; default: the context's, else http://localhost:8083].
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// Named context from the contexts file ($SLUICE_CTL_CONFIG, else ~/.config/sluice/ctl.yaml)
    /// [default: its `current`].
    #[arg(long, global = true)]
    pub context: Option<String>,
    /// Basic auth user [env: SLUICE_USER].
    #[arg(long, global = true)]
    pub user: Option<String>,
    /// Basic auth password [env: SLUICE_PASSWORD].
    #[arg(long, global = true)]
    pub password: Option<String>,
    /// PEM file of CA certificates to trust (a private CA's https listener).
    #[arg(long, global = true)]
    pub ca_file: Option<PathBuf>,
    /// Accept any server certificate (tests only: anyone in between can read the traffic).
    #[arg(long, global = true)]
    pub insecure: bool,
    /// Output: a table for people, or the data as json or yaml.
    #[arg(short = 'o', long, global = true, value_enum, default_value = "table")]
    pub output: Format,
    #[command(subcommand)]
    pub command: CtlCommand,
}

#[derive(Debug, Subcommand)]
pub enum CtlCommand {
    /// List connectors, plugins or workers.
    Get {
        #[command(subcommand)]
        what: GetWhat,
    },
    /// Show one connector in detail: config (secrets hidden), tasks, topics, offsets, lag.
    Describe {
        #[command(subcommand)]
        what: DescribeWhat,
    },
    /// Create or update connectors from a JSON or YAML file (one, a list, or YAML documents).
    Apply {
        /// The file; `-` reads stdin.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
        /// Only validate (`/config/validate`) and print every error with its key.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a connector (its tasks stop and commit first).
    Delete { name: String },
    /// Pause a connector's tasks (positions kept).
    Pause { name: String },
    /// Resume a paused or stopped connector.
    Resume { name: String },
    /// Stop a connector: tasks removed, config kept (offsets can then be changed).
    Stop { name: String },
    /// Restart a connector, with `--tasks` its tasks too.
    Restart {
        name: String,
        /// Restart the tasks as well as the connector instance.
        #[arg(long)]
        tasks: bool,
        /// Restart only the instances that are FAILED.
        #[arg(long)]
        failed_only: bool,
    },
    /// Read or change a sink connector's committed offsets.
    Offsets {
        #[command(subcommand)]
        what: OffsetsCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum GetWhat {
    /// Connectors with type, state, running/total tasks and the workers running them.
    #[command(alias = "connector")]
    Connectors,
    /// Installed connector plugins.
    #[command(alias = "plugin")]
    Plugins,
    /// Workers of a Sluice cluster with their tasks (not available on a JVM runtime).
    #[command(alias = "worker")]
    Workers,
}

#[derive(Debug, Subcommand)]
pub enum DescribeWhat {
    /// One connector.
    #[command(alias = "connectors")]
    Connector { name: String },
}

#[derive(Debug, Subcommand)]
pub enum OffsetsCommand {
    /// Committed offsets per partition.
    Get { name: String },
    /// Forget all committed offsets (the connector must be STOPPED): the next run starts from the
    /// earliest records.
    Reset { name: String },
    /// Set offsets from a file in Kafka Connect's format (the connector must be STOPPED):
    /// `{"offsets": [{"partition": {"kafka_topic", "kafka_partition"}, "offset": {"kafka_offset"}}]}`.
    Set {
        name: String,
        /// The file (JSON or YAML); `-` reads stdin.
        #[arg(short = 'f', long = "file")]
        file: PathBuf,
    },
}

/// What can go wrong; every message says what to do next.
#[derive(Debug, thiserror::Error)]
pub enum CtlError {
    #[error("cannot reach {url}: {reason}; {hint}")]
    Unreachable {
        url: String,
        reason: String,
        hint: &'static str,
        #[source]
        source: reqwest::Error,
    },
    #[error("{request}: the server answered {status}: {message}{hint}")]
    Server { request: String, status: u16, message: String, hint: &'static str },
    #[error("--url {url} is not a URL ({source}); e.g. --url http://localhost:8083")]
    BadUrl {
        url: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("contexts file {path}: {message}")]
    Contexts { path: String, message: String },
    #[error("{file}: {message}")]
    ApplyFile { file: String, message: String },
    #[error("{what}: {source}")]
    Tls {
        what: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("cannot read {what} from the server's answer: {source}")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot print the answer: {0}")]
    Encode(String),
    #[error("{0}")]
    Usage(String),
    #[error("{0}")]
    Failed(String),
}

/// Runs a `sluice ctl` command and returns the process exit code (errors are printed here, so
/// the binary's edge does not add its own `Error:` wrapping).
pub async fn main(args: CtlArgs) -> i32 {
    match run(args).await {
        Ok(()) => 0,
        Err(error) => {
            eprintln!("error: {error}");
            1
        }
    }
}

async fn run(args: CtlArgs) -> Result<(), CtlError> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let options = config::ConnectionOptions {
        url: args.url,
        context: args.context,
        user: args.user,
        password: args.password,
        ca_file: args.ca_file,
        insecure: args.insecure,
    };
    let (file, path) = match config::contexts_path(&env) {
        Some((path, named)) => (config::load(&path, named)?, path),
        None => (config::ContextsFile::default(), PathBuf::from("~/.config/sluice/ctl.yaml")),
    };
    let target = config::resolve(&options, &env, &file, &path)?;
    let client = client::ConnectClient::new(&target)?;
    let format = args.output;
    match args.command {
        CtlCommand::Get { what: GetWhat::Connectors } => commands::get_connectors(&client, format).await,
        CtlCommand::Get { what: GetWhat::Plugins } => commands::get_plugins(&client, format).await,
        CtlCommand::Get { what: GetWhat::Workers } => commands::get_workers(&client, format).await,
        CtlCommand::Describe { what: DescribeWhat::Connector { name } } => {
            describe::describe(&client, &name, format).await
        }
        CtlCommand::Apply { file, dry_run } => {
            let specs = apply::parse(&commands::read_input(&file)?, &file.display().to_string())?;
            if dry_run {
                apply::dry_run(&client, &specs).await
            } else {
                apply::apply(&client, &specs).await
            }
        }
        CtlCommand::Delete { name } => commands::lifecycle(&client, &name, commands::Action::Delete).await,
        CtlCommand::Pause { name } => commands::lifecycle(&client, &name, commands::Action::Pause).await,
        CtlCommand::Resume { name } => commands::lifecycle(&client, &name, commands::Action::Resume).await,
        CtlCommand::Stop { name } => commands::lifecycle(&client, &name, commands::Action::Stop).await,
        CtlCommand::Restart { name, tasks, failed_only } => {
            commands::restart(&client, &name, tasks, failed_only, format).await
        }
        CtlCommand::Offsets { what: OffsetsCommand::Get { name } } => {
            commands::offsets_get(&client, &name, format).await
        }
        CtlCommand::Offsets { what: OffsetsCommand::Reset { name } } => commands::offsets_reset(&client, &name).await,
        CtlCommand::Offsets { what: OffsetsCommand::Set { name, file } } => {
            commands::offsets_set(&client, &name, &file).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        ctl: CtlArgs,
    }

    fn parse(args: &[&str]) -> Result<CtlArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("ctl").chain(args.iter().copied())).map(|c| c.ctl)
    }

    #[test]
    fn global_options_go_before_or_after_the_command() {
        let args = parse(&["get", "connectors", "-o", "json", "--url", "http://x:1"]).unwrap();
        assert_eq!(args.output, Format::Json);
        assert_eq!(args.url.as_deref(), Some("http://x:1"));
        let args = parse(&["-o", "yaml", "restart", "a", "--tasks", "--failed-only"]).unwrap();
        assert!(matches!(args.command, CtlCommand::Restart { tasks: true, failed_only: true, .. }));
        assert_eq!(args.output, Format::Yaml);
    }

    #[test]
    fn usage_errors_are_clap_errors() {
        assert!(parse(&["get", "gadgets"]).is_err());
        assert!(parse(&["apply"]).is_err());
        assert!(parse(&["-o", "xml", "get", "connectors"]).is_err());
    }
}
