"""Transforms reshape records end to end."""

from sluice_harness import clickhouse_connector, sample_events


def test_transform_chain_reshapes_events_into_a_differently_named_table(worker, kafka, clickhouse, names):
    topic = names["topic"]
    routed = f"shaped_{topic}"
    kafka.create_topic(topic, partitions=2)
    clickhouse.query(
        f"CREATE TABLE {routed} (user_id String, kind String, timestamp DateTime, session_id String, "
        "device String, pipeline String) ENGINE = MergeTree() ORDER BY session_id"
    )
    body = clickhouse_connector(names["connector"], topic, "unused", clickhouse.url)
    del body["config"]["topic2TableMap"]  # the routed topic names the table
    body["config"].update({
        "transforms": "addSource,rename,parseTime,route",
        "transforms.addSource.type": "org.apache.kafka.connect.transforms.InsertField$Value",
        "transforms.addSource.static.field": "pipeline",
        "transforms.addSource.static.value": "sluice-demo",
        "transforms.rename.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
        "transforms.rename.renames": "event_type:kind",
        "transforms.rename.exclude": "device_model",
        "transforms.parseTime.type": "org.apache.kafka.connect.transforms.TimestampConverter$Value",
        "transforms.parseTime.field": "timestamp",
        "transforms.parseTime.format": "yyyy-MM-dd'T'HH:mm:ss'Z'",
        "transforms.parseTime.target.type": "Timestamp",
        "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
        "transforms.route.regex": "(.*)",
        "transforms.route.replacement": "shaped_$1",
    })
    r = worker.post("/connectors", body)
    assert r.status_code == 201, r.text

    events = sample_events(500)
    for e in events:
        e["device_model"] = "dropped by ReplaceField"
    kafka.produce_json(topic, events)
    kafka.wait_committed_to_end(names["connector"], topic)
    assert clickhouse.scalar(f"SELECT count() FROM {routed}") == 500
    assert clickhouse.scalar(f"SELECT uniqExact(session_id) FROM {routed}") == 500
    rows = clickhouse.rows(
        f"SELECT user_id, kind, toUnixTimestamp(timestamp) AS ts, device, pipeline FROM {routed} WHERE session_id = 'sess_42'"
    )
    assert rows == [{"user_id": "user_42", "kind": "click", "ts": 1758191442, "device": "mobile", "pipeline": "sluice-demo"}]

