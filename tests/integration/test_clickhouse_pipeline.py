"""End to end: a connector POSTed over REST moves JSON events from Kafka into ClickHouse."""

import time

from sluice_harness import (Background, Worker, assert_delivered, assert_exactly_once, clickhouse_connector, holds_for,
                            sample_events, wait_for)

EVENTS = 10_000


def landed(clickhouse, table: str) -> int:
    return clickhouse.scalar(f"SELECT count(DISTINCT session_id) FROM {table}")


def test_ten_thousand_events_land_with_their_values(worker, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=4)
    clickhouse.create_events_table(names["table"])
    r = worker.post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url,
                                                        tasks=4, coordinates=True))
    assert r.status_code == 201, r.text
    assert r.headers["Location"].endswith(f"/connectors/{names['connector']}")
    assert [t["task"] for t in r.json()["tasks"]] == [0, 1, 2, 3]

    events = sample_events(EVENTS)
    kafka.produce_json(names["topic"], events)
    kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=180)
    assert_exactly_once(clickhouse, names["table"], kafka.end_offsets(names["topic"]))
    assert landed(clickhouse, names["table"]) == EVENTS
    # Every field of a sample of rows matches what was produced.
    by_session = {e["session_id"]: e for e in events}
    rows = clickhouse.rows(
        f"SELECT user_id, event_type, toUnixTimestamp(timestamp) AS ts, session_id, device, "
        f"toUnixTimestamp(inserted_at) AS ins FROM {names['table']} WHERE session_id IN ('sess_0','sess_1','sess_4321','sess_9999')"
    )
    assert len(rows) == 4
    for row in rows:
        sent = by_session[row["session_id"]]
        i = int(row["session_id"].split("_")[1])
        assert row["user_id"] == sent["user_id"]
        assert row["event_type"] == sent["event_type"]
        assert row["device"] == sent["device"]
        assert int(row["ts"]) == 1758191400 + i, "DateTime parsed from the ISO-8601 string, as UTC"
        assert int(row["ins"]) > 1758191400, "inserted_at filled by the column DEFAULT"

    status = worker.get(f"/connectors/{names['connector']}/status").json()
    assert status["name"] == names["connector"]
    assert status["type"] == "sink"
    assert status["connector"]["state"] == "RUNNING"
    assert status["connector"]["worker_id"] == f"127.0.0.1:{worker.port}"
    assert [t["id"] for t in status["tasks"]] == [0, 1, 2, 3]
    assert {t["state"] for t in status["tasks"]} == {"RUNNING"}


def test_sigkill_mid_stream_loses_nothing_and_connector_comes_back(tmp_path, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=4)
    clickhouse.create_events_table(names["table"])
    worker = Worker(tmp_path, kafka.bootstrap).start()
    try:
        r = worker.post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url,
                                                            tasks=2, coordinates=True))
        assert r.status_code == 201, r.text

        events = sample_events(EVENTS)

        def produce_slowly():
            for start in range(0, EVENTS, 500):
                kafka.produce_json(names["topic"], events[start : start + 500])
                time.sleep(0.3)  # pacing: the stream lasts ~6 s so the kill lands mid-stream

        producer = Background(produce_slowly)
        wait_for("some rows to land and be committed before the kill",
                 lambda: landed(clickhouse, names["table"]) >= 1000 and kafka.committed(names["connector"], names["topic"]),
                 timeout=120)
        worker.kill()
        # Read after the kill: the dead worker can commit nothing more, so this is its last commit.
        last_commit = kafka.committed(names["connector"], names["topic"])
        at_kill = landed(clickhouse, names["table"])
        assert at_kill < EVENTS, "the kill must happen mid-stream"
        producer.result(timeout=120)

        worker.start()  # same data dir; no POST this time
        assert names["connector"] in worker.get("/connectors").json(), "connector restored from the state store"
        kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=180)
        # At-least-once: nothing lost; a record may land twice only if it came after the last commit.
        assert_delivered(clickhouse, names["table"], kafka.end_offsets(names["topic"]),
                         duplicates_from={p: last_commit.get(p, 0) for p in range(4)})
        assert set(worker.task_states(names["connector"])) == {"RUNNING"}
    finally:
        worker.stop()


