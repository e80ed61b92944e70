"""Distributed mode: several workers share connectors and tasks through Kafka alone."""

import collections
import signal
import threading
import time

import pytest

from sluice_harness import clickhouse_connector, distributed_workers, sample_events, unique, wait_for


@pytest.fixture
def cluster(tmp_path, kafka):
    workers = distributed_workers(tmp_path, kafka.bootstrap, 3, unique("sluice-cluster"))
    for w in workers:
        w.start()
    ids = sorted(w.worker_id for w in workers)
    wait_for("all three workers in the group", lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in workers), timeout=60)
    yield workers
    for w in workers:
        w.stop()


def status(worker, name):
    r = worker.get(f"/connectors/{name}/status")
    return r.json() if r.status_code == 200 else None


def running_spread(worker, name, expected_tasks):
    """Task count per worker_id once all tasks are RUNNING, else None."""
    s = status(worker, name)
    if not s or len(s["tasks"]) != expected_tasks or any(t["state"] != "RUNNING" for t in s["tasks"]):
        return None
    return collections.Counter(t["worker_id"] for t in s["tasks"])


def test_six_tasks_spread_two_per_worker_and_status_is_the_same_everywhere(cluster, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=6)
    clickhouse.create_events_table(names["table"])
    r = cluster[1].post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, tasks=6))
    assert r.status_code == 201, r.text
    # Any worker sees it at once: the write returned after it was read back from the config topic.
    assert cluster[1].get(f"/connectors/{names['connector']}").status_code == 200

    spread = wait_for("6 RUNNING tasks", lambda: running_spread(cluster[0], names["connector"], 6), timeout=60)
    assert sorted(spread.values()) == [2, 2, 2], spread
    assert set(spread) == {w.worker_id for w in cluster}
    wait_for("the same status document from every worker", lambda: len({str(status(w, names["connector"])) for w in cluster}) == 1)
    doc = status(cluster[2], names["connector"])
    assert doc["connector"]["state"] == "RUNNING" and doc["connector"]["worker_id"] in spread

    kafka.produce_json(names["topic"], sample_events(6000))
    wait_for("6,000 rows", lambda: clickhouse.scalar(f"SELECT count(DISTINCT session_id) FROM {names['table']}") == 6000, timeout=120)

    # A duplicate name is refused on every worker.
    for w in cluster:
        r = w.post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url))
        assert r.status_code == 409, r.text


def test_kill_9_moves_tasks_within_15_seconds_and_loses_nothing(cluster, kafka, clickhouse, names):
    total = 200_000
    kafka.create_topic(names["topic"], partitions=6)
    clickhouse.create_events_table(names["table"])
    body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, tasks=6)
    assert cluster[0].post("/connectors", body).status_code == 201
    wait_for("6 RUNNING tasks", lambda: running_spread(cluster[0], names["connector"], 6), timeout=60)

    events = sample_events(total)

    def produce():
        for start in range(0, total, 20_000):
            kafka.produce_json(names["topic"], events[start : start + 20_000])

    producer = threading.Thread(target=produce)
    producer.start()
    wait_for("rows streaming in", lambda: clickhouse.scalar(f"SELECT count() FROM {names['table']}") > 10_000, timeout=120)

    victim, survivors = cluster[2], cluster[:2]
    victim.kill()
    killed_at = time.monotonic()
    spread = wait_for(
        "the victim's tasks RUNNING on the survivors",
        lambda: (s := running_spread(survivors[0], names["connector"], 6)) and victim.worker_id not in s and s,
        timeout=30,
        interval=0.2,
    )
    failover = time.monotonic() - killed_at
    assert failover < 15, f"failover took {failover:.1f}s"
    assert set(spread) == {w.worker_id for w in survivors} and sorted(spread.values()) == [3, 3]

    producer.join()
    wait_for(f"all {total} events", lambda: clickhouse.scalar(f"SELECT count(DISTINCT session_id) FROM {names['table']}") == total, timeout=300)


