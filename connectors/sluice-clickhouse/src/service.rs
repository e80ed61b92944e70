//! The transport: [`ClickhouseService`] wraps the `clickhouse` crate's HTTP client (queries,
//! RowBinary inserts) and [`ClickhouseRetryLogic`] says, as data, whether a failure is worth
//! retrying, is the records' fault, or needs the user.
//!
//! Validation in the `clickhouse` crate is turned off: it needs `RowBinaryWithNamesAndTypes`
//! and `describe_include_subcolumns`, which ClickHouse 18.16 lacks. The sink checks values
//! against the described columns itself.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clickhouse::error::Error as ClientError;
use clickhouse::{Client, Compression};
use serde_json::{Map, Value as Json};
use sluice_api::{ConnectError, Result};

use crate::config::ClickhouseSinkConfig;
use crate::rows::RowSource;

/// Upper bound for handing one chunk of an insert to the socket.
const SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// Upper bound for ClickHouse to finish an insert once all data is sent (materialized views
/// included).
const END_TIMEOUT: Duration = Duration::from_secs(300);
/// Inserts are streamed in chunks of this size; each is one LZ4 block on the wire.
const CHUNK_SIZE: usize = 1 << 20;

/// One prepared `INSERT … FORMAT RowBinary` with its encoded rows.
#[derive(Debug, Clone)]
pub struct ClickhouseInsert {
    /// The table, as `` `db`.`t` ``, for messages.
    pub table: String,
    /// The full statement, naming the columns the rows hold.
    pub sql: String,
    /// RowBinary rows.
    pub data: Bytes,
    /// Number of rows in `data`.
    pub rows: usize,
    /// The topics the rows came from, named by index in `sources`.
    pub topics: Vec<Arc<str>>,
    /// Where each row came from, when the batch tracked it (exactly-once); else empty.
    pub sources: Vec<RowSource>,
}

impl ClickhouseInsert {
    /// The same insert without the rows `landed` says are already in the table (it is given
    /// each row's topic and source); `None` when no row is left. Needs `sources`: without them
    /// every row is kept.
    pub fn without_rows(&self, landed: impl Fn(&str, &RowSource) -> bool) -> Option<ClickhouseInsert> {
        if self.sources.is_empty() {
            return Some(self.clone());
        }
        let mut data = Vec::with_capacity(self.data.len());
        let mut sources = Vec::with_capacity(self.sources.len());
        let mut start = 0;
        for source in &self.sources {
            if !landed(self.topics.get(source.topic).map_or("", |t| &**t), source) {
                data.extend_from_slice(&self.data[start..source.end]);
                sources.push(RowSource { end: data.len(), ..source.clone() });
            }
            start = source.end;
        }
        (!sources.is_empty()).then(|| ClickhouseInsert {
            table: self.table.clone(),
            sql: self.sql.clone(),
            data: Bytes::from(data),
            rows: sources.len(),
            topics: self.topics.clone(),
            sources,
        })
    }
}

/// One host of `hostname`.
struct Host {
    /// The `clickhouse` crate's client, with URL, credentials and database set.
    client: Client,
    /// The host's URL, for messages.
    url: String,
}

/// A client for the ClickHouse replicas of one shard, cheap to clone. Requests go to the
/// current host; when it cannot be reached, reads try the next ones at once, and an insert
/// fails (retriably) after moving on, so its retry goes to the next host.
#[derive(Clone)]
pub struct ClickhouseService {
    hosts: Arc<[Host]>,
    /// Index in `hosts` of the host requests go to.
    current: Arc<AtomicUsize>,
    /// `clickhouseSettings`, sent with every insert.
    insert_settings: Vec<(String, String)>,
}

