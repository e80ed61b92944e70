"""Avro, JSON Schema and Protobuf through the real schema registry (issue 5).

Records are serialized by Confluent's Python serializers against Apicurio (Confluent API),
decoded by Sluice and written to ClickHouse; every test checks the rows a user would query.
"""

import datetime as dt
import decimal
import re
import subprocess
import uuid

import pytest
from confluent_kafka import Consumer

from registry_clients import avro_serializer, json_serializer, produce, protobuf_event_class, protobuf_serializer
from sluice_harness import REPO, clickhouse_connector, holds_for, unique, wait_for

SERVICES = str(REPO / "tests" / "services" / "services.sh")
UTC = dt.timezone.utc


def registry_connector(names, clickhouse, registry_url, converter_class, **extra):
    return clickhouse_connector(
        names["connector"], names["topic"], names["table"], clickhouse.url,
        **{
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            "value.converter": converter_class,
            "value.converter.schema.registry.url": registry_url,
            **extra,
        },
    )


def rows_as_text(clickhouse, table: str, columns: list[str]) -> list[dict]:
    """Every row, ordered by id, each column as ClickHouse prints it (toString)."""
    select = ", ".join(f"toString({c}) AS {c}" if c != "note" else c for c in columns)
    return clickhouse.rows(f"SELECT {select} FROM {table} ORDER BY toInt64(id)")


def wait_for_rows(clickhouse, kafka, names, expected: int, timeout: float = 90):
    """Waits until the connector committed its whole topic (so nothing more will be written),
    then checks the table holds exactly `expected` rows, no id twice."""
    kafka.wait_committed_to_end(names["connector"], names["topic"], timeout=timeout)
    count, ids = map(int, clickhouse.query(f"SELECT count(), uniqExact(id) FROM {names['table']}").split())
    assert (count, ids) == (expected, expected), f"{count} rows with {ids} distinct ids, {expected} expected"


# ---------------------------------------------------------------------------------------------
# Avro: a schema using every type of the Avro spec that Sluice maps, into matching columns.

AVRO_EVERY_TYPE = {
    "type": "record", "name": "Order", "namespace": "sluice.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "name", "type": "string"},
        {"name": "active", "type": "boolean"},
        {"name": "qty", "type": "int"},
        {"name": "ratio", "type": "float"},
        {"name": "score", "type": "double"},
        {"name": "raw", "type": "bytes"},
        {"name": "tags", "type": {"type": "array", "items": "string"}},
        {"name": "attrs", "type": {"type": "map", "values": "long"}},
        {"name": "color", "type": {"type": "enum", "name": "Color", "symbols": ["RED", "GREEN", "BLUE"]}},
        {"name": "code", "type": {"type": "fixed", "name": "Code", "size": 4}},
        {"name": "address", "type": {"type": "record", "name": "Address", "fields": [
            {"name": "city", "type": "string"},
            {"name": "zip", "type": ["null", "string"], "default": None}]}},
        {"name": "note", "type": ["null", "string"], "default": None},
        {"name": "choice", "type": ["null", "int", "string"], "default": None},
        {"name": "price", "type": {"type": "bytes", "logicalType": "decimal", "precision": 10, "scale": 2}},
        {"name": "day", "type": {"type": "int", "logicalType": "date"}},
        {"name": "tod", "type": {"type": "int", "logicalType": "time-millis"}},
        {"name": "ts", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "ts_us", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "local_ts", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "uid", "type": {"type": "string", "logicalType": "uuid"}},
        {"name": "level", "type": "string", "default": "info"},
    ],
}

AVRO_TABLE_COLUMNS = """
    id Int64, name String, active UInt8, qty Int32, ratio Float32, score Float64, raw String,
    tags Array(String), attrs String, color Enum8('RED' = 1, 'GREEN' = 2, 'BLUE' = 3), code FixedString(4),
    address String, note Nullable(String), choice String, price Decimal(10, 2), day Date, tod String,
    ts DateTime, ts_us Int64, local_ts DateTime, uid UUID, level String
"""


