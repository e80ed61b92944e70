import pytest

from sluice_harness import ClickHouse, Kafka, Worker, distributed_workers, env, services, unique, wait_for


@pytest.fixture(scope="session")
def clickhouse() -> ClickHouse:
    return ClickHouse(env("SLUICE_CLICKHOUSE_URL"))


@pytest.fixture(scope="session")
def registry_url() -> str:
    """The real schema registry (Apicurio), Confluent-compatible API."""
    return env("SLUICE_REGISTRY_URL")


@pytest.fixture(scope="session")
def kafka() -> Kafka:
    return Kafka(env("SLUICE_KAFKA_BOOTSTRAP"))


def pytest_generate_tests(metafunc):
    # Modules that set BOTH_MODES = True run their `worker` tests against a standalone worker
    # and against a (one-worker) distributed cluster: the REST surface must be the same.
    if "worker" in metafunc.fixturenames and getattr(metafunc.module, "BOTH_MODES", False):
        metafunc.parametrize("worker", ["standalone", "distributed"], indirect=True)


@pytest.fixture
def worker(request, tmp_path, kafka):
    mode = getattr(request, "param", "standalone")
    if mode == "distributed":
        (w,) = distributed_workers(tmp_path, kafka.bootstrap, 1, unique("sluice-rest"))
    else:
        w = Worker(tmp_path, kafka.bootstrap)
    w.start()
    if mode == "distributed":
        wait_for("the worker in its group", lambda: w.get("/sluice/cluster").json()["members"] == [w.worker_id])
    yield w
    w.stop()


@pytest.fixture
def names():
    """Unique topic, table and connector names for one test."""
    base = unique("t")
    return {"topic": f"events_{base}", "table": f"events_{base}", "connector": f"ch-{base}"}


@pytest.fixture(scope="module")
def kafka_cluster() -> Kafka:
    """The three-broker KRaft cluster (`services.sh up kafka-cluster`), started for the module
    and stopped after it: only the disruptive tests that stop brokers use it."""
    services("up", "kafka-cluster")
    exports = dict(line.removeprefix("export ").split("=", 1) for line in services("env").splitlines()
                   if line.startswith("export "))
    yield Kafka(exports["SLUICE_KAFKA_CLUSTER_BOOTSTRAP"].strip("'\""))
    services("down", "kafka-cluster")
