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
//! no offset past it is reported. If the table's columns changed since it was encoded, its
//! partitions are read again from its first record instead (a rewind, `sink/sending.rs`).
//! `close` and `stop` wait for every insert in flight.

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

mod sending;
use sending::{Sending, TableBatch};

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
    /// What `SELECT version()` said at start: which features DDL may use.
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
    /// Per table, partitions read again from these offsets because the table's columns changed
    /// under a held batch (see `Running::rewind`); nothing past them is durable until rows of
    /// theirs land in the table again.
    rewound: HashMap<String, Offsets>,
    /// Partitions rewound since `put` last looked: their records in the batch being put come
    /// again after the rewind.
    just_rewound: Vec<TopicPartition>,
    /// Partitions rewound by a `put` that then wrote nothing (`ConnectError::Undecodable`): the
    /// runtime puts the same batch again at once, and their records must still be left out.
    rewound_unwritten: Vec<TopicPartition>,
    /// The runtime's task context: asked right before each insert whether the process stood
    /// still (a frozen worker must not insert for partitions that moved meanwhile).
    context: Option<Arc<dyn SinkTaskContext>>,
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
    /// Its value, handed on undecoded, does not decode: JSON text that is not JSON
    /// (`SinkTask::reads_json_values`), a datum its converter refuses (`SinkTask::reads_datums`).
    undecodable: bool,
}

impl ClickhouseSinkTask {
    /// A task that has not been started.
    pub fn new() -> Self {
        ClickhouseSinkTask::default()
    }

    /// The server version read at start, once started.
    pub fn server_version(&self) -> Option<&ServerVersion> {
        self.state.as_ref().map(|s| &s.version)
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
        let version = ServerVersion::of(&service).await?;
        tracing::info!(
            url = service.url(),
            server_version = %version,
            database = %config.database,
            exactly_once = config.exactly_once,
            "Connected to ClickHouse."
        );
        let landed = LandedOffsets::new(&config.connector_name, task_nonce());
        self.state = Some(Running {
            config,
            service,
            version,
            tables: HashMap::new(),
            written: HashMap::new(),
            landed,
            sending: HashMap::new(),
            rewound: HashMap::new(),
            just_rewound: Vec::new(),
            rewound_unwritten: Vec::new(),
            context: self.context.clone(),
        });
        Ok(())
    }

