"""Exactly-once into ClickHouse without Keeper (issue 11): `exactlyOnce=true` writes every record
once into a plain MergeTree (nothing merges duplicates away) while the worker is `kill -9`-ed and
ClickHouse restarts, and across a rebalance when one of two distributed workers dies.

Every table here is a plain `MergeTree` partitioned by day, so one insert spans several table
partitions (several parts): a crash can leave an insert half landed, which the sink must see.
The same stream also goes, in the same worker, to a second connector with `exactlyOnce=false`:
how many duplicates that one wrote is reported (a number, not an assertion).
"""

import random
import subprocess
import time

import pytest

from sluice_harness import (REPO, Background, Worker, clickhouse_connector, distributed_workers, sample_events, unique,
                            wait_for)

SERVICES = str(REPO / "tests" / "services" / "services.sh")


def create_table(clickhouse, table: str) -> None:
    """The README's event table with the Kafka coordinate columns exactly-once reads back."""
    clickhouse.query(
        f"CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, session_id String, "
        "device String, _topic String, _partition Int32, _offset Int64) "
        "ENGINE = MergeTree() PARTITION BY toYYYYMMDD(timestamp) ORDER BY (_partition, _offset)"
    )


def connector(name: str, topic: str, table: str, clickhouse, exactly_once: bool, tasks: int = 4) -> dict:
    return clickhouse_connector(name, topic, table, clickhouse.url, tasks=tasks, exactlyOnce=str(exactly_once).lower())


def landed(clickhouse, table: str) -> int:
    return int(clickhouse.scalar(f"SELECT count() FROM {table}"))


def duplicates(clickhouse, table: str) -> dict[str, int]:
    """Rows beyond the first per (partition, offset) and per event id, and records missing."""
    row = clickhouse.rows(
        f"SELECT count() AS n, uniqExact(_partition, _offset) AS coords, uniqExact(session_id) AS ids FROM {table}")[0]
    n, coords, ids = int(row["n"]), int(row["coords"]), int(row["ids"])
    return {"rows": n, "by_coordinates": n - coords, "by_event_id": n - ids}


def assert_exact(clickhouse, table: str, produced: dict[int, int]) -> None:
    """count() == N, no (partition, offset) twice, no event id twice, every offset present."""
    total = sum(produced.values())
    counts = duplicates(clickhouse, table)
    assert counts == {"rows": total, "by_coordinates": 0, "by_event_id": 0}, counts
    per_partition = {int(r["p"]): (int(r["lo"]), int(r["hi"]), int(r["n"])) for r in clickhouse.rows(
        f"SELECT _partition AS p, min(_offset) AS lo, max(_offset) AS hi, count() AS n FROM {table} GROUP BY p")}
    assert per_partition == {p: (0, end - 1, end) for p, end in produced.items() if end}, per_partition


def produce_paced(kafka, topic: str, events: list[dict], chunk: int, pause: float) -> None:
    for start in range(0, len(events), chunk):
        kafka.produce_json(topic, events[start:start + chunk])
        time.sleep(pause)


@pytest.mark.disruptive
def test_300k_events_exactly_once_through_three_kill_9s_and_a_clickhouse_restart(tmp_path, kafka, clickhouse, record_property):
    total = 300_000
    seed = random.randrange(1 << 30)
    rng = random.Random(seed)
    print(f"random seed {seed}")
    record_property("seed", seed)
    base = unique("eo")
    topic, exact_table, loose_table = f"events_{base}", f"exact_{base}", f"loose_{base}"
    kafka.create_topic(topic, partitions=4)
    create_table(clickhouse, exact_table)
    create_table(clickhouse, loose_table)
    worker = Worker(tmp_path, kafka.bootstrap).start()
    try:
        for name, table, eo in [(f"ch-exact-{base}", exact_table, True), (f"ch-loose-{base}", loose_table, False)]:
            r = worker.post("/connectors", connector(name, topic, table, clickhouse, exactly_once=eo))
            assert r.status_code == 201, r.text
        # Offered faster than the worker writes, so each kill lands while it is busy.
        producer = Background(produce_paced, kafka, topic, sample_events(total), 30_000, 0.5)

        # Three random moments while rows stream in: once a random share of the events landed.
        shares = [rng.uniform(0.05, 0.25), rng.uniform(0.35, 0.55), rng.uniform(0.65, 0.8)]
        for kill, share in enumerate(shares):
            wait_for(f"{share:.0%} of the events landed", lambda: landed(clickhouse, exact_table) >= share * total,
                     timeout=300, interval=0.05)
            worker.kill()
            at_kill = landed(clickhouse, exact_table)
            print(f"kill -9 #{kill + 1} with {at_kill} rows landed")
            assert at_kill < total, "the kills must happen mid-stream"
            if kill == 1:
                # ClickHouse stops while no worker runs, the worker starts and waits for it,
                # then ClickHouse comes back.
                subprocess.run([SERVICES, "down", "clickhouse"], check=True, capture_output=True, timeout=300)
                worker.start()
                time.sleep(rng.uniform(1.0, 4.0))
                subprocess.run([SERVICES, "up", "clickhouse"], check=True, capture_output=True, timeout=300)
            else:
                worker.start()

        producer.result(timeout=600)
        produced = kafka.end_offsets(topic)
        assert sum(produced.values()) == total
        kafka.wait_committed_to_end(f"ch-exact-{base}", topic, timeout=600)
        kafka.wait_committed_to_end(f"ch-loose-{base}", topic, timeout=600)
        assert_exact(clickhouse, exact_table, produced)

        loose = duplicates(clickhouse, loose_table)
        assert loose["rows"] - loose["by_coordinates"] == total, f"at-least-once lost records: {loose}"
        print(f"exactlyOnce=false, same run: {loose['by_coordinates']} duplicate rows out of {loose['rows']}")
        record_property("at_least_once_duplicates", loose["by_coordinates"])
        assert set(worker.task_states(f"ch-exact-{base}")) == {"RUNNING"}
    finally:
        worker.stop()


