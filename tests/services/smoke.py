"""Smoke test of the services started by tests/services/services.sh.

Run with the venv's python after `services.sh up` (or `services.sh smoke`):
  - Kafka: create a topic, produce and consume a message with confluent_kafka.
  - Registry: serialize with Confluent's AvroSerializer / JSONSerializer / ProtobufSerializer
    (registering the schemas through the ccompat API), read the schemas back by id and by
    subject, send the bytes through Kafka and deserialize them.
  - ClickHouse: CREATE TABLE / INSERT / SELECT / DROP over HTTP.
  - kafka-cluster (only when named: `services.sh smoke kafka-cluster`; it stops and starts the
    cluster's nodes through services.sh): a topic with replication factor 3 and 6 partitions;
    stop the active controller -> another is elected, produce (acks=all) and consume go on;
    stop a second node -> produce fails (min.insync.replicas=2) and the last node stays up;
    start both -> produce/consume work again and every acknowledged message is there; then
    down + up of the whole cluster keeps them too.
  - s3 (only when named: `services.sh smoke s3`): with pyarrow's S3FileSystem create a bucket,
    write a Parquet file, list it, read it back and compare the rows; a wrong secret key is
    refused; the bucket is deleted again.
Prints one line per check and exits non-zero on the first failure.
Connection settings come from the environment (`eval "$(services.sh env)"`), with the defaults.
"""

import json
import os
import struct
import subprocess
import sys
import time
import uuid

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import requests
from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

BOOTSTRAP = os.environ.get("SLUICE_KAFKA_BOOTSTRAP", "127.0.0.1:9092")
REGISTRY = os.environ.get("SLUICE_REGISTRY_URL", "http://127.0.0.1:8081/apis/ccompat/v7")
CLICKHOUSE = os.environ.get("SLUICE_CLICKHOUSE_URL", "http://127.0.0.1:8123")
CLUSTER = os.environ.get(
    "SLUICE_KAFKA_CLUSTER_BOOTSTRAP", "127.0.0.1:9192,127.0.0.1:9193,127.0.0.1:9194"
)
S3_URL = os.environ.get("SLUICE_S3_URL", "http://127.0.0.1:8333")
S3_ACCESS_KEY = os.environ.get("SLUICE_S3_ACCESS_KEY", "sluice")
S3_SECRET_KEY = os.environ.get("SLUICE_S3_SECRET_KEY", "sluice-secret")
S3_REGION = os.environ.get("SLUICE_S3_REGION", "us-east-1")
SERVICES_SH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "services.sh")
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


# ---------------------------------------------------------------------------------------------
# s3: Parquet through pyarrow's S3 client, as the Parquet sink's tests will read its output
# ---------------------------------------------------------------------------------------------


def s3_filesystem(secret_key=S3_SECRET_KEY):
    scheme, endpoint = S3_URL.split("://", 1)
    return pafs.S3FileSystem(
        endpoint_override=endpoint,
        scheme=scheme,
        access_key=S3_ACCESS_KEY,
        secret_key=secret_key,
        region=S3_REGION,
        allow_bucket_creation=True,
        allow_bucket_deletion=True,
        connect_timeout=5,
        request_timeout=30,
    )


def s3_roundtrip():
    s3 = s3_filesystem()
    bucket = f"sluice-smoke-{RUN}"
    s3.create_dir(bucket)
    info = s3.get_file_info(bucket)
    check(info.type == pafs.FileType.Directory, f"s3: bucket {bucket} created")
    table = pa.table(
        {
            "id": pa.array([1, 2, 3], pa.int64()),
            "name": ["pump-1", "valve", None],
            "temp": pa.array([21.5, None, -3.25], pa.float64()),
        }
    )
    path = f"{bucket}/topic=smoke/partition=0/00000000000000000000.parquet"
    pq.write_table(table, path, filesystem=s3)
    listed = s3.get_file_info(pafs.FileSelector(bucket, recursive=True))
    files = [(f.path, f.size) for f in listed if f.type == pafs.FileType.File]
    check(
        len(files) == 1 and files[0][0] == path and files[0][1] > 0,
        f"s3: Parquet file listed {files}",
    )
    back = pq.read_table(path, filesystem=s3)
    check(
        back.schema.equals(table.schema) and back.to_pylist() == table.to_pylist(),
        f"s3: Parquet read back with the same rows {back.to_pylist()}",
    )
    try:
        s3_filesystem(secret_key="not-the-secret").get_file_info(pafs.FileSelector(bucket))
        check(False, "s3: a wrong secret key must be refused")
    except OSError as e:
        check("SIGNATURE_DOES_NOT_MATCH" in str(e), "s3: a wrong secret key is refused (SIGNATURE_DOES_NOT_MATCH)")
    s3.delete_dir(bucket)
    check(s3.get_file_info(bucket).type == pafs.FileType.NotFound, f"s3: deleted bucket {bucket}")


