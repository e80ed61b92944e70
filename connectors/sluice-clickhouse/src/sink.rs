//! The sink task: [`ClickhouseSinkTask`] routes each batch of records to its tables, encodes
//! them, and sends each table's rows in the background while the runtime builds the next
//! batch: one insert per table in flight. `flush` reports only what has landed.
//!
//! The pipeline per `put`: route (topic → table, tombstones and already written records
//! skipped) → wait for the previous insert of each table this batch goes to (sending it again
//! if it failed) → describe tables on first use (`auto.create` creates missing ones) → with
//! `exactlyOnce`, ask each table what already landed of partitions it was not asked about yet,
//! and skip that (see `exactly_once`) → encode (per-record results; `auto.evolve` adds columns
//! for new fields) → start each table's insert. Records that cannot be encoded do not hold up
//! the rest: the others are sent and `put` returns `ConnectError::Records` naming the bad ones,
//! whose offsets count as handled. A failed insert is kept and sent again (with `exactlyOnce`,
//! without the rows that landed after all) before anything else goes to its table; until then
//! no offset past it is reported. `close` and `stop` wait for every insert in flight.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use async_trait::async_trait;
use sluice_api::{
    ConnectError, ConnectorConfig, Offsets, Result, SinkRecord, SinkTask, SinkTaskContext, TopicPartition,
};

use crate::config::ClickhouseSinkConfig;
use crate::ddl;
use crate::exactly_once::{check_coordinate_columns, LandedOffsets};
use crate::rows::ClickhouseRowBatch;
use crate::service::{ClickhouseInsert, ClickhouseService};
use crate::table::ClickhouseTable;
use crate::version::ServerVersion;

/// A running share of the ClickHouse sink's work. Create it with
/// [`ClickhouseSinkConnector::create_task`](crate::ClickhouseSinkConnector) and `start` it.
#[derive(Default)]
pub struct ClickhouseSinkTask {
    /// What the task may ask of the runtime; set by `initialize`.
    context: Option<Arc<dyn SinkTaskContext>>,
    /// Set by `start`.
    state: Option<Running>,
}

struct Running {
    config: ClickhouseSinkConfig,
    service: ClickhouseService,
    /// What `SELECT version()` said at start.
    server_version: String,
    /// The same, parsed: which features DDL may use.
    version: ServerVersion,
    /// Described tables by name, with the unknown record fields already logged for each.
    tables: HashMap<String, (ClickhouseTable, BTreeSet<String>)>,
    /// Per table and partition, the offset after the last record written (Kafka's commit
    /// convention). Per table: a partition whose records go to two tables may have reached
    /// one and not the other.
    written: HashMap<String, Offsets>,
    /// What each table already holds above the last commit; also numbers the inserts.
    landed: LandedOffsets,
    /// Per table, its batch in flight (or failed, to be sent again).
    sending: HashMap<String, Sending>,
}

/// The records of one `put` bound for one table.
#[derive(Default)]
struct TablePlan<'r> {
    records: Vec<&'r SinkRecord>,
    /// Index in the `put` batch of each of `records`.
    indices: Vec<usize>,
    /// Offset after the last record per partition, tombstones included.
    offsets: Offsets,
    /// Offset of the first record per partition.
    first: Offsets,
}

/// A record that could not be encoded, and why.
struct RecordFailure {
    /// Index in the records handed to `encode`.
    index: usize,
    error: ConnectError,
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

/// A number telling this task's inserts apart from those of the connector's other tasks and of
/// earlier runs.
fn task_nonce() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    hasher.finish()
}

#[async_trait]
impl SinkTask for ClickhouseSinkTask {
    fn initialize(&mut self, context: Arc<dyn SinkTaskContext>) {
        self.context = Some(context);
    }

