"""`sluice gen`, the load generator for the sample event, against the real Kafka and registry,
read back by Confluent's own Python deserializers (Avro, JSON Schema, Protobuf).

What a user checks: a million events land in the topic, every one distinct, all 16 event types,
and the last line reports the rate; registry formats are readable by Confluent's clients with
the schema gen registered under `<topic>-value`; keys are what `--key` says; `--rate` holds the
producer back; a registry format without a registry is refused with the option to pass.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time

from confluent_kafka import Consumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

from sluice_harness import REPO, unique

FIELDS = ["user_id", "event_type", "timestamp", "session_id", "device"]
REPORT = re.compile(r"produced (\d+) records \((\d+) bytes of values\) to (\S+) in ([\d.]+) s: (\d+) records/s")


def binary() -> str:
    return os.environ.get("SLUICE_BIN", str(REPO / "target" / "debug" / "sluice"))


def gen(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([binary(), "gen", *args], capture_output=True, text=True, timeout=timeout)


def consume_all(bootstrap: str, topic: str, expected: int, timeout: float = 120) -> list:
    """Every message of `topic`, read from the beginning by a fresh group, until `expected`."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("gen-check"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list = []
    deadline = time.monotonic() + timeout
    try:
        while len(out) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(10_000, timeout=1.0):
                assert msg.error() is None, msg.error()
                out.append(msg)
    finally:
        consumer.close()
    return out


def test_a_million_json_events_land_distinct_and_the_rate_is_reported(kafka):
    topic = unique("gen-json")
    kafka.create_topic(topic, 4)
    done = gen("--topic", topic, "--count", "1000000", "--bootstrap-server", kafka.bootstrap)
    assert done.returncode == 0, done.stderr
    report = REPORT.search(done.stdout)
    assert report, done.stdout
    assert int(report.group(1)) == 1_000_000 and report.group(3) == topic
    assert int(report.group(5)) > 0
    assert sum(kafka.end_offsets(topic).values()) == 1_000_000

    messages = consume_all(kafka.bootstrap, topic, 1_000_000)
    assert len(messages) == 1_000_000
    sessions, types = set(), set()
    for msg in messages:
        event = json.loads(msg.value())
        sessions.add(event["session_id"])
        types.add(event["event_type"])
    assert len(sessions) == 1_000_000  # every event its own, none twice
    assert len(types) == 16
    assert sorted(json.loads(messages[0].value())) == sorted(FIELDS)
    assert all(m.key() is None for m in messages[:1000])


def event_class():
    """The Protobuf message gen registers, as generated code would have it."""
    fdp = descriptor_pb2.FileDescriptorProto(name="event.proto", package="io.sluice.sample", syntax="proto3")
    msg = fdp.message_type.add(name="Event")
    for number, name in enumerate(FIELDS, start=1):
        msg.field.add(name=name, number=number, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                      label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("io.sluice.sample.Event"))


def test_registry_formats_are_read_by_confluents_deserializers(kafka, registry_url):
    registry = SchemaRegistryClient({"url": registry_url})
    Event = event_class()
    deserializers = {
        "avro": AvroDeserializer(registry),
        "json-schema": JSONDeserializer(None, schema_registry_client=registry),
        "protobuf": ProtobufDeserializer(Event, {"use.deprecated.format": False}),
    }
    first = None
    for fmt, deserializer in deserializers.items():
        topic = unique(f"gen-{fmt}")
        kafka.create_topic(topic, 1)
        done = gen("--topic", topic, "--count", "500", "--format", fmt, "--key", "user-id",
                   "--bootstrap-server", kafka.bootstrap, "--registry-url", registry_url)
        assert done.returncode == 0, done.stderr
        messages = consume_all(kafka.bootstrap, topic, 500)
        assert len(messages) == 500
        # The schema gen used is the one registered for the topic's values.
        assert registry.get_latest_version(f"{topic}-value").schema_id == int.from_bytes(messages[0].value()[1:5], "big")
        events = []
        for msg in messages:
            value = deserializer(msg.value(), SerializationContext(topic, MessageField.VALUE))
            if fmt == "protobuf":
                value = {f: getattr(value, f) for f in FIELDS}
            assert msg.key().decode() == value["user_id"]
            events.append(value)
        assert len({e["session_id"] for e in events}) == 500
        assert events[0]["timestamp"] == "2025-09-18T10:30:00.000Z"
        # Every format carries the same events.
        if first is None:
            first = events
        assert events == first, fmt


def test_rate_limits_the_producer_and_bad_options_name_what_to_pass(kafka):
    topic = unique("gen-rate")
    kafka.create_topic(topic, 1)
    t0 = time.monotonic()
    done = gen("--topic", topic, "--count", "3000", "--rate", "1500", "--bootstrap-server", kafka.bootstrap)
    assert done.returncode == 0, done.stderr
    assert time.monotonic() - t0 >= 1.9  # 3,000 records at 1,500/s
    assert sum(kafka.end_offsets(topic).values()) == 3000

    refused = subprocess.run([binary(), "gen", "--topic", topic, "--count", "1", "--format", "avro"],
                             capture_output=True, text=True, timeout=60,
                             env={k: v for k, v in os.environ.items() if k != "SLUICE_REGISTRY_URL"})
    assert refused.returncode != 0
    assert "--registry-url" in refused.stderr, refused.stderr
    assert sum(kafka.end_offsets(topic).values()) == 3000  # nothing was sent
