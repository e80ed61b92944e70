"""errors.tolerance and the dead letter queue, end to end: bad JSON (VALUE_CONVERTER) and values
ClickHouse cannot take (TASK_PUT) go to the DLQ with their original bytes and context headers
while the good rows land; with errors.tolerance=none the task fails at the first bad record,
after committing exactly what came before it; errors.log.* writes bad records to the worker's
log; a batch's offsets are committed only once its dead letters are in Kafka."""

import json
import os
import re
import uuid

from confluent_kafka import Consumer, Producer

from sluice_harness import clickhouse_connector, holds_for, sample_events, unique, wait_for
from tcp_proxy import TcpProxy

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


def produce_input(kafka, topic: str) -> tuple[dict[int, dict], dict[int, tuple[int, int]]]:
    """Produces the 10,000 records (event i has amount i); returns, per bad record, its bytes and
    where it landed, and for every record its (partition, offset)."""
    kafka.create_topic(topic, partitions=PARTITIONS)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "linger.ms": 20, "acks": "all"})
    bad: dict[int, dict] = {}
    positions: dict[int, tuple[int, int]] = {}
    errors = []

    def delivered(i, err, msg):
        if err is not None:
            errors.append(err)
            return
        positions[i] = (msg.partition(), msg.offset())
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
    assert not errors, f"{len(errors)} records refused by Kafka, first: {errors[0]}"
    assert len(bad) == 200 and len(positions) == COUNT
    return bad, positions


def produce_one_partition(kafka, topic: str, count: int, malformed=(), start: int = 0,
                          create: bool = True) -> dict[int, dict]:
    """Events `start`..`start+count` into a one-partition topic (event i at offset i when the
    topic started empty), event i with amount i; those in `malformed` are cut-off JSON carrying
    a marker of their own. Returns every record's key, value and headers by event number."""
    if create:
        kafka.create_topic(topic, partitions=1)
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all", "linger.ms": 5})
    sent, errors = {}, []
    for i, event in enumerate(sample_events(count, start=start), start=start):
        event["amount"] = i
        value = f'{{"user_id": "broken-{uuid.uuid4().hex}'.encode() if i in malformed else json.dumps(event).encode()
        sent[i] = {"key": f"key-{uuid.uuid4().hex[:8]}-{i}".encode(), "value": value,
                   "headers": [("origin", f"test-{i}".encode()), ("empty", b"")]}
        producer.produce(topic, key=sent[i]["key"], value=value, headers=sent[i]["headers"], partition=0,
                         on_delivery=lambda err, _msg: err and errors.append(err))
        producer.poll(0)
    assert producer.flush(60) == 0
    assert not errors, f"{len(errors)} records refused by Kafka, first: {errors[0]}"
    return sent


def read_topic(kafka, topic: str) -> list:
    """Every record of `topic` up to its current end. Call it once the topic is final, e.g.
    after the connector committed its input to the end: dead letters are acknowledged before
    their batch's offsets are committed, so none can come later."""
    end = sum(kafka.end_offsets(topic).values())
    consumer = Consumer(
        {"bootstrap.servers": kafka.bootstrap, "group.id": unique("dlq-reader"), "auto.offset.reset": "earliest"}
    )
    consumer.subscribe([topic])
    out = []
    try:
        wait_for(f"the {end} records of {topic}",
                 lambda: out.extend(m for m in consumer.consume(500, 1.0) if not m.error()) or len(out) >= end,
                 timeout=60)
    finally:
        consumer.close()
    assert len(out) == end, f"read {len(out)} records from {topic}, its end offset is {end}"
    return out


def task_status(worker, name):
    r = worker.get(f"/connectors/{name}/status")
    assert r.status_code == 200, r.text
    return r.json()["tasks"][0]


def context_of(message) -> dict[str, str]:
    return {k: v.decode() for k, v in (message.headers() or []) if k.startswith("__connect.errors.")}


