"""Fuzzes the REST API from `worker/openapi.yaml` with schemathesis, against a real worker.

schemathesis (`st run`, from the test venv) reads the document and sends every operation
requests it generates: the document's examples, boundary and invalid values of each parameter
and body (its coverage phase), random ones (fuzzing), and chains of calls it infers from the
paths (stateful). The examples create a real connector (`events-clickhouse`, whose tasks retry
a ClickHouse that is not there), so the operations on a connector reach one, not only 404s.
Every answer must pass these checks:

- not_a_server_error: no 5xx, whatever the request;
- status_code_conformance: the status is one the operation documents;
- content_type_conformance: the Content-Type is the one documented for that status;
- response_schema_conformance: the body matches the documented schema;
- response_headers_conformance: documented headers (`Location`) have the documented form.

The seed is fixed and requests go one at a time, so a run sends the same requests each time
(what a connector does in between, e.g. a task retrying, can still change an answer). Each
operation gets at most `MAX_EXAMPLES` generated requests per phase, about 1,000 requests in
all: a run takes about 30 s per mode, up to 90 s on a busy 2-CPU machine; the module (both
modes, and the pinned findings) about 70 s, at most about three minutes.

The worker must survive: connectors the fuzzer created are deleted afterwards, and then the
worker still answers `GET /` and its log shows no panic. Runs against a standalone worker and a
one-worker distributed cluster (conftest's `worker` fixture): their REST surfaces are the same.
"""

# conftest runs `worker` tests in standalone and in distributed mode.
BOTH_MODES = True

import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import requests

from openapi_check import CheckedWorker
from sluice_harness import REPO, unique

DOCUMENT = REPO / "worker" / "openapi.yaml"
# schemathesis's command, installed beside the interpreter running the tests.
SCHEMATHESIS = Path(sys.executable).parent / "st"
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
]
MAX_EXAMPLES = 15
SEED = 20261206
# Bounds a run that hangs (a request the worker never answers); a normal run takes 30-90 s.
RUN_TIMEOUT = 240


def run_schemathesis(url: str, workdir: Path) -> subprocess.CompletedProcess:
    command = [
        str(SCHEMATHESIS), "run", str(DOCUMENT),
        "--url", url,
        "--checks", ",".join(CHECKS),
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--request-timeout", "60",
        # Nothing written beside the tests: no example database, no colours in the report.
        "--generation-database", "none",
        "--no-color",
    ]
    # In a directory of its own: schemathesis may write reports into its working directory.
    try:
        return subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=RUN_TIMEOUT)
    except subprocess.TimeoutExpired as e:
        # The captured output is bytes here, whatever `text` says.
        output = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else str(e.stdout or "")
        raise AssertionError(f"schemathesis did not finish in {RUN_TIMEOUT} s; its output so far:\n{output[-10000:]}") from None


def delete_every_connector(worker) -> list[str]:
    """Deletes the connectors the fuzzer left behind; returns their names."""
    names = worker.get("/connectors").json()
    for name in names:
        r = worker.session.delete(f"{worker.url}/connectors/{quote(name, safe='')}", timeout=60)
        assert r.status_code in (204, 404), f"deleting connector {name!r} answered {r.status_code}: {r.text}"
    return names


def answers(worker) -> bool:
    try:
        return worker.get("/").status_code == 200
    except requests.RequestException:
        return False


def test_rest_api_survives_fuzzing_and_matches_the_document(worker, tmp_path):
    workdir = tmp_path / "schemathesis"
    workdir.mkdir()
    run = run_schemathesis(worker.url, workdir)
    alive = answers(worker)
    left = delete_every_connector(worker) if alive else []
    report, code = run.stdout + run.stderr, run.returncode
    log = worker.log_path.read_text(errors="replace")
    assert "panicked" not in log, f"the worker panicked during the fuzzing:\n{worker.log()}"
    assert alive, f"the worker stopped answering GET / after the fuzzing; its log:\n{worker.log()}"
    assert code == 0, f"schemathesis found failures (exit {code}):\n{report[-20000:]}"
    assert "Test cases:" in report, f"schemathesis did not run its tests:\n{report[-5000:]}"
    assert worker.get("/connectors").json() == [], f"connectors left after deleting {left}"
    assert answers(worker), "the worker stopped answering after its connectors were deleted"


def test_what_the_fuzzer_found_stays_fixed(worker, kafka):
    """The fuzzer's findings, pinned with requests that do not depend on its seed."""
    worker = CheckedWorker(worker)
    name = unique("fuzz-found")
    topic = f"events_{name}"
    kafka.create_topic(topic, partitions=1)
    # Tasks retry a ClickHouse that is not there; nothing here needs them to write.
    config = {"connector.class": "ClickHouseSink", "topics": topic, "hostname": "127.0.0.1", "port": "1"}
    assert worker.put(f"/connectors/{name}/config", config).status_code == 201
    try:
        # Jersey takes the first value of a repeated query parameter; this was a 400 "duplicate field".
        r = worker.post(f"/connectors/{name}/restart?onlyFailed=null&onlyFailed=null", None)
        assert r.status_code == 204, r.text

        assert worker.put(f"/connectors/{name}/stop").status_code == 204
        # An offset for a partition Kafka does not have was a 500 (Kafka refused the commit,
        # maybe after committing the others): now a 400 naming it, and nothing changes.
        offset = {"kafka_offset": 0}
        change = {"offsets": [
            {"partition": {"kafka_topic": topic, "kafka_partition": 0}, "offset": offset},
            {"partition": {"kafka_topic": topic, "kafka_partition": 1}, "offset": offset},
            {"partition": {"kafka_topic": "", "kafka_partition": 0}, "offset": offset},
        ]}
        r = worker.patch(f"/connectors/{name}/offsets", change)
        assert r.status_code == 400, r.text
        message = r.json()["message"]
        assert f'"{topic}" partition 1' in message and '"" partition 0' in message, message
        assert f'"{topic}" partition 0' not in message, message
        assert worker.get(f"/connectors/{name}/offsets").json() == {"offsets": []}, "a refused change changed offsets"
        r = worker.patch(f"/connectors/{name}/offsets", {"offsets": change["offsets"][:1]})
        assert r.status_code == 200, r.text
        assert worker.get(f"/connectors/{name}/offsets").json()["offsets"] == [change["offsets"][0]]
    finally:
        worker.delete(f"/connectors/{name}")
