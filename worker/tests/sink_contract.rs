//! The sink task contract (see the top of `sluice-api`'s `plugin.rs`) against a real Kafka: a
//! real `SinkTaskRunner` drives a recording sink task, and the tests read what the consumer
//! group committed with a consumer of their own. The harness is in `sink_contract/harness.rs`.
//!
//! Run with:
//!   tests/services/services.sh up kafka && eval "$(tests/services/services.sh env)"
//!   cargo test -p sluice-worker --features integration-tests --test sink_contract
//!
//! Every test uses its own topic and connector name (so its own consumer group), so tests run
//! in parallel. The runner's rebalance callback uses `block_in_place`, hence the multi-thread
//! runtime everywhere.
#![cfg(feature = "integration-tests")]

// In a folder named after this file, so Cargo does not take it for a test of its own.
#[path = "sink_contract/harness.rs"]
mod harness;

use std::collections::BTreeMap;
use std::time::Duration;

use harness::*;
use sluice_worker::status::{State, TargetState};
use tokio::time::{sleep, Instant};

/// `open` gets the assigned partitions before any record of theirs is put, and a seek the sink
/// asks for in `open` is where the partition starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn open_comes_before_put_and_a_seek_in_open_sets_where_the_partition_starts() {
    let (topic, connector) = (unique("contract-open"), unique("contract-open"));
    create_topic(&topic, 2).await;
    produce(&topic, 0, 0, 10).await;
    produce(&topic, 1, 0, 10).await;
    let recorder = Recorder::with(Knobs { open_seeks: BTreeMap::from([(0, 5)]), ..Knobs::default() });
    let running = Running::start(&connector, 0, &topic, 500, &recorder);
    recorder.wait("both partitions put to the end", JOIN_PATIENCE, |r| r.got(0, 5, 10) && r.got(1, 0, 10)).await;
    running.stop().await;

    let events = recorder.events();
    assert_open_before_put(&events);
    let opened: Vec<&Event> = events.iter().filter(|e| matches!(e, Event::Open { .. })).collect();
    assert_eq!(
        opened.first(),
        Some(&&Event::Open { partitions: vec![0, 1], assignment: vec![0, 1] }),
        "one open of both partitions, with the context's assignment already showing them; calls:{}",
        calls(&events)
    );
    let first_put = |p: i32| recorder.put_records().into_iter().find(|&(q, _)| q == p).map(|(_, o)| o);
    assert_eq!(first_put(0), Some(5), "partition 0 starts where open asked; calls:{}", calls(&events));
    assert_eq!(first_put(1), Some(0), "partition 1 starts at the beginning; calls:{}", calls(&events));
    let p0: Vec<i64> = recorder.put_records().into_iter().filter(|&(p, _)| p == 0).map(|(_, o)| o).collect();
    assert_eq!(p0, (5..10).collect::<Vec<_>>(), "partition 0 is put from 5 on, once, in order");
    await_committed(&connector, &topic, 2, &[(0, 10), (1, 10)], Duration::from_secs(5)).await;
}

/// Only what `flush` reports durable is committed: a sink holding everything past offset 3
/// keeps the group at 3 over many commit intervals; once it reports everything, the commit
/// reaches the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn only_offsets_flush_reports_durable_are_committed() {
    let (topic, connector) = (unique("contract-durable"), unique("contract-durable"));
    create_topic(&topic, 1).await;
    produce(&topic, 0, 0, 10).await;
    let recorder = Recorder::with(Knobs { while_open: Durable::UpTo(3), ..Knobs::default() });
    let running = Running::start(&connector, 0, &topic, 500, &recorder);
    recorder.wait("all 10 records put", JOIN_PATIENCE, |r| r.got(0, 0, 10)).await;
    await_committed(&connector, &topic, 1, &[(0, 3)], Duration::from_secs(5)).await;
    let flushes = recorder.flushes();
    // Several commit intervals: the commit must stay where the sink said.
    sleep(Duration::from_secs(3)).await;
    assert!(
        recorder.flushes() > flushes + 3,
        "the sink was asked again meanwhile; calls:{}",
        calls(&recorder.events())
    );
    assert_eq!(committed(&connector, &topic, 1).await, BTreeMap::from([(0, 3)]));

    recorder.set(|k| k.while_open = Durable::All);
    await_committed(&connector, &topic, 1, &[(0, 10)], Duration::from_secs(5)).await;
    running.stop().await;
    assert_open_before_put(&recorder.events());
}