    async fn start(&mut self, config: &ConnectorConfig) -> Result<()> {
        let config = ClickhouseSinkConfig::from_connector_config(config)?;
        if config.exactly_once && self.context.is_none() {
            return Err(ConnectError::fatal(
                "exactlyOnce needs the runtime's task context (committed offsets); this runtime did not provide one.",
            ));
        }
        let service = ClickhouseService::new(&config);
        let server_version = service.server_version().await?;
        let version = ServerVersion::parse(&server_version).map_err(|e| {
            ConnectError::fatal(format!("ClickHouse at {} answered `SELECT version()` with {e}.", service.url()))
        })?;
        tracing::info!(
            url = service.url(),
            server_version = %server_version,
            database = %config.database,
            exactly_once = config.exactly_once,
            "Connected to ClickHouse."
        );
        let landed = LandedOffsets::new(&config.connector_name, task_nonce());
        self.state = Some(Running {
            config,
            service,
            server_version,
            version,
            tables: HashMap::new(),
            written: HashMap::new(),
            landed,
            sending: HashMap::new(),
        });
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        // A (re)assigned partition resumes from its committed offset; forget what we wrote.
        let context = self.context.clone();
        let run = self.running()?;
        for written in run.written.values_mut() {
            for tp in partitions {
                written.remove(tp);
            }
        }
        if run.config.exactly_once {
            let committed = match &context {
                Some(context) => context.committed(partitions)?,
                None => Offsets::new(),
            };
            run.landed.open(partitions, &committed);
        }
        Ok(())
    }

    async fn put(&mut self, records: &[SinkRecord]) -> Result<()> {
        let run = self.running()?;
        let mut plans = route(&run.config, &run.written, records);

        // One insert per table in flight: the previous one of each table this batch goes to
        // must have landed first. If it failed, it is sent again now (without what landed,
        // with exactlyOnce); if that fails too, this batch waits for the runtime's retry.
        for name in plans.keys() {
            run.settle(name).await?;
        }

        // Describe tables on first use (or when older than `tableRefreshInterval`); create
        // missing ones with `auto.create`.
        for (name, plan) in &plans {
            let fresh = run.tables.get(name).is_some_and(|(t, _)| !t.is_stale(run.config.table_refresh_interval));
            if !plan.records.is_empty() && !fresh {
                describe(run, name, &plan.records).await?;
            }
        }

        if run.config.exactly_once {
            skip_landed(run, &mut plans).await?;
        }

        let mut bad_records: Vec<(usize, ConnectError)> = Vec::new();
        for (name, plan) in plans {
            let mut inserts = Vec::new();
            if !plan.records.is_empty() && run.tables.contains_key(&name) {
                let mut outcome = encode(&run.tables[&name].0, &plan.records, run.config.exactly_once);
                if run.config.auto_evolve
                    && !outcome.unknown_fields.is_empty()
                    && evolve(run, &name, &plan.records, &outcome.unknown_fields).await?
                {
                    outcome = encode(&run.tables[&name].0, &plan.records, run.config.exactly_once);
                }
                if let Some((table, logged)) = run.tables.get_mut(&name) {
                    log_unknown_fields(table, logged, &outcome.unknown_fields);
                }
                bad_records.extend(outcome.failures.into_iter().map(|f| (plan.indices[f.index], f.error)));
                inserts = outcome.inserts;
            }
            let batch = TableBatch { inserts, offsets: plan.offsets, first: plan.first };
            if batch.inserts.is_empty() {
                run.mark_written(&name, &batch.offsets);
            } else {
                // Sent in the background: the runner builds the next batch meanwhile.
                run.send(name, batch);
            }
        }
        if bad_records.is_empty() {
            Ok(())
        } else {
            bad_records.sort_by_key(|(i, _)| *i);
            Err(ConnectError::records(bad_records))
        }
    }

    async fn flush(&mut self, consumed: &Offsets) -> Result<Offsets> {
        let context = self.context.clone();
        let Some(run) = self.state.as_mut() else {
            return Ok(Offsets::new());
        };
        let mut landed = run.settle_finished();
        // A failed insert is sent again here too, so it lands even when no new record comes.
        let failed: Vec<String> =
            run.sending.iter().filter(|(_, s)| matches!(s.state, SendState::Failed)).map(|(t, _)| t.clone()).collect();
        for table in failed {
            run.settle(&table).await?;
            landed = true;
        }
        if landed && run.config.exactly_once {
            // A commit right after each insert keeps what must be read back after a crash small.
            if let Some(context) = context {
                context.request_commit();
            }
        }
        Ok(run.durable(consumed))
    }

    async fn close(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if let Some(run) = self.state.as_mut() {
            // Their rows must have landed before their offsets are committed for the last time
            // (the flush after `close` reports them; `open` forgets them if they come back).
            run.settle_all().await?;
            run.landed.close(partitions);
        }
        Ok(())
    }

