"""NOT IN THE SUITE YET: a ClickHouse outage mid-stream (issue 4). Failed twice: one partition stopped landing
after an early rebalance; see the closing note of session 1. Run with the integration conftest to try it."""

import subprocess
import time

from sluice_harness import REPO, clickhouse_connector, sample_events, wait_for


def test_clickhouse_down_for_20_seconds_is_retried_without_loss(worker, kafka, clickhouse, names):
    services = str(REPO / "tests" / "services" / "services.sh")
    kafka.create_topic(names["topic"], partitions=2)
    clickhouse.create_events_table(names["table"])
    assert worker.post("/connectors", clickhouse_connector(names["connector"], names["topic"], names["table"], clickhouse.url, tasks=2)).status_code == 201
    kafka.produce_json(names["topic"], sample_events(2000))
    wait_for("the first 2,000 rows", lambda: clickhouse.scalar(f"SELECT count() FROM {names['table']}") == 2000)

    subprocess.run([services, "down", "clickhouse"], check=True, capture_output=True, timeout=120)
    try:
        kafka.produce_json(names["topic"], sample_events(2000, start=2000))
        time.sleep(20)
        tasks = worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]
        assert {t["state"] for t in tasks} == {"RUNNING"}, f"a ClickHouse outage must not fail tasks: {tasks}"
    finally:
        subprocess.run([services, "up", "clickhouse"], check=True, capture_output=True, timeout=300)
    wait_for("all 4,000 rows after ClickHouse is back", lambda: clickhouse.scalar(
        f"SELECT count(DISTINCT session_id) FROM {names['table']}") == 4000, timeout=120)
    assert {t["state"] for t in worker.get(f"/connectors/{names['connector']}/status").json()["tasks"]} == {"RUNNING"}
