//! Unit tests of `consumer.rs`: commits across a revoke, the consumer's settings, the lag.

use super::*;

fn offsets_of(tpl: &TopicPartitionList) -> Vec<(TopicPartition, i64)> {
    tpl.elements()
        .iter()
        .map(|e| (TopicPartition::new(e.topic(), e.partition()), e.offset().to_raw().unwrap_or(-1)))
        .collect()
}

#[test]
fn a_revoke_commits_again_what_a_failed_periodic_commit_in_flight_carried() {
    // The rebalance that caught a flaky CI run: a periodic commit took partition 0's
    // durable offset and was still in flight on its thread when the partition was revoked;
    // it then failed (the group was rebalancing). The revoke must not count it committed.
    let ctx = Arc::new(SinkConsumerContext::new("c-0".into()));
    let (p0, p1) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1));
    ctx.record_durable(&Offsets::from([(p0.clone(), 1000), (p1.clone(), 40)]));
    let in_flight = ctx.begin_commit();
    assert_eq!(offsets_of(&in_flight), vec![(p0.clone(), 1000), (p1.clone(), 40)]);

    let answering = {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(100));
            ctx.end_commit(&in_flight, false);
        })
    };
    let (st, commit) =
        ctx.revoke_commit(std::slice::from_ref(&p0), &Offsets::new(), std::time::Duration::from_secs(30));
    drop(st);
    answering.join().unwrap();
    assert_eq!(offsets_of(&commit), vec![(p0.clone(), 1000)], "only the revoked partition, at its durable offset");

    // Answered and committed: nothing is sent twice.
    let ctx = SinkConsumerContext::new("c-0".into());
    ctx.record_durable(&Offsets::from([(p0.clone(), 1000)]));
    let in_flight = ctx.begin_commit();
    ctx.end_commit(&in_flight, true);
    let closed = Offsets::from([(p0.clone(), 1200)]);
    let (st, commit) = ctx.revoke_commit(std::slice::from_ref(&p0), &closed, std::time::Duration::ZERO);
    drop(st);
    assert_eq!(offsets_of(&commit), vec![(p0.clone(), 1200)], "what closing made durable goes out");
    let (st, commit) = ctx.revoke_commit(std::slice::from_ref(&p0), &Offsets::new(), std::time::Duration::ZERO);
    drop(st);
    assert_eq!(commit.count(), 0);
}

#[test]
fn a_revoke_does_not_wait_forever_for_an_unanswered_commit() {
    let ctx = SinkConsumerContext::new("c-0".into());
    let p0 = TopicPartition::new("t", 0);
    ctx.record_durable(&Offsets::from([(p0.clone(), 7)]));
    let _never_answered = ctx.begin_commit();
    let started = std::time::Instant::now();
    let (st, commit) =
        ctx.revoke_commit(std::slice::from_ref(&p0), &Offsets::new(), std::time::Duration::from_millis(50));
    drop(st);
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    assert_eq!(offsets_of(&commit), vec![(p0, 7)], "sent again rather than trusted to the unanswered commit");
}

#[test]
fn prefetch_is_bounded_by_default_and_users_can_override_it() {
    let empty = ConnectorConfig::default();
    let kafka = KafkaClients::from_worker(&[("bootstrap.servers", "k:9092")].into_iter().collect()).unwrap();
    let settings = consumer_settings(&kafka, "c", 2, &empty).unwrap();
    assert_eq!(settings["group.id"], "connect-c");
    assert_eq!(settings["queued.max.messages.kbytes"], "16384");
    assert_eq!(settings["queued.min.messages"], "5000");
    assert_eq!(settings["fetch.queue.backoff.ms"], "10");
    assert_eq!(settings["max.partition.fetch.bytes"], "524288");
    assert_eq!(settings["enable.auto.commit"], "false");
    assert_eq!(settings["statistics.interval.ms"], "5000");
    assert_eq!(settings["session.timeout.ms"], "10000");

    let worker: ConnectorConfig =
        [("bootstrap.servers", "k:9092"), ("consumer.queued.max.messages.kbytes", "65536")].into_iter().collect();
    let kafka = KafkaClients::from_worker(&worker).unwrap();
    let connector: ConnectorConfig = [("consumer.override.fetch.max.bytes", "1048576")].into_iter().collect();
    let settings = consumer_settings(&kafka, "c", 2, &connector).unwrap();
    assert_eq!(settings["queued.max.messages.kbytes"], "65536");
    assert_eq!(settings["fetch.max.bytes"], "1048576");
}

#[test]
fn lag_comes_from_the_partitions_the_consumer_reads() {
    let stats = br#"{"name":"c","topics":{"orders":{"topic":"orders","partitions":{
        "0":{"partition":0,"fetch_state":"active","consumer_lag":12,"hi_offset":40},
        "1":{"partition":1,"fetch_state":"active","consumer_lag":0},
        "2":{"partition":2,"fetch_state":"none","consumer_lag":-1},
        "3":{"partition":3,"fetch_state":"stopped","consumer_lag":5},
        "4":{"partition":4,"fetch_state":"offset-query","consumer_lag":-1},
        "5":{"partition":5,"fetch_state":"active","consumer_lag":-1,"lo_offset":10,"hi_offset":25},
        "-1":{"partition":-1,"fetch_state":"none","consumer_lag":-1}}}}}"#;
    let lags = lag_of(stats).unwrap();
    // Partition 5: nothing committed yet, so everything from the log start.
    let expected = [("orders".to_owned(), 0, 12), ("orders".to_owned(), 1, 0), ("orders".to_owned(), 5, 15)];
    assert_eq!(lags, expected);
    assert_eq!(lag_of(br#"{"name":"c"}"#).unwrap(), vec![]);
}
