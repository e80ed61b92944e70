"""Secrets as Kafka Connect keeps them: config providers (`${env:…}`, `${file:…}`,
`${directory:…}`) resolved only when a connector runs, password keys shown as `[hidden]`, a
GET-edit-PUT that keeps the stored password; plus JSON logs and the build's commit on `GET /`."""

import json
import re
import subprocess
import uuid

import pytest
import requests
from confluent_kafka import Consumer, TopicPartition

from sluice_harness import (REPO, Worker, clickhouse_connector, distributed_props, sample_events, unique, wait_for,
                            wait_for_rows)

PROVIDERS = {
    "config.providers": "env,file,directory",
    "config.providers.env.class": "org.apache.kafka.common.config.provider.EnvVarConfigProvider",
    "config.providers.file.class": "org.apache.kafka.common.config.provider.FileConfigProvider",
    "config.providers.directory.class": "org.apache.kafka.common.config.provider.DirectoryConfigProvider",
}
PASSWORD_ENV = "SLUICE_TEST_CLICKHOUSE_PASSWORD"


def provider_files(tmp_path, secret: str):
    """A `.properties` file with the ClickHouse database, and a directory holding one secret file."""
    props = tmp_path / "clickhouse.properties"
    props.write_text("database=default\n")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "audit-token").write_text(secret)
    return props, secrets


def connector_with_references(names, clickhouse, props, secrets) -> dict:
    """The ClickHouse connector with its password from the environment, its database from a
    file, and a secret the connector does not read (the test server's `default` user has an
    empty password, so a secret-looking value must travel in a key of its own)."""
    return clickhouse_connector(
        names["connector"], names["topic"], names["table"], clickhouse.url, coordinates=True,
        password=f"${{env:{PASSWORD_ENV}}}",
        database=f"${{file:{props}:database}}",
        **{"audit.token.password": f"${{directory:{secrets}:audit-token}}"},
    )


