"""Test harness: the real `sluice` binary, real Kafka and real ClickHouse.

Nothing here fakes a service. Each test gets its own topic, table, connector name and worker
data directory, so tests do not see each other's data.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

REPO = Path(__file__).resolve().parents[2]


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(
            f"{name} is not set: start the services with `tests/services/services.sh up` and "
            f'`eval "$(tests/services/services.sh env)"`, or run `make test`.'
        )
    return value


def services(*args: str, timeout: float = 300) -> str:
    """Runs `tests/services/services.sh ARGS…` (e.g. `down clickhouse`); its stdout, or an
    AssertionError with its output when it fails."""
    script = str(REPO / "tests" / "services" / "services.sh")
    out = subprocess.run([script, *args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"services.sh {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout.strip()


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


# Ports `free_port` handed out in this process.
_HANDED_PORTS: set[int] = set()


def free_port() -> int:
    """A port nothing listens on now, and never one this process handed out before: workers
    made one after another and started later could otherwise get the same one (the system may
    give a port again once its probe socket is closed; a CI run lost a test to that)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _HANDED_PORTS:
            _HANDED_PORTS.add(port)
            return port


def wait_for(what: str, predicate, timeout: float = 60.0, interval: float = 0.25):
    """Polls `predicate` until it returns a truthy value; fails naming `what` and the last value."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last value: {last!r}")


def holds_for(what: str, predicate, seconds: float, interval: float = 0.5) -> None:
    """Checks that `predicate` stays true for `seconds` (a claim that something does NOT
    happen needs a window); fails at the first moment it is false."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        assert value, f"{what} stopped holding after {seconds - (deadline - time.monotonic()):.1f}s: {value!r}"
        time.sleep(interval)


class ClickHouse:
    """Plain HTTP client for the real ClickHouse server."""

    def __init__(self, url: str):
        self.url = url.rstrip("/")

    def query(self, sql: str) -> str:
        r = requests.post(self.url, data=sql.encode(), timeout=30)
        if r.status_code != 200:
            raise AssertionError(f"ClickHouse error for {sql!r}: {r.text}")
        return r.text

    def rows(self, sql: str) -> list[dict]:
        text = self.query(sql + " FORMAT JSONEachRow")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def scalar(self, sql: str):
        return int(self.query(sql).strip())

    def create_events_table(self, table: str) -> None:
        """The README's sample table plus the Kafka coordinates of each row, in a plain MergeTree:
        nothing merges a re-delivered row into its original, so a duplicate stays visible."""
        self.query(
            f"CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, "
            "session_id String, device String, kafka_partition Int32, kafka_offset Int64, "
            "inserted_at DateTime DEFAULT now()) "
            "ENGINE = MergeTree() PARTITION BY toYYYYMMDD(timestamp) ORDER BY (kafka_partition, kafka_offset)"
        )

    def coordinates(self, table: str) -> dict[tuple[int, int], int]:
        """How many rows carry each (partition, offset)."""
        rows = self.rows(f"SELECT kafka_partition AS p, kafka_offset AS o, count() AS n FROM {table} GROUP BY p, o")
        return {(int(r["p"]), int(r["o"])): int(r["n"]) for r in rows}


# Answers of a group coordinator that is being elected, moved or loaded (a fresh cluster creates
# __consumer_offsets on the first group request): asking again shortly succeeds.
COORDINATOR_MOVING = {
    KafkaError.NOT_COORDINATOR,
    KafkaError.COORDINATOR_NOT_AVAILABLE,
    KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
    KafkaError._TIMED_OUT,
    KafkaError._TRANSPORT,
    KafkaError.UNSTABLE_OFFSET_COMMIT,
}


