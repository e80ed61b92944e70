"""A retriable sink failure: ClickHouse is stopped for 20 s mid-stream (issue 4).

The tasks stay RUNNING and say in their trace why nothing lands, the batch is retried with backoff
within `errors.retry.timeout`, and once ClickHouse is back every record lands exactly once with
nothing in the dead letter queue.
"""

import subprocess
import time

from confluent_kafka import Consumer, TopicPartition

from sluice_harness import REPO, clickhouse_connector, sample_events, unique, wait_for

SERVICES = str(REPO / "tests" / "services" / "services.sh")


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


def test_clickhouse_down_for_20_seconds_is_retried_without_loss(worker, kafka, clickhouse, names):
    topic, table, connector = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    kafka.create_topic(topic, partitions=2)
    clickhouse.create_events_table(table)
    config = clickhouse_connector(connector, topic, table, clickhouse.url, tasks=2)
    config.update({
        "errors.tolerance": "all",
        "errors.retry.timeout": "90000",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
    })
    assert worker.post("/connectors", config).status_code == 201
    kafka.produce_json(topic, sample_events(2000))
    wait_for("the first 2,000 rows", lambda: clickhouse.scalar(f"SELECT count() FROM {table}") == 2000)

    subprocess.run([SERVICES, "down", "clickhouse"], check=True, capture_output=True, timeout=120)
    try:
        kafka.produce_json(topic, sample_events(2000, start=2000))

        def outage_reported():
            tasks = worker.get(f"/connectors/{connector}/status").json()["tasks"]
            assert {t["state"] for t in tasks} == {"RUNNING"}, f"a ClickHouse outage must not fail tasks: {tasks}"
            return any("Sink not available" in (t.get("trace") or "") for t in tasks)

        wait_for("a task trace naming the outage", outage_reported, timeout=20)
        time.sleep(15)
        tasks = worker.get(f"/connectors/{connector}/status").json()["tasks"]
        assert {t["state"] for t in tasks} == {"RUNNING"}, f"a ClickHouse outage must not fail tasks: {tasks}"
    finally:
        subprocess.run([SERVICES, "up", "clickhouse"], check=True, capture_output=True, timeout=300)

    wait_for("all 4,000 rows after ClickHouse is back",
             lambda: clickhouse.scalar(f"SELECT count() FROM {table}") >= 4000, timeout=120)
    time.sleep(3)  # nothing more may arrive
    assert clickhouse.scalar(f"SELECT count() FROM {table}") == 4000
    assert clickhouse.scalar(f"SELECT count(DISTINCT session_id) FROM {table}") == 4000
    tasks = worker.get(f"/connectors/{connector}/status").json()["tasks"]
    assert {t["state"] for t in tasks} == {"RUNNING"}, tasks
    wait_for("the outage note to clear from the task traces",
             lambda: not any(t.get("trace") for t in worker.get(f"/connectors/{connector}/status").json()["tasks"]),
             timeout=60)
    assert topic_size(kafka, dlq) == 0, "a retriable outage must not dead-letter anything"