/// The clickhouse crate's own client, or, when `ssl.truststore.location` names private CAs,
/// one built like it (keep-alive, short idle pool) whose TLS trusts them besides the public
/// roots.
fn http_client(config: &ClickhouseSinkConfig) -> Client {
    use hyper_util::client::legacy::{connect::HttpConnector, Client as HyperClient};
    if config.ssl_ca_certificates.is_empty() {
        return Client::default();
    }
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    let (added, ignored) = roots.add_parsable_certificates(
        config.ssl_ca_certificates.iter().map(|der| rustls::pki_types::CertificateDer::from(der.clone())),
    );
    if ignored > 0 {
        tracing::warn!(added, ignored, "Some certificates of ssl.truststore.location are not usable CA certificates.");
    }
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_keepalive(Some(Duration::from_secs(60)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http);
    // ClickHouse closes idle connections after 3 s; reusing one older than that would fail.
    let client = HyperClient::builder(hyper_util::rt::TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(2))
        .build(https);
    Client::with_http_client(client)
}

impl ClickhouseService {
    /// A client for the servers `config` points at. Nothing is sent until the first request.
    pub fn new(config: &ClickhouseSinkConfig) -> Self {
        let hosts: Arc<[Host]> = config
            .urls()
            .into_iter()
            .map(|url| Host {
                client: http_client(config)
                    .with_url(&url)
                    .with_user(&config.username)
                    .with_password(&config.password)
                    .with_database(&config.database)
                    .with_validation(false)
                    // LZ4 insert bodies (`decompress=1`) work on 18.16 as on current servers.
                    .with_compression(Compression::Lz4),
                url,
            })
            .collect();
        ClickhouseService {
            hosts,
            current: Arc::new(AtomicUsize::new(0)),
            insert_settings: config.clickhouse_settings.clone(),
        }
    }

    fn host(&self) -> &Host {
        &self.hosts[self.current.load(Ordering::Relaxed) % self.hosts.len()]
    }

    /// The current host's URL.
    pub fn url(&self) -> &str {
        &self.host().url
    }

    /// Moves on to the host after `failed`, unless another request already did.
    fn move_on_from(&self, failed: usize) {
        let next = (failed + 1) % self.hosts.len();
        if self.current.compare_exchange(failed, next, Ordering::Relaxed, Ordering::Relaxed).is_ok() && next != failed {
            tracing::warn!(failed = %self.hosts[failed].url, next = %self.hosts[next].url, "ClickHouse host unreachable; moving to the next one.");
        }
    }

    /// Runs a read-only request on the current host, then on each other host in turn while
    /// hosts cannot be reached.
    async fn read<T, F, Fut>(&self, context: &str, request: F) -> Result<T>
    where
        F: Fn(&Client) -> Fut,
        Fut: std::future::Future<Output = std::result::Result<T, ClientError>>,
    {
        let mut last = None;
        for _ in 0..self.hosts.len() {
            let index = self.current.load(Ordering::Relaxed) % self.hosts.len();
            let host = &self.hosts[index];
            match request(&host.client).await {
                Ok(v) => return Ok(v),
                Err(e) => {
                    let context = format!("{context} at {}", host.url);
                    if !ClickhouseRetryLogic::is_unreachable(&e) {
                        return Err(ClickhouseRetryLogic::classify(&context, &e));
                    }
                    last = Some(ClickhouseRetryLogic::classify(&context, &e));
                    self.move_on_from(index);
                }
            }
        }
        Err(last.unwrap_or_else(|| ConnectError::fatal(format!("{context}: no ClickHouse host is configured."))))
    }

    /// `SELECT version()`; also the connectivity check at task start.
    pub async fn server_version(&self) -> Result<String> {
        let bytes = self
            .read("Connecting to ClickHouse", |client| {
                let query = client.query("SELECT version()");
                async move { query.fetch_bytes("TabSeparated")?.collect().await }
            })
            .await?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
    }

    /// Runs a `SELECT` with `?` placeholders bound client-side (18.16 has no server-side
    /// parameters) and returns its rows as `TabSeparated` text.
    pub async fn select_text(&self, context: &str, sql: &str, binds: &[&str]) -> Result<Bytes> {
        self.select_as(context, sql, binds, "TabSeparated").await
    }

    async fn select_as(&self, context: &str, sql: &str, binds: &[&str], format: &str) -> Result<Bytes> {
        self.read(context, |client| {
            let query = binds.iter().fold(client.query(sql), |q, b| q.bind(*b));
            async move { query.fetch_bytes(format)?.collect().await }
        })
        .await
    }

    /// Runs a `SELECT` with `?` placeholders bound client-side and returns its rows as JSON
    /// objects.
    pub async fn select_json(&self, context: &str, sql: &str, binds: &[&str]) -> Result<Vec<Map<String, Json>>> {
        let bytes = self.select_as(context, sql, binds, "JSONEachRow").await?;
        bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                serde_json::from_slice(line)
                    .map_err(|e| ConnectError::fatal(format!("{context}: unreadable reply from ClickHouse: {e}")))
            })
            .collect()
    }

    /// Runs a statement that returns no rows (DDL) on the current host.
    pub async fn execute(&self, context: &str, sql: &str) -> Result<()> {
        let index = self.current.load(Ordering::Relaxed) % self.hosts.len();
        let host = &self.hosts[index];
        host.client.query_raw(sql).execute().await.map_err(|e| {
            if ClickhouseRetryLogic::is_unreachable(&e) {
                self.move_on_from(index);
            }
            ClickhouseRetryLogic::classify(&format!("{context} at {}", host.url), &e)
        })
    }

    /// Sends one insert to the current host and waits until ClickHouse has written it.
    /// `query_id` names it in ClickHouse (`system.processes`, `system.query_log`). When the
    /// host cannot be reached the next one is chosen for the retry: the outcome of this one is
    /// unknown, and only the caller knows whether it may simply be sent again.
    pub async fn insert(&self, insert: &ClickhouseInsert, query_id: &str) -> Result<()> {
        let started = Instant::now();
        let index = self.current.load(Ordering::Relaxed) % self.hosts.len();
        let host = &self.hosts[index];
        let context = format!("Insert of {} rows into {} at {}", insert.rows, insert.table, host.url);
        let classify = |e: ClientError| {
            if ClickhouseRetryLogic::is_unreachable(&e) {
                self.move_on_from(index);
            }
            ClickhouseRetryLogic::classify(&context, &e)
        };
        let mut request = self
            .insert_settings
            .iter()
            .fold(host.client.insert_formatted_with(insert.sql.clone()), |r, (k, v)| r.with_setting(k, v))
            .with_setting("query_id", query_id)
            .with_timeouts(Some(SEND_TIMEOUT), Some(END_TIMEOUT));
        let mut offset = 0;
        while offset < insert.data.len() {
            let end = (offset + CHUNK_SIZE).min(insert.data.len());
            request.send(insert.data.slice(offset..end)).await.map_err(classify)?;
            offset = end;
        }
        request.end().await.map_err(classify)?;
        tracing::debug!(
            table = %insert.table,
            rows = insert.rows,
            bytes = insert.data.len(),
            query_id,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Inserted rows into ClickHouse."
        );
        Ok(())
    }
}

