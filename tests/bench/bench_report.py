"""The benchmarks' rows, how they are measured from outside and how they are printed: CPU and
peak RSS from /proc, the floor row (kcat reading a topic to /dev/null), the table with ratios
to the floor (row L), the issue's goals next to the numbers, the machine and commit, and perf's
top symbols. Shared by `parquet_bench.py`, `clickhouse_bench.py` and `bench.py`."""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench_topics import PARTITIONS, BenchTopic, log

REPO = Path(__file__).resolve().parents[2]
# The goals.
GOAL_CPU_RATIO = 2.0  # Sluice's CPU per record at most 2x the raw consume's
GOAL_RSS_MIB = 256  # peak RSS with 64 files open
GOAL_RATE_RATIO = 1.5  # Sluice into ClickHouse: records/s at least 1.5x ClickHouse's Kafka engine's
CLK_TCK = os.sysconf("SC_CLK_TCK")


@dataclass
class Row:
    """One measured run of one process."""

    label: str
    kind: str  # "kcat", "sluice", "kafka-engine", "python" (and the file-sink pair's kinds)
    topic: BenchTopic
    partitioner: dict[str, str] = field(default_factory=dict)
    open_files: int = 0
    config: dict[str, str] = field(default_factory=dict)  # more connector config (e.g. exactlyOnce)
    tasks: int = PARTITIONS  # the connector's tasks.max
    workers: int = 0  # 0: one standalone worker; n: a distributed cluster of n workers
    key: str = ""  # bench.py's name of the row (its goals and plots find rows by it)
    round: int = 1  # of a bench run with --repeat: which round (each round runs every row once)
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_kib: int = 0  # of a cluster: the sum of its workers' peaks
    others_cpu_s: float = 0.0
    server_cpu_s: float = 0.0  # a server the row writes into (clickhouse-server), same window
    loaded: int | None = None  # records done when the row stopped short of the whole topic
    note: str = ""
    ok: bool = False  # measured and checked

    @property
    def records(self) -> int:
        return self.topic.records if self.loaded is None else self.loaded

    @property
    def records_per_s(self) -> float:
        return self.records / self.wall_s

    @property
    def mb_per_s(self) -> float:
        return self.topic.payload_bytes * self.records / self.topic.records / 1e6 / self.wall_s

    @property
    def cpu_per_million(self) -> float:
        return self.cpu_s * 1e6 / max(self.records, 1)

    @property
    def server_cpu_per_million(self) -> float:
        return self.server_cpu_s * 1e6 / max(self.records, 1)


KIND_NAMES = {"json": "JSON", "avro": "Avro"}


def floor_row(topic: BenchTopic, suffix: str = "") -> Row:
    """Row L: kcat reading `topic` to /dev/null (`run_kcat`)."""
    return Row(f"L  kcat -> /dev/null ({KIND_NAMES.get(topic.kind, topic.kind)}){suffix}", "kcat", topic,
               key="L" if topic.kind == "json" else f"L-{topic.kind}")


def plan_rounds(repeat: int, topics: list[BenchTopic], keys: list[str], plan) -> list[Row]:
    """`repeat` rounds of rows (`--repeat`). A round runs every row once: kcat on each of
    `topics` first, as each round's rows are judged by its own floors, then `plan(key)` for each
    of `keys`; labels carry the round when there are several."""
    rows: list[Row] = []
    for n in range(1, repeat + 1):
        suffix = f" #{n}" if repeat > 1 else ""
        planned = [floor_row(topic, suffix) for topic in topics]
        for key in keys:
            row = plan(key)
            row.label += suffix
            planned.append(row)
        for row in planned:
            row.round = n
        rows += planned
    return rows


# ---------------------------------------------------------------------------------------------
# Measuring from outside: /proc

