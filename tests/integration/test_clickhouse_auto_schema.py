"""Tables that follow the records (issue 11): `auto.create` makes a missing table from the record
schema (Avro through the real registry) or from schemaless JSON values, and `auto.evolve` adds a
Nullable column when a new optional field appears mid-stream (v1 → v2), while flow continues.
With `auto.evolve=false` the new field is ignored and nothing fails.

The server here is ClickHouse 18.16; what newer servers get instead (Bool, Date32, DateTime64,
LowCardinality, Map, named Tuple) is checked by the DDL module's unit tests per version.
"""

from registry_clients import avro_serializer, produce
from sluice_harness import clickhouse_connector, sample_events, wait_for

V1 = {"type": "record", "name": "Order", "namespace": "sluice.test.auto", "fields": [
    {"name": "id", "type": "long"},
    {"name": "customer", "type": "string"},
    {"name": "amount", "type": {"type": "bytes", "logicalType": "decimal", "precision": 12, "scale": 2}},
    {"name": "paid", "type": "boolean"},
    {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
    {"name": "tags", "type": {"type": "array", "items": "string"}},
]}
# v2: a new optional field, as a backward-compatible change adds it.
V2 = {**V1, "fields": V1["fields"] + [{"name": "coupon", "type": ["null", "string"], "default": None}]}
AT = 1758191400000  # 2025-09-18T10:30:00Z


def order(i: int, version: int) -> dict:
    o = {"id": i, "customer": f"c{i % 7}", "amount": __import__("decimal").Decimal(f"{i}.25"), "paid": i % 2 == 0,
         "at": AT + i * 1000, "tags": [f"t{i}", "x"]}
    if version == 2:
        o["coupon"] = f"SAVE{i}" if i % 3 else None
    return o


def avro_connector(names, clickhouse, registry_url, **extra) -> dict:
    return clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, **{
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "io.confluent.connect.avro.AvroConverter",
        "value.converter.schema.registry.url": registry_url,
        **extra,
    })


def committed_to_end(kafka, names) -> None:
    kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=120)


def columns(clickhouse, table: str) -> dict[str, str]:
    return {r["name"]: r["type"] for r in clickhouse.rows(
        f"SELECT name, type FROM system.columns WHERE database = 'default' AND table = '{table}'")}


def test_auto_create_then_auto_evolve_on_a_v1_to_v2_schema_change(worker, kafka, clickhouse, registry_url, names):
    kafka.create_topic(names["topic"], partitions=2)
    body = avro_connector(names, clickhouse, registry_url, **{"auto.create": "true", "auto.evolve": "true",
                                                             "exactlyOnce": "true"})
    assert worker.post("/connectors", body).status_code == 201
    produce(kafka.bootstrap, names["topic"], [order(i, 1) for i in range(100)], avro_serializer(registry_url, V1))
    wait_for("the table created", lambda: columns(clickhouse, names["table"]), timeout=60)
    created = columns(clickhouse, names["table"])
    assert created == {
        "id": "Int64", "customer": "String", "amount": "Decimal(12, 2)", "paid": "UInt8", "at": "DateTime",
        "tags": "Array(String)", "_topic": "String", "_partition": "Int32", "_offset": "Int64",
    }, created
    engine = clickhouse.query(f"SELECT engine_full FROM system.tables WHERE name = '{names['table']}'")
    assert "MergeTree" in engine and "ORDER BY (_topic, _partition, _offset)" in engine, engine

    # Mid-stream: v2 records with a new optional field, then v1 again.
    produce(kafka.bootstrap, names["topic"], [order(i, 2) for i in range(100, 200)], avro_serializer(registry_url, V2))
    produce(kafka.bootstrap, names["topic"], [order(i, 1) for i in range(200, 250)], avro_serializer(registry_url, V1))
    committed_to_end(kafka, names)
    assert columns(clickhouse, names["table"])["coupon"] == "Nullable(String)"
    rows = clickhouse.rows(f"SELECT id, customer, toString(amount) AS amount, paid, toUnixTimestamp(at) AS at, tags, "
                           f"coupon, _partition FROM {names['table']} ORDER BY id")
    assert [int(r["id"]) for r in rows] == list(range(250)), "every record once"
    for r in rows:
        i = int(r["id"])
        assert (r["customer"], r["amount"], r["paid"], int(r["at"]), r["tags"]) == (
            f"c{i % 7}", f"{i}.25", 1 if i % 2 == 0 else 0, AT // 1000 + i, [f"t{i}", "x"]), r
        want_coupon = (f"SAVE{i}" if i % 3 else None) if 100 <= i < 200 else None
        assert r["coupon"] == want_coupon, r
    assert {t["state"] for t in worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]} == {"RUNNING"}


def test_without_auto_evolve_a_new_field_is_ignored_and_nothing_fails(worker, kafka, clickhouse, registry_url, names):
    kafka.create_topic(names["topic"], partitions=1)
    # Both versions are in the topic before the connector starts, so its first batch holds
    # both: the table is made from the first record's schema (V1), not from every version seen.
    produce(kafka.bootstrap, names["topic"], [order(i, 1) for i in range(10)], avro_serializer(registry_url, V1))
    produce(kafka.bootstrap, names["topic"], [order(i, 2) for i in range(10, 20)], avro_serializer(registry_url, V2))
    body = avro_connector(names, clickhouse, registry_url, **{"auto.create": "true"})
    assert worker.post("/connectors", body).status_code == 201
    committed_to_end(kafka, names)
    assert "coupon" not in columns(clickhouse, names["table"])
    assert clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 20
    assert {t["state"] for t in worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]} == {"RUNNING"}


def test_auto_create_from_schemaless_json_with_a_chosen_order_key(worker, kafka, clickhouse, names):
    kafka.create_topic(names["topic"], partitions=1)
    body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url,
                                **{"auto.create": "true", "auto.evolve": "true", "auto.create.order.by": "session_id"})
    assert worker.post("/connectors", body).status_code == 201
    events = sample_events(50)
    kafka.produce_json(names["topic"], events)
    later = [{**e, "session_id": f"late_{i}", "score": i * 1.5} for i, e in enumerate(sample_events(10))]
    kafka.produce_json(names["topic"], later)
    committed_to_end(kafka, names)
    cols = columns(clickhouse, names["table"])
    assert cols["session_id"] == "String", "an ORDER BY column cannot be Nullable"
    assert cols["user_id"] == "Nullable(String)" and cols["score"] == "Nullable(Float64)", cols
    engine = clickhouse.query(f"SELECT engine_full FROM system.tables WHERE name = '{names['table']}'")
    assert "ORDER BY session_id" in engine, engine
    assert clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 60
    assert float(clickhouse.query(f"SELECT sum(score) FROM {names['table']}")) == sum(i * 1.5 for i in range(10))
