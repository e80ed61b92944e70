//! The transport: [`ClickhouseService`] wraps the `clickhouse` crate's HTTP client (queries,
//! RowBinary inserts) and [`ClickhouseRetryLogic`] says, as data, whether a failure is worth
//! retrying, is the records' fault, or needs the user.
//!
//! Validation in the `clickhouse` crate is turned off: it needs `RowBinaryWithNamesAndTypes`
//! and `describe_include_subcolumns`, which ClickHouse 18.16 lacks. The sink checks values
//! against the described columns itself.

use std::time::{Duration, Instant};

use bytes::Bytes;
use clickhouse::error::Error as ClientError;
use clickhouse::{Client, Compression};
use serde_json::{Map, Value as Json};
use sluice_api::{ConnectError, Result};

use crate::config::ClickhouseSinkConfig;

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
}

/// A client for one ClickHouse server, cheap to clone.
#[derive(Clone)]
pub struct ClickhouseService {
    /// The `clickhouse` crate's client, with URL, credentials and database set.
    client: Client,
    /// The server's URL, for messages.
    url: String,
    /// `clickhouseSettings`, sent with every insert.
    insert_settings: Vec<(String, String)>,
}

impl ClickhouseService {
    /// A client for the server `config` points at. Nothing is sent until the first request.
    pub fn new(config: &ClickhouseSinkConfig) -> Self {
        let url = config.url();
        let client = Client::default()
            .with_url(&url)
            .with_user(&config.username)
            .with_password(&config.password)
            .with_database(&config.database)
            .with_validation(false)
            // LZ4 insert bodies (`decompress=1`) work on 18.16 as on current servers.
            .with_compression(Compression::Lz4);
        ClickhouseService { client, url, insert_settings: config.clickhouse_settings.clone() }
    }

    /// The server's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// `SELECT version()`; also the connectivity check at task start.
    pub async fn server_version(&self) -> Result<String> {
        let context = format!("Connecting to ClickHouse at {}", self.url);
        let bytes = self
            .client
            .query("SELECT version()")
            .fetch_bytes("TabSeparated")
            .map_err(|e| ClickhouseRetryLogic::classify(&context, &e))?
            .collect()
            .await
            .map_err(|e| ClickhouseRetryLogic::classify(&context, &e))?;
        Ok(String::from_utf8_lossy(&bytes).trim().to_owned())
    }

    /// Runs a `SELECT` with `?` placeholders bound client-side (18.16 has no server-side
    /// parameters) and returns its rows as JSON objects.
    pub async fn select_json(&self, context: &str, sql: &str, binds: &[&str]) -> Result<Vec<Map<String, Json>>> {
        let query = binds.iter().fold(self.client.query(sql), |q, b| q.bind(*b));
        let bytes = query
            .fetch_bytes("JSONEachRow")
            .map_err(|e| ClickhouseRetryLogic::classify(context, &e))?
            .collect()
            .await
            .map_err(|e| ClickhouseRetryLogic::classify(context, &e))?;
        bytes
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
            .map(|line| {
                serde_json::from_slice(line)
                    .map_err(|e| ConnectError::fatal(format!("{context}: unreadable reply from ClickHouse: {e}")))
            })
            .collect()
    }

    /// Sends one insert and waits until ClickHouse has written it.
    pub async fn insert(&self, insert: &ClickhouseInsert) -> Result<()> {
        let started = Instant::now();
        let context = format!("Insert of {} rows into {}", insert.rows, insert.table);
        let classify = |e: ClientError| ClickhouseRetryLogic::classify(&context, &e);
        let mut request = self
            .insert_settings
            .iter()
            .fold(self.client.insert_formatted_with(insert.sql.clone()), |r, (k, v)| r.with_setting(k, v))
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
    /// Classifies a failed request; `context` says what was being done.
    pub fn classify(context: &str, error: &ClientError) -> ConnectError {
        match error {
            ClientError::Network(_) => {
                let detail = with_causes(error);
                // TLS problems are configuration, not outages: retrying will not fix them.
                if detail.contains("certificate") {
                    ConnectError::fatal(format!(
                        "{context} failed: {detail}. The server's TLS certificate is not trusted; Sluice trusts the public (Mozilla) root certificates."
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
                " — create the table (Sluice does not create tables), or fix `database` / `topic2TableMap`.",
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
        }
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
