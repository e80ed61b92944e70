"""Smoke test of the services started by tests/services/services.sh.

Run with the venv's python after `services.sh up` (or `services.sh smoke`):
  - Kafka: create a topic, produce and consume a message with confluent_kafka.
  - Registry: serialize with Confluent's AvroSerializer / JSONSerializer / ProtobufSerializer
    (registering the schemas through the ccompat API), read the schemas back by id and by
    subject, send the bytes through Kafka and deserialize them.
  - ClickHouse: CREATE TABLE / INSERT / SELECT / DROP over HTTP.
Prints one line per check and exits non-zero on the first failure.
Connection settings come from the environment (`eval "$(services.sh env)"`), with the defaults.
"""

import json
import os
import struct
import sys
import time
import uuid

import requests
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

BOOTSTRAP = os.environ.get("SLUICE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REGISTRY = os.environ.get("SLUICE_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7")
CLICKHOUSE = os.environ.get("SLUICE_CLICKHOUSE_URL", "http://127.0.0.1:8123")
RUN = uuid.uuid4().hex[:8]


def ok(msg):
    print(f"ok   {msg}", flush=True)


def check(cond, msg):
    if not cond:
        print(f"FAIL {msg}", flush=True)
        sys.exit(1)
    ok(msg)


def create_topic(admin, topic):
    futures = admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    futures[topic].result(timeout=30)


def produce(topic, key, value):
    p = Producer({"bootstrap.servers": BOOTSTRAP, "acks": "all", "enable.idempotence": True})
    errors = []
    p.produce(topic, key=key, value=value, on_delivery=lambda err, msg: err and errors.append(err))
    remaining = p.flush(30)
    check(remaining == 0 and not errors, f"kafka: produced to {topic} {errors or ''}")


def consume_one(topic, timeout=30):
    c = Consumer(
        {
            "bootstrap.servers": BOOTSTRAP,
            "group.id": f"sluice-smoke-{RUN}-{topic}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            msg = c.poll(1.0)
            if msg is None:
                continue
            if msg.error():
                raise RuntimeError(msg.error())
            c.commit(msg, asynchronous=False)
            return msg
    finally:
        c.close()
    check(False, f"kafka: a message arrives on {topic} within {timeout}s")


def kafka_roundtrip(admin):
    topic = f"sluice-smoke-{RUN}"
    create_topic(admin, topic)
    md = admin.list_topics(topic, timeout=10)
    check(topic in md.topics and not md.topics[topic].error, f"kafka: topic {topic} created")
    produce(topic, b"k1", b"hello sluice")
    msg = consume_one(topic)
    check(msg.key() == b"k1" and msg.value() == b"hello sluice", "kafka: consumed the same message")
    return topic


def wire_id(data):
    magic, schema_id = struct.unpack(">bI", data[:5])
    check(magic == 0, "registry: Confluent wire format (magic byte 0)")
    return schema_id


def avro_roundtrip(admin, sr):
    topic = f"sluice-smoke-avro-{RUN}"
    create_topic(admin, topic)
    schema = json.dumps(
        {
            "type": "record",
            "name": "Reading",
            "namespace": "dev.sluice.smoke",
            "fields": [
                {"name": "id", "type": "long"},
                {"name": "name", "type": "string"},
                {"name": "temp", "type": ["null", "double"], "default": None},
            ],
        }
    )
    ser = AvroSerializer(sr, schema)
    ctx = SerializationContext(topic, MessageField.VALUE)
    record = {"id": 42, "name": "pump-1", "temp": 21.5}
    data = ser(record, ctx)
    schema_id = wire_id(data)
    subject = f"{topic}-value"
    latest = sr.get_latest_version(subject)
    check(latest.schema_id == schema_id, f"registry: {subject} latest version has id {schema_id}")
    by_id = sr.get_schema(schema_id)
    check(
        by_id.schema_type in (None, "AVRO")
        and json.loads(by_id.schema_str)["name"] == "Reading",
        f"registry: schema {schema_id} read back by id",
    )
    r = requests.get(f"{REGISTRY}/subjects/{subject}/versions/latest", timeout=10)
    check(r.status_code == 200 and r.json()["id"] == schema_id, "registry: raw ccompat GET latest")
    # registering the same schema again (another serializer, no cache) gives the same id
    data2 = AvroSerializer(SchemaRegistryClient({"url": REGISTRY}), schema)(record, ctx)
    check(wire_id(data2) == schema_id, "registry: re-registering returns the same id")
    produce(topic, None, data)
    msg = consume_one(topic)
    out = AvroDeserializer(SchemaRegistryClient({"url": REGISTRY}))(msg.value(), ctx)
    check(out == record, f"registry: Avro record round-trips through Kafka: {out}")
    admin.delete_topics([topic])[topic].result(timeout=30)
    return subject


def json_roundtrip(sr):
    topic = f"sluice-smoke-json-{RUN}"
    schema = json.dumps(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "title": "Reading",
            "type": "object",
            "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            "required": ["id"],
        }
    )
    ctx = SerializationContext(topic, MessageField.VALUE)
    record = {"id": 7, "name": "valve"}
    data = JSONSerializer(schema, sr)(record, ctx)
    schema_id = wire_id(data)
    got = sr.get_schema(schema_id)
    check(got.schema_type == "JSON", f"registry: JSON schema {schema_id} registered as JSON")
    out = JSONDeserializer(None, schema_registry_client=SchemaRegistryClient({"url": REGISTRY}))(
        data, ctx
    )
    check(out == record, "registry: JSON Schema serializer round-trip")
    return f"{topic}-value"


def protobuf_roundtrip(sr):
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    fdp = descriptor_pb2.FileDescriptorProto(
        name=f"smoke_{RUN}.proto", package="dev.sluice.smoke", syntax="proto3"
    )
    m = fdp.message_type.add(name="Reading")
    m.field.add(name="id", number=1, type=descriptor_pb2.FieldDescriptorProto.TYPE_INT64,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    m.field.add(name="name", number=2, type=descriptor_pb2.FieldDescriptorProto.TYPE_STRING,
                label=descriptor_pb2.FieldDescriptorProto.LABEL_OPTIONAL)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(fdp)
    cls = message_factory.GetMessageClass(pool.FindMessageTypeByName("dev.sluice.smoke.Reading"))
    topic = f"sluice-smoke-proto-{RUN}"
    ctx = SerializationContext(topic, MessageField.VALUE)
    data = ProtobufSerializer(cls, sr, {"use.deprecated.format": False})(cls(id=9, name="fan"), ctx)
    schema_id = wire_id(data)
    got = sr.get_schema(schema_id)
    check(got.schema_type == "PROTOBUF", f"registry: Protobuf schema {schema_id} registered")
    out = ProtobufDeserializer(cls, {"use.deprecated.format": False})(data, ctx)
    check(out.id == 9 and out.name == "fan", "registry: Protobuf serializer round-trip")
    return f"{topic}-value"


# ClickHouse 18.16 sends no Content-Type header, so requests' r.text guesses the charset
# (it takes "Ok.\n" for UTF-16); always decode r.content as UTF-8.
def ch(query, data=None):
    r = requests.post(CLICKHOUSE, params={"query": query}, data=data, timeout=30)
    text = r.content.decode("utf-8")
    if r.status_code != 200:
        check(False, f"clickhouse: {query!r} -> {r.status_code} {text.strip()}")
    return text


def clickhouse_roundtrip():
    r = requests.get(f"{CLICKHOUSE}/ping", timeout=10)
    check(r.content == b"Ok.\n", "clickhouse: /ping")
    version = ch("SELECT version()").strip()
    ok(f"clickhouse: server version {version}")
    table = f"sluice_smoke_{RUN}"
    ch(
        f"CREATE TABLE {table} (id UInt64, name String, temp Nullable(Float64), ts DateTime) "
        "ENGINE = MergeTree ORDER BY id"
    )
    rows = [
        {"id": 1, "name": "a", "temp": 1.5, "ts": "2024-01-02 03:04:05"},
        {"id": 2, "name": "b", "temp": None, "ts": "2024-01-02 03:04:06"},
    ]
    ch(f"INSERT INTO {table} FORMAT JSONEachRow", "\n".join(json.dumps(r) for r in rows))
    out = ch(f"SELECT id, name, temp, ts FROM {table} ORDER BY id FORMAT TSV")
    check(
        out == "1\ta\t1.5\t2024-01-02 03:04:05\n2\tb\t\\N\t2024-01-02 03:04:06\n",
        f"clickhouse: SELECT returns the inserted rows {out!r}",
    )
    ch(f"DROP TABLE {table}")
    ok(f"clickhouse: dropped {table}")


def main():
    what = set(sys.argv[1:]) or {"kafka", "registry", "clickhouse"}
    if "kafka" in what or "registry" in what:
        admin = AdminClient({"bootstrap.servers": BOOTSTRAP})
    if "kafka" in what:
        topic = kafka_roundtrip(admin)
        admin.delete_topics([topic])[topic].result(timeout=30)
        ok(f"kafka: deleted {topic}")
    if "registry" in what:
        sr = SchemaRegistryClient({"url": REGISTRY})
        subjects = [avro_roundtrip(admin, sr), json_roundtrip(sr), protobuf_roundtrip(sr)]
        for subject in subjects:
            sr.delete_subject(subject)
            sr.delete_subject(subject, permanent=True)
        left = set(sr.get_subjects()) & set(subjects)
        check(not left, f"registry: deleted subjects {subjects}")
    if "clickhouse" in what:
        clickhouse_roundtrip()
    print("smoke: all checks passed", flush=True)


if __name__ == "__main__":
    main()
