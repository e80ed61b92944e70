#!/usr/bin/env python3
"""ClickHouse sink benchmark: the release `sluice` binary (one standalone worker, a connector of
4 tasks) loading 1,000,000 events from the real Kafka (4 partitions) into a real ClickHouse
table of the events shape (`create_events_table` of the integration harness), next to
- L: the floor of reading the same topic, kcat (librdkafka) to /dev/null, one row per topic;
- K: ClickHouse's own Kafka table engine (4 consumers) with a materialized view loading the
  JSON topic into the same table shape. Only JSON: Avro through the registry would need the
  `AvroConfluent` format, which the project's ClickHouse (18.16) does not have.

Each row is one run, measured from outside:
- records/s and MB/s (record value bytes / wall time). Sluice's wall time runs from the
  connector's creation (POST /connectors) until its table holds every event; the engine's from
  `CREATE TABLE ... ENGINE = Kafka` until the same. "Every event": `count()` reached the topic's
  records and, as rows may land twice (the engine re-reads after a rebalance), so did
  `uniqExact(session_id)` (every event has its own session id; asked once per new count, its
  scan left out of the window). Afterwards (not timed) Sluice's group must commit the topic.
- CPU-seconds per million records: utime + stime from /proc/<pid>/stat over the same window,
  for the worker (or kcat: its whole life, exact from wait4's rusage) and for the
  clickhouse-server process (every thread; found through the services' pid file or pgrep).
  The server is shared: "CH idle" is its CPU rate over 2 s just before the row (what the
  server spends without this row), and "others' CPU-s" what the rest of the machine did.
- peak RSS: VmHWM of the worker (each Sluice row starts a fresh worker) or of kcat.

Each table is checked afterwards: every event, all 16 event types; rows beyond the events
(duplicates) are shown in the note. A run that fails or misses events fails the script (exit 1);
the Kafka engine stalling or running out of time is reported as "did not finish" (a result
about the engine, not a failure); goals missed are printed, not failed: this is a measurement,
not a test.

    make bench-clickhouse                              # services, release build, this script
    make bench-clickhouse BENCH_ARGS="--events 100000" # smoke run
    eval "$(tests/services/services.sh env)"; "$SLUICE_PYTHON" tests/bench/clickhouse_bench.py --help

Files: `bench_topics.py` makes and checks the input topics; `bench_report.py` measures the
floor and prints the table.
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
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(HERE))

from bench_report import (Row, add_sluice_args, check_sluice_args, report_failures, machine_busy_s, machine_line, print_clickhouse_report,  # noqa: E402
                          proc_cpu_s, proc_hwm_kib, run_kcat)
from bench_topics import (EVENT_TYPES, PARTITIONS, CommitProbe, Topics, commit_beginning,  # noqa: E402
                          forget_group, log, require_env)
from sluice_harness import ClickHouse, Worker, clickhouse_connector  # noqa: E402

POLL_S = 0.2  # how often count() is asked, the same for Sluice and the engine
IDLE_SAMPLE_S = 2.0


# ---------------------------------------------------------------------------------------------
# clickhouse-server

def clickhouse_pid(explicit: int | None) -> int:
    """The clickhouse-server process: --clickhouse-pid, else the pid file of
    `tests/services/services.sh`, else the only clickhouse-server `pgrep` finds."""
    def is_server(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/exe").resolve().name in ("clickhouse-server", "clickhouse")
        except OSError:
            return False

    if explicit is not None:
        if not is_server(explicit):
            sys.exit(f"--clickhouse-pid {explicit} is not a running clickhouse-server")
        return explicit
    pid_file = Path(os.environ.get("SLUICE_BUILD_DIR", REPO / ".build")) / "services" / "clickhouse" / "clickhouse.pid"
    if pid_file.exists():
        pid = int(pid_file.read_text().strip() or 0)
        if pid and is_server(pid):
            return pid
    found = subprocess.run(["pgrep", "-f", "clickhouse-server"], capture_output=True, text=True).stdout.split()
    servers = [int(p) for p in found if is_server(int(p))]
    if len(servers) != 1:
        sys.exit(f"cannot tell which process is the ClickHouse server (pgrep found {servers or 'none'}): "
                 f"pass --clickhouse-pid")
    return servers[0]


def idle_rate(ch_pid: int) -> float:
    """CPU-seconds per second the server spends while this benchmark does nothing."""
    cpu0 = proc_cpu_s(ch_pid)
    time.sleep(IDLE_SAMPLE_S)
    return (proc_cpu_s(ch_pid) - cpu0) / IDLE_SAMPLE_S


def count(ch: ClickHouse, table: str) -> int:
    return ch.scalar(f"SELECT count() FROM {table}")


def active_parts(ch: ClickHouse, table: str) -> int:
    return ch.scalar(f"SELECT count() FROM system.parts WHERE database = currentDatabase() AND table = '{table}' "
                     f"AND active")


class TableWatch:
    """Whether a table holds every event of the topic, asked every POLL_S, and a log of how its
    rows grow (at most once a second), so a reader sees whether they arrive steadily or at once.

    count() is cheap but runs ahead of the events when some landed twice (an at-least-once
    re-delivery, e.g. the Kafka engine after a rebalance), so once it reaches the topic's
    records the distinct session ids are counted (a scan), once per new count. `clocks` reads
    the row's clocks (time, CPU); it is called whenever the count changes, before any scan, and
    `at_change` keeps what it read: the row ends there, without the cost of checking."""

    def __init__(self, ch: ClickHouse, table: str, records: int, clocks):
        self.ch, self.table, self.records, self.clocks = ch, table, records, clocks
        self.at_change = clocks()
        self.t0 = self.changed_at = time.monotonic()
        self.rows = 0
        self.events = 0  # distinct events (equal to rows while they are fewer than `records`)
        self.scans = 0
        self.logged_at = 0.0

    def done(self) -> bool:
        rows = count(self.ch, self.table)
        if rows != self.rows:
            self.at_change = self.clocks()
            self.rows, self.changed_at = rows, time.monotonic()
            if rows >= self.records:
                self.events = self.distinct()
                self.scans += 1
            else:
                self.events = rows
            if self.changed_at - self.logged_at >= 1 or self.events >= self.records:
                extra = f" ({self.events:,} distinct events)" if rows > self.events else ""
                log(f"    {self.changed_at - self.t0:5.1f} s: {rows:,} rows{extra}")
                self.logged_at = self.changed_at
        return self.events >= self.records

    def distinct(self) -> int:
        return self.ch.scalar(f"SELECT uniqExact(session_id) FROM {self.table}")


def check_table(row: Row, ch: ClickHouse, table: str) -> None:
    """Every event once (each has its own session id), all event types."""
    total, sessions, types = (int(v) for v in ch.query(
        f"SELECT count(), uniqExact(session_id), uniqExact(event_type) FROM {table} FORMAT TSV").split())
    log(f"  {table}: {total:,} rows, {sessions:,} distinct session ids, {types} event types")
    if sessions != row.topic.records or types != len(EVENT_TYPES):
        raise RuntimeError(f"{row.label}: {table} holds {sessions:,} distinct events of {row.topic.records:,} "
                           f"({types} event types)")
    if total != row.topic.records:
        row.note = f"{total - row.topic.records:,} duplicate rows; " + row.note


def drop(ch: ClickHouse, *tables: str) -> None:
    for t in tables:
        try:
            ch.query(f"DROP TABLE IF EXISTS {t}")
        except Exception as e:  # a leftover table is harmless
            log(f"  could not drop {t}: {e}")


# ---------------------------------------------------------------------------------------------
# Rows

def run_sluice(row: Row, args, ch: ClickHouse, ch_pid: int) -> None:
    """A fresh standalone worker; one connector of 4 tasks into a fresh table; measured until
    the table holds every record."""
    suffix = uuid.uuid4().hex[:8]
    name = f"bench-ch-{row.topic.kind}-{suffix}"
    table = f"bench_ch_{row.topic.kind}_{suffix}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=args.tmp_dir))
    worker = Worker(work / "worker", args.bootstrap, {"offset.flush.interval.ms": "1000"})
    probe = None
    try:
        ch.create_events_table(table)
        worker.start()
        pid = worker.proc.pid
        probe = CommitProbe(args.bootstrap, f"connect-{name}", row.topic.name)
        time.sleep(1)  # let the worker's start-up settle before the CPU baseline
        def clocks():
            return time.monotonic(), proc_cpu_s(pid), proc_cpu_s(ch_pid), machine_busy_s()

        t0, cpu0, ch0, busy0 = clocks()
        extra = dict(kv.split("=", 1) for kv in args.set)
        if row.topic.kind == "avro":
            extra["value.converter"] = "io.confluent.connect.avro.AvroConverter"
            extra["value.converter.schema.registry.url"] = args.registry_url
        r = worker.post("/connectors", clickhouse_connector(name, row.topic.name, table, args.clickhouse_url,
                                                            tasks=PARTITIONS, **extra))
        if r.status_code != 201:
            raise RuntimeError(f"creating {name} answered {r.status_code}: {r.text}")
        deadline = t0 + args.timeout
        checks = 0
        watch = TableWatch(ch, table, row.topic.records, clocks)
        while not watch.done():
            checks += 1
            if worker.proc.poll() is not None:
                raise RuntimeError(f"sluice exited with {worker.proc.returncode}; log:\n{worker.log()}")
            if checks % 10 == 0 and "FAILED" in worker.task_states(name):
                raise RuntimeError(f"a task of {name} FAILED: {worker.get(f'/connectors/{name}/status').text}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: after {args.timeout:.0f} s {table} holds {watch.events:,} events "
                                   f"of {row.topic.records:,}; log:\n{worker.log()}")
            time.sleep(POLL_S)
        t1, cpu1, ch1, busy1 = watch.at_change
        row.wall_s = t1 - t0
        row.cpu_s = cpu1 - cpu0
        row.server_cpu_s = ch1 - ch0
        row.others_cpu_s = busy1 - busy0 - row.cpu_s - row.server_cpu_s
        row.peak_rss_kib = proc_hwm_kib(pid)
        parts = active_parts(ch, table)
        commit_deadline = time.monotonic() + 120
        while not probe.done():
            if time.monotonic() > commit_deadline:
                raise RuntimeError(f"{name}: the table is full but 120 s later the group committed "
                                   f"{probe.committed()}, not the end offsets {probe.ends}")
            time.sleep(0.1)
        row.note = f"{parts} parts; committed +{time.monotonic() - t0 - row.wall_s:.1f} s"
        worker.delete(f"/connectors/{name}")
        check_table(row, ch, table)
    finally:
        t_stop = time.monotonic()
        worker.stop()
        log(f"  worker stopped in {time.monotonic() - t_stop:.1f} s")
        if probe is not None:
            probe.close()
        forget_group(args.bootstrap, f"connect-{name}")
        if args.keep_output:
            log(f"  kept table {table} and {work}")
        else:
            drop(ch, table)
            shutil.rmtree(work, ignore_errors=True)


def engine_ddl(queue: str, view: str, table: str, topic: str, group: str, bootstrap: str) -> tuple[str, str]:
    """The Kafka table and the view that moves its rows into `table`. 18.16 knows the settings
    kafka_broker_list, kafka_topic_list, kafka_group_name, kafka_format, kafka_row_delimiter,
    kafka_schema, kafka_num_consumers and kafka_max_block_size (not kafka_skip_broken_messages),
    and no virtual columns (_partition, _offset): the view fills the coordinates with 0, as
    Sluice's inserts leave them to their DEFAULT 0. Its JSONEachRow reads DateTime only as
    `YYYY-MM-DD hh:mm:ss`, so the timestamp arrives as text and the view parses it."""
    queue_sql = (
        f"CREATE TABLE {queue} (user_id String, event_type String, timestamp String, session_id String, "
        f"device String) ENGINE = Kafka SETTINGS kafka_broker_list = '{bootstrap}', "
        f"kafka_topic_list = '{topic}', kafka_group_name = '{group}', kafka_format = 'JSONEachRow', "
        f"kafka_row_delimiter = '\\n', kafka_num_consumers = {PARTITIONS}"
    )
    # 18.16 fills no DEFAULTs through `MATERIALIZED VIEW ... TO`: every column is selected.
    view_sql = (
        f"CREATE MATERIALIZED VIEW {view} TO {table} AS SELECT user_id, event_type, "
        f"parseDateTimeBestEffort(timestamp) AS timestamp, session_id, device, toInt32(0) AS kafka_partition, "
        f"toInt64(0) AS kafka_offset, now() AS inserted_at FROM {queue}"
    )
    return queue_sql, view_sql


def run_engine(row: Row, args, ch: ClickHouse, ch_pid: int) -> None:
    """ClickHouse's Kafka engine, 4 consumers of a fresh group started at the beginning of the
    topic, into a fresh table; measured until the table holds every record, or reported as not
    finished when it stalls or runs out of time."""
    suffix = uuid.uuid4().hex[:8]
    table = f"bench_ch_engine_{suffix}"
    queue, view = f"{table}_queue", f"{table}_mv"
    group = f"bench-ch-engine-{suffix}"
    queue_sql, view_sql = engine_ddl(queue, view, table, row.topic.name, group, args.bootstrap)
    try:
        ch.create_events_table(table)
        # The engine's librdkafka starts a group without offsets at the END of the topic unless
        # the server's config says <auto_offset_reset>smallest</auto_offset_reset>.
        commit_beginning(args.bootstrap, group, row.topic.name)
        def clocks():
            return time.monotonic(), proc_cpu_s(ch_pid), machine_busy_s()

        t0, ch0, busy0 = clocks()
        ch.query(queue_sql)
        ch.query(view_sql)
        deadline = t0 + args.engine_timeout
        watch = TableWatch(ch, table, row.topic.records, clocks)
        while not watch.done():
            now = time.monotonic()
            if now > deadline or now - watch.changed_at > args.engine_stall:
                why = (f"no new rows for {now - watch.changed_at:.0f} s" if now < deadline
                       else f"timeout {args.engine_timeout:.0f} s")
                t1, ch1, busy1 = clocks()
                row.wall_s = t1 - t0
                row.server_cpu_s = ch1 - ch0
                row.others_cpu_s = busy1 - busy0 - row.server_cpu_s
                row.loaded = watch.distinct()
                row.note = f"DID NOT FINISH: {row.loaded:,} of {row.topic.records:,} events ({why})"
                return
            time.sleep(POLL_S)
        t1, ch1, busy1 = watch.at_change
        row.wall_s = t1 - t0
        row.server_cpu_s = ch1 - ch0
        row.others_cpu_s = busy1 - busy0 - row.server_cpu_s
        row.note = f"{active_parts(ch, table)} parts"
        if watch.scans > 1:
            row.note += f", {watch.scans - 1} distinct-count scans in the window"
        drop(ch, view, queue)  # stops its consumers before the check
        check_table(row, ch, table)
    finally:
        drop(ch, view, queue)
        forget_group(args.bootstrap, group)
        if args.keep_output:
            log(f"  kept table {table}")
        else:
            drop(ch, table)


# ---------------------------------------------------------------------------------------------

ROWS = ["engine", "sluice-json", "sluice-avro"]


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="events per topic (default 1,000,000)")
    p.add_argument("--engine-timeout", type=float, default=900, help="seconds the Kafka engine row may take")
    p.add_argument("--engine-stall", type=float, default=90,
                   help="the Kafka engine row stops as 'did not finish' after this many seconds without new rows")
    p.add_argument("--clickhouse-pid", type=int, help="the clickhouse-server process (default: from the services' "
                                                      "pid file or pgrep)")
    add_sluice_args(p, ROWS, REPO, "table")
    args = p.parse_args()
    check_sluice_args(p, args, ROWS)
    return args


def main() -> int:
    args = parse_args()
    services = "kafka registry clickhouse"
    args.bootstrap = require_env("SLUICE_KAFKA_BOOTSTRAP", "bench-clickhouse", services)
    args.registry_url = require_env("SLUICE_REGISTRY_URL", "bench-clickhouse", services)
    args.clickhouse_url = require_env("SLUICE_CLICKHOUSE_URL", "bench-clickhouse", services)
    if shutil.which("kcat") is None:
        sys.exit("kcat is not installed (the floor rows L and the topic census use it): apt-get install -y kcat")
    if not Path(args.binary).exists():
        sys.exit(f"{args.binary} does not exist: cargo build --release -p sluice-worker --bin sluice")
    os.environ["SLUICE_BIN"] = args.binary
    ch = ClickHouse(args.clickhouse_url)
    try:
        server_version = ch.query("SELECT version()").strip()
    except Exception as e:
        sys.exit(f"ClickHouse at {args.clickhouse_url} does not answer ({e.__class__.__name__}): "
                 f"tests/services/services.sh up clickhouse")
    ch_pid = clickhouse_pid(args.clickhouse_pid)
    machine = f"{machine_line()} ClickHouse {server_version}, pid {ch_pid}."
    log(machine)

    topics = Topics(args.bootstrap, args.registry_url)
    json_topic = topics.ensure("json", args.events)
    avro_topic = topics.ensure("avro", args.events) if "sluice-avro" in args.rows else None

    rows = [Row("L  kcat -> /dev/null (JSON)", "kcat", json_topic)]
    if avro_topic is not None:
        rows.append(Row("L  kcat -> /dev/null (Avro)", "kcat", avro_topic))
    plans = {
        "engine": Row(f"K  ClickHouse Kafka engine (JSON, {PARTITIONS} consumers)", "kafka-engine", json_topic),
        "sluice-json": Row("Sluice JSON -> ClickHouse", "sluice", json_topic),
        "sluice-avro": Row("Sluice Avro -> ClickHouse", "sluice", avro_topic),
    }
    rows += [plans[key] for key in ROWS if key in args.rows]
    idle: dict[str, float] = {}
    failures: list[str] = []
    for row in rows:
        log(f"{row.label}: running")
        try:
            idle[row.label] = idle_rate(ch_pid)
            if row.kind == "kcat":
                run_kcat(row, args.bootstrap)
            elif row.kind == "kafka-engine":
                run_engine(row, args, ch, ch_pid)
            else:
                run_sluice(row, args, ch, ch_pid)
        except Exception as e:
            failures.append(f"{row.label}: {e}")
            log(f"{row.label}: FAILED: {e}")
            continue
        row.ok = True
        log(f"  {row.wall_s:.1f} s wall, {row.cpu_s:.1f} CPU-s, clickhouse-server {row.server_cpu_s:.1f} CPU-s"
            + (f", {row.note}" if row.note else ""))
    measured = [r for r in rows if r.ok]
    if measured:
        print_clickhouse_report(measured, idle, machine, [t for t in (json_topic, avro_topic) if t is not None],
                                server_version)
        if args.events < 1_000_000:
            print(f"With {args.events:,} events per topic start-up and flush intervals dominate: a smoke run, "
                  f"not a measurement.")
    return report_failures(failures)


if __name__ == "__main__":
    sys.exit(main())
