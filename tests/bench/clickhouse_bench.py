#!/usr/bin/env python3
"""ClickHouse sink benchmark: the release `sluice` binary (one standalone worker, a connector of
4 tasks) loading 1,000,000 events from the real Kafka (4 partitions) into a real ClickHouse
table of the events shape with the Kafka coordinate columns `_topic`, `_partition`, `_offset`
(`create_table`; the sink fills them, and `--set exactlyOnce=true` reads them back), next to
- L: the floor of reading the same topic, kcat (librdkafka) to /dev/null, one row per topic;
- K: ClickHouse's own Kafka table engine (4 consumers) with a materialized view loading the
  JSON topic into the same table shape. Only JSON: Avro through the registry would need the
  `AvroConfluent` format, which the project's ClickHouse (18.16) does not have;
- P: a hand-written Python pipeline (`python_consumer.py`: confluent-kafka's Consumer, one HTTP
  INSERT of JSONEachRow per 10,000 rows, a commit after each insert) into the same table shape.

Each row is one run, measured from outside (`--repeat N` runs every row N times, round by round,
and judges the goals on the medians):
- records/s and MB/s (record value bytes / wall time). Sluice's wall time runs from the
  connector's creation (POST /connectors) until its table holds every event; the engine's from
  `CREATE TABLE ... ENGINE = Kafka` until the same; P's from its process's start. "Every event": `count()` reached the topic's
  records and, as rows may land twice (the engine re-reads after a rebalance), so did
  `uniqExact(session_id)` (every event has its own session id; asked once per new count, its
  scan left out of the window). Afterwards (not timed) Sluice's group must commit the topic.
- CPU-seconds per million records: utime + stime from /proc/<pid>/stat over the same window,
  for the worker (or kcat: its whole life, exact from wait4's rusage; or P) and for the
  clickhouse-server process (every thread; found through the services' pid file or pgrep).
  The server is shared: "CH idle" is its CPU rate over 2 s just before the row (what the
  server spends without this row), and "others' CPU-s" what the rest of the machine did.
- peak RSS: VmHWM of the worker (each Sluice row starts a fresh worker), of kcat or of P.
`run_sluice` also runs a distributed cluster of several workers (`Row.workers`; `bench.py`'s
scaling rows): their CPU and peak RSS are summed.

Each table is checked afterwards: every event, all 16 event types; rows beyond the events
(duplicates) are shown in the note. A run that fails or misses events fails the script (exit 1);
the Kafka engine stalling or running out of time is reported as "did not finish" (a result
about the engine, not a failure); goals missed are printed, not failed: this is a measurement,
not a test.

    make bench-clickhouse                              # services, release build, this script
    make bench-clickhouse BENCH_ARGS="--events 100000" # smoke run
    make bench-clickhouse BENCH_ARGS="--rows sluice-json,sluice-avro --repeat 5"  # goals on medians
    eval "$(tests/services/services.sh env)"; "$SLUICE_PYTHON" tests/bench/clickhouse_bench.py --help

Files: `bench_topics.py` makes and checks the input topics; `bench_report.py` measures the
floor and prints the table; `bench.py` runs these rows next to the Parquet and scaling ones.
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

from bench_report import (KIND_NAMES, Row, add_sluice_args, check_sluice_args, machine_busy_s, plan_rounds,  # noqa: E402
                          machine_line, print_clickhouse_report, proc_cpu_s, proc_hwm_kib, report_failures, run_kcat,
                          require_tools, run_rows, stop, worker_props)
from bench_topics import (EVENT_TYPES, PARTITIONS, BenchTopic, CommitProbe, Topics, commit_beginning,  # noqa: E402
                          forget_group, log, require_env, wait)
import requests  # noqa: E402
from confluent_kafka.admin import AdminClient  # noqa: E402
from sluice_harness import ClickHouse, Worker, clickhouse_connector, distributed_props  # noqa: E402

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


def connect(url: str, explicit_pid: int | None) -> tuple[ClickHouse, str, int]:
    """The server at `url`, its version and its process; exits saying what to start when it
    does not answer."""
    ch = ClickHouse(url)
    try:
        version = ch.query("SELECT version()").strip()
    except Exception as e:
        sys.exit(f"ClickHouse at {url} does not answer ({e.__class__.__name__}): tests/services/services.sh up clickhouse")
    return ch, version, clickhouse_pid(explicit_pid)


def idle_rate(ch_pid: int) -> float:
    """CPU-seconds per second the server spends while this benchmark does nothing."""
    cpu0 = proc_cpu_s(ch_pid)
    time.sleep(IDLE_SAMPLE_S)
    return (proc_cpu_s(ch_pid) - cpu0) / IDLE_SAMPLE_S


def create_table(ch: ClickHouse, table: str) -> None:
    """The README's event table with the Kafka coordinate columns that exactly-once reads back
    (the shape of `test_clickhouse_exactly_once.py`), ordered by them as `auto.create` orders,
    in a plain MergeTree partitioned by day: one insert spans several table partitions, and
    nothing merges a duplicate away. Every row writes a table of this shape, whether
    exactly-once is on or off: the sink fills the coordinates either way."""
    ch.query(
        f"CREATE TABLE {table} (user_id String, event_type String, timestamp DateTime, session_id String, "
        "device String, _topic String, _partition Int32, _offset Int64) "
        "ENGINE = MergeTree() PARTITION BY toYYYYMMDD(timestamp) ORDER BY (_topic, _partition, _offset)"
    )


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

def start_workers(row: Row, work: Path, args) -> tuple[list[Worker], str | None]:
    """One standalone worker, or `row.workers` distributed ones of a new cluster that have all
    joined its group; and the cluster's group (None for standalone)."""
    if row.workers == 0:
        return [Worker(work / "worker", args.bootstrap, worker_props(args)).start()], None
    group = f"bench-cluster-{work.name}"
    props = {**distributed_props(group), **worker_props(args)}
    workers = [Worker(work / f"worker-{i}", args.bootstrap, props, mode="distributed") for i in range(row.workers)]
    for w in workers:
        w.start()
    ids = sorted(w.worker_id for w in workers)
    wait(f"{row.workers} workers in group {group}",
         lambda: all(sorted(w.get("/sluice/cluster").json()["members"]) == ids for w in workers))
    return workers, group


