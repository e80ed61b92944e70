"""Helpers for the Parquet sink's end-to-end tests: the S3 store (SeaweedFS) and a local
directory as the sink writes them, and the sink's files read back by readers no one here wrote
(pyarrow, duckdb, chdb = ClickHouse 26.x in-process).

A `ParquetTree` is a snapshot of the sink's output in a local directory (a bucket is first
copied down with pyarrow's S3FileSystem): every file under `<topics.dir>/<topic>/` must be a
Parquet file named `<topic>+<partition>+<first offset>[.<codec>].parquet`, carrying the sink's
`sluice.*` key/value metadata, and each check names the file it fails on.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import chdb
import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from confluent_kafka import Consumer, Producer

from sluice_harness import env, unique, wait_for

PARQUET_CLASS = "io.sluice.connect.parquet.ParquetSinkConnector"
CONFLUENT_S3_CLASS = "io.confluent.connect.s3.S3SinkConnector"
PARQUET_FORMAT = "io.confluent.connect.s3.format.parquet.ParquetFormat"
METADATA_KEYS = ("sluice.topic", "sluice.partition", "sluice.first.offset", "sluice.last.offset", "sluice.record.count")
STATE_DIR = "_sluice"
# the codec part of a file name -> the compression pyarrow reports for its column chunks
COMPRESSION = {"snappy": {"SNAPPY"}, "zstd": {"ZSTD"}, "gzip": {"GZIP"}, "lz4": {"LZ4", "LZ4_RAW"}, "": {"UNCOMPRESSED"}}


# ---------------------------------------------------------------------------------------------
# The S3 store

def s3_filesystem() -> pafs.S3FileSystem:
    """pyarrow's S3 client (AWS SDK for C++) with the access key `services.sh env` prints."""
    scheme, endpoint = env("SLUICE_S3_URL").split("://", 1)
    return pafs.S3FileSystem(
        endpoint_override=endpoint, scheme=scheme,
        access_key=env("SLUICE_S3_ACCESS_KEY"), secret_key=env("SLUICE_S3_SECRET_KEY"),
        region=env("SLUICE_S3_REGION"), allow_bucket_creation=True, allow_bucket_deletion=True,
        connect_timeout=5, request_timeout=30,
    )


def new_bucket() -> str:
    """A new, empty bucket with a random name (S3 names: lower case, no underscores)."""
    name = unique("sluice-pq").replace("_", "-").lower()
    s3_filesystem().create_dir(name)
    return name


def s3_store(bucket: str) -> dict[str, str]:
    """Connector settings that write into `bucket` of the test S3 store."""
    return {
        "store.url": env("SLUICE_S3_URL"),
        "s3.bucket.name": bucket,
        "s3.region": env("SLUICE_S3_REGION"),
        "aws.access.key.id": env("SLUICE_S3_ACCESS_KEY"),
        "aws.secret.access.key": env("SLUICE_S3_SECRET_KEY"),
        "s3.path.style.access.enabled": "true",
    }


def local_store(directory: Path) -> dict[str, str]:
    directory.mkdir(parents=True, exist_ok=True)
    return {"store.url": f"file://{directory.resolve()}"}


def s3_keys(bucket: str, prefix: str = "") -> list[str]:
    """Every object key in `bucket` (under `prefix`), as a plain S3 listing shows them."""
    base = f"{bucket}/{prefix}".rstrip("/")
    infos = s3_filesystem().get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
    return sorted(i.path.removeprefix(bucket + "/") for i in infos if i.type == pafs.FileType.File)