    async fn open(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        let context = self.context.clone();
        let run = self.running()?;
        // Asked first: the runtime may fetch them and call `open` again.
        let committed = match &context {
            Some(context) if run.config.exactly_once => Some(context.committed(partitions)?),
            _ => None,
        };
        // A (re)assigned partition resumes from its committed offset; forget what we wrote.
        for written in run.written.values_mut() {
            for tp in partitions {
                written.remove(tp);
            }
        }
        run.forget_held(partitions);
        if let Some(committed) = committed {
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
        run.just_rewound.clear();
        for name in plans.keys() {
            run.settle(name).await?;
        }
        let mut rewound_now = std::mem::take(&mut run.just_rewound);
        // Rewound by a `put` of this batch that wrote nothing (it held values that do not decode).
        rewound_now.append(&mut run.rewound_unwritten);
        if !rewound_now.is_empty() {
            // A held batch was dropped to be read again: this batch's records of its partitions
            // come again after the rewind, and are not written now.
            plans = route_except(&run.config, &run.written, records, &rewound_now);
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
        let mut undecodable: Vec<usize> = Vec::new();
        let mut batches = Vec::with_capacity(plans.len());
        for (name, plan) in plans {
            let mut inserts = Vec::new();
            if !plan.records.is_empty() && run.tables.contains_key(&name) {
                let mut outcome = encode(&run.tables[&name].0, &plan.records);
                if run.config.auto_evolve
                    && !outcome.unknown_fields.is_empty()
                    && evolve(run, &name, &plan.records, &outcome.unknown_fields).await?
                {
                    outcome = encode(&run.tables[&name].0, &plan.records);
                }
                if let Some((table, logged)) = run.tables.get_mut(&name) {
                    log_unknown_fields(table, logged, &outcome.unknown_fields);
                }
                for failure in outcome.failures {
                    match failure.undecodable {
                        true => undecodable.push(plan.indices[failure.index]),
                        false => bad_records.push((plan.indices[failure.index], failure.error)),
                    }
                }
                inserts = outcome.inserts;
            }
            batches.push((name, TableBatch { inserts, offsets: plan.offsets, first: plan.first }));
        }
        if !undecodable.is_empty() {
            // Nothing of the batch is written: the runtime fails these and puts the rest again.
            undecodable.sort_unstable();
            run.rewound_unwritten = rewound_now;
            return Err(ConnectError::Undecodable { records: undecodable });
        }
        for (name, batch) in batches {
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
        // The batch they were kept for was put again before any flush.
        run.rewound_unwritten.clear();
        // A failed insert is sent again here too, so it lands even when no new record comes.
        let landed = run.settle_finished() | run.settle_failed().await?;
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

    /// The partitions are another task's now, or will be read again from the last commit: what
    /// is held for them is dropped, never sent.
    async fn lost(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        if let Some(run) = self.state.as_mut() {
            run.drop_partitions(partitions).await;
            for written in run.written.values_mut() {
                for tp in partitions {
                    written.remove(tp);
                }
            }
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

    /// Rows and files are made of the record's value and coordinates, never its headers.
    fn reads_headers(&self) -> bool {
        false
    }

    /// Rows are read straight from JSON text (`rows_lane.rs`), without a value per record.
    fn reads_json_values(&self) -> bool {
        true
    }

    /// And straight from Avro datums of records of scalars (`rows_lane.rs`).
    fn reads_datums(&self) -> bool {
        true
    }
}

/// Groups records by target table. Tombstones only advance offsets; records below the
/// offset written to their table for their partition were already inserted by an earlier
/// attempt and are skipped.
fn route<'r>(
    config: &ClickhouseSinkConfig,
    written: &HashMap<String, Offsets>,
    records: &'r [SinkRecord],
) -> BTreeMap<String, TablePlan<'r>> {
    route_except(config, written, records, &[])
}

/// [`route`], leaving out the records of `skipped` partitions altogether.
fn route_except<'r>(
    config: &ClickhouseSinkConfig,
    written: &HashMap<String, Offsets>,
    records: &'r [SinkRecord],
    skipped: &[TopicPartition],
) -> BTreeMap<String, TablePlan<'r>> {
    let mut plans: BTreeMap<String, TablePlan<'r>> = BTreeMap::new();
    // A batch comes in runs of one partition's records: the maps are asked once per run, not
    // once per record (three lookups per record showed in the profile).
    let mut start = 0;
    while start < records.len() {
        let head = &records[start];
        let len = records[start..].iter().position(|r| !same_run(head, r)).unwrap_or(records.len() - start);
        route_run(config, written, &mut plans, &records[start..start + len], start, skipped);
        start += len;
    }
    plans
}

/// Whether two records were read from one partition and go to one table.
fn same_run(a: &SinkRecord, b: &SinkRecord) -> bool {
    a.original_partition == b.original_partition && a.original_topic == b.original_topic && a.topic == b.topic
}

/// Routes `run`, records of one partition bound for one table; `first_index` is the index in
/// the `put` batch of its first record.
fn route_run<'r>(
    config: &ClickhouseSinkConfig,
    written: &HashMap<String, Offsets>,
    plans: &mut BTreeMap<String, TablePlan<'r>>,
    run: &'r [SinkRecord],
    first_index: usize,
    skipped: &[TopicPartition],
) {
    // Offsets belong to where the record was read from, not to where a transform routed it.
    let tp = run[0].original_topic_partition();
    if skipped.contains(&tp) {
        return;
    }
    let table = config.table_for(&run[0].topic);
    let written_next = written.get(table).and_then(|w| w.get(&tp)).copied();
    let new = |record: &SinkRecord| written_next.is_none_or(|next| record.offset >= next);
    let Some(first_new) = run.iter().position(new) else { return };
    let plan = match plans.get_mut(table) {
        Some(plan) => plan,
        None => plans.entry(table.to_owned()).or_default(),
    };
    let (mut lowest, mut next) = (i64::MAX, i64::MIN);
    // Room for the run at once: a plan's lists start empty at each `put`.
    plan.records.reserve(run.len() - first_new);
    plan.indices.reserve(run.len() - first_new);
    for (i, record) in run.iter().enumerate().skip(first_new).filter(|(_, r)| new(r)) {
        lowest = lowest.min(record.offset);
        next = next.max(record.offset + 1);
        if record.has_value() {
            plan.records.push(record);
            plan.indices.push(first_index + i);
        }
    }
    let after = plan.offsets.entry(tp.clone()).or_insert(next);
    *after = (*after).max(next);
    let first = plan.first.entry(tp).or_insert(lowest);
    *first = (*first).min(lowest);
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
            // A record with a schema gives the columns: the first record's (a later version's
            // new fields are for auto.evolve); schemaless values are read together, as their
            // fields come and go from record to record.
            let from = match records.first() {
                Some(first) if first.value_schema.is_some() => &records[..1],
                _ => records,
            };
            let values = decoded_values(from)?;
            let columns = ddl::columns_for_records(values.iter().map(|v| &**v), &run.version)?;
            let order_by = &run.config.auto_create_order_by;
            ddl::create_table(&run.service, database, name, &columns, order_by, &run.version).await?;
            ClickhouseTable::describe(&run.service, database, name).await?
        }
        None => ClickhouseTable::describe(&run.service, database, name).await?, // the error
    };
    if run.config.exactly_once {
        check_coordinate_columns(&table, &run.version)?;
    }
    let logged = run.tables.remove(name).map(|(_, logged)| logged).unwrap_or_default();
    run.tables.insert(name.to_owned(), (table, logged));
    Ok(())
}

