"""errors.tolerance and the dead letter queue, end to end: bad JSON (VALUE_CONVERTER) and values
ClickHouse cannot take (TASK_PUT) go to the DLQ with their original bytes and context headers
while the good rows land; with errors.tolerance=none the task fails at the first bad record."""

import json
import re

from confluent_kafka import Consumer, Producer, TopicPartition

from sluice_harness import clickhouse_connector, sample_events, unique, wait_for

COUNT = 10_000
PARTITIONS = 3


def is_malformed(i: int) -> bool:
    return i % 100 == 37


def is_type_violation(i: int) -> bool:
    return i % 100 == 71


def create_table(clickhouse, table: str) -> None:
    clickhouse.query(
        f"CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, "
        "session_id String, device String, amount UInt32) ENGINE = MergeTree() ORDER BY session_id"
    )


def produce_input(kafka, topic: str) -> dict[int, dict]:
    """Produces the 10,000 records; returns, per bad record, its bytes and where it landed."""
    kafka.create_topic(topic, partitions=PARTITIONS)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 20, "acks": "all"})
    bad: dict[int, dict] = {}

    def delivered(i, err, msg):
        assert err is None, err
        if i in bad:
            bad[i].update(partition=msg.partition(), offset=msg.offset())

    for i, event in enumerate(sample_events(COUNT)):
        event["amount"] = i
        if is_type_violation(i):
            event["amount"] = f"not-a-number-{i}"
        value = b'{"user_id": "broken' + str(i).encode() if is_malformed(i) else json.dumps(event).encode()
        key = f"key-{i}".encode()
        headers = [("origin", f"test-{i}".encode()), ("empty", b"")]
        if is_malformed(i) or is_type_violation(i):
            bad[i] = {"key": key, "value": value, "headers": headers}
        while True:
            try:
                producer.produce(
                    topic, key=key, value=value, headers=headers, partition=i % PARTITIONS,
                    on_delivery=lambda err, msg, i=i: delivered(i, err, msg),
                )
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0
    assert len(bad) == 200
    return bad


def committed_offsets(kafka, connector: str, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": f"connect-{connector}"})
    try:
        tps = consumer.committed([TopicPartition(topic, p) for p in range(PARTITIONS)], timeout=10)
        return {tp.partition: tp.offset for tp in tps}
    finally:
        consumer.close()


def end_offsets(kafka, topic: str) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": unique("probe")})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(PARTITIONS)}
    finally:
        consumer.close()


def read_topic(kafka, topic: str, expected: int) -> list:
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": unique("dlq-reader"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    out = []
    try:
        wait_for(f"{expected} records in {topic}", lambda: out.extend(m for m in consumer.consume(500, 1.0) if not m.error()) or len(out) >= expected, timeout=60)
        out.extend(m for m in consumer.consume(500, 3.0) if not m.error())  # nothing more may come
    finally:
        consumer.close()
    return out


def task_status(worker, name):
    r = worker.get(f"/connectors/{name}/status")
    assert r.status_code == 200, r.text
    return r.json()["tasks"][0]


def test_tolerated_records_go_to_the_dlq_and_the_rest_lands(worker, kafka, clickhouse, names):
    topic, table, name = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    create_table(clickhouse, table)
    bad = produce_input(kafka, topic)
    config = clickhouse_connector(
        name, topic, table, clickhouse.url,
        **{
            "errors.tolerance": "all",
            "errors.log.enable": "true",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
        },
    )
    assert worker.post("/connectors", config).status_code == 201

    wait_for("the 9,800 good rows", lambda: clickhouse.scalar(f"SELECT count() FROM {table}") >= 9_800, timeout=120)
    ends = end_offsets(kafka, topic)
    wait_for("committed offsets at the end of the topic", lambda: committed_offsets(kafka, name, topic) == ends, timeout=60)
    assert clickhouse.scalar(f"SELECT count() FROM {table}") == 9_800
    assert clickhouse.scalar(f"SELECT count() FROM {table} WHERE amount % 100 IN (37, 71)") == 0
    assert task_status(worker, name)["state"] == "RUNNING"

    dead = read_topic(kafka, dlq, 200)
    assert len(dead) == 200
    by_origin = {}
    for m in dead:
        headers = dict(m.headers())
        i = int(headers["origin"].decode().removeprefix("test-"))
        want = bad[i]
        assert m.key() == want["key"] and m.value() == want["value"], i
        # Original headers first, byte for byte, then the context.
        assert m.headers()[:2] == want["headers"], m.headers()
        ctx = {k: v.decode() for k, v in m.headers() if k.startswith("__connect.errors.")}
        assert ctx["__connect.errors.topic"] == topic
        assert int(ctx["__connect.errors.partition"]) == want["partition"]
        assert int(ctx["__connect.errors.offset"]) == want["offset"]
        assert ctx["__connect.errors.connector.name"] == name
        assert ctx["__connect.errors.task.id"] == "0"
        assert ctx["__connect.errors.stage"] == ("VALUE_CONVERTER" if is_malformed(i) else "TASK_PUT"), (i, ctx)
        assert ctx["__connect.errors.class.name"]
        assert ctx["__connect.errors.exception.class.name"]
        assert ctx["__connect.errors.exception.message"].strip(), ctx
        assert ctx["__connect.errors.exception.stacktrace"]
        by_origin[(want["partition"], want["offset"])] = m
    assert len(by_origin) == 200, "every bad record exactly once"


def test_without_tolerance_the_task_fails_at_the_first_bad_record(worker, kafka, clickhouse, names):
    topic, table, name = names["topic"], names["table"], names["connector"]
    create_table(clickhouse, table)
    bad = produce_input(kafka, topic)
    assert worker.post("/connectors", clickhouse_connector(name, topic, table, clickhouse.url)).status_code == 201

    failed = wait_for("the task to fail", lambda: (t := task_status(worker, name))["state"] == "FAILED" and t, timeout=120)
    trace = failed["trace"]
    found = re.search(rf"stage (\w+).* topic={re.escape(topic)} partition=(\d+) offset=(\d+)", trace)
    assert found, trace
    stage, partition, offset = found.group(1), int(found.group(2)), int(found.group(3))
    named = [i for i, b in bad.items() if (b["partition"], b["offset"]) == (partition, offset)]
    assert len(named) == 1, f"the trace names a record that is not bad: {trace}"
    assert stage == ("VALUE_CONVERTER" if is_malformed(named[0]) else "TASK_PUT"), trace
    # It is the first bad record of its partition, and no offset past it was committed.
    assert offset == min(b["offset"] for b in bad.values() if b["partition"] == partition), trace
    committed = committed_offsets(kafka, name, topic)
    assert committed[partition] <= offset, (committed, trace)
    for p, c in committed.items():
        first_bad = min(b["offset"] for b in bad.values() if b["partition"] == p)
        assert c <= first_bad, (p, committed)


def test_bad_error_settings_are_a_400_naming_the_key(worker, clickhouse, names):
    for key, value in [
        ("errors.tolerance", "sometimes"),
        ("errors.retry.timeout", "-5"),
        ("errors.deadletterqueue.topic.name", "not a topic!"),
        ("errors.deadletterqueue.context.headers.enable", "perhaps"),
    ]:
        config = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, **{key: value})
        r = worker.post("/connectors", config)
        assert r.status_code == 400, r.text
        assert key in r.json()["message"], r.text