def test_leader_death_elects_another_and_writes_keep_working(cluster, kafka, clickhouse, names):
    leader = wait_for("a leader", lambda: next((w for w in cluster if w.get("/sluice/cluster").json().get("leader")), None))
    others = [w for w in cluster if w is not leader]
    leader.kill()
    new_leader = wait_for(
        "a new leader",
        lambda: next((w for w in others if w.get("/sluice/cluster").json().get("leader")), None),
        timeout=30,
    )
    assert new_leader is not leader
    for w in others:
        r = w.post("/connectors", clickhouse_connector(f"{names['connector']}-{w.port}", names["topic"], names["table"], clickhouse.url))
        assert r.status_code == 201, r.text
    assert sorted(others[0].get("/connectors").json()) == sorted(f"{names['connector']}-{w.port}" for w in others)


def test_whole_cluster_restart_restores_configs_targets_and_offsets(cluster, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=3)
    clickhouse.create_events_table(names["table"])
    running, paused = names["connector"], names["connector"] + "-paused"
    assert cluster[0].post("/connectors", clickhouse_connector(running, names["topic"], names["table"], clickhouse.url, tasks=3)).status_code == 201
    paused_body = clickhouse_connector(paused, names["topic"], names["table"] + "_other", clickhouse.url)
    paused_body["initial_state"] = "PAUSED"
    assert cluster[1].post("/connectors", paused_body).status_code == 201
    kafka.produce_json(names["topic"], sample_events(3000))
    wait_for("3,000 rows", lambda: clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 3000, timeout=120)
    time.sleep(2)  # let the offset commit interval pass

    for w in cluster:
        w.stop()
    restarted = cluster[:2]
    for w in restarted:
        w.start()

    assert sorted(restarted[0].get("/connectors").json()) == sorted([running, paused])
    assert restarted[1].get(f"/connectors/{running}/config").json()["tasks.max"] == "3"
    wait_for("tasks RUNNING again", lambda: running_spread(restarted[0], running, 3), timeout=60)
    wait_for("the paused connector still PAUSED", lambda: (s := status(restarted[0], paused)) and s["connector"]["state"] == "PAUSED")

    # Offsets came back too: new events land, old ones are not written again.
    kafka.produce_json(names["topic"], sample_events(1000, start=3000))
    wait_for("4,000 rows", lambda: clickhouse.scalar(f"SELECT count(DISTINCT session_id) FROM {names['table']}") == 4000, timeout=120)
    time.sleep(3)
    assert clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 4000, "no replay from the beginning after the restart"


def test_a_frozen_worker_is_replaced_and_rejoins_without_loss(cluster, kafka, clickhouse, names):
    """SIGSTOP makes a zombie: it holds tasks but does nothing. The others must take them over,
    and when it wakes up it must give them up rather than act on its old assignment."""

    total = 20_000
    kafka.create_topic(names["topic"], partitions=6)
    clickhouse.create_events_table(names["table"])
    assert cluster[0].post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, tasks=6)).status_code == 201
    wait_for("2/2/2", lambda: (s := running_spread(cluster[0], names["connector"], 6)) and sorted(s.values()) == [2, 2, 2])
    kafka.produce_json(names["topic"], sample_events(total // 2))

    zombie, others = cluster[2], cluster[:2]
    zombie.proc.send_signal(signal.SIGSTOP)
    try:
        wait_for("the zombie's tasks taken over", lambda: (s := running_spread(others[0], names["connector"], 6))
                 and zombie.worker_id not in s, timeout=45)
        kafka.produce_json(names["topic"], sample_events(total // 2, start=total // 2))
    finally:
        zombie.proc.send_signal(signal.SIGCONT)

    ids = sorted(w.worker_id for w in cluster)
    wait_for("the woken worker back in the group", lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in cluster), timeout=60)
    wait_for("2/2/2 again", lambda: (s := running_spread(cluster[0], names["connector"], 6)) and sorted(s.values()) == [2, 2, 2], timeout=60)
    wait_for(f"all {total} events", lambda: clickhouse.scalar(f"SELECT count(DISTINCT session_id) FROM {names['table']}") == total, timeout=180)
    # Each worker reports the same, settled document.
    wait_for("one status document", lambda: len({str(status(w, names["connector"])) for w in cluster}) == 1)