    async fn stop(&mut self) {
        if let Some(mut run) = self.state.take() {
            if let Err(e) = run.settle_all().await {
                tracing::warn!(error = %e, "Inserts still failing at stop; their records are read again from the last commit.");
            }
            tracing::info!("ClickHouse sink task stopped.");
        }
    }
}

/// One table's rows of one batch, sent or to be sent.
struct TableBatch {
    /// The inserts (one per set of columns the rows carry).
    inserts: Vec<ClickhouseInsert>,
    /// Offset after the last record per partition, tombstones included.
    offsets: Offsets,
    /// Offset of the first record per partition.
    first: Offsets,
}

/// A table's batch that was sent and has not landed yet.
struct Sending {
    batch: Arc<TableBatch>,
    state: SendState,
}

enum SendState {
    /// The inserts run in the background.
    Running(tokio::task::JoinHandle<Result<()>>),
    /// They failed; sent again before anything else goes to the table.
    Failed,
}

impl Running {
    /// Starts sending `batch` into `table` in the background.
    fn send(&mut self, table: String, batch: TableBatch) {
        let batch = Arc::new(batch);
        let ids: Vec<String> = batch.inserts.iter().map(|_| self.landed.next_query_id()).collect();
        let (service, sent) = (self.service.clone(), Arc::clone(&batch));
        let handle = tokio::spawn(async move {
            for (insert, query_id) in sent.inserts.iter().zip(&ids) {
                service.insert(insert, query_id).await?;
            }
            Ok(())
        });
        self.sending.insert(table, Sending { batch, state: SendState::Running(handle) });
    }

    /// Waits until `table`'s batch in flight (if any) has landed, sending it again after a
    /// failure. The error of the last attempt when it has not landed.
    async fn settle(&mut self, table: &str) -> Result<()> {
        let Some(mut sending) = self.sending.remove(table) else {
            return Ok(());
        };
        let outcome = match sending.state {
            SendState::Running(ref mut handle) => join_result(handle.await),
            SendState::Failed => self.send_again(table, &sending.batch).await,
        };
        self.conclude(table, sending, outcome)
    }

    /// Settles every batch whose inserts have finished, without waiting for the others.
    /// Whether any landed.
    fn settle_finished(&mut self) -> bool {
        let finished: Vec<String> = self
            .sending
            .iter()
            .filter(|(_, s)| matches!(&s.state, SendState::Running(h) if h.is_finished()))
            .map(|(name, _)| name.clone())
            .collect();
        let mut landed = false;
        for name in finished {
            let Some(mut sending) = self.sending.remove(&name) else { continue };
            let outcome = match sending.state {
                SendState::Running(ref mut handle) => {
                    join_result(futures::FutureExt::now_or_never(handle).unwrap_or_else(|| Ok(Ok(()))))
                }
                SendState::Failed => continue,
            };
            landed |= self.conclude(&name, sending, outcome).is_ok();
        }
        landed
    }

    /// Settles every table's batch in flight, failed ones sent again.
    async fn settle_all(&mut self) -> Result<()> {
        let tables: Vec<String> = self.sending.keys().cloned().collect();
        for table in tables {
            self.settle(&table).await?;
        }
        Ok(())
    }

    /// Records how a batch's sending ended: its offsets are written, or it is kept to be sent
    /// again (and, with exactlyOnce, what landed of it is read back first).
    fn conclude(&mut self, table: &str, mut sending: Sending, outcome: Result<()>) -> Result<()> {
        match outcome {
            Ok(()) => {
                self.mark_written(table, &sending.batch.offsets);
                Ok(())
            }
            Err(e) if !e.is_retriable() => {
                // Its records were handed over by an earlier `put`: they can no longer be
                // dead-lettered one by one. The task stops; they are read again from the last
                // commit when it restarts.
                self.sending.insert(table.to_owned(), Sending { state: SendState::Failed, ..sending });
                Err(ConnectError::fatal(format!(
                    "ClickHouse refused a batch for table {table} that was already handed over: {e}"
                )))
            }
            Err(e) => {
                tracing::warn!(table, error = %e, "Insert into ClickHouse failed; it is sent again.");
                // The table may have changed; read its columns again.
                self.tables.remove(table);
                if self.config.exactly_once {
                    self.landed.insert_failed(table, &sending.batch.first);
                }
                sending.state = SendState::Failed;
                self.sending.insert(table.to_owned(), sending);
                Err(e)
            }
        }
    }

