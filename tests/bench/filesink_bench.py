#!/usr/bin/env python3
"""The runtime's overhead, like for like: Kafka Connect's own JVM runtime and the release
`sluice` binary each run Kafka Connect's FileStreamSinkConnector, standalone, from the same
worker and connector properties, reading the same topic of JSON in Kafka Connect's schema
envelope (JsonConverter, schemas.enable=true, a struct of 5 strings; `bench-json-envelope-*`,
made by `bench_topics.py`) into a file, one `Struct{...}` line per record. The sink does almost
nothing, so the difference is the runtime: consumer, converter, task loop, offsets.

Each row is one run of one fresh process, measured from outside:
- wall: from the process's start until the file holds `events` lines. The JVM's start-up (class
  loading, plugin scanning) counts, as it does for a user; the note gives the start-up time
  (until the task is RUNNING on the REST API) and the rate after it.
- CPU-seconds: utime + stime of the whole process from /proc/<pid>/stat at that moment (the JVM's
  GC and JIT threads included).
- peak RSS: VmHWM from /proc/<pid>/status.
The output is checked: each file has exactly `events` lines after the process stopped, and the
two files hold the same lines (sorted equal). A failed check fails the script (exit 1); missed
goals are printed, not failed.

Fair and the same for both: the same worker properties (JsonConverter with schemas for key and
value, offset.flush.interval.ms=10000, a REST listener on a free port), the same connector
properties, each runtime's defaults otherwise (the JVM with bin/connect-standalone.sh's heap,
-Xms256M -Xmx2G, and G1, through `services.sh connect-standalone`). One task each: Kafka
Connect's task prints a value and its newline with two separate writes, so tasks sharing one
file could interleave them and the JVM's lines would not be whole.

    eval "$(tests/services/services.sh env)"
    tests/services/services.sh install connect           # once: the JVM runtime's jars
    cargo build --release -p sluice-worker --bin sluice
    "$SLUICE_PYTHON" tests/bench/filesink_bench.py --events 100000

Goal (issue 12): Sluice at least 2x the JVM's records/s at no more than 1/4 of its peak RSS.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(HERE))

from bench_report import (Row, machine_busy_s, machine_line, print_table, proc_cpu_s, proc_hwm_kib,  # noqa: E402
                          release_binary, stop)
from bench_topics import Topics, forget_group, log, require_env  # noqa: E402
from sluice_harness import free_port  # noqa: E402

SERVICES = REPO / "tests" / "services" / "services.sh"
CLASS = "org.apache.kafka.connect.file.FileStreamSinkConnector"
GOAL_RATE_RATIO = 2.0  # Sluice's records/s at least 2x the JVM's
GOAL_RSS_RATIO = 0.25  # at no more than 1/4 of its peak RSS
TIMEOUT_S = 600


@dataclass
class Run:
    """What one row's process is and where it writes."""

    row: Row
    work: Path
    name: str  # the connector's name; its group is connect-<name>
    out: Path  # the sink's file
    port: int
    command: list[str]
    env: dict[str, str]
    console: Path  # the process's stdout and stderr
    log: Path  # its log file
    startup_s: float | None = None  # until the task was RUNNING


def write_properties(path: Path, props: dict[str, str]) -> None:
    path.write_text("".join(f"{k}={v}\n" for k, v in props.items()))


def prepare(row: Row, bootstrap: str, binary: str, tmp_dir: str | None) -> Run:
    """The worker and connector properties (the same for both runtimes) and the command."""
    jvm = row.kind == "connect-jvm"
    name = f"filesink-{row.kind}-{uuid.uuid4().hex[:8]}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=tmp_dir))
    port = free_port()
    write_properties(work / "worker.properties", {
        "bootstrap.servers": bootstrap,
        "listeners": f"http://127.0.0.1:{port}",
        "key.converter": "org.apache.kafka.connect.json.JsonConverter",
        "key.converter.schemas.enable": "true",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
        # Kafka Connect keeps source offsets here; Sluice keeps its state next to it.
        "offset.storage.file.filename": str(work / "connect.offsets"),
        "offset.flush.interval.ms": "10000",
    })
    out = work / "sink.txt"
    write_properties(work / "connector.properties", {
        "name": name,
        "connector.class": CLASS,
        "tasks.max": "1",
        "topics": row.topic.name,
        "file": str(out),
    })
    props = [str(work / "worker.properties"), str(work / "connector.properties")]
    if jvm:
        command = [str(SERVICES), "connect-standalone", *props]
        env = {**os.environ, "SLUICE_CONNECT_LOG_DIR": str(work)}
        log_file = work / "kafka.log"
    else:
        command = [binary, "standalone", *props]
        env = {**os.environ, "SLUICE_LOG": "info"}
        log_file = work / "console.log"
    return Run(row, work, name, out, port, command, env, work / "console.log", log_file)


