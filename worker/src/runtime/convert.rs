//! Turning Kafka messages into `SinkRecord`s.

use std::collections::VecDeque;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use rdkafka::message::{Headers, Message};
use sluice_api::{ConnectError, Converter, Header, SchemaAndValue, SinkRecord, SinkTask};

use super::errors::ErrorConfig;

/// The converters of one task.
pub struct RecordConverter {
    pub key: Arc<dyn Converter>,
    pub value: Arc<dyn Converter>,
    /// `header.converter`: every header value must convert (a failure is a HEADER_CONVERTER
    /// error of the record); the record keeps its headers' original bytes.
    pub header: Arc<dyn Converter>,
    /// Whether values go to the sink as checked JSON text (`SinkRecord::value_json`); set by
    /// [`RecordConverter::hand_json_to`].
    pub json_values: bool,
    /// Whether values go to the sink as datums when the value converter hands them on
    /// (`SinkRecord::value_datum`); set by [`RecordConverter::hand_datums_to`].
    pub datum_values: bool,
}

/// A message copied out of the consumer, so the consumer can keep polling while it is
/// converted and written.
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub timestamp: Option<i64>,
    pub key: Option<Bytes>,
    pub value: Option<Bytes>,
    pub headers: Vec<Header>,
}

impl RawRecord {
    /// Bytes of key and value, what `sluice.batch.max.bytes` counts.
    pub fn payload_len(&self) -> usize {
        self.key.as_ref().map_or(0, Bytes::len) + self.value.as_ref().map_or(0, Bytes::len)
    }
}

/// Copies messages out of the consumer. Records of one topic share the process's one name of
/// it ([`sluice_api::topic_name`]), which the partitions the runtime hands the sink carry too, and
/// payloads are copied into shared blocks of [`MessageCopier::BLOCK`] bytes: one allocation
/// per block instead of one per key and value. A full block is kept (up to
/// [`MessageCopier::RETIRED`] of them) and filled again once every record copied into it is
/// gone; one dropped from that list is freed with its last record.
pub struct MessageCopier {
    /// The topic of the last message: consecutive messages mostly share one, and comparing
    /// the name is cheaper than looking it up.
    last_topic: Option<Arc<str>>,
    block: BytesMut,
    /// Full blocks, oldest first. A new block each time, freed with its last record, showed in
    /// the profile as page faults: the allocator hands such blocks back to the system.
    retired: VecDeque<BytesMut>,
    /// Whether `block` is of the usual size, so it is kept when full.
    block_usual: bool,
    /// The one topic the consumer reads, when it subscribed to a single topic by name: every
    /// message is of it, so its name is not read from each (librdkafka gives it as a C string,
    /// measured and compared per message otherwise).
    only_topic: Option<Arc<str>>,
    /// Whether headers are read. librdkafka parses them on demand, allocating for each message
    /// even when it has none (about 5 % of the worker's CPU in the ClickHouse benchmark), so a
    /// task whose pipeline reads no header skips it (see [`needs_headers`]).
    with_headers: bool,
}

impl Default for MessageCopier {
    fn default() -> Self {
        MessageCopier::new(true)
    }
}

/// Whether anything in a task's pipeline reads record headers: the sink, a transform or
/// predicate, the dead letter queue (it forwards them), the error log with record contents,
/// or a header converter that can reject a header.
pub fn needs_headers(sink_reads: bool, transforms: bool, errors: &ErrorConfig, converter: &RecordConverter) -> bool {
    sink_reads
        || transforms
        || errors.dlq_topic.is_some()
        || (errors.log_enable && errors.log_include_messages)
        || !converter.header.accepts_any_bytes()
}

impl MessageCopier {
    /// Size of a payload block; a larger payload gets a block of its own size.
    pub const BLOCK: usize = 256 * 1024;
    /// Full blocks kept for reuse, at most 2 MiB per task: more than a default batch of the
    /// benchmark's records (10,000 of about 145 bytes) fills.
    pub const RETIRED: usize = 8;

    /// A copier that reads headers only when `with_headers`.
    pub fn new(with_headers: bool) -> Self {
        MessageCopier {
            last_topic: None,
            block: BytesMut::new(),
            retired: VecDeque::new(),
            block_usual: false,
            only_topic: None,
            with_headers,
        }
    }