def avro_order(i: int) -> dict:
    base = dt.datetime(2025, 9, 18, 10, 30, tzinfo=UTC) + dt.timedelta(minutes=i)
    return {
        "id": i, "name": f"order-{i}", "active": i % 2 == 0, "qty": -i, "ratio": i / 4, "score": i * 1.5,
        "raw": f"raw-{i}".encode(), "tags": [f"t{i}", "x"], "attrs": {"a": i, "b": -i},
        "color": ["RED", "GREEN", "BLUE"][i % 3], "code": f"C{i:03d}"[:4].encode(),
        "address": {"city": f"city-{i}", "zip": None if i % 2 else f"{i:05d}"},
        "note": None if i % 3 == 0 else f"note {i}",
        "choice": [None, i, f"s{i}"][i % 3],
        "price": decimal.Decimal(i * 101 - 500).scaleb(-2),
        "day": dt.date(2024, 1, 1) + dt.timedelta(days=i),
        "tod": dt.time(12, i % 60, 30, 250_000),
        "ts": base, "ts_us": base + dt.timedelta(microseconds=123), "local_ts": base.replace(tzinfo=None),
        "uid": uuid.UUID(int=i * 7919), "level": "warn" if i % 5 == 0 else "info",
    }


def expected_avro_row(i: int) -> dict:
    o = avro_order(i)
    # A general union is a struct with one field per branch; null (no branch) leaves the
    # non-Nullable String column to its default.
    choice = {"int": None, "string": None}
    if o["choice"] is not None:
        choice["int" if isinstance(o["choice"], int) else "string"] = o["choice"]
    choice_text = "" if o["choice"] is None else '{' + ",".join(
        f'"{k}":' + ("null" if v is None else (f'"{v}"' if isinstance(v, str) else str(v))) for k, v in choice.items()) + '}'
    zip_json = "null" if o["address"]["zip"] is None else f'"{o["address"]["zip"]}"'
    return {
        "id": str(i), "name": o["name"], "active": "1" if o["active"] else "0", "qty": str(-i),
        "ratio": repr(i / 4).removesuffix(".0") if (i / 4).is_integer() else repr(i / 4),
        "score": repr(i * 1.5).removesuffix(".0") if (i * 1.5).is_integer() else repr(i * 1.5),
        "raw": f"raw-{i}", "tags": f"['t{i}','x']", "attrs": f'{{"a":{i},"b":{-i}}}',
        "color": o["color"], "code": o["code"].decode(),
        "address": f'{{"city":"city-{i}","zip":{zip_json}}}',
        "note": o["note"],
        "choice": choice_text,
        "price": f"{o['price']:.2f}", "day": o["day"].isoformat(), "tod": f"12:{i % 60:02d}:30.250",
        "ts": o["ts"].strftime("%Y-%m-%d %H:%M:%S"),
        "ts_us": str(int(o["ts_us"].timestamp()) * 1_000_000 + 123),
        "local_ts": o["local_ts"].strftime("%Y-%m-%d %H:%M:%S"),
        "uid": str(o["uid"]), "level": o["level"],
    }


def test_avro_records_of_every_type_land_with_exact_values(worker, kafka, clickhouse, registry_url, names):
    count = 60
    kafka.create_topic(names["topic"], partitions=2)
    clickhouse.query(f"CREATE TABLE {names['table']} ({AVRO_TABLE_COLUMNS}) ENGINE = MergeTree() ORDER BY id")
    produce(kafka.bootstrap, names["topic"], [avro_order(i) for i in range(count)],
            avro_serializer(registry_url, AVRO_EVERY_TYPE))
    body = registry_connector(names, clickhouse, registry_url, "io.confluent.connect.avro.AvroConverter", tasks=2)
    assert worker.post("/connectors", body).status_code == 201
    wait_for_rows(clickhouse, kafka, names, count)

    columns = [f["name"] for f in AVRO_EVERY_TYPE["fields"]]
    got = rows_as_text(clickhouse, names["table"], columns)
    assert len(got) == count
    for i, row in enumerate(got):
        assert row == expected_avro_row(i), f"row {i}"
    tasks = worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]
    assert {t["state"] for t in tasks} == {"RUNNING"}


# ---------------------------------------------------------------------------------------------
# JSON Schema and Protobuf.

JSON_SCHEMA = {
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Payment", "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "payer": {"type": "string"},
        "amount": {"type": "number"},
        "settled": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "memo": {"oneOf": [{"type": "null"}, {"type": "string"}]},
        "meta": {"type": "object", "properties": {"channel": {"type": "string"}}, "required": ["channel"]},
    },
    "required": ["id", "payer", "amount", "settled", "tags", "meta"],
}


