"""The Parquet sink end to end: records produced by Confluent's own Python client (Avro through
the real registry, or JSON), the real `sluice` binary writing into SeaweedFS (S3) or a local
directory, and every file read back by readers no one here wrote: pyarrow, duckdb and chdb
(ClickHouse 26.x in-process). Each test has its own topic, bucket or directory.

What a user checks: row counts over the whole tree and per partition directory, each record in
exactly one row (the rows carry their Kafka coordinates, added by InsertField), offset ranges of
files that never overlap, the committed offsets of group connect-<name>, task states, and the
dead letter queue's headers.

About 1.5 minutes for the whole module on 2 cores: the kill -9 test ~35 s (three restarts, each
waiting out the killed consumers' 6 s session), the scheduled rotation ~20 s (it watches wall-clock
time), the 200,000 Avro events ~20 s, the rest a few seconds each.
"""

from __future__ import annotations

import calendar
import json
import random
import time
from collections import Counter

import pyarrow as pa
import pytest
from confluent_kafka import Producer
from confluent_kafka.serialization import MessageField, SerializationContext

from parquet_harness import (
    CONFLUENT_S3_CLASS, PARQUET_FORMAT, ParquetTree, all_offsets, assert_coordinates_exactly_once,
    assert_running, chdb_counts, chdb_rows, chdb_s3_source, local_store, new_bucket, parquet_connector,
    produce_raw, read_topic, require_parquet_plugin, s3_filesystem, s3_keys, s3_store, wait_committed_to_end,
)
from registry_clients import avro_serializer, produce
from sluice_harness import Background, Worker, unique, wait_for

KINDS = ["purchase", "view", "click", "signup"]
DEVICES = ["mobile", "desktop", "tablet"]
DAY0 = calendar.timegm((2025, 9, 18, 0, 0, 0))  # 2025-09-18T00:00:00Z
DAYS = 5


def seed_event(i: int) -> dict:
    """The README's sample event; times spread over DAYS days (a fixed permutation of seconds),
    event types uneven (3:3:2:2), so directories differ in size."""
    t = DAY0 + (i * 2654435761) % (DAYS * 86400)
    return {
        "user_id": f"user_{i % 97}",
        "event_type": KINDS[(i % 10) % 4],
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(t)),
        "session_id": f"sess_{i}",
        "device": DEVICES[i % 3],
    }


def day_dirs(iso: str) -> str:
    return f"year={iso[0:4]}/month={iso[5:7]}/day={iso[8:10]}"


EVENT_AVRO = {
    "type": "record", "name": "Event", "namespace": "sluice.test",
    "fields": [{"name": n, "type": "string"} for n in ("user_id", "event_type", "timestamp", "session_id", "device")],
}


@pytest.fixture
def buckets():
    """Makes new buckets; deletes them afterwards (best effort: the files checked are copies)."""
    made: list[str] = []

    def make() -> str:
        made.append(new_bucket())
        return made[-1]

    yield make
    for bucket in made:
        try:
            s3_filesystem().delete_dir(bucket)
        except OSError:
            pass


def create_connector(worker, body: dict) -> None:
    r = worker.post("/connectors", body)
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------------------------------------
# 1. 200,000 Avro events, FieldTime(event_type) + daily directories, into S3