def produce_with_headers(kafka, topic: str, header_for) -> None:
    kafka.create_topic(topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all"})
    for i, event in enumerate(sample_events(20)):
        event["amount"] = i
        producer.produce(topic, key=f"key-{i}".encode(), value=json.dumps(event).encode(),
                         headers=[("trace", header_for(i))])
    assert producer.flush(30) == 0


def test_binary_headers_pass_the_default_header_converter(worker, kafka, clickhouse, names):
    """SimpleHeaderConverter, like Kafka Connect's, reads bytes that are not UTF-8 lossily: a
    binary header never fails a record."""
    topic, table, name = names["topic"], names["table"], names["connector"]
    create_table(clickhouse, table)
    produce_with_headers(kafka, topic, lambda i: b"\xff\xfe\x00binary" if i % 2 else f"req-{i}".encode())
    assert worker.post("/connectors", clickhouse_connector(name, topic, table, clickhouse.url)).status_code == 201
    wait_for("20 rows", lambda: clickhouse.scalar(f"SELECT count() FROM {table}") == 20, timeout=60)
    assert task_status(worker, name)["state"] == "RUNNING"


def test_a_header_the_header_converter_cannot_read_is_dead_lettered(worker, kafka, clickhouse, names):
    """With a header.converter that can fail (JSON here), a header it cannot read fails its
    record in stage HEADER_CONVERTER, and the record is dead-lettered like any bad record."""
    topic, table, name = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    create_table(clickhouse, table)
    produce_with_headers(kafka, topic, lambda i: b"{broken" if i == 7 else json.dumps({"req": i}).encode())
    config = clickhouse_connector(name, topic, table, clickhouse.url, **{
        "header.converter": "org.apache.kafka.connect.json.JsonConverter",
        "header.converter.schemas.enable": "false",
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
    })
    assert worker.post("/connectors", config).status_code == 201

    wait_for("19 rows", lambda: clickhouse.scalar(f"SELECT count() FROM {table}") >= 19, timeout=60)
    (dead,) = read_topic(kafka, dlq, 1)
    ctx = {k: v.decode() for k, v in dead.headers() if k.startswith("__connect.errors.")}
    assert ctx["__connect.errors.stage"] == "HEADER_CONVERTER", ctx
    assert ctx["__connect.errors.offset"] == "7", ctx
    assert ctx["__connect.errors.class.name"] == "org.apache.kafka.connect.json.JsonConverter", ctx
    assert "trace" in ctx["__connect.errors.exception.message"], ctx
    assert dead.headers()[0] == ("trace", b"{broken"), "the original header, byte for byte"
    assert clickhouse.scalar(f"SELECT count() FROM {table}") == 19
    assert clickhouse.scalar(f"SELECT count() FROM {table} WHERE amount = 7") == 0
    assert task_status(worker, name)["state"] == "RUNNING"