def download_bucket(bucket: str, dest: Path) -> Path:
    """Copies every object of `bucket` into `dest` (same relative paths); returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    pafs.copy_files(bucket, str(dest.resolve()), source_filesystem=s3_filesystem(),
                    destination_filesystem=pafs.LocalFileSystem())
    return dest


# ---------------------------------------------------------------------------------------------
# Connector configs

def coords_transform() -> dict[str, str]:
    """InsertField$Value adding each record's Kafka partition and offset as columns, so a row
    says where it came from."""
    return {
        "transforms": "coords",
        "transforms.coords.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.coords.partition.field": "kafka_partition",
        "transforms.coords.offset.field": "kafka_offset",
    }


def parquet_connector(name: str, topic: str, store: dict[str, str], flush_size: int, tasks: int = 1,
                      coords: bool = True, **extra: str) -> dict:
    config = {
        "connector.class": PARQUET_CLASS,
        "tasks.max": str(tasks),
        "topics": topic,
        "flush.size": str(flush_size),
        **store,
    }
    if coords:
        config.update(coords_transform())
    config.update(extra)
    return {"name": name, "config": config}


def plugin_classes(worker) -> list[str]:
    r = worker.get("/connector-plugins")
    assert r.status_code == 200, r.text
    return [p["class"] for p in r.json()]


def require_parquet_plugin(worker) -> None:
    classes = plugin_classes(worker)
    assert PARQUET_CLASS in classes, f"the worker does not offer the Parquet sink; it has {classes}"


def task_states(worker, name: str) -> dict:
    r = worker.get(f"/connectors/{name}/status")
    assert r.status_code == 200, r.text
    return r.json()


def wait_committed_to_end(worker, kafka, name: str, topic: str, timeout: float) -> dict[int, int]:
    """Waits until group connect-<name> committed every record of `topic` (so every record is
    in a published file or the DLQ, and nothing more will be written); fails at once, with the
    task's trace, if a task of the connector FAILED."""
    ends = {p: o for p, o in kafka.end_offsets(topic).items() if o > 0}

    def done():
        failed = [t for t in task_states(worker, name).get("tasks", []) if t["state"] == "FAILED"]
        assert not failed, f"a task of {name} FAILED: {failed[0].get('trace')}"
        return (c := kafka.committed(name, topic)) == ends and c

    return wait_for(f"group connect-{name} to commit up to the end of {topic} {ends}", done, timeout=timeout)


def assert_running(worker, name: str, tasks: int = 1) -> None:
    status = task_states(worker, name)
    assert status["connector"]["state"] == "RUNNING", status
    assert [t["state"] for t in status["tasks"]] == ["RUNNING"] * tasks, status


# ---------------------------------------------------------------------------------------------
# Reading the output

@dataclass
class ParquetFile:
    """One data file of the sink, with what its name and its metadata say."""

    rel: str  # path below the tree's root, e.g. topics/t/partition=0/t+0+0000000000.snappy.parquet
    path: Path
    directory: str  # the partitioner's directories between the topic and the name
    partition: int
    first_offset: int
    codec: str  # "" for none
    metadata: dict[str, str] = field(default_factory=dict)
    num_rows: int = 0
    schema: pa.Schema | None = None

    @property
    def last_offset(self) -> int:
        return int(self.metadata["sluice.last.offset"])

    def read(self) -> pa.Table:
        return pq.read_table(self.path)