def proc_cpu_s(pid: int) -> float:
    """utime + stime of `pid` (all its threads) in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of proc(5)


def proc_hwm_kib(pid: int) -> int:
    """VmHWM (peak resident set) of `pid` in KiB; 0 once the process has exited."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def machine_busy_s() -> float:
    """CPU-seconds every CPU of the machine spent not idle since boot."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return (sum(values[:8]) - idle) / CLK_TCK


def run_kcat(row: Row, bootstrap: str) -> None:
    """The floor: librdkafka's consumer reading every partition to the end, output discarded."""
    cmd = ["kcat", "-C", "-b", bootstrap, "-t", row.topic.name, "-e", "-o", "beginning", "-q", "-f", ""]
    busy0 = machine_busy_s()
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    hwm = 0
    while True:
        try:
            hwm = max(hwm, proc_hwm_kib(proc.pid))
        except (FileNotFoundError, ProcessLookupError):
            pass
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            break
        time.sleep(0.02)
    row.wall_s = time.monotonic() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"kcat exited with {proc.returncode}: {proc.stderr.read().decode(errors='replace')}")
    row.cpu_s = usage.ru_utime + usage.ru_stime
    row.peak_rss_kib = max(hwm, usage.ru_maxrss)
    row.others_cpu_s = machine_busy_s() - busy0 - row.cpu_s


# ---------------------------------------------------------------------------------------------
# Printing


def fmt_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))


def print_inputs(machine: str, topics: list[BenchTopic]) -> None:
    print()
    print(machine)
    for t in topics:
        print(f"Input: {t.name}: {t.records:,} records in {PARTITIONS} partitions, "
              f"{t.payload_bytes / 1e6:.1f} MB of values ({t.payload_bytes / t.records:.0f} B/record)")
    print()


def print_table(cells: list[list[str]]) -> None:
    """`cells[0]` is the header; the first column is left-aligned, the others right-aligned."""
    widths = [max(len(c[i]) for c in cells) for i in range(len(cells[0]))]
    for i, c in enumerate(cells):
        print(fmt_row(c, widths))
        if i == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    print()


def markdown_table(cells: list[list[str]], text_columns: tuple[int, ...] = (0,)) -> str:
    """`cells` as a Markdown table: `text_columns` left-aligned, the numbers right-aligned."""
    def line(c: list[str]) -> str:
        return "| " + " | ".join(x.replace("|", "\\|") for x in c) + " |"
    width = len(cells[0])
    text = {i % width for i in text_columns}
    align = "|" + "|".join(" --- " if i in text else " ---: " for i in range(width)) + "|"
    return "\n".join([line(cells[0]), align, *map(line, cells[1:])]) + "\n"


def run_rows(rows: list[Row], run, failures: list[str]) -> None:
    """`run(row)` for each row in turn; a row that raises is left unmeasured (`ok` False) and
    its error added to `failures`, and the next row runs."""
    for row in rows:
        log(f"{row.label}: running")
        try:
            run(row)
        except Exception as e:
            failures.append(f"{row.label}: {e}")
            log(f"{row.label}: FAILED: {e}")
            continue
        row.ok = True
        log(f"  {row.wall_s:.1f} s wall, {row.cpu_s:.1f} CPU-s"
            + (f", clickhouse-server {row.server_cpu_s:.1f} CPU-s" if row.server_cpu_s else "")
            + (f", peak RSS {row.peak_rss_kib / 1024:.0f} MiB" if row.peak_rss_kib else "")
            + (f", {row.note}" if row.note else ""))


