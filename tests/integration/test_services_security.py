"""The secure endpoints of the shared `kafka` and `clickhouse` services (services.sh), proved
with clients nobody here wrote, before Sluice's own TLS/SASL code is tested against them:

- the test TLS material in SLUICE_TEST_TLS_DIR (openssl): a CA, a server certificate for
  127.0.0.1/localhost signed by it, the key as unencrypted PKCS#8, a PKCS#12 copy (read back with
  `cryptography`);
- Kafka's SASL_SSL listener: confluent-kafka (librdkafka) produces and consumes over TLS with
  SCRAM-SHA-512 (and SCRAM-SHA-256), trusting only ca.pem; a wrong password is refused with an
  authentication error, and a client that does not trust the test CA fails its TLS handshake;
- ClickHouse's HTTPS port: `requests` with the CA and user sluice_tls creates, fills and reads a
  table; a wrong password and an unknown user are refused, and so is a client without the CA.

Like the other tests here it needs the services up and `services.sh env` evaluated (`make test`
does both); it starts and stops nothing, so it is not `disruptive`.
"""

from __future__ import annotations

import ipaddress
import time
from pathlib import Path

import pytest
import requests
from confluent_kafka import Consumer, KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs12

from sluice_harness import env, unique


@pytest.fixture(scope="module")
def tls_dir() -> Path:
    return Path(env("SLUICE_TEST_TLS_DIR"))


@pytest.fixture(scope="module")
def ca(tls_dir) -> str:
    return str(tls_dir / "ca.pem")


def kafka_sasl_ssl(ca: str | None, mechanism: str = "SCRAM-SHA-512", password: str | None = None, **extra) -> dict:
    """librdkafka settings for the broker's SASL_SSL listener (ca None: the system's CAs)."""
    conf = {
        "bootstrap.servers": env("SLUICE_KAFKA_SASL_SSL_BOOTSTRAP"),
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": mechanism,
        "sasl.username": env("SLUICE_KAFKA_SCRAM_USER"),
        "sasl.password": password if password is not None else env("SLUICE_KAFKA_SCRAM_PASSWORD"),
        "socket.timeout.ms": 5000,
        "log_level": 0,  # the failures below are expected: keep librdkafka's log off stderr
    }
    if ca is not None:
        conf["ssl.ca.location"] = ca
    conf.update(extra)
    return conf


def errors_of_failed_metadata_request(conf: dict) -> list[KafkaError]:
    """The errors a client reports when its metadata request fails (it must fail)."""
    errors: list[KafkaError] = []
    admin = AdminClient({**conf, "error_cb": errors.append})
    with pytest.raises(KafkaException):
        admin.list_topics(timeout=5)
    admin.poll(0)  # error_cb runs from poll: serve what was queued meanwhile
    return errors


# ---------------------------------------------------------------------------------------------
# the TLS material
# ---------------------------------------------------------------------------------------------


def test_tls_material_is_a_ca_and_a_server_certificate_for_loopback(tls_dir):
    ca_cert = x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())
    server = x509.load_pem_x509_certificate((tls_dir / "server.pem").read_bytes())
    server.verify_directly_issued_by(ca_cert)
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    # Kafka's PEM keystore reads only PKCS#8, and without ssl.key.password only unencrypted
    assert (tls_dir / "server.key").read_text().startswith("-----BEGIN PRIVATE KEY-----\n")
    keystore = (tls_dir / "server.keystore.pem").read_text()
    assert keystore.startswith("-----BEGIN PRIVATE KEY-----\n") and keystore.count("BEGIN CERTIFICATE") == 2


def test_tls_material_pkcs12_holds_the_server_key_and_certificate(tls_dir):
    p12 = (tls_dir / "server.p12").read_bytes()
    password = env("SLUICE_TEST_TLS_P12_PASSWORD").encode()
    key, cert, chain = pkcs12.load_key_and_certificates(p12, password)
    assert cert == x509.load_pem_x509_certificate((tls_dir / "server.pem").read_bytes())
    assert key.public_key() == cert.public_key()
    assert chain == [x509.load_pem_x509_certificate((tls_dir / "ca.pem").read_bytes())]
    with pytest.raises(ValueError):
        pkcs12.load_key_and_certificates(p12, b"not-the-password")


