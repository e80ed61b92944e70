//! Unit tests of the sink task: routing, encoding, held inserts.

use super::sending::SendState;
use super::*;
use crate::rows::RowSource;
use sluice_api::Value;

fn record(topic: &str, partition: i32, offset: i64, value: Value) -> SinkRecord {
    SinkRecord::with_value(topic, partition, offset, value)
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
fn runs_of_partitions_route_as_record_by_record() {
    // Records come in runs of one partition, a partition may come back in a later run, and a
    // run may start below what its table already holds.
    let v = || Value::Map(vec![("a".into(), "x".into())]);
    let records = vec![
        record("views", 0, 10, v()),
        record("views", 0, 11, v()),
        record("views", 1, 3, v()),
        record("views", 1, 4, v()),
        record("views", 1, 5, Value::Null),
        record("views", 0, 12, v()),
        record("clicks", 0, 7, v()),
        record("views", 0, 13, Value::Null),
    ];
    let written = HashMap::from([("views".to_owned(), Offsets::from([(TopicPartition::new("views", 1), 4)]))]);
    let plans = route(&config(), &written, &records);
    let views = &plans["views"];
    assert_eq!(views.indices, [0, 1, 3, 5]);
    assert_eq!(
        views.records.iter().map(|r| (r.partition, r.offset)).collect::<Vec<_>>(),
        [(0, 10), (0, 11), (1, 4), (0, 12)]
    );
    assert_eq!(
        views.offsets,
        Offsets::from([(TopicPartition::new("views", 0), 14), (TopicPartition::new("views", 1), 6)])
    );
    assert_eq!(
        views.first,
        Offsets::from([(TopicPartition::new("views", 0), 10), (TopicPartition::new("views", 1), 4)])
    );
    assert_eq!(plans["click_events"].indices, [6]);
    let skipped = route_except(&config(), &written, &records, &[TopicPartition::new("views", 0)]);
    assert_eq!(skipped["views"].indices, [3]);
    assert!(!skipped["views"].offsets.contains_key(&TopicPartition::new("views", 0)));
}

#[test]
fn a_routed_record_goes_to_its_new_table_and_its_offset_to_where_it_was_read() {
    // As after RegexRouter: the topic names the table, the offset belongs to the source.
    let mut routed = record("shaped_views", 0, 41, Value::Map(vec![("a".into(), "x".into())]));
    routed.original_topic = "views".into();
    let written = HashMap::from([("shaped_views".to_owned(), Offsets::from([(TopicPartition::new("views", 0), 42)]))]);
    assert!(route(&config(), &written, std::slice::from_ref(&routed)).is_empty(), "already written");
    let elsewhere = HashMap::from([("views".to_owned(), Offsets::from([(TopicPartition::new("views", 0), 42)]))]);
    assert_eq!(route(&config(), &elsewhere, std::slice::from_ref(&routed)).len(), 1, "written to another table only");
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
    let EncodeOutcome { inserts, failures, .. } = encode(&table, &refs);
    assert_eq!(inserts.iter().map(|i| i.rows).sum::<usize>(), 2);
    assert_eq!(failures.len(), 1);
    assert_eq!(failures[0].index, 1);
    assert!(matches!(failures[0].error, ConnectError::Data { .. }));
    assert!(failures[0].error.to_string().contains("t-0@1"), "{}", failures[0].error);
}

fn idle_running(exactly_once: bool) -> Running {
    let mut config = config();
    config.exactly_once = exactly_once;
    Running {
        service: ClickhouseService::new(&config),
        config,
        version: ServerVersion::parse("18.16.1").unwrap(),
        tables: HashMap::new(),
        written: HashMap::new(),
        landed: LandedOffsets::new("c", 1),
        sending: HashMap::new(),
        rewound: HashMap::new(),
        just_rewound: Vec::new(),
        rewound_unwritten: Vec::new(),
        context: None,
    }
}

/// A task context whose process stood still and was not confirmed since.
struct Stalled;

impl SinkTaskContext for Stalled {
    fn offset(&self, _: &TopicPartition, _: i64) {}
    fn request_commit(&self) {}
    fn pause(&self, _: &[TopicPartition]) {}
    fn resume(&self, _: &[TopicPartition]) {}
    fn assignment(&self) -> Vec<TopicPartition> {
        Vec::new()
    }
    fn committed(&self, _: &[TopicPartition]) -> Result<Offsets> {
        Ok(Offsets::new())
    }
    fn stalled(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn after_the_process_stood_still_an_insert_is_not_sent_and_is_held_as_failed() {
    // The service points at host "h": if the insert were sent, the error would be a connection
    // failure, not the stall.
    let mut run = Running { context: Some(Arc::new(Stalled)), ..idle_running(true) };
    let insert = ClickhouseInsert {
        table: "`default`.`t`".into(),
        sql: "INSERT".into(),
        data: bytes::Bytes::from_static(b"aa"),
        rows: 1,
        topics: vec!["t".into()],
        sources: vec![RowSource { topic: 0, partition: 0, offset: 10, end: 2 }],
    };
    let tp = TopicPartition::new("t", 0);
    let batch = TableBatch {
        inserts: vec![insert],
        offsets: Offsets::from([(tp.clone(), 11)]),
        first: Offsets::from([(tp, 10)]),
    };
    run.send("t".into(), batch);
    let error = run.settle("t").await.expect_err("nothing may be sent after a stall");
    assert!(error.is_retriable(), "{error}");
    assert!(error.to_string().contains("stood still"), "{error}");
    assert!(matches!(run.sending["t"].state, SendState::Failed), "the batch is held to be sent again");
}

#[test]
fn a_held_failed_insert_drops_the_rows_of_partitions_assigned_again_and_holds_back_commits() {
    let mut run = idle_running(true);
    let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
    let source = |partition: i32, offset: i64, end: usize| RowSource { topic: 0, partition, offset, end };
    let insert = ClickhouseInsert {
        table: "`default`.`t`".into(),
        sql: "INSERT".into(),
        data: bytes::Bytes::from_static(b"aabb"),
        rows: 2,
        topics: vec!["t".into()],
        sources: vec![source(0, 10, 2), source(1, 20, 4)],
    };
    let batch = TableBatch {
        inserts: vec![insert],
        offsets: Offsets::from([(a.clone(), 11), (b.clone(), 21)]),
        first: Offsets::from([(a.clone(), 10), (b.clone(), 20)]),
    };
    run.sending.insert(
        "t".into(),
        Sending { batch: Arc::new(batch), state: SendState::Failed, encoded_for: None, refused: false },
    );
    run.written.insert("t".into(), Offsets::from([(a.clone(), 10), (b.clone(), 20)]));
    let consumed = Offsets::from([(a.clone(), 11), (b.clone(), 21)]);
    assert_eq!(
        run.durable(&consumed),
        Offsets::from([(a.clone(), 10), (b.clone(), 20)]),
        "nothing past the held insert"
    );

    run.forget_held(std::slice::from_ref(&a));
    let held = &run.sending["t"].batch;
    assert_eq!(&held.inserts[0].data[..], b"bb");
    assert_eq!(held.first, Offsets::from([(b.clone(), 20)]));
    run.forget_held(std::slice::from_ref(&b));
    assert!(run.sending.is_empty(), "nothing left to send");
}

#[tokio::test]
async fn at_least_once_a_lost_partition_s_rows_are_never_sent_by_the_old_owner() {
    // At least once too, a held insert keeps each row's source: when the task gives a partition
    // up (lost, or its close failed), the rows of that partition leave the held batch, even
    // the one still in flight, while the other partition's rows stay to be sent.
    let table = ClickhouseTable::from_columns(
        "default",
        "t",
        [("user_id", "String")].map(|(c, t)| (c.to_owned(), t.to_owned(), String::new())),
    );
    let row = |u: &str| Value::Map(vec![("user_id".into(), u.into())]);
    let records = [record("t", 0, 10, row("a0")), record("t", 1, 20, row("b0")), record("t", 0, 11, row("a1"))];
    let refs: Vec<&SinkRecord> = records.iter().collect();
    let EncodeOutcome { inserts, .. } = encode(&table, &refs);
    assert_eq!(inserts[0].sources.len(), 3, "every row's source is kept without exactlyOnce");

    let (a, b) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
    let mut config = config();
    config.hostnames = vec!["127.0.0.1".into()];
    config.port = 1; // nothing listens: the insert in flight fails at once
    let mut run = Running { service: ClickhouseService::new(&config), config, ..idle_running(false) };
    run.written.insert("t".into(), Offsets::from([(a.clone(), 10), (b.clone(), 20)]));
    let batch = TableBatch {
        inserts,
        offsets: Offsets::from([(a.clone(), 12), (b.clone(), 21)]),
        first: Offsets::from([(a.clone(), 10), (b.clone(), 20)]),
    };
    run.send("t".into(), batch);
    let mut task = ClickhouseSinkTask::new();
    task.state = Some(run);

    task.lost(std::slice::from_ref(&a)).await.unwrap();
    let run = task.state.as_ref().unwrap();
    let held = &run.sending["t"];
    assert!(matches!(held.state, SendState::Failed), "the failed insert is held for the partition still owned");
    let kept: Vec<(i32, i64)> =
        held.batch.inserts.iter().flat_map(|i| &i.sources).map(|s| (s.partition, s.offset)).collect();
    assert_eq!(kept, [(1, 20)], "partition 0's rows are gone from the held insert");
    assert_eq!(held.batch.first, Offsets::from([(b.clone(), 20)]));
    assert!(!run.written["t"].contains_key(&a), "partition 0 starts over if it comes back");
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

#[tokio::test]
async fn a_batch_holding_text_that_is_undecodable_writes_nothing_and_names_those_records() {
    let mut run = idle_running(false);
    let columns = [("a", "String"), ("n", "UInt32")].map(|(c, t)| (c.to_owned(), t.to_owned(), String::new()));
    run.tables.insert("views".into(), (ClickhouseTable::from_columns("default", "views", columns), BTreeSet::new()));
    let mut task = ClickhouseSinkTask { context: None, state: Some(run) };
    let text = |offset: i64, json: &'static str| SinkRecord {
        value_json: Some(bytes::Bytes::from_static(json.as_bytes())),
        value_datum: None,
        ..record("views", 0, offset, Value::Null)
    };
    let records = [
        text(0, r#"{"a":"x","n":1}"#),
        text(1, r#"{"a":"#),
        text(2, r#"{"a":"y","n":"not a number"}"#),
        text(3, "nope"),
        text(4, r#"{"a":"\u0041","n":5}"#),
    ];
    let Err(ConnectError::Undecodable { records: undecodable }) = task.put(&records).await else {
        panic!("the records that are not JSON must be named")
    };
    assert_eq!(undecodable, [1, 3]);
    let sending = |task: &ClickhouseSinkTask| task.state.as_ref().map_or(0, |run| run.sending.len());
    assert_eq!(sending(&task), 0, "nothing of the batch is sent");
    // The rest, put again: written (sent in the background), but for the value that does not fit.
    let rest = [records[0].clone(), records[2].clone(), records[4].clone()];
    let Err(ConnectError::Records { failures }) = task.put(&rest).await else { panic!("the misfit must be reported") };
    assert_eq!(failures.iter().map(|(i, _)| *i).collect::<Vec<_>>(), [1]);
    assert_eq!(sending(&task), 1, "the two good rows are on their way");
}
