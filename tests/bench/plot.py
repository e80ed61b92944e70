"""The benchmark's two pictures, drawn with matplotlib's Agg backend (no display needed):
records/s per contender as horizontal bars, and records/s against the number of distributed
workers and of tasks in one standalone worker. `bench.py` calls them with its measured rows."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from bench_report import Row  # noqa: E402

FLOOR, SLUICE, PEER = "#8c8c8c", "#1f6fb4", "#e07b19"
THOUSANDS = FuncFormatter(lambda v, _pos: f"{v:,.0f}")


def is_scaling(row: Row) -> bool:
    return row.key.startswith(("dist-", "tasks-"))


def color(row: Row) -> str:
    if row.kind == "kcat":
        return FLOOR
    return SLUICE if row.kind.startswith("sluice") else PEER


def plot_rates(rows: list[Row], path: Path, title: str) -> Path | None:
    """One bar per row that is not a scaling row: grey the floor (L), blue Sluice, orange the
    peers (K, P, Kafka Connect)."""
    rows = [r for r in rows if not is_scaling(r)]
    if not rows:
        return None
    fig, ax = plt.subplots(figsize=(11, 0.42 * len(rows) + 1.6))
    rates = [r.records_per_s for r in rows]
    ax.barh(range(len(rows)), rates, color=[color(r) for r in rows])
    for y, (r, rate) in enumerate(zip(rows, rates)):
        text = f" {rate:,.0f}" + (" (did not finish)" if r.loaded is not None else "")
        ax.text(rate, y, text, va="center", fontsize=8)
    ax.set_yticks(range(len(rows)), [r.label for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(THOUSANDS)
    ax.set_xlabel("records/s (higher is better)")
    ax.set_title(title, fontsize=10)
    ax.margins(x=0.18)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_scaling(rows: list[Row], goal_key: str, path: Path, title: str) -> Path | None:
    """Left: a cluster of 1, 2, 3 distributed workers (one connector of 4 tasks); right: one
    standalone worker with 1, 2, 4, 8 tasks (the 4-task point is the goal row when it ran).
    Dashed lines: the floor (L) and the Kafka engine (K) for reference."""
    by_workers = sorted((r.workers, r.records_per_s) for r in rows if r.key.startswith("dist-"))
    by_tasks = sorted((r.tasks, r.records_per_s) for r in rows if r.key.startswith("tasks-") or r.key == goal_key)
    if not by_workers and not by_tasks:
        return None
    refs = [r for r in rows if r.key in ("L", "K") and r.loaded is None]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True)
    panels = [(axes[0], by_workers, "distributed workers (one connector, 4 tasks)"),
              (axes[1], by_tasks, "tasks in one standalone worker (4 partitions: above 4, idle)")]
    for ax, points, xlabel in panels:
        if points:
            xs, ys = zip(*points)
            ax.plot(xs, ys, marker="o", color=SLUICE, label="Sluice JSON -> ClickHouse")
            for x, y in points:
                ax.annotate(f"{y:,.0f}", (x, y), textcoords="offset points", xytext=(0, 7), ha="center", fontsize=8)
            ax.set_xticks(xs)
        else:
            ax.text(0.5, 0.5, "not run", transform=ax.transAxes, ha="center", color=FLOOR)
        for ref, style in zip(refs, ("--", ":")):
            ax.axhline(ref.records_per_s, linestyle=style, color=FLOOR if ref.kind == "kcat" else PEER,
                       label=f"{ref.label.split('  ')[0]}: {ref.records_per_s:,.0f}")
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_formatter(THOUSANDS)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="best")
    axes[0].set_ylabel("records/s")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