# ---------------------------------------------------------------------------------------------
# kafka-cluster: broker failures
# ---------------------------------------------------------------------------------------------


def services(*args, check_rc=True):
    """Run services.sh (its log lines go to stderr as they come); return (rc, stdout)."""
    p = subprocess.run([SERVICES_SH, *args], stdout=subprocess.PIPE, text=True)
    if check_rc and p.returncode != 0:
        check(False, f"services.sh {' '.join(args)} exited {p.returncode}")
    return p.returncode, p.stdout.strip()


def active_controller():
    rc, out = services("controller", check_rc=False)
    return int(out) if rc == 0 and out.isdigit() else None


def node_running(node):
    _, out = services("status", f"kafka-{node}")
    return " running " in f" {out} "


def cluster_produce(topic, start, count, timeout_s, **config):
    """Produce values start..start+count-1 with acks=all (idempotent unless config says
    otherwise); return (acknowledged values, {error name: count})."""
    p = Producer(
        {
            "bootstrap.servers": CLUSTER,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": int(timeout_s * 1000),
            **{k.replace("_", "."): v for k, v in config.items()},
        }
    )
    acked, errors = [], {}

    def done(err, msg):
        if err:
            errors[err.name()] = errors.get(err.name(), 0) + 1
        else:
            acked.append(msg.value().decode())

    for i in range(start, start + count):
        p.produce(topic, key=str(i).encode(), value=f"{RUN}-{i}".encode(), on_delivery=done)
        p.poll(0)
    p.flush(timeout_s + 30)
    return acked, errors


