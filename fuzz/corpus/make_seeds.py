#!/usr/bin/env python3
"""Writes the seed inputs under fuzz/corpus/<target>/ (run from anywhere; rewrites them).
Files named regress-* are inputs that once crashed a target, kept by hand, not written here.

The values mirror the converters', worker's and transforms' unit tests. Avro and Protobuf
payloads are encoded here by hand (the formats' specs are short) for the fixed schemas of
fuzz/src/lib.rs, so the seeds need no Avro or Protobuf library.
"""
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))


def write(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zz(n):
    return varint((n << 1) ^ (n >> 63))


def header(schema_id):
    return b"\x00" + struct.pack(">I", schema_id)


# ---- Avro (fixed schemas 0..3 of fuzz/src/lib.rs)
def a_str(s):
    s = s.encode() if isinstance(s, str) else s
    return zz(len(s)) + s


def a_place(city, zip_code):
    return a_str(city) + (zz(1) + a_str(zip_code) if zip_code else zz(0))


shipment = b"".join([
    b"\x01",                      # ok
    zz(300), zz(-5), zz(70000), zz(5_000_000_000),
    struct.pack("<f", 1.5), struct.pack("<d", 2.25),
    a_str(b"\x00\xff"), a_str("hello"),
    zz(2) + zz(1) + a_str("x") + zz(0) + zz(0),               # list: "x", null
    zz(1) + a_str("k") + zz(7) + zz(0),                        # counts
    a_place("Lyon", "69001"),                                  # dest
    zz(1) + a_place("Oslo", None) + zz(0),                     # stops
    zz(1) + a_place("Rome", None),                             # back
    zz(1),                                                     # mood BUSY
    b"abc",                                                    # tag
    a_str(b"\x04\xd2"),                                        # price 1.234
    (12345).to_bytes(20, "big", signed=True),                  # wide
    zz(20349), zz(37800000), zz(37800000000), zz(1758191400000), zz(1758191400000000),
    zz(1758191400000),
    a_str("f81d4fae-7dec-11d0-a765-00a0c91e6bf6"),
    struct.pack("<III", 1, 2, 3),                              # span
    zz(3) + a_place("Bern", None),                             # any: Place
])
write("avro_wire", "record", header(0) + shipment)
write("avro_wire", "union_long", header(1) + zz(1) + zz(42))
write("avro_wire", "union_record", header(1) + zz(3) + struct.pack("<d", -0.5))
write("avro_wire", "map_of_decimals", header(2) + zz(1) + a_str("m") + zz(2) + a_str(b"\x7b") + a_str(b"\xff\x85") + zz(0) + zz(0))
write("avro_wire", "null", header(1) + zz(0))
plain = b"".join([
    b"\x01",                      # ok
    zz(300), zz(-5), zz(70000), zz(5_000_000_000),
    struct.pack("<f", 1.5), struct.pack("<d", 2.25),
    a_str(b"\x00\xff"), a_str("hello"),
    zz(2) + zz(1) + a_str("x") + zz(0) + zz(0),               # list: "x", null
    zz(-2) + zz(6) + a_str("k") + zz(7) + a_str("j") + zz(-1) + zz(0),  # counts: a sized block
    a_str("Lyon") + zz(0) + a_str("69001"),                    # dest (zip: [string, null])
    zz(1) + a_str("Oslo") + zz(1) + zz(0),                     # stops
    zz(1) + a_str("Rome") + zz(1),                             # back
    zz(20349), zz(37800000), zz(1758191400000), zz(1758191400000000),
])
write("avro_wire", "plain", header(3) + plain)

# ---- Protobuf (fixed schemas 0..1; payload = message indexes, then the message)
def tag(field, wire):
    return varint((field << 3) | wire)


def p_len(field, data):
    data = data.encode() if isinstance(data, str) else data
    return tag(field, 2) + varint(len(data)) + data


def p_var(field, n):
    return tag(field, 0) + varint(n & 0xFFFFFFFFFFFFFFFF)


item = p_len(1, "sku-1") + tag(2, 0) + zz(-3) + p_len(3, b"\x01")
parcel = b"".join([
    p_var(1, -7), tag(2, 0) + zz(-8), tag(3, 5) + struct.pack("<i", -9), p_var(4, 1 << 40),
    tag(5, 0) + zz(-(1 << 40)), tag(6, 1) + struct.pack("<q", -11), p_var(7, 12), p_var(8, 1 << 63),
    tag(9, 5) + struct.pack("<I", 13), tag(10, 1) + struct.pack("<Q", 14), p_var(11, 1),
    tag(12, 5) + struct.pack("<f", 0.25), tag(13, 1) + struct.pack("<d", 9.5),
    p_len(14, "name"), p_len(15, b"\x00\x01"), p_var(16, 2), p_len(17, "a"), p_len(17, "b"),
    p_len(18, p_len(1, "sku-1") + p_len(2, item)), p_len(19, p_var(1, 5) + p_len(2, "five")),
    p_len(20, item), p_len(21, item), p_var(22, 0), p_len(24, item), p_len(25, b"\x01\x02"),
])
write("protobuf_wire", "parcel", header(0) + b"\x00" + parcel)
write("protobuf_wire", "other_inner", header(0) + zz(2) + zz(1) + zz(0) + tag(1, 1) + struct.pack("<d", 1.0) + p_var(2, 1))
write("protobuf_wire", "other", header(0) + zz(1) + zz(1) + p_len(1, "id") + p_len(2, p_var(2, 2)))
ts = p_var(1, 1758191400) + p_var(2, 500_000_000)
known = b"".join([
    p_len(1, ts), p_len(2, p_var(1, 5)), p_len(3, p_var(1, 6)), p_len(8, p_var(1, 1)), p_len(9, p_len(1, "s")),
    p_len(11, p_var(1, 2025) + p_var(2, 9) + p_var(3, 18)), p_len(12, p_var(1, 10) + p_var(2, 30)),
    p_len(13, p_len(1, b"\x04\xd2") + p_var(2, 8) + p_var(3, 2)), p_len(14, p_len(1, "1.250")), p_var(15, 3),
    p_len(16, p_len(1, p_len(1, "k") + p_len(2, tag(2, 1) + struct.pack("<d", 1.0)))),
    p_len(17, p_len(3, "text")), p_len(18, p_len(1, p_var(4, 1))), p_len(19, ts),
])
write("protobuf_wire", "well_known", header(1) + b"\x00" + known)

# ---- JSON Schema (fixed schemas 0..1; payload = JSON text)
write("json_schema_wire", "parcel", header(0) + b'{"id":1,"ok":true,"i8":-1,"i16":300,"i32":70000,"f32":1.5,"f64":2.5,'
      b'"name":"n","raw":"AAH/","note":null,"kind":"box","items":[{"code":"c","qty":2}],"attrs":{"a":1},"either":"s"}')
write("json_schema_wire", "one_of", header(1) + b"[1.5, 2, -3e2]")
write("json_schema_wire", "one_of_object", header(1) + b'{"a":"x"}')

# ---- JSON converter
write("json_schemaless", "object", '{"i":-3,"big":18446744073709551615,"f":1.5,"a":[true,null],"o":{"x":"y"}}')
write("json_schemaless", "event", '{"user_id":"user_42","event_type":"purchase","timestamp":"2025-09-18T10:30:00Z"}')
write("json_schemaless", "scalars", '[1e308, -0.0, "\\u00e9\\ud83d\\ude00", 9223372036854775808]')
write("json_envelope", "struct", '{"schema":{"type":"struct","name":"io.example.Event","version":2,"optional":false,"fields":['
      '{"field":"b","type":"boolean"},{"field":"i8","type":"int8"},{"field":"i16","type":"int16"},'
      '{"field":"f32","type":"float"},{"field":"s","type":"string"},{"field":"raw","type":"bytes"},'
      '{"field":"dec","type":"bytes","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2"}},'
      '{"field":"day","type":"int32","name":"org.apache.kafka.connect.data.Date"},'
      '{"field":"tod","type":"int32","name":"org.apache.kafka.connect.data.Time"},'
      '{"field":"ts","type":"int64","name":"org.apache.kafka.connect.data.Timestamp"},'
      '{"field":"tags","type":"array","items":{"type":"string"}},'
      '{"field":"ids","type":"map","keys":{"type":"int32"},"values":{"type":"string"}},'
      '{"field":"dflt","type":"string","optional":true,"default":"fallback"}]},'
      '"payload":{"b":true,"i8":-8,"i16":300,"f32":1.5,"s":"hi","raw":"AAH/","dec":"BNI=","day":20349,'
      '"tod":37800000,"ts":1758191400000,"tags":["a","b"],"ids":[[1,"one"]],"dflt":null}}')
write("json_envelope", "decimal_numeric", '{"schema":{"type":"bytes","name":"org.apache.kafka.connect.data.Decimal",'
      '"parameters":{"scale":"3"}},"payload":-12.5}')
write("json_envelope", "null_schema", '{"schema":null,"payload":{"a":[1,2.5,"x"]}}')
write("json_envelope", "int8_overflow", '{"schema":{"type":"int8"},"payload":300}')

# ---- Header values
for name, text in [("bool", "true"), ("int", "-129"), ("float", "1.5e3"), ("date", "2024-01-02"),
                   ("time", "12:30:00.250"), ("timestamp", "2024-01-02T03:04:05.678Z"),
                   ("array", '[1, "a", null]'), ("map", '{"a": {"b": [true]}}'), ("text", "plain text")]:
    write("header_value", name, text)

# ---- Worker properties, JAAS, listeners
write("worker_properties", "standalone", "bootstrap.servers=localhost:9092\n"
      "key.converter=org.apache.kafka.connect.json.JsonConverter\n"
      "value.converter=org.apache.kafka.connect.json.JsonConverter\n"
      "key.converter.schemas.enable=true\noffset.storage.file.filename=/tmp/connect.offsets\n"
      "offset.flush.interval.ms=10000\nplugin.path=/usr/share/java\nlisteners=http://127.0.0.1:18083\n")
write("worker_properties", "sasl", "bootstrap.servers=k1:9093,k2:9093\nsecurity.protocol=SASL_SSL\n"
      "sasl.mechanism=SCRAM-SHA-512\n"
      'sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="a" password="b";\n'
      "group.id=sluice\nconfig.providers=env\nconfig.providers.env.class=org.apache.kafka.common.config.provider.EnvVarConfigProvider\n"
      "rest.advertised.host.name=${env:HOME}\nrest.advertised.port=8083\nbatch.max.records=500\n"
      "batch.linger.ms=50\nbatch.max.bytes=1048576\nsluice.data.dir=data\n")
write("worker_properties", "https", "bootstrap.servers=k:9092\nlisteners=http://:8083,https://:8443\n"
      "listeners.https.ssl.keystore.location=keystore.p12\nlisteners.https.ssl.keystore.password=pw\n"
      "rest.extension.classes=org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension\n")
write("jaas", "entry", 'org.apache.kafka.common.security.scram.ScramLoginModule required username="alice" password="p@ss=\\"w;rd\\"";')
write("jaas", "plain", "org.apache.kafka.common.security.plain.PlainLoginModule required username=bob password=x;")
write("jaas", "file", "KafkaConnect {\n  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n"
      '  file="/etc/connect/credentials.properties";\n};\nKafkaClient {\n  org.x.PlainLoginModule optional a="1" b=2;\n};\n')
write("rest_listeners", "two", "http://0.0.0.0:8083,https://:8443")
write("rest_listeners", "ipv6", "HTTP://[::1]:8083, http://localhost:9000")

# ---- Transforms
write("transforms_config", "chain", "transforms=mask,route,cast,insert,drop,flat\n"
      "transforms.mask.type=org.apache.kafka.connect.transforms.MaskField$Value\ntransforms.mask.fields=name\n"
      "transforms.route.type=org.apache.kafka.connect.transforms.RegexRouter\ntransforms.route.regex=(.*)s\n"
      "transforms.route.replacement=$1-archive\n"
      "transforms.cast.type=org.apache.kafka.connect.transforms.Cast$Value\ntransforms.cast.spec=n:int64,ratio:string\n"
      "transforms.flat.type=org.apache.kafka.connect.transforms.Flatten$Value\ntransforms.flat.delimiter=_\n"
      "transforms.insert.type=org.apache.kafka.connect.transforms.InsertField$Value\n"
      "transforms.insert.offset.field=off\ntransforms.insert.static.field=src\ntransforms.insert.static.value=fuzz\n"
      "transforms.drop.type=org.apache.kafka.connect.transforms.ReplaceField$Value\ntransforms.drop.exclude=raw\n")
write("transforms_config", "predicate", "predicates=isOrders,hasTrace\n"
      "predicates.isOrders.type=org.apache.kafka.connect.transforms.predicates.TopicNameMatches\n"
      "predicates.isOrders.pattern=ord.*\n"
      "predicates.hasTrace.type=org.apache.kafka.connect.transforms.predicates.HasHeaderKey\npredicates.hasTrace.name=trace\n"
      "transforms=ts,extract,hoist,filter\n"
      "transforms.ts.type=org.apache.kafka.connect.transforms.TimestampConverter$Value\n"
      "transforms.ts.field=at\ntransforms.ts.target.type=string\ntransforms.ts.format=yyyy-MM-dd'T'HH:mm:ss.SSS\n"
      "transforms.extract.type=org.apache.kafka.connect.transforms.ExtractField$Value\ntransforms.extract.field=place\n"
      "transforms.extract.predicate=isOrders\n"
      "transforms.hoist.type=org.apache.kafka.connect.transforms.HoistField$Key\ntransforms.hoist.field=wrapped\n"
      "transforms.filter.type=org.apache.kafka.connect.transforms.Filter\ntransforms.filter.predicate=hasTrace\n"
      "transforms.filter.negate=true\n")
write("transforms_config", "headers", "transforms=h,v,set,tsr\n"
      "transforms.h.type=org.apache.kafka.connect.transforms.InsertHeader\ntransforms.h.header=h\ntransforms.h.value.literal=1\n"
      "transforms.v.type=org.apache.kafka.connect.transforms.ValueToKey\ntransforms.v.fields=id\n"
      "transforms.set.type=org.apache.kafka.connect.transforms.SetSchemaMetadata$Value\ntransforms.set.schema.name=x.Y\n"
      "transforms.tsr.type=org.apache.kafka.connect.transforms.TimestampRouter\n"
      "transforms.tsr.topic.format=${topic}-${timestamp}\ntransforms.tsr.timestamp.format=yyyyMMdd\n")

# ---- ClickHouse types
for i, t in enumerate(["Nullable(Decimal(18, 4))", "LowCardinality(Nullable(String))",
                       "Tuple(a String, b Array(Int32))", r"Enum16('it\'s' = -300, 'x,y' = 7)",
                       "Map(String, Array(DateTime64(3, 'UTC')))", "Tuple(`a b` String, `it\\`s` UInt8)",
                       "Nested(a String, b UInt8)", "SimpleAggregateFunction(max, UInt32)", "FixedString(16)"]):
    write("clickhouse_type", f"t{i}", t)

# ---- Parquet JSON lane: the lines of one input are the records of one file (the columns
# tests' records: keys appearing and disappearing, numbers widening, conflicts, nesting)
parquet_records = [
    '{"id": 1, "price": 10, "tags": ["a"], "user": {"name": "ann"}, "mixed": "text", "s": "\u00e9"}',
    '{"id": 2, "price": 10.5, "user": {"name": "bob", "age": 7}, "late": true, "mixed": {"k": [1, 2]}}',
    '{"id": 3, "tags": [], "mixed": 5, "always_null": null, "empty": {}, "s": null}',
    '{"id": 4, "mixed": "after the conflict", "flag": "yes", "z": -0, "big": 123456789012345678, "dup": "first", "dup": 2}',
    '{"id": 5, "flag": false, "s": "tab\\tand \\"quotes\\""}',
    '{"id": 6, "user": "flat now", "n": 1.5e3}',
    '{}',
    '[1, 2]',
    '"bare text"',
    '{"user_id":"user_7","event_type":"click","timestamp":"2025-09-18T10:00:00.123Z","session_id":"sess_0a","device":"ios"}',
]
write("parquet_rows_json", "file", "\n".join(parquet_records))
for i, r in enumerate(parquet_records):
    write("parquet_rows_json", f"r{i}", r)
