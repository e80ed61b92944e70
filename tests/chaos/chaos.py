#!/usr/bin/env python3
"""The chaos suite: a steady load through both sinks, with exactly-once on, while faults are
injected one after another and in pairs; after each scenario, exact counts.

What runs (all real: the three-broker KRaft cluster of `services.sh up kafka-cluster`, Apicurio,
ClickHouse, SeaweedFS, three distributed `sluice` workers):

- a producer (Confluent's Python client, idempotent, acks=all) sends RATE events/s as JSON into
  one topic and as Avro (Confluent's serializer, through the registry) into another, both with
  6 partitions, replication factor 3 and min.insync.replicas=2, for the whole run;
- four connectors read them: ClickHouse with `exactlyOnce=true` from each topic (plain MergeTree
  tables: nothing merges duplicates away), and the Parquet sink from the JSON topic into a
  SeaweedFS bucket and into a local directory.

Each scenario injects its faults, holds them, heals them, then takes the topics' end offsets
and waits until every connector committed past them. It then counts, for every sink, the
(partition, offset) pairs below those ends that are missing (lost) and every row beyond the first
of a (partition, offset) anywhere (duplicated). One line per scenario; the suite ends with a
table and, once the load is stopped, the strict check: `count()` (ClickHouse) and the files' rows
(Parquet) equal the records Kafka acknowledged, each (partition, offset) once.

    tests/chaos/run.sh                  the full suite (about 35 minutes); writes tests/chaos/RESULTS.md
    tests/chaos/run.sh --reduced        the reduced suite that `make test` runs (about 8 minutes)
    tests/chaos/run.sh --only NAME...   chosen scenarios (names: --list)

Exit status 0 only when every scenario and the final check are exact.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "integration"))

import pyarrow.fs as pafs  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
from confluent_kafka import KafkaException, Producer  # noqa: E402
from confluent_kafka.serialization import MessageField, SerializationContext  # noqa: E402

from parquet_harness import local_store, new_bucket, parquet_connector, s3_filesystem, s3_store  # noqa: E402
from registry_clients import avro_serializer  # noqa: E402
from sluice_harness import (REPO, ClickHouse, Kafka, Worker, clickhouse_connector, distributed_workers, env,  # noqa: E402
                            holds_for, services, unique, wait_for)

PARTITIONS = 6
AVRO_SCHEMA = {
    "type": "record", "name": "ChaosEvent", "namespace": "io.sluice.chaos",
    "fields": [{"name": n, "type": "string"} for n in ("user_id", "event_type", "timestamp", "session_id", "device")],
}
KINDS, DEVICES = ["purchase", "view", "click", "signup"], ["mobile", "desktop", "tablet"]


def log(message: str) -> None:
    print(f"{time.strftime('%H:%M:%S')} {message}", flush=True)


def retrying(what: str, call: Callable, timeout: float = 120):
    """`call()`, again while Kafka answers with a passing error (a broker just restarted: not
    leader for a partition, coordinator moving)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except KafkaException as e:
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: Kafka kept failing for {timeout:.0f}s: {e}") from e
            time.sleep(1)


def event(i: int) -> dict:
    """The README's sample event; `session_id` is unique per event."""
    return {"user_id": f"user_{i % 97}", "event_type": KINDS[i % 4],
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1758191400 + i)),
            "session_id": f"sess_{i}", "device": DEVICES[i % 3]}


# ---------------------------------------------------------------------------------------------
# The load

