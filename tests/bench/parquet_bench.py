#!/usr/bin/env python3
"""Parquet sink benchmark: the release `sluice` binary reading 1,000,000 events from the real
Kafka (started by `tests/services/services.sh up kafka registry`) into Parquet files in a local
directory, next to the floor of reading the same topic, kcat (librdkafka) to /dev/null.

Each row is one run of one process, measured from outside (`--repeat N` runs every row N times,
round by round, each row's ratios against kcat on its topic in the same round, and judges the
goals on the medians):
- records/s and MB/s (record value bytes / wall time). For Sluice the wall time runs from the
  connector's creation (POST /connectors) until its group `connect-<name>` has committed the
  whole topic: every file is published, nothing more will be written.
- CPU-seconds per million records: utime + stime of the process from /proc/<pid>/stat over the
  same window (for kcat, its whole life, exact from wait4's rusage).
- peak RSS: VmHWM from /proc/<pid>/status (each Sluice row starts a fresh worker).
- others: CPU-seconds the rest of the machine used in the window (/proc/stat), to judge noise.

The output is checked with duckdb (count(*) == records, every timestamp once); a run that does
not commit everything or writes a wrong count fails the script (exit 1). Goals missed are
printed, not failed: this is a measurement, not a test.

    make bench-parquet                        # services, release build, this script
    make bench-parquet BENCH_ARGS="--repeat 5"   # goals on medians
    eval "$(tests/services/services.sh env)"; "$SLUICE_PYTHON" tests/bench/parquet_bench.py --help

Files: `bench_topics.py` makes and checks the input topics; `bench_report.py` prints the table;
`bench.py` runs these rows next to the ClickHouse, peer and scaling ones.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(HERE))

from bench_report import (Row, add_sluice_args, check_sluice_args, machine_busy_s, machine_line, plan_rounds, print_perf,  # noqa: E402
                          print_report, proc_cpu_s, proc_hwm_kib, report_failures, require_tools, run_kcat, run_rows,
                          worker_props)
from bench_topics import (EVENT_TYPES, PARTITIONS, BenchTopic, CommitProbe, Topics, forget_group, log,  # noqa: E402
                          require_env)
from sluice_harness import Worker  # noqa: E402


# ---------------------------------------------------------------------------------------------
# Rows

def sink_config(row: Row, out_dir: Path, args) -> dict[str, str]:
    config = {
        "connector.class": "io.sluice.connect.parquet.ParquetSinkConnector",
        "tasks.max": str(row.tasks),
        "topics": row.topic.name,
        "store.url": f"file://{out_dir}",
        "flush.size": str(args.flush_size),
        "rotate.schedule.interval.ms": str(args.rotate_schedule_ms),
        "parquet.codec": "snappy",
        **row.partitioner,
        **row.config,
        **dict(kv.split("=", 1) for kv in args.set),
    }
    if row.topic.kind == "avro":
        config["value.converter"] = "io.confluent.connect.avro.AvroConverter"
        config["value.converter.schema.registry.url"] = args.registry_url
    return config


def run_sluice(row: Row, args, perf_out: Path | None) -> None:
    """A fresh standalone worker; one connector; measured until its group committed the topic."""
    name = f"bench-pq-{row.topic.kind}-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=args.tmp_dir))
    out_dir = work / "out"
    out_dir.mkdir()
    worker = Worker(work / "worker", args.bootstrap, {"offset.flush.interval.ms": "1000", **worker_props(args)})
    probe = None
    perf = None
    try:
        worker.start()
        pid = worker.proc.pid
        probe = CommitProbe(args.bootstrap, f"connect-{name}", row.topic.name)
        time.sleep(1)  # let the worker's start-up settle before the CPU baseline
        cpu0, busy0 = proc_cpu_s(pid), machine_busy_s()
        t0 = time.monotonic()
        r = worker.post("/connectors", {"name": name, "config": sink_config(row, out_dir, args)})
        if r.status_code != 201:
            raise RuntimeError(f"creating {name} answered {r.status_code}: {r.text}")
        if perf_out is not None:
            perf = subprocess.Popen(["perf", "record", "--call-graph", args.perf_call_graph, "-F", str(args.perf_freq),
                                     "-p", str(pid), "-o", str(perf_out)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = t0 + args.timeout
        checks = 0
        while not probe.done():
            checks += 1
            if worker.proc.poll() is not None:
                raise RuntimeError(f"sluice exited with {worker.proc.returncode}; log:\n{worker.log()}")
            if checks % 10 == 0 and "FAILED" in worker.task_states(name):
                raise RuntimeError(f"a task of {name} FAILED: {worker.get(f'/connectors/{name}/status').text}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: after {args.timeout:.0f} s the group committed {probe.committed()}, "
                                   f"not the end offsets {probe.ends}; log:\n{worker.log()}")
            time.sleep(0.1)
        row.wall_s = time.monotonic() - t0
        row.cpu_s = proc_cpu_s(pid) - cpu0
        row.others_cpu_s = machine_busy_s() - busy0 - row.cpu_s
        row.peak_rss_kib = proc_hwm_kib(pid)
        if perf is not None:
            perf.send_signal(signal.SIGINT)
            perf.wait(timeout=120)
        worker.delete(f"/connectors/{name}")
        check_output(row, out_dir)
    finally:
        if perf is not None and perf.poll() is None:
            perf.kill()
            perf.wait()
        t_stop = time.monotonic()
        worker.stop()
        log(f"  worker stopped in {time.monotonic() - t_stop:.1f} s")
        if probe is not None:
            probe.close()
        forget_group(args.bootstrap, f"connect-{name}")
        if not args.keep_output:
            shutil.rmtree(work, ignore_errors=True)
        else:
            log(f"  kept {work}")


def check_output(row: Row, out_dir: Path) -> None:
    """duckdb over every Parquet file of the topic: all records, each once, all event types."""
    glob = str(out_dir / "topics" / row.topic.name / "**" / "*.parquet")
    total, timestamps, types, files = duckdb.connect().execute(
        f"SELECT count(*), count(DISTINCT timestamp), count(DISTINCT event_type), count(DISTINCT filename) "
        f"FROM read_parquet('{glob}', hive_partitioning = false, filename = true)"
    ).fetchone()
    row.note = f"{files} files"
    log(f"  duckdb: {total:,} rows, {timestamps:,} distinct timestamps, {types} event types in {files} files")
    if total != row.topic.records or timestamps != row.topic.records or types != len(EVENT_TYPES):
        raise RuntimeError(f"{row.label}: the Parquet files hold {total:,} rows ({timestamps:,} distinct timestamps, "
                           f"{types} event types); "
                           f"{row.topic.records:,} records were in the topic")


# ---------------------------------------------------------------------------------------------

ROWS = ["json-field", "avro-field", "json-default"]
FIELD_PARTITIONER = {"partitioner.class": "io.confluent.connect.storage.partitioner.FieldPartitioner",
                     "partition.field.name": "event_type"}
DEFAULT_PARTITIONER = {"partitioner.class": "io.confluent.connect.storage.partitioner.DefaultPartitioner"}


def plan_row(key: str, json_topic: BenchTopic, avro_topic: BenchTopic | None) -> Row:
    """The Sluice row `key` (one of ROWS)."""
    if key == "json-field":
        return Row("Sluice JSON -> Parquet, Field(event_type)", "sluice", json_topic, FIELD_PARTITIONER, 64, key=key)
    if key == "avro-field":
        return Row("Sluice Avro -> Parquet, Field(event_type)", "sluice", avro_topic, FIELD_PARTITIONER, 64, key=key)
    return Row("Sluice JSON -> Parquet, Default", "sluice", json_topic, DEFAULT_PARTITIONER, PARTITIONS, key=key)


def add_parquet_args(p) -> None:
    """The sink's options (shared with `bench.py`); `finish_parquet_args` fills the defaults."""
    p.add_argument("--flush-size", type=int, help="flush.size (default: half a partition's records, "
                                                  "so each partition's tail is published by size)")
    p.add_argument("--rotate-schedule-ms", type=int, default=2_000, help="rotate.schedule.interval.ms (-1: off)")


