//! What the integration tests share: the server under test, a plain client for setting up
//! tables and reading results, and unique names.
#![allow(dead_code)] // each test file uses its own share of these

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use clickhouse::Client;
use sluice_api::ConnectorConfig;

/// The server under test, e.g. `http://127.0.0.1:8123`.
pub fn server_url() -> String {
    std::env::var("SLUICE_CLICKHOUSE_URL").unwrap_or_else(|_| {
        panic!(
            "SLUICE_CLICKHOUSE_URL is not set. Start ClickHouse with `tests/services/services.sh up clickhouse`, \
             then `eval \"$(tests/services/services.sh env)\"` and run the tests again."
        )
    })
}

/// A client for setting up tables and reading results.
pub fn admin() -> Client {
    Client::default().with_url(server_url()).with_validation(false)
}

/// Runs a statement, panicking with it on failure.
pub async fn sql(statement: &str) {
    admin()
        .query(statement)
        .with_setting("allow_experimental_low_cardinality_type", "1")
        .execute()
        .await
        .unwrap_or_else(|e| panic!("{statement}: {e}"));
}

/// Rows of a query as tab-separated lines.
pub async fn select(query: &str) -> Vec<String> {
    let bytes = admin()
        .query(query)
        .fetch_bytes("TSV")
        .unwrap_or_else(|e| panic!("{query}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    String::from_utf8_lossy(&bytes).lines().map(str::to_owned).collect()
}

/// The first line of a query's result.
pub async fn scalar(query: &str) -> String {
    select(query).await.into_iter().next().unwrap_or_default()
}

/// `prefix_` and 12 random hex digits.
pub fn unique(prefix: &str) -> String {
    let mut h = RandomState::new().build_hasher();
    h.write_u64(std::process::id() as u64);
    format!("{prefix}_{:012x}", h.finish() & 0xffff_ffff_ffff)
}

/// The connector config for the server under test (database `default`), with extra keys.
pub fn config(extra: &[(&str, &str)]) -> ConnectorConfig {
    let url = server_url();
    let (scheme, rest) = url.split_once("://").expect("SLUICE_CLICKHOUSE_URL must look like http://host:port");
    let (host, port) = rest.trim_end_matches('/').rsplit_once(':').expect("SLUICE_CLICKHOUSE_URL needs a port");
    let ssl = if scheme == "https" { "true" } else { "false" };
    let mut pairs = vec![("hostname", host), ("port", port), ("ssl", ssl), ("database", "default")];
    pairs.extend_from_slice(extra);
    pairs.into_iter().collect()
}