class Load(threading.Thread):
    """`rate` events/s into each topic for as long as it runs. Idempotent and acks=all with a long
    delivery timeout: the producer waits broker outages out and never writes an event twice, so
    every (partition, offset) of a topic is one event, and offsets are contiguous."""

    def __init__(self, bootstrap: str, json_topic: str, avro_topic: str, registry_url: str, rate: int):
        super().__init__(daemon=True, name="load")
        self.json_topic, self.avro_topic, self.rate = json_topic, avro_topic, rate
        self.producer = Producer({"bootstrap.servers": bootstrap, "acks": "all", "enable.idempotence": True,
                                  "message.timeout.ms": 900_000, "linger.ms": 20, "log_level": 0})
        self.serialize = avro_serializer(registry_url, AVRO_SCHEMA)
        self.acked: Counter = Counter()
        self.refused: list = []
        self.sent = 0
        self._halt = threading.Event()
        self.unflushed = None

    def _delivered(self, err, msg) -> None:
        if err is not None:
            self.refused.append(err)
        else:
            self.acked[msg.topic()] += 1

    def _send(self, topic: str, key: str, value: bytes) -> None:
        while True:
            try:
                self.producer.produce(topic, key=key, value=value, on_delivery=self._delivered)
                return
            except BufferError:  # brokers down: the queue is full until they are back
                self.producer.poll(0.2)

    def run(self) -> None:
        ctx = SerializationContext(self.avro_topic, MessageField.VALUE)
        tick = 0.1
        next_tick = time.monotonic()
        while not self._halt.is_set():
            for _ in range(max(1, int(self.rate * tick))):
                e = event(self.sent)
                self._send(self.json_topic, e["session_id"], json.dumps(e).encode())
                self._send(self.avro_topic, e["session_id"], self.serialize(e, ctx))
                self.sent += 1
            self.producer.poll(0)
            next_tick = max(next_tick + tick, time.monotonic() - 1)  # never catch up more than 1 s
            time.sleep(max(0.0, next_tick - time.monotonic()))
        self.unflushed = self.producer.flush(900)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=960)
        assert self.unflushed == 0, f"{self.unflushed} events were never acknowledged by Kafka"
        assert not self.refused, f"Kafka refused {len(self.refused)} events, first: {self.refused[0]}"


# ---------------------------------------------------------------------------------------------
# The sinks and how to count what they hold

@dataclass
class Sink:
    connector: str
    topic: str
    count: Callable[[dict[int, int]], tuple[int, int, int]]  # ends -> (rows, lost below ends, duplicated)
    config: dict = field(default_factory=dict)


def clickhouse_counter(clickhouse: ClickHouse, table: str):
    def count(ends: dict[int, int]) -> tuple[int, int, int]:
        total = dict(clickhouse.rows(
            f"SELECT count() AS n, uniqExact(_partition, _offset) AS u FROM {table}")[0])
        present = {int(r["p"]): int(r["u"]) for r in clickhouse.rows(
            f"SELECT _partition AS p, uniqExact(_offset) AS u FROM {table} "
            f"WHERE {' OR '.join(f'(_partition = {p} AND _offset < {e})' for p, e in ends.items()) or '0'} GROUP BY p")}
        lost = sum(e - present.get(p, 0) for p, e in ends.items())
        return int(total["n"]), lost, int(total["n"]) - int(total["u"])
    return count


class ParquetCounter:
    """Reads `kafka_partition`/`kafka_offset` of every published file under
    `<root>/topics/<topic>/` (files are immutable once published; a re-published name is read
    again when its size or time changes)."""

    def __init__(self, fs: pafs.FileSystem, root: str, topic: str):
        self.fs, self.base = fs, f"{root.rstrip('/')}/topics/{topic}"
        self.cache: dict[str, tuple[tuple, Counter]] = {}

    def __call__(self, ends: dict[int, int]) -> tuple[int, int, int]:
        infos = self.fs.get_file_info(pafs.FileSelector(self.base, recursive=True, allow_not_found=True))
        seen: Counter = Counter()
        live = set()
        for info in infos:
            if info.type != pafs.FileType.File or not info.path.endswith(".parquet") or "/.sluice-tmp/" in info.path:
                continue
            live.add(info.path)
            stamp = (info.size, info.mtime_ns)
            cached = self.cache.get(info.path)
            if cached is None or cached[0] != stamp:
                t = pq.read_table(info.path, filesystem=self.fs, columns=["kafka_partition", "kafka_offset"])
                cached = (stamp, Counter(zip(t.column(0).to_pylist(), t.column(1).to_pylist())))
                self.cache[info.path] = cached
            seen.update(cached[1])
        for gone in set(self.cache) - live:
            del self.cache[gone]
        lost = sum(1 for p, e in ends.items() for o in range(e) if (p, o) not in seen)
        return sum(seen.values()), lost, sum(n - 1 for n in seen.values() if n > 1)


# ---------------------------------------------------------------------------------------------
# The cluster under test

