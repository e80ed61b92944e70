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
import time
import uuid
from pathlib import Path

import requests
from confluent_kafka import Producer
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


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
        # The sample table from the README, as ClickHouse 18.16 can hold it.
        self.query(
            f"CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, "
            "session_id String, device String, inserted_at DateTime DEFAULT now()) "
            "ENGINE = ReplacingMergeTree() PARTITION BY toYYYYMMDD(timestamp) ORDER BY (timestamp, user_id)"
        )


class Kafka:
    def __init__(self, bootstrap: str):
        self.bootstrap = bootstrap
        self.admin = AdminClient({"bootstrap.servers": bootstrap})

    def create_topic(self, name: str, partitions: int) -> None:
        futures = self.admin.create_topics([NewTopic(name, num_partitions=partitions, replication_factor=1)])
        futures[name].result(timeout=30)
        wait_for(f"topic {name} metadata", lambda: name in self.admin.list_topics(timeout=5).topics)

    def produce_json(self, topic: str, events: list[dict], key_field: str = "session_id") -> None:
        producer = Producer({"bootstrap.servers": self.bootstrap, "linger.ms": 20, "acks": "all"})
        for event in events:
            while True:
                try:
                    producer.produce(topic, key=event[key_field].encode(), value=json.dumps(event).encode())
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        remaining = producer.flush(60)
        assert remaining == 0, f"{remaining} events were not delivered to Kafka"


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

    def __init__(self, tmp: Path, bootstrap: str, extra: dict[str, str] | None = None, mode: str = "standalone"):
        self.binary = Path(os.environ.get("SLUICE_BIN", REPO / "target" / "debug" / "sluice"))
        if not self.binary.exists():
            raise RuntimeError(f"{self.binary} does not exist: build it with `cargo build -p sluice-worker` (or set SLUICE_BIN)")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tmp
        self.mode = mode
        tmp.mkdir(parents=True, exist_ok=True)
        self.config = tmp / "worker.properties"
        props = {
            "bootstrap.servers": bootstrap,
            "listeners": f"http://127.0.0.1:{self.port}",
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

    def start(self) -> "Worker":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [str(self.binary), self.mode, str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "SLUICE_LOG": os.environ.get("SLUICE_LOG", "info")},
        )
        wait_for("the worker's REST API", self._answers, timeout=60)
        return self

    def _answers(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"sluice exited with {self.proc.returncode}; log:\n{self.log()}")
        try:
            return requests.get(self.url + "/", timeout=2).status_code == 200
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
        return requests.get(self.url + path, timeout=10, **kw)

    def post(self, path: str, body) -> requests.Response:
        return requests.post(self.url + path, json=body, timeout=30)

    def put(self, path: str, body=None) -> requests.Response:
        return requests.put(self.url + path, json=body, timeout=60)

    def delete(self, path: str) -> requests.Response:
        return requests.delete(self.url + path, timeout=60)

    def task_states(self, name: str) -> list[str]:
        r = self.get(f"/connectors/{name}/status")
        return [t["state"] for t in r.json().get("tasks", [])] if r.status_code == 200 else []


def clickhouse_connector(name: str, topic: str, table: str, ch_url: str, tasks: int = 1, **extra) -> dict:
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
    config.update(extra)
    return {"name": name, "config": config}


def distributed_workers(tmp: Path, bootstrap: str, count: int, group: str) -> list[Worker]:
    """`count` distributed workers of one new cluster (own group and internal topics)."""
    props = {
        "group.id": group,
        "config.storage.topic": f"{group}-configs",
        "offset.storage.topic": f"{group}-offsets",
        "status.storage.topic": f"{group}-status",
        "config.storage.replication.factor": "1",
        "offset.storage.replication.factor": "1",
        "status.storage.replication.factor": "1",
    }
    return [Worker(tmp / f"worker-{i}", bootstrap, props, mode="distributed") for i in range(count)]