    /// For a consumer subscribed as `consumer::subscribe` subscribes (`topics`, or
    /// `topics.regex` when set): with a single topic named, and no pattern (librdkafka takes a
    /// name starting with `^` as one), every message is of that topic.
    pub fn subscribed_to(mut self, topics: &[String], regex: Option<&str>) -> Self {
        self.only_topic = match (topics, regex) {
            ([topic], None) if !topic.starts_with('^') => Some(sluice_api::topic_name(topic)),
            _ => None,
        };
        self
    }

    /// Copies a message polled from the consumer queue or lent by its partitions' own queues.
    pub fn copy<M: Message>(&mut self, msg: &M) -> RawRecord {
        // Asked only when wanted: asking is what costs.
        let headers = match self.with_headers.then(|| msg.headers()).flatten() {
            Some(hs) => {
                hs.iter().map(|h| Header { key: h.key.to_owned(), value: h.value.map(|v| self.bytes(v)) }).collect()
            }
            None => Vec::new(),
        };
        let topic = match &self.only_topic {
            Some(topic) => topic.clone(),
            None => self.topic(msg.topic()),
        };
        RawRecord {
            topic,
            partition: msg.partition(),
            offset: msg.offset(),
            timestamp: msg.timestamp().to_millis(),
            key: msg.key().map(|k| self.bytes(k)),
            value: msg.payload().map(|v| self.bytes(v)),
            headers,
        }
    }

    fn topic(&mut self, topic: &str) -> Arc<str> {
        if let Some(last) = self.last_topic.as_ref().filter(|last| ***last == *topic) {
            return last.clone();
        }
        let shared = sluice_api::topic_name(topic);
        self.last_topic = Some(shared.clone());
        shared
    }

    /// `data` copied into the current block (a new one when it does not fit).
    fn bytes(&mut self, data: &[u8]) -> Bytes {
        if self.block.capacity() < data.len() {
            self.next_block(data.len());
        }
        self.block.extend_from_slice(data);
        self.block.split().freeze()
    }

    /// Moves on to a block with room for `len` bytes: the oldest full one whose records are all
    /// gone, else a new one.
    #[cold]
    fn next_block(&mut self, len: usize) {
        let full = std::mem::take(&mut self.block);
        if std::mem::replace(&mut self.block_usual, false) {
            // Not a large payload's own block, nor the empty start.
            self.retired.push_back(full);
        }
        if len <= Self::BLOCK {
            if let Some(mut oldest) = self.retired.pop_front() {
                if oldest.try_reclaim(Self::BLOCK) {
                    self.block = oldest;
                    self.block_usual = true;
                    return;
                }
                if self.retired.len() < Self::RETIRED {
                    self.retired.push_front(oldest);
                }
            }
        }
        self.block_usual = len <= Self::BLOCK;
        self.block = BytesMut::with_capacity(len.max(Self::BLOCK));
    }
}

/// Where in the pipeline a record failed (Kafka Connect's stage names).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    KeyConverter,
    ValueConverter,
    HeaderConverter,
    /// A transform, by its alias in `transforms`.
    Transformation(String),
    /// The sink's `put` reported the record as failed.
    TaskPut,
}

impl Stage {
    pub fn name(&self) -> &'static str {
        match self {
            Stage::KeyConverter => "KEY_CONVERTER",
            Stage::ValueConverter => "VALUE_CONVERTER",
            Stage::HeaderConverter => "HEADER_CONVERTER",
            Stage::Transformation(_) => "TRANSFORMATION",
            Stage::TaskPut => "TASK_PUT",
        }
    }
}

/// A record that could not be converted, with where and why.
#[derive(Debug)]
pub struct RecordFailure {
    pub stage: Stage,
    pub topic: Arc<str>,
    pub partition: i32,
    pub offset: i64,
    pub error: ConnectError,
}

impl std::fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let alias = match &self.stage {
            Stage::Transformation(alias) => format!(" ({alias})"),
            _ => String::new(),
        };
        write!(
            f,
            "Error in stage {}{alias} for record topic={} partition={} offset={}: {}",
            self.stage.name(),
            self.topic,
            self.partition,
            self.offset,
            self.error
        )
    }
}