def test_avro_events_into_s3_field_and_daily_directories(worker, kafka, registry_url, tmp_path, buckets):
    require_parquet_plugin(worker)
    count, partitions = 200_000, 4
    topic, name, bucket = unique("pq_avro"), unique("pq-avro"), buckets()
    kafka.create_topic(topic, partitions=partitions)
    events = [seed_event(i) for i in range(count)]
    produce(kafka.bootstrap, topic, events, avro_serializer(registry_url, EVENT_AVRO), key=lambda i, v: v["session_id"])
    ends = kafka.end_offsets(topic)
    assert sum(ends.values()) == count

    create_connector(worker, parquet_connector(
        name, topic, s3_store(bucket), flush_size=20_000, tasks=2,
        **{
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "io.confluent.connect.avro.AvroConverter",
            "value.converter.schema.registry.url": registry_url,
            "partitioner.class": "io.sluice.connect.parquet.FieldTimePartitioner",
            "partition.field.name": "event_type",
            "path.format": "'year'=YYYY/'month'=MM/'day'=dd",
            "partition.duration.ms": "86400000",
            "timezone": "UTC",
            "locale": "en-US",
            "timestamp.extractor": "RecordField",
            "timestamp.field": "timestamp",
            "rotate.schedule.interval.ms": "10000",
        }))
    wait_committed_to_end(worker, kafka, name, topic, timeout=240)
    assert_running(worker, name, tasks=2)

    expected_dirs = Counter(f"event_type={e['event_type']}/{day_dirs(e['timestamp'])}" for e in events)
    assert len(expected_dirs) == len(KINDS) * DAYS

    tree = ParquetTree.from_bucket(bucket, tmp_path / "bucket", topic)
    tree.check_files(codec="snappy")
    tree.check_no_overlap()
    tree.check_record_counts(ends)
    tree.check_state_objects(range(partitions))
    # Rows per directory: pyarrow, duckdb (local copy) and ClickHouse (chdb, straight from S3).
    assert tree.counts_by_directory() == expected_dirs
    total, per_dir = tree.duckdb_counts()
    assert total == count, f"duckdb count(*) over the tree is {total}"
    assert per_dir == expected_dirs
    source, prefix = chdb_s3_source(bucket, topic)
    total, per_dir = chdb_counts(source, prefix)
    assert total == count, f"chdb count() over s3() is {total}"
    assert per_dir == expected_dirs
    local_total, _ = tree.chdb_counts()
    assert local_total == count, f"chdb count() over file() is {local_total}"

    # Each record in exactly one row, with its own values, in the directory of its own values.
    assert_coordinates_exactly_once(tree, all_offsets(ends))
    by_session = {e["session_id"]: e for e in events}
    for f in tree.files:
        rows = f.read().to_pylist()
        for row in rows:
            want = by_session[row["session_id"]]
            assert {k: row[k] for k in want} == want, f"{f.rel}: {row}"
        dirs = {f"event_type={r['event_type']}/{day_dirs(r['timestamp'])}" for r in rows}
        assert dirs == {f.directory}, f"{f.rel} holds rows of {dirs}"
    fields = [fd["name"] for fd in EVENT_AVRO["fields"]]
    for f in tree.files:
        assert f.schema.names == fields + ["kafka_partition", "kafka_offset"], f"{f.rel}: {f.schema}"
        assert all(pa.types.is_string(f.schema.field(n).type) for n in fields), f"{f.rel}: {f.schema}"
        assert pa.types.is_integer(f.schema.field("kafka_offset").type), f"{f.rel}: {f.schema}"


# ---------------------------------------------------------------------------------------------
# 2. Schemaless JSON with fields coming and going, into a local directory

def shifting_record(i: int) -> dict:
    r: dict = {"id": i, "kind": ["a", "b", "c"][i % 3]}
    if i % 2 == 0:
        r["name"] = f"n{i}"
    if i % 5 == 0:
        r["score"] = i if i % 10 == 0 else i + 0.5  # integers and decimals in one field
    if i % 7 == 0:
        r["geo"] = {"country": "DE" if i % 2 else "FR", "zip": i}
    if i % 11 == 0:
        r["tags"] = [f"t{i}", "x"]
    if i < 1500:
        r["early"] = f"e{i}"  # disappears
    if i >= 4000:
        r["late"] = i % 2 == 0  # appears
    return r


# With the coordinates transform, values are decoded before the sink; without any transform,
# the sink reads each value's JSON text itself (the JSON lane). Records carry their own Kafka
# coordinates (produced in order to fixed partitions), so both runs check them row by row.
LANES = pytest.mark.parametrize("coords", [True, False], ids=["decoded", "json-lane"])


