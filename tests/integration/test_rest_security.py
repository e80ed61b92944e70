"""The REST API secured as Kafka Connect secures it: an https listener from
`listeners.https.ssl.*` (PEM or PKCS12), HTTP basic auth through `BasicAuthSecurityRestExtension`
with its JAAS login file and credentials file, and `listeners` in every form Kafka's own
samples use (upper-case schemes, an empty host, several listeners)."""

import subprocess

import pytest
import requests

from sluice_harness import (Worker, assert_exactly_once, clickhouse_connector, coordinates_transform, free_port,
                            sample_events, wait_for, wait_for_rows)

USER, PASSWORD = "operator", "rest-s3cret"
UNAUTHORIZED = {"error_code": 401, "message": "User cannot access the resource."}


@pytest.fixture(scope="module")
def server_cert(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 made by the openssl command: (key+chain PEM, cert)."""
    d = tmp_path_factory.mktemp("rest-tls")
    key, cert = d / "server.key", d / "server.crt"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True)
    keystore = d / "keystore.pem"  # Kafka's PEM keystore: the private key and its certificate chain in one file.
    keystore.write_text(key.read_text() + cert.read_text())
    p12 = d / "keystore.p12"
    subprocess.run(["openssl", "pkcs12", "-export", "-inkey", str(key), "-in", str(cert), "-out", str(p12),
                    "-passout", "pass:p12-pass"], check=True, capture_output=True)
    return {"keystore": keystore, "cert": cert, "p12": p12}


def basic_auth_files(tmp_path):
    """Kafka Connect's two files: the JAAS login file naming the credentials file."""
    credentials = tmp_path / "credentials.properties"
    credentials.write_text(f"{USER}={PASSWORD}\nother=x\n")
    jaas = tmp_path / "connect_jaas.conf"
    jaas.write_text(
        "KafkaConnect {\n"
        "  org.apache.kafka.connect.rest.basic.auth.extension.PropertyFileLoginModule required\n"
        f'  file="{credentials}";\n'
        "};\n")
    return jaas


def tls_auth_worker(tmp_path, kafka, server_cert, **extra) -> Worker:
    jaas = basic_auth_files(tmp_path)
    props = {
        "listeners.https.ssl.keystore.type": "PEM",
        "listeners.https.ssl.keystore.location": str(server_cert["keystore"]),
        "rest.extension.classes": "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension",
        "sluice.rest.basic.auth.login.config": str(jaas),
        **extra,
    }
    w = Worker(tmp_path / "worker", kafka.bootstrap, props, scheme="https")
    w.session.verify = str(server_cert["cert"])
    w.session.auth = (USER, PASSWORD)
    return w


def test_tls_and_basic_auth_guard_the_api_and_the_pipeline_runs_through_them(tmp_path, kafka, clickhouse, names,
                                                                               server_cert):
    w = tls_auth_worker(tmp_path, kafka, server_cert).start()
    try:
        anonymous = requests.get(w.url + "/connectors", verify=w.session.verify, timeout=10)
        assert anonymous.status_code == 401
        assert anonymous.json() == UNAUTHORIZED
        wrong = requests.get(w.url + "/", verify=w.session.verify, auth=(USER, PASSWORD + "x"), timeout=10)
        assert wrong.status_code == 401 and wrong.json() == UNAUTHORIZED
        denied = requests.post(w.url + "/connectors", json={"name": "x", "config": {}}, verify=w.session.verify,
                               auth=("nobody", PASSWORD), timeout=10)
        assert denied.status_code == 401
        # Health stays open for probes, and tells nothing secret.
        assert requests.get(w.url + "/health", verify=w.session.verify, timeout=10).status_code == 200

        # Plain HTTP to the TLS port fails at once, and the listener keeps serving TLS.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{w.port}/", timeout=10)
        # A client that does not trust the certificate refuses it.
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(w.url + "/", auth=(USER, PASSWORD), timeout=10)
        assert w.get("/").status_code == 200

        # With credentials, the whole pipeline: create, run, exact rows, status.
        kafka.create_topic(names["topic"], partitions=2)
        clickhouse.create_events_table(names["table"])
        body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, tasks=2,
                                    coordinates=True)
        r = w.post("/connectors", body)
        assert r.status_code == 201, r.text
        kafka.produce_json(names["topic"], sample_events(3000))
        wait_for_rows(clickhouse, names["table"], 3000)
        assert_exactly_once(clickhouse, names["table"], kafka.end_offsets(names["topic"]))
        wait_for("both tasks RUNNING", lambda: w.task_states(names["connector"]) == ["RUNNING", "RUNNING"])
        assert w.put(f"/connectors/{names['connector']}/pause").status_code == 202
        wait_for("PAUSED", lambda: w.get(f"/connectors/{names['connector']}/status").json()["connector"]["state"]
                 == "PAUSED")
        assert w.delete(f"/connectors/{names['connector']}").status_code == 204
    finally:
        w.stop()


