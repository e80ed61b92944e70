//! Background sending: each table's batch is inserted in a task of its own while the runner
//! builds the next batch; a failed one is held and sent again (with exactlyOnce, without the
//! rows that landed after all) before anything else goes to its table. Before it is sent again
//! the table is described anew: if its columns changed, the held rows (encoded for the old
//! ones) are dropped and their partitions read again through the task context.

use std::sync::Arc;

use sluice_api::{ConnectError, Offsets, Result, TopicPartition};

use super::Running;
use crate::rows::RowSource;
use crate::service::ClickhouseInsert;
use crate::table::ClickhouseTable;

/// One table's rows of one batch, sent or to be sent.
pub(super) struct TableBatch {
    /// The inserts (one per set of columns the rows carry).
    pub(super) inserts: Vec<ClickhouseInsert>,
    /// Offset after the last record per partition, tombstones included.
    pub(super) offsets: Offsets,
    /// Offset of the first record per partition.
    pub(super) first: Offsets,
}

/// A table's batch that was sent and has not landed yet.
pub(super) struct Sending {
    pub(super) batch: Arc<TableBatch>,
    pub(super) state: SendState,
    /// The table as it was described when the batch was encoded; kept once an insert failed
    /// (see `settle`: rows of a table whose columns changed since cannot be sent as they are).
    pub(super) encoded_for: Option<ClickhouseTable>,
    /// ClickHouse refused the batch's rows (a data error) and the table had not changed:
    /// refused again, the task fails.
    pub(super) refused: bool,
}

pub(super) enum SendState {
    /// The inserts run in the background.
    Running(tokio::task::JoinHandle<Result<()>>),
    /// They failed; sent again before anything else goes to the table.
    Failed,
}

impl Running {
    /// Starts sending `batch` into `table` in the background.
    pub(super) fn send(&mut self, table: String, batch: TableBatch) {
        let batch = Arc::new(batch);
        let ids: Vec<String> = batch.inserts.iter().map(|_| self.landed.next_query_id()).collect();
        let (service, sent, context) = (self.service.clone(), Arc::clone(&batch), self.context.clone());
        let handle = tokio::spawn(async move {
            for (insert, query_id) in sent.inserts.iter().zip(&ids) {
                // The insert may start long after `put` returned (or the process may have
                // stood still in between): the last moment to notice a stall.
                if let Some(context) = &context {
                    context.check_not_stalled()?;
                }
                service.insert(insert, query_id).await?;
            }
            Ok(())
        });
        self.sending
            .insert(table, Sending { batch, state: SendState::Running(handle), encoded_for: None, refused: false });
    }

    /// Waits until `table`'s batch in flight (if any) has landed, sending it again after a
    /// failure. The error of the last attempt when it has not landed.
    pub(super) async fn settle(&mut self, table: &str) -> Result<()> {
        let Some(mut sending) = self.sending.remove(table) else {
            return Ok(());
        };
        let outcome = match sending.state {
            SendState::Running(ref mut handle) => join_result(handle.await),
            SendState::Failed => match self.describe_again(table, &sending).await {
                Ok((described, false)) => self.send_again(table, &sending.batch, &described).await,
                Ok((_, true)) => return self.rewind(table, &sending.batch),
                Err(e) => Err(e),
            },
        };
        self.conclude(table, sending, outcome)
    }

    /// Describes a held batch's table again, keeps the description for the next `put`, and
    /// says whether its columns changed since the batch was encoded (a column removed or added,
    /// a type changed).
    async fn describe_again(&mut self, table: &str, sending: &Sending) -> Result<(ClickhouseTable, bool)> {
        let described = ClickhouseTable::describe(&self.service, &self.config.database, table).await?;
        let changed = sending.encoded_for.as_ref().is_some_and(|encoded| encoded.columns != described.columns);
        self.tables.insert(table.to_owned(), (described.clone(), Default::default()));
        Ok((described, changed))
    }

