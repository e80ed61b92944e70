"""The benchmark's input: seed-style events (`user_id`, `event_type`, `timestamp`, `session_id`,
`device`) in two topics of 4 partitions each, one as schemaless JSON and one as Avro written
by Confluent's own `AvroSerializer` through the real schema registry.

A third kind, `json-envelope` (`bench-json-envelope-1m`), holds the same events as Kafka Connect's
JsonConverter writes them with `schemas.enable=true`: `{"schema": <struct of 5 strings>,
"payload": <event>}`; the runtime-overhead benchmark (`filesink_bench.py`) reads it.

The topics have fixed names (`bench-json-1m`, `bench-avro-1m`) and are reused when they already
hold exactly the expected number of records (and, for Avro, the registry still knows their
schema id: Apicurio keeps schemas in memory), so a repeated run skips producing. Anything else
under that name is deleted and produced again.

Also here, the benchmarks' other dealings with Kafka: reading what a consumer group has
committed, starting a fresh group at the beginning of a topic, deleting a group afterwards.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass

import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

PARTITIONS = 4
EVENT_TYPES = [
    "page_view", "click", "search", "add_to_cart", "remove_from_cart", "checkout", "purchase", "refund",
    "signup", "login", "logout", "share", "like", "comment", "video_play", "error",
]
DEVICES = ["mobile", "desktop", "tablet", "tv"]
BASE_MS = 1_758_191_400_000  # 2025-09-18T10:30:00Z
SPAN_MS = 3 * 86_400_000  # timestamps spread over three days, one millisecond apart or more

AVRO_SCHEMA = {
    "type": "record",
    "name": "Event",
    "namespace": "io.sluice.bench",
    "fields": [{"name": f, "type": "string"} for f in ("user_id", "event_type", "timestamp", "session_id", "device")],
}

# The schema of the events in JsonConverter's envelope (kind "json-envelope").
ENVELOPE_SCHEMA = {
    "type": "struct",
    "name": "io.sluice.bench.Event",
    "optional": False,
    "fields": [{"field": f, "type": "string", "optional": False}
               for f in ("user_id", "event_type", "timestamp", "session_id", "device")],
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def events(count: int):
    """`count` events, the same on every run. Each timestamp is distinct (ISO-8601 with
    milliseconds), so `count(DISTINCT timestamp)` over the output shows nothing was lost or
    written twice. Event `i` goes to partition `i % 4`; the event types are drawn at random,
    so every partition holds all 16 of them."""
    rng = random.Random(20250918)
    step = max(1, SPAN_MS // count)
    for i in range(count):
        ms = BASE_MS + i * step
        ts = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"
        yield {
            "user_id": f"user_{rng.randrange(50_000)}",
            "event_type": EVENT_TYPES[rng.randrange(len(EVENT_TYPES))],
            "timestamp": ts,
            "session_id": f"sess_{rng.getrandbits(48):012x}",
            "device": DEVICES[rng.randrange(len(DEVICES))],
        }


def topic_name(kind: str, count: int) -> str:
    size = f"{count // 1_000_000}m" if count % 1_000_000 == 0 else f"{count // 1000}k" if count % 1000 == 0 else str(count)
    return f"bench-{kind}-{size}"


@dataclass
class BenchTopic:
    name: str
    kind: str  # "json", "json-envelope" or "avro"
    records: int
    payload_bytes: int  # sum of the record values' sizes, as kcat reports them


class Topics:
    """Creates, checks and fills the benchmark topics on one broker."""

    def __init__(self, bootstrap: str, registry_url: str):
        self.bootstrap = bootstrap
        self.registry_url = registry_url.rstrip("/")
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def ensure(self, kind: str, count: int) -> BenchTopic:
        name = topic_name(kind, count)
        problem = self._why_not_reusable(name, kind, count)
        if problem is None:
            log(f"{name}: reused (holds exactly {count:,} records)")
        else:
            log(f"{name}: {problem}; producing {count:,} {kind} records")
            self._recreate(name)
            t0 = time.monotonic()
            self._produce(name, kind, count)
            log(f"{name}: produced in {time.monotonic() - t0:.1f} s")
            problem = self._why_not_reusable(name, kind, count)
            if problem is not None:
                raise RuntimeError(f"{name} after producing: {problem}")
        records, payload = census(self.bootstrap, name)
        if records != count:
            raise RuntimeError(f"kcat read {records:,} records from {name}, expected {count:,}")
        return BenchTopic(name, kind, records, payload)

    def record_counts(self, name: str) -> dict[int, int] | None:
        """Records per partition (high minus low watermark), None when the topic does not exist
        or its partitions have no leader yet (just created: the broker answers "not leader")."""
        metadata = self.admin.list_topics(timeout=10).topics.get(name)
        if metadata is None or metadata.error is not None:
            return None
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "sluice-bench-probe"})
        try:
            counts = {}
            for p in metadata.partitions:
                try:
                    low, high = consumer.get_watermark_offsets(TopicPartition(name, p), timeout=10)
                except KafkaException as e:
                    if e.args[0].code() in (KafkaError.NOT_LEADER_FOR_PARTITION, KafkaError.LEADER_NOT_AVAILABLE,
                                            KafkaError.UNKNOWN_TOPIC_OR_PART):
                        return None
                    raise
                counts[p] = high - low
            return counts
        finally:
            consumer.close()

    def _why_not_reusable(self, name: str, kind: str, count: int) -> str | None:
        counts = self.record_counts(name)
        if counts is None:
            return "does not exist"
        if len(counts) != PARTITIONS or sum(counts.values()) != count:
            return f"holds {sum(counts.values()):,} records in {len(counts)} partitions"
        if kind == "avro":
            schema_id = first_schema_id(self.bootstrap, name)
            r = requests.get(f"{self.registry_url}/schemas/ids/{schema_id}", timeout=10)
            if r.status_code != 200:
                return f"its schema id {schema_id} is unknown to the registry (HTTP {r.status_code}; restarted?)"
        return None

    def _recreate(self, name: str) -> None:
        if name in self.admin.list_topics(timeout=10).topics:
            self.admin.delete_topics([name])[name].result(timeout=60)
            wait(f"{name} to be deleted", lambda: name not in self.admin.list_topics(timeout=10).topics)
        deadline = time.monotonic() + 60
        while True:
            try:
                self.admin.create_topics([NewTopic(name, PARTITIONS, 1)])[name].result(timeout=30)
                break
            except KafkaException as e:  # still being deleted: ask again
                if e.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS or time.monotonic() > deadline:
                    raise
                time.sleep(1)
        wait(f"{name} metadata", lambda: self.record_counts(name) is not None)

    def _produce(self, name: str, kind: str, count: int) -> None:
        if kind == "json":
            encode = lambda e: json.dumps(e).encode()  # noqa: E731
        elif kind == "json-envelope":
            head = '{"schema":' + json.dumps(ENVELOPE_SCHEMA) + ',"payload":'
            encode = lambda e: (head + json.dumps(e) + "}").encode()  # noqa: E731
        else:
            registry = SchemaRegistryClient({"url": self.registry_url, "timeout": 10})
            serializer = AvroSerializer(registry, json.dumps(AVRO_SCHEMA), conf={"auto.register.schemas": True})
            ctx = SerializationContext(name, MessageField.VALUE)
            encode = lambda e: serializer(e, ctx)  # noqa: E731
        producer = Producer({
            "bootstrap.servers": self.bootstrap,
            "acks": "all",
            "linger.ms": 50,
            "batch.size": 1_000_000,
            "compression.type": "lz4",
            "queue.buffering.max.messages": 1_000_000,
            "queue.buffering.max.kbytes": 262_144,
        })
        failed: list = []

        def delivered(err, _msg):
            if err is not None:
                failed.append(err)

        for i, event in enumerate(events(count)):
            payload = encode(event)
            while True:
                try:
                    producer.produce(name, value=payload, partition=i % PARTITIONS, on_delivery=delivered)
                    break
                except BufferError:
                    producer.poll(0.05)
            if i % 10_000 == 0:
                producer.poll(0)
                if i and i % 200_000 == 0:
                    log(f"{name}: {i:,} produced")
        remaining = producer.flush(300)
        if remaining or failed:
            raise RuntimeError(f"{name}: {remaining} records undelivered, {len(failed)} refused (first: {failed[:1]})")


def census(bootstrap: str, topic: str) -> tuple[int, int]:
    """Reads the whole topic with kcat and returns (records, value bytes). Also warms the page
    cache, so every measured row reads the topic from memory."""
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-e", "-o", "beginning", "-q", "-f", "%S\n"],
                         check=True, capture_output=True, timeout=600).stdout
    sizes = out.split()
    return len(sizes), sum(map(int, sizes))


def first_schema_id(bootstrap: str, topic: str) -> int:
    """The schema id in the first record of partition 0 (Confluent framing: 0x00, 4-byte id)."""
    out = subprocess.run(["kcat", "-C", "-b", bootstrap, "-t", topic, "-p", "0", "-o", "beginning", "-c", "1",
                          "-e", "-q", "-f", "%s"], check=True, capture_output=True, timeout=60).stdout
    if len(out) < 5 or out[0] != 0:
        raise RuntimeError(f"the first record of {topic} is not Confluent-framed Avro: {out[:16]!r}")
    return int.from_bytes(out[1:5], "big")


def wait(what: str, predicate, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.5)


def require_env(name: str, make_target: str, services: str = "kafka registry") -> str:
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set: run `tests/services/services.sh up {services}` and "
                 f'`eval "$(tests/services/services.sh env)"` first, or `make {make_target}`.')
    return value


class CommitProbe:
    """Reads what group `group` has committed, with one consumer that never joins the group
    (OffsetFetch only)."""

    def __init__(self, bootstrap: str, group: str, topic: str):
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group,
                                  "enable.auto.commit": False, "isolation.level": "read_uncommitted"})
        self.partitions = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        self.ends = {p: self.consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1]
                     for p in range(PARTITIONS)}

    def committed(self) -> dict[int, int]:
        try:
            return {tp.partition: tp.offset for tp in self.consumer.committed(self.partitions, timeout=5)}
        except Exception:  # the coordinator loading the new group: ask again
            return {}

    def done(self) -> bool:
        return self.committed() == self.ends

    def close(self) -> None:
        self.consumer.close()


def commit_beginning(bootstrap: str, group: str, topic: str) -> None:
    """Commits each partition's low watermark for a new group, so a consumer of that group that
    would start at the end (librdkafka's default `auto.offset.reset`) starts at the beginning."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        offsets = [TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[0])
                   for p in range(PARTITIONS)]
        for tp in consumer.commit(offsets=offsets, asynchronous=False):
            if tp.error is not None:
                raise RuntimeError(f"committing the start of {topic} [{tp.partition}] for {group}: {tp.error}")
    finally:
        consumer.close()


def forget_group(bootstrap: str, group: str) -> None:
    """Deletes a benchmark's consumer group from the shared broker (best effort)."""
    # held: the future dies with its client; log_level 4: not its info line about purged events
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})
    try:
        admin.delete_consumer_groups([group], request_timeout=10)[group].result(timeout=30)
    except Exception as e:  # a leftover group is harmless
        log(f"  could not delete group {group}: {e!r}")
