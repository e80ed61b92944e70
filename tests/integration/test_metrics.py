"""`GET /metrics`: the worker's Prometheus metrics against real Kafka and ClickHouse.

A ClickHouse connector's read, sent and written counters equal the records it processed and
its consumer lag reaches 0; with errors.tolerance=all the dead letter counter equals what the
DLQ topic holds; while ClickHouse cannot be reached (a TCP proxy in front of it is closed)
the retries count up and the lag shows what is left, and after it everything is counted once.
Every exported family is in the README's Metrics table (and the table lists nothing else), and
every PromQL expression of the Grafana dashboard names only exported series. Both modes serve
the endpoint (BOTH_MODES)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from confluent_kafka import Producer

from sluice_harness import REPO, Worker, clickhouse_connector, free_port, sample_events, unique, wait_for
from tcp_proxy import TcpProxy

BOTH_MODES = True

# Small batches, so a run has many and an outage leaves records unread.
WORKER_PROPS = {"sluice.batch.max.records": "200"}
# librdkafka's statistics (the lag) every second instead of every 5 s.
FAST_LAG = {"consumer.override.statistics.interval.ms": "1000"}

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: \S+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


class Scrape:
    """One parsed `/metrics` answer: samples by name, and the families' declared types."""

    def __init__(self, text: str):
        self.text = text
        self.types: dict[str, str] = {}
        self.samples: list[tuple[str, dict[str, str], float]] = []
        for line in text.splitlines():
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ", 3)
                self.types[name] = kind
            elif line and not line.startswith("#"):
                m = SAMPLE.match(line)
                assert m, f"not a sample line: {line!r}"
                labels = dict(LABEL.findall(m.group(2) or ""))
                self.samples.append((m.group(1), labels, float(m.group(3))))

    def series(self, name: str, **labels) -> list[tuple[dict[str, str], float]]:
        want = {k: str(v) for k, v in labels.items()}
        return [(l, v) for n, l, v in self.samples if n == name and want.items() <= l.items()]

    def value(self, name: str, **labels) -> float | None:
        """The sum of the matching series; None when there is none."""
        found = self.series(name, **labels)
        return sum(v for _, v in found) if found else None

    def exported_names(self) -> set[str]:
        """What a query names: counters with `_total`, everything else as declared."""
        return {n + "_total" if kind == "counter" else n for n, kind in self.types.items()}

    def sample_names(self) -> set[str]:
        return {n for n, _, _ in self.samples} | self.exported_names()


def scrape(worker) -> Scrape:
    r = worker.get("/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/openmetrics-text"), r.headers
    assert r.text.rstrip().endswith("# EOF"), r.text[-200:]
    return Scrape(r.text)


def readme_metrics() -> dict[str, list[str]]:
    """The README's Metrics table: name -> its row's cells."""
    text = (REPO / "README.md").read_text()
    section = text.split("### Metrics", 1)[1]
    rows = {}
    for line in section.splitlines():
        if line.startswith("## ") or line.startswith("### "):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    assert len(rows) > 10, f"the Metrics table in README.md has only {len(rows)} rows"
    return rows


def started_worker(tmp_path, kafka) -> Worker:
    return Worker(tmp_path / unique("w"), kafka.bootstrap, WORKER_PROPS).start()


def task_value(worker, name: str, connector: str) -> float | None:
    return scrape(worker).value(name, connector=connector, task=0)


def wait_metric(worker, name: str, connector: str, want, timeout: float = 60, **labels) -> Scrape:
    """Waits until `name` of the connector's task 0 (summed over other labels) satisfies `want`."""
    def check():
        s = scrape(worker)
        v = s.value(name, connector=connector, task=0, **labels)
        return s if v is not None and want(v) else None
    return wait_for(f"{name} of {connector} to be right (now {task_value(worker, name, connector)})", check,
                    timeout=timeout)


