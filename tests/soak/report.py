"""The soak's verdict and its record: the bounds on RSS and open fds after the warm-up, the RSS
slope, the plot (soak.png), the numbers (soak.json) and the page (SOAK.md).

The bound: after a warm-up (the first 10 minutes, or the first sixth of a shorter run), RSS
stays below (RSS at the end of the warm-up) x 1.25 + 32 MiB and open fds below (fds at the end of
the warm-up) + 32. The slope is the least-squares line through RSS over the warm part of the
load, in MiB per hour: a leak shows as a steady positive slope long before it hits a bound.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
WARMUP_MAX_S = 600.0
RSS_FACTOR, RSS_SLACK_MIB, FD_SLACK = 1.25, 32.0, 32


def evaluate(samples: list[dict], duration_s: float, load_end_s: float | None) -> dict:
    warm_s = min(WARMUP_MAX_S, duration_s / 6)
    after = [s for s in samples if s["t_s"] >= warm_s]
    if len(after) < 2:
        return {"warmup_s": warm_s, "held": False, "why": f"only {len(samples)} samples, none after the warm-up"}
    warm = after[0]
    rss_bound = warm["rss_mib"] * RSS_FACTOR + RSS_SLACK_MIB
    fds_bound = warm["fds"] + FD_SLACK
    load_end = load_end_s if load_end_s is not None else samples[-1]["t_s"]
    warm_load = [s for s in after if s["t_s"] <= load_end]
    slope = None
    if len(warm_load) >= 2:
        t_h = np.array([s["t_s"] for s in warm_load]) / 3600
        slope = float(np.polyfit(t_h, np.array([s["rss_mib"] for s in warm_load]), 1)[0])
    first, last_load = samples[0], (warm_load or after)[-1]
    out = {
        "warmup_s": warm["t_s"],
        "load_end_s": load_end,
        "samples": len(samples),
        "rss_at_warmup_mib": warm["rss_mib"],
        "rss_bound_mib": rss_bound,
        "rss_max_after_warmup_mib": max(s["rss_mib"] for s in after),
        "rss_last_mib": samples[-1]["rss_mib"],
        "hwm_last_mib": samples[-1]["hwm_mib"],
        "rss_slope_mib_per_h": slope,
        "fds_at_warmup": warm["fds"],
        "fds_bound": fds_bound,
        "fds_min": min(s["fds"] for s in samples),
        "fds_max": max(s["fds"] for s in samples),
        "fds_max_after_warmup": max(s["fds"] for s in after),
        "threads_min": min(s["threads"] for s in samples),
        "threads_max": max(s["threads"] for s in samples),
        "cpu_share_of_one_core": (last_load["cpu_s"] - first["cpu_s"]) / max(1.0, last_load["t_s"] - first["t_s"]),
    }
    out["rss_held"] = out["rss_max_after_warmup_mib"] <= rss_bound
    out["fds_held"] = out["fds_max_after_warmup"] <= fds_bound
    out["held"] = out["rss_held"] and out["fds_held"]
    return out


def plot(path: Path, samples: list[dict], result: dict, title: str) -> None:
    t = np.array([s["t_s"] for s in samples]) / 60
    fig, (ax_rss, ax_fd, ax_lag) = plt.subplots(3, 1, figsize=(10, 9), sharex=True,
                                                gridspec_kw={"height_ratios": [3, 2, 2]})
    ax_rss.plot(t, [s["rss_mib"] for s in samples], label="RSS (VmRSS)", color="tab:blue")
    ax_rss.plot(t, [s["hwm_mib"] for s in samples], label="peak RSS (VmHWM)", color="tab:blue", ls=":", lw=1)
    ax_fd.plot(t, [s["fds"] for s in samples], label="open fds", color="tab:green")
    ax_fd.plot(t, [s["threads"] for s in samples], label="threads", color="tab:olive", lw=1)
    for key, label, color in (("ch_lag", "ClickHouse sink", "tab:orange"), ("pq_lag", "Parquet sink", "tab:purple")):
        ax_lag.plot(t, [np.nan if s[key] is None else s[key] for s in samples], label=label, color=color, lw=1)
    if "rss_bound_mib" in result:
        warm, end = result["warmup_s"] / 60, t[-1]
        ax_rss.hlines(result["rss_bound_mib"], warm, end, colors="tab:red", ls="--",
                      label=f"bound: {RSS_FACTOR}x RSS at warm-up end + {RSS_SLACK_MIB:.0f} MiB")
        ax_fd.hlines(result["fds_bound"], warm, end, colors="tab:red", ls="--", label=f"bound: fds at warm-up end + {FD_SLACK}")
        for ax in (ax_rss, ax_fd, ax_lag):
            ax.axvline(warm, color="grey", ls="--", lw=1)
            ax.axvline(result["load_end_s"] / 60, color="grey", ls=":", lw=1)
        ax_rss.text(warm, ax_rss.get_ylim()[0], " warm-up ends", color="grey", va="bottom")
        ax_lag.text(result["load_end_s"] / 60, ax_lag.get_ylim()[1], "load ends ", color="grey", va="top", ha="right")
    ax_rss.set_ylabel("MiB")
    ax_rss.set_ylim(bottom=0)
    ax_fd.set_ylabel("count")
    ax_fd.set_ylim(bottom=0)
    ax_lag.set_ylabel("records not committed")
    ax_lag.set_xlabel("minutes")
    for ax in (ax_rss, ax_fd, ax_lag):
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    ax_rss.set_title(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor())
    mem = next(int(ln.split()[1]) for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal"))
    return f"{os.cpu_count()} CPUs ({cpu}), {mem / 1024 / 1024:.0f} GiB RAM, Linux {platform.release()}"


def commit() -> str:
    def git(*args):
        return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True).stdout.strip()
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--untracked-files=no", "--", ".", ":!tests/soak", ":!docs/soak")
    return head + (" (with uncommitted changes)" if dirty else "")


def fmt(v, spec=".1f") -> str:
    return "–" if v is None else format(v, spec)


def write(out: Path, samples: list[dict], result: dict, run: dict) -> bool:
    counts = run.get("counts") or {}
    ok = bool(result.get("held")) and run.get("error") is None and counts.get("exact") is True
    run = {"commit": commit(), **run, "machine": machine(), "ok": ok}
    (out / "soak.json").write_text(json.dumps({"run": run, "result": result}, indent=2) + "\n")
    render(out, samples, result, run)
    print(f"soak: {'PASSED' if ok else 'FAILED'}; wrote {out}/soak.csv, soak.json, soak.png, SOAK.md", flush=True)
    print(json.dumps(result, indent=2), flush=True)
    return ok


def render(out: Path, samples: list[dict], result: dict, run: dict) -> None:
    title = f"sluice soak: {run['duration_s']} s at {run['rate']} events/s, commit {run['commit']}, {run['started']}"
    if samples:
        plot(out / "soak.png", samples, result, title)
    (out / "SOAK.md").write_text(page(run, result))


def read_csv(path: Path) -> list[dict]:
    """soak.csv's rows as the samples they were written from (an empty cell is None)."""
    kinds = {"phase": str, "fds": int, "threads": int, "rss_mib": float, "hwm_mib": float, "cpu_s": float, "t_s": float}
    with open(path, newline="") as f:
        return [{k: (None if v == "" else kinds.get(k, int)(v)) for k, v in row.items()} for row in csv.DictReader(f)]