    /// Sends a failed batch again and waits for it; with exactlyOnce, without the rows that
    /// landed (the failed attempt's outcome is unknown).
    async fn send_again(&mut self, table: &str, batch: &TableBatch) -> Result<()> {
        let mut inserts: Vec<ClickhouseInsert> = batch.inserts.clone();
        if self.config.exactly_once {
            let described = match self.tables.get(table) {
                Some((t, _)) => t.clone(),
                None => ClickhouseTable::describe(&self.service, &self.config.database, table).await?,
            };
            for tp in batch.first.keys() {
                self.landed.look(&self.service, &described, tp).await?;
            }
            let landed = &self.landed;
            inserts = inserts
                .iter()
                .filter_map(|insert| {
                    insert.without_rows(|row| {
                        let tp = TopicPartition { topic: row.topic.clone(), partition: row.partition };
                        landed.holds(&tp, table, row.offset)
                    })
                })
                .collect();
        }
        for insert in &inserts {
            let query_id = self.landed.next_query_id();
            self.service.insert(insert, &query_id).await?;
        }
        Ok(())
    }

    fn mark_written(&mut self, table: &str, offsets: &Offsets) {
        let written = match self.written.get_mut(table) {
            Some(written) => written,
            None => self.written.entry(table.to_owned()).or_default(),
        };
        for (tp, &next) in offsets {
            let entry = written.entry(tp.clone()).or_insert(next);
            *entry = (*entry).max(next);
        }
    }

    /// Per partition, the offset below which everything has landed: what was written, never
    /// past a batch still in flight or failed, never past what the runtime settled.
    fn durable(&self, consumed: &Offsets) -> Offsets {
        consumed
            .iter()
            .filter_map(|(tp, &next)| {
                let written = self.written.values().filter_map(|w| w.get(tp).copied()).max()?;
                let pending = self.sending.values().filter_map(|s| s.batch.first.get(tp).copied()).min();
                let durable = written.min(next).min(pending.unwrap_or(i64::MAX));
                Some((tp.clone(), durable))
            })
            .collect()
    }
}

/// A background insert's result; a panicked one counts as failed, to be sent again.
fn join_result(joined: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    joined.unwrap_or_else(|e| Err(ConnectError::retriable(format!("An insert into ClickHouse stopped: {e}"))))
}

/// Groups records by target table. Tombstones only advance offsets; records below the
/// offset written to their table for their partition were already inserted by an earlier
/// attempt and are skipped.
fn route<'r>(
    config: &ClickhouseSinkConfig,
    written: &HashMap<String, Offsets>,
    records: &'r [SinkRecord],
) -> BTreeMap<String, TablePlan<'r>> {
    let mut plans: BTreeMap<String, TablePlan<'r>> = BTreeMap::new();
    for (index, record) in records.iter().enumerate() {
        // Offsets belong to where the record was read from, not to where a transform routed it.
        let tp = record.original_topic_partition();
        let table = config.table_for(&record.topic);
        if written.get(table).and_then(|w| w.get(&tp)).is_some_and(|&next| record.offset < next) {
            continue;
        }
        let plan = match plans.get_mut(table) {
            Some(plan) => plan,
            None => plans.entry(table.to_owned()).or_default(),
        };
        let next = plan.offsets.entry(tp.clone()).or_insert(record.offset + 1);
        *next = (*next).max(record.offset + 1);
        let first = plan.first.entry(tp).or_insert(record.offset);
        *first = (*first).min(record.offset);
        if !record.value.is_null() {
            plan.records.push(record);
            plan.indices.push(index);
        }
    }
    plans
}

/// Exactly-once: asks each table what it already holds of partitions it was not asked about
/// since they were opened (or since an insert failed), and drops those records from the plans.
async fn skip_landed(run: &mut Running, plans: &mut BTreeMap<String, TablePlan<'_>>) -> Result<()> {
    for (name, plan) in plans.iter_mut() {
        let Some((table, _)) = run.tables.get(name) else {
            continue; // only tombstones: nothing to insert
        };
        for tp in plan.offsets.keys() {
            if run.landed.needs_look(tp, name) {
                run.landed.look(&run.service, table, tp).await?;
            }
        }
        if !run.landed.has_landed_ahead() {
            continue;
        }
        let landed = &mut run.landed;
        let mut keep = 0;
        for i in 0..plan.records.len() {
            let record = plan.records[i];
            if !landed.already_landed(&record.original_topic_partition(), name, record.offset) {
                plan.records[keep] = record;
                plan.indices[keep] = plan.indices[i];
                keep += 1;
            }
        }
        plan.records.truncate(keep);
        plan.indices.truncate(keep);
    }
    Ok(())
}