def forget_cluster(bootstrap: str, group: str) -> None:
    """Deletes a distributed cluster's group and internal topics from the shared broker (best effort)."""
    forget_group(bootstrap, group)
    topics = [f"{group}-{t}" for t in ("configs", "offsets", "status")]
    admin = AdminClient({"bootstrap.servers": bootstrap, "log_level": 4})
    for topic, future in admin.delete_topics(topics, request_timeout=30).items():
        try:
            future.result(timeout=30)
        except Exception as e:  # leftover topics are harmless
            log(f"  could not delete topic {topic}: {e!r}")


def delete_connector(row: Row, worker: Worker, name: str) -> None:
    """DELETE /connectors/<name> after the measured window. A slow or hung delete does not spoil
    the row's numbers; the note says so (the worker is stopped anyway)."""
    t0 = time.monotonic()
    try:
        r = worker.delete(f"/connectors/{name}")
    except requests.Timeout:
        row.note += f"; DELETE /connectors did not answer in {time.monotonic() - t0:.0f} s"
        log(f"  DELETE /connectors/{name} did not answer; the worker is stopped anyway")
        return
    took = time.monotonic() - t0
    if r.status_code >= 300:
        raise RuntimeError(f"deleting {name} answered {r.status_code}: {r.text}")
    if took > 5:
        row.note += f"; DELETE /connectors took {took:.0f} s"