def test_tolerated_records_go_to_the_dlq_and_the_rest_lands(worker, kafka, clickhouse, names):
    topic, table, name = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    create_table(clickhouse, table)
    bad, _ = produce_input(kafka, topic)
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

    kafka.wait_committed_to_end(name, topic)
    assert clickhouse.scalar(f"SELECT count() FROM {table}") == 9_800
    assert clickhouse.scalar(f"SELECT uniqExact(amount) FROM {table}") == 9_800, "no record twice"
    assert clickhouse.scalar(f"SELECT count() FROM {table} WHERE amount % 100 IN (37, 71)") == 0
    assert task_status(worker, name)["state"] == "RUNNING"

    dead = read_topic(kafka, dlq)
    assert len(dead) == 200
    by_origin = {}
    for m in dead:
        headers = dict(m.headers())
        i = int(headers["origin"].decode().removeprefix("test-"))
        want = bad[i]
        assert m.key() == want["key"] and m.value() == want["value"], i
        # Original headers first, byte for byte, then the context.
        assert m.headers()[:2] == want["headers"], m.headers()
        ctx = context_of(m)
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
    bad, positions = produce_input(kafka, topic)
    assert worker.post("/connectors", clickhouse_connector(name, topic, table, clickhouse.url)).status_code == 201

    failed = wait_for("the task to fail", lambda: (t := task_status(worker, name))["state"] == "FAILED" and t, timeout=120)
    trace = failed["trace"]
    found = re.search(rf"stage (\w+).* topic={re.escape(topic)} partition=(\d+) offset=(\d+)", trace)
    assert found, trace
    stage, partition, offset = found.group(1), int(found.group(2)), int(found.group(3))
    named = [i for i, b in bad.items() if (b["partition"], b["offset"]) == (partition, offset)]
    assert len(named) == 1, f"the trace names a record that is not bad: {trace}"
    assert stage == ("VALUE_CONVERTER" if is_malformed(named[0]) else "TASK_PUT"), trace
    first_bad = {p: min(b["offset"] for b in bad.values() if b["partition"] == p) for p in range(PARTITIONS)}
    assert offset == first_bad[partition], f"not the first bad record of its partition: {trace}"

    # What the task wrote before the bad record is committed, and its partition exactly up to
    # it: a restart resumes at the bad record, writing nothing twice and skipping nothing.
    # (The task commits before it is marked FAILED.)
    committed = kafka.committed(name, topic)
    assert committed.get(partition) == offset, f"committed {committed}, the task failed at {partition}@{offset}"
    amounts = [int(r["amount"]) for r in clickhouse.rows(f"SELECT amount FROM {table}")]
    assert len(amounts) == len(set(amounts)), "a record landed twice"
    landed: dict[int, set[int]] = {p: set() for p in range(PARTITIONS)}
    for i in amounts:
        p, o = positions[i]
        landed[p].add(o)
    bad_at = {(b["partition"], b["offset"]): i for i, b in bad.items()}
    for p in range(PARTITIONS):
        if p not in committed:
            assert not landed[p], f"partition {p}: rows landed but nothing was committed: {committed}"
            continue
        c = committed[p]
        assert 0 <= c <= first_bad[p], f"partition {p} committed past its first bad record {first_bad[p]}: {committed}"
        good_before = {o for o in range(c) if (p, o) not in bad_at}
        assert {o for o in landed[p] if o < c} == good_before, f"partition {p}: committed records missing below {c}"
        # Past the commit, rows can only be the rest of the batch the sink wrote around a value
        # it rejected (TASK_PUT), in the partition of that value.
        past = sorted(o for o in landed[p] if o >= c)
        may_have_more = c == first_bad[p] and is_type_violation(bad_at[(p, c)])
        assert not past or may_have_more, f"partition {p}: rows past the commit {c} would be written again: {past[:5]}"


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

    kafka.wait_committed_to_end(name, topic, timeout=60)
    (dead,) = read_topic(kafka, dlq)
    ctx = context_of(dead)
    assert ctx["__connect.errors.stage"] == "HEADER_CONVERTER", ctx
    assert ctx["__connect.errors.offset"] == "7", ctx
    assert ctx["__connect.errors.class.name"] == "org.apache.kafka.connect.json.JsonConverter", ctx
    assert "trace" in ctx["__connect.errors.exception.message"], ctx
    assert dead.headers()[0] == ("trace", b"{broken"), "the original header, byte for byte"
    assert clickhouse.scalar(f"SELECT count() FROM {table}") == 19
    assert clickhouse.scalar(f"SELECT count() FROM {table} WHERE amount = 7") == 0
    assert task_status(worker, name)["state"] == "RUNNING"


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def log_lines_of(worker, connector: str) -> list[str]:
    """The worker's log lines about `connector`, without terminal colours."""
    text = ANSI.sub("", worker.log_path.read_text(errors="replace"))
    return [line for line in text.splitlines() if f"connector={connector}" in line]


