//! The sink task: [`ClickhouseSinkTask`] routes each batch of records to its tables, encodes
//! them, and inserts synchronously, so everything `put` accepted is durable when it returns.
//!
//! The pipeline per `put`: route (topic → table, tombstones skipped) → describe tables on first
//! use → encode (per-record results) → insert, one task per table, concurrently → advance the
//! per-partition offsets of the tables whose inserts succeeded. `flush` reports those offsets.
//! Records that cannot be encoded do not hold up the rest: the others are inserted and `put`
//! returns `ConnectError::Records` naming the bad ones, whose offsets count as handled.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use async_trait::async_trait;
use futures::future::join_all;
use sluice_api::{ConnectError, ConnectorConfig, Offsets, Result, SinkRecord, SinkTask, TopicPartition};

use crate::config::ClickhouseSinkConfig;
use crate::rows::ClickhouseRowBatch;
use crate::service::{ClickhouseInsert, ClickhouseService};
use crate::table::ClickhouseTable;

/// A running share of the ClickHouse sink's work. Create it with
/// [`ClickhouseSinkConnector::create_task`](crate::ClickhouseSinkConnector) and `start` it.
#[derive(Default)]
pub struct ClickhouseSinkTask {
    /// Set by `start`.
    state: Option<Running>,
}

struct Running {
    config: ClickhouseSinkConfig,
    service: ClickhouseService,
    /// What `SELECT version()` said at start.
    server_version: String,
    /// Described tables by name, with the unknown record fields already logged for each.
    tables: HashMap<String, (ClickhouseTable, BTreeSet<String>)>,
    /// Per partition, the offset after the last record written (Kafka's commit convention).
    written: Offsets,
}

/// The records of one `put` bound for one table.
#[derive(Default)]
struct TablePlan<'r> {
    records: Vec<&'r SinkRecord>,
    /// Index in the `put` batch of each of `records`.
    indices: Vec<usize>,
    /// Offset after the last record per partition, tombstones included.
    offsets: Offsets,
}

/// A record that could not be encoded, and why.
struct RecordFailure {
    /// Index in the records handed to `encode`.
    index: usize,
    error: ConnectError,
}

/// One table's encoded batch.
struct EncodedTable {
    name: String,
    inserts: Vec<ClickhouseInsert>,
    offsets: Offsets,
}

impl ClickhouseSinkTask {
    /// A task that has not been started.
    pub fn new() -> Self {
        ClickhouseSinkTask::default()
    }

    /// The server version read at start, once started.
    pub fn server_version(&self) -> Option<&str> {
        self.state.as_ref().map(|s| s.server_version.as_str())
    }

    fn running(&mut self) -> Result<&mut Running> {
        self.state.as_mut().ok_or_else(|| ConnectError::fatal("The ClickHouse sink task was used before `start`."))
    }
}