/// Which ClickHouse failures are worth retrying, which are the records' fault, and which need
/// the user (missing table, bad credentials).
pub struct ClickhouseRetryLogic;

impl ClickhouseRetryLogic {
    /// Whether the host could not be reached (or did not answer in time), so another replica
    /// may be tried.
    pub fn is_unreachable(error: &ClientError) -> bool {
        matches!(error, ClientError::Network(_) | ClientError::TimedOut)
    }

    /// Classifies a failed request; `context` says what was being done.
    pub fn classify(context: &str, error: &ClientError) -> ConnectError {
        match error {
            ClientError::Network(_) => {
                let detail = with_causes(error);
                // TLS problems are configuration, not outages: retrying will not fix them.
                if detail.contains("certificate") {
                    ConnectError::fatal(format!(
                        "{context} failed: {detail}. The server's TLS certificate is not trusted; Sluice trusts the public (Mozilla) root certificates, and a private CA's PEM file named in ssl.truststore.location."
                    ))
                } else if detail.contains("InvalidContentType") || detail.contains("corrupt message") {
                    ConnectError::fatal(format!(
                        "{context} failed: {detail}. The port does not speak TLS; check `ssl` and `port`."
                    ))
                } else {
                    ConnectError::retriable(format!(
                        "{context} failed: {detail}. Check that ClickHouse is up and reachable."
                    ))
                }
            }
            ClientError::TimedOut | ClientError::Decompression(_) => ConnectError::retriable(format!(
                "{context} failed: {error}. Check that ClickHouse is up and reachable."
            )),
            ClientError::BadResponse(text) => Self::classify_server(context, text),
            _ => ConnectError::fatal(format!("{context} failed: {error}")),
        }
    }