class ParquetTree:
    """The sink's output for one topic, in a local directory (`root` = the store's root)."""

    def __init__(self, root: Path, topic: str, topics_dir: str = "topics"):
        self.root, self.topic, self.topics_dir = root, topic, topics_dir
        self.files: list[ParquetFile] = []
        self.others: list[str] = []  # anything under <topics.dir>/<topic>/ that is not a data file
        self.state_objects: list[str] = []  # <topics.dir>/_sluice/<topic>/...
        self.stray: list[str] = []  # anything else in the store
        self._scan()

    @classmethod
    def from_bucket(cls, bucket: str, dest: Path, topic: str, topics_dir: str = "topics") -> "ParquetTree":
        return cls(download_bucket(bucket, dest), topic, topics_dir)

    def _scan(self) -> None:
        topic_dir = f"{self.topics_dir}/{self.topic}/"
        state_dir = f"{self.topics_dir}/{STATE_DIR}/{self.topic}/"
        name = re.compile(rf"^{re.escape(self.topic)}\+(\d+)\+(\d+)(?:\.(snappy|zstd|gzip|lz4))?\.parquet$")
        for dirpath, _dirs, filenames in os.walk(self.root):
            for fname in filenames:
                path = Path(dirpath) / fname
                rel = path.relative_to(self.root).as_posix()
                if rel.startswith(state_dir):
                    self.state_objects.append(rel)
                    continue
                if not rel.startswith(topic_dir):
                    self.stray.append(rel)
                    continue
                m = name.match(fname)
                if not m:
                    self.others.append(rel)
                    continue
                directory = rel[len(topic_dir):-len(fname)].rstrip("/")
                self.files.append(ParquetFile(rel, path, directory, int(m.group(1)), int(m.group(2)), m.group(3) or ""))
        self.files.sort(key=lambda f: (f.partition, f.first_offset, f.directory))
        for f in self.files:
            meta = pq.ParquetFile(f.path).metadata  # fails here if the file is not Parquet
            kv = {k.decode(): v.decode() for k, v in (meta.metadata or {}).items()}
            f.metadata = {k: kv.get(k) for k in METADATA_KEYS}
            f.num_rows = meta.num_rows
            f.schema = pq.read_schema(f.path)

    # -- checks ---------------------------------------------------------------------------

    def check_files(self, codec: str = "snappy", pad: int = 10) -> None:
        """Every file under the topic is a Parquet data file named as the layout says, opens in
        pyarrow, and its metadata agrees with its name and its row count; no other file is in
        the store except the state objects."""
        assert not self.others, f"files under {self.topics_dir}/{self.topic}/ that are not the sink's data files: {self.others[:10]}"
        assert not self.stray, f"files in the store besides the topic's data files and state objects (temporary files left behind?): {self.stray[:10]}"
        assert self.files, f"no Parquet file under {self.root}/{self.topics_dir}/{self.topic}"
        for f in self.files:
            assert f.codec == codec, f"{f.rel}: codec part {f.codec!r}, expected {codec!r}"
            digits = f.rel.rsplit("+", 1)[1].split(".", 1)[0]
            assert len(digits) == pad, f"{f.rel}: first offset not zero-padded to {pad} digits"
            missing = [k for k, v in f.metadata.items() if v is None]
            assert not missing, f"{f.rel}: key/value metadata lacks {missing}"
            assert f.metadata["sluice.topic"] == self.topic, f"{f.rel}: {f.metadata}"
            assert int(f.metadata["sluice.partition"]) == f.partition, f"{f.rel}: {f.metadata}"
            assert int(f.metadata["sluice.first.offset"]) == f.first_offset, f"{f.rel}: {f.metadata}"
            assert int(f.metadata["sluice.record.count"]) == f.num_rows, f"{f.rel}: {f.num_rows} rows, {f.metadata}"
            assert f.num_rows > 0, f"{f.rel}: an empty file"
            assert f.first_offset <= f.last_offset, f"{f.rel}: {f.metadata}"
            assert f.num_rows <= f.last_offset - f.first_offset + 1, f"{f.rel}: more rows than offsets: {f.metadata}"
            meta = pq.ParquetFile(f.path).metadata
            found = {meta.row_group(g).column(c).compression
                     for g in range(meta.num_row_groups) for c in range(meta.num_columns)}
            assert found <= COMPRESSION[codec], f"{f.rel}: column chunks compressed with {found}, expected {codec or 'none'}"
            f.read()  # every file opens and decodes in pyarrow

    def check_no_overlap(self) -> None:
        """Per Kafka partition and directory, the files' offset ranges (first..last from name and
        metadata) do not overlap: no record can be in two files of one directory. (Files of
        different directories of one partition interleave by design: a file set spans them.)"""
        by_dir: dict[tuple[int, str], list[ParquetFile]] = defaultdict(list)
        for f in self.files:
            by_dir[(f.partition, f.directory)].append(f)
        for (p, d), files in by_dir.items():
            files.sort(key=lambda f: f.first_offset)
            for a, b in zip(files, files[1:]):
                assert b.first_offset > a.last_offset, (
                    f"partition {p}, directory {d!r}: {a.rel} holds offsets {a.first_offset}..{a.last_offset}, "
                    f"{b.rel} starts at {b.first_offset}")

    def check_record_counts(self, expected: dict[int, int]) -> None:
        """From metadata alone: per Kafka partition, the files' sluice.record.count add up to
        the records expected (a record in two files, or in none, shows here)."""
        got: Counter = Counter()
        for f in self.files:
            got[f.partition] += int(f.metadata["sluice.record.count"])
        assert dict(got) == {p: n for p, n in expected.items() if n}, f"records per partition in file metadata: {dict(got)}"

    def check_state_objects(self, partitions) -> None:
        """The small per-partition state objects are where the layout says, and are JSON."""
        want = {f"{self.topics_dir}/{STATE_DIR}/{self.topic}/{p}.json" for p in partitions}
        assert want <= set(self.state_objects), f"state objects {sorted(self.state_objects)}, expected {sorted(want)}"
        for rel in self.state_objects:
            json.loads((self.root / rel).read_text())

    # -- the rows, three ways -------------------------------------------------------------

    def table(self, columns: list[str] | None = None) -> pa.Table:
        """Every row of every file (pyarrow), schemas unified by name, missing columns null."""
        tables = [f.read() for f in self.files]
        schema = pa.unify_schemas([t.schema for t in tables], promote_options="permissive")
        tables = [t.cast(pa.schema([schema.field(n) for n in t.column_names])) if t.schema != schema else t for t in tables]
        out = pa.concat_tables(tables, promote_options="permissive")
        return out.select(columns) if columns else out

    def coordinates(self) -> Counter:
        """How many rows carry each (kafka_partition, kafka_offset), over all files."""
        seen: Counter = Counter()
        for f in self.files:
            t = f.read().select(["kafka_partition", "kafka_offset"])
            seen.update(zip(t.column(0).to_pylist(), t.column(1).to_pylist()))
        return seen

    def counts_by_directory(self) -> Counter:
        """pyarrow: rows per partitioner directory."""
        out: Counter = Counter()
        for f in self.files:
            out[f.directory] += f.read().num_rows
        return out

    def glob(self) -> str:
        return str(self.root / self.topics_dir / self.topic / "**" / "*.parquet")

    def duckdb_counts(self) -> tuple[int, Counter]:
        """duckdb over the whole tree: count(*) and rows per directory (from each row's file)."""
        con = duckdb.connect()
        try:
            prefix = str(self.root / self.topics_dir / self.topic) + "/"
            rows = con.execute(
                "SELECT filename, count(*) FROM read_parquet(?, hive_partitioning = false, union_by_name = true, "
                "filename = true) GROUP BY filename", [self.glob()]).fetchall()
        finally:
            con.close()
        per_dir: Counter = Counter()
        for filename, n in rows:
            per_dir[filename.removeprefix(prefix).rpartition("/")[0]] += n
        return sum(per_dir.values()), per_dir

    def duckdb(self, sql: str) -> list[tuple]:
        """Runs `sql` with `{files}` standing for read_parquet of the whole tree."""
        con = duckdb.connect()
        try:
            src = f"read_parquet('{self.glob()}', hive_partitioning = false, union_by_name = true)"
            return con.execute(sql.format(files=src)).fetchall()
        finally:
            con.close()

    def chdb_counts(self) -> tuple[int, Counter]:
        """ClickHouse (chdb) reading the local files with file(): count() and rows per directory."""
        return chdb_counts(f"file('{self.glob()}', Parquet)",
                           str(self.root / self.topics_dir / self.topic) + "/")


