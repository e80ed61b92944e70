"""Producers that serialize with Confluent's own Python serializers against the real registry.

Nothing here encodes Avro, JSON Schema or Protobuf by hand: records are written exactly as a
Python service using `confluent-kafka` would write them, so Sluice is tested against the real
wire format and the schemas as the registry (Apicurio, Confluent API) hands them out.
"""

import json

from confluent_kafka import Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, timestamp_pb2


def registry(url: str) -> SchemaRegistryClient:
    # The client's HTTP calls have no timeout by default: one answer lost on a pooled connection
    # would hang the test for ever. With one, the call fails and the client retries it.
    return SchemaRegistryClient({"url": url, "timeout": 10})


def avro_serializer(url: str, schema: dict) -> AvroSerializer:
    return AvroSerializer(registry(url), json.dumps(schema), conf={"auto.register.schemas": True})


def json_serializer(url: str, schema: dict) -> JSONSerializer:
    return JSONSerializer(json.dumps(schema), registry(url), conf={"auto.register.schemas": True})


def protobuf_serializer(url: str, message_class) -> ProtobufSerializer:
    return ProtobufSerializer(message_class, registry(url), {"use.deprecated.format": False})


def produce(bootstrap: str, topic: str, values: list, serializer, key=lambda i, v: str(i)) -> None:
    """Serializes every value with `serializer` (Confluent's) and produces it; waits for acks."""
    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": 20, "acks": "all"})
    ctx = SerializationContext(topic, MessageField.VALUE)
    for i, value in enumerate(values):
        payload = value if isinstance(value, (bytes, bytearray)) else serializer(value, ctx)
        while True:
            try:
                producer.produce(topic, key=key(i, value).encode(), value=payload)
                break
            except BufferError:
                producer.poll(0.1)
        producer.poll(0)
    assert producer.flush(60) == 0, "not every record reached Kafka"


def protobuf_event_class():
    """`sluice.test.Reading`, built from a descriptor (no protoc needed), as a Python service
    would have it from generated code."""
    F = descriptor_pb2.FieldDescriptorProto
    fdp = descriptor_pb2.FileDescriptorProto(name="sluice/test/reading.proto", package="sluice.test", syntax="proto3")
    fdp.dependency.append("google/protobuf/timestamp.proto")
    kind = fdp.enum_type.add(name="Kind")
    for number, name in enumerate(["KIND_UNSPECIFIED", "TEMPERATURE", "HUMIDITY"]):
        kind.value.add(name=name, number=number)
    msg = fdp.message_type.add(name="Reading")
    fields = [
        ("id", 1, F.TYPE_INT64, None, F.LABEL_OPTIONAL),
        ("sensor", 2, F.TYPE_STRING, None, F.LABEL_OPTIONAL),
        ("value", 3, F.TYPE_DOUBLE, None, F.LABEL_OPTIONAL),
        ("ratio", 4, F.TYPE_FLOAT, None, F.LABEL_OPTIONAL),
        ("count", 5, F.TYPE_INT32, None, F.LABEL_OPTIONAL),
        ("total", 6, F.TYPE_UINT64, None, F.LABEL_OPTIONAL),
        ("ok", 7, F.TYPE_BOOL, None, F.LABEL_OPTIONAL),
        ("raw", 8, F.TYPE_BYTES, None, F.LABEL_OPTIONAL),
        ("kind", 9, F.TYPE_ENUM, ".sluice.test.Kind", F.LABEL_OPTIONAL),
        ("tags", 10, F.TYPE_STRING, None, F.LABEL_REPEATED),
        ("at", 11, F.TYPE_MESSAGE, ".google.protobuf.Timestamp", F.LABEL_OPTIONAL),
        ("delta", 12, F.TYPE_SINT32, None, F.LABEL_OPTIONAL),
    ]
    for name, number, ftype, type_name, label in fields:
        field = msg.field.add(name=name, number=number, type=ftype, label=label)
        if type_name:
            field.type_name = type_name
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    pool.Add(fdp)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("sluice.test.Reading"))