def print_report(rows: list[Row], machine: str, topics: list[BenchTopic]) -> None:
    """The Parquet benchmark's table: one row per run, ratios to kcat on the same topic in the
    same round (L), then the goals: on the run's figures, or with several rounds (--repeat) on
    the medians of the rounds (one run moves by a third on a shared machine, kcat's own row too)."""
    print_inputs(machine, topics)
    floors = {(r.round, r.topic.kind): r for r in rows if r.kind == "kcat"}
    header = ["row", "records/s", "MB/s", "CPU-s/M rec", "peak RSS", "CPU/rec vs L", "rec/s vs L", "wall s",
              "others' CPU-s", "output"]
    cells = [header]
    for r in rows:
        floor = floors.get((r.round, r.topic.kind))
        cells.append([
            r.label, f"{r.records_per_s:,.0f}", f"{r.mb_per_s:.1f}", f"{r.cpu_per_million:.2f}",
            f"{r.peak_rss_kib / 1024:.0f} MiB",
            ratio(r.cpu_per_million, floor.cpu_per_million) if floor else "-",
            ratio(r.records_per_s, floor.records_per_s) if floor else "-",
            f"{r.wall_s:.1f}", f"{r.others_cpu_s:.1f}", r.note,
        ])
    print_table(cells)
    print("L: kcat reading the row's own topic to /dev/null, in the same round.")
    rounds = max(r.round for r in rows)
    over = f", medians of {rounds} rounds" if rounds > 1 else ""
    print(f"Goals (issue 10{over}): Sluice's CPU per record within {GOAL_CPU_RATIO:.0f}x the raw consume's "
          f"(L, same topic); peak RSS under {GOAL_RSS_MIB} MiB with 64 files open.")
    for key in dict.fromkeys(r.key for r in rows if r.kind == "sluice"):
        runs = [r for r in rows if r.key == key]
        label = runs[0].label.removesuffix(" #1")
        floor_cpus = [f.cpu_per_million for (_, kind), f in floors.items() if kind == runs[0].topic.kind]
        parts = []
        if floor_cpus:
            cpu = statistics.median(r.cpu_per_million for r in runs) / statistics.median(floor_cpus)
            parts.append(f"CPU/record {cpu:.2f}x L {'met' if cpu <= GOAL_CPU_RATIO else 'MISSED'}")
        rss = statistics.median(r.peak_rss_kib for r in runs) / 1024
        rss_goal = f"peak RSS {rss:.0f} MiB {'met' if rss < GOAL_RSS_MIB else 'MISSED'}"
        if runs[0].open_files != 64:
            rss_goal += f" (goal is for 64 open files; this row has {runs[0].open_files})"
        parts.append(rss_goal)
        print(f"  {label}: " + "; ".join(parts))
    print(f"'others' CPU-s' is what the rest of the machine used during the row ({os.cpu_count()} CPUs): "
          f"large values mean the row was disturbed.")


def print_perf(data: str) -> None:
    """The top symbols by self time (flat), then the start of the report with call graphs."""
    def report(*extra: str) -> list[str]:
        return subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", *extra],
                              capture_output=True, text=True).stdout.splitlines()
    flat = [line for line in report("-g", "none", "--percent-limit", "0.5") if line.strip() and not line.startswith("#")]
    print(f"\nperf report -i {data} --stdio --no-children -g none (symbols over 0.5% self time):")
    print("\n".join(line[:160] for line in flat[:50]))
    by_dso = [line for line in report("-g", "none", "--sort", "dso") if line.strip() and not line.startswith("#")]
    print("\nby shared object:\n" + "\n".join(by_dso[:6]))
    print(f"\nperf report -i {data} --stdio --no-children | head -80:")
    print("\n".join(line[:160] for line in report()[:80]))


def machine_line() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                 "unknown CPU")
    nproc = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "unknown"
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()
    load = open("/proc/loadavg").read().split()[:3]
    return (f"Machine: nproc {nproc}, {model}; load average {' '.join(load)} at start. "
            f"Commit {commit}{' (with uncommitted changes)' if dirty else ''}.")


# ---------------------------------------------------------------------------------------------
# The ClickHouse benchmark's table (clickhouse_bench.py)

def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b > 0 else "-"


