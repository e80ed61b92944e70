//! Exactly-once delivery without ClickHouse Keeper: [`LandedOffsets`] asks the target table
//! itself which records already landed, and the sink skips them.
//!
//! Every row carries where it was read from (`_topic`, `_partition`, `_offset`). The group's
//! committed offset of a partition is a floor: the sink commits an offset only after everything
//! below it was inserted, so every record below the floor is in its table. Above the floor a
//! record may or may not have landed (the worker died between an insert and the next commit,
//! or an insert failed with an unknown outcome, possibly halfway: an insert that spans several
//! table partitions is several parts). So, before the first insert of a partition's records into
//! a table (after `open`, and again after any failed insert), the sink:
//! 1. waits until no insert of this connector that was running on the server at that moment is
//!    still running (a dead worker's last insert may still be finishing; `system.processes`,
//!    by the `query_id` prefix every insert of the connector carries);
//! 2. reads the offsets at or above the floor that the table holds for that partition;
//! 3. drops from what it inserts every record whose offset it found.
//!
//! The table is the record of truth and the check is per row, so no batch boundary has to be
//! repeated exactly and no server feature is needed: it holds on 18.16 as on current servers,
//! for any engine and any `PARTITION BY`. See the README for the crash analysis and the limits
//! (a worker that is frozen, not dead, and wakes up to insert after its partitions moved).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use sluice_api::{ConnectError, Offsets, Result, TopicPartition};

use crate::ddl::coordinate_columns;
use crate::rows::{OFFSET_COLUMN, PARTITION_COLUMN, TOPIC_COLUMN};
use crate::service::ClickhouseService;
use crate::table::{quote_ident, ClickhouseTable};
use crate::types::ClickhouseType;
use crate::version::ServerVersion;

/// How long to wait for an earlier insert of the connector to finish on the server.
const IN_FLIGHT_PATIENCE: Duration = Duration::from_secs(300);
const IN_FLIGHT_POLL: Duration = Duration::from_millis(200);

/// Per partition and table, the offsets the table already holds above the partition's floor.
pub struct LandedOffsets {
    /// Per open partition: every record below it is in its table (the group's commit).
    floors: HashMap<TopicPartition, i64>,
    /// Per (partition, table) after a failed insert: every record of the partition for the
    /// table below it is in the table (the insert's first offset).
    retry_floors: HashMap<(TopicPartition, String), i64>,
    /// Per (partition, table): offsets found in the table, ascending, not yet passed by the
    /// records put. Absent: not looked at since the partition was opened or an insert failed.
    landed: HashMap<(TopicPartition, String), VecDeque<i64>>,
    /// `sluice:<connector>:`, the start of every insert's `query_id` for this connector.
    connector_prefix: String,
    /// `sluice:<connector>:<nonce>:`, this task's inserts.
    task_prefix: String,
    /// Inserts sent by this task, numbering their query ids.
    inserts: u64,
}

impl LandedOffsets {
    /// Nothing opened yet. `nonce` tells this task's inserts apart from others of the connector.
    pub fn new(connector: &str, nonce: u64) -> Self {
        let connector_prefix = format!("sluice:{connector}:");
        let task_prefix = format!("{connector_prefix}{nonce:016x}:");
        LandedOffsets {
            floors: HashMap::new(),
            retry_floors: HashMap::new(),
            landed: HashMap::new(),
            connector_prefix,
            task_prefix,
            inserts: 0,
        }
    }

    /// A fresh `query_id` for the next insert.
    pub fn next_query_id(&mut self) -> String {
        self.inserts += 1;
        format!("{}{}", self.task_prefix, self.inserts)
    }

    /// Partitions assigned, with the group's committed offsets (absent: nothing committed).
    pub fn open(&mut self, partitions: &[TopicPartition], committed: &Offsets) {
        for tp in partitions {
            self.floors.insert(tp.clone(), committed.get(tp).copied().unwrap_or(0));
        }
        self.forget_landed(partitions);
    }

    /// Partitions that left the task.
    pub fn close(&mut self, partitions: &[TopicPartition]) {
        for tp in partitions {
            self.floors.remove(tp);
        }
        self.forget_landed(partitions);
    }

    fn forget_landed(&mut self, partitions: &[TopicPartition]) {
        let gone: BTreeSet<&TopicPartition> = partitions.iter().collect();
        self.landed.retain(|(tp, _), _| !gone.contains(tp));
        self.retry_floors.retain(|(tp, _), _| !gone.contains(tp));
    }