def chdb_rows(sql: str) -> list[dict]:
    out = chdb.query(sql, "JSONEachRow")
    text = out.bytes().decode() if hasattr(out, "bytes") else str(out)
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def chdb_counts(source: str, prefix: str) -> tuple[int, Counter]:
    """count() and rows per directory of a chdb table function (file() or s3()); `prefix` is
    what `_path` starts with up to the partitioner's directories."""
    rows = chdb_rows(f"SELECT _path AS path, count() AS n FROM {source} GROUP BY path "
                     "SETTINGS use_hive_partitioning = 0")
    per_dir: Counter = Counter()
    for r in rows:
        per_dir[r["path"].removeprefix(prefix).rpartition("/")[0]] += int(r["n"])
    return sum(per_dir.values()), per_dir


def chdb_s3_source(bucket: str, topic: str, topics_dir: str = "topics") -> tuple[str, str]:
    """The s3() table function over the topic's files in the bucket, and its `_path` prefix."""
    url = f"{env('SLUICE_S3_URL')}/{bucket}/{topics_dir}/{topic}/**/*.parquet"
    return (f"s3('{url}', '{env('SLUICE_S3_ACCESS_KEY')}', '{env('SLUICE_S3_SECRET_KEY')}', 'Parquet')",
            f"{bucket}/{topics_dir}/{topic}/")


