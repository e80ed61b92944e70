//! Partition queues against a real Kafka: split partitions are read in batches, in order, with
//! everything a message carries, and nothing of theirs comes through the consumer queue.
//!
//! Run with:
//!   tests/services/services.sh up kafka && eval "$(tests/services/services.sh env)"
//!   cargo test -p sluice-kafka-queues --features integration-tests
#![cfg(feature = "integration-tests")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Headers, Message, OwnedHeaders, Timestamp};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};
use sluice_kafka_queues::PartitionQueues;

const MESSAGES: i64 = 1_000;

fn bootstrap() -> String {
    std::env::var("SLUICE_KAFKA_BOOTSTRAP")
        .expect("SLUICE_KAFKA_BOOTSTRAP is not set: start Kafka with tests/services/services.sh up kafka")
}

/// What the test reads of one message.
#[derive(Debug, PartialEq)]
struct Read {
    offset: i64,
    key: Vec<u8>,
    payload: Vec<u8>,
    header: Option<(String, Vec<u8>)>,
    timestamp: Timestamp,
    topic: String,
}

/// A topic no other run uses, with `partitions` partitions.
async fn new_topic(prefix: &str, partitions: i32) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_nanos();
    let topic = format!("{prefix}-{nanos:x}");
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("admin client");
    let created = admin
        .create_topics(&[NewTopic::new(&topic, partitions, TopicReplication::Fixed(1))], &AdminOptions::new())
        .await
        .expect("create the topic");
    created.into_iter().for_each(|r| r.map(|_| ()).expect("topic created"));
    topic
}

fn consumer_of(topic: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap())
        .set("group.id", format!("{topic}-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn split_partitions_are_read_in_batches_in_order_and_only_there() {
    let topic = new_topic("partition-queues", 2).await;

    // Message n: partition n % 2, key k<n>, value v<n>, header n=<n>, created at BASE + n.
    const BASE: i64 = 1_700_000_000_000;
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("producer");
    for n in 0..MESSAGES {
        let (key, value) = (format!("k{n}"), format!("v{n}"));
        let headers = OwnedHeaders::new().insert(Header { key: "n", value: Some(n.to_string().as_bytes()) });
        let record = FutureRecord::to(&topic)
            .partition((n % 2) as i32)
            .key(&key)
            .payload(&value)
            .headers(headers)
            .timestamp(BASE + n);
        producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| e).expect("produce");
    }

    let consumer = consumer_of(&topic);
    let mut queues = PartitionQueues::new();
    let mut assignment = TopicPartitionList::new();
    for partition in 0..2 {
        assert!(queues.split(&consumer, &topic, partition), "partition {partition} splits");
        assignment.add_partition_offset(&topic, partition, Offset::Beginning).unwrap();
    }
    consumer.assign(&assignment).expect("assign");

    let wake = queues.wake();
    let mut read: BTreeMap<i32, Vec<Read>> = BTreeMap::new();
    let (mut total, mut calls, mut woken) = (0i64, 0usize, 0usize);
    let deadline = Instant::now() + Duration::from_secs(60);
    while total < MESSAGES && Instant::now() < deadline {
        if let Some(message) = consumer.poll(Duration::ZERO) {
            panic!("a message of a split partition came through the consumer queue: {message:?}");
        }
        let got = queues.drain(100, |m| {
            assert_eq!(m.error(), None);
            let header = m.headers().and_then(|h| h.try_get(0)).map(|h| (h.key.to_owned(), h.value.unwrap().to_vec()));
            read.entry(m.partition()).or_default().push(Read {
                offset: m.offset(),
                key: m.key().unwrap().to_vec(),
                payload: m.payload().unwrap().to_vec(),
                header,
                timestamp: m.timestamp(),
                topic: m.topic().to_owned(),
            });
        });
        assert!(got <= 100, "a drain takes at most what it is asked for");
        total += got as i64;
        calls += usize::from(got > 0);
        if got == 0 && tokio::time::timeout(Duration::from_secs(5), wake.notified()).await.is_ok() {
            woken += 1;
        }
    }
    queues.close();

    assert_eq!(total, MESSAGES, "every message read from the split queues");
    assert!(calls < MESSAGES as usize / 4, "{calls} batch calls for {MESSAGES} messages: batches of more than one");
    assert!(woken > 0, "an empty queue that got messages woke the reader");
    for (partition, messages) in &read {
        for (i, m) in messages.iter().enumerate() {
            let n = 2 * i as i64 + i64::from(*partition);
            let expected = Read {
                offset: i as i64,
                key: format!("k{n}").into_bytes(),
                payload: format!("v{n}").into_bytes(),
                header: Some(("n".to_owned(), n.to_string().into_bytes())),
                timestamp: Timestamp::CreateTime(BASE + n),
                topic: topic.clone(),
            };
            assert_eq!(*m, expected, "partition {partition}, message {i}");
        }
    }
    // Split queues read nothing once closed, and a closed set splits nothing.
    assert!(!queues.split(&consumer, &topic, 0));
    assert_eq!(queues.drain(10, |_| panic!("nothing after close")), 0);
}

/// A revoke clears a split partition's forward to the shared queue; assigned again without a new
/// split (as when a stop lands after the next split), its messages stay in the partition's own
/// queue, and are read from there, in order, not lost and not through the consumer queue.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_whose_forward_was_cleared_is_read_from_its_own_queue() {
    let topic = new_topic("partition-queues-stop", 1).await;
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", bootstrap()).create().expect("producer");
    for n in 0..200 {
        let value = format!("v{n}");
        let record = FutureRecord::<(), String>::to(&topic).partition(0).payload(&value);
        producer.send(record, Duration::from_secs(30)).await.map_err(|(e, _)| e).expect("produce");
    }
    let consumer = consumer_of(&topic);
    let mut queues = PartitionQueues::new();
    assert!(queues.split(&consumer, &topic, 0));
    let read_all = |queues: &mut PartitionQueues, wanted: usize| {
        let mut offsets = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while offsets.len() < wanted && Instant::now() < deadline {
            if let Some(message) = consumer.poll(Duration::ZERO) {
                panic!("a message of a split partition came through the consumer queue: {message:?}");
            }
            if queues.drain(64, |m| offsets.push(m.offset())) == 0 {
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        offsets
    };
    let mut from_start = TopicPartitionList::new();
    from_start.add_partition_offset(&topic, 0, Offset::Beginning).unwrap();
    consumer.assign(&from_start).expect("assign");
    assert_eq!(read_all(&mut queues, 200), (0..200).collect::<Vec<i64>>(), "read through the shared queue");

    consumer.unassign().expect("unassign");
    let mut from_50 = TopicPartitionList::new();
    from_50.add_partition_offset(&topic, 0, Offset::Offset(50)).unwrap();
    consumer.assign(&from_50).expect("assign again, without a split");
    assert_eq!(read_all(&mut queues, 150), (50..200).collect::<Vec<i64>>(), "read from the partition's own queue");
    queues.close();
}