class LineCounter:
    """Counts the lines of a growing file, reading only what was added since the last call."""

    def __init__(self, path: Path):
        self.path, self.offset, self.lines = path, 0, 0

    def count(self) -> int:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:
            return 0
        self.offset += len(chunk)
        self.lines += chunk.count(b"\n")
        return self.lines


def task_running(run: Run) -> bool:
    try:
        r = requests.get(f"http://127.0.0.1:{run.port}/connectors/{run.name}/status", timeout=1)
        return r.status_code == 200 and [t["state"] for t in r.json().get("tasks", [])] == ["RUNNING"]
    except (requests.RequestException, ValueError):
        return False


def tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except FileNotFoundError:
        return "(no log)"


def measure(run: Run, events: int) -> None:
    """Starts the process and measures it until its file holds `events` lines; then stops it
    and checks the count."""
    row = run.row
    counter = LineCounter(run.out)
    busy0 = machine_busy_s()
    t0 = time.monotonic()
    with open(run.console, "ab") as console:
        proc = subprocess.Popen(run.command, stdout=console, stderr=subprocess.STDOUT, env=run.env,
                                start_new_session=True)
    try:
        next_status = t0
        while True:
            now = time.monotonic()
            if proc.poll() is not None:
                raise RuntimeError(f"exited with {proc.returncode} before writing {events:,} lines "
                                   f"({counter.count():,} written); log:\n{tail(run.log)}\n{tail(run.console)}")
            if now - t0 > TIMEOUT_S:
                raise RuntimeError(f"{counter.count():,} of {events:,} lines after {TIMEOUT_S} s; "
                                   f"log:\n{tail(run.log)}")
            # Start-up: until the REST API says the task runs (asked at most every 0.1 s).
            if run.startup_s is None and now >= next_status:
                next_status = now + 0.1
                if task_running(run):
                    run.startup_s = time.monotonic() - t0
            if counter.count() >= events:
                row.wall_s = time.monotonic() - t0
                row.cpu_s = proc_cpu_s(proc.pid)
                row.peak_rss_kib = proc_hwm_kib(proc.pid)
                row.others_cpu_s = machine_busy_s() - busy0 - row.cpu_s
                break
            time.sleep(0.02)
    finally:
        stop(proc)
    lines = counter.count()
    if lines != events:
        raise RuntimeError(f"{run.out} holds {lines:,} lines after the worker stopped; {events:,} records were read")
    if run.startup_s is None:
        run.startup_s = row.wall_s  # the task finished before the REST API was asked
    rate_after = events / max(row.wall_s - run.startup_s, 1e-9)
    row.note = f"start-up {run.startup_s:.1f} s (task RUNNING); {rate_after:,.0f} rec/s after it"


def sorted_lines(path: Path) -> list[bytes]:
    return sorted(path.read_bytes().splitlines())