def finish_parquet_args(args, records: int) -> None:
    args.flush_size = args.flush_size or max(1, records // PARTITIONS // 2)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--records", type=int, default=1_000_000, help="events per topic (default 1,000,000)")
    p.add_argument("--repeat", type=int, default=1,
                   help="rounds of every row, kcat's included; the goals are then judged on the medians")
    add_parquet_args(p)
    p.add_argument("--perf", metavar="FILE", help="perf record -g the first JSON->Parquet Field run into FILE "
                                                  "(its numbers then include perf's overhead)")
    p.add_argument("--perf-call-graph", default="fp", help="perf's --call-graph: fp (= -g; Rust's release "
                   "build keeps no frame pointers, so callers are mostly lost) or dwarf (callers from .eh_frame)")
    p.add_argument("--perf-freq", type=int, default=999, help="perf samples per second (-F)")
    add_sluice_args(p, ROWS, REPO, "Parquet files")
    args = p.parse_args()
    finish_parquet_args(args, args.records)
    check_sluice_args(p, args, ROWS)
    return args


def main() -> int:
    args = parse_args()
    args.bootstrap = require_env("SLUICE_KAFKA_BOOTSTRAP", "bench-parquet")
    args.registry_url = require_env("SLUICE_REGISTRY_URL", "bench-parquet")
    require_tools(args.binary)
    machine = machine_line()
    log(machine)

    topics = Topics(args.bootstrap, args.registry_url)
    json_topic = topics.ensure("json", args.records)
    avro_topic = topics.ensure("avro", args.records) if "avro-field" in args.rows else None

    failures: list[str] = []
    perf_out = Path(args.perf).resolve() if args.perf else None
    rows = plan_rounds(args.repeat, [t for t in (json_topic, avro_topic) if t is not None], args.rows,
                       lambda key: plan_row(key, json_topic, avro_topic))

    def run(row: Row) -> None:
        nonlocal perf_out
        if row.kind == "kcat":
            run_kcat(row, args.bootstrap)
            return
        use_perf = perf_out if row.key == "json-field" else None
        run_sluice(row, args, use_perf)
        if use_perf is not None:
            row.note += ", under perf"
            perf_out = None

    run_rows(rows, run, failures)
    measured = [r for r in rows if r.ok]
    if measured and measured[0].kind == "kcat":
        print_report(measured, machine, [t for t in (json_topic, avro_topic) if t is not None])
    if args.perf and Path(args.perf).exists():
        print_perf(args.perf)
    return report_failures(failures)


if __name__ == "__main__":
    sys.exit(main())