def assert_coordinates_exactly_once(tree: ParquetTree, expected: set[tuple[int, int]]) -> None:
    """From the rows themselves (kafka_partition / kafka_offset added by InsertField): every
    expected (partition, offset) once, nothing else; and each file's rows lie within its
    metadata's first..last offset of its own partition."""
    seen: Counter = Counter()
    for f in tree.files:
        t = f.read().select(["kafka_partition", "kafka_offset"])
        parts, offs = t.column(0).to_pylist(), t.column(1).to_pylist()
        assert set(parts) == {f.partition}, f"{f.rel}: rows of partitions {set(parts)}"
        assert min(offs) == f.first_offset and max(offs) == f.last_offset, (
            f"{f.rel}: rows hold offsets {min(offs)}..{max(offs)}, metadata says {f.first_offset}..{f.last_offset}")
        seen.update(zip(parts, offs))
    twice = sorted(k for k, n in seen.items() if n > 1)
    missing = sorted(expected - seen.keys())
    unexpected = sorted(seen.keys() - expected)
    assert not twice, f"{len(twice)} records are in more than one row, first: {twice[:5]}"
    assert not missing, f"{len(missing)} records are in no file, first: {missing[:5]}"
    assert not unexpected, f"rows with coordinates that should not be there: {unexpected[:5]}"


def all_offsets(ends: dict[int, int], skip: set[tuple[int, int]] = frozenset()) -> set[tuple[int, int]]:
    return {(p, o) for p, end in ends.items() for o in range(end) if (p, o) not in skip}


def produce_raw(bootstrap: str, topic: str, records, **settings) -> list[tuple[int, int]]:
    """Produces (key, value, partition) triples (value None is a tombstone, partition None lets
    the key decide) and waits for every acknowledgement; returns each record's (partition, offset)."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all", **settings})
    positions: list = []
    errors: list = []

    def delivered(i, err, msg):
        if err is not None:
            errors.append(err)
        else:
            positions[i] = (msg.partition(), msg.offset())

    for i, (key, value, partition) in enumerate(records):
        positions.append(None)
        kwargs = {} if partition is None else {"partition": partition}
        while True:
            try:
                producer.produce(topic, key=key, value=value, on_delivery=lambda e, m, i=i: delivered(i, e, m), **kwargs)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(120) == 0, "not every record reached Kafka"
    assert not errors, f"{len(errors)} records refused by Kafka, first: {errors[0]}"
    return positions


def read_topic(bootstrap: str, topic: str, expected: int, timeout: float = 60) -> list:
    """The first `expected` records of `topic` (e.g. a dead letter queue)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("pq-reader"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe([topic])
    out: list = []
    try:
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            out.extend(m for m in consumer.consume(100, 0.5) if not m.error())
    finally:
        consumer.close()
    return out
