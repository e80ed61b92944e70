"""Kafka security passed to every client the worker makes, in the Java client's keys users
already have: a distributed worker that reaches Kafka only through a SASL_SSL listener with
SCRAM-SHA-512 (internal topics, group membership, task consumers, the dead letter queue's
producer and admin), writing to ClickHouse over HTTPS with a password; and the worker's
`connector.client.config.override.policy`.

The broker's SASL_SSL listener, its SCRAM user (made with Kafka's own kafka-configs) and the
test CA come from tests/services/services.sh."""

import json
from pathlib import Path

import pytest
from confluent_kafka import Producer

from sluice_harness import (Worker, clickhouse_connector, coordinates_transform, distributed_props, env, unique,
                            sample_events, wait_for, wait_for_rows)


def scram_settings(password: str | None = None) -> dict[str, str]:
    """The worker keys a Kafka Connect user writes for SASL_SSL with SCRAM-SHA-512."""
    user = env("SLUICE_KAFKA_SCRAM_USER")
    password = password or env("SLUICE_KAFKA_SCRAM_PASSWORD")
    return {
        "security.protocol": "SASL_SSL",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.jaas.config": f'org.apache.kafka.common.security.scram.ScramLoginModule required '
                            f'username="{user}" password="{password}";',
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(Path(env("SLUICE_TEST_TLS_DIR")) / "ca.pem"),
        # What a JVM config often carries; librdkafka has no such setting, so it is left out.
        "ssl.enabled.protocols": "TLSv1.2,TLSv1.3",
    }


def https_clickhouse(names, tasks=2, **extra) -> dict:
    """The ClickHouse connector over HTTPS, as the user with a password, trusting the test CA."""
    return clickhouse_connector(
        names["connector"], names["topic"], names["table"], env("SLUICE_CLICKHOUSE_HTTPS_URL"), tasks=tasks,
        ssl="true", username=env("SLUICE_CLICKHOUSE_TLS_USER"), password=env("SLUICE_CLICKHOUSE_TLS_PASSWORD"),
        **{"ssl.truststore.location": str(Path(env("SLUICE_TEST_TLS_DIR")) / "ca.pem")}, **extra)


def test_every_client_goes_through_sasl_ssl_and_clickhouse_through_https(tmp_path, kafka, clickhouse, names):
    group = unique("sluice-sasl")
    props = {**distributed_props(group), **scram_settings()}
    worker = Worker(tmp_path / "worker", env("SLUICE_KAFKA_SASL_SSL_BOOTSTRAP"), props, mode="distributed")
    worker.start()
    try:
        wait_for("the worker in its group", lambda: worker.get("/sluice/cluster").json()["members"] == [worker.worker_id])
        # The cluster id on GET / comes from a metadata request over the secured listener.
        assert worker.get("/").json()["kafka_cluster_id"]

        kafka.create_topic(names["topic"], partitions=2)
        clickhouse.create_events_table(names["table"])
        dlq = f"dlq-{names['topic']}"
        body = https_clickhouse(names, **coordinates_transform(), **{
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
        })
        r = worker.post("/connectors", body)
        assert r.status_code == 201, r.text

        good = sample_events(2000)
        kafka.produce_json(names["topic"], good)
        producer = Producer({"bootstrap.servers": kafka.bootstrap})
        for i in range(7):
            producer.produce(names["topic"], key=f"bad-{i}".encode(), value=b"{not json", partition=i % 2)
        assert producer.flush(30) == 0

        wait_for_rows(clickhouse, names["table"], len(good))
        wait_for("the dead letters", lambda: sum(kafka.end_offsets(dlq).values()) == 7 if dlq in
                 kafka.admin.list_topics(timeout=5).topics else False)
        rows = clickhouse.coordinates(names["table"])
        assert sum(rows.values()) == len(good) and max(rows.values()) == 1
        wait_for("both tasks RUNNING", lambda: worker.task_states(names["connector"]) == ["RUNNING", "RUNNING"])
        # Offsets were committed through the secured listener too.
        committed = kafka.wait_committed_to_end(names["connector"], names["topic"])
        assert committed == kafka.end_offsets(names["topic"])

        log = worker.log_path.read_text(errors="replace")
        for secret in (env("SLUICE_KAFKA_SCRAM_PASSWORD"), env("SLUICE_CLICKHOUSE_TLS_PASSWORD")):
            assert secret not in log
        shown = json.dumps(worker.get(f"/connectors/{names['connector']}/config").json())
        assert env("SLUICE_CLICKHOUSE_TLS_PASSWORD") not in shown and '"password": "[hidden]"' in shown
    finally:
        worker.stop()