def test_pause_stops_rows_and_resume_delivers_them(worker, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=2)
    clickhouse.create_events_table(names["table"])
    r = worker.post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url,
                                                        tasks=2, coordinates=True))
    assert r.status_code == 201, r.text

    kafka.produce_json(names["topic"], sample_events(1000))
    before_pause = kafka.wait_committed_to_end(names["connector"], names["topic"])
    assert landed(clickhouse, names["table"]) == 1000

    assert worker.put(f"/connectors/{names['connector']}/pause").status_code == 202
    wait_for("tasks PAUSED", lambda: worker.task_states(names["connector"]) == ["PAUSED", "PAUSED"])
    assert worker.get(f"/connectors/{names['connector']}/status").json()["connector"]["state"] == "PAUSED"

    kafka.produce_json(names["topic"], sample_events(1000, start=1000))
    # Longer than a batch linger and two commit intervals: a task that kept consuming would
    # have written and committed by then.
    holds_for("no rows and no commits while paused",
              lambda: landed(clickhouse, names["table"]) == 1000
              and kafka.committed(names["connector"], names["topic"]) == before_pause, seconds=5)
    assert worker.task_states(names["connector"]) == ["PAUSED", "PAUSED"]

    assert worker.put(f"/connectors/{names['connector']}/resume").status_code == 202
    kafka.wait_committed_to_end(names["connector"], names["topic"])
    assert_exactly_once(clickhouse, names["table"], kafka.end_offsets(names["topic"]))
    assert worker.task_states(names["connector"]) == ["RUNNING", "RUNNING"]


def test_replicas_listed_in_hostname_are_tried_in_turn(worker, kafka, clickhouse, names):
    # 127.0.0.2 is loopback but ClickHouse does not listen there: the first "replica" is down.
    port = clickhouse.url.rsplit(":", 1)[1].rstrip("/")
    kafka.create_topic(names["topic"], partitions=2)
    clickhouse.create_events_table(names["table"])
    body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, tasks=2,
                                coordinates=True, hostname="127.0.0.2,127.0.0.1", port=port)
    assert worker.post("/connectors", body).status_code == 201
    kafka.produce_json(names["topic"], sample_events(2000))
    kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=120)
    assert_exactly_once(clickhouse, names["table"], kafka.end_offsets(names["topic"]))
    assert "moving to the next one" in worker.log_path.read_text(), "the unreachable host was tried first"


def test_one_task_inserts_into_two_tables_at_once(worker, kafka, clickhouse, names):
    """Two topics into two tables in one connector (one task): the inserts overlap in time. Each
    insert waits 1 s in a materialized view, so running inserts are easy to catch."""
    tables = [f"{names['table']}_a", f"{names['table']}_b"]
    topics = [f"{names['topic']}_a", f"{names['topic']}_b"]
    for topic, table in zip(topics, tables):
        kafka.create_topic(topic, partitions=1)
        clickhouse.create_events_table(table)
        clickhouse.query(f"CREATE TABLE {table}_slow_sink (s UInt8) ENGINE = Null")
        clickhouse.query(f"CREATE MATERIALIZED VIEW {table}_slow TO {table}_slow_sink AS SELECT sleep(1) AS s FROM {table}")
    body = clickhouse_connector(names["connector"], topics[0], tables[0], clickhouse.url, tasks=1, coordinates=True,
                                topics=",".join(topics), topic2TableMap=",".join(f"{t}={tb}" for t, tb in zip(topics, tables)))
    assert worker.post("/connectors", body).status_code == 201
    for topic in topics:
        kafka.produce_json(topic, sample_events(3000))

    def both_running():
        running = clickhouse.query(
            f"SELECT query FROM system.processes WHERE startsWith(query_id, 'sluice:{names['connector']}:') FORMAT TSV")
        return all(f"`{table}`" in running for table in tables)

    wait_for("an insert into each table running at the same moment", both_running, timeout=60, interval=0.05)
    for topic, table in zip(topics, tables):
        kafka.wait_committed_to_end(names["connector"], topic, timeout=120)
        assert clickhouse.scalar(f"SELECT count() FROM {table}") == 3000