def test_errors_log_names_each_bad_record_and_shows_its_content_only_when_asked(worker, kafka, clickhouse, names):
    """errors.log.enable=true logs each tolerated bad record with its topic, partition, offset
    and stage; errors.log.include.messages=true adds its key and value, which are otherwise
    kept out of the log."""
    runs = {}
    for include in (True, False):
        base = unique("log")
        topic, table, name = f"events_{base}", f"events_{base}", f"ch-{base}"
        create_table(clickhouse, table)
        sent = produce_one_partition(kafka, topic, 20, malformed={7})
        config = clickhouse_connector(name, topic, table, clickhouse.url, **{
            "errors.tolerance": "all",
            "errors.log.enable": "true",
            "errors.log.include.messages": str(include).lower(),
        })
        assert worker.post("/connectors", config).status_code == 201
        runs[include] = (topic, name, sent[7])
    for include, (topic, name, bad) in runs.items():
        kafka.wait_committed_to_end(name, topic, timeout=60)
        # Logged before the batch is committed, so the line is there now.
        lines = [line for line in log_lines_of(worker, name) if "offset=7" in line]
        assert len(lines) == 1, f"one log line for the bad record of {name}: {lines or log_lines_of(worker, name)}"
        (line,) = lines
        assert f"topic={topic}" in line and "partition=0" in line and "VALUE_CONVERTER" in line, line
        key, value = bad["key"].decode(), bad["value"].decode()
        marker = value.split("broken-")[1]
        if include:
            assert key in line, (key, line)
            assert marker in line, (value, line)
        else:
            assert key not in line and marker not in line, line
            assert not any(marker in x for x in log_lines_of(worker, name)), "the value is nowhere in the log"
        assert task_status(worker, name)["state"] == "RUNNING"


def test_without_context_headers_dead_letters_are_the_original_records(worker, kafka, clickhouse, names):
    """errors.deadletterqueue.context.headers.enable=false: dead letters carry the original key,
    value and headers, byte for byte, and no __connect.errors.* header."""
    topic, table, name = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    create_table(clickhouse, table)
    bad = {3, 11, 17}
    sent = produce_one_partition(kafka, topic, 20, malformed=bad)
    config = clickhouse_connector(name, topic, table, clickhouse.url, **{
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "errors.deadletterqueue.context.headers.enable": "false",
    })
    assert worker.post("/connectors", config).status_code == 201

    kafka.wait_committed_to_end(name, topic, timeout=60)
    dead = read_topic(kafka, dlq)
    got = sorted((m.key(), m.value(), m.headers()) for m in dead)
    want = sorted((sent[i]["key"], sent[i]["value"], sent[i]["headers"]) for i in bad)
    assert got == want, "the original records, and only their own headers"
    assert clickhouse.scalar(f"SELECT count() FROM {table}") == 17
    assert task_status(worker, name)["state"] == "RUNNING"


def test_offsets_wait_for_the_dead_letters_and_an_unwritable_dlq_is_waited_out(worker, kafka, clickhouse, names):
    """Dead letters are acknowledged before their batch's offsets are committed. The DLQ producer
    reaches Kafka only through a TCP proxy (the broker's PROXIED listener); the proxy goes
    silent before bad records arrive, so no dead letter can be written while the consumer and
    its commits still work. Meanwhile the committed offsets stay before the first bad record
    and the task stays RUNNING with the DLQ in its trace, also after the producer's
    message.timeout.ms (3 s here) ran out; once the proxy forwards again, the dead letters
    arrive and the offsets reach the end, every good record landed exactly once."""
    topic, table, name = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    create_table(clickhouse, table)
    kafka.create_topic(dlq, partitions=1)
    proxy_port, proxied_port = int(os.environ["SLUICE_KAFKA_PROXY_PORT"]), int(os.environ["SLUICE_KAFKA_PROXIED_PORT"])
    with TcpProxy(proxy_port, proxied_port) as proxy:
        sent = produce_one_partition(kafka, topic, 300)
        config = clickhouse_connector(name, topic, table, clickhouse.url, **{
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
            "errors.retry.delay.max.ms": "1000",
            "producer.override.bootstrap.servers": f"127.0.0.1:{proxy_port}",
            "producer.override.message.timeout.ms": "3000",
        })
        assert worker.post("/connectors", config).status_code == 201
        # No bad record yet: the DLQ is not needed and the offsets move.
        kafka.wait_committed_to_end(name, topic, timeout=60)
        wait_for("the DLQ producer connected through the proxy", lambda: proxy.connections > 0, timeout=30)

        proxy.cut()
        bad = {400, 450, 520}
        sent.update(produce_one_partition(kafka, topic, 300, malformed=bad, start=300, create=False))
        good = [i for i in sent if i not in bad]
        # The sink writes the good records, also those before the first bad one...
        wait_for(f"the {len(good)} good rows", lambda: clickhouse.scalar(f"SELECT count() FROM {table}") == len(good))

        traces = set()

        def not_past_first_bad():
            task = task_status(worker, name)
            traces.add(task.get("trace") or "")
            assert task["state"] == "RUNNING", task
            committed = kafka.committed(name, topic).get(0, 0)
            assert 300 <= committed <= min(bad), f"committed {committed} while the DLQ took no dead letter"
            return True

        # ...but commits nothing after the first bad record while its dead letter is not in
        # Kafka; the task stays RUNNING, past the producer's message.timeout.ms, and says why.
        holds_for("the task RUNNING, its committed offset between 300 and the first bad record", not_past_first_bad, 15)
        assert any(dlq in t and "timed out" in t for t in traces), f"the DLQ outage not in the trace: {traces}"
        assert sum(kafka.end_offsets(dlq).values()) == 0, "no dead letter reached Kafka"

        proxy.restore()
        kafka.wait_committed_to_end(name, topic, timeout=90)
    dead = read_topic(kafka, dlq)
    origins = sorted(int(context_of(m)["__connect.errors.offset"]) for m in dead)
    assert origins == sorted(bad), "each bad record once in the DLQ"
    for m in dead:
        i = int(context_of(m)["__connect.errors.offset"])
        assert (m.key(), m.value()) == (sent[i]["key"], sent[i]["value"]), i
    amounts = [int(r["amount"]) for r in clickhouse.rows(f"SELECT amount FROM {table}")]
    assert len(amounts) == len(good), f"count() is {len(amounts)}, {len(good)} good records were produced"
    assert sorted(amounts) == good, "every good record exactly once"
    assert task_status(worker, name)["state"] == "RUNNING"


