"""A retriable sink failure: ClickHouse is stopped mid-stream (issue 4).

The tasks stay RUNNING and say in their trace why nothing lands, nothing is committed and nothing
is dead-lettered while it lasts, the batch is retried with backoff, and once ClickHouse is back
every record lands exactly once. The group may move partitions meanwhile (a worker added, one
killed): the records still land exactly once.

These tests stop the shared ClickHouse server: they are marked `disruptive` and run in their own
phase of `make test`, after the others.
"""

import collections
import subprocess

import pytest
from confluent_kafka import Consumer, TopicPartition

from sluice_harness import (REPO, CommitWatch, Worker, assert_exactly_once, clickhouse_connector, distributed_props,
                            holds_for, sample_events, unique, wait_for)

SERVICES = str(REPO / "tests" / "services" / "services.sh")
pytestmark = pytest.mark.disruptive


def topic_size(kafka, topic: str) -> int:
    """Records in `topic`; 0 when the topic was never created."""
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": unique("probe")})
    try:
        metadata = consumer.list_topics(topic, timeout=10).topics.get(topic)
        if metadata is None or metadata.error is not None:
            return 0
        total = 0
        for p in metadata.partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def clickhouse_service(action: str) -> None:
    subprocess.run([SERVICES, action, "clickhouse"], check=True, capture_output=True, timeout=300)


def statuses(worker, connector):
    r = worker.get(f"/connectors/{connector}/status")
    assert r.status_code == 200, r.text
    return r.json()["tasks"]


def outage_config(connector, topic, table, clickhouse, dlq, tasks, **extra):
    config = clickhouse_connector(connector, topic, table, clickhouse.url, tasks=tasks, coordinates=True)
    config["config"].update({
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        **extra,
    })
    return config


def test_clickhouse_down_for_20_seconds_is_retried_without_loss(worker, kafka, clickhouse, names):
    topic, table, connector = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    kafka.create_topic(topic, partitions=2)
    clickhouse.create_events_table(table)
    config = outage_config(connector, topic, table, clickhouse, dlq, tasks=2, **{"errors.retry.timeout": "90000"})
    assert worker.post("/connectors", config).status_code == 201
    kafka.produce_json(topic, sample_events(2000))
    before = kafka.wait_committed_to_end(connector, topic)

    clickhouse_service("down")
    try:
        kafka.produce_json(topic, sample_events(2000, start=2000))

        def outage_reported():
            tasks = statuses(worker, connector)
            assert {t["state"] for t in tasks} == {"RUNNING"}, f"a ClickHouse outage must not fail tasks: {tasks}"
            return any("Sink not available" in (t.get("trace") or "") for t in tasks)

        wait_for("a task trace naming the outage", outage_reported, timeout=20)
        # The outage lasts 15 s more; all along, tasks stay RUNNING and nothing is committed.
        holds_for("tasks RUNNING and offsets frozen during the outage",
                  lambda: {t["state"] for t in statuses(worker, connector)} == {"RUNNING"}
                  and kafka.committed(connector, topic) == before, seconds=15)
    finally:
        clickhouse_service("up")

    kafka.wait_committed_to_end(connector, topic, timeout=120)
    assert_exactly_once(clickhouse, table, kafka.end_offsets(topic))
    assert {t["state"] for t in statuses(worker, connector)} == {"RUNNING"}
    wait_for("the outage note to clear from the task traces",
             lambda: not any(t.get("trace") for t in statuses(worker, connector)), timeout=60)
    assert topic_size(kafka, dlq) == 0, "a retriable outage must not dead-letter anything"


def test_a_rebalance_during_a_clickhouse_outage_loses_and_duplicates_nothing(tmp_path, kafka, clickhouse, names):
    """With the default errors.retry.timeout, a worker joins and another is killed while
    ClickHouse is down: partitions move between tasks that are all waiting out the outage."""
    topic, table, connector = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    partitions = 4
    kafka.create_topic(topic, partitions=partitions)
    clickhouse.create_events_table(table)
    props = distributed_props(unique("sluice-outage"))
    first, doomed, joiner = (Worker(tmp_path / f"worker-{i}", kafka.bootstrap, props, mode="distributed") for i in range(3))
    try:
        first.start()
        doomed.start()
        ids = sorted([first.worker_id, doomed.worker_id])
        wait_for("two workers in the group", lambda: first.get("/sluice/cluster").json()["members"] == ids)
        assert first.post("/connectors", outage_config(connector, topic, table, clickhouse, dlq, tasks=partitions)).status_code == 201

        def spread():
            tasks = statuses(first, connector)
            if len(tasks) != partitions or any(t["state"] != "RUNNING" for t in tasks):
                return None
            return collections.Counter(t["worker_id"] for t in tasks)

        wait_for("2/2", lambda: (s := spread()) and sorted(s.values()) == [2, 2], timeout=60)
        kafka.produce_json(topic, sample_events(4000))
        before = kafka.wait_committed_to_end(connector, topic)

        clickhouse_service("down")
        try:
            kafka.produce_json(topic, sample_events(4000, start=4000))
            wait_for("the outage in a task trace",
                     lambda: any("Sink not available" in (t.get("trace") or "") for t in statuses(first, connector)),
                     timeout=30)
            watch = CommitWatch(kafka, connector, topic)
            joiner.start()
            wait_for("the joiner taking tasks", lambda: (s := spread()) and joiner.worker_id in s, timeout=60)
            doomed.kill()
            survivors = {first.worker_id, joiner.worker_id}
            wait_for("every task RUNNING on the two survivors",
                     lambda: (s := spread()) and set(s) == survivors and s, timeout=60)
            holds_for("offsets frozen while ClickHouse is down",
                      lambda: kafka.committed(connector, topic) == before, seconds=5)
            assert all(offsets == before for offsets in watch.between(0, float("inf"))), (
                "an offset was committed during the outage", watch.samples)
            watch.stop_and_check_monotonic()
        finally:
            clickhouse_service("up")

        kafka.wait_committed_to_end(connector, topic, timeout=180)
        # Everything written before the outage was committed before it, and nothing could be
        # written during it: no record may land twice, whatever moved meanwhile.
        assert_exactly_once(clickhouse, table, kafka.end_offsets(topic))
        assert topic_size(kafka, dlq) == 0, "a retriable outage must not dead-letter anything"
        wait_for("the outage note to clear", lambda: not any(t.get("trace") for t in statuses(first, connector)), timeout=60)
    finally:
        for w in (first, doomed, joiner):
            w.stop()