/// With no record arriving, the sink is still asked what is durable: every idle second.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flush_runs_every_idle_second_without_records() {
    // A commit interval far away: only the idle flush can ask the sink.
    let (recorder, running, idle_flushes) = flushes_in_three_idle_seconds("contract-idle", 60_000).await;
    assert!(
        (2..=5).contains(&idle_flushes),
        "{idle_flushes} flushes in 3 idle seconds; calls:{}",
        calls(&recorder.events())
    );
    // The idle flushes are told what was consumed.
    let events = recorder.events();
    let last = events.iter().rev().find_map(|e| match e {
        Event::Flush { consumed, .. } => Some(consumed.clone()),
        _ => None,
    });
    assert_eq!(last, Some(BTreeMap::from([(0, 5)])), "calls:{}", calls(&events));
    running.stop().await;
}

/// Puts 5 records of a new topic through a task with the given commit interval, then counts
/// the flushes of 3 seconds in which no record arrives.
async fn flushes_in_three_idle_seconds(name: &str, flush_interval_ms: u64) -> (Recorder, Running, usize) {
    let (topic, connector) = (unique(name), unique(name));
    create_topic(&topic, 1).await;
    produce(&topic, 0, 0, 5).await;
    let recorder = Recorder::default();
    let running = Running::start(&connector, 0, &topic, flush_interval_ms, &recorder);
    recorder.wait("all 5 records put", JOIN_PATIENCE, |r| r.got(0, 0, 5)).await;
    let (puts, flushes) = (recorder.put_records().len(), recorder.flushes());
    sleep(Duration::from_secs(3)).await;
    assert_eq!(recorder.put_records().len(), puts, "no record arrived");
    let idle_flushes = recorder.flushes() - flushes;
    (recorder, running, idle_flushes)
}

/// With no record arriving, the sink is asked what is durable on every commit interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flush_runs_on_every_commit_interval_without_records() {
    let (recorder, running, idle_flushes) = flushes_in_three_idle_seconds("contract-interval", 200).await;
    // 15 commit intervals (plus 3 idle-second flushes); the idle flushes alone would be 3.
    assert!(
        idle_flushes >= 9,
        "{idle_flushes} flushes in 3 idle seconds at a 200 ms interval; calls:{}",
        calls(&recorder.events())
    );
    running.stop().await;
}

/// A rebalance that takes partitions away: the sink sees `flush`, `close(revoked)`, `flush`,
/// and the group's commit for the revoked partitions is what the last of those flushes
/// reported, which only closing made durable. Eager protocol (librdkafka's default): every
/// partition is revoked, then the assignment is handed out again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_flushes_closes_flushes_then_commits_what_the_last_flush_reported() {
    revocation_contract("range", true).await;
}

/// The same with the cooperative protocol: only the partitions that move are closed; those
/// that stay keep their (lower) commit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cooperative_revocation_closes_only_what_moves() {
    revocation_contract("cooperative-sticky", false).await;
}