def run_filesink_pair(bootstrap: str, binary: str, events: int, tmp_dir: str | None,
                      topics) -> tuple[list[Row], list[str]]:
    """Kafka Connect's JVM runtime, then Sluice, each reading `events` records of the envelope
    topic (`topics.ensure("json-envelope", events)`) into a file. Returns the measured rows
    (kinds "connect-jvm" and "sluice-file") and a message per failed run or check."""
    topic = topics.ensure("json-envelope", events)
    rows = [Row("J  Kafka Connect (JVM) FileStreamSink", "connect-jvm", topic),
            Row("S  Sluice FileStreamSink", "sluice-file", topic)]
    failures: list[str] = []
    runs: list[Run] = []
    for row in rows:
        log(f"{row.label}: running")
        run = None
        try:
            run = prepare(row, bootstrap, binary, tmp_dir)
            runs.append(run)
            measure(run, events)
            row.ok = True
            log(f"  {row.wall_s:.1f} s wall, {row.cpu_s:.1f} CPU-s, peak RSS {row.peak_rss_kib / 1024:.0f} MiB, "
                f"{row.note}")
        except Exception as e:
            failures.append(f"{row.label}: {e}")
            log(f"{row.label}: FAILED: {e}")
        finally:
            if run is not None:
                forget_group(bootstrap, f"connect-{run.name}")
    done = [run for run in runs if run.row.ok]
    if len(done) == 2:
        jvm, sluice = (sorted_lines(run.out) for run in done)
        if jvm != sluice:
            first = next((i for i, (a, b) in enumerate(zip(jvm, sluice)) if a != b), min(len(jvm), len(sluice)))
            failures.append(f"the two files differ (sorted, first at line {first}: "
                            f"JVM {jvm[first:first + 1]!r}, Sluice {sluice[first:first + 1]!r})")
            for run in done:
                run.row.note += "; OUTPUT DIFFERS"
        else:
            log(f"  both files hold the same {len(jvm):,} lines, e.g. {jvm[0].decode(errors='replace')}")
    for run in runs:
        if run.row.ok and not failures:
            shutil.rmtree(run.work, ignore_errors=True)
        else:
            log(f"  kept {run.work} (worker log, output)")
    return [row for row in rows if row.ok], failures


def print_pair(rows: list[Row], machine: str) -> None:
    print()
    print(machine)
    if rows:
        t = rows[0].topic
        print(f"Input: {t.name}: {t.records:,} records, {t.payload_bytes / 1e6:.1f} MB of values "
              f"({t.payload_bytes / t.records:.0f} B/record); one task each, into one file")
    print()
    cells = [["row", "records/s", "CPU-s", "CPU-s/M rec", "peak RSS", "wall s", "others' CPU-s", "note"]]
    for r in rows:
        cells.append([r.label, f"{r.records_per_s:,.0f}", f"{r.cpu_s:.1f}", f"{r.cpu_per_million:.2f}",
                      f"{r.peak_rss_kib / 1024:.0f} MiB", f"{r.wall_s:.1f}", f"{r.others_cpu_s:.1f}", r.note])
    print_table(cells)
    jvm = next((r for r in rows if r.kind == "connect-jvm"), None)
    sluice = next((r for r in rows if r.kind == "sluice-file"), None)
    print(f"Goal (issue 12): Sluice at least {GOAL_RATE_RATIO:.0f}x the JVM's records/s at no more than "
          f"1/{1 / GOAL_RSS_RATIO:.0f} of its peak RSS. Wall, CPU and RSS are the whole process's, start-up included.")
    if jvm is None or sluice is None:
        print("  not judged: a row is missing")
        return
    rate = sluice.records_per_s / jvm.records_per_s
    rss = sluice.peak_rss_kib / jvm.peak_rss_kib
    cpu = sluice.cpu_s / jvm.cpu_s
    verdict = "PASS" if rate >= GOAL_RATE_RATIO and rss <= GOAL_RSS_RATIO else "MISS"
    print(f"  records/s S/J {rate:.2f}x ({'met' if rate >= GOAL_RATE_RATIO else 'missed'}); "
          f"peak RSS S/J {rss:.3f} ({'met' if rss <= GOAL_RSS_RATIO else 'missed'}); "
          f"CPU-s S/J {cpu:.2f}: {verdict}")
    print(f"'others' CPU-s' is what the rest of the machine used during the row ({os.cpu_count()} CPUs): "
          f"large values mean the row was disturbed.")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="records in the topic (default 1,000,000)")
    p.add_argument("--binary", default=str(release_binary(REPO)),
                   help="the sluice binary (cargo build --release -p sluice-worker --bin sluice)")
    p.add_argument("--tmp-dir", default=None, help="where each run's directory is made (default: the system's)")
    args = p.parse_args()
    bootstrap = require_env("SLUICE_KAFKA_BOOTSTRAP", "bench", services="kafka")
    if not Path(args.binary).exists():
        sys.exit(f"{args.binary} does not exist: cargo build --release -p sluice-worker --bin sluice")
    machine = machine_line()
    log(machine)
    topics = Topics(bootstrap, os.environ.get("SLUICE_REGISTRY_URL", ""))
    rows, failures = run_filesink_pair(bootstrap, args.binary, args.events, args.tmp_dir, topics)
    print_pair(rows, machine)
    if failures:
        print("\nRuns or checks that failed:")
        for f in failures:
            print(f"  {f}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