def slow_down_inserts(clickhouse, table: str, seconds: float) -> None:
    """Every insert into `table` lands its rows, then waits `seconds` in a materialized view
    before it returns: a worker killed now dies with rows landed and not committed, and its last
    insert is still running on the server when its partitions move."""
    clickhouse.query(f"CREATE TABLE {table}_slow_sink (s UInt8) ENGINE = Null")
    clickhouse.query(f"CREATE MATERIALIZED VIEW {table}_slow TO {table}_slow_sink AS SELECT sleep({seconds}) AS s FROM {table}")


def test_exactly_once_across_a_rebalance_when_one_of_two_workers_dies(tmp_path, kafka, clickhouse, names):
    total = 60_000
    workers = distributed_workers(tmp_path, kafka.bootstrap, 2, unique("sluice-eo"))
    for w in workers:
        w.start()
    try:
        ids = sorted(w.worker_id for w in workers)
        wait_for("both workers in the group", lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in workers),
                 timeout=60)
        kafka.create_topic(names["topic"], partitions=4)
        create_table(clickhouse, names["table"])
        slow_down_inserts(clickhouse, names["table"], 0.5)
        body = connector(names["connector"], names["topic"], names["table"], clickhouse, exactly_once=True)
        assert workers[0].post("/connectors", body).status_code == 201
        wait_for("tasks on both workers", lambda: {t["worker_id"] for t in (workers[0].get(
            f"/connectors/{names['connector']}/status").json().get("tasks") or []) if t["state"] == "RUNNING"} == set(ids),
                 timeout=60)

        producer = Background(produce_paced, kafka, names["topic"], sample_events(total), 5_000, 0.4)
        wait_for("rows streaming in", lambda: landed(clickhouse, names["table"]) > 10_000, timeout=180)
        # Every task mid-insert, so the victim dies with rows landed and not committed.
        wait_for("all four tasks inserting", lambda: int(clickhouse.scalar(
            f"SELECT count() FROM system.processes WHERE startsWith(query_id, 'sluice:{names['connector']}:')")) >= 4,
                 timeout=60, interval=0.05)
        workers[1].kill()
        assert landed(clickhouse, names["table"]) < total, "the kill must happen mid-stream"
        producer.result(timeout=600)
        kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=300)
        assert_exact(clickhouse, names["table"], kafka.end_offsets(names["topic"]))
    finally:
        for w in workers:
            w.stop()


def test_exactly_once_refuses_a_table_without_coordinates_and_says_how_to_add_them(worker, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.create_events_table(names["table"])  # kafka_partition/kafka_offset, not _topic/_partition/_offset
    r = worker.post("/connectors", connector(names["connector"], names["topic"], names["table"], clickhouse, True, tasks=1))
    assert r.status_code == 201, r.text
    kafka.produce_json(names["topic"], sample_events(10))

    def failed_trace():
        tasks = worker.get(f"/connectors/{names['connector']}/status").json().get("tasks") or []
        return tasks and tasks[0]["state"] == "FAILED" and tasks[0].get("trace")

    trace = wait_for("the task FAILED with a trace", failed_trace, timeout=60)
    assert "_topic, _partition, _offset" in trace, trace
    assert "ALTER TABLE" in trace and "ADD COLUMN `_topic` String" in trace, trace
    assert landed(clickhouse, names["table"]) == 0
