"""A failing task goes FAILED with the cause in `trace`; the worker and other connectors keep running."""

import json

from confluent_kafka import Producer

from sluice_harness import assert_exactly_once, clickhouse_connector, sample_events, wait_for


def task_status(worker, name):
    r = worker.get(f"/connectors/{name}/status")
    assert r.status_code == 200, r.text
    return r.json()["tasks"][0]


def test_missing_table_fails_the_task_not_the_worker(worker, kafka, clickhouse, names):
    broken, healthy = names["connector"] + "-broken", names["connector"] + "-ok"
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.create_events_table(names["table"])
    missing_table = names["table"] + "_missing"
    assert worker.post("/connectors", clickhouse_connector(broken, names["topic"], missing_table, clickhouse.url)).status_code == 201
    assert worker.post("/connectors", clickhouse_connector(healthy, names["topic"], names["table"], clickhouse.url,
                                                           coordinates=True)).status_code == 201

    kafka.produce_json(names["topic"], sample_events(100))

    failed = wait_for("the broken task to fail", lambda: (t := task_status(worker, broken))["state"] == "FAILED" and t)
    assert missing_table in failed["trace"], failed
    assert failed["worker_id"] == f"127.0.0.1:{worker.port}"
    # The other connector, on the same worker and topic, is unaffected.
    kafka.wait_committed_to_end(healthy, names["topic"])
    assert_exactly_once(clickhouse, names["table"], kafka.end_offsets(names["topic"]))
    assert task_status(worker, healthy)["state"] == "RUNNING"
    assert kafka.committed(broken, names["topic"]) == {}, "nothing was written for the broken connector, so nothing is committed"
    assert worker.get("/").status_code == 200


def test_malformed_record_fails_the_task_naming_it(worker, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.create_events_table(names["table"])
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    for i, event in enumerate(sample_events(20)):
        value = b'{"user_id": "broken' if i == 10 else json.dumps(event).encode()
        producer.produce(names["topic"], value=value)
    assert producer.flush(30) == 0
    assert worker.post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url)).status_code == 201

    failed = wait_for("the task to fail on the bad record", lambda: (t := task_status(worker, names["connector"]))["state"] == "FAILED" and t)
    trace = failed["trace"]
    assert "VALUE_CONVERTER" in trace and f"topic={names['topic']}" in trace, trace
    assert "partition=0" in trace and "offset=10" in trace, trace
    assert "not valid JSON" in trace, trace
    # The ten records before it were written and committed; nothing at or past it was.
    assert clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 10
    assert clickhouse.scalar(f"SELECT count() FROM {names['table']} WHERE session_id >= 'sess_10' AND length(session_id) > 6") == 0
    assert wait_for("the records before the bad one committed",
                    lambda: kafka.committed(names["connector"], names["topic"]) == {0: 10} or None, timeout=10)


def test_connector_level_converter_reads_the_schema_envelope(worker, kafka, clickhouse, names):
    """The worker's default is schemaless JSON; this connector sets its own converter with schemas."""
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.create_events_table(names["table"])
    schema = {
        "type": "struct",
        "name": "sample.Event",
        "fields": [
            {"field": "user_id", "type": "string"},
            {"field": "event_type", "type": "string"},
            {"field": "timestamp", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"},
            {"field": "session_id", "type": "string"},
            {"field": "device", "type": "string", "optional": True},
        ],
    }
    producer = Producer({"bootstrap.servers": kafka.bootstrap})
    # Odd events set the optional device, even ones leave it out of the payload entirely.
    for i in range(50):
        payload = {"user_id": f"u{i}", "event_type": "view", "timestamp": 1758191400000 + i * 1000, "session_id": f"s{i}", "device": "web" if i % 2 else None}
        producer.produce(names["topic"], value=json.dumps({"schema": schema, "payload": payload}).encode())
    assert producer.flush(30) == 0
    body = clickhouse_connector(
        names["connector"],
        names["topic"],
        names["table"],
        clickhouse.url,
        **{"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "true"},
    )
    assert worker.post("/connectors", body).status_code == 201
    wait_for("50 rows", lambda: clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 50)
    rows = clickhouse.rows(f"SELECT session_id, user_id, toUnixTimestamp(timestamp) AS ts, device FROM {names['table']} WHERE session_id IN ('s7', 's8') ORDER BY session_id")
    assert rows == [
        {"session_id": "s7", "user_id": "u7", "ts": 1758191407, "device": "web"},
        {"session_id": "s8", "user_id": "u8", "ts": 1758191408, "device": ""},
    ], "Timestamp logical → DateTime; an absent optional field → the column's default"
