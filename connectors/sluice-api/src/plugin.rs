//! The plugin traits. A sink author implements `SinkConnector` and `SinkTask`; this file is
//! all they need to read.
//!
//! The contract mirrors Kafka Connect's: the runtime polls Kafka, converts and transforms
//! records, hands them to [`SinkTask::put`] in batches, and asks [`SinkTask::flush`] which
//! offsets are durable, after every batch and on every commit interval (even when no record
//! arrived, so a sink can publish what time-based rotation closed). Only what `flush` returns
//! is committed, so a sink that buffers simply returns less.
//!
//! The life of a task: `initialize(context)` → `start(config)` → for each assignment
//! `open(partitions)` → `put`/`flush` … → for each revocation `flush` → `close(partitions)` →
//! `flush` → commit of the revoked partitions → … → final `flush`, `close` of every partition,
//! `flush` and commit → `stop`. `open` and `close` run while the consumer group rebalances, so
//! the offsets of revoked partitions are committed only after the sink has closed them.

use async_trait::async_trait;
use bytes::Bytes;

use crate::config::{ConfigDef, ConnectorConfig};
use crate::error::{ConnectError, Result};
use crate::record::{Header, Offsets, SchemaAndValue, SinkRecord, TopicPartition};

/// A sink connector: validates configuration and describes its tasks. Connectors hold no
/// per-instance state; the worker keeps one per plugin.
pub trait SinkConnector: Send + Sync {
    /// The keys this connector accepts, for validation and `GET /connector-plugins/{p}/config`.
    fn config_def(&self) -> ConfigDef;

    /// Checks a configuration before it is accepted. The default checks `config_def`.
    fn validate(&self, config: &ConnectorConfig) -> Result<()> {
        self.config_def().validate(config)
    }

    /// Configurations for at most `max_tasks` tasks. The default gives every task the
    /// connector's config: Kafka's consumer group spreads partitions over them.
    fn task_configs(&self, config: &ConnectorConfig, max_tasks: usize) -> Vec<ConnectorConfig> {
        vec![config.clone(); max_tasks.max(1)]
    }

    /// A new, unstarted task.
    fn create_task(&self) -> Box<dyn SinkTask>;
}

/// What a sink task may ask of the runtime (Kafka Connect's `SinkTaskContext`), handed to the
/// task once by [`SinkTask::initialize`].
pub trait SinkTaskContext: Send + Sync {
    /// Read `partition` from `offset` next. Called from [`SinkTask::open`], it sets where a
    /// newly assigned partition starts (a sink that keeps its own record of what it wrote
    /// resumes there, for exactly-once delivery); called later, the runtime seeks before the
    /// next batch and drops the records of that partition it holds.
    fn offset(&self, partition: &TopicPartition, offset: i64);

    /// Asks for an offset commit as soon as the current batch is done, instead of at the
    /// next commit interval.
    fn request_commit(&self);

    /// Stops handing records of these partitions to the task until [`Self::resume`].
    fn pause(&self, partitions: &[TopicPartition]);

    /// Hands records of these partitions again.
    fn resume(&self, partitions: &[TopicPartition]);

    /// The partitions assigned to this task now.
    fn assignment(&self) -> Vec<TopicPartition>;

    /// The group's committed offset of each of `partitions`, as Kafka answered when they were
    /// assigned: where each is read from unless the task says otherwise. A partition with no
    /// commit is absent (it is read from `auto.offset.reset`). Meant for `open`: a sink that
    /// finds in its own storage what it wrote after the last commit uses it as the lower bound
    /// of what it must look at. Fetched only for a task that asks: the first call inside
    /// `open` fails (retriably) and the runtime fetches the offsets and calls `open` again, so
    /// call it before changing any state in `open`. Fails (retriably) when Kafka could not be
    /// asked.
    fn committed(&self, partitions: &[TopicPartition]) -> Result<Offsets>;

    /// Whether the worker process stood still (SIGSTOP, a VM pause) since the runtime last
    /// confirmed with Kafka that this task still owns its partitions: the group may have given
    /// them to another task meanwhile. A sink asks right before anything it cannot take back
    /// (an insert, a file publication), through [`Self::check_not_stalled`]. A runtime that
    /// does not watch for stalls answers never.
    fn stalled(&self) -> bool {
        false
    }

    /// A retriable error when [`Self::stalled`]: the sink returns it instead of writing, the
    /// runtime confirms the partitions (or learns they moved and drops them) and hands the
    /// records again.
    fn check_not_stalled(&self) -> Result<()> {
        if self.stalled() {
            return Err(ConnectError::retriable(
                "The worker process stood still; not writing until Kafka confirms this task still owns its partitions",
            ));
        }
        Ok(())
    }
}

/// A running share of a sink connector's work.
#[async_trait]
pub trait SinkTask: Send {
    /// Called once, before `start`, with what the task may ask of the runtime.
    fn initialize(&mut self, _context: std::sync::Arc<dyn SinkTaskContext>) {}

    /// Called once with the task's config before anything else.
    async fn start(&mut self, config: &ConnectorConfig) -> Result<()>;

    /// Partitions newly assigned to this task, before any of their records is put. The task
    /// may call [`SinkTaskContext::offset`] here to say where each must be read from. A
    /// retriable error is retried for a while; any other error fails the task.
    async fn open(&mut self, _partitions: &[TopicPartition]) -> Result<()> {
        Ok(())
    }

    /// A batch of records, in offset order within each partition. A `Retriable` error makes
    /// the runtime hand the same batch again later (with backoff), as Kafka Connect does.
    /// When only some records cannot be written, write the others and return
    /// `ConnectError::Records` naming the failed ones by index; the runtime sends them to the
    /// dead letter queue (or fails the task, with `errors.tolerance=none`). Their offsets count
    /// as handled, so `flush` may report past them.
    async fn put(&mut self, records: &[SinkRecord]) -> Result<()>;

