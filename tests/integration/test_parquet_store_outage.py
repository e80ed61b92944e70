"""The S3 store of the Parquet sink is stopped mid-stream (SeaweedFS down for ~20 s).

Publishing fails for a passing reason: the task stays RUNNING with the outage in its trace,
nothing is committed past what is published and nothing is dead-lettered, and once the store is
back every record is in exactly one file.

This test stops the shared SeaweedFS server: it is marked `disruptive` and runs in its own phase
of `make test`, after the others.
"""

import re
import subprocess
import time
from collections import Counter

import pytest

from parquet_harness import (
    ParquetTree, all_offsets, assert_coordinates_exactly_once, new_bucket, parquet_connector, require_parquet_plugin,
    s3_store, task_states, wait_committed_to_end,
)
from sluice_harness import REPO, sample_events, unique, wait_for

SERVICES = str(REPO / "tests" / "services" / "services.sh")
pytestmark = pytest.mark.disruptive


def s3_service(action: str) -> None:
    subprocess.run([SERVICES, action, "s3"], check=True, capture_output=True, timeout=300)


def test_s3_down_for_20_seconds_is_waited_out_without_loss(worker, kafka, tmp_path):
    require_parquet_plugin(worker)
    topic, name, bucket = unique("pq_outage"), unique("pq-outage"), new_bucket()
    dlq = unique("dlq")
    kafka.create_topic(topic, partitions=2)
    config = parquet_connector(
        name, topic, s3_store(bucket), flush_size=500, tasks=2,
        **{"partitioner.class": "Field", "partition.field.name": "event_type",
           "key.converter": "org.apache.kafka.connect.storage.StringConverter",
           "value.converter": "org.apache.kafka.connect.json.JsonConverter",
           "value.converter.schemas.enable": "false",
           "rotate.schedule.interval.ms": "2000",
           "errors.tolerance": "all", "errors.deadletterqueue.topic.name": dlq,
           "errors.deadletterqueue.topic.replication.factor": "1"})
    assert worker.post("/connectors", config).status_code == 201
    first = sample_events(2000)
    kafka.produce_json(topic, first)
    # Both tasks hold their partition before the outage starts. The group's first assignment
    # gives both partitions to whichever task joins first; the second task's join moves one a
    # few seconds later, and if that happened during the outage, the task would have to open
    # its partition against a store that is down, which is another failure (FAILURE-MODES.md).
    wait_for("each task assigned its partition", lambda: all(
        f"Partitions assigned. task={name}-{i} " in re.sub(r"\x1b\[[0-9;]*m", "", worker.log_path.read_text(errors="replace"))
        for i in (0, 1)), timeout=60)
    before = wait_committed_to_end(worker, kafka, name, topic, timeout=90)

    s3_service("down")
    try:
        second = sample_events(2000, start=2000)
        kafka.produce_json(topic, second)

        def outage_reported():
            tasks = task_states(worker, name)["tasks"]
            assert {t["state"] for t in tasks} == {"RUNNING"}, f"a store outage must not fail tasks: {tasks}"
            return any("Sink not available" in (t.get("trace") or "") for t in tasks)

        wait_for("the outage in a task's trace", outage_reported, timeout=60)
        # Nothing is committed past what was published before the outage.
        time.sleep(3)
        assert kafka.committed(name, topic) == before
    finally:
        s3_service("up")

    ends = wait_committed_to_end(worker, kafka, name, topic, timeout=120)
    assert sum(ends.values()) == 4000
    wait_for("the trace to clear", lambda: not any(t.get("trace") for t in task_states(worker, name)["tasks"]),
             timeout=60)

    tree = ParquetTree.from_bucket(bucket, tmp_path / "copy", topic)
    tree.check_files()
    tree.check_no_overlap()
    assert_coordinates_exactly_once(tree, all_offsets(ends))
    assert tree.counts_by_directory() == Counter(f"event_type={e['event_type']}" for e in first + second)
    # Nothing went to the dead letter queue: an outage is not a bad record.
    assert sum(kafka.end_offsets(dlq).values()) == 0, "records were dead-lettered during the outage"