    /// Classifies a server reply by its `Code: NNN`.
    pub fn classify_server(context: &str, text: &str) -> ConnectError {
        let message = |hint: &str| format!("{context} failed: {text}{hint}");
        let Some(code) = server_error_code(text) else {
            // No exception code: a proxy or load balancer answered (502/503/504…).
            return if text.starts_with('4') && !text.starts_with("408") && !text.starts_with("429") {
                ConnectError::fatal(message(""))
            } else {
                ConnectError::retriable(message(""))
            };
        };
        match code {
            // UNKNOWN_TABLE, UNKNOWN_DATABASE
            60 | 81 => ConnectError::fatal(message(
                " — create the table (or set auto.create=true), or fix `database` / `topic2TableMap`.",
            )),
            // UNKNOWN_USER, WRONG_PASSWORD, REQUIRED_PASSWORD, AUTHENTICATION_FAILED
            192..=194 | 516 => ConnectError::fatal(message(" — check `username` and `password`.")),
            // READONLY, ACCESS_DENIED
            164 | 497 => ConnectError::fatal(message(" — grant the user INSERT on the table.")),
            // NO_SUCH_COLUMN_IN_TABLE: the table changed since it was described; the retry
            // describes it again.
            16 => ConnectError::retriable(message(" — the table's columns changed; they will be read again.")),
            // Bad values: CANNOT_PARSE_*, TYPE_MISMATCH, CANNOT_READ_ALL_DATA, …
            6 | 26 | 27 | 32 | 33 | 38 | 41 | 53 | 69 | 70 | 72 | 117 | 131 | 190 | 349 | 691 => {
                ConnectError::data(message(""))
            }
            // Overload and transient failures: UNEXPECTED_END_OF_FILE, TIMEOUT_EXCEEDED,
            // TOO_SLOW, TOO_MANY_SIMULTANEOUS_QUERIES, NO_FREE_CONNECTION, SOCKET_TIMEOUT,
            // NETWORK_ERROR, ABORTED, MEMORY_LIMIT_EXCEEDED, TABLE_IS_READ_ONLY,
            // NOT_ENOUGH_SPACE, TOO_MANY_PARTS, TOO_FEW_LIVE_REPLICAS, UNKNOWN_STATUS_OF_INSERT,
            // SESSION_IS_LOCKED, QUERY_WAS_CANCELLED, SYSTEM_ERROR, CANNOT_SCHEDULE_TASK,
            // KEEPER_EXCEPTION, POCO_EXCEPTION
            3 | 159 | 160 | 202 | 203 | 209 | 210 | 236 | 241 | 242 | 243 | 252 | 285 | 319 | 373 | 394 | 425 | 439
            | 999 | 1000 => ConnectError::retriable(message("")),
            _ => ConnectError::fatal(message("")),
        }
    }
}

/// The error and its causes, outermost first: the client's own message (`client error
/// (Connect)`) hides what actually went wrong (refused, certificate, DNS).
fn with_causes(error: &ClientError) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(c) = cause {
        let s = c.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        cause = c.source();
    }
    text
}