    /// Returns the offsets that are durable and safe to commit (Kafka Connect's `preCommit`).
    /// `consumed` holds, per partition, the offset after the last record whose handling is
    /// settled (handed to `put`, dead-lettered or dropped by a transform). A sink that writes
    /// synchronously in `put` returns `consumed`; a sink that buffers returns the offsets of
    /// what it has made durable, and may use the call to publish what is due by wall-clock
    /// time. Called after every batch and on every commit interval, so it should be cheap.
    async fn flush(&mut self, consumed: &Offsets) -> Result<Offsets>;

    /// Partitions taken away from this task (a rebalance, or the task stopping). The sink
    /// publishes or abandons what it holds for them; the `flush` that follows may report
    /// offsets for them one last time, and those are committed before the partitions move.
    async fn close(&mut self, _partitions: &[TopicPartition]) -> Result<()> {
        Ok(())
    }

    /// Partitions the group gave to another task while this one could not answer (it missed
    /// its session, e.g. the process was frozen). Their new owner may already be writing them,
    /// so nothing may be published for them any more: drop what is held. Nothing is committed
    /// for them. The default calls `close`, right for a sink whose `close` drops what it holds.
    async fn lost(&mut self, partitions: &[TopicPartition]) -> Result<()> {
        self.close(partitions).await
    }

    /// The task is being shut down.
    async fn stop(&mut self) {}

    /// Whether the task reads [`SinkRecord::headers`]. A sink that never does says `false`: when
    /// nothing else needs them either (no transform, no dead letter queue, no logging of failed
    /// records' contents, a header converter that accepts any bytes), the runtime does not read
    /// the headers out of the Kafka messages at all, and records carry none.
    fn reads_headers(&self) -> bool {
        true
    }

    /// Whether the task takes schemaless JSON values as text ([`SinkRecord::value_json`])
    /// instead of decoded. When it does, the value converter reads plain JSON
    /// ([`Converter::reads_schemaless_json`]) and no transform runs, the runtime hands the
    /// text on unread: a sink that writes columns straight from the text skips building and
    /// dropping a value per record, and reading the text twice.
    ///
    /// Such a task checks the text as it reads it. When some records' text is not valid
    /// JSON (as [`crate::json::parse`] says), `put` writes nothing of the batch and returns
    /// [`crate::ConnectError::Undecodable`] naming them: the runtime fails them in the
    /// VALUE_CONVERTER stage, as the converter would have, and puts the rest again.
    fn reads_json_values(&self) -> bool {
        false
    }

    /// Whether the task takes values as datums ([`SinkRecord::value_datum`]) instead of
    /// decoded: when the value converter hands them on ([`Converter::undecoded`], Avro with a
    /// registry) and no transform runs, the runtime does not decode them; the sink reads the
    /// fields it writes with the datum's reader, or decodes the datum.
    ///
    /// As with [`Self::reads_json_values`], a datum that does not decode fails the whole
    /// `put` with [`crate::ConnectError::Undecodable`] naming those records.
    fn reads_datums(&self) -> bool {
        false
    }
}

/// Turns the bytes of a Kafka key, value or header into a Connect value.
///
/// Decoding is synchronous so the hot path has no per-record async hop. A converter that needs
/// remote lookups (a schema registry) does them in [`Converter::prepare`], once per batch.
#[async_trait]
pub trait Converter: Send + Sync {
    /// Called with every payload of a batch before any `to_connect` call.
    async fn prepare(&self, _topic: &str, _payloads: &[Option<&[u8]>]) -> Result<()> {
        Ok(())
    }

    /// Decodes one payload. `None` is a null (tombstone).
    fn to_connect(&self, topic: &str, headers: &[Header], data: Option<&[u8]>) -> Result<SchemaAndValue>;

    /// Whether `to_connect` accepts any bytes (ByteArrayConverter, SimpleHeaderConverter). The
    /// runtime skips converting headers with a converter that accepts everything: nothing reads
    /// the typed values yet, and no record can fail there.
    fn accepts_any_bytes(&self) -> bool {
        false
    }

    /// Whether `to_connect` reads plain JSON into a schemaless value as [`crate::json::parse`]
    /// does (`JsonConverter` with `schemas.enable=false`), so a sink that reads JSON values
    /// itself may get the text instead ([`SinkTask::reads_json_values`]).
    fn reads_schemaless_json(&self) -> bool {
        false
    }

    /// `data` as a datum with its reader, not decoded, for a sink that [`SinkTask::reads_datums`];
    /// `None` to have it decoded by `to_connect` as usual (the default, and for any value
    /// this converter does not hand on so). Called after [`Converter::prepare`].
    fn undecoded(&self, _data: &Bytes) -> Option<crate::record::Datum> {
        None
    }

    /// Fails exactly where `to_connect(topic, .., Some(data))` fails, without keeping the value.
    /// A converter that [`Self::reads_schemaless_json`] does it without building the value.
    fn check_json(&self, topic: &str, data: &[u8]) -> Result<()> {
        self.to_connect(topic, &[], Some(data)).map(|_| ())
    }
}

/// A single message transform: reshapes a record, or drops it by returning `None`.
pub trait Transform: Send + Sync {
    fn apply(&self, record: SinkRecord) -> Result<Option<SinkRecord>>;
}

/// A condition on a record (Kafka Connect's `Predicate`). A transform configured with
/// `transforms.<a>.predicate=<p>` applies only to records for which `test` is true (or false,
/// with `transforms.<a>.negate=true`); other records pass through unchanged.
pub trait Predicate: Send + Sync {
    fn test(&self, record: &SinkRecord) -> bool;
}
