#!/usr/bin/env python3
"""One benchmark command (`make bench`): every contender side by side on this machine, on the
same pre-loaded topics (`bench-json-1m`, `bench-avro-1m`: 1,000,000 events, 4 partitions), in
ONE table of records/s, MB/s, CPU-seconds per million records of the contender and of
clickhouse-server, and peak RSS, with ratios to the first row (L), then issue 12's goals judged
PASS or MISS. BENCHMARKS.md says what each row is and how it is measured.

Row groups (`--only`, default all; L always runs, every ratio needs it):
  clickhouse  Sluice JSON / Avro -> ClickHouse, exactly-once on and off (`exactlyOnce`)
  parquet     Sluice JSON / Avro -> Parquet, Field(event_type) (exactly-once by design: no switch)
  peers       K: ClickHouse's Kafka engine; P: a hand-written Python consumer
  filesink    Kafka Connect's file sink vs Sluice's (tests/bench/filesink_bench.py, when present)
  scaling     Sluice JSON -> ClickHouse with 1, 2, 3 distributed workers, and one standalone
              worker with 1, 2, 4, 8 tasks (4 partitions: with 8 tasks 4 are idle)

The rows are run by the same functions as `make bench-clickhouse` (clickhouse_bench.py) and
`make bench-parquet` (parquet_bench.py). Output: the table on stdout, and in --out-dir
`results.md` (the table and goals in Markdown), `records_per_s.png` and `scaling.png`;
`--update-doc` also puts them into BENCHMARKS.md between its results markers.

    make bench                                          # 1M events: services, release build, this
    make bench BENCH_ARGS="--events 50000 --only clickhouse,peers"   # smoke run
    eval "$(tests/services/services.sh env)"; "$SLUICE_PYTHON" tests/bench/bench.py --help
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(HERE))

import clickhouse_bench  # noqa: E402
import parquet_bench  # noqa: E402
from bench_report import (Row, add_run_args, check_run_args, floor_row, machine_line, markdown_table,  # noqa: E402
                          print_inputs, print_table, report_failures, require_tools, run_rows)
from bench_topics import PARTITIONS, Topics, log, require_env  # noqa: E402
from goals import GOAL_ROW, goal_lines  # noqa: E402
from plot import plot_rates, plot_scaling  # noqa: E402

GROUPS = ["clickhouse", "parquet", "peers", "filesink", "scaling"]
NEEDS_CLICKHOUSE = {"clickhouse", "peers", "scaling"}
EXACTLY_ONCE = {"exactlyOnce": "true"}
DOC = REPO / "BENCHMARKS.md"
DOC_START = "<!-- bench:results:start -->"
DOC_END = "<!-- bench:results:end -->"


# ---------------------------------------------------------------------------------------------
# The rows

def plan(groups: list[str], json_topic, avro_topic) -> list[Row]:
    """Every row of the selected groups, in the table's order (the filesink pair comes later)."""
    rows = [floor_row(json_topic)]
    if avro_topic is not None:
        rows.append(floor_row(avro_topic))
    if "clickhouse" in groups:
        for key in ("sluice-json", "sluice-avro"):
            for eo in (True, False):
                row = clickhouse_bench.plan_row(key, json_topic, avro_topic)
                row.label += ", exactly-once" if eo else ", at-least-once"
                row.key = f"ch-{row.topic.kind}-{'eo' if eo else 'alo'}"
                row.config = {"exactlyOnce": "true" if eo else "false"}
                rows.append(row)
    if "parquet" in groups:
        rows += [parquet_bench.plan_row(key, json_topic, avro_topic) for key in ("json-field", "avro-field")]
    if "peers" in groups:
        rows += [clickhouse_bench.plan_row(key, json_topic, avro_topic) for key in ("engine", "python")]
    if "scaling" in groups:
        for n in (1, 2, 3):
            rows.append(Row(f"Sluice JSON -> ClickHouse, {n} distributed worker{'s' * (n > 1)}", "sluice", json_topic,
                            config=EXACTLY_ONCE, workers=n, key=f"dist-{n}"))
        for n in (1, 2, 4, 8):
            if n == PARTITIONS and "clickhouse" in groups:
                continue  # the goal row is this run
            idle = f" ({n - PARTITIONS} idle)" if n > PARTITIONS else ""
            rows.append(Row(f"Sluice JSON -> ClickHouse, standalone, {n} task{'s' * (n > 1)}{idle}", "sluice",
                            json_topic, config=EXACTLY_ONCE, tasks=n, key=f"tasks-{n}"))
    return rows


def into_clickhouse(row: Row) -> bool:
    return row.kind in ("kafka-engine", "python") or row.key.startswith(("ch-", "dist-", "tasks-"))


