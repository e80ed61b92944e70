//! Records handed to sink tasks, and offset bookkeeping.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;

use crate::schema::SchemaRef;
use crate::value::Value;

/// A Kafka header: key and raw value bytes, as they came off the wire.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    pub key: String,
    pub value: Option<Bytes>,
}

/// What a converter produces: an optional schema and a value (`Value::Null` for a tombstone).
#[derive(Debug, Clone, PartialEq)]
pub struct SchemaAndValue {
    pub schema: Option<SchemaRef>,
    pub value: Value,
}

impl SchemaAndValue {
    pub fn null() -> Self {
        SchemaAndValue { schema: None, value: Value::Null }
    }
}

/// One Kafka record after conversion, as a sink task sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkRecord {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    /// Record timestamp in milliseconds since the epoch, when the broker or producer set one.
    pub timestamp: Option<i64>,
    pub key_schema: Option<SchemaRef>,
    pub key: Value,
    pub value_schema: Option<SchemaRef>,
    pub value: Value,
    /// The value as plain JSON text, not decoded, with `value` left `Null`: set only for a
    /// task whose sink takes JSON values as text ([`crate::SinkTask::reads_json_values`]), when
    /// the value converter reads schemaless JSON and no transform runs. The text is not
    /// checked: [`SinkRecord::decoded_value`] gives what `value` would have been, or the error
    /// when it is not JSON (see `SinkTask::reads_json_values` for what `put` does then).
    pub value_json: Option<Bytes>,
    /// The value as the datum of a schema the value converter knows, not decoded, with
    /// `value` left `Null` and `value_schema` set: set only for a task whose sink reads such
    /// values ([`crate::SinkTask::reads_datums`]), when the value converter hands them on
    /// ([`crate::Converter::undecoded`]) and no transform runs. Like `value_json`, it is not
    /// checked: [`SinkRecord::decoded_value`] gives the value or the converter's error.
    pub value_datum: Option<Datum>,
    pub headers: Vec<Header>,
    /// The topic and partition the record was consumed from, whatever a transform (e.g.
    /// RegexRouter) made of `topic` and `partition` since: Kafka Connect's `originalTopic()` /
    /// `originalKafkaPartition()`. Offsets are committed against these, so a sink reports what
    /// it made durable with [`SinkRecord::original_topic_partition`].
    pub original_topic: Arc<str>,
    pub original_partition: i32,
}

impl SinkRecord {
    /// A record read from `topic`-`partition` at `offset` that carries only a value: no key,
    /// timestamp or headers, and not routed by any transform.
    pub fn with_value(topic: &str, partition: i32, offset: i64, value: Value) -> SinkRecord {
        let topic: Arc<str> = topic.into();
        SinkRecord {
            topic: topic.clone(),
            partition,
            offset,
            timestamp: None,
            key_schema: None,
            key: Value::Null,
            value_schema: None,
            value,
            value_json: None,
            value_datum: None,
            headers: Vec::new(),
            original_topic: topic,
            original_partition: partition,
        }
    }

    /// Whether the record has a value (is not a tombstone), decoded, as JSON text or a datum.
    pub fn has_value(&self) -> bool {
        self.value_json.is_some() || self.value_datum.is_some() || !self.value.is_null()
    }

    /// The value: `value`, or `value_json` decoded as the JSON converter decodes it, or
    /// `value_datum` decoded by its converter.
    pub fn decoded_value(&self) -> Result<std::borrow::Cow<'_, Value>, crate::ConnectError> {
        if let Some(datum) = &self.value_datum {
            return datum.decode().map(std::borrow::Cow::Owned);
        }
        match &self.value_json {
            None => Ok(std::borrow::Cow::Borrowed(&self.value)),
            Some(text) => crate::json::parse(text).map(std::borrow::Cow::Owned).map_err(|e| {
                crate::ConnectError::data(format!("Record from topic {} is not valid JSON: {e}", self.original_topic))
            }),
        }
    }

    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition { topic: self.topic.clone(), partition: self.partition }
    }

    /// Where the record was consumed from: the key of the offsets a sink reports as durable.
    pub fn original_topic_partition(&self) -> TopicPartition {
        TopicPartition { topic: self.original_topic.clone(), partition: self.original_partition }
    }
}

/// A record value handed to the sink undecoded ([`SinkRecord::value_datum`]): its bytes and
/// the reader of the schema they were written with.
#[derive(Clone)]
pub struct Datum {
    pub reader: Arc<dyn DatumReader>,
    /// The datum, without the converter's framing (e.g. the registry's 5-byte header).
    pub data: Bytes,
}

impl Datum {
    /// The value the converter makes of it, or the converter's error.
    pub fn decode(&self) -> Result<Value, crate::ConnectError> {
        self.reader.decode(&self.data)
    }
}

impl std::fmt::Debug for Datum {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Datum").field("schema", &self.reader.schema().name).field("data", &self.data).finish()
    }
}