def test_metrics_cover_the_readme_table_and_the_dashboard(worker, kafka, tmp_path):
    """With one task running (a file sink, standalone and distributed) every family has
    series: the README table lists exactly the exported names, and the dashboard's expressions
    use only those."""
    topic, name = unique("metrics"), unique("file-metrics")
    kafka.create_topic(topic, partitions=2)
    config = {"connector.class": "FileStreamSink", "topics": topic, "file": str(tmp_path / "out.txt"), **FAST_LAG}
    assert worker.post("/connectors", {"name": name, "config": config}).status_code == 201
    wait_for("the task RUNNING", lambda: worker.task_states(name) == ["RUNNING"])
    wait_for("the lag of both partitions",
             lambda: len(scrape(worker).series("sluice_consumer_lag", connector=name, topic=topic)) == 2)
    if worker.mode == "distributed":
        # A distributed worker applied the first rebalance of its group.
        wait_for("a rebalance counted", lambda: (scrape(worker).value("sluice_rebalance_completed_total") or 0) >= 1)
        s = scrape(worker)
        assert s.value("sluice_rebalance_epoch") >= 1
        assert s.value("sluice_rebalance_time_seconds_count") >= 1
    s = scrape(worker)
    exported = {n for n in s.exported_names() if n.startswith(("sluice_", "process_"))}
    documented = set(readme_metrics())
    assert exported - documented == set(), "exported but not in the README's Metrics table"
    assert documented - exported == set(), "in the README's Metrics table but not exported"
    for name in ("process_cpu_seconds_total", "process_resident_memory_bytes", "process_open_fds"):
        assert s.value(name) is not None and s.value(name) >= 0, name
    assert s.value("process_resident_memory_bytes") > 1_000_000

    dashboard = json.loads((REPO / "docker" / "grafana" / "dashboards" / "sluice.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    assert len(exprs) >= 6, exprs
    known = s.sample_names()
    for expr in exprs:
        named = set(re.findall(r"\b(?:sluice|process)_[a-z0-9_]+", expr))
        assert named, f"a dashboard expression names no Sluice metric: {expr}"
        histogram_series = {n for n in known if n.endswith(("_bucket", "_sum", "_count"))}
        histograms = {n + suffix for n, kind in s.types.items() if kind == "histogram"
                      for suffix in ("_bucket", "_sum", "_count")}
        unknown = named - known - histogram_series - histograms
        assert not unknown, f"the dashboard queries {unknown}, which the worker does not export: {expr}"
    titles = " ".join(p.get("title", "").lower() for p in dashboard["panels"])
    for topic in ("read", "lag", "put", "dead letter", "retries", "task"):
        assert topic in titles, f"no dashboard panel about {topic}: {titles}"


def test_counters_and_lag_follow_a_clickhouse_run(tmp_path, kafka, clickhouse):
    """3,000 records over 3 partitions: read, sent and written are 3,000 once the group
    committed to the end, bytes written equal bytes read, the lag of every partition is 0, and
    the task shows RUNNING."""
    worker = started_worker(tmp_path, kafka)
    try:
        topic, table, name = unique("metrics"), unique("metrics"), unique("ch-metrics")
        count = 3000
        kafka.create_topic(topic, partitions=3)
        clickhouse.create_events_table(table)
        kafka.produce_json(topic, sample_events(count))
        config = clickhouse_connector(name, topic, table, clickhouse.url, coordinates=True, **FAST_LAG)
        assert worker.post("/connectors", config).status_code == 201
        kafka.wait_committed_to_end(name, topic)
        assert clickhouse.scalar(f"SELECT count() FROM {table}") == count

        s = wait_metric(worker, "sluice_sink_record_written_total", name, lambda v: v == count)
        assert s.value("sluice_sink_record_read_total", connector=name, task=0) == count
        assert s.value("sluice_sink_record_send_total", connector=name, task=0) == count
        read_bytes = s.value("sluice_sink_record_read_bytes_total", connector=name, task=0)
        assert read_bytes > count * 50
        assert s.value("sluice_sink_bytes_written_total", connector=name, task=0) == read_bytes
        # Several batches of at most 200 records, each one put.
        assert s.value("sluice_put_batch_time_seconds_count", connector=name, task=0) >= count / 200
        assert s.value("sluice_sink_batch_write_seconds_count", connector=name) >= count / 200
        assert s.value("sluice_offset_commit_completion_total", connector=name, task=0) >= 1
        assert s.value("sluice_record_errors_total", connector=name, task=0) == 0
        assert s.value("sluice_retries_total", connector=name, task=0) == 0
        assert s.value("sluice_task_state", connector=name, task=0, state="RUNNING") == 1
        assert s.value("sluice_task_state", connector=name, task=0, state="FAILED") == 0
        assert s.value("sluice_connector_task_count", connector=name, state="RUNNING") == 1

        def all_caught_up():
            lags = scrape(worker).series("sluice_consumer_lag", connector=name, task=0, topic=topic)
            return len(lags) == 3 and all(v == 0 for _, v in lags) and lags
        wait_for("the lag of the 3 partitions to be 0", all_caught_up, timeout=30)

        # A deleted connector's task leaves the task states.
        assert worker.delete(f"/connectors/{name}").status_code == 204
        wait_for("the task to leave sluice_task_state",
                 lambda: not scrape(worker).series("sluice_task_state", connector=name))
    finally:
        worker.stop()


def test_dead_letters_are_counted_as_the_dlq_topic_holds_them(tmp_path, kafka, clickhouse):
    """500 records, 7 of them not JSON, errors.tolerance=all with a DLQ: the DLQ produce
    counter equals the records in the DLQ topic (7), and so do the errors and skips."""
    worker = started_worker(tmp_path, kafka)
    try:
        topic, table, name, dlq = unique("metrics"), unique("metrics"), unique("ch-dlq"), unique("dlq")
        kafka.create_topic(topic, partitions=1)
        kafka.create_topic(dlq, partitions=1)
        clickhouse.create_events_table(table)
        bad = {13, 99, 100, 250, 251, 252, 480}
        producer = Producer({"bootstrap.servers": kafka.bootstrap, "acks": "all"})
        for i, event in enumerate(sample_events(500)):
            value = b'{"user_id": "broken' if i in bad else json.dumps(event).encode()
            producer.produce(topic, key=event["session_id"].encode(), value=value)
        assert producer.flush(60) == 0
        config = clickhouse_connector(name, topic, table, clickhouse.url, coordinates=True, **FAST_LAG, **{
            "errors.tolerance": "all",
            "errors.deadletterqueue.topic.name": dlq,
            "errors.deadletterqueue.topic.replication.factor": "1",
        })
        assert worker.post("/connectors", config).status_code == 201
        kafka.wait_committed_to_end(name, topic)
        in_dlq = sum(kafka.end_offsets(dlq).values())
        assert in_dlq == len(bad)
        s = wait_metric(worker, "sluice_deadletterqueue_produce_total", name, lambda v: v == in_dlq)
        assert s.value("sluice_record_errors_total", connector=name, task=0) == len(bad)
        assert s.value("sluice_records_skipped_total", connector=name, task=0) == len(bad)
        assert s.value("sluice_deadletterqueue_produce_failures_total", connector=name, task=0) == 0
        assert s.value("sluice_sink_record_read_total", connector=name, task=0) == 500
        assert s.value("sluice_sink_record_send_total", connector=name, task=0) == 500 - len(bad)
        assert s.value("sluice_sink_record_written_total", connector=name, task=0) == 500 - len(bad)
    finally:
        worker.stop()


def test_retries_count_up_during_a_clickhouse_outage(tmp_path, kafka, clickhouse):
    """ClickHouse is reached through a TCP proxy; with the proxy closed the task retries (the
    counter goes up) and the lag shows the records not yet committed; once it listens again
    everything is written, counted once, and the lag is 0."""
    worker = started_worker(tmp_path, kafka)
    ch_port = int(clickhouse.url.rstrip("/").rsplit(":", 1)[1])
    proxy_port = free_port()
    proxy = TcpProxy(proxy_port, ch_port)
    try:
        topic, table, name = unique("metrics"), unique("metrics"), unique("ch-outage")
        count = 1000
        kafka.create_topic(topic, partitions=1)
        clickhouse.create_events_table(table)
        config = clickhouse_connector(name, topic, table, clickhouse.url, coordinates=True, **FAST_LAG, **{
            "port": str(proxy_port),
            "errors.retry.delay.max.ms": "1000",
        })
        assert worker.post("/connectors", config).status_code == 201
        wait_for("the task RUNNING", lambda: worker.task_states(name) == ["RUNNING"])
        wait_metric(worker, "sluice_retries_total", name, lambda v: v == 0)

        proxy.close()  # ClickHouse refuses connections now
        kafka.produce_json(topic, sample_events(count))
        wait_metric(worker, "sluice_retries_total", name, lambda v: v >= 3, timeout=60)
        wait_metric(worker, "sluice_consumer_lag", name, lambda v: v > 0, timeout=30, topic=topic)
        assert worker.task_states(name) == ["RUNNING"]
        assert task_value(worker, "sluice_sink_record_written_total", name) == 0

        proxy = TcpProxy(proxy_port, ch_port)  # ClickHouse is back
        kafka.wait_committed_to_end(name, topic)
        s = wait_metric(worker, "sluice_consumer_lag", name, lambda v: v == 0, timeout=30, topic=topic)
        assert s.value("sluice_sink_record_read_total", connector=name, task=0) == count
        assert s.value("sluice_sink_record_written_total", connector=name, task=0) == count
        # Every failed put attempt was timed too.
        assert s.value("sluice_put_batch_time_seconds_count", connector=name, task=0) > count / 200
        assert clickhouse.scalar(f"SELECT count() FROM {table}") == count
    finally:
        proxy.close()
        worker.stop()