def run_filesink(args, topics: Topics, failures: list[str], notes: list[str]) -> list[Row]:
    """The file-sink pair from `filesink_bench.py` (another bench's module), if it exists."""
    try:
        from filesink_bench import run_filesink_pair
    except ImportError as e:
        notes.append(f"File-sink pair (Kafka Connect vs Sluice): not available ({e}).")
        return []
    log("file-sink pair: running")
    try:
        rows, fails = run_filesink_pair(args.bootstrap, args.binary, args.events, args.tmp_dir, topics)
    except Exception as e:
        failures.append(f"file-sink pair: {e}")
        return []
    failures += fails
    for r in rows:
        r.key = r.key or r.kind
        r.ok = r.ok or r.wall_s > 0
    return [r for r in rows if r.ok]


# ---------------------------------------------------------------------------------------------
# The table

def cells(rows: list[Row], idle: dict[str, float]) -> list[list[str]]:
    """The one table: ratios to the first row (L, kcat on the JSON topic). CPU-s/M is the
    contender's own process (summed over a cluster's workers); CH CPU-s/M clickhouse-server's in
    the same window, for the rows that write into it; total is both."""
    floor = rows[0]
    out = [["row", "records/s", "MB/s", "CPU-s/M", "CH CPU-s/M", "total CPU-s/M", "peak RSS", "rec/s vs L",
            "total CPU vs L", "wall s", "CH idle", "others' CPU-s", "note"]]
    for r in rows:
        own = r.kind != "kafka-engine"
        ch = into_clickhouse(r)
        total = (r.cpu_per_million if own else 0) + (r.server_cpu_per_million if ch else 0)
        out.append([
            r.label, f"{r.records_per_s:,.0f}", f"{r.mb_per_s:.1f}",
            f"{r.cpu_per_million:.2f}" if own else "-",
            f"{r.server_cpu_per_million:.2f}" if ch else "-",
            f"{total:.2f}",
            f"{r.peak_rss_kib / 1024:.0f} MiB" if own else "-",
            f"{r.records_per_s / floor.records_per_s:.2f}x",
            f"{total / floor.cpu_per_million:.2f}x" if floor.cpu_per_million else "-",
            f"{r.wall_s:.1f}", f"{idle[r.label]:.2f}/s" if r.label in idle else "-", f"{r.others_cpu_s:.1f}", r.note,
        ])
    return out


LEGEND = [
    "CPU-s/M: CPU-seconds per million records of the contender's process (kcat, the Sluice worker or the sum over "
    "a cluster's workers, P, the file sinks' processes), utime + stime from /proc over the row's window. "
    "CH CPU-s/M: clickhouse-server (all threads) in the same window, for rows that write into it; K runs inside "
    "the server, so only that. CH idle: the server's CPU rate in the 2 s before the row (it is shared). "
    "Peak RSS: VmHWM (of a cluster: the sum of its workers' peaks). 'others' CPU-s': what the rest of the machine "
    f"used in the window ({os.cpu_count()} CPUs): large values mean the row was disturbed.",
    "Ratios are to the first row, L (kcat reading the JSON topic to /dev/null). K reads the JSON topic only: "
    "ClickHouse 18.16 has no AvroConfluent format.",
]


@dataclass
class Results:
    """What a run prints and writes."""

    machine: str
    topics: list
    table: list[list[str]]
    goals: list[str]  # a heading, then one line per goal
    notes: list[str]
    smoke: list[str]  # the smoke-run warning, if it is one

    def print(self) -> None:
        print_inputs(self.machine, self.topics)
        print_table(self.table)
        for line in LEGEND + [""] + self.goals + [""] + self.notes + self.smoke:
            print(line)

    def markdown(self, images: list[Path], base: Path) -> str:
        """The same in Markdown, the images linked relative to `base`."""
        md = [f"Run of {time.strftime('%Y-%m-%d %H:%M %Z')}. {self.machine}", ""]
        md += [f"- {t.name}: {t.records:,} records in {PARTITIONS} partitions, {t.payload_bytes / 1e6:.1f} MB of "
               f"values ({t.payload_bytes / t.records:.0f} B/record)" for t in self.topics]
        md += [""] + [f"**{s}**\n" for s in self.smoke]
        md += [markdown_table(self.table, text_columns=(0, -1))] + [f"{line}\n" for line in LEGEND]
        md += [self.goals[0], ""] + [f"- {g.strip()}" for g in self.goals[1:]] + [""]
        md += [f"{n}\n" for n in self.notes]
        md += [f"![{p.stem.replace('_', ' ')}]({os.path.relpath(p, base)})\n" for p in images]
        return "\n".join(md)


def results(rows: list[Row], idle: dict[str, float], machine: str, topics, notes: list[str], events: int) -> Results:
    smoke = ([f"SMOKE RUN: {events:,} events per topic; start-up and flush intervals dominate, so these "
              f"numbers are not a measurement."] if events < 1_000_000 else [])
    return Results(machine, topics, cells(rows, idle), goal_lines(rows), notes, smoke)