#[async_trait]
impl SinkTask for ClickhouseSinkTask {
    async fn start(&mut self, config: &ConnectorConfig) -> Result<()> {
        let config = ClickhouseSinkConfig::from_connector_config(config)?;
        let service = ClickhouseService::new(&config);
        let server_version = service.server_version().await?;
        tracing::info!(
            url = service.url(),
            server_version = %server_version,
            database = %config.database,
            "Connected to ClickHouse."
        );
        self.state = Some(Running { config, service, server_version, tables: HashMap::new(), written: Offsets::new() });
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        // A (re)assigned partition resumes from its committed offset; forget what we wrote.
        let run = self.running()?;
        for tp in partitions {
            run.written.remove(tp);
        }
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<()> {
        let run = self.running()?;
        let plans = route(&run.config, &run.written, records);

        // Describe tables on first use (or when older than `tableRefreshInterval`).
        for (name, plan) in &plans {
            let fresh = run.tables.get(name).is_some_and(|(t, _)| !t.is_stale(run.config.table_refresh_interval));
            if !plan.records.is_empty() && !fresh {
                let table = ClickhouseTable::describe(&run.service, &run.config.database, name).await?;
                let logged = run.tables.remove(name).map(|(_, logged)| logged).unwrap_or_default();
                run.tables.insert(name.clone(), (table, logged));
            }
        }

        let mut encoded = Vec::with_capacity(plans.len());
        let mut bad_records: Vec<(usize, ConnectError)> = Vec::new();
        for (name, plan) in plans {
            let inserts = match run.tables.get_mut(&name) {
                Some((table, logged)) => {
                    let (inserts, failures) = encode(table, &plan.records, logged);
                    bad_records.extend(failures.into_iter().map(|f| (plan.indices[f.index], f.error)));
                    inserts
                }
                None => Vec::new(), // only tombstones
            };
            encoded.push(EncodedTable { name, inserts, offsets: plan.offsets });
        }

        // Insert into all tables at once. `join_all` rather than `try_join_all`: a failure in
        // one table must not cancel another table's insert halfway.
        let service = &run.service;
        let results = join_all(encoded.iter().map(|t| async move {
            for insert in &t.inserts {
                service.insert(insert).await?;
            }
            Ok::<_, ConnectError>(())
        }))
        .await;

        let mut failure: Option<ConnectError> = None;
        for (table, result) in encoded.into_iter().zip(results) {
            match result {
                Ok(()) => {
                    for (tp, next) in table.offsets {
                        let entry = run.written.entry(tp).or_insert(next);
                        *entry = (*entry).max(next);
                    }
                }
                Err(e) => {
                    // The table may have changed; read its columns again before the retry.
                    run.tables.remove(&table.name);
                    tracing::warn!(
                        table = %table.name,
                        error = %e,
                        "Insert into ClickHouse failed."
                    );
                    failure = Some(match failure {
                        Some(prev) if severity(&prev) >= severity(&e) => prev,
                        _ => e,
                    });
                }
            }
        }
        match failure {
            // A retry re-encodes the batch, so bad records are reported again then.
            Some(e) => Err(e),
            None if bad_records.is_empty() => Ok(()),
            None => {
                bad_records.sort_by_key(|(i, _)| *i);
                Err(ConnectError::records(bad_records))
            }
        }
    }

    async fn flush(&mut self, consumed: &Offsets) -> Result<Offsets> {
        let Some(run) = self.state.as_ref() else {
            return Ok(Offsets::new());
        };
        Ok(consumed.iter().filter_map(|(tp, &next)| run.written.get(tp).map(|&w| (tp.clone(), w.min(next)))).collect())
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if let Some(run) = self.state.as_mut() {
            for tp in partitions {
                run.written.remove(tp);
            }
        }
        Ok(())
    }

    async fn stop(&mut self) {
        if self.state.take().is_some() {
            tracing::info!("ClickHouse sink task stopped.");
        }
    }
}

/// Groups records by target table. Tombstones only advance offsets; records below the
/// partition's written offset were already inserted by an earlier attempt and are skipped.
fn route<'r>(
    config: &ClickhouseSinkConfig,
    written: &Offsets,
    records: &'r [SinkRecord],
) -> BTreeMap<String, TablePlan<'r>> {
    let mut plans: BTreeMap<String, TablePlan<'r>> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        // Offsets belong to where the record was read from, not to where a transform routed it.
        let tp = record.original_topic_partition();
        if written.get(&tp).is_some_and(|&next| record.offset < next) {
            continue;
        }
        let table = config.table_for(&record.topic);
        let plan = match plans.get_mut(table) {
            Some(plan) => plan,
            None => plans.entry(table.to_owned()).or_default(),
        };
        let next = plan.offsets.entry(tp).or_insert(record.offset + 1);
        *next = (*next).max(record.offset + 1);
        if !record.value.is_null() {
            plan.records.push(record);
            plan.indices.push(index);
        }
    }
    plans
}

/// Encodes one table's records, reporting each record that fails separately.
fn encode(
    table: &ClickhouseTable,
    records: &[&SinkRecord],
    logged: &mut BTreeSet<String>,
) -> (Vec<ClickhouseInsert>, Vec<RecordFailure>) {
    let mut batch = ClickhouseRowBatch::new(table);
    let mut failures = Vec::new();
    for (index, record) in records.iter().enumerate() {
        if let Err(e) = batch.push(&record.value) {
            let error = ConnectError::data(format!(
                "Record {}-{}@{} cannot be written to {}: {e}",
                record.topic,
                record.partition,
                record.offset,
                table.qualified_name()
            ));
            failures.push(RecordFailure { index, error });
        }
    }
    for field in batch.unknown_fields() {
        if logged.insert(field.clone()) {
            tracing::debug!(
                table = %table.qualified_name(),
                field = %field,
                "Record field matches no column; it is ignored."
            );
        }
    }
    (batch.into_inserts(), failures)
}