def run_sluice(row: Row, args, ch: ClickHouse, ch_pid: int) -> None:
    """Fresh workers (`start_workers`); one connector of `row.tasks` tasks into a fresh table;
    measured until the table holds every record. CPU and peak RSS are summed over the workers."""
    suffix = uuid.uuid4().hex[:8]
    name = f"bench-ch-{row.topic.kind}-{suffix}"
    table = f"bench_ch_{row.topic.kind}_{suffix}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=args.tmp_dir))
    workers: list[Worker] = []
    cluster = None
    probe = None
    try:
        create_table(ch, table)
        workers, cluster = start_workers(row, work, args)
        pids = [w.proc.pid for w in workers]
        probe = CommitProbe(args.bootstrap, f"connect-{name}", row.topic.name)
        time.sleep(1)  # let the workers' start-up settle before the CPU baseline
        def clocks():
            return time.monotonic(), sum(proc_cpu_s(p) for p in pids), proc_cpu_s(ch_pid), machine_busy_s()

        t0, cpu0, ch0, busy0 = clocks()
        extra = {**row.config, **dict(kv.split("=", 1) for kv in args.set)}
        if row.topic.kind == "avro":
            extra["value.converter"] = "io.confluent.connect.avro.AvroConverter"
            extra["value.converter.schema.registry.url"] = args.registry_url
        r = workers[0].post("/connectors", clickhouse_connector(name, row.topic.name, table, args.clickhouse_url,
                                                                tasks=row.tasks, **extra))
        if r.status_code != 201:
            raise RuntimeError(f"creating {name} answered {r.status_code}: {r.text}")
        deadline = t0 + args.timeout
        checks = 0
        watch = TableWatch(ch, table, row.topic.records, clocks)
        while not watch.done():
            checks += 1
            for w in workers:
                if w.proc.poll() is not None:
                    raise RuntimeError(f"sluice exited with {w.proc.returncode}; log:\n{w.log()}")
            if checks % 10 == 0 and "FAILED" in workers[0].task_states(name):
                raise RuntimeError(f"a task of {name} FAILED: {workers[0].get(f'/connectors/{name}/status').text}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name}: after {args.timeout:.0f} s {table} holds {watch.events:,} events "
                                   f"of {row.topic.records:,}; log:\n{workers[0].log()}")
            time.sleep(POLL_S)
        t1, cpu1, ch1, busy1 = watch.at_change
        row.wall_s = t1 - t0
        row.cpu_s = cpu1 - cpu0
        row.server_cpu_s = ch1 - ch0
        row.others_cpu_s = busy1 - busy0 - row.cpu_s - row.server_cpu_s
        row.peak_rss_kib = sum(proc_hwm_kib(p) for p in pids)
        parts = active_parts(ch, table)
        commit_deadline = time.monotonic() + 120
        while not probe.done():
            if time.monotonic() > commit_deadline:
                raise RuntimeError(f"{name}: the table is full but 120 s later the group committed "
                                   f"{probe.committed()}, not the end offsets {probe.ends}")
            time.sleep(0.1)
        row.note = f"{parts} parts; committed +{time.monotonic() - t0 - row.wall_s:.1f} s"
        delete_connector(row, workers[0], name)
        check_table(row, ch, table)
    finally:
        t_stop = time.monotonic()
        for w in workers:
            w.stop()
        if workers:
            log(f"  {'worker' if len(workers) == 1 else f'{len(workers)} workers'} stopped in "
                f"{time.monotonic() - t_stop:.1f} s")
        if probe is not None:
            probe.close()
        forget_group(args.bootstrap, f"connect-{name}")
        if cluster is not None:
            forget_cluster(args.bootstrap, cluster)
        if args.keep_output:
            log(f"  kept table {table} and {work}")
        else:
            drop(ch, table)
            shutil.rmtree(work, ignore_errors=True)