def test_json_schema_records_land_with_exact_values(worker, kafka, clickhouse, registry_url, names):
    count = 50
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.query(
        f"CREATE TABLE {names['table']} (id Int64, payer String, amount Float64, settled UInt8, tags Array(String), "
        "memo Nullable(String), meta String) ENGINE = MergeTree() ORDER BY id")
    payments = [{"id": i, "payer": f"p{i}", "amount": i + 0.25, "settled": i % 2 == 1, "tags": [f"k{i}"],
                 "memo": None if i % 2 else f"memo {i}", "meta": {"channel": "web"}} for i in range(count)]
    produce(kafka.bootstrap, names["topic"], payments, json_serializer(registry_url, JSON_SCHEMA))
    body = registry_connector(names, clickhouse, registry_url, "io.confluent.connect.json.JsonSchemaConverter")
    assert worker.post("/connectors", body).status_code == 201
    wait_for_rows(clickhouse, kafka, names, count)
    rows = clickhouse.rows(f"SELECT id, payer, amount, settled, tags, memo, meta FROM {names['table']} ORDER BY id")
    for i, row in enumerate(rows):
        assert row == {"id": str(i), "payer": f"p{i}", "amount": i + 0.25, "settled": i % 2, "tags": [f"k{i}"],
                       "memo": None if i % 2 else f"memo {i}", "meta": '{"channel":"web"}'}, f"row {i}"


def test_protobuf_records_land_with_exact_values(worker, kafka, clickhouse, registry_url, names):
    count = 50
    Reading = protobuf_event_class()
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.query(
        f"CREATE TABLE {names['table']} (id Int64, sensor String, value Float64, ratio Float32, count Int32, "
        "total UInt64, ok UInt8, raw String, kind String, tags Array(String), at DateTime, delta Int32) "
        "ENGINE = MergeTree() ORDER BY id")
    at = dt.datetime(2025, 9, 18, 10, 30, tzinfo=UTC)
    readings = []
    for i in range(count):
        r = Reading(id=i, sensor=f"s{i}", value=i * 0.5, ratio=0.25, count=i * 2, total=2**40 + i, ok=i % 2 == 0,
                    raw=b"\x01\x02" + bytes([i]), kind=1 + i % 2, tags=[f"a{i}", "b"], delta=-i)
        r.at.FromDatetime(at + dt.timedelta(seconds=i))
        readings.append(r)
    produce(kafka.bootstrap, names["topic"], readings, protobuf_serializer(registry_url, Reading))
    body = registry_connector(names, clickhouse, registry_url, "io.confluent.connect.protobuf.ProtobufConverter")
    assert worker.post("/connectors", body).status_code == 201
    wait_for_rows(clickhouse, kafka, names, count)
    rows = clickhouse.rows(
        f"SELECT id, sensor, value, ratio, count, total, ok, hex(raw) AS raw, kind, tags, "
        f"toString(at) AS at, delta FROM {names['table']} ORDER BY id")
    for i, row in enumerate(rows):
        assert row == {
            "id": str(i), "sensor": f"s{i}", "value": i * 0.5, "ratio": 0.25, "count": i * 2, "total": str(2**40 + i),
            "ok": 1 if i % 2 == 0 else 0, "raw": (b"\x01\x02" + bytes([i])).hex().upper(),
            "kind": ["TEMPERATURE", "HUMIDITY"][i % 2], "tags": [f"a{i}", "b"],
            "at": (at + dt.timedelta(seconds=i)).strftime("%Y-%m-%d %H:%M:%S"), "delta": -i,
        }, f"row {i}"


# ---------------------------------------------------------------------------------------------
# Evolution, registry outage, poison records.

V1 = {"type": "record", "name": "Visit", "namespace": "sluice.test", "fields": [
    {"name": "id", "type": "long"},
    {"name": "page", "type": "string"},
    {"name": "note", "type": ["null", "string"], "default": None},
    {"name": "ms", "type": "int"},
]}
# v2: adds a field with a default, drops the optional one, widens int to long.
V2 = {"type": "record", "name": "Visit", "namespace": "sluice.test", "fields": [
    {"name": "id", "type": "long"},
    {"name": "page", "type": "string"},
    {"name": "ms", "type": "long"},
    {"name": "region", "type": "string", "default": "eu"},
]}
VISITS_TABLE = "id Int64, page String, note Nullable(String), ms Int64, region String DEFAULT 'unset'"


def visits(start: int, count: int, version: int) -> list[dict]:
    if version == 1:
        return [{"id": i, "page": f"/p{i}", "note": f"n{i}", "ms": i} for i in range(start, start + count)]
    return [{"id": i, "page": f"/p{i}", "ms": 2**33 + i, "region": "us"} for i in range(start, start + count)]