impl RecordConverter {
    /// Lets converters fetch what they need for this batch (e.g. schemas by id) up front.
    pub async fn prepare(&self, batch: &[RawRecord]) -> Result<(), ConnectError> {
        let mut topics: Vec<&Arc<str>> = batch.iter().map(|r| &r.topic).collect();
        topics.dedup();
        topics.sort();
        topics.dedup();
        for topic in topics {
            let of_topic = || batch.iter().filter(move |r| &r.topic == topic);
            let keys: Vec<Option<&[u8]>> = of_topic().map(|r| r.key.as_deref()).collect();
            self.key.prepare(topic, &keys).await?;
            let values: Vec<Option<&[u8]>> = of_topic().map(|r| r.value.as_deref()).collect();
            self.value.prepare(topic, &values).await?;
            if !self.header.accepts_any_bytes() {
                let headers: Vec<Option<&[u8]>> =
                    of_topic().flat_map(|r| r.headers.iter().map(|h| h.value.as_deref())).collect();
                if !headers.is_empty() {
                    self.header.prepare(topic, &headers).await?;
                }
            }
        }
        Ok(())
    }

    /// Fits what is taken out of each message to the task's pipeline: values go on as JSON
    /// text or datums when nothing needs them decoded ([`Self::hand_json_to`]), and headers are
    /// read only when something reads them ([`needs_headers`]). Returns the copier for the
    /// task's consumer.
    pub fn fit_to(&mut self, sink: &dyn SinkTask, transforms: bool, errors: &ErrorConfig) -> MessageCopier {
        self.hand_json_to(sink.reads_json_values(), transforms);
        self.hand_datums_to(sink.reads_datums(), transforms);
        MessageCopier::new(needs_headers(sink.reads_headers(), transforms, errors, self))
    }

    /// Hands values to the sink as JSON text when nothing between the converter and the sink
    /// needs them decoded: the sink reads JSON values itself, the value converter reads
    /// schemaless JSON, and no transform runs. The text is not even checked here: the sink
    /// reads it once, and names what is not JSON (`ConnectError::Undecodable`); those records
    /// then fail in the VALUE_CONVERTER stage with [`Self::check_value`]'s error, as always.
    pub fn hand_json_to(&mut self, sink_reads_json: bool, transforms: bool) {
        self.json_values = sink_reads_json && !transforms && self.value.reads_schemaless_json();
    }

    /// Hands values to the sink as datums, when the value converter offers them
    /// ([`Converter::undecoded`]), the sink reads them itself, and no transform runs. Like
    /// JSON text, they are not checked here: the sink names those that do not decode.
    pub fn hand_datums_to(&mut self, sink_reads_datums: bool, transforms: bool) {
        self.datum_values = sink_reads_datums && !transforms;
    }

    /// The error the value converter gives `raw`'s value, for a record handed on undecoded
    /// (JSON text, a datum) that the sink found not to decode; `Ok` when the converter takes it
    /// after all.
    pub fn check_value(&self, raw: &RawRecord) -> Result<(), sluice_api::ConnectError> {
        let data = raw.value.as_deref().unwrap_or_default();
        match self.json_values {
            true => self.value.check_json(&raw.topic, data),
            false => self.value.to_connect(&raw.topic, &raw.headers, Some(data)).map(|_| ()),
        }
    }