class Chaos:
    def __init__(self, workdir: Path, rate: int, outage: float, rng: random.Random, bootstrap: str):
        self.workdir, self.rate, self.outage, self.rng = workdir, rate, outage, rng
        self.kafka = Kafka(bootstrap)
        self.clickhouse = ClickHouse(env("SLUICE_CLICKHOUSE_URL"))
        self.registry_url = env("SLUICE_REGISTRY_URL")
        base = unique("chaos")
        self.json_topic, self.avro_topic = f"{base}_json", f"{base}_avro"
        self.local_dir = workdir / "parquet-local"
        self.workers = distributed_workers(workdir, self.kafka.bootstrap, 3, f"sluice-{base}", replication_factor=3)
        self.sinks: list[Sink] = []
        self.load: Load | None = None
        self.base = base
        self.tasks_max_flip = False

    # -- set-up -----------------------------------------------------------------------------

    def start(self) -> None:
        for topic in (self.json_topic, self.avro_topic):
            self.kafka.create_topic(topic, partitions=PARTITIONS, replication_factor=3,
                                    config={"min.insync.replicas": "2"})
        for w in self.workers:
            w.start()
        ids = sorted(w.worker_id for w in self.workers)
        wait_for("three workers in one group", lambda: all(self.members(w) == ids for w in self.workers), timeout=120)

        json_table, avro_table = f"{self.base}_json", f"{self.base}_avro"
        for table in (json_table, avro_table):
            self.clickhouse.query(
                f"CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, session_id String, "
                "device String, _topic String, _partition Int32, _offset Int64) "
                "ENGINE = MergeTree() PARTITION BY toYYYYMMDD(timestamp) ORDER BY (_partition, _offset)")
        bucket = new_bucket()
        parquet_common = {"rotate.schedule.interval.ms": "3000", "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                          "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                          "value.converter.schemas.enable": "false"}
        avro = {"value.converter": "io.confluent.connect.avro.AvroConverter",
                "value.converter.schema.registry.url": self.registry_url}
        configs = [
            (clickhouse_connector(f"ch-json-{self.base}", self.json_topic, json_table, self.clickhouse.url, tasks=3,
                                  exactlyOnce="true"), clickhouse_counter(self.clickhouse, json_table)),
            (clickhouse_connector(f"ch-avro-{self.base}", self.avro_topic, avro_table, self.clickhouse.url, tasks=3,
                                  exactlyOnce="true", **avro), clickhouse_counter(self.clickhouse, avro_table)),
            (parquet_connector(f"pq-s3-{self.base}", self.json_topic, s3_store(bucket), flush_size=5000, tasks=3,
                               **parquet_common), ParquetCounter(s3_filesystem(), bucket, self.json_topic)),
            (parquet_connector(f"pq-local-{self.base}", self.json_topic, local_store(self.local_dir), flush_size=5000,
                               tasks=2, **parquet_common),
             ParquetCounter(pafs.LocalFileSystem(), str(self.local_dir.resolve()), self.json_topic)),
        ]
        for body, counter in configs:
            r = self.workers[0].post("/connectors", body)
            assert r.status_code == 201, r.text
            topic = body["config"]["topics"]
            self.sinks.append(Sink(body["name"], topic, counter, body["config"]))
        self.wait_all_running(timeout=120)
        self.load = Load(self.kafka.bootstrap, self.json_topic, self.avro_topic, self.registry_url, self.rate)
        self.load.start()
        log(f"load: {self.rate} events/s into {self.json_topic} (JSON) and {self.avro_topic} (Avro)")

    def stop(self) -> None:
        """Stops the workers, and heals what an interrupted scenario may have left broken."""
        d = str(self.local_dir.resolve())
        if subprocess.run(["mountpoint", "-q", d]).returncode == 0:
            subprocess.run(["umount", d], check=False)
        try:
            services("up", "clickhouse", "registry", "s3", "kafka-cluster")
        except Exception as e:  # noqa: BLE001 - reported, the run's outcome stands
            log(f"bringing the services back failed: {e}")
        for w in self.workers:
            if w.proc is not None and w.proc.poll() is None:
                w.proc.send_signal(signal.SIGCONT)  # a frozen worker cannot terminate
            w.stop()

    # -- views ------------------------------------------------------------------------------

    def alive(self) -> list[Worker]:
        return [w for w in self.workers if w.proc is not None and w.proc.poll() is None]

    @staticmethod
    def members(w: Worker) -> list[str] | None:
        try:
            return w.get("/sluice/cluster").json()["members"]
        except Exception:
            return None

    def status(self, via: Worker | None = None) -> dict:
        """connector -> its status, from one live worker."""
        w = via or self.alive()[0]
        r = w.get("/connectors?expand=status")
        r.raise_for_status()
        return {name: doc["status"] for name, doc in r.json().items()}

    def assignment(self, via: Worker | None = None) -> dict:
        return {name: {t["id"]: t["worker_id"] for t in s["tasks"]} for name, s in self.status(via).items()}

    def expected_tasks(self, sink: Sink) -> int:
        return int(sink.config["tasks.max"])

    def all_running(self, avoid: str | None = None, via: Worker | None = None):
        """Every connector's tasks RUNNING (and none on `avoid`); raises on a FAILED task."""
        try:
            st = self.status(via)
        except Exception:
            return False
        for sink in self.sinks:
            s = st.get(sink.connector)
            if s is None:
                return False
            failed = [t for t in s["tasks"] if t["state"] == "FAILED"]
            if failed:
                raise AssertionError(f"{sink.connector} task {failed[0]['id']} FAILED: {failed[0].get('trace')}")
            if len(s["tasks"]) != self.expected_tasks(sink):
                return False
            if any(t["state"] != "RUNNING" or t["worker_id"] == avoid for t in s["tasks"]):
                return False
        return True

    def wait_all_running(self, avoid: str | None = None, timeout: float = 120, via: Worker | None = None) -> None:
        wait_for("every task RUNNING" + (f" on workers other than {avoid}" if avoid else ""),
                 lambda: self.all_running(avoid, via), timeout=timeout, interval=0.1)

    # -- the check after each scenario -------------------------------------------------------

    def checkpoint(self, timeout: float = 420) -> dict:
        """Waits until every connector committed past the topics' ends of now, then counts."""
        ends = {t: retrying(f"end offsets of {t}", lambda t=t: self.kafka.end_offsets(t))
                for t in (self.json_topic, self.avro_topic)}
        started = time.monotonic()

        def caught_up():
            self.all_running()
            for sink in self.sinks:
                committed = retrying(f"offsets committed by {sink.connector}",
                                     lambda s=sink: self.kafka.committed(s.connector, s.topic))
                if any(committed.get(p, 0) < e for p, e in ends[sink.topic].items()):
                    return False
            return True

        wait_for(f"every connector to commit past {ends}", caught_up, timeout=timeout, interval=0.5)
        caught = time.monotonic() - started
        counts = {s.connector: s.count(ends[s.topic]) for s in self.sinks}
        return {"ends": ends, "caught_up_s": caught, "counts": counts,
                "produced": sum(sum(e.values()) for e in ends.values())}

    def final_check(self) -> dict:
        """Load stopped: every sink holds exactly what Kafka acknowledged."""
        self.load.stop()
        result = self.checkpoint()
        for sink in self.sinks:
            rows, lost, dup = result["counts"][sink.connector]
            expected = self.load.acked[sink.topic]
            assert sum(result["ends"][sink.topic].values()) == expected, (
                f"{sink.topic}: end offsets {result['ends'][sink.topic]} but {expected} acknowledged")
            result.setdefault("exact", {})[sink.connector] = (rows == expected and lost == 0 and dup == 0, rows, expected)
        return result

    # -- faults (generators: the code before `yield` injects, after it heals) ------------------

    def pick(self, role: str) -> Worker:
        alive = self.alive()
        leaders = []
        for w in alive:
            try:
                if w.get("/sluice/cluster").json().get("leader"):
                    leaders.append(w)
            except Exception:
                pass
        if role == "leader":
            assert len(leaders) == 1, f"expected one leader, found {[w.worker_id for w in leaders]}"
            return leaders[0]
        # a worker that runs tasks and is not the leader
        busy = Counter(wid for a in self.assignment().values() for wid in a.values())
        candidates = [w for w in alive if w not in leaders and busy[w.worker_id]]
        return self.rng.choice(candidates or [w for w in alive if w not in leaders])

    def kill_worker(self, note: list, role: str = "worker") -> Iterator[None]:
        victim = self.pick(role)
        watcher = next(w for w in self.alive() if w is not victim)
        killed = time.monotonic()
        victim.kill(signal.SIGKILL)
        self.wait_all_running(avoid=victim.worker_id, timeout=60, via=watcher)
        note.append(f"kill -9 {role} {victim.worker_id}: tasks RUNNING elsewhere after {time.monotonic() - killed:.1f}s")
        yield
        victim.start()
        ids = sorted(w.worker_id for w in self.workers)
        wait_for("the restarted worker back in the group", lambda: all(self.members(w) == ids for w in self.workers),
                 timeout=120)

    def freeze_worker(self, note: list, seconds: float) -> Iterator[None]:
        victim = self.pick("worker")
        watcher = next(w for w in self.alive() if w is not victim)
        before = self.assignment(watcher)
        victim.proc.send_signal(signal.SIGSTOP)
        frozen = time.monotonic()
        moved_at = None
        try:
            while time.monotonic() - frozen < seconds:
                if moved_at is None and self.assignment(watcher) != before:
                    moved_at = time.monotonic() - frozen
                time.sleep(0.2)
        finally:
            victim.proc.send_signal(signal.SIGCONT)
        yield
        if seconds < 5:
            holds_for("no task moved after a short freeze", lambda: self.assignment(watcher) == before, seconds=10)
            assert moved_at is None, f"tasks moved {moved_at:.1f}s into a {seconds}s freeze"
            note.append(f"SIGSTOP {seconds:.0f}s of {victim.worker_id}: no task moved")
        else:
            note.append(f"SIGSTOP {seconds:.0f}s of {victim.worker_id}: "
                        + (f"tasks moved after {moved_at:.1f}s" if moved_at else "no task moved"))
        ids = sorted(w.worker_id for w in self.workers)
        wait_for("the woken worker back in the group", lambda: all(self.members(w) == ids for w in self.workers),
                 timeout=120)

    def service_down(self, note: list, service: str) -> Iterator[None]:
        services("down", service)
        down = time.monotonic()
        time.sleep(self.outage)
        yield
        services("up", service)
        note.append(f"{service} down {time.monotonic() - down:.0f}s")

    def broker_restart(self, note: list) -> Iterator[None]:
        controller = services("controller")
        node = self.rng.choice([n for n in ("1", "2", "3") if n != controller])
        services("restart", f"kafka-{node}")
        note.append(f"broker kafka-{node} restarted")
        yield

    def controller_stopped(self, note: list) -> Iterator[None]:
        controller = services("controller")
        services("down", f"kafka-{controller}")
        time.sleep(self.outage)
        yield
        services("up", f"kafka-{controller}")
        note.append(f"controller kafka-{controller} stopped {self.outage:.0f}s")

    def two_brokers_down(self, note: list) -> Iterator[None]:
        nodes = self.rng.sample(["1", "2", "3"], 2)
        services("down", *(f"kafka-{n}" for n in nodes))
        time.sleep(self.outage)
        yield
        services("up", *(f"kafka-{n}" for n in nodes))
        note.append(f"kafka-{nodes[0]} and kafka-{nodes[1]} down {self.outage:.0f}s")

    def local_dir_read_only(self, note: list) -> Iterator[None]:
        """The local Parquet directory read-only: a read-only bind mount over it when root (root
        ignores permission bits), else the write bits taken away."""
        d = str(self.local_dir.resolve())
        as_root = os.geteuid() == 0
        if as_root:
            subprocess.run(["mount", "--bind", "-o", "ro", d, d], check=True)
        else:
            subprocess.run(["chmod", "-R", "a-w", d], check=True)
        try:
            time.sleep(self.outage)
        finally:
            if as_root:
                subprocess.run(["umount", d], check=True)
            else:
                subprocess.run(["chmod", "-R", "u+w", d], check=True)
        note.append(f"local Parquet directory read-only {self.outage:.0f}s")
        yield

    def reconfigure(self, note: list) -> Iterator[None]:
        self.tasks_max_flip = not self.tasks_max_flip
        changes = []
        for sink, (a, b) in zip(self.sinks, [(3, 4), (3, 3), (3, 3), (2, 3)]):
            wanted = b if self.tasks_max_flip else a
            if int(sink.config["tasks.max"]) == wanted:
                continue
            sink.config = {**sink.config, "tasks.max": str(wanted)}
            r = self.alive()[0].put(f"/connectors/{sink.connector}/config", sink.config)
            assert r.status_code == 200, r.text
            changes.append(f"{sink.connector.split('-' + self.base)[0]} tasks.max={wanted}")
        self.wait_all_running(timeout=90)
        note.append("reconfigured: " + ", ".join(changes))
        yield


