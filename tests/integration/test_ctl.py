"""`sluice ctl` against a real running worker: apply, get, pause, restart of failed tasks only,
offsets, dry-run validation, contexts, and the exit codes scripts rely on (0 ok, 1 failed,
2 usage). Every check of the CLI's effect is made through the REST API, not through ctl."""

from __future__ import annotations

import http.server
import json
import os
import re
import subprocess
import threading
from pathlib import Path

from sluice_harness import Worker, clickhouse_connector, free_port, sample_events, wait_for
from test_rest_security import PASSWORD, USER, server_cert, tls_auth_worker  # noqa: F401 (server_cert: a fixture)

FILE_SINK = "FileStreamSink"
# librdkafka's statistics (where the lag comes from) every second instead of every 5 s.
FAST_LAG = {"consumer.override.statistics.interval.ms": "1000"}


def ctl(url: str | None, *args: str, stdin: str | None = None, home: Path | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Runs `sluice ctl` with a clean environment: no SLUICE_URL and no contexts file of the
    person running the tests (HOME is a test directory)."""
    binary = os.environ.get("SLUICE_BIN") or str(Path(__file__).resolve().parents[2] / "target/debug/sluice")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_") or k == "SLUICE_BIN"}
    clean["HOME"] = str(home or Path("/nonexistent"))
    clean.update(env or {})
    command = [binary, "ctl", *(["--url", url] if url else []), *args]
    return subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=120, env=clean)


def ok(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, f"exit {result.returncode}\nstdout: {result.stdout}\nstderr: {result.stderr}"
    return result.stdout


def status(worker: Worker, name: str) -> dict:
    r = worker.get(f"/connectors/{name}/status")
    assert r.status_code == 200, r.text
    return r.json()


def file_sink_yaml(name: str, topic: str, out: Path, **extra: str) -> str:
    lines = [f"- name: {name}", "  config:", f"    connector.class: {FILE_SINK}", f"    topics: {topic}",
             f"    file: {out}", "    tasks.max: 1"]
    lines += [f"    {k}: '{v}'" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def test_apply_two_connectors_and_get_shows_both_running(worker, kafka, names, tmp_path):
    kafka.create_topic(names["topic"], partitions=1)
    first, second = names["connector"] + "-a", names["connector"] + "-b"
    spec = tmp_path / "connectors.yaml"
    spec.write_text(file_sink_yaml(first, names["topic"], tmp_path / "a.txt")
                    + file_sink_yaml(second, names["topic"], tmp_path / "b.txt"))

    out = ok(ctl(worker.url, "apply", "-f", str(spec)))
    assert out.splitlines() == [f"connector {first} created", f"connector {second} created"], out
    for name in (first, second):
        config = worker.get(f"/connectors/{name}/config").json()
        assert config["file"] == str(tmp_path / ("a.txt" if name == first else "b.txt")), config

    def both_running():
        data = json.loads(ok(ctl(worker.url, "get", "connectors", "-o", "json")))
        states = {n: (c["status"]["connector"]["state"], [t["state"] for t in c["status"]["tasks"]])
                  for n, c in data.items() if n in (first, second)}
        return states if states == {first: ("RUNNING", ["RUNNING"]), second: ("RUNNING", ["RUNNING"])} else None

    wait_for("both connectors RUNNING in `get connectors -o json`", both_running, timeout=60)
    table = ok(ctl(worker.url, "get", "connectors"))
    rows = {line.split()[0]: line.split() for line in table.splitlines()[1:]}
    assert table.splitlines()[0].split() == ["NAME", "TYPE", "STATE", "TASKS", "WORKERS"], table
    for name in (first, second):
        assert rows[name] == [name, "sink", "RUNNING", "1/1", worker.worker_id], table
    yaml = ok(ctl(worker.url, "get", "connectors", "-o", "yaml"))
    assert f"\n{second}:\n  status:\n" in yaml, yaml

    # The same file again changes nothing; an edited one updates just that connector.
    out = ok(ctl(worker.url, "apply", "-f", str(spec)))
    assert out.splitlines() == [f"connector {first} unchanged", f"connector {second} unchanged"], out
    spec.write_text(file_sink_yaml(first, names["topic"], tmp_path / "a2.txt")
                    + file_sink_yaml(second, names["topic"], tmp_path / "b.txt"))
    out = ok(ctl(worker.url, "apply", "-f", "-", stdin=spec.read_text()))
    assert out.splitlines() == [f"connector {first} configured", f"connector {second} unchanged"], out
    assert worker.get(f"/connectors/{first}/config").json()["file"] == str(tmp_path / "a2.txt")


def test_pause_makes_the_rest_status_paused_and_resume_runs_again(worker, kafka, names, tmp_path):
    kafka.create_topic(names["topic"], partitions=1)
    name = names["connector"]
    spec = tmp_path / "c.json"
    spec.write_text(json.dumps({"name": name, "config": {"connector.class": FILE_SINK, "topics": names["topic"],
                                                         "file": str(tmp_path / "out.txt")}}))
    ok(ctl(worker.url, "apply", "-f", str(spec)))
    wait_for("RUNNING", lambda: status(worker, name)["connector"]["state"] == "RUNNING")

    assert ok(ctl(worker.url, "pause", name)).strip() == f"connector {name} pausing"
    wait_for("the REST status PAUSED", lambda: (s := status(worker, name))["connector"]["state"] == "PAUSED"
             and [t["state"] for t in s["tasks"]] == ["PAUSED"] and s)
    ok(ctl(worker.url, "resume", name))
    wait_for("the REST status RUNNING again", lambda: status(worker, name)["connector"]["state"] == "RUNNING")

    ok(ctl(worker.url, "delete", name))
    assert worker.get(f"/connectors/{name}").status_code == 404
    gone = ctl(worker.url, "pause", name)
    assert gone.returncode == 1 and f"Connector {name} not found" in gone.stderr, gone.stderr


def test_restart_failed_only_restarts_just_the_failed_task(worker, kafka, clickhouse, names):
    """Two tasks on a one-partition topic and no table: the task that gets the partition fails,
    the partition moves to the other, which fails too (as in Kafka Connect). Once the table
    exists, one task is restarted by hand and writes everything; `restart --tasks
    --failed-only` then brings back the other and leaves the healthy one alone."""
    name, table = names["connector"], names["table"]
    kafka.create_topic(names["topic"], partitions=1)
    body = clickhouse_connector(name, names["topic"], table, clickhouse.url, tasks=2, coordinates=True)
    assert worker.post("/connectors", body).status_code == 201
    kafka.produce_json(names["topic"], sample_events(50))

    def states():
        return {t["id"]: t for t in status(worker, name)["tasks"]}

    tasks = wait_for("both tasks FAILED on the missing table",
                     lambda: (s := states()) and len(s) == 2 and all(t["state"] == "FAILED" for t in s.values()) and s,
                     timeout=90)
    assert all(table in t["trace"] for t in tasks.values()), tasks

    clickhouse.create_events_table(table)
    healthy_id, failed_id = sorted(tasks)
    assert worker.post(f"/connectors/{name}/tasks/{healthy_id}/restart", None).status_code == 204
    wait_for("the restarted task RUNNING, the other still FAILED",
             lambda: {i: t["state"] for i, t in states().items()} == {healthy_id: "RUNNING", failed_id: "FAILED"},
             timeout=60)
    log_before = worker.log_path.read_text(errors="replace")
    out = ok(ctl(worker.url, "restart", name, "--tasks", "--failed-only"))
    assert out.strip() == f"connector {name}: restarting task {failed_id}", out

    wait_for("the failed task RUNNING", lambda: {t["id"]: t["state"] for t in status(worker, name)["tasks"]}
             == {failed_id: "RUNNING", healthy_id: "RUNNING"}, timeout=60)
    wait_for("the 50 events written once the table exists",
             lambda: clickhouse.scalar(f"SELECT count() FROM {table}") == 50, timeout=60)
    # The worker logs which tasks it restarted: only the failed one.
    log = re.sub(r"\x1b\[[0-9;]*m", "", worker.log_path.read_text(errors="replace")[len(log_before):])  # colours
    restarts = re.findall(r"Tasks restarted\..*", log)
    assert len(restarts) == 1 and f"tasks=[{failed_id}]" in restarts[0], restarts

    # Nothing FAILED now: the same command restarts nothing.
    out = ok(ctl(worker.url, "restart", name, "--tasks", "--failed-only"))
    assert "nothing to restart" in out, out


def test_offsets_reset_needs_a_stopped_connector_and_then_leaves_none(worker, kafka, names, tmp_path):
    name, topic = names["connector"], names["topic"]
    kafka.create_topic(topic, partitions=2)
    kafka.produce_json(topic, sample_events(40))
    spec = tmp_path / "c.yaml"
    spec.write_text(file_sink_yaml(name, topic, tmp_path / "out.txt", **FAST_LAG,
                                   **{"password": "do-not-show"}))
    ok(ctl(worker.url, "apply", "-f", str(spec)))
    committed = kafka.wait_committed_to_end(name, topic, timeout=60)

    offsets = json.loads(ok(ctl(worker.url, "offsets", "get", name, "-o", "json")))["offsets"]
    assert {(o["partition"]["kafka_partition"], o["offset"]["kafka_offset"]) for o in offsets} == set(committed.items())
    # describe: secrets hidden, the task and its worker, topics, offsets and (Sluice) the lag.
    # The lag comes from librdkafka's statistics, a second behind the commits.
    described = wait_for("describe with a lag of 0 on both partitions", lambda: (
        d := json.loads(ok(ctl(worker.url, "describe", "connector", name, "-o", "json"))))["lag"] and
        [(lag["partition"], lag["lag"]) for lag in d["lag"]] == [(0, 0), (1, 0)] and d, timeout=30)
    assert described["info"]["config"]["password"] == "[hidden]", described["info"]["config"]
    assert described["topics"] == [topic], described
    assert [t["worker_id"] for t in described["status"]["tasks"]] == [worker.worker_id], described
    text = ok(ctl(worker.url, "describe", "connector", name))
    assert "do-not-show" not in text and "LAG" in text and worker.worker_id in text, text

    refused = ctl(worker.url, "offsets", "reset", name)
    assert refused.returncode == 1 and "STOPPED" in refused.stderr, refused.stderr
    assert kafka.committed(name, topic) == committed, "a refused reset changed nothing"

    ok(ctl(worker.url, "stop", name))
    wait_for("STOPPED", lambda: status(worker, name)["connector"]["state"] == "STOPPED")
    out = ok(ctl(worker.url, "offsets", "reset", name))
    assert "reset successfully" in out, out
    assert json.loads(ok(ctl(worker.url, "offsets", "get", name, "-o", "json"))) == {"offsets": []}
    assert ok(ctl(worker.url, "offsets", "get", name)).strip() == "(no committed offsets)"
    assert kafka.committed(name, topic) == {}

    # And set: Kafka Connect's body from a file.
    body = tmp_path / "offsets.yaml"
    body.write_text(f"offsets:\n- partition: {{kafka_topic: {topic}, kafka_partition: 0}}\n  offset: {{kafka_offset: 3}}\n")
    ok(ctl(worker.url, "offsets", "set", name, "-f", str(body)))
    assert kafka.committed(name, topic) == {0: 3}


def test_dry_run_names_the_bad_key_and_creates_nothing(worker, names, tmp_path):
    name = names["connector"]
    spec = tmp_path / "bad.yaml"
    spec.write_text(f"name: {name}\nconfig:\n  connector.class: {FILE_SINK}\n  topics: t\n"
                    f"  file: {tmp_path / 'out.txt'}\n  tasks.max: many\n")
    result = ctl(worker.url, "apply", "--dry-run", "-f", str(spec))
    assert result.returncode == 1, result
    assert f"connector {name}: tasks.max: " in result.stdout and "many" in result.stdout, result.stdout
    assert "config error" in result.stderr, result.stderr
    assert worker.get(f"/connectors/{name}").status_code == 404, "a dry run created the connector"

    spec.write_text(spec.read_text().replace("many", "1"))
    assert ok(ctl(worker.url, "apply", "--dry-run", "-f", str(spec))).strip() == f"connector {name} is valid"
    assert worker.get(f"/connectors/{name}").status_code == 404


def test_usage_errors_exit_2():
    for args in (["get", "gadgets"], ["apply"], ["restart"], ["-o", "xml", "get", "connectors"]):
        result = ctl("http://127.0.0.1:1", *args)
        assert result.returncode == 2, (args, result)
        assert result.stderr.startswith("error: ") and "--help" in result.stderr, result.stderr


def test_an_unreachable_worker_exits_1_saying_what_to_do():
    url = f"http://127.0.0.1:{free_port()}"
    result = ctl(url, "get", "connectors")
    assert result.returncode == 1, result
    assert result.stderr.strip() == (
        f"error: cannot reach {url}/: connection refused; is a worker running? set --url or SLUICE_URL"), result.stderr
    # The default is localhost:8083; SLUICE_URL replaces it.
    result = ctl(None, "get", "connectors", env={"SLUICE_URL": url})
    assert result.returncode == 1 and url in result.stderr, result.stderr


def test_contexts_file_and_get_workers(worker, tmp_path):
    config = tmp_path / "ctl.yaml"
    config.write_text(f"current: down\ncontexts:\n  down: {{url: 'http://127.0.0.1:{free_port()}'}}\n"
                      f"  here: {{url: '{worker.url}'}}\n")
    env = {"SLUICE_CTL_CONFIG": str(config)}
    assert ctl(None, "get", "plugins", env=env).returncode == 1, "the current context points nowhere"
    plugins = ok(ctl(None, "--context", "here", "get", "plugins", env=env))
    assert "org.apache.kafka.connect.file.FileStreamSinkConnector" in plugins, plugins
    unknown = ctl(None, "--context", "staging", "get", "plugins", env=env)
    assert unknown.returncode == 1 and "staging" in unknown.stderr and "here" in unknown.stderr, unknown.stderr
    # The default file is ~/.config/sluice/ctl.yaml.
    (tmp_path / "home" / ".config" / "sluice").mkdir(parents=True)
    (tmp_path / "home" / ".config" / "sluice" / "ctl.yaml").write_text(config.read_text().replace("current: down", "current: here"))
    workers = ok(ctl(None, "get", "workers", home=tmp_path / "home"))
    assert workers.splitlines()[1].split()[0] == worker.worker_id, workers


def test_get_workers_on_a_runtime_without_the_cluster_route_exits_1():
    """A JVM Kafka Connect runtime has no /sluice/cluster: a stand-in that answers 404 there."""
    class JvmLike(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            body = json.dumps({"error_code": 404, "message": "HTTP 404 Not Found"}).encode()
            self.send_response(404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), JvmLike)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        result = ctl(f"http://127.0.0.1:{server.server_port}", "get", "workers")
        assert result.returncode == 1 and "not available" in result.stderr and "Sluice" in result.stderr, result.stderr
    finally:
        server.shutdown()


def test_https_with_basic_auth_through_ca_file_and_credentials(tmp_path, kafka, server_cert):
    w = tls_auth_worker(tmp_path, kafka, server_cert).start()
    try:
        untrusted = ctl(w.url, "get", "plugins")
        assert untrusted.returncode == 1 and "--ca-file" in untrusted.stderr, untrusted.stderr
        anonymous = ctl(w.url, "--ca-file", str(server_cert["cert"]), "get", "plugins")
        assert anonymous.returncode == 1, anonymous
        assert "401: User cannot access the resource.; pass --user and --password" in anonymous.stderr, anonymous.stderr
        plugins = ok(ctl(w.url, "--ca-file", str(server_cert["cert"]), "--user", USER, "--password", PASSWORD,
                         "get", "plugins"))
        assert "FileStreamSinkConnector" in plugins, plugins
        from_env = ctl(w.url, "--insecure", "get", "connectors", env={"SLUICE_USER": USER, "SLUICE_PASSWORD": PASSWORD})
        assert from_env.returncode == 0 and from_env.stdout.split() == ["NAME", "TYPE", "STATE", "TASKS", "WORKERS"], from_env
    finally:
        w.stop()