/// Task 0 takes 4 partitions, then task 1 joins; with `eager`, task 0 closes every partition.
async fn revocation_contract(strategy: &str, eager: bool) {
    let (topic, connector) = (unique("contract-revoke"), unique("contract-revoke"));
    let settings = [("consumer.partition.assignment.strategy", strategy)];
    create_topic(&topic, 4).await;
    for p in 0..4 {
        produce(&topic, p, 0, 10).await;
    }
    // Task 0 holds everything past offset 3 until it closes a partition.
    let first = Recorder::with(Knobs { while_open: Durable::UpTo(3), after_close: Durable::All, ..Knobs::default() });
    let task0 = Running::start_with(&connector, 0, &topic, 500, &first, &settings);
    first.wait("all 40 records put", JOIN_PATIENCE, |r| (0..4).all(|p| r.got(p, 0, 10))).await;
    await_committed(&connector, &topic, 4, &[(0, 3), (1, 3), (2, 3), (3, 3)], Duration::from_secs(5)).await;
    let before = first.events().len();

    // Task 1 joins the group; it reports nothing durable, so every commit below is task 0's.
    let second =
        Recorder::with(Knobs { while_open: Durable::Nothing, after_close: Durable::Nothing, ..Knobs::default() });
    let task1 = Running::start_with(&connector, 1, &topic, 500, &second, &settings);
    second
        .wait("task 1 opens partitions", JOIN_PATIENCE, |r| {
            r.events().iter().any(|e| matches!(e, Event::Open { partitions, .. } if !partitions.is_empty()))
        })
        .await;
    let moved: Vec<i32> = second
        .events()
        .iter()
        .find_map(|e| match e {
            Event::Open { partitions, .. } if !partitions.is_empty() => Some(partitions.clone()),
            _ => None,
        })
        .unwrap_or_default();

    let events = first.events();
    let (close_at, revoked) = events
        .iter()
        .enumerate()
        .skip(before)
        .find_map(|(i, e)| match e {
            Event::Close(partitions) => Some((i, partitions.clone())),
            _ => None,
        })
        .unwrap_or_else(|| panic!("task 0 closed nothing in the rebalance; calls:{}", calls(&events)));
    assert!(moved.iter().all(|p| revoked.contains(p)), "task 1 got {moved:?}, task 0 closed only {revoked:?}");
    if eager {
        assert_eq!(revoked, vec![0, 1, 2, 3], "the eager protocol revokes everything");
    } else {
        assert_eq!(revoked, moved, "the cooperative protocol revokes only what moves");
    }
    let Some(Event::Flush { reported: before_close, .. }) = events.get(close_at - 1) else {
        panic!("no flush right before close (call #{close_at}); calls:{}", calls(&events))
    };
    let Some(Event::Flush { reported: after_close, .. }) = events.get(close_at + 1) else {
        panic!("no flush right after close (call #{close_at}); calls:{}", calls(&events))
    };
    let revoked_10: Vec<(i32, i64)> = revoked.iter().map(|&p| (p, 10)).collect();
    for &p in &revoked {
        assert_eq!(before_close.get(&p), Some(&3), "before close the sink holds past 3; calls:{}", calls(&events));
    }
    assert_eq!(
        after_close.iter().filter(|(p, _)| revoked.contains(p)).map(|(&p, &o)| (p, o)).collect::<Vec<_>>(),
        revoked_10,
        "closing made everything durable; calls:{}",
        calls(&events)
    );
    // What the last flush reported is committed, not what was durable before close.
    let mut expected: BTreeMap<i32, i64> = (0..4).map(|p| (p, 3)).collect();
    expected.extend(revoked_10.iter().copied());
    let expected: Vec<(i32, i64)> = expected.into_iter().collect();
    await_committed(&connector, &topic, 4, &expected, Duration::from_secs(5)).await;
    // And nothing is put twice: task 1 starts where task 0's close committed.
    sleep(Duration::from_secs(1)).await;
    assert!(second.put_records().is_empty(), "task 1 re-read records: {:?}", second.put_records());

    task1.stop().await;
    task0.stop().await;
    assert_open_before_put(&first.events());
    assert_open_before_put(&second.events());
}

/// Stopping a task: a final `flush`, `close` of every partition, `flush`, the commit of what
/// the last flush reported, then `stop`.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn stop_flushes_closes_everything_flushes_commits_then_stops() {
    let (topic, connector) = (unique("contract-stop"), unique("contract-stop"));
    create_topic(&topic, 2).await;
    produce(&topic, 0, 0, 10).await;
    produce(&topic, 1, 0, 7).await;
    let recorder =
        Recorder::with(Knobs { while_open: Durable::UpTo(3), after_close: Durable::All, ..Knobs::default() });
    let running = Running::start(&connector, 0, &topic, 500, &recorder);
    recorder.wait("all 17 records put", JOIN_PATIENCE, |r| r.got(0, 0, 10) && r.got(1, 0, 7)).await;
    await_committed(&connector, &topic, 2, &[(0, 3), (1, 3)], Duration::from_secs(5)).await;
    running.stop().await;

    let events = recorder.events();
    assert_open_before_put(&events);
    let tail = events.len().checked_sub(4).map(|at| &events[at..]);
    let Some(
        [Event::Flush { reported: before, .. }, Event::Close(closed), Event::Flush { reported: last, .. }, Event::Stop],
    ) = tail
    else {
        panic!("the task must end with flush, close, flush, stop; calls:{}", calls(&events))
    };
    assert_eq!(closed, &vec![0, 1], "every partition is closed");
    assert_eq!(before, &BTreeMap::from([(0, 3), (1, 3)]));
    assert_eq!(last, &BTreeMap::from([(0, 10), (1, 7)]));
    // The final commit was synchronous: it is there as soon as the task stopped.
    assert_eq!(committed(&connector, &topic, 2).await, last.clone(), "the commit is the last flush's answer");
}