# ---------------------------------------------------------------------------------------------
# Scenarios

def scenarios(chaos: Chaos) -> dict[str, list[Callable]]:
    c = chaos
    one = {
        "kill-worker": [lambda n: c.kill_worker(n, "worker")],
        "kill-leader": [lambda n: c.kill_worker(n, "leader")],
        "freeze-3s": [lambda n: c.freeze_worker(n, 3)],
        "freeze-15s": [lambda n: c.freeze_worker(n, 15)],
        "broker-restart": [c.broker_restart],
        "controller-stopped": [c.controller_stopped],
        "two-brokers-down": [c.two_brokers_down],
        "clickhouse-down": [lambda n: c.service_down(n, "clickhouse")],
        "registry-down": [lambda n: c.service_down(n, "registry")],
        "s3-down": [lambda n: c.service_down(n, "s3")],
        "local-dir-read-only": [c.local_dir_read_only],
        "reconfigure": [c.reconfigure],
    }
    pairs = {
        "kill-leader+clickhouse-down": one["clickhouse-down"] + one["kill-leader"],
        "registry-down+kill-worker": one["registry-down"] + one["kill-worker"],
        "broker-restart+reconfigure": one["broker-restart"] + one["reconfigure"],
        "s3-down+freeze-15s": one["s3-down"] + one["freeze-15s"],
        "controller-stopped+local-dir-read-only": one["local-dir-read-only"] + one["controller-stopped"],
    }
    return {**one, **pairs}


