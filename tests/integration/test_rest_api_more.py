"""The rest of Kafka Connect's REST API: config PATCH, stop, pause/resume, restarts, task
status, sink offsets, active topics, plugin config and validation, log levels, health.

Each test drives the real `sluice` binary against real Kafka and ClickHouse and checks what a
user of the API would: status codes, bodies (every answer is checked against
worker/openapi.yaml), Kafka Connect's messages, and the effect on the data (rows in ClickHouse,
committed offsets in Kafka).
"""

# Every test taking `worker` runs in standalone and in distributed mode.
BOTH_MODES = True


import pytest

from openapi_check import CheckedWorker
from sluice_harness import Worker, clickhouse_connector, distributed_workers, sample_events, unique, wait_for

ERROR_KEYS = {"error_code", "message"}
TASK_STATE_KEYS = {"id", "state", "worker_id"}


@pytest.fixture
def worker(worker):
    """Every answer of the worker is checked against worker/openapi.yaml."""
    return CheckedWorker(worker)


def assert_error(r, code: int, *fragments: str):
    assert r.status_code == code, f"{r.request.method} {r.request.path_url} answered {r.status_code}, not {code}: {r.text!r}"
    body = r.json()
    assert set(body) == ERROR_KEYS, body
    assert body["error_code"] == code
    for fragment in fragments:
        assert fragment in body["message"], body["message"]


def status(worker, name: str) -> dict:
    r = worker.get(f"/connectors/{name}/status")
    assert r.status_code == 200, r.text
    return r.json()


def states(worker, name: str) -> tuple[str, list[str]]:
    """(connector state, task states) as GET /connectors/{name}/status shows them."""
    s = status(worker, name)
    return s["connector"]["state"], [t["state"] for t in s["tasks"]]


def wait_for_states(worker, name: str, connector: str, tasks: list[str], seen_from: str = "") -> None:
    """Waits until the status of `name` shows the connector and its tasks in these states;
    a timeout names the states last seen."""
    seen = []

    def reached():
        seen.append(states(worker, name))
        return seen[-1] == (connector, tasks)

    try:
        wait_for(f"{name}{seen_from}: connector {connector}, tasks {tasks}", reached)
    except AssertionError as e:
        raise AssertionError(f"{e}; last status: connector {seen[-1][0]}, tasks {seen[-1][1]}") from None


def count(clickhouse, table: str) -> int:
    return clickhouse.scalar(f"SELECT count() FROM {table}")


def create_plain_table(clickhouse, table: str) -> None:
    """Like the sample table, but a plain MergeTree: re-delivered rows stay countable."""
    clickhouse.query(
        f"CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, "
        "session_id String, device String) ENGINE = MergeTree() PARTITION BY toYYYYMMDD(timestamp) "
        "ORDER BY (timestamp, user_id)"
    )


def committed(worker, name: str) -> dict[int, int]:
    r = worker.get(f"/connectors/{name}/offsets")
    assert r.status_code == 200, r.text
    return {o["partition"]["kafka_partition"]: o["offset"]["kafka_offset"] for o in r.json()["offsets"]}


def wait_committed(worker, name: str, total: int) -> dict[int, int]:
    """Waits until group `connect-<name>` has committed `total` records in all."""
    return wait_for(f"{name} to commit {total} records", lambda: (c := committed(worker, name)) and sum(c.values()) == total and c)


def test_health_answers_like_kafka_connect(worker):
    r = worker.get("/health")
    assert r.status_code == 200
    assert r.json() == {"status": "healthy", "message": "Worker has completed startup and is ready to handle requests."}
    assert_error(worker.delete("/health"), 405, "HTTP 405 Method Not Allowed")
    assert_error(worker.post("/connectors/x/config", {}), 405)


