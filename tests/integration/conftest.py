import pytest

from sluice_harness import ClickHouse, Kafka, Worker, env, unique


@pytest.fixture(scope="session")
def clickhouse() -> ClickHouse:
    return ClickHouse(env("SLUICE_CLICKHOUSE_URL"))


@pytest.fixture(scope="session")
def kafka() -> Kafka:
    return Kafka(env("SLUICE_KAFKA_BOOTSTRAP"))


@pytest.fixture
def worker(tmp_path, kafka):
    w = Worker(tmp_path, kafka.bootstrap).start()
    yield w
    w.stop()


@pytest.fixture
def names():
    """Unique topic, table and connector names for one test."""
    base = unique("t")
    return {"topic": f"events_{base}", "table": f"events_{base}", "connector": f"ch-{base}"}
