"""Broker failures on a three-broker KRaft cluster (replication factor 3, min.insync.replicas=2).

Stop the active controller while a connector runs: nothing fails, nothing is lost. Stop a second
broker: the tasks report the outage in their status but lose nothing. Bring both back: the
connector catches up and the count is exact.
"""

import os
import subprocess
import threading
import time

import pytest
from confluent_kafka import Producer

from sluice_harness import REPO, Kafka, Worker, clickhouse_connector, sample_events, wait_for

SERVICES = str(REPO / "tests" / "services" / "services.sh")


def services(*args: str) -> str:
    out = subprocess.run([SERVICES, *args], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, f"services.sh {' '.join(args)} failed:\n{out.stdout}\n{out.stderr}"
    return out.stdout.strip()


@pytest.fixture(scope="module")
def kafka_cluster():
    services("up", "kafka-cluster")
    env = dict(line.removeprefix("export ").split("=", 1) for line in services("env").splitlines() if line.startswith("export "))
    bootstrap = env["SLUICE_KAFKA_CLUSTER_BOOTSTRAP"].strip("'\"")
    yield Kafka(bootstrap)
    services("down", "kafka-cluster")


def test_controller_and_second_broker_outage_lose_nothing(tmp_path, kafka_cluster, clickhouse, names):
    total = 30_000
    kafka_cluster.create_topic(names["topic"], partitions=6)
    clickhouse.create_events_table(names["table"])
    worker = Worker(tmp_path, kafka_cluster.bootstrap).start()
    try:
        body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, tasks=3)
        assert worker.post("/connectors", body).status_code == 201

        # The test's own producer waits out the outage instead of giving up on records.
        producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                             "message.timeout.ms": 600_000, "linger.ms": 20, "log_level": 2})
        failed = []
        events = sample_events(total)

        def produce():
            for i, e in enumerate(events):
                producer.produce(names["topic"], key=e["session_id"], value=__import__("json").dumps(e),
                                 on_delivery=lambda err, msg: err and failed.append(err))
                producer.poll(0)
                if i % 100 == 99:
                    time.sleep(0.3)  # 300 pauses: about 90 s of steady traffic, so the outages hit it mid-stream
            producer.flush(600)

        sending = threading.Thread(target=produce)
        sending.start()
        landed = lambda: clickhouse.scalar(f"SELECT count(DISTINCT session_id) FROM {names['table']}")
        wait_for("rows flowing", lambda: landed() > 2000, timeout=120)

        controller = services("controller")
        services("down", f"kafka-{controller}")
        before = landed()
        wait_for("rows still flowing without the controller", lambda: landed() > before + 2000, timeout=120)
        states = {t["state"] for t in worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]}
        assert states == {"RUNNING"}, states

        second = next(n for n in ("1", "2", "3") if n != controller)
        services("down", f"kafka-{second}")

        def outage_reported():
            tasks = worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]
            assert all(t["state"] == "RUNNING" for t in tasks), tasks  # riding it out, not failed
            return any(t.get("trace") for t in tasks) and tasks

        reported = wait_for("the outage in the tasks' status", outage_reported, timeout=120)
        assert any("Kafka" in (t.get("trace") or "") for t in reported), reported

        services("up", f"kafka-{controller}", f"kafka-{second}")
        sending.join(timeout=900)
        assert not failed, f"the producer lost records: {failed[:3]}"
        wait_for(f"all {total} events after recovery", lambda: landed() == total, timeout=300)
        tasks = worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]
        assert {t["state"] for t in tasks} == {"RUNNING"}
        wait_for("the outage note to clear", lambda: not any(
            t.get("trace") for t in worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]), timeout=90)
    finally:
        worker.stop()