REDUCED = ["kill-leader", "freeze-3s", "freeze-15s", "clickhouse-down", "broker-restart", "reconfigure", "registry-down+kill-worker"]


def run_scenario(chaos: Chaos, name: str, faults: list[Callable]) -> dict:
    """Injects the faults in order (a pair overlaps: the second is injected while the first
    holds), heals them in reverse order, then checks."""
    note: list[str] = []
    started = time.monotonic()
    active: list[Iterator] = []
    error = None
    try:
        for fault in faults:
            gen = fault(note)
            next(gen)
            active.append(gen)
    except Exception as e:  # noqa: BLE001 - reported in the scenario's line
        error = f"injecting: {e}"
    for gen in reversed(active):
        try:
            next(gen, None)
        except Exception as e:  # noqa: BLE001
            error = error or f"healing: {e}"
    healed = time.monotonic()
    result = {"scenario": name, "note": "; ".join(note), "seconds": healed - started}
    try:
        result.update(chaos.checkpoint())
    except Exception as e:  # noqa: BLE001
        error = error or f"checking: {e}"
    result["error"] = error
    result["exact"] = error is None and all(lost == 0 and dup == 0 for _, lost, dup in result.get("counts", {}).values())
    return result


def line(chaos: Chaos, r: dict) -> str:
    counts = " ".join(f"{name.split('-' + chaos.base)[0]} lost={lost} dup={dup}"
                      for name, (_, lost, dup) in r.get("counts", {}).items())
    verdict = "exact" if r["exact"] else "NOT EXACT"
    extra = f" | ERROR {r['error']}" if r.get("error") else ""
    return (f"{r['scenario']}: {verdict} | {r['seconds']:.0f}s fault, caught up {r.get('caught_up_s', 0):.0f}s after | "
            f"{r.get('produced', 0)} records | {counts} | {r['note']}{extra}")