class Kafka:
    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def create_topic(self, name: str, partitions: int, replication_factor: int = 1, config: dict | None = None) -> None:
        topic = NewTopic(name, num_partitions=partitions, replication_factor=replication_factor, config=config or {})
        futures = self.admin.create_topics([topic])
        futures[name].result(timeout=30)
        wait_for(f"topic {name} metadata", lambda: name in self.admin.list_topics(timeout=5).topics)

    def produce_json(self, topic: str, events: list[dict], key_field: str = "session_id", **settings) -> None:
        """Produces `events` and waits until Kafka acknowledged every one; raises otherwise."""
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20, "acks": "all", **settings})
        failed = []
        for event in events:
            while True:
                try:
                    producer.produce(topic, key=event[key_field].encode(), value=json.dumps(event).encode(),
                                     on_delivery=lambda err, _msg: err and failed.append(err))
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        remaining = producer.flush(600)
        assert remaining == 0, f"{remaining} events were not delivered to Kafka"
        assert not failed, f"{len(failed)} events were refused by Kafka, first: {failed[0]}"

    def _probe(self, group: str | None = None) -> Consumer:
        # read_uncommitted: OffsetFetch then does not ask for "stable" offsets, so a coordinator
        # with a commit pending (e.g. waiting for replicas during a broker outage) still answers
        # with what is committed.
        return Consumer({"bootstrap.servers": self.bootstrap, "group.id": group or unique("probe"),
                         "enable.auto.commit": False, "isolation.level": "read_uncommitted"})

    def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the offset the next record will get (the high watermark)."""
        consumer = self._probe()
        try:
            partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
            return {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions}
        finally:
            consumer.close()

    def committed(self, connector: str, topic: str, timeout: float = 10) -> dict[int, int]:
        """Offsets committed by group `connect-<connector>` (what a restarted task resumes from);
        partitions without a commit are left out. Retries while the group coordinator moves or
        loads (NOT_COORDINATOR and the like) for up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        consumer = self._probe(f"connect-{connector}")
        try:
            partitions = consumer.list_topics(topic, timeout=timeout).topics[topic].partitions
            while True:
                try:
                    tps = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=timeout)
                    return {tp.partition: tp.offset for tp in tps if tp.offset >= 0}
                except KafkaException as e:
                    if e.args[0].code() not in COORDINATOR_MOVING or time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        finally:
            consumer.close()

    def wait_committed_to_end(self, connector: str, topic: str, timeout: float = 120) -> dict[int, int]:
        """Waits until `connect-<connector>` has committed every record of `topic`: positive
        evidence that the sink made everything durable and that nothing more will be written."""
        ends = {p: o for p, o in self.end_offsets(topic).items() if o > 0}
        return wait_for(f"group connect-{connector} to commit up to the end of {topic} {ends}",
                        lambda: (c := self.committed(connector, topic)) == ends and c, timeout=timeout)


def coordinates_transform() -> dict[str, str]:
    """InsertField$Value settings that put each record's partition and offset into the
    `kafka_partition` / `kafka_offset` columns of the events table."""
    return {
        "transforms": "coordinates",
        "transforms.coordinates.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.coordinates.partition.field": "kafka_partition",
        "transforms.coordinates.offset.field": "kafka_offset",
    }


def assert_exactly_once(clickhouse: ClickHouse, table: str, produced: dict[int, int]) -> None:
    """Every record of the topic landed once: count() == N and no (partition, offset) twice.
    `produced` is the topic's end offsets (records per partition when the topic is new)."""
    assert_delivered(clickhouse, table, produced, duplicates_from={})


def assert_delivered(clickhouse: ClickHouse, table: str, produced: dict[int, int], duplicates_from: dict[int, int]) -> None:
    """At-least-once with a bound: every record landed, and a (partition, offset) appears twice
    only at or after `duplicates_from[partition]` (the last commit before a crash; a partition
    not named there may have no duplicate at all)."""
    rows = clickhouse.coordinates(table)
    expected = {(p, o) for p, end in produced.items() for o in range(end)}
    missing = sorted(expected - rows.keys())
    unexpected = sorted(rows.keys() - expected)
    assert not missing, f"{len(missing)} records never landed, first: {missing[:5]}"
    assert not unexpected, f"rows with coordinates that were never produced: {unexpected[:5]}"
    twice = sorted((p, o) for (p, o), n in rows.items() if n > 1)
    allowed = [(p, o) for p, o in twice if p in duplicates_from and o >= duplicates_from[p]]
    forbidden = sorted(set(twice) - set(allowed))
    assert not forbidden, (
        f"{len(forbidden)} records landed more than once outside the re-delivery window "
        f"(from the last commit before the failure: {duplicates_from}), first: {forbidden[:5]}"
    )
    total = sum(rows.values())
    if not duplicates_from:
        assert total == len(expected), f"count() is {total}, {len(expected)} records were produced"


