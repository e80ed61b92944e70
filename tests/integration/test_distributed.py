"""Distributed mode: several workers share connectors and tasks through Kafka alone."""

import collections
import signal
import time

import pytest

from sluice_harness import (Background, assert_delivered, assert_exactly_once, clickhouse_connector, distributed_workers,
                            holds_for, sample_events, unique, wait_for)


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
    r = cluster[1].post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url,
                                                            tasks=6, coordinates=True))
    assert r.status_code == 201, r.text
    # The worker that took the POST answered after reading its write back from the config topic;
    # the others follow the topic and see it as soon as they have read that far (well under 2 s).
    assert cluster[1].get(f"/connectors/{names['connector']}").status_code == 200
    for w in (cluster[0], cluster[2]):
        # The connector's records and then its task configs arrive one after the other.
        info = wait_for(f"{w.worker_id} to see the new connector with its 6 tasks",
                        lambda: (r := w.get(f"/connectors/{names['connector']}")).status_code == 200
                        and len(r.json()["tasks"]) == 6 and r.json(), timeout=2)
        assert info["config"]["tasks.max"] == "6", info

    spread = wait_for("6 RUNNING tasks", lambda: running_spread(cluster[0], names["connector"], 6), timeout=60)
    assert sorted(spread.values()) == [2, 2, 2], spread
    assert set(spread) == {w.worker_id for w in cluster}
    wait_for("the same status document from every worker", lambda: len({str(status(w, names["connector"])) for w in cluster}) == 1)
    doc = status(cluster[2], names["connector"])
    assert doc["connector"]["state"] == "RUNNING" and doc["connector"]["worker_id"] in spread

    kafka.produce_json(names["topic"], sample_events(6000))
    kafka.wait_committed_to_end(names["connector"], names["topic"])
    assert_exactly_once(clickhouse, names["table"], kafka.end_offsets(names["topic"]))

    # A duplicate name is refused on every worker.
    for w in cluster:
        r = w.post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url))
        assert r.status_code == 409, r.text


def test_kill_9_moves_tasks_within_6_seconds_and_loses_nothing(cluster, kafka, clickhouse, names):
    """With default settings: the survivors see the killed worker's REST port refuse and take its
    tasks long before the group's 10 s session timeout drops it."""
    total = 200_000
    kafka.create_topic(names["topic"], partitions=6)
    clickhouse.create_events_table(names["table"])
    body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, tasks=6, coordinates=True)
    assert cluster[0].post("/connectors", body).status_code == 201
    wait_for("6 RUNNING tasks", lambda: running_spread(cluster[0], names["connector"], 6), timeout=60)

    events = sample_events(total)

    def produce():
        for start in range(0, total, 20_000):
            kafka.produce_json(names["topic"], events[start : start + 20_000])

    producer = Background(produce)
    wait_for("rows streaming in", lambda: clickhouse.scalar(f"SELECT count() FROM {names['table']}") > 10_000, timeout=120)

    victim, survivors = cluster[2], cluster[:2]
    victim.kill()
    killed_at = time.monotonic()
    # The victim commits nothing more; its partitions' next owners start from here. (Survivors'
    # partitions may commit further meanwhile, which only makes this bound looser for them.)
    last_commit = kafka.committed(names["connector"], names["topic"])
    spread = wait_for(
        "the victim's tasks RUNNING on the survivors",
        lambda: (s := running_spread(survivors[0], names["connector"], 6)) and victim.worker_id not in s and s,
        timeout=30,
        interval=0.2,
    )
    failover = time.monotonic() - killed_at
    print(f"failover after kill -9: {failover:.1f}s")
    assert failover < 6, f"failover took {failover:.1f}s"
    assert set(spread) == {w.worker_id for w in survivors} and sorted(spread.values()) == [3, 3]

    producer.result(timeout=300)
    kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=300)
    assert_delivered(clickhouse, names["table"], kafka.end_offsets(names["topic"]),
                     duplicates_from={p: last_commit.get(p, 0) for p in range(6)})


def leaders(workers) -> list[str]:
    """The worker ids that call themselves leader."""
    return [w.worker_id for w in workers if w.get("/sluice/cluster").json().get("leader")]


def test_leader_death_elects_another_and_writes_keep_working(cluster, kafka, clickhouse, names):
    (leader_id,) = wait_for("exactly one leader", lambda: len(ids := leaders(cluster)) == 1 and ids)
    leader = next(w for w in cluster if w.worker_id == leader_id)
    others = [w for w in cluster if w is not leader]
    leader.kill()
    survivors = sorted(w.worker_id for w in others)
    wait_for("the survivors to drop the dead leader from the group",
             lambda: all(w.get("/sluice/cluster").json()["members"] == survivors for w in others), timeout=30)
    (new_leader,) = wait_for("exactly one survivor to lead", lambda: len(ids := leaders(others)) == 1 and ids, timeout=30)
    assert new_leader in survivors
    for w in others:
        r = w.post("/connectors", clickhouse_connector(f"{names['connector']}-{w.port}", names["topic"], names["table"], clickhouse.url))
        assert r.status_code == 201, r.text
    # A worker lists a connector once it has read its config from the config topic: one
    # created through another worker shows up a moment later, as in Kafka Connect.
    expected = sorted(f"{names['connector']}-{w.port}" for w in others)
    wait_for("every survivor to list both connectors",
             lambda: all(sorted(w.get("/connectors").json()) == expected for w in others), timeout=15)