/// A `close` that fails at stop (the sink's store is down): the runtime tells the sink to drop
/// what it holds (`lost`), so nothing is written for those partitions after they left, and
/// commits only what was durable before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_close_failing_at_stop_drops_what_the_sink_holds_and_commits_only_what_was_durable() {
    let (topic, connector) = (unique("contract-stop-fail"), unique("contract-stop-fail"));
    create_topic(&topic, 2).await;
    produce(&topic, 0, 0, 10).await;
    produce(&topic, 1, 0, 7).await;
    let recorder = Recorder::with(Knobs { while_open: Durable::UpTo(3), fail_close: true, ..Knobs::default() });
    let running = Running::start(&connector, 0, &topic, 500, &recorder);
    recorder.wait("all 17 records put", JOIN_PATIENCE, |r| r.got(0, 0, 10) && r.got(1, 0, 7)).await;
    await_committed(&connector, &topic, 2, &[(0, 3), (1, 3)], Duration::from_secs(5)).await;
    let stopping = Instant::now();
    running.stop().await;
    let took = stopping.elapsed();

    let events = recorder.events();
    let after_close: Vec<&Event> = events
        .iter()
        .skip_while(|e| !matches!(e, Event::Close(_)))
        .filter(|e| !matches!(e, Event::Flush { .. }))
        .collect();
    assert_eq!(
        after_close,
        [&Event::Close(vec![0, 1]), &Event::Lost(vec![0, 1]), &Event::Stop],
        "a failed close is followed by lost for the same partitions, then stop; calls:{}",
        calls(&events)
    );
    assert!(took < Duration::from_secs(20), "the stop waited {took:?} on a close that cannot succeed");
    assert_eq!(committed(&connector, &topic, 2).await, BTreeMap::from([(0, 3), (1, 3)]), "only what was durable");
}

/// `request_commit()` from `put` commits right after the batch, long before the interval.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn request_commit_from_put_commits_before_the_interval() {
    let (topic, connector) = (unique("contract-request"), unique("contract-request"));
    create_topic(&topic, 1).await;
    produce(&topic, 0, 0, 10).await;
    let recorder = Recorder::with(Knobs { commit_from_put: true, ..Knobs::default() });
    let running = Running::start(&connector, 0, &topic, 60_000, &recorder);
    recorder.wait("all 10 records put", JOIN_PATIENCE, |r| r.got(0, 0, 10)).await;
    await_committed(&connector, &topic, 1, &[(0, 10)], Duration::from_secs(3)).await;
    running.stop().await;
    assert_open_before_put(&recorder.events());
}