def test_schema_evolution_v1_v2_v1_lands_every_record(worker, kafka, clickhouse, registry_url, names):
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.query(f"CREATE TABLE {names['table']} ({VISITS_TABLE}) ENGINE = MergeTree() ORDER BY id")
    body = registry_connector(names, clickhouse, registry_url, "io.confluent.connect.avro.AvroConverter")
    assert worker.post("/connectors", body).status_code == 201
    produce(kafka.bootstrap, names["topic"], visits(0, 100, 1), avro_serializer(registry_url, V1))
    produce(kafka.bootstrap, names["topic"], visits(100, 100, 2), avro_serializer(registry_url, V2))
    produce(kafka.bootstrap, names["topic"], visits(200, 100, 1), avro_serializer(registry_url, V1))
    wait_for_rows(clickhouse, kafka, names, 300)
    rows = clickhouse.rows(f"SELECT id, note, ms, region FROM {names['table']} ORDER BY id")
    for row in rows:
        i = int(row["id"])
        if 100 <= i < 200:
            assert row == {"id": str(i), "note": None, "ms": str(2**33 + i), "region": "us"}
        else:
            assert row == {"id": str(i), "note": f"n{i}", "ms": str(i), "region": "unset"}


@pytest.mark.disruptive
def test_registry_outage_of_30_seconds_loses_and_duplicates_nothing(worker, kafka, clickhouse, registry_url, names):
    services = lambda *args: subprocess.run([SERVICES, *args], check=True, capture_output=True, timeout=300)
    kafka.create_topic(names["topic"], partitions=2)
    clickhouse.query(f"CREATE TABLE {names['table']} ({VISITS_TABLE}) ENGINE = MergeTree() ORDER BY id")
    serializer = avro_serializer(registry_url, V1)
    produce(kafka.bootstrap, names["topic"], visits(0, 500, 1), serializer)

    services("down", "registry")
    try:
        # Sluice has never seen this schema id: it must wait for the registry, not skip records.
        body = registry_connector(names, clickhouse, registry_url, "io.confluent.connect.avro.AvroConverter", tasks=2)
        assert worker.post("/connectors", body).status_code == 201
        # The producer still serializes from its own cache of the schema id.
        produce(kafka.bootstrap, names["topic"], visits(500, 500, 1), serializer)

        def outage_reported():
            tasks = worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]
            assert all(t["state"] == "RUNNING" for t in tasks), tasks
            return any("Converter not ready" in (t.get("trace") or "") for t in tasks)

        wait_for("the outage in a task trace", outage_reported, timeout=30)

        def waiting_it_out():
            tasks = worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]
            assert {t["state"] for t in tasks} == {"RUNNING"}, tasks
            rows = clickhouse.scalar(f"SELECT count() FROM {names['table']}")
            assert rows == 0, f"{rows} rows written while the registry is down"
            committed = kafka.committed(names["connector"], names["topic"])
            assert not committed, f"offsets committed while the registry is down: {committed}"
            return True

        # The outage lasts 20 s more: tasks RUNNING, no row written, no offset committed.
        holds_for("the tasks waiting out the outage, nothing written or committed", waiting_it_out, 20)
    finally:
        services("up", "registry")
    wait_for_rows(clickhouse, kafka, names, 1000, timeout=120)
    tasks = worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]
    assert {t["state"] for t in tasks} == {"RUNNING"}


def poison_payloads(good_framed: bytes) -> dict[str, bytes]:
    return {
        "random bytes": b"\x17\x99garbage that is no avro",
        "unknown schema id": b"\x00" + (987_654).to_bytes(4, "big") + good_framed[5:],
        "truncated avro": good_framed[:8],
    }