def table(chaos: Chaos, results: list[dict], final: dict | None, header: str) -> str:
    names = [s.connector.split("-" + chaos.base)[0] for s in chaos.sinks]
    out = [header, "", "| scenario | result | fault (s) | caught up (s) | records so far | "
           + " | ".join(f"{n} lost/dup" for n in names) + " | what happened |",
           "|---|---|---|---|---|" + "---|" * len(names) + "---|"]
    for r in results:
        cells = [f"{lost}/{dup}" for _, lost, dup in r.get("counts", {}).values()] or ["–"] * len(names)
        what = r["note"] + (f" — ERROR: {r['error']}" if r.get("error") else "")
        out.append(f"| {r['scenario']} | {'exact' if r['exact'] else '**NOT EXACT**'} | {r['seconds']:.0f} | "
                   f"{r.get('caught_up_s', 0):.0f} | {r.get('produced', 0)} | " + " | ".join(cells) + f" | {what} |")
    if final:
        cells = [f"{rows} of {expected}" + ("" if ok else " **NOT EXACT**") for ok, rows, expected in final["exact"].values()]
        out.append(f"| final (load stopped) | {'exact' if all(v[0] for v in final['exact'].values()) else '**NOT EXACT**'}"
                   f" | – | {final['caught_up_s']:.0f} | {final['produced']} | " + " | ".join(cells) + " | rows = records Kafka acknowledged |")
    return "\n".join(out)


