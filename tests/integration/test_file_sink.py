"""Kafka Connect's FileStreamSinkConnector, run by the real `sluice` binary: JSON with the
schema envelope (JsonConverter, schemas.enable=true) produced by Confluent's Python client, one
line per record in the file, each value as Kafka Connect's JVM prints it (`Struct{a=1,b=x}`,
null fields left out, `{k=v, k=v}` in HashMap order, `java.util.Date` text, `null` for a
tombstone). The expected lines of the mixed record were printed by Kafka 4.3.1's own
JsonConverter and `String.valueOf` on a JVM.

What a user checks: the plugin is listed under Kafka Connect's class name; the file holds exactly
the expected lines, each partition's in offset order; a stop and start of the worker loses and
repeats nothing (line count == records), and once the group has committed a record its line
is in the file; without `file` the lines go to stdout; validation names
the `file` key. Each test has its own topic, connector and directory; about 10 s in all.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from confluent_kafka import Producer

from sluice_harness import Kafka, Worker, unique

CLASS = "org.apache.kafka.connect.file.FileStreamSinkConnector"
PARTITIONS = 2

EVENT_SCHEMA = {
    "type": "struct",
    "name": "sluice.test.Event",
    "optional": False,
    "fields": [
        {"field": "user_id", "type": "string", "optional": False},
        {"field": "event_type", "type": "string", "optional": False},
        {"field": "session_id", "type": "string", "optional": False},
        {"field": "device", "type": "string", "optional": True},
        {"field": "amount", "type": "double", "optional": True},
        {"field": "items", "type": "int32", "optional": True},
    ],
}

# One record of (almost) every kind, and its line as Kafka Connect 4.3.1 prints it.
MIXED = {
    "schema": {
        "type": "struct", "name": "sluice.test.Mixed",
        "fields": [
            {"field": "tags", "type": "array", "items": {"type": "string"}},
            {"field": "ok", "type": "boolean"},
            {"field": "at", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1},
            {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1,
             "parameters": {"scale": "2"}},
            {"field": "attrs", "type": "map", "keys": {"type": "string"}, "values": {"type": "int32"}},
            {"field": "note", "type": "string", "optional": True},
            {"field": "ratio", "type": "double"},
            {"field": "inner", "type": "struct", "fields": [{"field": "n", "type": "int32"}]},
        ],
    },
    "payload": {"tags": ["a", "b c"], "ok": True, "at": 1758191400123, "price": "MDk=",
                "attrs": {"zz": 1, "b": 2, "a": 3}, "note": None, "ratio": 1e-4, "inner": {"n": 7}},
}
MIXED_LINE = ("Struct{tags=[a, b c],ok=true,at=Thu Sep 18 10:30:00 UTC 2025,price=123.45,"
              "attrs={zz=1, a=3, b=2},ratio=1.0E-4,inner=Struct{n=7}}")
PLAIN = {"schema": {"type": "string", "optional": False}, "payload": "plain text"}


def event(i: int) -> dict:
    """A sample event; every 5th has no device and every 7th no amount (null fields are left
    out of the line)."""
    return {
        "user_id": f"user_{i % 97}",
        "event_type": ["purchase", "view", "click", "signup"][i % 4],
        "session_id": f"sess_{i}",
        "device": None if i % 5 == 0 else ["mobile", "desktop", "tablet"][i % 3],
        "amount": None if i % 7 == 0 else (i % 40) * 0.25,
        "items": i % 9,
    }


def event_line(i: int) -> str:
    """Struct.toString of event(i): `name=value` of the non-null fields, Double.toString for
    the amount (plain `x.y` in this range, as Python's repr)."""
    fields = [f"{k}={v!r}" if isinstance(v, float) else f"{k}={v}" for k, v in event(i).items() if v is not None]
    return "Struct{" + ",".join(fields) + "}"


def produce_events(kafka: Kafka, topic: str, numbers: range) -> None:
    """Event i goes to partition i % PARTITIONS, in the envelope JsonConverter reads."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all", "linger.ms": 20})
    failed = []
    for i in numbers:
        value = json.dumps({"schema": EVENT_SCHEMA, "payload": event(i)}).encode()
        producer.produce(topic, key=f"sess_{i}".encode(), value=value, partition=i % PARTITIONS,
                         on_delivery=lambda err, _msg: err and failed.append(err))
        producer.poll(0)
    assert producer.flush(60) == 0 and not failed, f"Kafka refused events: {failed[:1]}"


def produce_specials(kafka: Kafka, topic: str) -> None:
    """The mixed record, a plain string and a tombstone, in that order, to partition 0."""
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all"})
    for value in (json.dumps(MIXED).encode(), json.dumps(PLAIN).encode(), None):
        producer.produce(topic, key=b"special", value=value, partition=0)
    assert producer.flush(30) == 0


def file_connector(topic: str, path: Path | None, tasks: int = PARTITIONS) -> dict[str, str]:
    config = {
        "connector.class": CLASS,
        "tasks.max": str(tasks),
        "topics": topic,
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
    }
    if path is not None:
        config["file"] = str(path)
    return config


def lines_of(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def assert_partition_order(lines: list[str], numbers: range) -> None:
    """Each partition's events appear in the order they were produced (offset order)."""
    position = {line: n for n, line in enumerate(lines)}
    for p in range(PARTITIONS):
        seen = [position[event_line(i)] for i in numbers if i % PARTITIONS == p]
        assert seen == sorted(seen), f"partition {p}'s lines are out of offset order"


def test_plugin_is_listed_under_kafka_connects_class(worker):
    plugins = {p["class"]: p for p in worker.get("/connector-plugins").json()}
    assert CLASS in plugins, sorted(plugins)
    assert plugins[CLASS]["type"] == "sink" and plugins[CLASS]["version"]
    definition = {c["name"]: c for c in worker.get("/connector-plugins/FileStreamSink/config").json()}
    assert definition["file"]["type"] == "STRING" and definition["file"]["importance"] == "HIGH", definition["file"]


def test_validation_names_the_file_key(worker, tmp_path):
    path = "/connector-plugins/FileStreamSink/config/validate"
    good = {**file_connector("t", tmp_path / "out.txt"), "name": unique("file-ok")}
    r = worker.put(path, good)
    assert r.status_code == 200 and r.json()["error_count"] == 0, r.text
    r = worker.put(path, {**good, "file": str(tmp_path)})
    errors = {c["value"]["name"]: c["value"]["errors"] for c in r.json()["configs"] if c["value"]["errors"]}
    assert r.json()["error_count"] == 1 and set(errors) == {"file"}, r.text
    assert "is a directory" in errors["file"][0], errors


def test_exact_lines_and_none_lost_or_repeated_across_a_restart(kafka, tmp_path):
    topic, name = unique("file_sink"), unique("file-sink")
    out = tmp_path / "out" / "sink.txt"
    out.parent.mkdir()
    out.write_text("a line from before\n")  # appended to, never truncated
    kafka.create_topic(topic, partitions=PARTITIONS)
    first, second = range(0, 300), range(300, 500)
    produce_specials(kafka, topic)
    produce_events(kafka, topic, first)

    worker = Worker(tmp_path / "worker", kafka.bootstrap).start()
    try:
        r = worker.put(f"/connectors/{name}/config", file_connector(topic, out))
        assert r.status_code == 201, r.text
        expected = ["a line from before", MIXED_LINE, "plain text", "null"] + [event_line(i) for i in first]
        # Offsets are committed only for written lines: once the group has committed every
        # record, every line is in the file (nothing is waited for after that).
        kafka.wait_committed_to_end(name, topic, timeout=60)
        lines = lines_of(out)
        assert Counter(lines) == Counter(expected), (
            f"missing {list((Counter(expected) - Counter(lines)).items())[:3]}, "
            f"unexpected {list((Counter(lines) - Counter(expected)).items())[:3]}")
        specials = [line for line in lines if not line.startswith("Struct{user_id=")]
        assert specials == ["a line from before", MIXED_LINE, "plain text", "null"], specials
        assert_partition_order(lines, first)
        assert worker.task_states(name) == ["RUNNING"] * PARTITIONS

        worker.stop()  # SIGTERM: tasks flush, offsets are committed, the worker exits
        produce_events(kafka, topic, second)  # while no worker runs
        worker.start()  # same data directory: the connector comes back, resumes from the commits
        expected += [event_line(i) for i in second]
        kafka.wait_committed_to_end(name, topic, timeout=60)
        lines = lines_of(out)
        assert len(lines) == len(expected), f"{len(lines)} lines for {len(expected)} (1 old line + records)"
        assert Counter(lines) == Counter(expected), (
            f"missing {list((Counter(expected) - Counter(lines)).items())[:3]}, "
            f"repeated or unexpected {list((Counter(lines) - Counter(expected)).items())[:3]}")
        assert_partition_order(lines, range(0, 500))
    finally:
        worker.stop()


def test_without_file_the_lines_go_to_stdout(worker, kafka):
    topic, name = unique("file_stdout"), unique("file-stdout")
    kafka.create_topic(topic, partitions=1)
    r = worker.put(f"/connectors/{name}/config", {**file_connector(topic, None, tasks=1), "file": ""})
    assert r.status_code == 201, r.text
    numbers = range(0, 10_000, 1000)
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for i in numbers:
        producer.produce(topic, value=json.dumps({"schema": EVENT_SCHEMA, "payload": event(i)}).encode())
    assert producer.flush(30) == 0
    kafka.wait_committed_to_end(name, topic, timeout=60)
    logged = set(worker.log_path.read_text(errors="replace").splitlines())  # stdout and stderr
    missing = [event_line(i) for i in numbers if event_line(i) not in logged]
    assert not missing, f"not on the worker's stdout as whole lines: {missing[:3]}"