def test_a_nested_column_is_filled_from_an_array_of_objects(worker, kafka, clickhouse, names):
    # ClickHouse stores `items Nested(sku String, qty Nullable(UInt8))` as the columns
    # `items.sku` and `items.qty`; the record carries `items` as an array of objects.
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.query(f"CREATE TABLE {names['table']} (id UInt32, items Nested(sku String, qty Nullable(UInt8))) "
                     "ENGINE = MergeTree() ORDER BY id")
    body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url)
    assert worker.post("/connectors", body).status_code == 201
    orders = [{"id": i, "key": str(i),
               "items": [{"sku": f"s{i}-{k}", "qty": k} if k else {"sku": f"s{i}-0"} for k in range(i % 3)]}
              for i in range(30)]
    kafka.produce_json(names["topic"], orders, key_field="key")
    kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=120)
    rows = clickhouse.rows(f"SELECT id, items.sku AS sku, items.qty AS qty FROM {names['table']} ORDER BY id")
    assert [(int(r["id"]), r["sku"], r["qty"]) for r in rows] == [
        (i, [f"s{i}-{k}" for k in range(i % 3)], [k or None for k in range(i % 3)]) for i in range(30)]


def test_a_column_dropped_while_rows_flow_is_followed_and_nothing_is_lost_or_doubled(worker, kafka, clickhouse, names):
    """FAILURE-MODES.md, "A column is removed or its type changed while running": the insert
    after the drop was encoded for the old columns and fails (NO_SUCH_COLUMN_IN_TABLE). Its rows
    are read again from Kafka and encoded for the table as it is now, and flow goes on. Before,
    the held insert was sent again as it was, naming the dropped column, for ever. The sink
    fills the coordinate columns itself here, so the JSON lane (no transform) is what runs."""
    topic, table, name = names["topic"], names["table"], names["connector"]
    kafka.create_topic(topic, partitions=2)
    clickhouse.query(
        f"CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, session_id String, "
        "device String, _topic String, _partition Int32, _offset Int64) ENGINE = MergeTree() ORDER BY (_partition, _offset)"
    )
    r = worker.post("/connectors", clickhouse_connector(name, topic, table, clickhouse.url, tasks=1))
    assert r.status_code == 201, r.text
    kafka.produce_json(topic, sample_events(2_000))
    wait_for("the first rows", lambda: clickhouse.scalar(f"SELECT count() FROM {table}") == 2_000, timeout=60)

    clickhouse.query(f"ALTER TABLE {table} DROP COLUMN device")
    kafka.produce_json(topic, sample_events(2_000, start=2_000))
    kafka.wait_committed_to_end(name, topic, timeout=120)

    ends = kafka.end_offsets(topic)
    rows = clickhouse.rows(f"SELECT _partition AS p, _offset AS o, count() AS n FROM {table} GROUP BY p, o")
    seen = {(int(r["p"]), int(r["o"])): int(r["n"]) for r in rows}
    assert sum(seen.values()) == 4_000 == sum(ends.values())
    assert {k for k, n in seen.items() if n > 1} == set(), "no (partition, offset) twice"
    assert seen.keys() == {(p, o) for p, end in ends.items() for o in range(end)}
    after = clickhouse.scalar(f"SELECT count() FROM {table} WHERE toInt64(substring(session_id, 6)) >= 2000")
    assert int(after) == 2_000, "every event produced after the drop landed, without the dropped column"
    tasks = worker.get(f"/connectors/{name}/status").json()["tasks"]
    assert [t["state"] for t in tasks] == ["RUNNING"], tasks