def run(names: list[str], workdir: Path, rate: int, outage: float, seed: int, warmup: float = 20,
        bootstrap: str | None = None) -> tuple[bool, str]:
    """Runs the scenarios `names` in order; (every count exact, the result table)."""
    rng = random.Random(seed)
    chaos = Chaos(workdir, rate, outage, rng, bootstrap or env("SLUICE_KAFKA_CLUSTER_BOOTSTRAP"))
    results: list[dict] = []
    final = None
    try:
        chaos.start()
        available = scenarios(chaos)
        unknown = [n for n in names if n not in available]
        assert not unknown, f"unknown scenarios {unknown}; known: {list(available)}"
        time.sleep(warmup)
        baseline = run_scenario(chaos, "warm-up (no fault)", [])
        results.append(baseline)
        log(line(chaos, baseline))
        for name in names:
            log(f"scenario {name}")
            r = run_scenario(chaos, name, available[name])
            results.append(r)
            log(line(chaos, r))
        final = chaos.final_check()
        log("final: " + ", ".join(f"{n.split('-' + chaos.base)[0]} {rows}/{exp} {'exact' if ok else 'NOT EXACT'}"
                                  for n, (ok, rows, exp) in final["exact"].items()))
    finally:
        chaos.stop()
    ok = bool(final) and all(r["exact"] for r in results) and all(v[0] for v in final["exact"].values())
    header = (f"Chaos suite, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, commit {commit()}, seed {seed}, "
              f"{rate} events/s per topic, outages of {outage:.0f}s, {os.cpu_count()} CPUs: "
              f"{'every count exact' if ok else 'NOT EXACT'}\n\n{EXPLAINED}")
    return ok, table(chaos, results, final, header)


EXPLAINED = """"records so far" counts both topics. "caught up" is the time from healing the fault until every
connector had committed past the topics' ends taken at that moment. "lost" counts records below
those ends that are in no row; "dup" counts every row beyond the first of a `(partition, offset)`,
anywhere in the table or the files. The final row compares each sink with the records Kafka
acknowledged once the load stopped."""


def commit() -> str:
    """The checkout's commit, `+changes` when the tree differs from it."""
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(REPO), "diff", "--quiet", "HEAD", "--", "worker", "connectors", "converters"])
    return (head.stdout.strip() or "unknown") + ("+changes" if dirty.returncode else "")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--reduced", action="store_true", help=f"the reduced suite of `make test`: {', '.join(REDUCED)}")
    p.add_argument("--only", nargs="+", metavar="NAME", help="run these scenarios, in this order")
    p.add_argument("--list", action="store_true", help="print the scenario names and exit")
    p.add_argument("--rate", type=int, default=200, help="events/s into each topic (default 200)")
    p.add_argument("--outage", type=float, help="seconds each outage holds (default 30, reduced 15)")
    p.add_argument("--seed", type=int, default=random.randrange(1 << 30))
    p.add_argument("--workdir", type=Path, help="worker data and logs (default: a new directory under /tmp)")
    p.add_argument("--report", type=Path, help="also write the result table (Markdown) here")
    args = p.parse_args(argv)
    if args.list:
        print("\n".join(_names()))
        return 0
    names = args.only or (REDUCED if args.reduced else _names())
    outage = args.outage or (15.0 if args.reduced else 30.0)
    workdir = args.workdir or Path(subprocess.run(["mktemp", "-d", "/tmp/sluice-chaos.XXXXXX"], capture_output=True,
                                                  text=True, check=True).stdout.strip())
    log(f"chaos suite: {len(names)} scenarios, seed {args.seed}, worker logs in {workdir}")
    ok, report = run(names, workdir, args.rate, outage, args.seed)
    print("\n" + report)
    if args.report:
        args.report.write_text("# Chaos suite: last full run\n\nWritten by `make chaos`.\n\n" + report + "\n")
    return 0 if ok else 1


def _names() -> list[str]:
    """Every scenario name, singles first, then pairs (without starting anything)."""
    class Probe:
        def __getattr__(self, _):
            return lambda *a, **k: None
    return list(scenarios(Probe()))  # type: ignore[arg-type]


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