    /// Converts one record. Borrows the raw record: cloning its payloads to move them would
    /// turn each `Bytes` into a shared, separately allocated one, for every record.
    pub fn convert(&self, raw: &RawRecord) -> Result<SinkRecord, RecordFailure> {
        let fail = |stage, error| RecordFailure {
            stage,
            topic: raw.topic.clone(),
            partition: raw.partition,
            offset: raw.offset,
            error,
        };
        let key = self
            .key
            .to_connect(&raw.topic, &raw.headers, raw.key.as_deref())
            .map_err(|e| fail(Stage::KeyConverter, e))?;
        let datum = match &raw.value {
            // JSON text handed on is not asked for as a datum.
            Some(data) if self.datum_values && !self.json_values => self.value.undecoded(data),
            _ => None,
        };
        let (value, value_json, value_datum) = match raw.value.as_ref() {
            Some(text) if self.json_values => (SchemaAndValue::null(), Some(text.clone()), None),
            _ if datum.is_some() => {
                let schema = datum.as_ref().map(|d| d.reader.schema().clone());
                (SchemaAndValue { schema, value: sluice_api::Value::Null }, None, datum)
            }
            data => {
                let value = self
                    .value
                    .to_connect(&raw.topic, &raw.headers, data.map(|d| &d[..]))
                    .map_err(|e| fail(Stage::ValueConverter, e))?;
                (value, None, None)
            }
        };
        let headers_can_fail = !self.header.accepts_any_bytes();
        for header in raw.headers.iter().filter(|_| headers_can_fail) {
            self.header.to_connect(&raw.topic, &[], header.value.as_deref()).map_err(|e| {
                fail(Stage::HeaderConverter, sluice_api::ConnectError::data(format!("Header {:?}: {e}", header.key)))
            })?;
        }
        Ok(SinkRecord {
            original_topic: raw.topic.clone(),
            original_partition: raw.partition,
            topic: raw.topic.clone(),
            partition: raw.partition,
            offset: raw.offset,
            timestamp: raw.timestamp,
            key_schema: key.schema,
            key: key.value,
            value_schema: value.schema,
            value: value.value,
            value_json,
            value_datum,
            headers: raw.headers.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_only_when_something_in_the_pipeline_reads_them() {
        let errors = |pairs: &[(&str, &str)]| {
            let config: sluice_api::ConnectorConfig = pairs.iter().copied().collect();
            ErrorConfig::parse(&config).unwrap()
        };
        let converter = |header: Arc<dyn Converter>| RecordConverter {
            key: Arc::new(sluice_converters::string::StringConverter),
            value: Arc::new(sluice_converters::string::StringConverter),
            header,
            json_values: false,
            datum_values: false,
        };
        let simple = converter(Arc::new(sluice_converters::header::SimpleHeaderConverter));
        let quiet = errors(&[]);
        assert!(!needs_headers(false, false, &quiet, &simple), "nothing reads them");
        assert!(needs_headers(true, false, &quiet, &simple), "the sink reads them");
        assert!(needs_headers(false, true, &quiet, &simple), "a transform may read them");
        let dlq = errors(&[("errors.tolerance", "all"), ("errors.deadletterqueue.topic.name", "dlq")]);
        assert!(needs_headers(false, false, &dlq, &simple), "dead letters carry the original headers");
        let logged = errors(&[("errors.log.enable", "true"), ("errors.log.include.messages", "true")]);
        assert!(needs_headers(false, false, &logged, &simple), "the error log names them");
        let strict = converter(Arc::new(sluice_converters::string::StringConverter));
        assert!(!strict.header.accepts_any_bytes());
        assert!(needs_headers(false, false, &quiet, &strict), "a header converter that can fail must see them");
    }

    /// A record of topic `t` at offset 7 with `value`.
    fn raw(value: &'static [u8]) -> RawRecord {
        RawRecord {
            topic: "t".into(),
            partition: 0,
            offset: 7,
            timestamp: None,
            key: None,
            value: Some(Bytes::from_static(value)),
            headers: Vec::new(),
        }
    }

    #[test]
    fn values_go_to_the_sink_as_json_text_only_when_nothing_on_the_way_needs_them_decoded() {
        let json =
            |schemas: bool| -> Arc<dyn Converter> { Arc::new(sluice_converters::json::JsonConverter::new(schemas)) };
        let mut converter = RecordConverter {
            key: Arc::new(sluice_converters::string::StringConverter),
            value: json(false),
            header: Arc::new(sluice_converters::header::SimpleHeaderConverter),
            json_values: false,
            datum_values: false,
        };
        converter.hand_json_to(true, false);
        let record = converter.convert(&raw(br#"{"a":1}"#)).unwrap();
        assert_eq!(record.value_json.as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(record.value, sluice_api::Value::Null);
        assert_eq!(record.decoded_value().unwrap().into_owned(), sluice_api::json::parse(br#"{"a":1}"#).unwrap());
        // A malformed value goes on unread (the sink reads it once, and names it); the
        // converter's error for it is at hand.
        let malformed = raw(br#"{"a":"#);
        assert_eq!(converter.convert(&malformed).unwrap().value_json.as_deref(), Some(&br#"{"a":"#[..]));
        let error = converter.check_value(&malformed).unwrap_err();
        assert!(error.to_string().contains("not valid JSON"), "{error}");
        assert!(converter.check_value(&raw(br#"{"a":1}"#)).is_ok());
        // Anything that needs the value decoded turns the lane off.
        for (sink_reads_json, transforms, schemas) in [(false, false, false), (true, true, false), (true, false, true)]
        {
            converter.value = json(schemas);
            converter.hand_json_to(sink_reads_json, transforms);
            let value =
                if schemas { &br#"{"schema":{"type":"string"},"payload":"x"}"#[..] } else { &br#"{"a":1}"#[..] };
            let record =
                converter.convert(&RawRecord { value: Some(Bytes::copy_from_slice(value)), ..raw(b"") }).unwrap();
            assert_eq!(record.value_json, None);
            assert!(!record.value.is_null());
        }
    }

    /// A value converter that hands on payloads starting with `D` as datums; the value of a
    /// payload is its length, and `DX…` does not decode.
    struct DatumsOfD;

    impl sluice_api::DatumReader for DatumsOfD {
        fn schema(&self) -> &sluice_api::SchemaRef {
            static SCHEMA: std::sync::LazyLock<sluice_api::SchemaRef> =
                std::sync::LazyLock::new(|| sluice_api::Schema::new(sluice_api::SchemaType::Int64).into_ref());
            &SCHEMA
        }

        fn decode(&self, data: &[u8]) -> sluice_api::Result<sluice_api::Value> {
            match data.first() {
                Some(b'X') => Err(ConnectError::data("an X")),
                _ => Ok(sluice_api::Value::Int64(data.len() as i64 + 1)),
            }
        }

        fn read_fields<'a>(
            &self,
            _data: &'a [u8],
            _field: &mut dyn FnMut(usize, sluice_api::json::FieldValue<'a>) -> bool,
        ) -> bool {
            false
        }
    }

    #[async_trait::async_trait]
    impl Converter for DatumsOfD {
        fn to_connect(&self, _: &str, _: &[Header], data: Option<&[u8]>) -> sluice_api::Result<SchemaAndValue> {
            use sluice_api::DatumReader;
            let data = data.unwrap_or_default();
            let value = DatumsOfD.decode(data.strip_prefix(b"D").unwrap_or(data))?;
            Ok(SchemaAndValue { schema: Some(DatumsOfD.schema().clone()), value })
        }

        fn undecoded(&self, data: &Bytes) -> Option<sluice_api::Datum> {
            let reader: Arc<dyn sluice_api::DatumReader> = Arc::new(DatumsOfD);
            data.starts_with(b"D").then(|| sluice_api::Datum { reader, data: data.slice(1..) })
        }
    }

    #[test]
    fn values_go_to_the_sink_as_datums_only_when_the_sink_reads_them_and_no_transform_runs() {
        use sluice_api::DatumReader;
        let mut converter = RecordConverter {
            key: Arc::new(sluice_converters::string::StringConverter),
            value: Arc::new(DatumsOfD),
            header: Arc::new(sluice_converters::header::SimpleHeaderConverter),
            json_values: false,
            datum_values: false,
        };
        converter.hand_datums_to(true, false);
        let record = converter.convert(&raw(b"Dabc")).unwrap();
        assert_eq!(record.value_datum.as_ref().map(|d| &d.data[..]), Some(&b"abc"[..]));
        assert_eq!((&record.value, record.value_schema.as_ref()), (&sluice_api::Value::Null, Some(DatumsOfD.schema())));
        assert!(record.has_value());
        assert_eq!(record.decoded_value().unwrap().into_owned(), sluice_api::Value::Int64(4));
        // One that does not decode goes on too; the converter's error for it is at hand.
        let bad = raw(b"DXabc");
        assert!(converter.convert(&bad).unwrap().value_datum.is_some());
        assert_eq!(converter.check_value(&bad).unwrap_err().to_string(), "an X");
        // What the converter does not offer is decoded as ever.
        let other = converter.convert(&raw(b"abc")).unwrap();
        assert_eq!((other.value_datum, other.value), (None, sluice_api::Value::Int64(4)));
        // A sink that does not read datums, or a transform on the way, turns the lane off.
        for (sink_reads_datums, transforms) in [(false, false), (true, true)] {
            converter.hand_datums_to(sink_reads_datums, transforms);
            let record = converter.convert(&raw(b"Dabc")).unwrap();
            assert_eq!((record.value_datum, record.value), (None, sluice_api::Value::Int64(4)));
        }
    }

    #[test]
    fn messages_are_named_by_the_subscription_only_when_it_is_one_topic() {
        let only = |topics: &[&str], regex: Option<&str>| {
            let topics: Vec<String> = topics.iter().map(|t| t.to_string()).collect();
            MessageCopier::default().subscribed_to(&topics, regex).only_topic
        };
        let events = only(&["events"], None).expect("one topic by name");
        assert!(Arc::ptr_eq(&events, &sluice_api::topic_name("events")), "the process's one name");
        // Several topics, a pattern, or a name librdkafka takes as a pattern: read from each.
        assert_eq!(only(&["events", "orders"], None), None);
        assert_eq!(only(&[], Some("ev.*")), None);
        assert_eq!(only(&["events"], Some("ev.*")), None);
        assert_eq!(only(&["^ev.*"], None), None);
        assert_eq!(only(&[], None), None);
    }

    #[test]
    fn payloads_are_copied_into_shared_blocks() {
        let mut copier = MessageCopier::default();
        let first = copier.bytes(b"first");
        let second = copier.bytes(b"second");
        assert_eq!((&first[..], &second[..]), (&b"first"[..], &b"second"[..]));
        // One block: the second payload follows the first.
        assert_eq!(second.as_ptr(), first.as_ptr().wrapping_add(5));
        // A payload larger than a block gets one of its own; the next starts a new block.
        let large = vec![7u8; MessageCopier::BLOCK + 1];
        let copied = copier.bytes(&large);
        assert_eq!(&copied[..], &large[..]);
        let after = copier.bytes(b"after");
        assert_eq!(&after[..], b"after");
        assert_ne!(after.as_ptr(), copied.as_ptr().wrapping_add(large.len()));
        // Dropping the other records of a block leaves each record's bytes intact.
        drop((first, copied));
        assert_eq!(&second[..], b"second");
    }

    #[test]
    fn a_full_block_is_filled_again_once_its_records_are_gone() {
        let mut copier = MessageCopier::default();
        // Four of these fill a block.
        let payload = |byte: u8| vec![byte; MessageCopier::BLOCK / 4];
        let mut fill = |byte: u8| (0..4).map(|_| copier.bytes(&payload(byte))).collect::<Vec<Bytes>>();
        let start = |records: &[Bytes]| records[0].as_ptr() as usize;
        let a = fill(1);
        let b = fill(2);
        assert_ne!(start(&b), start(&a), "a block still in use is not filled again");
        let a_block = start(&a);
        drop(a);
        let c = fill(3);
        assert_eq!(start(&c), a_block, "the first block's records are gone: it is filled again");
        let d = fill(4);
        assert!(![a_block, start(&b)].contains(&start(&d)), "both kept blocks are in use: a new one");
        for (records, byte) in [(&b, 2), (&c, 3), (&d, 4)] {
            assert!(records.iter().all(|r| r[..] == payload(byte)[..]), "records keep their bytes");
        }
    }

    #[test]
    fn records_of_one_topic_share_its_name_whichever_came_last() {
        let mut copier = MessageCopier::default();
        let (a1, b1, a2, b2) = (copier.topic("a"), copier.topic("b"), copier.topic("a"), copier.topic("b"));
        assert_eq!((&*a1, &*b1), ("a", "b"));
        assert!(Arc::ptr_eq(&a1, &a2) && Arc::ptr_eq(&b1, &b2));
        assert!(Arc::ptr_eq(&copier.topic("b"), &b1), "the last topic again");
        assert_eq!(&*copier.topic("ab"), "ab");
    }
}