def test_log_levels_change_at_runtime(worker):
    levels = worker.get("/admin/loggers").json()
    assert levels["root"] == {"level": "INFO", "last_modified": None}
    assert all(set(v) == {"level", "last_modified"} for v in levels.values()), levels

    r = worker.put("/admin/loggers/sluice_worker", {"level": "debug"})
    assert r.status_code == 200, r.text
    affected = r.json()
    assert "sluice_worker" in affected and affected == sorted(affected), affected
    level = worker.get("/admin/loggers/sluice_worker").json()
    assert level["level"] == "DEBUG" and isinstance(level["last_modified"], int), level
    assert worker.get("/admin/loggers").json()["sluice_worker"]["level"] == "DEBUG"
    assert worker.log().count("Log level changed.") == 1

    # The change is real: with the logging module at ERROR, its own INFO line is not written.
    assert worker.put("/admin/loggers/sluice_worker::logging", {"level": "ERROR"}).status_code == 200
    assert worker.log().count("Log level changed.") == 1
    # root sets every known logger, this one included, so its INFO line is back.
    r = worker.put("/admin/loggers/root", {"level": "INFO"})
    assert r.status_code == 200 and "root" in r.json() and "sluice_worker::logging" in r.json(), r.text
    wait_for("the INFO line of the root change", lambda: worker.log().count("Log level changed.") == 2, timeout=5)

    assert worker.put("/admin/loggers/librdkafka?scope=cluster", {"level": "WARN"}).status_code == 204
    assert_error(worker.get("/admin/loggers/no.such.logger"), 404, "Logger no.such.logger not found.")
    assert_error(worker.put("/admin/loggers/root", {"level": "LOUD"}), 404, "invalid log level 'LOUD'.")
    assert_error(worker.put("/admin/loggers/root", {}), 400, "Desired 'level' parameter was not specified in request.")


def test_patch_merges_config_and_null_removes_a_key(worker, clickhouse, names):
    name = names["connector"]
    body = clickhouse_connector(name, names["topic"], names["table"], clickhouse.url)
    assert worker.post("/connectors", body).status_code == 201

    r = worker.patch(f"/connectors/{name}/config", {"tasks.max": 2, "ssl": None, "clickhouseSettings": "async_insert=0"})
    assert r.status_code == 200, r.text
    info = r.json()
    assert set(info) == {"name", "config", "tasks", "type"}
    assert info["config"]["tasks.max"] == "2"
    assert "ssl" not in info["config"], "a null value removes the key"
    assert info["config"]["clickhouseSettings"] == "async_insert=0"
    assert info["config"]["hostname"] == body["config"]["hostname"], "keys not in the patch are kept"
    assert info["tasks"] == [{"connector": name, "task": 0}, {"connector": name, "task": 1}]
    assert worker.get(f"/connectors/{name}/config").json() == info["config"]

    assert_error(worker.patch(f"/connectors/{name}/config", {"tasks.max": "many"}), 400, "tasks.max")
    assert_error(worker.patch(f"/connectors/{name}/config", {"hostname": None}), 400, "hostname")
    assert worker.get(f"/connectors/{name}/config").json() == info["config"], "a rejected patch changes nothing"
    assert_error(worker.patch(f"/connectors/{name}/config", {"name": "other"}), 400, "doesn't match")
    assert_error(worker.patch("/connectors/no-such/config", {"tasks.max": "1"}), 404, "Connector no-such not found")


@pytest.fixture(params=["standalone", "distributed"])
def restartable_workers(request, tmp_path, kafka):
    """Workers that a test may stop and start again: one standalone worker, or a cluster of two
    distributed workers (restarted, they keep their group and internal topics). Every answer
    is checked against worker/openapi.yaml."""
    if request.param == "standalone":
        workers = [Worker(tmp_path, kafka.bootstrap)]
    else:
        workers = distributed_workers(tmp_path, kafka.bootstrap, 2, unique("sluice-stop"))
    workers = [CheckedWorker(w) for w in workers]
    start_all(workers)
    yield workers
    for w in workers:
        w.stop()


def start_all(workers: list) -> None:
    for w in workers:
        w.start()
    if workers[0].mode == "distributed":
        ids = sorted(w.worker_id for w in workers)
        wait_for(f"every worker in the group {ids}", lambda: all(w.get("/sluice/cluster").json()["members"] == ids for w in workers))


