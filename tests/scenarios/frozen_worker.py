"""NOT IN THE SUITE YET: a frozen (SIGSTOP) worker among three (issue 3). Timed out under load; see the
closing note of session 1. Needs the `cluster` fixture and helpers of tests/integration/test_distributed.py."""

from test_distributed import clickhouse_connector, running_spread, sample_events, status, wait_for  # noqa: F401


def test_a_frozen_worker_is_replaced_and_rejoins_without_loss(cluster, kafka, clickhouse, names):
    """SIGSTOP makes a zombie: it holds tasks but does nothing. The others must take them over,
    and when it wakes up it must give them up rather than act on its old assignment."""
    import signal

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