/// `pause` through the context holds back a partition while the others flow; `resume` lets it
/// through again.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn pause_from_the_context_holds_back_a_partition_until_resume() {
    let (topic, connector) = (unique("contract-pause"), unique("contract-pause"));
    create_topic(&topic, 2).await;
    produce(&topic, 0, 0, 5).await;
    produce(&topic, 1, 0, 5).await;
    let recorder = Recorder::default();
    let running = Running::start(&connector, 0, &topic, 500, &recorder);
    recorder.wait("the first 10 records put", JOIN_PATIENCE, |r| r.got(0, 0, 5) && r.got(1, 0, 5)).await;

    // The next put (of a record of partition 1) pauses partition 0.
    recorder.set(|k| k.pause_in_put = vec![0]);
    produce(&topic, 1, 5, 6).await;
    recorder
        .wait("the sink pausing partition 0", Duration::from_secs(10), |r| r.events().contains(&Event::Paused(vec![0])))
        .await;
    // The runner applies the pause before the batch after the one that asked; two flushes
    // later it has.
    let paused_at = recorder.events().iter().position(|e| *e == Event::Paused(vec![0])).unwrap_or_default();
    recorder
        .wait("two flushes after the pause", Duration::from_secs(10), |r| {
            r.events().iter().skip(paused_at).filter(|e| matches!(e, Event::Flush { .. })).count() >= 2
        })
        .await;

    produce(&topic, 0, 5, 10).await;
    produce(&topic, 1, 6, 10).await;
    recorder.wait("partition 1 still flowing", Duration::from_secs(10), |r| r.got(1, 5, 10)).await;
    sleep(Duration::from_secs(2)).await;
    let held_back: Vec<(i32, i64)> = recorder.put_records().into_iter().filter(|&(p, o)| p == 0 && o >= 5).collect();
    assert!(held_back.is_empty(), "records of the paused partition were put: {held_back:?}");

    recorder.set(|k| k.resume_in_flush = vec![0]);
    recorder.wait("partition 0 resumed", Duration::from_secs(10), |r| r.got(0, 5, 10)).await;
    assert!(recorder.events().contains(&Event::Resumed(vec![0])));
    running.stop().await;
    assert_open_before_put(&recorder.events());
    let p0: Vec<i64> = recorder.put_records().into_iter().filter(|&(p, _)| p == 0).map(|(_, o)| o).collect();
    assert_eq!(p0, (0..10).collect::<Vec<_>>(), "partition 0: everything once, in order");
}

/// A partition the sink paused, then revoked and assigned again, is read again (the task's
/// context forgets what it knew of a partition that left the task), and a pause and resume of
/// the whole task does not bring the forgotten pause back.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pause_forgotten_in_a_rebalance_does_not_come_back_on_resume() {
    let (topic, connector) = (unique("contract-repause"), unique("contract-repause"));
    create_topic(&topic, 2).await;
    produce(&topic, 0, 0, 3).await;
    produce(&topic, 1, 0, 3).await;
    let recorder = Recorder::default();
    // The consumer notices new partitions within half a second, which rebalances the group.
    let settings = [("consumer.topic.metadata.refresh.interval.ms", "500")];
    let running = Running::start_with(&connector, 0, &topic, 500, &recorder, &settings);
    recorder.wait("the first 6 records put", JOIN_PATIENCE, |r| r.got(0, 0, 3) && r.got(1, 0, 3)).await;
    recorder.set(|k| k.pause_in_put = vec![0]);
    produce(&topic, 1, 3, 4).await;
    recorder
        .wait("the sink pausing partition 0", Duration::from_secs(10), |r| r.events().contains(&Event::Paused(vec![0])))
        .await;
    let paused_at = recorder.events().len();
    recorder
        .wait("two flushes after the pause", Duration::from_secs(10), |r| {
            r.events().iter().skip(paused_at).filter(|e| matches!(e, Event::Flush { .. })).count() >= 2
        })
        .await;

    // A third partition: the (eager) group revokes partitions 0 and 1 and assigns all three.
    add_partitions(&topic, 3).await;
    recorder
        .wait("partitions 0..3 opened", JOIN_PATIENCE, |r| {
            r.events().iter().any(|e| matches!(e, Event::Open { partitions, .. } if *partitions == vec![0, 1, 2]))
        })
        .await;
    let events = recorder.events();
    assert!(
        events.contains(&Event::Close(vec![0, 1])),
        "the rebalance closed both partitions; calls:{}",
        calls(&events)
    );
    produce(&topic, 0, 3, 5).await;
    recorder.wait("partition 0 read again after the rebalance", Duration::from_secs(10), |r| r.got(0, 3, 5)).await;

    // Pausing and resuming the whole task must not bring the forgotten pause back.
    running.control.send(TargetState::Paused).expect("runner listening");
    running.await_state(State::Paused).await;
    running.control.send(TargetState::Running).expect("runner listening");
    produce(&topic, 0, 5, 8).await;
    produce(&topic, 1, 4, 6).await;
    recorder.wait("partition 1 after the task resumed", Duration::from_secs(10), |r| r.got(1, 4, 6)).await;
    recorder.wait("partition 0 after the task resumed", Duration::from_secs(10), |r| r.got(0, 5, 8)).await;
    running.stop().await;
    assert_open_before_put(&recorder.events());
}