def cluster_consume(topic, expected, timeout_s=60):
    """Read the topic from the start with a new consumer group until every value in expected
    has arrived (or timeout_s); return the list of values read."""
    c = Consumer(
        {
            "bootstrap.servers": CLUSTER,
            "group.id": f"sluice-smoke-{RUN}-{uuid.uuid4().hex[:6]}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe([topic])
    seen, missing = [], set(expected)
    deadline = time.time() + timeout_s
    try:
        while missing and time.time() < deadline:
            msg = c.poll(1.0)
            if msg is None or msg.error():
                continue
            seen.append(msg.value().decode())
            missing.discard(seen[-1])
        # a little longer: anything beyond what is expected shows up too
        end = time.time() + 2
        while time.time() < end:
            msg = c.poll(0.5)
            if msg is not None and not msg.error():
                seen.append(msg.value().decode())
    finally:
        c.close()
    return seen


def check_all_there(topic, acked, what):
    t = time.time()
    seen = cluster_consume(topic, acked)
    missing = set(acked) - set(seen)
    dups = len(seen) - len(set(seen))
    check(
        not missing and dups == 0,
        f"kafka-cluster: {what}: all {len(acked)} acknowledged messages read back"
        f" ({len(seen)} read, {len(missing)} missing, {dups} duplicates, {time.time() - t:.1f}s)",
    )
    return seen


def wait_for(what, fn, timeout_s):
    t = time.time()
    while time.time() - t < timeout_s:
        v = fn()
        if v:
            return v, time.time() - t
        time.sleep(0.5)
    check(False, f"kafka-cluster: {what} within {timeout_s}s")


def kafka_cluster_failover():
    # clients live no longer than one step: an idle one would log every refused reconnect
    # while nodes are down
    admin = AdminClient({"bootstrap.servers": CLUSTER})
    try:
        brokers = sorted(admin.list_topics(timeout=10).brokers)
    except KafkaException as e:
        brokers = f"none ({e}); start it with: services.sh up kafka-cluster"
    check(brokers == [1, 2, 3], f"kafka-cluster: brokers {brokers}")
    topic = f"sluice-smoke-cluster-{RUN}"
    admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=3)])[topic].result(
        timeout=30
    )
    del admin

    def fully_replicated():
        admin = AdminClient({"bootstrap.servers": CLUSTER})
        parts = admin.list_topics(topic, timeout=10).topics[topic].partitions
        return len(parts) == 6 and all(
            len(p.replicas) == 3 and len(p.isrs) == 3 for p in parts.values()
        )

    wait_for("6 partitions with 3 in-sync replicas each", fully_replicated, 30)
    ok(f"kafka-cluster: topic {topic}: 6 partitions, replication factor 3, all in sync")

    acked, errors = cluster_produce(topic, 0, 300, 30)
    check(
        len(acked) == 300 and not errors, f"kafka-cluster: 300 produced with acks=all {errors or ''}"
    )
    check_all_there(topic, acked, "3 brokers")

    # 1. the active controller goes away
    first, took = wait_for("an active controller", active_controller, 30)
    ok(f"kafka-cluster: active controller is kafka-{first}")
    t = time.time()
    services("down", f"kafka-{first}")
    stop_s = time.time() - t
    second, took = wait_for(
        "a new controller", lambda: (c := active_controller()) not in (None, first) and c, 60
    )
    ok(
        f"kafka-cluster: kafka-{first} stopped in {stop_s:.1f}s; kafka-{second} is the active"
        f" controller {took:.1f}s later"
    )
    t = time.time()
    more, errors = cluster_produce(topic, 300, 300, 60)
    check(
        len(more) == 300 and not errors,
        f"kafka-cluster: 2 of 3 up: 300 more produced with acks=all in {time.time() - t:.1f}s"
        f" {errors or ''}",
    )
    acked += more
    check_all_there(topic, acked, "2 of 3 brokers")

    # 2. a second node goes away: no quorum, fewer in-sync replicas than min.insync.replicas
    third = ({1, 2, 3} - {first, second}).pop()
    t = time.time()
    services("down", f"kafka-{second}")
    ok(f"kafka-cluster: kafka-{second} stopped in {time.time() - t:.1f}s; kafka-{third} is alone")
    # The broker rejects acks=all batches with NOT_ENOUGH_REPLICAS (ISR 1 < min.insync.replicas
    # 2), which the client retries until message.timeout.ms: the application sees
    # _MSG_TIMED_OUT (an idempotent producer usually gets no producer id at all: brokers get
    # blocks of them from the controller). Without retries the broker's error comes through.
    t = time.time()
    lost, errors = cluster_produce(topic, 600, 50, 10)
    check(
        not lost and set(errors) == {"_MSG_TIMED_OUT"},
        f"kafka-cluster: 1 of 3 up: idempotent produce with acks=all fails: {len(lost)}"
        f" acknowledged, errors {errors} after {time.time() - t:.1f}s",
    )
    t = time.time()
    lost, errors = cluster_produce(topic, 650, 50, 10, enable_idempotence=False, retries=0)
    check(
        not lost and set(errors) == {"NOT_ENOUGH_REPLICAS"},
        f"kafka-cluster: 1 of 3 up: produce with acks=all and no retries fails: {len(lost)}"
        f" acknowledged, errors {errors} after {time.time() - t:.1f}s",
    )
    check(active_controller() is None, "kafka-cluster: 1 of 3 up: no active controller")
    check(node_running(third), f"kafka-cluster: kafka-{third} still runs")

    # 3. both come back
    t = time.time()
    services("up", f"kafka-{first}", f"kafka-{second}")
    ok(f"kafka-cluster: kafka-{first} and kafka-{second} back in {time.time() - t:.1f}s")
    leader, took = wait_for("an active controller", active_controller, 60)
    ok(f"kafka-cluster: active controller kafka-{leader}")
    wait_for("all partitions back to 3 in-sync replicas", fully_replicated, 120)
    ok(f"kafka-cluster: all partitions back to 3 in-sync replicas after {time.time() - t:.1f}s")
    t = time.time()
    more, errors = cluster_produce(topic, 700, 300, 60)
    check(
        len(more) == 300 and not errors,
        f"kafka-cluster: 3 of 3 up again: 300 more produced in {time.time() - t:.1f}s"
        f" {errors or ''}",
    )
    acked += more
    seen = check_all_there(topic, acked, "after recovery")
    outage = [v for v in seen if 600 <= int(v.rsplit("-", 1)[1]) < 700]
    ok(f"kafka-cluster: {len(outage)} of the 100 unacknowledged outage messages were written")
    check(len(outage) == 0, "kafka-cluster: nothing written while min.insync.replicas was not met")

    # 4. the whole cluster restarts on its data
    t = time.time()
    services("down", "kafka-cluster")
    services("up", "kafka-cluster")
    ok(f"kafka-cluster: down + up of all three in {time.time() - t:.1f}s")
    check_all_there(topic, acked, "after a full restart")
    admin = AdminClient({"bootstrap.servers": CLUSTER})
    admin.delete_topics([topic])[topic].result(timeout=30)
    ok(f"kafka-cluster: deleted {topic}")


def registry_tls_checks():
    url, ca = os.environ["SLUICE_REGISTRY_TLS_URL"], os.environ["SLUICE_REGISTRY_TLS_CA"]
    user, password = os.environ["SLUICE_REGISTRY_TLS_USER_INFO"].split(":", 1)
    r = requests.get(f"{url}/subjects", verify=ca, auth=(user, password), timeout=10)
    check(r.status_code == 200 and isinstance(r.json(), list), "registry-tls: subjects over TLS with basic auth")
    r = requests.get(f"{url}/subjects", verify=ca, timeout=10)
    check(r.status_code == 401, "registry-tls: refused without credentials (401)")
    try:
        requests.get(f"{url}/subjects", auth=(user, password), timeout=10)
        check(False, "registry-tls: the test CA must be needed")
    except requests.exceptions.SSLError:
        ok("registry-tls: untrusted without the test CA")


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
    if "registry-tls" in what:
        registry_tls_checks()
    if "clickhouse" in what:
        clickhouse_roundtrip()
    if "kafka-cluster" in what:
        kafka_cluster_failover()
    if "s3" in what:
        s3_roundtrip()
    print("smoke: all checks passed", flush=True)


if __name__ == "__main__":
    main()