impl PartialEq for Datum {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.reader, &other.reader) && self.data == other.data
    }
}

/// Reads the datums of one schema (one registered schema id, say): what a converter hands
/// with a value it does not decode ([`crate::Converter::undecoded`]).
pub trait DatumReader: Send + Sync {
    /// The Connect schema of every datum this reads (a struct).
    fn schema(&self) -> &SchemaRef;

    /// The value the converter makes of `data`, or the converter's error.
    fn decode(&self, data: &[u8]) -> Result<Value, crate::ConnectError>;

    /// Reads `data`'s top-level fields in the order of [`Self::schema`]'s fields, calling
    /// `field(k, value)` for the `k`-th with what [`Self::decode`] would put there (so a sink
    /// can write columns without building the record's value); stops when `field` says
    /// `false`. `false` when not every field was read so: the caller decodes the datum
    /// instead, which decides, value or error.
    fn read_fields<'a>(
        &self,
        data: &'a [u8],
        field: &mut dyn FnMut(usize, crate::json::FieldValue<'a>) -> bool,
    ) -> bool;
}

/// A topic partition. Ordered by topic name, then partition.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TopicPartition {
    pub topic: Arc<str>,
    pub partition: i32,
}

impl Ord for TopicPartition {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        // Records of a topic share one name (the consumer's copier hands the same `Arc` on),
        // so maps keyed by partition mostly compare a pointer, not the name's bytes (a
        // `memcmp` call for each of several lookups per record showed in the Parquet profile).
        let topics = match Arc::ptr_eq(&self.topic, &other.topic) {
            true => std::cmp::Ordering::Equal,
            false => self.topic.cmp(&other.topic),
        };
        topics.then(self.partition.cmp(&other.partition))
    }
}

impl PartialOrd for TopicPartition {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl TopicPartition {
    pub fn new(topic: impl Into<Arc<str>>, partition: i32) -> Self {
        TopicPartition { topic: topic.into(), partition }
    }

    /// A partition of `topic` named by the process's one [`topic_name`]: what the runtime hands
    /// sinks (`open`, `close`, offsets), so their maps find a record's partition by comparing
    /// pointers.
    pub fn shared(topic: &str, partition: i32) -> Self {
        TopicPartition { topic: topic_name(topic), partition }
    }
}

/// The process's one `Arc` of the topic name `name`. The runtime names records and partitions
/// with it, so comparing them compares a pointer first ([`TopicPartition`]'s order, `Arc`'s
/// equality) instead of the name's bytes. Names are kept for the life of the process: a
/// worker reads a bounded set of topics.
pub fn topic_name(name: &str) -> Arc<str> {
    static NAMES: std::sync::Mutex<std::collections::BTreeSet<Arc<str>>> =
        std::sync::Mutex::new(std::collections::BTreeSet::new());
    let mut names = NAMES.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(shared) = names.get(name) {
        return shared.clone();
    }
    let shared: Arc<str> = Arc::from(name);
    names.insert(shared.clone());
    shared
}

impl std::fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

/// Offsets per partition, in Kafka's commit convention: the offset of the *next* record to
/// read (last processed offset + 1).
pub type Offsets = BTreeMap<TopicPartition, i64>;

#[cfg(test)]
mod tests {
    use super::*;

    /// Partitions order by topic name, then partition, whether or not two share the name's
    /// `Arc` (the fast path compares pointers).
    #[test]
    fn topic_partitions_order_by_name_then_partition() {
        let shared: Arc<str> = "orders".into();
        let names = ["a", "orders", "orders2", "b"];
        let mut all = Vec::new();
        for name in names {
            for partition in [2, 0, 1] {
                let topic = if name == "orders" && partition != 1 { shared.clone() } else { Arc::from(name) };
                all.push(TopicPartition { topic, partition });
            }
        }
        for a in &all {
            for b in &all {
                let expected = (&*a.topic, a.partition).cmp(&(&*b.topic, b.partition));
                assert_eq!(a.cmp(b), expected, "{a} vs {b}");
                assert_eq!(a.partial_cmp(b), Some(expected));
                assert_eq!(a == b, expected.is_eq(), "{a} vs {b}");
            }
        }
        // Names made by the runtime are one `Arc` per name.
        let (a, b) = (TopicPartition::shared("orders", 0), TopicPartition::shared("orders", 1));
        assert!(Arc::ptr_eq(&a.topic, &b.topic) && Arc::ptr_eq(&a.topic, &topic_name("orders")));
        assert!(!Arc::ptr_eq(&a.topic, &topic_name("orders2")));
        assert_eq!(&*topic_name("orders2"), "orders2");
        let mut sorted = all.clone();
        sorted.sort();
        let shown: Vec<String> = sorted.iter().map(ToString::to_string).collect();
        assert_eq!(shown[..4], ["a-0", "a-1", "a-2", "b-0"]);
        assert_eq!(shown[6..9], ["orders-0", "orders-1", "orders-2"]);
    }
}