/// `auto.evolve`: adds a column for each of `unknown` (record fields `name` lacks), typed from
/// `records`, and describes the table again. Whether columns were added.
async fn evolve(run: &mut Running, name: &str, records: &[&SinkRecord], unknown: &BTreeSet<String>) -> Result<bool> {
    let values = decoded_values(records)?;
    let mut columns = ddl::columns_for_records(values.iter().map(|v| &**v), &run.version)?;
    columns.retain(|(column, _)| unknown.contains(column));
    if columns.is_empty() {
        return Ok(false);
    }
    ddl::add_columns(&run.service, &run.config.database, name, &columns, &run.version).await?;
    describe(run, name, records).await?;
    Ok(true)
}

/// The records' values, decoded where they came as JSON text: what `auto.create` and
/// `auto.evolve` type columns from.
fn decoded_values<'r>(records: &[&'r SinkRecord]) -> Result<Vec<std::borrow::Cow<'r, sluice_api::Value>>> {
    records.iter().map(|r| r.decoded_value()).collect()
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
fn encode(table: &ClickhouseTable, records: &[&SinkRecord]) -> EncodeOutcome {
    let mut batch = ClickhouseRowBatch::new(table).expecting(records.len());
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
            // Values handed on undecoded are checked only here: the runtime must hear which of
            // them do not decode.
            let undecodable = match (&record.value_json, &record.value_datum) {
                (Some(text), _) => sluice_api::json::check(text).is_err(),
                (None, Some(datum)) => datum.decode().is_err(),
                (None, None) => false,
            };
            failures.push(RecordFailure { index, error, undecodable });
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
mod tests;