def produce_with_coordinates(kafka, topic: str, records: list, partitions: int, raw: dict | None = None) -> list:
    """Produces the records in order, ten at a time to each partition in turn (so integers and
    fractions of one field share files), each saying where it lands in its fields
    kafka_partition / kafka_offset (None is a tombstone); `raw` replaces some records' bytes.
    Returns the values as produced."""
    where, next_offset = [], [0] * partitions
    for i, r in enumerate(records):
        p = (i // 10) % partitions
        where.append((p, next_offset[p]))
        next_offset[p] += 1
        if r is not None:
            r.update(kafka_partition=p, kafka_offset=where[-1][1])
    values = [(raw or {}).get(i, None if r is None else json.dumps(r).encode()) for i, r in enumerate(records)]
    positions = produce_raw(kafka.bootstrap, topic, [(f"key-{i}".encode(), v, p) for i, (v, (p, _)) in enumerate(zip(values, where))],
                            **{"enable.idempotence": True})
    assert positions == where, "records landed out of order"
    return values


@LANES
def test_schemaless_json_union_schema_into_a_local_directory(worker, kafka, tmp_path, coords):
    require_parquet_plugin(worker)
    count = 6000
    topic, name, out = unique("pq_json"), unique("pq-json"), tmp_path / "out"
    kafka.create_topic(topic, partitions=2)
    records = [shifting_record(i) for i in range(count)]
    produce_with_coordinates(kafka, topic, records, partitions=2)
    ends = kafka.end_offsets(topic)

    create_connector(worker, parquet_connector(
        name, topic, local_store(out), flush_size=1000, coords=coords,
        **{"partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
           "partition.field.name": "kind", "rotate.schedule.interval.ms": "3000", "parquet.codec": "zstd"}))
    wait_committed_to_end(worker, kafka, name, topic, timeout=90)
    assert_running(worker, name)

    tree = ParquetTree(out, topic)
    tree.check_files(codec="zstd")
    tree.check_no_overlap()
    assert_coordinates_exactly_once(tree, all_offsets(ends))
    assert tree.counts_by_directory() == Counter(f"kind={r['kind']}" for r in records)
    coord_columns = {"kafka_partition", "kafka_offset"}
    for f in tree.files:
        rows = f.read().to_pylist()
        mine = [records[row["id"]] for row in rows]
        assert {r["kind"] for r in mine} == {f.directory.removeprefix("kind=")}, f"{f.rel}: rows of other kinds"
        # Per file: the union of its records' fields, no more, no less.
        assert set(f.schema.names) == set().union(*mine), f"{f.rel}: columns {f.schema.names}"
        for row, want in zip(rows, mine):
            for column, value in row.items():
                if column in coord_columns:
                    continue
                if column not in want:
                    assert value is None, f"{f.rel}: {column} should be null for {want}: {row}"
                elif column == "score":
                    assert value == want["score"] and not isinstance(value, str), f"{f.rel}: {row} vs {want}"
                else:
                    assert value == want[column], f"{f.rel}: {column} of {want}: {row}"
    assert set(tree.table().schema.names) == {"id", "kind", "name", "score", "geo", "tags", "early", "late"} | coord_columns

    total, per_dir = tree.duckdb_counts()
    assert total == count
    assert per_dir == tree.counts_by_directory()
    (got,) = tree.duckdb("SELECT count(late), count(early), count(geo), sum(score), count(*) - count(name) FROM {files}")
    want = (sum("late" in r for r in records), sum("early" in r for r in records), sum("geo" in r for r in records),
            sum(r.get("score", 0) for r in records), sum("name" not in r for r in records))
    assert got == want, f"duckdb: {got}, expected {want}"
    total, per_dir = tree.chdb_counts()
    assert total == count and per_dir == tree.counts_by_directory()
    (row,) = chdb_rows(f"SELECT count() AS n, countIf(late IS NOT NULL) AS late, countIf(early IS NOT NULL) AS early "
                       f"FROM file('{tree.glob()}', Parquet) SETTINGS schema_inference_mode = 'union'")
    assert (int(row["n"]), int(row["late"]), int(row["early"])) == (count, want[0], want[1]), row


# ---------------------------------------------------------------------------------------------
# 3. kill -9 three times during 200,000 events: exactly once, no overlapping files, no debris

def test_kill_9_three_times_writes_every_record_exactly_once(kafka, tmp_path):
    count, partitions = 200_000, 4
    topic, name, out = unique("pq_kill"), unique("pq-kill"), tmp_path / "out"
    kafka.create_topic(topic, partitions=partitions)
    worker = Worker(tmp_path / "worker", kafka.bootstrap).start()
    try:
        require_parquet_plugin(worker)
        create_connector(worker, parquet_connector(
            name, topic, local_store(out), flush_size=5000, tasks=2,
            # A restarted worker's consumers wait for the killed one's to leave the group:
            # the broker's minimum session timeout rather than librdkafka's 45 s.
            **{"rotate.schedule.interval.ms": "5000", "consumer.override.session.timeout.ms": "6000"}))
        events = [seed_event(i) for i in range(count)]

        def produce_paced():
            # 40 s of records: enough to still be flowing at the third kill, after two restarts
            # that each wait out the killed consumers' sessions (a worker that keeps up would
            # otherwise have committed everything before it, and the wait for progress fail).
            for start in range(0, count, 10_000):
                kafka.produce_json(topic, events[start:start + 10_000])
                time.sleep(2.0)

        producer = Background(produce_paced)

        def published_ahead() -> list[str]:
            """Files holding records past the committed offsets: published, not yet committed."""
            committed = kafka.committed(name, topic)
            return [f.rel for f in ParquetTree(out, topic).files if f.last_offset >= committed.get(f.partition, 0)]

        rng = random.Random(7)
        kills = []
        for k in range(3):
            before = sum(kafka.committed(name, topic).values())
            wait_for(f"progress before kill {k + 1}",
                     lambda: sum(kafka.committed(name, topic).values()) >= before + 20_000, timeout=120)
            if k == 1:
                # Aim at the window between a publication and its commit (at most a commit
                # interval, 1 s): the restarted task re-reads records already in files.
                try:
                    wait_for("a file published ahead of the commit", published_ahead, timeout=20, interval=0.05)
                except AssertionError:
                    pass  # killed anyway; the checks below hold for any moment
            else:
                time.sleep(rng.uniform(0.0, 2.0))
            worker.kill()
            # Read after the kill: the dead worker commits nothing more. Every committed record
            # must be in a published file: offsets are committed only for published files.
            committed = kafka.committed(name, topic)
            published = ParquetTree(out, topic).coordinates()
            lost = [(p, o) for p, c in committed.items() for o in range(c) if (p, o) not in published]
            assert not lost, f"kill {k + 1}: {len(lost)} committed records are in no file, first {lost[:5]}"
            kills.append((sum(committed.values()), len(published_ahead())))
            worker.start()  # same data dir and connector name: resumes from the group's offsets
            assert name in worker.get("/connectors").json(), "the connector came back from the worker's store"
        producer.result(timeout=180)
        # (committed records, files published ahead of the commit) at each kill; shown on failure
        print(f"kills: {kills}")
        assert kills[-1][0] < count, f"the last kill came after everything was committed: {kills}"
        ends = wait_committed_to_end(worker, kafka, name, topic, timeout=240)
        assert sum(ends.values()) == count
        assert_running(worker, name, tasks=2)
    finally:
        worker.stop()

    tree = ParquetTree(out, topic)
    tree.check_files(codec="snappy")  # also: nothing but data files and the state objects
    tree.check_no_overlap()
    tree.check_state_objects(range(partitions))
    tree.check_record_counts(ends)
    assert sum(f.num_rows for f in tree.files) == count
    assert_coordinates_exactly_once(tree, all_offsets(ends))
    total, _ = tree.duckdb_counts()
    assert total == count, f"duckdb count(*) is {total}"
    total, _ = tree.chdb_counts()
    assert total == count, f"chdb count() is {total}"
    assert {f.directory for f in tree.files} == {f"partition={p}" for p in range(partitions)}


# ---------------------------------------------------------------------------------------------
# 4. Interleaved schema versions with schema.compatibility=BACKWARD

EVENT_V1 = {"type": "record", "name": "Click", "namespace": "sluice.test",
            "fields": [{"name": "id", "type": "long"}, {"name": "page", "type": "string"}]}
EVENT_V2 = {**EVENT_V1, "fields": EVENT_V1["fields"] + [
    {"name": "referrer", "type": ["null", "string"], "default": None},
    {"name": "priority", "type": "int", "default": 3},
]}


def test_backward_compatible_versions_share_files(worker, kafka, registry_url, tmp_path, buckets):
    """v1 and v2 records alternating in runs of 1..5 need no more files than the same records
    written with v2 only; v1 records read back with v2's defaults."""
    require_parquet_plugin(worker)
    count, flush = 3000, 1000
    runs = {}
    rng = random.Random(11)
    version_of, v = [], 1
    while len(version_of) < count:
        version_of.extend([v] * rng.randint(1, 5))
        v = 3 - v
    version_of = version_of[:count]
    assert 1 in version_of and 2 in version_of
    for mode in ("mixed", "v2only"):
        topic = unique(f"pq_evo_{mode}")
        kafka.create_topic(topic, partitions=1)
        v1 = avro_serializer(registry_url, EVENT_V1)
        v2 = avro_serializer(registry_url, EVENT_V2)
        ctx = SerializationContext(topic, MessageField.VALUE)
        values = []
        for i in range(count):
            record = {"id": i, "page": f"/p/{i % 13}"}
            if mode == "mixed" and version_of[i] == 1:
                values.append(v1(record, ctx))
            else:
                extra = {"referrer": f"r{i}", "priority": i % 7} if version_of[i] == 2 else {"referrer": None, "priority": 3}
                values.append(v2({**record, **extra}, ctx))
        produce(kafka.bootstrap, topic, values, None)
        name, bucket = unique(f"pq-evo-{mode}"), buckets()
        create_connector(worker, parquet_connector(
            name, topic, s3_store(bucket), flush_size=flush, coords=False,
            **{"value.converter": "io.confluent.connect.avro.AvroConverter",
               "value.converter.schema.registry.url": registry_url,
               "schema.compatibility": "BACKWARD"}))
        runs[mode] = (topic, name, bucket)

    files = {}
    for mode, (topic, name, bucket) in runs.items():
        # No wall-clock rotation here, so file counts are deterministic: a sink that cut files
        # at version changes leaves its last records in an open file and never commits them.
        try:
            wait_committed_to_end(worker, kafka, name, topic, timeout=60)
        finally:
            published = [k for k in s3_keys(bucket, f"topics/{topic}/") if k.endswith(".parquet")]
            files[mode] = published
        assert_running(worker, name)
    assert len(files["v2only"]) == count // flush, files["v2only"]
    assert len(files["mixed"]) <= len(files["v2only"]), (
        f"interleaved v1/v2 records took {len(files['mixed'])} files, the same records in one version "
        f"{len(files['v2only'])}: {files['mixed']}")

    topic, _, bucket = runs["mixed"]
    tree = ParquetTree.from_bucket(bucket, tmp_path / "bucket", topic)
    tree.check_files()
    tree.check_no_overlap()
    rows = tree.table().sort_by("id").to_pylist()
    assert len(rows) == count
    for i, row in enumerate(rows):
        want = {"id": i, "page": f"/p/{i % 13}", "referrer": None, "priority": 3}
        if version_of[i] == 2:
            want.update(referrer=f"r{i}", priority=i % 7)
        assert row == want, f"record {i} (v{version_of[i]})"
    total, _ = tree.duckdb_counts()
    assert total == count


# ---------------------------------------------------------------------------------------------
# 5. rotate.schedule.interval.ms publishes an idle partition's file

def test_scheduled_rotation_publishes_without_more_records(worker, kafka, tmp_path, buckets):
    require_parquet_plugin(worker)
    topic, name, bucket = unique("pq_sched"), unique("pq-sched"), buckets()
    kafka.create_topic(topic, partitions=1)
    create_connector(worker, parquet_connector(
        name, topic, s3_store(bucket), flush_size=1_000_000, **{"rotate.schedule.interval.ms": "5000"}))
    wait_for("the task RUNNING", lambda: [t["state"] for t in worker.get(f"/connectors/{name}/status").json()["tasks"]]
             == ["RUNNING"], timeout=30)

    def data_files():
        return [k for k in s3_keys(bucket, f"topics/{topic}/") if k.endswith(".parquet")]

    produce_raw(kafka.bootstrap, topic, [(b"k", json.dumps({"n": i}).encode(), 0) for i in range(5)])
    produced_at = time.monotonic()
    first = wait_for("a file with the 5 records", data_files, timeout=20, interval=0.2)
    elapsed = time.monotonic() - produced_at
    print(f"first file after {elapsed:.1f} s: {first}")
    assert elapsed <= 12, f"the file appeared {elapsed:.1f} s after the records, more than one interval (5 s) late"
    assert first == [f"topics/{topic}/partition=0/{topic}+0+0000000000.snappy.parquet"], first
    wait_for("offset 5 committed", lambda: kafka.committed(name, topic) == {0: 5}, timeout=12 - elapsed + 2)

    # A record every 0.25 s for 10 s: cut at the 5 s marks (2 to 4 files), not per batch.
    producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all"})
    for i in range(5, 45):
        producer.produce(topic, key=b"k", value=json.dumps({"n": i}).encode(), partition=0)
        assert producer.flush(10) == 0
        time.sleep(0.25)
    wait_committed_to_end(worker, kafka, name, topic, timeout=15)
    later = [f for f in data_files() if f not in first]
    print(f"files of the 10 s stream: {later}")
    assert 2 <= len(later) <= 4, f"40 records over 10 s with a 5 s schedule gave {len(later)} files: {later}"
    tree = ParquetTree.from_bucket(bucket, tmp_path / "bucket", topic)
    tree.check_files()
    tree.check_no_overlap()
    assert_coordinates_exactly_once(tree, all_offsets({0: 45}))
    assert sorted(tree.table().column("n").to_pylist()) == list(range(45))
    assert_running(worker, name)


# ---------------------------------------------------------------------------------------------
# 6. Records the partitioner cannot place go to the dead letter queue

@LANES
def test_bad_timestamps_go_to_the_dlq_and_good_records_land_once(worker, kafka, tmp_path, coords):
    require_parquet_plugin(worker)
    count = 300
    topic, name, dlq, out = unique("pq_bad"), unique("pq-bad"), unique("pq_dlq"), tmp_path / "out"
    kafka.create_topic(topic, partitions=1)
    # Routing rejects the first four (stage TASK_PUT); the last two are not JSON at all, which
    # the sink finds reading the text itself (the JSON lane) and the converter's stage names.
    bad = {40: "missing", 90: "garbage", 150: "impossible date", 220: "tombstone",
           120: "cut short", 260: "not text"}
    not_json = {120: b'{"id": 120, "timestamp": ', 260: b"\xff\xfe{}"}
    records, expected_dirs = [], Counter()
    for i in range(count):
        ms = (DAY0 + (i * 2654435761) % (3 * 86400)) * 1000
        record = {"id": i, "timestamp": ms, "what": f"w{i}"}
        if bad.get(i) == "missing":
            del record["timestamp"]
        elif bad.get(i) == "garbage":
            record["timestamp"] = "not-a-time"
        elif bad.get(i) == "impossible date":
            record["timestamp"] = "2025-02-30T10:00:00Z"
        records.append(None if bad.get(i) == "tombstone" else record)
        if i not in bad:
            expected_dirs[time.strftime("dt=%Y-%m-%d", time.gmtime(ms // 1000))] += 1
    values = produce_with_coordinates(kafka, topic, records, partitions=1, raw=not_json)

    create_connector(worker, parquet_connector(
        name, topic, local_store(out), flush_size=100, coords=coords,
        **{"partitioner.class": "io.confluent.connect.storage.partitioner.TimeBasedPartitioner",
           "path.format": "'dt'=YYYY-MM-dd", "partition.duration.ms": "86400000", "timezone": "UTC",
           "timestamp.extractor": "RecordField", "timestamp.field": "timestamp",
           "rotate.schedule.interval.ms": "3000",
           "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
           "errors.deadletterqueue.topic.replication.factor": "1",
           "errors.deadletterqueue.context.headers.enable": "true"}))
    wait_committed_to_end(worker, kafka, name, topic, timeout=90)
    assert_running(worker, name)

    dead = read_topic(kafka.bootstrap, dlq, expected=len(bad))
    assert len(dead) == len(bad), f"{len(dead)} dead letters, expected {len(bad)}"
    assert sum(kafka.end_offsets(dlq).values()) == len(bad), "each bad record once in the DLQ"
    seen = {}
    for m in dead:
        ctx = {k: v.decode() for k, v in (m.headers() or []) if k.startswith("__connect.errors.")}
        offset = int(ctx["__connect.errors.offset"])
        assert offset in bad, f"a good record in the DLQ: {ctx}"
        assert (ctx["__connect.errors.topic"], ctx["__connect.errors.partition"]) == (topic, "0"), ctx
        assert ctx["__connect.errors.connector.name"] == name, ctx
        assert ctx["__connect.errors.stage"] == ("VALUE_CONVERTER" if offset in not_json else "TASK_PUT"), ctx
        assert ctx["__connect.errors.exception.class.name"], ctx
        assert m.key() == f"key-{offset}".encode() and m.value() == values[offset], "the original record"
        if bad[offset] not in ("tombstone", "cut short", "not text"):
            assert "timestamp" in ctx["__connect.errors.exception.message"], ctx
        seen[offset] = ctx
    assert sorted(seen) == sorted(bad)

    tree = ParquetTree(out, topic)
    tree.check_files()
    tree.check_no_overlap()
    assert_coordinates_exactly_once(tree, all_offsets({0: count}, skip={(0, o) for o in bad}))
    assert tree.counts_by_directory() == expected_dirs
    total, per_dir = tree.duckdb_counts()
    assert (total, per_dir) == (count - len(bad), expected_dirs)
    total, per_dir = tree.chdb_counts()
    assert (total, per_dir) == (count - len(bad), expected_dirs)


# ---------------------------------------------------------------------------------------------
# 7. A Confluent S3 sink JSON works as it is; another format is refused naming format.class

def confluent_s3_config(topic: str, bucket: str, **extra) -> dict:
    return {
        "connector.class": CONFLUENT_S3_CLASS,
        "tasks.max": "1",
        "topics": topic,
        "format.class": PARQUET_FORMAT,
        "storage.class": "io.confluent.connect.s3.storage.S3Storage",
        "partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner",
        "schema.compatibility": "NONE",
        "flush.size": "5",
        "parquet.codec": "zstd",
        **s3_store(bucket),
        **extra,
    }


def test_confluent_s3_sink_json_is_accepted_and_other_formats_are_refused(worker, kafka, buckets):
    require_parquet_plugin(worker)
    topic, name, bucket = unique("pq_conf"), unique("pq-conf"), buckets()
    kafka.create_topic(topic, partitions=1)
    config = confluent_s3_config(topic, bucket)

    r = worker.put(f"/connector-plugins/{CONFLUENT_S3_CLASS}/config/validate", {**config, "name": name})
    assert r.status_code == 200, r.text
    errors = {c["value"]["name"]: c["value"]["errors"] for c in r.json()["configs"] if c["value"]["errors"]}
    assert r.json()["error_count"] == 0 and not errors, errors

    r = worker.put(f"/connectors/{name}/config", config)
    assert r.status_code == 201, r.text
    produce_raw(kafka.bootstrap, topic, [(None, json.dumps({"n": i}).encode(), 0) for i in range(10)])
    wait_committed_to_end(worker, kafka, name, topic, timeout=60)
    assert_running(worker, name)
    files = [k for k in s3_keys(bucket) if k.endswith(".parquet")]
    assert files == [f"topics/{topic}/partition=0/{topic}+0+{o:010d}.zstd.parquet" for o in (0, 5)], files

    avro = {**config, "format.class": "io.confluent.connect.s3.format.avro.AvroFormat"}
    refused = unique("pq-avro-format")
    r = worker.put(f"/connectors/{refused}/config", avro)
    assert r.status_code == 400, r.text
    assert "format.class" in r.json()["message"], r.text
    assert refused not in worker.get("/connectors").json()
    r = worker.put(f"/connector-plugins/{CONFLUENT_S3_CLASS}/config/validate", {**avro, "name": refused})
    assert r.status_code == 200, r.text
    errors = {c["value"]["name"]: c["value"]["errors"] for c in r.json()["configs"] if c["value"]["errors"]}
    assert r.json()["error_count"] >= 1 and "format.class" in errors, r.json()