def update_doc(markdown: str, out_dir: Path) -> None:
    text = DOC.read_text()
    if DOC_START not in text or DOC_END not in text:
        sys.exit(f"{DOC} has no {DOC_START} ... {DOC_END} block to replace")
    head, rest = text.split(DOC_START, 1)
    tail = rest.split(DOC_END, 1)[1]
    DOC.write_text(f"{head}{DOC_START}\n{markdown}\n{DOC_END}{tail}")
    log(f"updated {DOC}")
    if out_dir.resolve().is_relative_to(REPO / "target"):
        log(f"note: the images are in {out_dir}, which git ignores: use --out-dir docs/bench to keep them")


# ---------------------------------------------------------------------------------------------

def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--events", type=int, default=1_000_000, help="events per topic (default 1,000,000)")
    p.add_argument("--only", default=",".join(GROUPS), help=f"row groups to run, of {','.join(GROUPS)} (default: all)")
    p.add_argument("--out-dir", default=str(REPO / "target" / "bench"),
                   help="where results.md and the PNGs go (default target/bench)")
    p.add_argument("--update-doc", action="store_true",
                   help="also replace the results block of BENCHMARKS.md (images linked from --out-dir)")
    clickhouse_bench.add_clickhouse_args(p)
    parquet_bench.add_parquet_args(p)
    add_run_args(p, REPO, "tables, Parquet files")
    args = p.parse_args()
    check_run_args(p, args)
    parquet_bench.finish_parquet_args(args, args.events)
    args.only = [g.strip() for g in args.only.split(",") if g.strip()]
    unknown = set(args.only) - set(GROUPS)
    if unknown:
        p.error(f"unknown row groups {sorted(unknown)}; choose from {GROUPS}")
    return args


def main() -> int:
    args = parse_args()
    services = "kafka registry clickhouse"
    args.bootstrap = require_env("SLUICE_KAFKA_BOOTSTRAP", "bench", services)
    args.registry_url = require_env("SLUICE_REGISTRY_URL", "bench", services)
    require_tools(args.binary)
    machine = machine_line()
    ch = ch_pid = None
    if NEEDS_CLICKHOUSE & set(args.only):
        args.clickhouse_url = require_env("SLUICE_CLICKHOUSE_URL", "bench", services)
        ch, version, ch_pid = clickhouse_bench.connect(args.clickhouse_url, args.clickhouse_pid)
        machine += f" ClickHouse {version}, pid {ch_pid}."
    log(machine)

    topics = Topics(args.bootstrap, args.registry_url)
    json_topic = topics.ensure("json", args.events)
    avro_topic = topics.ensure("avro", args.events) if {"clickhouse", "parquet"} & set(args.only) else None
    rows = plan(args.only, json_topic, avro_topic)
    idle: dict[str, float] = {}
    failures: list[str] = []
    notes: list[str] = []

    def run(row: Row) -> None:
        if row.key in ("json-field", "avro-field"):
            parquet_bench.run_sluice(row, args, None)
            row.note += "; exactly-once by design (no off switch)"
            return
        if into_clickhouse(row):
            idle[row.label] = clickhouse_bench.idle_rate(ch_pid)
        clickhouse_bench.run_row(row, args, ch, ch_pid)
        if row.workers > 1:
            row.note += f"; CPU and RSS of {row.workers} workers summed"

    run_rows(rows, run, failures)
    if "filesink" in args.only:
        file_rows = run_filesink(args, topics, failures, notes)
        at = next((i for i, r in enumerate(rows) if r.key.startswith(("dist-", "tasks-"))), len(rows))
        rows[at:at] = file_rows
    measured = [r for r in rows if r.ok]
    if not measured or measured[0].key != "L":
        print("Row L did not run: nothing to compare with.")
        return report_failures(failures) or 1

    out_dir = Path(args.out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    title = (f"{json_topic.records:,} events per topic{' (SMOKE RUN)' if args.events < 1_000_000 else ''}, "
             f"{machine.split(';')[0].removeprefix('Machine: ')}")
    images = [p for p in (plot_rates(measured, out_dir / "records_per_s.png", f"records/s, {title}"),
                          plot_scaling(measured, GOAL_ROW, out_dir / "scaling.png", f"Sluice scaling, {title}"))
              if p is not None]
    inputs = list({r.topic.name: r.topic for r in measured}.values())
    found = results(measured, idle, machine, inputs, notes, args.events)
    found.print()
    (out_dir / "results.md").write_text(found.markdown(images, out_dir))
    print(f"\nWritten: {out_dir / 'results.md'}" + "".join(f", {p.name}" for p in images))
    if args.update_doc:
        update_doc(found.markdown(images, DOC.parent), out_dir)
    else:
        print(f"To put them into {DOC.name}: the same command with --update-doc "
              f"(--out-dir docs/bench keeps the images in git).")
    return report_failures(failures)


if __name__ == "__main__":
    sys.exit(main())