def test_whole_cluster_restart_restores_configs_targets_and_offsets(cluster, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=3)
    clickhouse.create_events_table(names["table"])
    running, paused = names["connector"], names["connector"] + "-paused"
    assert cluster[0].post("/connectors", clickhouse_connector(running, names["topic"], names["table"], clickhouse.url, tasks=3,
                                                               coordinates=True)).status_code == 201
    paused_body = clickhouse_connector(paused, names["topic"], names["table"] + "_other", clickhouse.url)
    paused_body["initial_state"] = "PAUSED"
    assert cluster[1].post("/connectors", paused_body).status_code == 201
    kafka.produce_json(names["topic"], sample_events(3000))
    kafka.wait_committed_to_end(running, names["topic"])

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
    kafka.wait_committed_to_end(running, names["topic"])
    assert_exactly_once(clickhouse, names["table"], kafka.end_offsets(names["topic"]))


def test_a_3_second_freeze_moves_no_task(cluster, kafka, clickhouse, names):
    """A stall shorter than the session (a GC-like pause, SIGSTOP for 3 s) is not a death: its
    port still accepts connections, so nobody takes its tasks, and it carries on."""
    kafka.create_topic(names["topic"], partitions=6)
    clickhouse.create_events_table(names["table"])
    assert cluster[0].post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url,
                                                               tasks=6, coordinates=True)).status_code == 201
    before = wait_for("2/2/2", lambda: (s := running_spread(cluster[0], names["connector"], 6)) and sorted(s.values()) == [2, 2, 2]
                      and {t["id"]: t["worker_id"] for t in status(cluster[0], names["connector"])["tasks"]})
    kafka.produce_json(names["topic"], sample_events(5000))
    sleeper, watcher = cluster[2], cluster[0]
    sleeper.proc.send_signal(signal.SIGSTOP)
    try:
        seen = []
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            seen.append({t["id"]: t["worker_id"] for t in status(watcher, names["connector"])["tasks"]})
            time.sleep(0.2)
    finally:
        sleeper.proc.send_signal(signal.SIGCONT)
    # And for a while after it wakes, nothing moves either.
    holds_for("the assignment unchanged", lambda: {t["id"]: t["worker_id"] for t in status(watcher, names["connector"])["tasks"]}
              == before, seconds=8)
    assert all(s == before for s in seen), f"tasks moved during the freeze: {[s for s in seen if s != before][:2]}"
    assert "Worker process gone" not in watcher.log() and "Worker process gone" not in cluster[1].log()
    kafka.produce_json(names["topic"], sample_events(5000, start=5000))
    kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=120)
    assert_exactly_once(clickhouse, names["table"], kafka.end_offsets(names["topic"]))


def test_a_frozen_worker_is_replaced_and_rejoins_without_loss(cluster, kafka, clickhouse, names):
    """SIGSTOP makes a zombie: it holds tasks but does nothing. The others must take them over,
    and when it wakes up it must give them up rather than act on its old assignment."""

    total = 20_000
    kafka.create_topic(names["topic"], partitions=6)
    clickhouse.create_events_table(names["table"])
    assert cluster[0].post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url,
                                                               tasks=6, coordinates=True)).status_code == 201
    wait_for("2/2/2", lambda: (s := running_spread(cluster[0], names["connector"], 6)) and sorted(s.values()) == [2, 2, 2])
    kafka.produce_json(names["topic"], sample_events(total // 2))
    kafka.wait_committed_to_end(names["connector"], names["topic"])

    zombie, others = cluster[2], cluster[:2]
    zombie.proc.send_signal(signal.SIGSTOP)
    # A stopped process commits nothing: whatever it wrote past this may be written again by
    # the partitions' next owners, and nothing before it may be.
    last_commit = kafka.committed(names["connector"], names["topic"])
    try:
        wait_for("the zombie's tasks taken over", lambda: (s := running_spread(others[0], names["connector"], 6))
                 and zombie.worker_id not in s, timeout=45)
        kafka.produce_json(names["topic"], sample_events(total // 2, start=total // 2))
    finally:
        zombie.proc.send_signal(signal.SIGCONT)

    ids = sorted(w.worker_id for w in cluster)
    wait_for("the woken worker back in the group", lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in cluster), timeout=60)
    wait_for("2/2/2 again", lambda: (s := running_spread(cluster[0], names["connector"], 6)) and sorted(s.values()) == [2, 2, 2], timeout=60)
    kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=180)
    assert_delivered(clickhouse, names["table"], kafka.end_offsets(names["topic"]),
                     duplicates_from={p: last_commit.get(p, 0) for p in range(6)})
    # Each worker reports the same, settled document.
    wait_for("one status document", lambda: len({str(status(w, names["connector"])) for w in cluster}) == 1)