def print_clickhouse_report(rows: list[Row], idle: dict[str, float], machine: str, topics: list[BenchTopic],
                            server_version: str) -> None:
    """One row per run with the worker's and clickhouse-server's CPU, ratios to kcat on the same
    topic (L) and to the Kafka engine (K) of the same round, then the goals judged PASS or MISS:
    on the run's figures, or with several rounds (--repeat) on the medians of the rounds (one
    run moves by a third on a shared machine, kcat's own row too)."""
    print_inputs(machine, topics)
    floors = {(r.round, r.topic.kind): r for r in rows if r.kind == "kcat"}
    engines = {r.round: r for r in rows if r.kind == "kafka-engine"}
    done_engines = {n: e for n, e in engines.items() if e.loaded is None}
    header = ["row", "records/s", "MB/s", "CPU-s/M rec", "CH CPU-s/M", "total CPU-s/M", "CPU/rec vs L",
              "rec/s vs K", "total CPU vs K", "peak RSS", "wall s", "CH idle", "others' CPU-s", "note"]
    cells = [header]
    for r in rows:
        own = r.kind != "kafka-engine" and r.records > 0
        server = r.kind != "kcat" and r.records > 0
        total = (r.cpu_per_million if own else 0) + (r.server_cpu_per_million if server else 0)
        floor = floors.get((r.round, r.topic.kind))
        engine = done_engines.get(r.round)
        cells.append([
            r.label, f"{r.records_per_s:,.0f}", f"{r.mb_per_s:.1f}",
            f"{r.cpu_per_million:.2f}" if own else "-",
            f"{r.server_cpu_per_million:.2f}" if server else "-",
            f"{total:.2f}" if own or server else "-",
            ratio(r.cpu_per_million, floor.cpu_per_million) if own and floor else "-",
            ratio(r.records_per_s, engine.records_per_s) if r.kind == "sluice" and engine else "-",
            ratio(total, engine.server_cpu_per_million) if r.kind == "sluice" and engine else "-",
            f"{r.peak_rss_kib / 1024:.0f} MiB" if r.kind != "kafka-engine" else "-",
            f"{r.wall_s:.1f}", f"{idle.get(r.label, 0):.2f}/s", f"{r.others_cpu_s:.1f}", r.note,
        ])
    print_table(cells)
    print("CPU-s/M rec: the consuming process (kcat, the Sluice worker, P); CH CPU-s/M: clickhouse-server, "
          "all threads, same window; CH idle: the server's CPU rate in the 2 s before the row "
          "(it is shared); L: kcat on the same topic; K: the Kafka engine row.")
    print(f"The Kafka engine reads the JSON topic only: ClickHouse {server_version} has no AvroConfluent format.")
    if len(done_engines) < len(engines):
        print("The Kafka engine did not finish: its errors are in the server's clickhouse-server.err.log "
              "(tests/services/services.sh logs clickhouse names the log directory).")
    print()
    rounds = max(r.round for r in rows)
    over = f", medians of {rounds} rounds" if rounds > 1 else ""
    print(f"Goals (issue 11{over}): the worker's CPU per record within {GOAL_CPU_RATIO:.0f}x the raw consume's "
          f"(L, same topic); records/s at least {GOAL_RATE_RATIO}x ClickHouse's Kafka engine's (K).")
    engine_rates = [e.records_per_s for e in done_engines.values()]
    engine_rate = statistics.median(engine_rates) if engine_rates else None
    for key in dict.fromkeys(r.key for r in rows if r.kind == "sluice"):
        runs = [r for r in rows if r.key == key]
        label = runs[0].label.removesuffix(" #1")
        parts = []
        floor_cpus = [f.cpu_per_million for (_, kind), f in floors.items() if kind == runs[0].topic.kind]
        if floor_cpus:
            cpu = statistics.median(r.cpu_per_million for r in runs) / statistics.median(floor_cpus)
            parts.append(f"CPU/record {cpu:.2f}x L {'PASS' if cpu <= GOAL_CPU_RATIO else 'MISS'}")
        if not engines:
            parts.append("records/s vs K not measured (no engine row)")
        elif engine_rate is None:
            stopped = next(iter(engines.values()))
            until = (f"{ratio(runs[0].records_per_s, stopped.records_per_s)} its rate until it stopped"
                     if stopped.records else "it loaded nothing")
            parts.append(f"records/s vs K not judged: the engine did not finish ({until})")
        else:
            rate = statistics.median(r.records_per_s for r in runs) / engine_rate
            vs = " (K read the JSON topic)" if runs[0].topic.kind != "json" else ""
            parts.append(f"records/s {rate:.2f}x K{vs} {'PASS' if rate >= GOAL_RATE_RATIO else 'MISS'}")
        print(f"  {label}: " + "; ".join(parts))
    print(f"'others' CPU-s' is what the rest of the machine used during the row ({os.cpu_count()} CPUs), "
          f"beyond the row's process and clickhouse-server: large values mean the row was disturbed.")