def assert_stopped(worker, name: str, config: dict) -> None:
    """What a user sees of a STOPPED connector: its status (once the worker owning it has
    reported) says STOPPED with no tasks, it has no tasks, and its config is the one given."""
    wait_for_states(worker, name, "STOPPED", [], seen_from=f" seen from {worker.worker_id}")
    info = worker.get(f"/connectors/{name}").json()
    # As the REST API shows it: password keys are `[hidden]`.
    shown = {**config, "name": name, **({"password": "[hidden]"} if "password" in config else {})}
    assert info["config"] == shown, f"the config is kept: {info}"
    assert info["tasks"] == [], f"GET /connectors/{name} on {worker.worker_id} lists tasks of a STOPPED connector: {info}"
    tasks = worker.get(f"/connectors/{name}/tasks").json()
    assert tasks == [], f"GET /connectors/{name}/tasks on {worker.worker_id} lists tasks of a STOPPED connector: {tasks}"


def test_stop_removes_tasks_keeps_config_and_survives_a_restart(restartable_workers, kafka, clickhouse, names):
    workers, worker = restartable_workers, restartable_workers[0]
    name, stopped_at_birth, twin = names["connector"], names["connector"] + "-born-stopped", names["connector"] + "-twin"
    topic, table, twin_table = names["topic"], names["table"], names["table"] + "_twin"
    kafka.create_topic(topic, partitions=1)
    create_plain_table(clickhouse, table)
    create_plain_table(clickhouse, twin_table)
    kafka.produce_json(topic, sample_events(20))
    body = clickhouse_connector(name, topic, table, clickhouse.url)
    # The twin reads the same topic and is never stopped: once it has delivered and committed
    # what was produced, the stopped connector would have too, had it been running.
    assert worker.post("/connectors", clickhouse_connector(twin, topic, twin_table, clickhouse.url)).status_code == 201

    assert worker.post("/connectors", body).status_code == 201
    wait_for("20 rows", lambda: count(clickhouse, table) == 20)
    r = worker.put(f"/connectors/{name}/stop")
    assert r.status_code == 204 and r.text == "", r.text
    for w in workers:
        assert_stopped(w, name, body["config"])
    assert committed(worker, name) == {0: 20}, "the stopped task committed what it had delivered"
    assert worker.put(f"/connectors/{name}/stop").status_code == 204, "stopping twice is fine"
    assert_error(worker.put("/connectors/no-such/stop"), 404, "Connector no-such not found")

    born = {**clickhouse_connector(stopped_at_birth, topic, table, clickhouse.url), "initial_state": "STOPPED"}
    r = worker.post("/connectors", born)
    assert r.status_code == 201, r.text
    assert r.json()["tasks"] == [], f"a connector created STOPPED has no tasks: {r.text}"
    assert_stopped(worker, stopped_at_birth, born["config"])
    wait_committed(worker, twin, 20)

    # Every worker goes down; records produced meanwhile wait in Kafka.
    for w in workers:
        w.stop()
    kafka.produce_json(topic, sample_events(10, start=20))
    start_all(workers)

    wait_for("the twin to deliver and commit the 10 new records", lambda: count(clickhouse, twin_table) == 30 and committed(worker, twin) == {0: 30})
    for w in workers:
        assert_stopped(w, name, body["config"])
        assert_stopped(w, stopped_at_birth, born["config"])
    assert count(clickhouse, table) == 20, "a stopped connector delivers nothing after the restart"
    assert committed(worker, name) == {0: 20}
    assert committed(worker, stopped_at_birth) == {}, "a connector created STOPPED never ran"
    assert worker.get(f"/connectors/{name}/topics").json() == {name: {"topics": [topic]}}, "active topics are kept"

    assert worker.put(f"/connectors/{name}/resume").status_code == 202
    for w in workers:
        wait_for_states(w, name, "RUNNING", ["RUNNING"], seen_from=f" seen from {w.worker_id}")
    wait_for("the 10 rows produced while stopped", lambda: count(clickhouse, table) == 30)
    # A connector created STOPPED starts from the beginning of the topic when resumed.
    assert worker.put(f"/connectors/{stopped_at_birth}/resume").status_code == 202
    wait_for_states(worker, stopped_at_birth, "RUNNING", ["RUNNING"])
    wait_for("its first run: all 30 records", lambda: count(clickhouse, table) == 60)