def test_a_wrong_scram_password_keeps_the_worker_out_and_says_why(tmp_path):
    wrong = "not-the-scram-secret"
    worker = Worker(tmp_path / "worker", env("SLUICE_KAFKA_SASL_SSL_BOOTSTRAP"),
                    {**distributed_props(unique("sluice-sasl-bad")), **scram_settings(password=wrong)},
                    mode="distributed").start(wait=False)
    try:
        wait_for("an authentication error in the log", lambda: "Authentication failed" in worker.log(), timeout=60)
        assert wrong not in worker.log()
    finally:
        worker.stop()


def test_clickhouse_over_https_with_an_untrusted_certificate_fails_the_task_naming_the_key(worker, kafka, clickhouse,
                                                                                          names):
    kafka.create_topic(names["topic"], partitions=1)
    clickhouse.create_events_table(names["table"])
    body = https_clickhouse(names, tasks=1)
    del body["config"]["ssl.truststore.location"]
    assert worker.post("/connectors", body).status_code == 201
    kafka.produce_json(names["topic"], sample_events(10))
    status = wait_for("the task FAILED", lambda: (s := worker.get(f"/connectors/{names['connector']}/status").json())
                      ["tasks"] and s["tasks"][0]["state"] == "FAILED" and s)
    assert "ssl.truststore.location" in status["tasks"][0]["trace"]


@pytest.mark.parametrize("policy, allowed, refused", [
    ("Principal", ["consumer.override.sasl.jaas.config", "producer.override.security.protocol"],
     ["consumer.override.fetch.max.bytes"]),
    ("None", [], ["consumer.override.security.protocol", "admin.override.request.timeout.ms"]),
    ("org.apache.kafka.connect.connector.policy.AllConnectorClientConfigOverridePolicy",
     ["consumer.override.fetch.max.bytes"], []),
])
def test_the_override_policy_decides_which_client_keys_a_connector_may_set(tmp_path, kafka, clickhouse, names, policy,
                                                                          allowed, refused):
    worker = Worker(tmp_path / "worker", kafka.bootstrap, {"connector.client.config.override.policy": policy}).start()
    values = {"sasl.jaas.config": "org.apache.kafka.common.security.plain.PlainLoginModule required "
                                  'username="u" password="p";',
              "security.protocol": "PLAINTEXT", "fetch.max.bytes": "1048576", "request.timeout.ms": "20000"}
    try:
        for key in allowed + refused:
            body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url)
            body["config"][key] = values[key.split(".override.", 1)[1]]
            check = worker.put(f"/connector-plugins/{body['config']['connector.class']}/config/validate",
                               {**body["config"], "name": names["connector"]})
            assert check.status_code == 200
            errors = {c["value"]["name"]: c["value"]["errors"] for c in check.json()["configs"] if c["value"]["errors"]}
            r = worker.post("/connectors", body)
            if key in refused:
                assert r.status_code == 400, r.text
                assert f"does not allow '{key.split('.override.', 1)[1]}'" in r.json()["message"]
                assert key in errors, errors
            else:
                assert r.status_code == 201, r.text
                assert key not in errors
                assert worker.delete(f"/connectors/{names['connector']}").status_code == 204
    finally:
        worker.stop()