def config_topic_values(bootstrap: str, topic: str) -> list[str]:
    """Every value of the config topic, from the beginning, as text."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": unique("config-reader"),
                         "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    try:
        low, high = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=10)
        consumer.assign([TopicPartition(topic, 0, low)])
        values = []
        position = low
        while position < high:
            msg = consumer.poll(5)
            if msg is None:
                continue
            assert msg.error() is None, msg.error()
            values.append((msg.value() or b"").decode())
            position = msg.offset() + 1
        return values
    finally:
        consumer.close()


def test_references_resolve_end_to_end_and_the_secret_stays_out_of_rest_logs_and_kafka(tmp_path, kafka, clickhouse,
                                                                                         names, monkeypatch):
    secret = f"S3CRET-{uuid.uuid4().hex}"
    props, secrets = provider_files(tmp_path, secret)
    monkeypatch.setenv(PASSWORD_ENV, "")
    group = unique("sluice-secrets")
    worker = Worker(tmp_path / "worker", kafka.bootstrap, {**distributed_props(group), **PROVIDERS},
                    mode="distributed").start()
    try:
        wait_for("the worker in its group", lambda: worker.get("/sluice/cluster").json()["members"] == [worker.worker_id])
        kafka.create_topic(names["topic"], partitions=2)
        clickhouse.create_events_table(names["table"])
        body = connector_with_references(names, clickhouse, props, secrets)
        r = worker.post("/connectors", body)
        assert r.status_code == 201, r.text
        kafka.produce_json(names["topic"], sample_events(500))
        # Rows land only if `${file:…:database}` became `default` and `${env:…}` the empty password.
        wait_for_rows(clickhouse, names["table"], 500)
        wait_for("the task RUNNING", lambda: worker.task_states(names["connector"]) == ["RUNNING"])

        # Stored unresolved: the config topic holds the references, never what they resolve to.
        stored = config_topic_values(kafka.bootstrap, f"{group}-configs")
        assert any("${directory:" in v for v in stored), stored
        assert not any(secret in v for v in stored)
        config = worker.get(f"/connectors/{names['connector']}/config").json()
        assert config["audit.token.password"] == f"${{directory:{secrets}:audit-token}}", "references are shown as they are"
        answers = [worker.get(path).text for path in (f"/connectors/{names['connector']}",
                                                      f"/connectors/{names['connector']}/config",
                                                      f"/connectors/{names['connector']}/tasks",
                                                      "/connectors?expand=info")]
        assert all(secret not in a for a in answers)
        assert secret not in (tmp_path / "worker" / "sluice.log").read_text()
    finally:
        worker.stop()


def test_password_keys_are_hidden_and_a_get_edit_put_keeps_the_stored_password(worker, kafka, clickhouse, names):
    plain = f"PLAIN-{uuid.uuid4().hex}"
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.create_events_table(names["table"])
    body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, coordinates=True,
                                **{"ssl.key.password": plain})
    r = worker.post("/connectors", body)
    assert r.status_code == 201, r.text
    assert r.json()["config"]["password"] == "[hidden]" and r.json()["config"]["ssl.key.password"] == "[hidden]"
    for path in (f"/connectors/{names['connector']}", f"/connectors/{names['connector']}/config",
                 f"/connectors/{names['connector']}/tasks", "/connectors?expand=info"):
        text = worker.get(path).text
        assert plain not in text and "[hidden]" in text, path
    kafka.produce_json(names["topic"], sample_events(100))
    wait_for_rows(clickhouse, names["table"], 100)

    # GET, edit one key, PUT back: `[hidden]` keeps the stored (empty) ClickHouse password. Had
    # "[hidden]" been stored as the password, ClickHouse would refuse it (Wrong password).
    config = worker.get(f"/connectors/{names['connector']}/config").json()
    config["tableRefreshInterval"] = "30"
    r = worker.put(f"/connectors/{names['connector']}/config", config)
    assert r.status_code == 200, r.text
    assert r.json()["config"]["password"] == "[hidden]"
    r = requests.patch(f"{worker.url}/connectors/{names['connector']}/config", json={"ssl.key.password": "[hidden]"},
                       timeout=60)
    assert r.status_code == 200, r.text
    kafka.produce_json(names["topic"], sample_events(100, start=100))
    wait_for_rows(clickhouse, names["table"], 200)
    wait_for("the task RUNNING", lambda: worker.task_states(names["connector"]) == ["RUNNING"])
    log = worker.log_path.read_text()
    assert plain not in log and "[hidden]" in log, "the log lines that print the config hide the password"

    # `[hidden]` for a connector that has no stored value is refused, naming the key.
    other = clickhouse_connector(names["connector"] + "-2", names["topic"], names["table"], clickhouse.url,
                                 password="[hidden]")
    r = worker.post("/connectors", other)
    assert r.status_code == 400 and "password" in r.json()["message"], r.text


def test_an_unresolvable_reference_is_refused_and_fails_the_connector_when_it_starts(tmp_path, kafka, clickhouse, names):
    secret = f"S3CRET-{uuid.uuid4().hex}"
    props, secrets = provider_files(tmp_path, secret)
    worker = Worker(tmp_path / "worker", kafka.bootstrap, PROVIDERS).start()
    try:
        kafka.create_topic(names["topic"], partitions=1)
        missing = "${env:SLUICE_SURELY_UNSET_VARIABLE}"
        r = worker.post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"],
                                                            clickhouse.url, password=missing))
        assert r.status_code == 400, r.text
        assert "password" in r.json()["message"] and missing in r.json()["message"], r.text

        body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url,
                                    database=f"${{file:{props}:database}}",
                                    **{"audit.token.password": f"${{directory:{secrets}:audit-token}}"})
        assert worker.post("/connectors", body).status_code == 201
        worker.stop()
        (secrets / "audit-token").unlink()
        worker.start()
        status = wait_for("the connector FAILED", lambda: (s := worker.get(f"/connectors/{names['connector']}/status").json())
                          ["connector"]["state"] == "FAILED" and s)
        trace = status["connector"]["trace"]
        assert "audit.token.password" in trace and f"${{directory:{secrets}:audit-token}}" in trace, trace
        assert secret not in trace
    finally:
        worker.stop()


@pytest.mark.parametrize("mode", ["standalone", "distributed"])
def test_log_format_json_makes_every_line_json_and_levels_still_change(tmp_path, kafka, mode):
    extra = distributed_props(unique("sluice-json-logs")) if mode == "distributed" else {}
    worker = Worker(tmp_path, kafka.bootstrap, extra, mode=mode, args=["--log-format", "json"]).start()
    try:
        r = worker.put("/admin/loggers/sluice_worker", {"level": "DEBUG"})
        assert r.status_code == 200, r.text
        assert worker.get("/admin/loggers/sluice_worker").json()["level"] == "DEBUG"
        worker.post("/connectors", {"name": "nope", "config": {"connector.class": "Nope", "topics": "t"}})
    finally:
        worker.stop()
    lines = [line for line in worker.log_path.read_text().splitlines() if line.strip()]
    assert lines
    records = [json.loads(line) for line in lines]  # raises on any line that is not JSON
    messages = [r.get("fields", {}).get("message", "") for r in records]
    assert "Sluice worker started." in messages
    assert "Log level changed." in messages
    assert all({"timestamp", "level"} <= r.keys() for r in records)


def test_root_reports_the_commit_the_binary_was_built_from(worker):
    commit = worker.get("/").json()["commit"]
    assert re.fullmatch(r"[0-9a-f]{40}", commit), commit
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    if head:
        assert commit == head