    /// A held batch whose table's columns changed since it was encoded: its RowBinary names
    /// (or lays out) columns the table no longer has, so sent again it would fail for ever.
    /// It is dropped, and its partitions are read again from its first records (through the
    /// task context) and encoded for the table as it is now. Until those land, nothing past
    /// where they start is reported durable; with exactlyOnce, what landed is still read back
    /// first (the failed insert marked them).
    fn rewind(&mut self, table: &str, batch: &TableBatch) -> Result<()> {
        let Some(context) = &self.context else {
            return Err(ConnectError::fatal(format!(
                "The columns of table {table} changed while rows encoded for the old columns were held; restart the task to read them again."
            )));
        };
        tracing::warn!(
            table,
            partitions = ?batch.first.keys().map(ToString::to_string).collect::<Vec<_>>(),
            "The table's columns changed since the held rows were encoded; reading them again for the new columns."
        );
        let rewound = self.rewound.entry(table.to_owned()).or_default();
        for (tp, &first) in &batch.first {
            context.offset(tp, first);
            self.just_rewound.push(tp.clone());
            let start = rewound.entry(tp.clone()).or_insert(first);
            *start = (*start).min(first);
            if let Some(written) = self.written.get_mut(table) {
                written.remove(tp);
            }
        }
        Ok(())
    }

    /// Settles every batch whose inserts have finished, without waiting for the others.
    /// Whether any landed.
    pub(super) fn settle_finished(&mut self) -> bool {
        let finished: Vec<String> = self
            .sending
            .iter()
            .filter(|(_, s)| matches!(&s.state, SendState::Running(h) if h.is_finished()))
            .map(|(name, _)| name.clone())
            .collect();
        let mut landed = false;
        for name in finished {
            let Some(mut sending) = self.sending.remove(&name) else { continue };
            let joined = match sending.state {
                SendState::Running(ref mut handle) => futures::FutureExt::now_or_never(handle),
                SendState::Failed => None,
            };
            let Some(joined) = joined else {
                self.sending.insert(name, sending); // not over after all
                continue;
            };
            let outcome = join_result(joined);
            landed |= self.conclude(&name, sending, outcome).is_ok();
        }
        landed
    }

    /// Sends every failed batch again. Whether any was (and landed).
    pub(super) async fn settle_failed(&mut self) -> Result<bool> {
        let failed: Vec<String> = self
            .sending
            .iter()
            .filter(|(_, s)| matches!(s.state, SendState::Failed))
            .map(|(table, _)| table.clone())
            .collect();
        for table in &failed {
            self.settle(table).await?;
        }
        Ok(!failed.is_empty())
    }