def test_pause_holds_records_and_resume_delivers_them(worker, kafka, clickhouse, names):
    name, twin, topic, table = names["connector"], names["connector"] + "-twin", names["topic"], names["table"]
    twin_table = table + "_twin"
    kafka.create_topic(topic, partitions=2)
    create_plain_table(clickhouse, table)
    create_plain_table(clickhouse, twin_table)
    # The twin reads the same topic and is never paused: once it has delivered and committed
    # the records produced during the pause, the paused connector would have too, had it run.
    assert worker.post("/connectors", clickhouse_connector(twin, topic, twin_table, clickhouse.url, tasks=2)).status_code == 201
    assert worker.post("/connectors", clickhouse_connector(name, topic, table, clickhouse.url, tasks=2)).status_code == 201
    kafka.produce_json(topic, sample_events(20))
    wait_for("20 rows", lambda: count(clickhouse, table) == 20)
    before = wait_committed(worker, name, 20)

    r = worker.put(f"/connectors/{name}/pause")
    assert r.status_code == 202 and r.text == "", r.text
    wait_for_states(worker, name, "PAUSED", ["PAUSED", "PAUSED"])
    for task in (0, 1):
        assert worker.get(f"/connectors/{name}/tasks/{task}/status").json()["state"] == "PAUSED"

    kafka.produce_json(topic, sample_events(20, start=20))
    wait_for("the twin to deliver the 20 new records", lambda: count(clickhouse, twin_table) == 40)
    wait_committed(worker, twin, 40)
    assert count(clickhouse, table) == 20, "a paused connector delivers nothing"
    assert committed(worker, name) == before, "a paused connector commits nothing new"
    assert states(worker, name) == ("PAUSED", ["PAUSED", "PAUSED"]), "it stays PAUSED"

    r = worker.put(f"/connectors/{name}/resume")
    assert r.status_code == 202 and r.text == "", r.text
    wait_for_states(worker, name, "RUNNING", ["RUNNING", "RUNNING"])
    wait_for("the 20 records produced during the pause", lambda: count(clickhouse, table) == 40)
    wait_committed(worker, name, 40)


def failed_for_a_missing_table(worker, kafka, clickhouse, names) -> dict:
    """Creates a connector whose only task FAILED for a real reason: the table it writes to does
    not exist. 10 records wait in its topic. Returns the task's status."""
    name, table = names["connector"], names["table"]
    kafka.create_topic(names["topic"], partitions=1)
    kafka.produce_json(names["topic"], sample_events(10))
    assert worker.post("/connectors", clickhouse_connector(name, names["topic"], table, clickhouse.url)).status_code == 201
    wait_for_states(worker, name, "RUNNING", ["FAILED"])
    task = worker.get(f"/connectors/{name}/tasks/0/status").json()
    assert table in task["trace"], task
    return task


def test_task_restart_runs_a_failed_task_again(worker, kafka, clickhouse, names):
    name, table = names["connector"], names["table"]
    task = failed_for_a_missing_table(worker, kafka, clickhouse, names)
    assert set(task) == TASK_STATE_KEYS | {"trace"} and task["id"] == 0 and task["state"] == "FAILED", task
    assert task["worker_id"] == worker.worker_id
    assert_error(worker.get(f"/connectors/{name}/tasks/9/status"), 404, f"No status found for task {name}-9")
    assert_error(worker.get(f"/connectors/{name}/tasks/x/status"), 404)

    create_plain_table(clickhouse, table)
    r = worker.post(f"/connectors/{name}/tasks/0/restart", None)
    assert r.status_code == 204 and r.text == "", r.text
    wait_for_states(worker, name, "RUNNING", ["RUNNING"])
    wait_for("the 10 rows", lambda: count(clickhouse, table) == 10)
    wait_committed(worker, name, 10)
    task = worker.get(f"/connectors/{name}/tasks/0/status").json()
    assert set(task) == TASK_STATE_KEYS and task["state"] == "RUNNING", "a running task has no trace"

    assert_error(worker.post(f"/connectors/{name}/tasks/9/restart", None), 404, f"Task {name}-9 not found")
    assert_error(worker.post("/connectors/no-such/tasks/0/restart", None), 404, "Connector no-such not found")