/// A sink that misses the consumer's poll deadline loses its partitions to the group: it sees
/// `lost`, not `close`, and nothing is committed for them, whatever the sink would report.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_assignment_is_dropped_not_closed_and_nothing_is_committed_for_it() {
    let (topic, connector) = (unique("contract-lost"), unique("contract-lost"));
    create_topic(&topic, 1).await;
    produce(&topic, 0, 0, 10).await;
    // Lost partitions are reported like closed ones (everything): a commit for them would show.
    let recorder =
        Recorder::with(Knobs { while_open: Durable::UpTo(3), after_close: Durable::All, ..Knobs::default() });
    // The broker's smallest session timeout; the poll deadline may not be shorter.
    let settings = [("consumer.session.timeout.ms", "6000"), ("consumer.max.poll.interval.ms", "6000")];
    let running = Running::start_with(&connector, 0, &topic, 500, &recorder, &settings);
    recorder.wait("all 10 records put", JOIN_PATIENCE, |r| r.got(0, 0, 10)).await;
    await_committed(&connector, &topic, 1, &[(0, 3)], Duration::from_secs(5)).await;

    recorder.set(|k| k.stall_next_put = Some(Duration::from_secs(10)));
    let stalled_at = recorder.events().len();
    produce(&topic, 0, 10, 11).await;
    recorder
        .wait("the partition lost and opened again", Duration::from_secs(40), |r| {
            let events = r.events();
            let lost = events.iter().skip(stalled_at).position(|e| *e == Event::Lost(vec![0]));
            lost.is_some_and(|at| {
                events
                    .iter()
                    .skip(stalled_at + at)
                    .any(|e| matches!(e, Event::Open { partitions, .. } if *partitions == vec![0]))
            })
        })
        .await;
    let events = recorder.events();
    assert!(
        !events[stalled_at..].iter().any(|e| matches!(e, Event::Close(_))),
        "a lost partition is not closed; calls:{}",
        calls(&events)
    );
    // Its next owner (this task again) starts from the last commit, which nothing moved.
    assert_eq!(committed(&connector, &topic, 1).await, BTreeMap::from([(0, 3)]));
    recorder
        .wait("the partition read again from the commit", Duration::from_secs(10), |r| {
            r.put_records().iter().filter(|&&(p, o)| p == 0 && o == 3).count() == 2
        })
        .await;
    running.stop().await;
    assert_open_before_put(&recorder.events());
}

/// A batch closes at `sluice.batch.max.bytes` of keys and values, well before the record count
/// or the linger would close it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_batch_closes_at_its_byte_bound() {
    let (topic, connector) = (unique("contract-bytes"), unique("contract-bytes"));
    create_topic(&topic, 1).await;
    produce(&topic, 0, 0, 1000).await; // key = value = "0-<offset>": 6 to 10 bytes a record
    let recorder = Recorder::with(Knobs::default());
    let settings = [("sluice.batch.max.bytes", "1024"), ("sluice.batch.linger.ms", "5000")];
    let running = Running::start_with(&connector, 0, &topic, 500, &recorder, &settings);
    recorder.wait("all 1000 records put", JOIN_PATIENCE, |r| r.got(0, 0, 1000)).await;
    running.stop().await;
    let puts: Vec<Vec<(i32, i64)>> = recorder
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Put(records) if !records.is_empty() => Some(records),
            _ => None,
        })
        .collect();
    let bytes = |records: &[(i32, i64)]| records.iter().map(|(p, o)| 2 * format!("{p}-{o}").len()).sum::<usize>();
    assert!(puts.len() >= 8, "{} puts for ~9 KB in 1 KiB batches", puts.len());
    for put in &puts {
        assert!(bytes(put) < 1024 + 10, "a put of {} bytes: {put:?}", bytes(put));
    }
}