# ---------------------------------------------------------------------------------------------
# Kafka: SASL_SSL with SCRAM
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("mechanism", ["SCRAM-SHA-512", "SCRAM-SHA-256"])
def test_kafka_sasl_ssl_scram_produce_and_consume(ca, mechanism):
    topic = unique("sasl_ssl")
    sent = [(f"k{i}".encode(), f"value {i} over {mechanism}".encode()) for i in range(5)]
    delivered, failed = [], []

    def on_delivery(err, msg):
        (failed if err else delivered).append(err or (msg.key(), msg.value()))

    producer = Producer(kafka_sasl_ssl(ca, mechanism, acks="all"))
    for key, value in sent:
        producer.produce(topic, value, key, on_delivery=on_delivery)
    assert producer.flush(30) == 0, "records still in the producer's queue after 30 s"
    assert failed == [] and delivered == sent

    consumer = Consumer(kafka_sasl_ssl(ca, mechanism, **{"group.id": unique("sasl_ssl"), "auto.offset.reset": "earliest"}))
    consumer.subscribe([topic])
    received = []
    deadline = time.monotonic() + 30
    try:
        while len(received) < len(sent) and time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            received.append((msg.key(), msg.value()))
    finally:
        consumer.close()
    assert received == sent


def test_kafka_sasl_ssl_wrong_password_fails_authentication(ca):
    errors = errors_of_failed_metadata_request(kafka_sasl_ssl(ca, password="not-the-password"))
    auth = [e for e in errors if e.code() == KafkaError._AUTHENTICATION]
    assert auth, f"no authentication error among {errors}"
    assert "invalid credentials" in auth[0].str() and "SCRAM-SHA-512" in auth[0].str()


def test_kafka_sasl_ssl_needs_the_test_ca(ca):
    # the system's CAs do not include the test CA: the TLS handshake fails before any login
    errors = errors_of_failed_metadata_request(kafka_sasl_ssl(None))
    assert any(e.code() == KafkaError._SSL or "certificate verify failed" in e.str() for e in errors), errors
    assert not any(e.code() == KafkaError._AUTHENTICATION for e in errors), errors


# ---------------------------------------------------------------------------------------------
# ClickHouse: HTTPS
# ---------------------------------------------------------------------------------------------


def https(sql: str, verify, auth) -> requests.Response:
    url = f"https://127.0.0.1:{env('SLUICE_CLICKHOUSE_HTTPS_PORT')}/"
    return requests.post(url, data=sql.encode(), auth=auth, verify=verify, timeout=30)


@pytest.fixture(scope="module")
def ch_user() -> tuple[str, str]:
    return env("SLUICE_CLICKHOUSE_TLS_USER"), env("SLUICE_CLICKHOUSE_TLS_PASSWORD")


def test_clickhouse_https_user_with_password_writes_and_reads(ca, ch_user):
    def query(sql: str) -> str:
        r = https(sql, ca, ch_user)
        assert r.status_code == 200, f"{sql!r}: {r.status_code} {r.text}"
        return r.text

    assert query("SELECT 1") == "1\n"
    table = unique("tls")
    query(f"CREATE TABLE default.{table} (id UInt32, s String) ENGINE = MergeTree ORDER BY id")
    try:
        query(f"INSERT INTO default.{table} VALUES (1, 'one'), (2, 'two')")
        assert query(f"SELECT id, s FROM default.{table} ORDER BY id FORMAT TSV") == "1\tone\n2\ttwo\n"
    finally:
        query(f"DROP TABLE IF EXISTS default.{table}")


def test_clickhouse_https_refuses_a_wrong_password_and_an_unknown_user(ca, ch_user):
    r = https("SELECT 1", ca, (ch_user[0], "not-the-password"))
    assert r.status_code != 200 and "Wrong password for user sluice_tls" in r.text, (r.status_code, r.text)
    r = https("SELECT 1", ca, ("nobody", ch_user[1]))
    assert r.status_code != 200 and "Unknown user nobody" in r.text, (r.status_code, r.text)


def test_clickhouse_https_needs_the_test_ca(ch_user):
    with pytest.raises(requests.exceptions.SSLError, match="certificate verify failed"):
        https("SELECT 1", True, ch_user)  # the system's CAs only