/// Describes `name` into `run.tables`. A missing table is created from `records` with
/// `auto.create`, else it is a fatal error saying what to do.
async fn describe(run: &mut Running, name: &str, records: &[&SinkRecord]) -> Result<()> {
    let database = &run.config.database;
    let table = match ClickhouseTable::describe_if_exists(&run.service, database, name).await? {
        Some(table) => table,
        None if run.config.auto_create => {
            let columns = ddl::columns_for_records(records.iter().map(|r| &r.value), &run.version)?;
            let order_by = &run.config.auto_create_order_by;
            ddl::create_table(&run.service, database, name, &columns, order_by, &run.version).await?;
            ClickhouseTable::describe(&run.service, database, name).await?
        }
        None => ClickhouseTable::describe(&run.service, database, name).await?, // the error
    };
    if run.config.exactly_once {
        check_coordinate_columns(&table)?;
    }
    let logged = run.tables.remove(name).map(|(_, logged)| logged).unwrap_or_default();
    run.tables.insert(name.to_owned(), (table, logged));
    Ok(())
}

/// `auto.evolve`: adds a column for each of `unknown` (record fields `name` lacks), typed from
/// `records`, and describes the table again. Whether columns were added.
async fn evolve(run: &mut Running, name: &str, records: &[&SinkRecord], unknown: &BTreeSet<String>) -> Result<bool> {
    let mut columns = ddl::columns_for_records(records.iter().map(|r| &r.value), &run.version)?;
    columns.retain(|(column, _)| unknown.contains(column));
    if columns.is_empty() {
        return Ok(false);
    }
    ddl::add_columns(&run.service, &run.config.database, name, &columns, &run.version).await?;
    describe(run, name, records).await?;
    Ok(true)
}

/// One table's records, encoded.
struct EncodeOutcome {
    inserts: Vec<ClickhouseInsert>,
    /// The records that failed, each separately.
    failures: Vec<RecordFailure>,
    /// Record fields that match no column.
    unknown_fields: BTreeSet<String>,
}

/// Encodes one table's records, reporting each record that fails separately.
fn encode(table: &ClickhouseTable, records: &[&SinkRecord], track_sources: bool) -> EncodeOutcome {
    let mut batch = ClickhouseRowBatch::new(table).track_sources(track_sources);
    let mut failures = Vec::new();
    for (index, record) in records.iter().enumerate() {
        if let Err(e) = batch.push_record(record) {
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
    let unknown_fields = batch.unknown_fields().clone();
    EncodeOutcome { inserts: batch.into_inserts(), failures, unknown_fields }
}

/// Logs each ignored record field once per table.
fn log_unknown_fields(table: &ClickhouseTable, logged: &mut BTreeSet<String>, unknown: &BTreeSet<String>) {
    for field in unknown {
        if logged.insert(field.clone()) {
            tracing::debug!(
                table = %table.qualified_name(),
                field = %field,
                "Record field matches no column; it is ignored."
            );
        }
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
        let written = HashMap::from([("views".to_owned(), Offsets::from([(TopicPartition::new("views", 2), 4)]))]);
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
        let written =
            HashMap::from([("shaped_views".to_owned(), Offsets::from([(TopicPartition::new("views", 0), 42)]))]);
        assert!(route(&config(), &written, std::slice::from_ref(&routed)).is_empty(), "already written");
        let elsewhere = HashMap::from([("views".to_owned(), Offsets::from([(TopicPartition::new("views", 0), 42)]))]);
        assert_eq!(
            route(&config(), &elsewhere, std::slice::from_ref(&routed)).len(),
            1,
            "written to another table only"
        );
        let plans = route(&config(), &HashMap::new(), std::slice::from_ref(&routed));
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
        let EncodeOutcome { inserts, failures, .. } = encode(&table, &refs, false);
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
