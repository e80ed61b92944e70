"""The benchmark's rows and how they are printed: the table with ratios to the floor (row L),
the issue's goals next to the numbers, the machine and commit, and perf's top symbols."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from bench_topics import PARTITIONS, BenchTopic

REPO = Path(__file__).resolve().parents[2]
# The goals.
GOAL_CPU_RATIO = 2.0  # Sluice's CPU per record at most 2x the raw consume's
GOAL_RSS_MIB = 256  # peak RSS with 64 files open


@dataclass
class Row:
    """One measured run of one process."""

    label: str
    kind: str  # "kcat" or "sluice"
    topic: BenchTopic
    partitioner: dict[str, str] = field(default_factory=dict)
    open_files: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_kib: int = 0
    others_cpu_s: float = 0.0
    note: str = ""
    ok: bool = False  # measured and checked

    @property
    def records_per_s(self) -> float:
        return self.topic.records / self.wall_s

    @property
    def mb_per_s(self) -> float:
        return self.topic.payload_bytes / 1e6 / self.wall_s

    @property
    def cpu_per_million(self) -> float:
        return self.cpu_s * 1e6 / self.topic.records


def fmt_row(cells: list[str], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))


def print_report(rows: list[Row], machine: str, topics: list[BenchTopic]) -> None:
    print()
    print(machine)
    for t in topics:
        print(f"Input: {t.name}: {t.records:,} records in {PARTITIONS} partitions, "
              f"{t.payload_bytes / 1e6:.1f} MB of values ({t.payload_bytes / t.records:.0f} B/record)")
    print()
    floor = rows[0]
    header = ["row", "records/s", "MB/s", "CPU-s/M rec", "peak RSS", "CPU/rec vs L", "rec/s vs L", "wall s",
              "others' CPU-s", "output"]
    cells = [header]
    for r in rows:
        cells.append([
            r.label, f"{r.records_per_s:,.0f}", f"{r.mb_per_s:.1f}", f"{r.cpu_per_million:.2f}",
            f"{r.peak_rss_kib / 1024:.0f} MiB", f"{r.cpu_per_million / floor.cpu_per_million:.2f}x",
            f"{r.records_per_s / floor.records_per_s:.2f}x", f"{r.wall_s:.1f}", f"{r.others_cpu_s:.1f}", r.note,
        ])
    widths = [max(len(c[i]) for c in cells) for i in range(len(header))]
    for i, c in enumerate(cells):
        print(fmt_row(c, widths))
        if i == 0:
            print("-" * (sum(widths) + 2 * (len(widths) - 1)))
    print()
    print(f"Goals (issue): Sluice's CPU per record within {GOAL_CPU_RATIO:.0f}x the raw consume's (row L); "
          f"peak RSS under {GOAL_RSS_MIB} MiB with 64 files open.")
    for r in rows[1:]:
        if r.kind != "sluice":
            continue
        ratio = r.cpu_per_million / floor.cpu_per_million
        rss = r.peak_rss_kib / 1024
        rss_goal = f"peak RSS {rss:.0f} MiB {'met' if rss < GOAL_RSS_MIB else 'MISSED'}"
        if r.open_files != 64:
            rss_goal += f" (goal is for 64 open files; this row has {r.open_files})"
        print(f"  {r.label}: CPU/record {ratio:.2f}x L {'met' if ratio <= GOAL_CPU_RATIO else 'MISSED'}; {rss_goal}")
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