def test_pkcs12_keystore_and_several_listeners_in_kafkas_forms(tmp_path, kafka, server_cert):
    http_port = free_port()
    w = Worker(tmp_path / "worker", kafka.bootstrap, {
        "listeners.https.ssl.keystore.type": "PKCS12",
        "listeners.https.ssl.keystore.location": str(server_cert["p12"]),
        "listeners.https.ssl.keystore.password": "p12-pass",
        "rest.advertised.listener": "https",
    }, scheme="https")
    # Kafka's own sample form (upper-case scheme, empty host) next to the https listener.
    w.config.write_text(w.config.read_text().replace(
        f"listeners=https://127.0.0.1:{w.port}", f"listeners=HTTPS://127.0.0.1:{w.port}, HTTP://:{http_port}"))
    w.session.verify = str(server_cert["cert"])
    w.start()
    try:
        assert w.get("/").status_code == 200
        plain = requests.get(f"http://127.0.0.1:{http_port}/connectors", timeout=10)
        assert plain.status_code == 200 and plain.json() == []
        # The advertised listener is the https one: the worker id names its port.
        r = w.post("/connectors", {"name": "file-out", "config": {
            "connector.class": "FileStreamSink", "topics": "rest-security-unused", "file": str(tmp_path / "out.txt")}})
        assert r.status_code == 201, r.text
        wait_for("the connector's status", lambda: w.get("/connectors/file-out/status").status_code == 200)
        assert w.get("/connectors/file-out/status").json()["connector"]["worker_id"] == f"127.0.0.1:{w.port}"
    finally:
        w.stop()


@pytest.mark.parametrize("props, key", [
    ({"listeners": "https://127.0.0.1:{port}"}, "listeners.https.ssl.keystore.location"),
    ({"listeners": "tcp://127.0.0.1:{port}"}, "listeners"),
    ({"rest.extension.classes": "org.apache.kafka.connect.rest.basic.auth.extension.BasicAuthSecurityRestExtension"},
     "sluice.rest.basic.auth.login.config"),
])
def test_a_bad_rest_setting_stops_the_worker_naming_the_key(tmp_path, kafka, props, key):
    w = Worker(tmp_path / "worker", kafka.bootstrap)
    text = w.config.read_text()
    for k, v in props.items():
        v = v.format(port=w.port)
        text = text.replace(f"{k}=http://127.0.0.1:{w.port}\n", "") + f"{k}={v}\n"
    w.config.write_text(text)
    proc = subprocess.run([str(w.binary), "standalone", str(w.config)], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin"})
    assert proc.returncode != 0
    assert key in proc.stderr + proc.stdout, proc.stderr


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_a_port_in_use_stops_the_worker_before_it_touches_kafka(tmp_path, mode):
    """The listeners are bound first: a taken port ends the worker at once, naming the listener,
    before it asks Kafka anything (the bootstrap here answers nobody; asking would take 10 s)
    or joins a group or starts a task."""
    import socket
    import time

    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    try:
        w = Worker(tmp_path / "worker", "127.0.0.1:1", {"group.id": "port-taken", "config.storage.topic": "c",
                                                        "offset.storage.topic": "o", "status.storage.topic": "s"})
        w.config.write_text(w.config.read_text().replace(f"127.0.0.1:{w.port}", f"127.0.0.1:{port}"))
        started = time.monotonic()
        proc = subprocess.run([str(w.binary), mode, str(w.config)], capture_output=True, text=True, timeout=60)
        assert proc.returncode != 0
        assert f"cannot listen on http://127.0.0.1:{port}" in proc.stderr, proc.stderr
        assert time.monotonic() - started < 5, "the worker asked Kafka before binding its port"
    finally:
        taken.close()
