"""The REST API answers with Kafka Connect's paths, bodies, status codes and error JSON; every
answer is checked against worker/openapi.yaml."""

# Every test taking `worker` runs in standalone and in distributed mode.
BOTH_MODES = True


import pytest

from openapi_check import CheckedWorker
from sluice_harness import clickhouse_connector, wait_for


@pytest.fixture
def worker(worker):
    """Every answer of the worker is checked against worker/openapi.yaml."""
    return CheckedWorker(worker)


def assert_error(r, code: int, *fragments: str):
    assert r.status_code == code, f"{r.request.method} {r.request.path_url} answered {r.status_code}, not {code}: {r.text!r}"
    body = r.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code
    for fragment in fragments:
        assert fragment in body["message"], body["message"]


def wait_for_states(worker, name: str, connector: str, tasks: list[str]) -> None:
    """Waits until the status of `name` shows the connector and its tasks in these states;
    a timeout names the states last seen."""
    seen = []

    def reached():
        s = worker.get(f"/connectors/{name}/status").json()
        seen.append((s["connector"]["state"], [t["state"] for t in s["tasks"]]))
        return seen[-1] == (connector, tasks)

    try:
        wait_for(f"{name}: connector {connector}, tasks {tasks}", reached)
    except AssertionError as e:
        raise AssertionError(f"{e}; last status: connector {seen[-1][0]}, tasks {seen[-1][1]}") from None


def test_root_and_plugins(worker):
    root = worker.get("/").json()
    assert set(root) == {"version", "commit", "kafka_cluster_id"}
    assert root["kafka_cluster_id"], "cluster id comes from the real broker"

    plugins = worker.get("/connector-plugins").json()
    classes = {p["class"]: p for p in plugins}
    assert classes["io.sluice.connect.clickhouse.ClickHouseSinkConnector"]["type"] == "sink"
    assert all(p["type"] == "sink" for p in plugins)
    everything = worker.get("/connector-plugins?connectorsOnly=false").json()
    assert any(p["class"] == "io.sluice.connect.json.JsonConverter" and p["type"] == "converter" for p in everything)


def test_connector_lifecycle_and_errors(worker, clickhouse, names):
    body = clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url)
    name = names["connector"]

    r = worker.post("/connectors", body)
    assert r.status_code == 201, r.text
    info = r.json()
    assert info["name"] == name and info["type"] == "sink"
    assert info["config"]["name"] == name
    assert info["tasks"] == [{"connector": name, "task": 0}]

    assert_error(worker.post("/connectors", body), 409, f"Connector {name} already exists")
    assert_error(worker.get("/connectors/does-not-exist"), 404, "Connector does-not-exist not found")
    assert_error(worker.get("/connectors/does-not-exist/status"), 404)
    assert_error(worker.put("/connectors/does-not-exist/pause"), 404)
    assert_error(worker.delete("/connectors/does-not-exist"), 404)

    no_class = {"name": "no-class", "config": {k: v for k, v in body["config"].items() if k != "connector.class"}}
    assert_error(worker.post("/connectors", no_class), 400, "connector.class")
    bad_tasks = {"name": "bad-tasks", "config": {**body["config"], "tasks.max": "many"}}
    assert_error(worker.post("/connectors", bad_tasks), 400, "tasks.max")
    no_host = {"name": "no-host", "config": {k: v for k, v in body["config"].items() if k != "hostname"}}
    assert_error(worker.post("/connectors", no_host), 400, "hostname")
    no_topics = {"name": "no-topics", "config": {k: v for k, v in body["config"].items() if k != "topics"}}
    assert_error(worker.post("/connectors", no_topics), 400, "topics")
    unknown_smt = {"name": "bad-smt", "config": {**body["config"], "transforms": "route", "transforms.route.type": "com.example.Nope"}}
    assert_error(worker.post("/connectors", unknown_smt), 400, "transforms.route.type")
    missing_smt_type = {"name": "bad-smt", "config": {**body["config"], "transforms": "route"}}
    assert_error(worker.post("/connectors", missing_smt_type), 400, "transforms.route.type")
    assert_error(worker.post("/connectors", {"name": "x"}), 400, "config")
    r = worker.post("/connectors", "not json")  # a JSON string, not an object
    assert_error(r, 400)
    assert worker.get("/connectors").json() == [name], "rejected connectors were not created"

    assert worker.get(f"/connectors/{name}").json() == info
    assert worker.get(f"/connectors/{name}/config").json() == info["config"]
    tasks = worker.get(f"/connectors/{name}/tasks").json()
    assert tasks[0]["id"] == {"connector": name, "task": 0}
    assert tasks[0]["config"]["topics"] == names["topic"]

    expanded = worker.get("/connectors?expand=status&expand=info").json()
    assert set(expanded[name]) == {"status", "info"}
    assert expanded[name]["info"]["name"] == name
    assert expanded[name]["status"]["connector"]["state"] in {"RUNNING", "UNASSIGNED"}

    updated = {**info["config"], "tasks.max": "2"}
    r = worker.put(f"/connectors/{name}/config", updated)
    assert r.status_code == 200, r.text
    assert len(r.json()["tasks"]) == 2
    mismatched = {**updated, "name": "someone-else"}
    assert_error(worker.put(f"/connectors/{name}/config", mismatched), 400, "doesn't match")
    r = worker.put("/connectors/created-by-put/config", {**body["config"], "name": "created-by-put"})
    assert r.status_code == 201, r.text

    assert worker.put(f"/connectors/{name}/pause").status_code == 202
    wait_for_states(worker, name, "PAUSED", ["PAUSED", "PAUSED"])
    assert worker.put(f"/connectors/{name}/resume").status_code == 202
    wait_for_states(worker, name, "RUNNING", ["RUNNING", "RUNNING"])
    assert worker.delete(f"/connectors/{name}").status_code == 204
    assert worker.delete("/connectors/created-by-put").status_code == 204
    assert worker.get("/connectors").json() == []
    assert_error(worker.get("/no/such/route"), 404)