    /// Whether the table must be asked what it holds of `tp` before inserting its records.
    pub fn needs_look(&self, tp: &TopicPartition, table: &str) -> bool {
        !self.landed.contains_key(&(tp.clone(), table.to_owned()))
    }

    /// Reads which offsets of `tp` at or above its floor `table` holds, once earlier inserts of
    /// the connector have finished.
    pub async fn look(
        &mut self,
        service: &ClickhouseService,
        table: &ClickhouseTable,
        tp: &TopicPartition,
    ) -> Result<()> {
        self.wait_for_earlier_inserts(service).await?;
        let key = (tp.clone(), table.name.clone());
        let floor = self.floors.get(tp).copied().unwrap_or(0).max(self.retry_floors.get(&key).copied().unwrap_or(0));
        let sql = format!(
            "SELECT {offset} FROM {table} WHERE {topic} = ? AND {partition} = {p} AND {offset} >= {floor} ORDER BY {offset}",
            offset = quote_ident(OFFSET_COLUMN),
            topic = quote_ident(TOPIC_COLUMN),
            partition = quote_ident(PARTITION_COLUMN),
            table = table.qualified_name(),
            p = tp.partition,
        );
        let context = format!("Reading which records of {tp} already landed in {}", table.qualified_name());
        let text = service.select_text(&context, &sql, &[&tp.topic]).await?;
        let mut found = VecDeque::new();
        for line in text.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let offset =
                std::str::from_utf8(line).ok().and_then(|t| t.trim().parse::<i64>().ok()).ok_or_else(|| {
                    ConnectError::fatal(format!("{context}: unreadable offset {:?}", String::from_utf8_lossy(line)))
                })?;
            found.push_back(offset);
        }
        if !found.is_empty() {
            tracing::info!(
                partition = %tp,
                table = %table.qualified_name(),
                floor,
                landed = found.len(),
                first = found.front().copied().unwrap_or_default(),
                last = found.back().copied().unwrap_or_default(),
                "Records above the last commit already landed; they are skipped."
            );
        }
        self.landed.insert(key, found);
        Ok(())
    }

    /// Whether the record at `offset` of `tp` already is in `table`. Offsets must be asked in
    /// ascending order per partition (as records come), so passed offsets are forgotten.
    pub fn already_landed(&mut self, tp: &TopicPartition, table: &str, offset: i64) -> bool {
        let Some(found) = self.landed.get_mut(&(tp.clone(), table.to_owned())) else {
            return false;
        };
        while found.front().is_some_and(|&o| o < offset) {
            found.pop_front();
        }
        found.front() == Some(&offset)
    }

    /// Whether `table` holds the record at `offset` of `tp`, as last read; unlike
    /// [`Self::already_landed`] it forgets nothing, so offsets may be asked in any order.
    pub fn holds(&self, tp: &TopicPartition, table: &str, offset: i64) -> bool {
        self.landed.get(&(tp.clone(), table.to_owned())).is_some_and(|found| found.binary_search(&offset).is_ok())
    }

    /// Whether any looked-at partition still has landed offsets ahead (otherwise the per-record
    /// check can be skipped).
    pub fn has_landed_ahead(&self) -> bool {
        self.landed.values().any(|found| !found.is_empty())
    }

    /// An insert into `table` failed and may have landed in part: before the retry, look again,
    /// from the first offset each partition had in it.
    pub fn insert_failed(&mut self, table: &str, first_offsets: &Offsets) {
        for (tp, &first) in first_offsets {
            let key = (tp.clone(), table.to_owned());
            self.landed.remove(&key);
            self.retry_floors.insert(key, first);
        }
    }

    /// Waits until every insert of this connector running on the server now has finished.
    async fn wait_for_earlier_inserts(&self, service: &ClickhouseService) -> Result<()> {
        let started = Instant::now();
        let sql = "SELECT query_id FROM system.processes WHERE startsWith(query_id, ?)";
        let context = "Checking for inserts of this connector still running";
        let running = |text: bytes::Bytes| -> BTreeSet<String> {
            text.split(|b| *b == b'\n')
                .filter(|l| !l.is_empty())
                .map(|l| String::from_utf8_lossy(l).into_owned())
                .collect()
        };
        let earlier = running(service.select_text(context, sql, &[&self.connector_prefix]).await?);
        if earlier.is_empty() {
            return Ok(());
        }
        tracing::info!(inserts = ?earlier, "Waiting for earlier inserts of this connector to finish before reading what landed.");
        loop {
            tokio::time::sleep(IN_FLIGHT_POLL).await;
            let now = running(service.select_text(context, sql, &[&self.connector_prefix]).await?);
            if earlier.is_disjoint(&now) {
                return Ok(());
            }
            if started.elapsed() > IN_FLIGHT_PATIENCE {
                return Err(ConnectError::retriable(format!(
                    "Inserts {:?} of this connector are still running in ClickHouse after {} s; what landed is read once they finish.",
                    earlier.intersection(&now).collect::<Vec<_>>(),
                    IN_FLIGHT_PATIENCE.as_secs()
                )));
            }
        }
    }
}

