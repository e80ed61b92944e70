"""A worker cut off from Kafka (a network partition, not a crash): it must stop its tasks, the
others must take them over, it must not commit anything after the cut, and it must rejoin when
the network heals. The worker reaches the broker only through a TCP proxy in this test
(`tcp_proxy.py`, via the broker's PROXIED listener), which goes silent for longer than the
worker group's `session.timeout.ms`.
"""

import collections
import os
import time

from sluice_harness import (Background, CommitWatch, Worker, assert_delivered, clickhouse_connector, distributed_props,
                            sample_events, unique, wait_for)
from tcp_proxy import TcpProxy

TOTAL = 30_000
PARTITIONS = 6


def spread(worker, name):
    """Task count per worker once all tasks are RUNNING, else None."""
    r = worker.get(f"/connectors/{name}/status")
    if r.status_code != 200:
        return None
    tasks = r.json()["tasks"]
    if len(tasks) != PARTITIONS or any(t["state"] != "RUNNING" for t in tasks):
        return None
    return collections.Counter(t["worker_id"] for t in tasks)


def test_a_worker_cut_off_from_kafka_hands_its_tasks_over_and_rejoins(tmp_path, kafka, clickhouse, names):
    topic, table, name = names["topic"], names["table"], names["connector"]
    kafka.create_topic(topic, partitions=PARTITIONS)
    clickhouse.create_events_table(table)
    proxy_port, proxied_port = int(os.environ["SLUICE_KAFKA_PROXY_PORT"]), int(os.environ["SLUICE_KAFKA_PROXIED_PORT"])
    props = distributed_props(unique("sluice-cut"))
    with TcpProxy(proxy_port, proxied_port) as proxy:
        healthy = [Worker(tmp_path / f"worker-{i}", kafka.bootstrap, props, mode="distributed") for i in range(2)]
        victim = Worker(tmp_path / "victim", f"127.0.0.1:{proxy_port}", props, mode="distributed")
        workers = [*healthy, victim]
        try:
            for w in workers:
                w.start()
            ids = sorted(w.worker_id for w in workers)
            wait_for("three workers in the group",
                     lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in workers), timeout=60)
            assert proxy.connections > 0, "the victim must reach Kafka through the proxy only"

            body = clickhouse_connector(name, topic, table, clickhouse.url, tasks=PARTITIONS, coordinates=True)
            assert healthy[0].post("/connectors", body).status_code == 201
            wait_for("2/2/2", lambda: (s := spread(healthy[0], name)) and sorted(s.values()) == [2, 2, 2], timeout=60)

            events = sample_events(TOTAL)

            def produce():
                for start in range(0, TOTAL, 1000):
                    kafka.produce_json(topic, events[start:start + 1000])
                    time.sleep(1)  # pacing: ~30 s of traffic, so the cut lands mid-stream

            producer = Background(produce)
            watch = CommitWatch(kafka, name, topic)
            wait_for("rows flowing and committed", lambda: len(kafka.committed(name, topic)) == PARTITIONS
                     and clickhouse.scalar(f"SELECT count() FROM {table}") > 3000, timeout=120)

            log_at_cut = len(victim.log_path.read_text())
            proxy.cut()
            # From here the victim cannot commit; this is its last word on its partitions.
            at_cut = kafka.committed(name, topic)

            moved = wait_for("the victim's tasks RUNNING on the two others",
                             lambda: (s := spread(healthy[0], name)) and victim.worker_id not in s and s, timeout=45)
            assert sorted(moved.values()) == [3, 3], moved
            wait_for("the victim to know it left the group", lambda: not victim.get("/sluice/cluster").json()["joined"],
                     timeout=30)
            # Its health says so (Kafka Connect's 500 "unhealthy"): a readiness probe takes it out.
            health = victim.get("/health")
            assert health.status_code == 500 and health.json()["status"] == "unhealthy", health.text
            assert "not a member of its group" in health.json()["message"], health.text
            wait_for("the victim to stop its two tasks (its log)",
                     lambda: victim.log_path.read_text()[log_at_cut:].count("Stopping task") >= 2, timeout=30)

            rows_during_cut = clickhouse.scalar(f"SELECT count() FROM {table}")
            wait_for("rows still flowing without the victim",
                     lambda: clickhouse.scalar(f"SELECT count() FROM {table}") > rows_during_cut + 2000, timeout=60)

            proxy.restore()
            wait_for("the victim back in the group",
                     lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in workers)
                     and victim.get("/sluice/cluster").json()["joined"], timeout=90)
            wait_for("2/2/2 again", lambda: (s := spread(healthy[0], name)) and sorted(s.values()) == [2, 2, 2], timeout=60)
            assert victim.get("/health").status_code == 200, victim.get("/health").text

            producer.result(timeout=180)
            kafka.wait_committed_to_end(name, topic, timeout=180)
            watch.stop_and_check_monotonic()
            # Nothing lost; a record lands twice only if it came after the victim's last commit.
            assert_delivered(clickhouse, table, kafka.end_offsets(topic),
                             duplicates_from={p: at_cut.get(p, 0) for p in range(PARTITIONS)})
        finally:
            for w in workers:
                w.stop()