def test_restart_only_failed_restarts_the_failed_task(worker, kafka, clickhouse, names):
    name, table = names["connector"], names["table"]
    failed_for_a_missing_table(worker, kafka, clickhouse, names)
    create_plain_table(clickhouse, table)

    # Without includeTasks only the connector instance is a candidate, and it has not failed.
    r = worker.post(f"/connectors/{name}/restart?onlyFailed=true", None)
    assert r.status_code == 202, r.text
    assert r.json()["connector"]["state"] == "RUNNING" and [t["state"] for t in r.json()["tasks"]] == ["FAILED"], r.text

    r = worker.post(f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true", None)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["name"] == name and answer["type"] == "sink"
    assert answer["connector"]["state"] == "RUNNING", "onlyFailed leaves the healthy connector alone"
    assert [t["state"] for t in answer["tasks"]] == ["RESTARTING"], answer
    wait_for_states(worker, name, "RUNNING", ["RUNNING"])
    wait_for("the 10 rows", lambda: count(clickhouse, table) == 10)

    # Nothing has failed now: nothing is restarted, and the answer says so.
    r = worker.post(f"/connectors/{name}/restart?includeTasks=true&onlyFailed=true", None)
    assert r.status_code == 202, r.text
    assert r.json()["connector"]["state"] == "RUNNING" and [t["state"] for t in r.json()["tasks"]] == ["RUNNING"], r.text
    assert_error(worker.post("/connectors/no-such/restart?includeTasks=true", None), 404, "Connector no-such not found")


def test_restart_with_tasks_restarts_connector_and_every_task(worker, kafka, clickhouse, names):
    name, table = names["connector"], names["table"]
    failed_for_a_missing_table(worker, kafka, clickhouse, names)
    create_plain_table(clickhouse, table)

    r = worker.post(f"/connectors/{name}/restart?includeTasks=true", None)
    assert r.status_code == 202, r.text
    answer = r.json()
    assert answer["connector"]["state"] == "RESTARTING" and [t["state"] for t in answer["tasks"]] == ["RESTARTING"], answer
    wait_for_states(worker, name, "RUNNING", ["RUNNING"])
    wait_for("the 10 rows", lambda: count(clickhouse, table) == 10)


def test_plain_restart_restarts_only_the_connector(worker, kafka, clickhouse, names):
    """Without flags, as in Kafka Connect, only the connector instance restarts: a failed task
    stays FAILED. (A Sluice connector instance holds no state, so for a healthy connector
    nothing else is visible.)"""
    name, table = names["connector"], names["table"]
    failed_for_a_missing_table(worker, kafka, clickhouse, names)
    create_plain_table(clickhouse, table)

    r = worker.post(f"/connectors/{name}/restart", None)
    assert r.status_code == 204 and r.text == "", r.text
    assert states(worker, name) == ("RUNNING", ["FAILED"]), "tasks are not restarted without includeTasks"
    assert_error(worker.post("/connectors/no-such/restart", None), 404, "Connector no-such not found")


def test_sink_offsets_read_alter_and_reset(worker, kafka, clickhouse, names):
    name, topic, table = names["connector"], names["topic"], names["table"]
    kafka.create_topic(topic, partitions=2)
    create_plain_table(clickhouse, table)
    kafka.produce_json(topic, sample_events(40))
    assert worker.post("/connectors", clickhouse_connector(name, topic, table, clickhouse.url)).status_code == 201
    wait_for("40 rows", lambda: count(clickhouse, table) == 40)
    offsets = wait_for("committed offsets of all 40 records", lambda: (c := committed(worker, name)) and sum(c.values()) == 40 and c)
    body = worker.get(f"/connectors/{name}/offsets").json()
    assert set(body) == {"offsets"}
    for entry in body["offsets"]:
        assert set(entry) == {"partition", "offset"}
        assert set(entry["partition"]) == {"kafka_topic", "kafka_partition"} and entry["partition"]["kafka_topic"] == topic
        assert set(entry["offset"]) == {"kafka_offset"}

    change = {"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": 0}}]}
    stop_hint = f"This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/{name}/stop' endpoint"
    assert_error(worker.patch(f"/connectors/{name}/offsets", change), 400, "Connectors must be in the STOPPED state", stop_hint)
    assert_error(worker.delete(f"/connectors/{name}/offsets"), 400, "Connectors must be in the STOPPED state")
    assert_error(worker.get("/connectors/no-such/offsets"), 404, "Connector no-such not found")
    assert_error(worker.patch("/connectors/no-such/offsets", change), 404, "Connector no-such not found")
    assert_error(worker.delete("/connectors/no-such/offsets"), 404, "Connector no-such not found")

    assert worker.put(f"/connectors/{name}/stop").status_code == 204
    assert committed(worker, name) == offsets, "stopping commits nothing new and keeps the offsets"
    assert_error(worker.patch(f"/connectors/{name}/offsets", {"offsets": []}), 400, "Partitions / offsets need to be provided")
    bad = {"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": "zero"}, "offset": {"kafka_offset": 1}}]}
    assert_error(worker.patch(f"/connectors/{name}/offsets", bad), 400, "Kafka partition value", "'zero'")
    no_offset_key = {"offsets": [{"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"offset": 1}}]}
    assert_error(worker.patch(f"/connectors/{name}/offsets", no_offset_key), 400, "'kafka_offset'")

    # Rewind partition 0 by up to 5 records and forget partition 1 (it restarts from the earliest).
    rewound = max(offsets[0] - 5, 0)
    change = {"offsets": [
        {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": {"kafka_offset": rewound}},
        {"partition": {"kafka_topic": topic, "kafka_partition": "1"}, "offset": None},
    ]}
    r = worker.patch(f"/connectors/{name}/offsets", change)
    assert r.status_code == 200, r.text
    assert r.json() == {"message": "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses."}
    assert committed(worker, name) == {0: rewound}

    assert worker.put(f"/connectors/{name}/resume").status_code == 202
    expected = 40 + (offsets[0] - rewound) + offsets[1]
    wait_for(f"{expected} rows after the rewind", lambda: count(clickhouse, table) == expected)
    wait_for("offsets back at the end", lambda: committed(worker, name) == offsets)

    assert worker.put(f"/connectors/{name}/stop").status_code == 204
    r = worker.delete(f"/connectors/{name}/offsets")
    assert r.status_code == 200, r.text
    assert r.json()["message"].startswith("The Connect framework-managed offsets for this connector have been reset successfully.")
    assert worker.get(f"/connectors/{name}/offsets").json() == {"offsets": []}
    assert worker.delete(f"/connectors/{name}/offsets").status_code == 200, "resetting twice is fine"
    assert worker.put(f"/connectors/{name}/resume").status_code == 202
    wait_for("every record again after the reset", lambda: count(clickhouse, table) == expected + 40)


def test_active_topics_are_recorded_and_reset(worker, kafka, clickhouse, names):
    name, topic = names["connector"], names["topic"]
    kafka.create_topic(topic, partitions=1)
    clickhouse.create_events_table(names["table"])
    assert worker.post("/connectors", clickhouse_connector(name, topic, names["table"], clickhouse.url)).status_code == 201
    assert worker.get(f"/connectors/{name}/topics").json() == {name: {"topics": []}}, "nothing consumed yet"

    kafka.produce_json(topic, sample_events(5))
    wait_for("the topic to be recorded", lambda: worker.get(f"/connectors/{name}/topics").json() == {name: {"topics": [topic]}})
    r = worker.put(f"/connectors/{name}/topics/reset")
    assert r.status_code == 202 and r.text == "", r.text
    assert worker.get(f"/connectors/{name}/topics").json() == {name: {"topics": []}}

    kafka.produce_json(topic, sample_events(5, start=5))
    wait_for("the topic to be recorded again", lambda: worker.get(f"/connectors/{name}/topics").json() == {name: {"topics": [topic]}})
    # As in Kafka Connect, an unknown connector has no active topics rather than a 404.
    assert worker.get("/connectors/no-such/topics").json() == {"no-such": {"topics": []}}
    assert worker.put("/connectors/no-such/topics/reset").status_code == 202


def test_plugin_config_definitions(worker):
    r = worker.get("/connector-plugins/ClickHouseSink/config")
    assert r.status_code == 200, r.text
    keys = {k["name"]: k for k in r.json()}
    definition_keys = {"name", "type", "required", "default_value", "importance", "documentation", "group", "order", "width", "display_name", "dependents"}
    assert all(set(k) == definition_keys for k in keys.values()), r.json()[0]
    assert keys["hostname"]["required"] is True and keys["hostname"]["default_value"] is None
    assert keys["port"] == {**keys["port"], "type": "INT", "required": False, "default_value": "8123"}
    for common in ("name", "connector.class", "tasks.max", "topics", "topics.regex", "key.converter", "value.converter", "transforms"):
        assert common in keys, common
    assert keys["connector.class"]["group"] == "Common" and keys["transforms"]["group"] == "Transforms"
    # Every name of the plugin answers the same.
    official = worker.get("/connector-plugins/com.clickhouse.kafka.connect.ClickHouseSinkConnector/config").json()
    assert [k["name"] for k in official] == [k["name"] for k in r.json()]
    assert_error(worker.get("/connector-plugins/com.example.Nope/config"), 404, "Unknown plugin com.example.Nope.")


def test_config_validation_names_each_bad_key(worker, clickhouse, names):
    good = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url)["config"]
    good["name"] = names["connector"]
    path = "/connector-plugins/ClickHouseSinkConnector/config/validate"

    r = worker.put(path, good)
    assert r.status_code == 200, r.text
    result = r.json()
    assert set(result) == {"name", "error_count", "groups", "configs"}
    assert result["name"] == good["connector.class"] and result["error_count"] == 0
    assert "Common" in result["groups"]
    for entry in result["configs"]:
        assert set(entry) == {"definition", "value"}
        assert set(entry["value"]) == {"name", "value", "recommended_values", "errors", "visible"}
    values = {c["value"]["name"]: c["value"] for c in result["configs"]}
    assert values["topics"]["value"] == names["topic"]
    assert values["password"]["value"] in (None, "[hidden]"), "passwords are never echoed"

    bad = {k: v for k, v in good.items() if k != "hostname"}
    bad.update({"tasks.max": "many", "transforms": "route"})
    result = worker.put(path, bad).json()
    errors = {c["value"]["name"]: c["value"]["errors"] for c in result["configs"] if c["value"]["errors"]}
    assert set(errors) == {"hostname", "tasks.max", "transforms.route.type"}, errors
    assert result["error_count"] == 3
    assert any("many" in e for e in errors["tasks.max"]), errors
    undefined = [c for c in result["configs"] if c["value"]["name"] == "transforms.route.type"]
    assert undefined[0]["definition"] is None
    assert worker.get("/connectors").json() == [], "validation creates nothing"

    assert_error(worker.put("/connector-plugins/org.apache.kafka.connect.json.JsonConverter/config/validate", good), 400,
                 f"Included connector type {good['connector.class']} does not match request type org.apache.kafka.connect.json.JsonConverter")
    no_class = {k: v for k, v in good.items() if k != "connector.class"}
    assert_error(worker.put(path, no_class), 400, "contains no connector type")
    assert_error(worker.put("/connector-plugins/com.example.Nope/config/validate", {**good, "connector.class": "com.example.Nope"}), 404, "Unknown plugin com.example.Nope.")