/// Fails unless `table` has the coordinate columns exactly-once needs, saying how to add them
/// (with the types `auto.create` gives them on this server).
pub fn check_coordinate_columns(table: &ClickhouseTable, version: &ServerVersion) -> Result<()> {
    let missing: Vec<(String, ClickhouseType)> =
        coordinate_columns(version).into_iter().filter(|(name, _)| table.column_index(name).is_none()).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = missing.iter().map(|(name, _)| name.as_str()).collect();
    let add: Vec<String> = missing.iter().map(|(name, ty)| format!("ADD COLUMN {} {ty}", quote_ident(name))).collect();
    Err(ConnectError::config(
        "exactlyOnce",
        format!(
            "Table {} lacks the Kafka coordinate column(s) {} that exactly-once delivery reads back after a restart. Add them (ALTER TABLE {} {}), let `auto.create` create the table, or set exactlyOnce=false.",
            table.qualified_name(),
            names.join(", "),
            table.qualified_name(),
            add.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tp(p: i32) -> TopicPartition {
        TopicPartition::new("events", p)
    }

    #[test]
    fn landed_offsets_are_skipped_once_and_forgotten_as_records_pass() {
        let mut landed = LandedOffsets::new("c", 1);
        landed.open(&[tp(0), tp(1)], &Offsets::from([(tp(0), 10)]));
        assert!(landed.needs_look(&tp(0), "t"));
        landed.landed.insert((tp(0), "t".into()), VecDeque::from([10, 11, 13]));
        assert!(!landed.needs_look(&tp(0), "t"));
        assert!(landed.needs_look(&tp(0), "other_table"));
        let skipped: Vec<i64> = (10..15).filter(|&o| landed.already_landed(&tp(0), "t", o)).collect();
        assert_eq!(skipped, [10, 11, 13]);
        assert!(!landed.has_landed_ahead());
        landed.landed.insert((tp(0), "t".into()), VecDeque::from([3, 5]));
        assert!(landed.holds(&tp(0), "t", 5) && landed.holds(&tp(0), "t", 3) && !landed.holds(&tp(0), "t", 4));
        assert!(!landed.already_landed(&tp(1), "t", 0), "nothing known, nothing skipped");
    }

    #[test]
    fn a_failed_insert_raises_the_floor_and_asks_again() {
        let mut landed = LandedOffsets::new("c", 1);
        landed.open(&[tp(0)], &Offsets::new());
        assert_eq!(landed.floors[&tp(0)], 0, "no commit: from the start");
        landed.landed.insert((tp(0), "t".into()), VecDeque::new());
        landed.insert_failed("t", &Offsets::from([(tp(0), 500)]));
        assert!(landed.needs_look(&tp(0), "t"));
        assert_eq!(landed.retry_floors[&(tp(0), "t".to_owned())], 500);
        assert_eq!(landed.floors[&tp(0)], 0, "other tables of the partition keep the commit as floor");
        landed.close(&[tp(0)]);
        assert!(landed.floors.is_empty() && landed.retry_floors.is_empty());
    }

    #[test]
    fn query_ids_share_the_connector_prefix_and_differ_per_task() {
        let mut a = LandedOffsets::new("sink", 1);
        let mut b = LandedOffsets::new("sink", 2);
        let (x, y) = (a.next_query_id(), b.next_query_id());
        assert!(x.starts_with("sluice:sink:") && y.starts_with("sluice:sink:"));
        assert_ne!(x, y);
        assert_ne!(x, a.next_query_id());
    }

    #[test]
    fn tables_without_coordinates_are_refused_with_the_ddl() {
        let t =
            ClickhouseTable::from_columns("default", "events", [("a".to_owned(), "String".to_owned(), String::new())]);
        let err = check_coordinate_columns(&t, &ServerVersion::parse("18.16.1").unwrap()).unwrap_err();
        assert_eq!(err.config_key(), Some("exactlyOnce"));
        assert!(err.to_string().contains("ADD COLUMN `_topic` String, ADD COLUMN `_partition` Int32"), "{err}");
    }
}