def produce_with_poison(kafka, registry_url, topic: str) -> tuple[int, dict]:
    """100 good visits with the three kinds of poison at offsets 30, 60 and 90; returns the
    number of good visits and the kind of poison at each of those offsets."""
    serializer = avro_serializer(registry_url, V1)
    from confluent_kafka.serialization import MessageField, SerializationContext
    framed = serializer(visits(0, 1, 1)[0], SerializationContext(topic, MessageField.VALUE))
    poison = poison_payloads(framed)
    values, where = [], {}
    good = iter(visits(0, 97, 1))
    for offset in range(100):
        if offset in (30, 60, 90):
            kind = list(poison)[(offset // 30) - 1]
            values.append(poison[kind])
            where[offset] = kind
        else:
            values.append(next(good))
    produce(kafka.bootstrap, topic, values, serializer)
    return 97, where


def test_poison_records_go_to_the_dlq_with_context(worker, kafka, clickhouse, registry_url, names):
    dlq = unique("dlq")
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.query(f"CREATE TABLE {names['table']} ({VISITS_TABLE}) ENGINE = MergeTree() ORDER BY id")
    good, where = produce_with_poison(kafka, registry_url, names["topic"])
    body = registry_connector(names, clickhouse, registry_url, "io.confluent.connect.avro.AvroConverter", **{
        "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
        "errors.deadletterqueue.topic.replication.factor": "1"})
    assert worker.post("/connectors", body).status_code == 201
    wait_for_rows(clickhouse, kafka, names, good)

    # Dead letters are acknowledged before their offsets are committed: the DLQ is complete.
    assert kafka.end_offsets(dlq) == {0: 3}, "each poison record once in the DLQ"
    consumer = Consumer({"bootstrap.servers": kafka.bootstrap, "group.id": unique("dlq"), "auto.offset.reset": "earliest"})
    consumer.subscribe([dlq])
    dead = []
    try:
        wait_for("3 dead letters", lambda: dead.extend(m for m in consumer.consume(10, 1.0) if not m.error()) or len(dead) >= 3)
    finally:
        consumer.close()
    assert sorted(int(dict(m.headers())["__connect.errors.offset"]) for m in dead) == [30, 60, 90]
    for message in dead:
        headers = {k: (v.decode() if v is not None else None) for k, v in message.headers()}
        offset = int(headers["__connect.errors.offset"])
        assert headers["__connect.errors.stage"] == "VALUE_CONVERTER"
        assert headers["__connect.errors.topic"] == names["topic"]
        assert headers["__connect.errors.partition"] == "0"
        assert offset in where, headers
        assert headers["__connect.errors.exception.message"], headers
        kind = where[offset]
        expected_words = {
            "random bytes": ["Unknown magic byte 0x17"],
            "unknown schema id": ["987654"],
            "truncated avro": ["ends before the Avro datum of schema id", "truncated"],
        }[kind]
        for words in expected_words:
            assert words in headers["__connect.errors.exception.message"], (kind, words, headers)
    assert {t["state"] for t in worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]} == {"RUNNING"}


def test_poison_record_without_tolerance_fails_the_task_naming_it(worker, kafka, clickhouse, registry_url, names):
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.query(f"CREATE TABLE {names['table']} ({VISITS_TABLE}) ENGINE = MergeTree() ORDER BY id")
    produce_with_poison(kafka, registry_url, names["topic"])
    body = registry_connector(names, clickhouse, registry_url, "io.confluent.connect.avro.AvroConverter")
    assert worker.post("/connectors", body).status_code == 201

    def failed():
        task = worker.get(f"/connectors/{names['connector']}/status").json()["tasks"][0]
        return task if task["state"] == "FAILED" else None

    task = wait_for("the task FAILED", failed, timeout=60)
    named = rf"stage VALUE_CONVERTER for record topic={re.escape(names['topic'])} partition=0 offset=30\b"
    assert re.search(named, task["trace"]), task["trace"]
    assert "Unknown magic byte 0x17" in task["trace"], task["trace"]
    # Only the 30 records before the poison landed, once each, and exactly they are committed:
    # a restart resumes at the poison record, writing nothing twice and skipping nothing.
    assert kafka.committed(names["connector"], names["topic"]) == {0: 30}
    ids = [int(r["id"]) for r in clickhouse.rows(f"SELECT id FROM {names['table']} ORDER BY id")]
    assert ids == list(range(30)), ids


def test_converter_settings_are_checked_at_create_time(worker, clickhouse, registry_url, names):
    def create(**extra):
        body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, **extra)
        return worker.post("/connectors", body)

    def rejected(response, key):
        assert response.status_code == 400, response.text
        assert key in response.json()["message"], response.json()

    avro = {"value.converter": "io.confluent.connect.avro.AvroConverter"}
    rejected(create(**avro), "schema.registry.url")
    rejected(create(**avro, **{"value.converter.schema.registry.url": "localhost:8081"}), "schema.registry.url")
    rejected(create(**avro, **{"value.converter.schema.registry.url": registry_url,
                               "value.converter.value.subject.name.strategy": "com.example.Mine"}),
             "value.subject.name.strategy")
    rejected(create(**avro, **{"value.converter.schema.registry.url": registry_url,
                               "value.converter.basic.auth.credentials.source": "USER_INFO"}),
             "basic.auth.user.info")
    rejected(create(**{"header.converter": "com.example.NoSuchHeaderConverter"}), "header.converter")
    assert worker.get("/connectors").json() == [], "rejected connectors were not created"

    accepted = create(**avro, **{
        "value.converter.schema.registry.url": registry_url,
        "value.converter.value.subject.name.strategy": "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy",
        "header.converter": "org.apache.kafka.connect.storage.SimpleHeaderConverter",
        "key.converter": "org.apache.kafka.connect.converters.LongConverter",
    })
    assert accepted.status_code == 201, accepted.text