/// The exception code in a ClickHouse error text: `Code: 60. DB::Exception: …` (current
/// servers) or `Code: 60, e.displayText() = …` (18.16). The one place codes are parsed.
pub fn server_error_code(text: &str) -> Option<u32> {
    let start = text.find("Code: ")? + "Code: ".len();
    let digits: String = text[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(e: &ConnectError) -> &'static str {
        match e {
            ConnectError::Config { .. } => "config",
            ConnectError::Data { .. } => "data",
            ConnectError::Retriable { .. } => "retriable",
            ConnectError::Fatal { .. } => "fatal",
            ConnectError::Records { .. } => "records",
            ConnectError::Undecodable { .. } => "undecodable",
        }
    }

    #[test]
    fn an_insert_sent_again_leaves_out_the_rows_that_landed() {
        let source = |topic: usize, offset: i64, end: usize| RowSource { topic, partition: 0, offset, end };
        let insert = ClickhouseInsert {
            table: "`d`.`t`".into(),
            sql: "INSERT".into(),
            data: Bytes::from_static(b"aabbbc"),
            rows: 3,
            topics: vec!["t".into(), "u".into()],
            sources: vec![source(0, 7, 2), source(1, 8, 5), source(0, 8, 6)],
        };
        let kept = insert.without_rows(|topic, row| topic == "u" && row.offset == 8).unwrap();
        assert_eq!((&kept.data[..], kept.rows), (&b"aac"[..], 2));
        assert_eq!(kept.sources.iter().map(|s| (s.topic, s.offset, s.end)).collect::<Vec<_>>(), [(0, 7, 2), (0, 8, 3)]);
        assert!(insert.without_rows(|_, _| true).is_none());
        let untracked = ClickhouseInsert { sources: Vec::new(), ..insert };
        assert_eq!(untracked.without_rows(|_, _| true).unwrap().rows, 3, "without sources nothing is left out");
    }

    #[test]
    fn parses_codes_from_old_and_new_servers() {
        let old = "Code: 60, e.displayText() = DB::Exception: Table default.x doesn't exist., e.what() = DB::Exception";
        assert_eq!(server_error_code(old), Some(60));
        let new = "Code: 252. DB::Exception: Too many parts (300). (TOO_MANY_PARTS) (version 24.8.1.1)";
        assert_eq!(server_error_code(new), Some(252));
        assert_eq!(server_error_code("Code: 516"), Some(516)); // from X-ClickHouse-Exception-Code
        assert_eq!(server_error_code("502 Bad Gateway"), None);
    }

    #[test]
    fn classifies_server_errors() {
        let c = |text: &str| ClickhouseRetryLogic::classify_server("Insert into `default`.`t`", text);
        let missing = c("Code: 60, e.displayText() = DB::Exception: Table default.t doesn't exist.");
        assert_eq!(kind(&missing), "fatal");
        assert!(missing.to_string().contains("create the table"), "{missing}");
        for (code, want) in [(252, "retriable"), (159, "retriable"), (241, "retriable"), (209, "retriable")] {
            assert_eq!(kind(&c(&format!("Code: {code}. DB::Exception: x"))), want, "code {code}");
        }
        for code in [210, 242, 16] {
            assert!(c(&format!("Code: {code}. x")).is_retriable(), "code {code}");
        }
        assert_eq!(kind(&c("Code: 53. DB::Exception: Type mismatch")), "data");
        assert_eq!(kind(&c("Code: 27. DB::Exception: Cannot parse input")), "data");
        assert!(c("Code: 193, e.displayText() = DB::Exception: Wrong password").to_string().contains("`password`"));
        assert_eq!(kind(&c("Code: 62. DB::Exception: Syntax error")), "fatal");
        assert_eq!(kind(&c("503 Service Unavailable")), "retriable");
        assert_eq!(kind(&c("404 Not Found")), "fatal");
    }

    #[test]
    fn network_errors_are_retriable() {
        let e = ClickhouseRetryLogic::classify("Connecting", &ClientError::TimedOut);
        assert!(e.is_retriable());
        let refused = ClientError::Network("client error (Connect): Connection refused".into());
        assert!(ClickhouseRetryLogic::classify("Connecting", &refused).is_retriable());
        // Seen against a self-signed 18.16 https port, and an http port with `ssl=true`.
        let untrusted = ClientError::Network("invalid peer certificate: UnknownIssuer".into());
        let e = ClickhouseRetryLogic::classify("Connecting", &untrusted);
        assert_eq!(kind(&e), "fatal");
        assert!(e.to_string().contains("not trusted"), "{e}");
        let plain = ClientError::Network("received corrupt message of type InvalidContentType".into());
        let e = ClickhouseRetryLogic::classify("Connecting", &plain);
        assert!(e.to_string().contains("check `ssl` and `port`"), "{e}");
        let e = ClickhouseRetryLogic::classify("Connecting", &ClientError::Unsupported("https".into()));
        assert_eq!(kind(&e), "fatal");
    }
}