def main() -> None:
    """Draws soak.png and SOAK.md again from soak.csv and soak.json (a change to the plot or the
    page needs no new hour); `run.notes` in soak.json, a list of sentences, becomes a section."""
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO / "docs" / "soak"
    saved = json.loads((out / "soak.json").read_text())
    render(out, read_csv(out / "soak.csv"), saved["result"], saved["run"])
    print(f"redrew {out}/soak.png and SOAK.md")


def page(run: dict, r: dict) -> str:
    c = run.get("counts") or {}
    log = run["log"]
    verdict = ("**held**" if r.get("held") else "**did not hold**") + (
        "" if run.get("error") is None else f"; the run failed: `{run['error'][:300]}`")
    slope = r.get("rss_slope_mib_per_h")
    lines = [
        "# Soak: an hour of steady load",
        "",
        "Issue 15: one hour of steady load through one worker, its RSS and open file descriptors",
        "sampled every 10 s; after a warm-up they must stay within a bound, and both sinks must hold",
        "every record exactly once. Documented here, not run in CI. This page, `soak.csv`,",
        "`soak.json` and `soak.png` are written by `tests/soak/soak.sh`.",
        "",
        "## What ran",
        "",
        f"- Commit `{run['commit']}`, the debug build of `sluice` (`{run['binary']}`, built "
        f"{run['binary_built']}), started {run['started']}.",
        f"- Machine: {run['machine']}" + (f"; the soak ran under `nice -n {run['nice']}`." if run.get("nice") else "."),
        f"- Load: `sluice gen` (schemaless JSON, no key) at {run['rate']} events/s for {run['duration_s']} s into one "
        f"topic of {run['partitions']} partitions; gen reported: `{c.get('gen') or '–'}`.",
        f"- One distributed worker (a group of one) with two connectors on that topic, {run['tasks']} tasks each:",
        "  - ClickHouse sink, `exactlyOnce=true`, into a plain `MergeTree` table with `_topic`, `_partition`,",
        "    `_offset` columns (ClickHouse 18.16 from Debian);",
        f"  - Parquet sink into a local directory (`store.url=file:///…`), `flush.size={run['parquet_flush_size']}`,",
        f"    `rotate.schedule.interval.ms={run['parquet_schedule_ms']}`, with `InsertField` adding each record's",
        "    partition and offset as columns.",
        "- Kafka 4.x (single node) and ClickHouse from `tests/services/services.sh`, on ports of their own.",
        "",
        "## Result",
        "",
        f"The bound {verdict}.",
        "",
        "| measure | value |",
        "|---|---|",
        f"| warm-up (bound checked after it) | {fmt(r.get('warmup_s'), '.0f')} s |",
        f"| RSS at the end of the warm-up | {fmt(r.get('rss_at_warmup_mib'))} MiB |",
        f"| RSS bound (x {RSS_FACTOR} + {RSS_SLACK_MIB:.0f} MiB) | {fmt(r.get('rss_bound_mib'))} MiB |",
        f"| RSS max after the warm-up | {fmt(r.get('rss_max_after_warmup_mib'))} MiB |",
        f"| RSS at the end / peak RSS (VmHWM) | {fmt(r.get('rss_last_mib'))} / {fmt(r.get('hwm_last_mib'))} MiB |",
        f"| RSS slope after the warm-up (least squares, load phase) | {fmt(slope, '+.2f')} MiB/hour |",
        f"| open fds at the end of the warm-up / bound | {fmt(r.get('fds_at_warmup'), 'd')} / {fmt(r.get('fds_bound'), 'd')} |",
        f"| open fds min / max (whole run) | {fmt(r.get('fds_min'), 'd')} / {fmt(r.get('fds_max'), 'd')} |",
        f"| threads min / max | {fmt(r.get('threads_min'), 'd')} / {fmt(r.get('threads_max'), 'd')} |",
        f"| worker CPU (share of one core, load phase) | {fmt(r.get('cpu_share_of_one_core'), '.2f')} |",
        f"| records produced | {fmt(c.get('produced'), ',d')} |",
        f"| ClickHouse `count()` / distinct (partition, offset) | {fmt(c.get('clickhouse_rows'), ',d')} / "
        f"{fmt(c.get('clickhouse_distinct'), ',d')} |",
        f"| Parquet files / rows / distinct (partition, offset) | {fmt(c.get('parquet_files'), ',d')} / "
        f"{fmt(c.get('parquet_rows'), ',d')} / {fmt(c.get('parquet_distinct'), ',d')} |",
        f"| exactly once in both sinks | {'yes' if c.get('exact') else 'no'} |",
        f"| worker log: WARN / ERROR lines | {log['warn']} / {log['error']} |",
        "",
        "![RSS, open fds and threads, and each connector's lag over the run](soak.png)",
        "",
        "The dashed grey line is the end of the warm-up, the dotted one the end of the load (then the",
        "connectors commit what is left), the red dashes the bounds. The lag is the topic's end offsets",
        "minus the connector's committed offsets, summed over the partitions.",
        "",
    ]
    if run.get("notes"):
        lines += ["Notes on this run:", ""] + [f"- {n}" for n in run["notes"]] + [""]
    if log["top"]:
        lines += ["Most frequent WARN / ERROR messages of the worker (digits replaced by N):", "", "```"]
        lines += [f"{n:6d}  {msg}" for msg, n in log["top"]]
        lines += ["```", ""]
    lines += [
        "## How to run it",
        "",
        "```",
        "cargo build -p sluice-worker",
        "tests/soak/soak.sh [SECONDS [RATE]]      # default: 3600 s at 1000 events/s",
        "```",
        "",
        "It starts Kafka and ClickHouse with `tests/services/services.sh` (and leaves them running),",
        "runs the soak, and rewrites `docs/soak/` (or `$SLUICE_SOAK_OUT`). The exit status is non-zero",
        "when a bound or a count fails. Worker data, the Parquet files and the logs stay in",
        "`<build>/soak/<time>/` (or `$SLUICE_SOAK_DIR`). To keep the soak away from services other",
        "tests stop and start, give it a build directory and ports of its own, and a copy of the",
        "binary that a rebuild cannot replace, e.g.:",
        "",
        "```",
        "cp -p target/debug/sluice /tmp/sluice-soak",
        "SLUICE_BIN=/tmp/sluice-soak SLUICE_BUILD_DIR=/tmp/soak-build \\",
        "SLUICE_KAFKA_PORT=19092 SLUICE_KAFKA_CONTROLLER_PORT=19093 SLUICE_KAFKA_PROXIED_PORT=19094 \\",
        "SLUICE_KAFKA_PROXY_PORT=19095 SLUICE_KAFKA_SASL_SSL_PORT=19096 \\",
        "SLUICE_CLICKHOUSE_HTTP_PORT=18123 SLUICE_CLICKHOUSE_TCP_PORT=19000 SLUICE_CLICKHOUSE_HTTPS_PORT=18443 \\",
        "nice -n 5 tests/soak/soak.sh 3600 1000",
        "```",
        "",
        "(`SLUICE_BUILD_DIR` may symlink `kafka`, `venv`, `apicurio-registry` and `nginx` from `.build/`",
        "so nothing is installed again; stop the soak's services with the same variables and",
        "`tests/services/services.sh down kafka clickhouse`.)",
        "",
        "`soak.csv` has one row per 10 s: `t_s` (seconds since the load started), `phase` (`load`, then",
        "`drain` while the connectors commit the rest), `rss_mib`, `hwm_mib`, `fds`, `threads`, `cpu_s`",
        "(the worker's user + system CPU seconds), `produced` (the topic's end offsets, summed),",
        "`ch_committed` / `pq_committed` and `ch_lag` / `pq_lag` (per connector), and `ch_rows`",
        "(`count()` of the table).",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
