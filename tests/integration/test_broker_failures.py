"""Broker failures on a three-broker KRaft cluster: the data topic and every internal topic have
replication factor 3 with min.insync.replicas=2, as production clusters run them.

SIGKILL the active controller while connectors run (on a two-worker distributed cluster and on a
standalone worker): leadership moves and rows keep flowing. Then stop a second broker: with two of
three down no write can be acknowledged, so the committed offsets of `connect-<name>` stay
frozen and no task fails; the standalone worker's tasks say why in their `trace`. Bring both
back: everything lands, nothing is lost, and a record lands twice only if it came after the last
commit before the failures began.

This test starts its own Kafka cluster (`services.sh up kafka-cluster`) and kills its brokers:
it is marked `disruptive` and runs in the phase of its own.
"""

import json
import time

import pytest
from confluent_kafka import Producer

from sluice_harness import (Background, CommitWatch, Worker, assert_delivered, clickhouse_connector,
                            distributed_workers, holds_for, sample_events, services, unique, wait_for)

TOTAL = 30_000
PARTITIONS = 6
pytestmark = pytest.mark.disruptive


def task_states(worker, name) -> list[dict]:
    r = worker.get(f"/connectors/{name}/status")
    assert r.status_code == 200, r.text
    return r.json()["tasks"]


def none_failed(workers, name) -> bool:
    for w in workers:
        tasks = task_states(w, name)
        assert not any(t["state"] == "FAILED" for t in tasks), f"a broker outage must not fail tasks: {tasks}"
    return True


def test_controller_killed_then_two_of_three_down_lose_nothing(tmp_path, kafka_cluster, clickhouse, names):
    topic, table = names["topic"], names["table"]
    dist_name, solo_name = names["connector"], names["connector"] + "-solo"
    solo_table = table + "_solo"
    kafka_cluster.create_topic(topic, partitions=PARTITIONS, replication_factor=3, config={"min.insync.replicas": "2"})
    clickhouse.create_events_table(table)
    clickhouse.create_events_table(solo_table)

    cluster = distributed_workers(tmp_path / "dist", kafka_cluster.bootstrap, 2, unique("sluice-brokers"), replication_factor=3)
    solo = Worker(tmp_path / "solo", kafka_cluster.bootstrap)
    workers = [*cluster, solo]
    try:
        for w in workers:
            w.start()
        ids = sorted(w.worker_id for w in cluster)
        wait_for("both workers in the group", lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in cluster),
                 timeout=90)
        dist = clickhouse_connector(dist_name, topic, table, clickhouse.url, tasks=3, coordinates=True)
        assert cluster[0].post("/connectors", dist).status_code == 201
        assert solo.post("/connectors", clickhouse_connector(solo_name, topic, solo_table, clickhouse.url, tasks=3,
                                                             coordinates=True)).status_code == 201

        # Idempotent, acks=all: the producer waits the outage out and never writes a record twice,
        # so every (partition, offset) in the topic is one event.
        producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap, "acks": "all", "enable.idempotence": True,
                             "message.timeout.ms": 600_000, "linger.ms": 20, "log_level": 2})
        refused = []

        def produce():
            for i, e in enumerate(sample_events(TOTAL)):
                while True:
                    try:
                        producer.produce(topic, key=e["session_id"], value=json.dumps(e),
                                         on_delivery=lambda err, _m: err and refused.append(err))
                        break
                    except BufferError:
                        producer.poll(0.1)
                producer.poll(0)
                if i % 100 == 99:
                    time.sleep(0.3)  # pacing: ~90 s of steady traffic, so the outages hit it mid-stream
            assert producer.flush(600) == 0, "records still unacknowledged after the brokers came back"
            assert not refused, f"Kafka refused {len(refused)} records, first: {refused[0]}"

        sending = Background(produce)
        landed = lambda t: clickhouse.scalar(f"SELECT count() FROM {t}")
        wait_for("rows flowing and committed on both sides",
                 lambda: landed(table) > 2000 and landed(solo_table) > 2000
                 and kafka_cluster.committed(dist_name, topic) and kafka_cluster.committed(solo_name, topic), timeout=120)
        # Nothing committed before this point may ever be written again.
        bound = {name: kafka_cluster.committed(name, topic) for name in (dist_name, solo_name)}

        controller = services("controller")
        services("kill", f"kafka-{controller}")  # SIGKILL: no controlled shutdown, no leadership hand-over
        before = (landed(table), landed(solo_table))
        wait_for("rows still flowing without the controller",
                 lambda: landed(table) > before[0] + 2000 and landed(solo_table) > before[1] + 2000, timeout=120)
        assert none_failed(cluster[:1], dist_name) and none_failed([solo], solo_name)

        # Stop the other broker that is not the group coordinator of connect-<dist_name>: the
        # survivor can still answer what that group has committed, so "frozen" is observed.
        coordinator = str(kafka_cluster.admin.describe_consumer_groups([f"connect-{dist_name}"])[f"connect-{dist_name}"]
                          .result(timeout=30).coordinator.id)
        assert coordinator != controller, "the coordinator moved off the killed controller"
        second = next(n for n in ("1", "2", "3") if n not in (controller, coordinator))
        watches = {name: CommitWatch(kafka_cluster, name, topic) for name in (dist_name, solo_name)}
        services("down", f"kafka-{second}")  # and a clean stop: two of three are down now

        def outage_reported():
            tasks = task_states(solo, solo_name)
            assert all(t["state"] == "RUNNING" for t in tasks), tasks  # riding it out, not failed
            return any("Kafka" in (t.get("trace") or "") for t in tasks) and tasks

        wait_for("the outage in the standalone tasks' trace", outage_reported, timeout=120)
        outage_began = time.monotonic()
        holds_for("no task FAILED while two of three brokers are down",
                  lambda: none_failed([solo], solo_name) and none_failed(cluster, dist_name), seconds=20)
        outage_checked = time.monotonic()

        services("up", f"kafka-{controller}", f"kafka-{second}")
        for name, watch in watches.items():
            frozen = watch.between(outage_began, outage_checked)
            assert len({json.dumps(s, sort_keys=True) for s in frozen}) <= 1, (
                f"{name}: offsets were committed while two of three brokers were down: {frozen}")
        assert len(watches[dist_name].between(outage_began, outage_checked)) >= 3, (
            "the surviving coordinator must answer for connect-<name> during the outage", watches[dist_name].samples)

        sending.result(timeout=900)
        for name, t, w in ((dist_name, table, cluster[0]), (solo_name, solo_table, solo)):
            kafka_cluster.wait_committed_to_end(name, topic, timeout=300)
            assert_delivered(clickhouse, t, kafka_cluster.end_offsets(topic),
                             duplicates_from={p: bound[name].get(p, 0) for p in range(PARTITIONS)})
            wait_for(f"{name}: every task RUNNING and the outage note cleared",
                     lambda: all(t["state"] == "RUNNING" and not t.get("trace") for t in task_states(w, name)), timeout=90)
            watches[name].stop_and_check_monotonic()
    finally:
        for w in workers:
            w.stop()