    /// Settles every table's batch in flight, failed ones sent again.
    pub(super) async fn settle_all(&mut self) -> Result<()> {
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
            Err(e) if !e.is_retriable() && (sending.refused || sending.encoded_for.is_some()) => {
                // Refused again, by a table whose columns are those the rows were encoded for.
                // Its records were handed over by an earlier `put`: they can no longer be
                // dead-lettered one by one. The task stops; they are read again from the last
                // commit when it restarts.
                self.sending.insert(table.to_owned(), Sending { state: SendState::Failed, refused: true, ..sending });
                Err(ConnectError::fatal(format!(
                    "ClickHouse refused a batch for table {table} that was already handed over: {e}"
                )))
            }
            Err(e) if !e.is_retriable() => {
                // Values are checked against the table's columns before they are sent, so a
                // refusal most likely means the columns changed (a type of another width): the
                // table is described again before anything else, and the rows read again for
                // it if so (see `settle`).
                tracing::warn!(table, error = %e, "ClickHouse refused rows; checking whether the table's columns changed.");
                if let Some((encoded_for, _)) = self.tables.remove(table) {
                    sending.encoded_for = Some(encoded_for);
                }
                if self.config.exactly_once {
                    // An earlier insert of the batch may have landed: read back before anything
                    // of these partitions is written again.
                    self.landed.insert_failed(table, &sending.batch.first);
                }
                self.sending.insert(table.to_owned(), Sending { state: SendState::Failed, refused: true, ..sending });
                Err(ConnectError::retriable(format!(
                    "ClickHouse refused rows for table {table}; reading its columns again: {e}"
                )))
            }
            Err(e) => {
                tracing::warn!(table, error = %e, "Insert into ClickHouse failed; it is sent again.");
                // The table may have changed: its columns are read again before the batch is
                // sent again. The batch was encoded for the description held until now (tables
                // are described in `put` only before encoding, after in-flight batches settled).
                if let Some((encoded_for, _)) = self.tables.remove(table) {
                    sending.encoded_for.get_or_insert(encoded_for);
                }
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
    /// landed (the failed attempt's outcome is unknown). `described` is the table now.
    async fn send_again(&mut self, table: &str, batch: &TableBatch, described: &ClickhouseTable) -> Result<()> {
        let mut inserts: Vec<ClickhouseInsert> = batch.inserts.clone();
        if self.config.exactly_once {
            for tp in batch.first.keys() {
                self.landed.look(&self.service, described, tp).await?;
            }
            let landed = &self.landed;
            inserts = inserts
                .iter()
                .filter_map(|insert| {
                    insert.without_rows(|topic, row| {
                        landed.holds(&TopicPartition::new(topic, row.partition), table, row.offset)
                    })
                })
                .collect();
        }
        for insert in &inserts {
            if let Some(context) = &self.context {
                context.check_not_stalled()?;
            }
            let query_id = self.landed.next_query_id();
            self.service.insert(insert, &query_id).await?;
        }
        Ok(())
    }

    /// Partitions taken from this task without their rows landing (lost, or a `close` that
    /// gave up): waits for the inserts in flight, then drops those partitions' rows from every
    /// held batch. Their next owner reads them again from the last commit; sent from here as
    /// well, they would land twice.
    pub(super) async fn drop_partitions(&mut self, partitions: &[TopicPartition]) {
        let running: Vec<String> = self
            .sending
            .iter()
            .filter(|(_, s)| matches!(s.state, SendState::Running(_)))
            .map(|(name, _)| name.clone())
            .collect();
        for name in running {
            let Some(mut sending) = self.sending.remove(&name) else { continue };
            if let SendState::Running(ref mut handle) = sending.state {
                let outcome = join_result(handle.await);
                // A failure keeps the batch held; the rows of the other partitions stay in it.
                let _ = self.conclude(&name, sending, outcome);
            }
        }
        self.forget_held(partitions);
    }

    /// Partitions (re)assigned or given up: their records are read again from the last commit,
    /// so a failed insert still held from before must not send their rows as well. Rows are
    /// told apart by their source (see `ClickhouseRowBatch::push_record`).
    pub(super) fn forget_held(&mut self, partitions: &[TopicPartition]) {
        let of_partitions = |topic: &str, row: &RowSource| {
            partitions.iter().any(|tp| tp.partition == row.partition && *tp.topic == *topic)
        };
        for sending in self.sending.values_mut() {
            let held = &sending.batch;
            if !matches!(sending.state, SendState::Failed) || !partitions.iter().any(|tp| held.first.contains_key(tp)) {
                continue;
            }
            let mut rest = TableBatch {
                inserts: held.inserts.iter().filter_map(|insert| insert.without_rows(of_partitions)).collect(),
                offsets: held.offsets.clone(),
                first: held.first.clone(),
            };
            for tp in partitions {
                rest.offsets.remove(tp);
                rest.first.remove(tp);
            }
            sending.batch = Arc::new(rest);
        }
        self.sending.retain(|_, s| !s.batch.inserts.is_empty() || !matches!(s.state, SendState::Failed));
        for rewound in self.rewound.values_mut() {
            for tp in partitions {
                rewound.remove(tp);
            }
        }
    }

    pub(super) fn mark_written(&mut self, table: &str, offsets: &Offsets) {
        let written = match self.written.get_mut(table) {
            Some(written) => written,
            None => self.written.entry(table.to_owned()).or_default(),
        };
        for (tp, &next) in offsets {
            let entry = written.entry(tp.clone()).or_insert(next);
            *entry = (*entry).max(next);
        }
        // Rows read again after a rewind have landed.
        if let Some(rewound) = self.rewound.get_mut(table) {
            rewound.retain(|tp, start| offsets.get(tp).is_none_or(|&next| next <= *start));
        }
    }

    /// Per partition, the offset below which everything has landed: what was written, never
    /// past a batch still in flight or failed, nor past where a rewind starts reading again,
    /// never past what the runtime settled.
    pub(super) fn durable(&self, consumed: &Offsets) -> Offsets {
        consumed
            .iter()
            .filter_map(|(tp, &next)| {
                let written = self.written.values().filter_map(|w| w.get(tp).copied()).max()?;
                let pending = self.sending.values().filter_map(|s| s.batch.first.get(tp).copied()).min();
                let rewound = self.rewound.values().filter_map(|r| r.get(tp).copied()).min();
                let durable = written.min(next).min(pending.unwrap_or(i64::MAX)).min(rewound.unwrap_or(i64::MAX));
                Some((tp.clone(), durable))
            })
            .collect()
    }
}

/// A background insert's result; a panicked one counts as failed, to be sent again.
fn join_result(joined: std::result::Result<Result<()>, tokio::task::JoinError>) -> Result<()> {
    joined.unwrap_or_else(|e| Err(ConnectError::retriable(format!("An insert into ClickHouse stopped: {e}"))))
}