def add_sluice_args(p, rows: list[str], repo: Path, output: str) -> None:
    """The options every bench shares: which rows, extra connector config, the binary, where
    output goes. `output` says what --keep-output keeps."""
    p.add_argument("--rows", default=",".join(rows), help=f"Sluice rows to run, of {','.join(rows)} (default: all)")
    add_run_args(p, repo, output)


def release_binary(repo: Path) -> Path:
    """Where `cargo build --release` puts `sluice`: under $CARGO_TARGET_DIR when it is set."""
    return Path(os.environ.get("CARGO_TARGET_DIR") or repo / "target") / "release" / "sluice"


def add_run_args(p, repo: Path, output: str) -> None:
    """`add_sluice_args` without --rows."""
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra connector config for every Sluice row, e.g. "
                        "consumer.override.queued.max.messages.kbytes=16384 (repeatable)")
    p.add_argument("--worker-set", action="append", default=[], metavar="KEY=VALUE",
                   help="extra worker config for the Sluice ClickHouse and Parquet rows, e.g. "
                        "sluice.batch.max.records=2000 (repeatable)")
    p.add_argument("--timeout", type=float, default=900, help="seconds a Sluice row may take")
    p.add_argument("--binary", default=str(release_binary(repo)),
                   help="the sluice binary (cargo build --release -p sluice-worker --bin sluice; "
                        "default: under $CARGO_TARGET_DIR, else the repository's target/)")
    p.add_argument("--tmp-dir", default=None, help="where output directories are made (default: the system's)")
    p.add_argument("--keep-output", action="store_true", help=f"keep each run's {output} and worker log")


def check_sluice_args(p, args, rows: list[str]) -> None:
    """Checks and normalises what `add_sluice_args` added (`args.rows` becomes a list)."""
    check_run_args(p, args)
    args.rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = set(args.rows) - set(rows)
    if unknown:
        p.error(f"unknown rows {sorted(unknown)}; choose from {rows}")


def check_run_args(p, args) -> None:
    for option, pairs in (("--set", args.set), ("--worker-set", args.worker_set)):
        if any("=" not in kv for kv in pairs):
            p.error(f"{option} takes KEY=VALUE")


def worker_props(args) -> dict[str, str]:
    """The worker config `--worker-set` adds."""
    return dict(kv.split("=", 1) for kv in args.worker_set)


def report_failures(failures: list[str]) -> int:
    """Lists the runs that failed; the exit status for them."""
    if not failures:
        return 0
    print("\nRuns that failed (their rows are missing above):")
    for f in failures:
        print(f"  {f}")
    return 1


def require_tools(binary: str) -> None:
    """kcat (the floor rows L and the topic census) and the release binary, which the harness
    then starts (SLUICE_BIN)."""
    if shutil.which("kcat") is None:
        sys.exit("kcat is not installed (the floor rows L and the topic census use it): apt-get install -y kcat")
    if not Path(binary).exists():
        sys.exit(f"{binary} does not exist: cargo build --release -p sluice-worker --bin sluice")
    os.environ["SLUICE_BIN"] = binary


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM (a runtime stops its tasks and commits), SIGKILL after 60 s."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