/// Which error to report when several tables fail: the one needing the most attention.
fn severity(e: &ConnectError) -> u8 {
    match e {
        ConnectError::Retriable { .. } => 0,
        ConnectError::Data { .. } | ConnectError::Records { .. } => 1,
        ConnectError::Config { .. } => 2,
        ConnectError::Fatal { .. } => 3,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_api::Value;

    fn record(topic: &str, partition: i32, offset: i64, value: Value) -> SinkRecord {
        SinkRecord {
            topic: topic.into(),
            partition,
            original_topic: topic.into(),
            original_partition: partition,
            offset,
            timestamp: None,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value,
            headers: Vec::new(),
        }
    }

    fn config() -> ClickhouseSinkConfig {
        let c: ConnectorConfig = [("hostname", "h"), ("topic2TableMap", "clicks=click_events")].into_iter().collect();
        ClickhouseSinkConfig::from_connector_config(&c).unwrap()
    }

    #[test]
    fn routes_by_topic_skips_tombstones_and_already_written_offsets() {
        let v = || Value::Map(vec![("a".into(), "x".into())]);
        let records = vec![
            record("clicks", 0, 5, v()),
            record("clicks", 0, 6, Value::Null),
            record("views", 1, 9, v()),
            record("views", 2, 3, v()),
        ];
        let written: Offsets = [(TopicPartition::new("views", 2), 4)].into_iter().collect();
        let plans = route(&config(), &written, &records);
        let clicks = &plans["click_events"];
        assert_eq!(clicks.records.len(), 1);
        assert_eq!(clicks.offsets[&TopicPartition::new("clicks", 0)], 7);
        let views = &plans["views"];
        assert_eq!(views.records.iter().map(|r| r.offset).collect::<Vec<_>>(), [9]);
        assert_eq!(views.indices, [2]);
        assert_eq!(clicks.indices, [0]);
        assert!(!views.offsets.contains_key(&TopicPartition::new("views", 2)));
    }

    #[test]
    fn a_routed_record_goes_to_its_new_table_and_its_offset_to_where_it_was_read() {
        // As after RegexRouter: the topic names the table, the offset belongs to the source.
        let mut routed = record("shaped_views", 0, 41, Value::Map(vec![("a".into(), "x".into())]));
        routed.original_topic = "views".into();
        let written: Offsets = [(TopicPartition::new("views", 0), 42)].into_iter().collect();
        assert!(route(&config(), &written, std::slice::from_ref(&routed)).is_empty(), "already written");
        let plans = route(&config(), &Offsets::new(), std::slice::from_ref(&routed));
        let plan = &plans["shaped_views"];
        assert_eq!(plan.records.len(), 1);
        assert_eq!(plan.offsets.keys().collect::<Vec<_>>(), [&TopicPartition::new("views", 0)]);
    }

    #[test]
    fn bad_records_are_reported_by_index_and_the_rest_still_encode() {
        let table = ClickhouseTable::from_columns(
            "default",
            "events",
            [("user_id", "String"), ("n", "UInt32")].map(|(c, t)| (c.to_owned(), t.to_owned(), String::new())),
        );
        let row = |n: Value| Value::Map(vec![("user_id".into(), "u".into()), ("n".into(), n)]);
        let records = [
            record("t", 0, 0, row(Value::Int64(1))),
            record("t", 0, 1, row("not a number".into())),
            record("t", 0, 2, row(Value::Int64(3))),
        ];
        let refs: Vec<&SinkRecord> = records.iter().collect();
        let (inserts, failures) = encode(&table, &refs, &mut BTreeSet::new());
        assert_eq!(inserts.iter().map(|i| i.rows).sum::<usize>(), 2);
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].index, 1);
        assert!(matches!(failures[0].error, ConnectError::Data { .. }));
        assert!(failures[0].error.to_string().contains("t-0@1"), "{}", failures[0].error);
    }

    #[tokio::test]
    async fn flush_before_start_commits_nothing_and_put_is_refused() {
        let mut task = ClickhouseSinkTask::new();
        let consumed: Offsets = [(TopicPartition::new("t", 0), 10)].into_iter().collect();
        assert!(task.flush(&consumed).await.unwrap().is_empty());
        assert!(matches!(task.put(&[]).await, Err(ConnectError::Fatal { .. })));
    }

    #[tokio::test]
    async fn start_against_a_closed_port_is_retriable() {
        let mut task = ClickhouseSinkTask::new();
        let c: ConnectorConfig = [("hostname", "127.0.0.1"), ("port", "1")].into_iter().collect();
        let err = task.start(&c).await.unwrap_err();
        assert!(err.is_retriable(), "{err}");
        assert!(err.to_string().contains("http://127.0.0.1:1"), "{err}");
    }
}