def engine_ddl(queue: str, view: str, table: str, topic: str, group: str, bootstrap: str) -> tuple[str, str]:
    """The Kafka table and the view that moves its rows into `table`. 18.16 knows the settings
    kafka_broker_list, kafka_topic_list, kafka_group_name, kafka_format, kafka_row_delimiter,
    kafka_schema, kafka_num_consumers and kafka_max_block_size (not kafka_skip_broken_messages),
    and no virtual columns (_partition, _offset): the view fills the topic and 0 for the
    coordinates. Its JSONEachRow reads DateTime only as `YYYY-MM-DD hh:mm:ss`, so the timestamp
    arrives as text and the view parses it."""
    queue_sql = (
        f"CREATE TABLE {queue} (user_id String, event_type String, timestamp String, session_id String, "
        f"device String) ENGINE = Kafka SETTINGS kafka_broker_list = '{bootstrap}', "
        f"kafka_topic_list = '{topic}', kafka_group_name = '{group}', kafka_format = 'JSONEachRow', "
        f"kafka_row_delimiter = '\\n', kafka_num_consumers = {PARTITIONS}"
    )
    # 18.16 fills no DEFAULTs through `MATERIALIZED VIEW ... TO`: every column is selected.
    view_sql = (
        f"CREATE MATERIALIZED VIEW {view} TO {table} AS SELECT user_id, event_type, "
        f"parseDateTimeBestEffort(timestamp) AS timestamp, session_id, device, '{topic}' AS _topic, "
        f"toInt32(0) AS _partition, toInt64(0) AS _offset FROM {queue}"
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
        create_table(ch, table)
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

def run_python(row: Row, args, ch: ClickHouse, ch_pid: int) -> None:
    """P: `python_consumer.py` as its own process, a fresh group from the beginning of the topic,
    into a fresh table; measured from its start until the table holds every record, then told
    to stop (SIGTERM: it closes its consumer, leaving the group)."""
    suffix = uuid.uuid4().hex[:8]
    table = f"bench_ch_python_{suffix}"
    group = f"bench-python-{suffix}"
    work = Path(tempfile.mkdtemp(prefix=f"bench-python-{suffix}-", dir=args.tmp_dir))
    log_path = work / "python_consumer.log"
    proc = None
    try:
        create_table(ch, table)
        cmd = [sys.executable, str(HERE / "python_consumer.py"), args.bootstrap, row.topic.name, group,
               args.clickhouse_url, table]
        def clocks():
            return time.monotonic(), proc_cpu_s(proc.pid), proc_cpu_s(ch_pid), machine_busy_s()

        t0, ch0, busy0 = time.monotonic(), proc_cpu_s(ch_pid), machine_busy_s()
        with open(log_path, "wb") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        deadline = t0 + args.timeout
        watch = TableWatch(ch, table, row.topic.records, clocks)
        while not watch.done():
            if proc.poll() is not None:
                raise RuntimeError(f"python_consumer.py exited with {proc.returncode}:\n"
                                   f"{log_path.read_text(errors='replace')[-3000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"P: after {args.timeout:.0f} s {table} holds {watch.events:,} events "
                                   f"of {row.topic.records:,}")
            time.sleep(POLL_S)
        t1, cpu1, ch1, busy1 = watch.at_change
        row.wall_s = t1 - t0
        row.cpu_s = cpu1
        row.server_cpu_s = ch1 - ch0
        row.others_cpu_s = busy1 - busy0 - row.cpu_s - row.server_cpu_s
        row.peak_rss_kib = proc_hwm_kib(proc.pid)
        row.note = f"{active_parts(ch, table)} parts"
        check_table(row, ch, table)
    finally:
        if proc is not None:
            stop(proc)
        forget_group(args.bootstrap, group)
        if args.keep_output:
            log(f"  kept table {table} and {work}")
        else:
            drop(ch, table)
            shutil.rmtree(work, ignore_errors=True)


def run_row(row: Row, args, ch: ClickHouse, ch_pid: int) -> None:
    """Any row of this bench, by its kind."""
    if row.kind == "kcat":
        run_kcat(row, args.bootstrap)
    elif row.kind == "kafka-engine":
        run_engine(row, args, ch, ch_pid)
    elif row.kind == "python":
        run_python(row, args, ch, ch_pid)
    else:
        run_sluice(row, args, ch, ch_pid)


# ---------------------------------------------------------------------------------------------

ROWS = ["engine", "python", "sluice-json", "sluice-avro"]


def plan_row(key: str, json_topic: BenchTopic, avro_topic: BenchTopic | None) -> Row:
    """The row `key` (one of ROWS); the Sluice rows with 4 tasks in one standalone worker."""
    if key == "engine":
        return Row(f"K  ClickHouse Kafka engine (JSON, {PARTITIONS} consumers)", "kafka-engine", json_topic, key="K")
    if key == "python":
        return Row("P  Python consumer (JSON, 10,000-row inserts)", "python", json_topic, key="P")
    topic = json_topic if key == "sluice-json" else avro_topic
    return Row(f"Sluice {KIND_NAMES[topic.kind]} -> ClickHouse", "sluice", topic, key=key)


def add_clickhouse_args(p) -> None:
    """The options of the K row and of the server (shared with `bench.py`)."""
    p.add_argument("--engine-timeout", type=float, default=900, help="seconds the Kafka engine row may take")
    p.add_argument("--engine-stall", type=float, default=90,
                   help="the Kafka engine row stops as 'did not finish' after this many seconds without new rows")
    p.add_argument("--clickhouse-pid", type=int, help="the clickhouse-server process (default: from the services' "
                                                      "pid file or pgrep)")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="events per topic (default 1,000,000)")
    p.add_argument("--repeat", type=int, default=1,
                   help="rounds of every row, kcat's included; the goals are then judged on the medians")
    add_clickhouse_args(p)
    add_sluice_args(p, ROWS, REPO, "table")
    args = p.parse_args()
    check_sluice_args(p, args, ROWS)
    if args.repeat < 1:
        p.error(f"--repeat must be at least 1, not {args.repeat}")
    return args


def main() -> int:
    args = parse_args()
    services = "kafka registry clickhouse"
    args.bootstrap = require_env("SLUICE_KAFKA_BOOTSTRAP", "bench-clickhouse", services)
    args.registry_url = require_env("SLUICE_REGISTRY_URL", "bench-clickhouse", services)
    args.clickhouse_url = require_env("SLUICE_CLICKHOUSE_URL", "bench-clickhouse", services)
    require_tools(args.binary)
    ch, server_version, ch_pid = connect(args.clickhouse_url, args.clickhouse_pid)
    machine = f"{machine_line()} ClickHouse {server_version}, pid {ch_pid}."
    log(machine)

    topics = Topics(args.bootstrap, args.registry_url)
    json_topic = topics.ensure("json", args.events)
    avro_topic = topics.ensure("avro", args.events) if "sluice-avro" in args.rows else None

    rows = plan_rounds(args.repeat, [t for t in (json_topic, avro_topic) if t is not None],
                       [key for key in ROWS if key in args.rows], lambda key: plan_row(key, json_topic, avro_topic))
    idle: dict[str, float] = {}
    failures: list[str] = []

    def run(row: Row) -> None:
        idle[row.label] = idle_rate(ch_pid)
        run_row(row, args, ch, ch_pid)

    run_rows(rows, run, failures)
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