def wait_for_rows(clickhouse: ClickHouse, table: str, at_least: int, timeout: float = 120) -> None:
    wait_for(f"{at_least} rows in {table}", lambda: clickhouse.scalar(f"SELECT count() FROM {table}") >= at_least,
             timeout=timeout)


class Background(threading.Thread):
    """Runs `target` in a thread; `result()` joins it, fails if it is still running after
    `timeout` and re-raises whatever it raised, so a failed producer fails the test at once."""

    def __init__(self, target, *args):
        super().__init__(daemon=True)
        self._target_fn, self._args = target, args
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._target_fn(*self._args)
        except BaseException as e:  # re-raised in the test's thread by result()
            self.error = e

    def result(self, timeout: float) -> None:
        self.join(timeout)
        assert not self.is_alive(), f"{self._target_fn.__name__} still running after {timeout}s"
        if self.error is not None:
            raise AssertionError(f"{self._target_fn.__name__} failed: {self.error!r}") from self.error


class CommitWatch(threading.Thread):
    """Samples the committed offsets of `connect-<connector>` every `interval` seconds in the
    background. A committed offset that goes backwards means some worker committed a stale
    position (a fenced or zombie task): records after it would be written again."""

    def __init__(self, kafka: Kafka, connector: str, topic: str, interval: float = 0.5):
        super().__init__(daemon=True)
        self.kafka, self.connector, self.topic, self.interval = kafka, connector, topic, interval
        self.samples: list[tuple[float, dict[int, int]]] = []
        self._done = threading.Event()
        self.start()

    def run(self) -> None:
        while not self._done.is_set():
            try:
                self.samples.append((time.monotonic(), self.kafka.committed(self.connector, self.topic, timeout=5)))
            except Exception:  # the coordinator may be unreachable during a broker failure
                pass
            self._done.wait(self.interval)

    def between(self, start: float, end: float) -> list[dict[int, int]]:
        return [offsets for at, offsets in self.samples if start <= at <= end]

    def stop_and_check_monotonic(self) -> None:
        self._done.set()
        self.join(timeout=30)
        assert not self.is_alive(), "the commit watch did not stop within 30 s"
        assert len(self.samples) > 3, f"too few samples of committed offsets: {self.samples}"
        highest: dict[int, int] = {}
        for at, offsets in self.samples:
            for p, o in offsets.items():
                assert o >= highest.get(p, -1), (
                    f"the committed offset of partition {p} went back from {highest[p]} to {o}: a stale commit")
                highest[p] = o


def sample_events(count: int, start: int = 0) -> list[dict]:
    """The README's sample event, varied so every row is distinguishable."""
    kinds = ["purchase", "view", "click", "signup"]
    devices = ["mobile", "desktop", "tablet"]
    base = 1758191400  # 2025-09-18T10:30:00Z
    out = []
    for i in range(start, start + count):
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + i))
        out.append(
            {
                "user_id": f"user_{i % 97}",
                "event_type": kinds[i % len(kinds)],
                "timestamp": ts,
                "session_id": f"sess_{i}",
                "device": devices[i % len(devices)],
            }
        )
    return out