def test_a_dlq_topic_that_cannot_be_created_is_shown_in_the_trace_and_counted(worker, kafka, clickhouse, names):
    """A replication factor larger than the cluster (one broker here): Kafka refuses the DLQ
    topic for as long as it lasts. The task waits RUNNING with the cause in its trace and counts
    the retries; nothing is read meanwhile. Once the setting is fixed, the rows land."""
    from test_metrics import wait_metric

    create_table(clickhouse, names["table"])
    dlq = unique("dlq")
    kafka.produce_json(names["topic"], sample_events(100))
    config = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "3"})
    assert worker.post("/connectors", config).status_code == 201

    def waiting():
        task = task_status(worker, names["connector"])
        return task["state"] == "RUNNING" and "Dead letter queue not ready" in (task.get("trace") or "") and task

    task = wait_for("the DLQ problem in the task's trace", waiting, timeout=60)
    assert dlq in task["trace"] or "replication" in task["trace"].lower(), task["trace"]
    wait_metric(worker, "sluice_retries_total", names["connector"], lambda v: v >= 2)
    assert clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 0

    fixed = {**config["config"], "errors.deadletterqueue.topic.replication.factor": "1"}
    assert worker.put(f"/connectors/{names['connector']}/config", fixed).status_code == 200
    wait_for("every row once the DLQ can be created",
             lambda: clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 100, timeout=90)
    assert not task_status(worker, names["connector"]).get("trace")



def test_a_dead_letter_over_the_producers_size_limit_fails_the_task_saying_what_to_raise(worker, kafka, clickhouse,
                                                                                       names):
    """A bad record whose dead letter the DLQ producer refuses outright (larger than its
    `message.max.bytes`) cannot be dead-lettered by waiting: the task FAILS, its trace names the
    record and the setting to raise, and nothing past the last commit is lost. Raising the limit
    lets every good row land once and the bad record reach the DLQ."""
    topic, table, name = names["topic"], names["table"], names["connector"]
    dlq = unique("dlq")
    create_table(clickhouse, table)
    kafka.create_topic(dlq, partitions=1)
    produce_one_partition(kafka, topic, 150)
    big = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all"})
    big.produce(topic, value=b'{"user_id": "' + b"x" * 5000, partition=0)  # cut-off JSON at offset 150
    assert big.flush(30) == 0
    produce_one_partition(kafka, topic, 49, start=151, create=False)
    config = clickhouse_connector(name, topic, table, clickhouse.url, **{
        "errors.tolerance": "all",
        "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1",
        "producer.override.message.max.bytes": "1000",
    })
    assert worker.post("/connectors", config).status_code == 201

    failed = wait_for("the task to fail", lambda: (t := task_status(worker, name))["state"] == "FAILED" and t,
                      timeout=60)
    assert f"{topic}-0@150" in failed["trace"], failed["trace"]
    assert "producer.override.message.max.bytes" in failed["trace"], failed["trace"]
    assert "(retriable)" not in failed["trace"], "a refusal that waiting cannot fix is not retriable"
    assert kafka.committed(name, topic).get(0, 0) <= 150, "committed past the record it failed at"

    raised = {**config["config"], "producer.override.message.max.bytes": "1000000"}
    assert worker.put(f"/connectors/{name}/config", raised).status_code == 200
    kafka.wait_committed_to_end(name, topic, timeout=90)
    amounts = [int(r["amount"]) for r in clickhouse.rows(f"SELECT amount FROM {table}")]
    assert sorted(amounts) == [i for i in range(200) if i != 150], "every good row, once"
    dead = read_topic(kafka, dlq)
    assert [len(m.value()) for m in dead] == [5013], "the one bad record, byte for byte"