class Worker:
    """A `sluice standalone` process on a free port with its own data directory."""

    def __init__(self, tmp: Path, bootstrap: str, extra: dict[str, str] | None = None, mode: str = "standalone",
                 args: list[str] | None = None, scheme: str = "http"):
        self.binary = Path(os.environ.get("SLUICE_BIN", REPO / "target" / "debug" / "sluice"))
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} does not exist: build it with `cargo build -p sluice-worker` (or set SLUICE_BIN)")
        self.port = free_port()
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        # Every REST call goes through this session: a TLS test sets `verify` and `auth` on it.
        # Not from the environment: REQUESTS_CA_BUNDLE would override the session's `verify`.
        self.session = requests.Session()
        self.session.trust_env = False
        self.dir = tmp
        self.mode = mode
        self.args = list(args or [])  # after the worker config, e.g. ["--log-format", "json"]
        tmp.mkdir(parents=True, exist_ok=True)
        self.config = tmp / "worker.properties"
        props = {
            "bootstrap.servers": bootstrap,
            "listeners": f"{scheme}://127.0.0.1:{self.port}",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": "org.apache.kafka.connect.json.JsonConverter",
            "value.converter.schemas.enable": "false",
            "offset.flush.interval.ms": "1000",
            "sluice.data.dir": str(tmp / "data"),
            # A Kafka Connect key Sluice does not use: must be accepted and ignored.
            "plugin.path": "/usr/share/java",
        }
        props.update(extra or {})
        self.config.write_text("".join(f"{k}={v}\n" for k, v in props.items()))
        self.log_path = tmp / "sluice.log"
        self.proc: subprocess.Popen | None = None

    @property
    def worker_id(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, wait: bool = True) -> "Worker":
        """Starts the process; with `wait`, returns once the REST API answers."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), self.mode, str(self.config), *self.args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SLUICE_LOG": os.environ.get("SLUICE_LOG", "info")},
        )
        if wait:
            wait_for("the worker's REST API", self._answers, timeout=60)
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"sluice exited with {self.proc.returncode}; log:\n{self.log()}")
        try:
            return self.session.get(self.url + "/", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)
        self.proc.wait(timeout=60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=45)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    # REST helpers
    def get(self, path: str, **kw) -> requests.Response:
        return self.session.get(self.url + path, timeout=10, **kw)

    def post(self, path: str, body) -> requests.Response:
        return self.session.post(self.url + path, json=body, timeout=30)

    def put(self, path: str, body=None) -> requests.Response:
        return self.session.put(self.url + path, json=body, timeout=60)

    def delete(self, path: str) -> requests.Response:
        return self.session.delete(self.url + path, timeout=60)

    def task_states(self, name: str) -> list[str]:
        r = self.get(f"/connectors/{name}/status")
        return [t["state"] for t in r.json().get("tasks", [])] if r.status_code == 200 else []


def clickhouse_connector(name: str, topic: str, table: str, ch_url: str, tasks: int = 1, coordinates: bool = False,
                         **extra) -> dict:
    """A connector for the events table; `coordinates=True` adds each record's partition and
    offset as columns (see `coordinates_transform`), for the delivery checks."""
    host, port = ch_url.split("://", 1)[1].rstrip("/").rsplit(":", 1)
    config = {
        "connector.class": "com.clickhouse.kafka.connect.ClickHouseSinkConnector",
        "tasks.max": str(tasks),
        "topics": topic,
        "hostname": host,
        "port": port,
        "ssl": "false",
        "database": "default",
        "username": "default",
        "password": "",
        "topic2TableMap": f"{topic}={table}",
    }
    if coordinates:
        config.update(coordinates_transform())
    config.update(extra)
    return {"name": name, "config": config}


def distributed_props(group: str, replication_factor: int = 1) -> dict[str, str]:
    """Worker settings of one distributed cluster: its group and its own internal topics."""
    rf = str(replication_factor)
    return {
        "group.id": group,
        "config.storage.topic": f"{group}-configs",
        "offset.storage.topic": f"{group}-offsets",
        "status.storage.topic": f"{group}-status",
        "config.storage.replication.factor": rf,
        "offset.storage.replication.factor": rf,
        "status.storage.replication.factor": rf,
    }


def distributed_workers(tmp: Path, bootstrap: str, count: int, group: str, replication_factor: int = 1) -> list[Worker]:
    """`count` distributed workers of one new cluster (own group and internal topics)."""
    props = distributed_props(group, replication_factor)
    return [Worker(tmp / f"worker-{i}", bootstrap, props, mode="distributed") for i in range(count)]
