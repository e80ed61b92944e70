"""The soak (issue 15): a steady load through one worker for an hour, its RSS and open file
descriptors sampled every 10 s, then every record checked in both sinks.

One distributed worker (a group of one) runs two connectors on one 4-partition topic: the
ClickHouse sink with `exactlyOnce=true` into a plain MergeTree table (nothing merges a duplicate
away) and the Parquet sink into a local directory (exactly once is built in), rotating by
`flush.size` and by `rotate.schedule.interval.ms`. `sluice gen` produces schemaless JSON at a
fixed rate. Every 10 s: VmRSS, VmHWM and Threads from /proc/PID/status, the entries of
/proc/PID/fd, CPU seconds, and each connector's committed offsets (its lag). When the load ends
the soak waits until both connectors committed to the end of the topic, then checks exact counts
and the bounds (see report.py), and writes soak.csv, soak.json, soak.png and SOAK.md.

Run through tests/soak/soak.sh, which starts the services and sets the environment.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[0] / "integration"))
sys.path.insert(0, str(HERE))

import numpy as np  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

from parquet_harness import ParquetTree, local_store, parquet_connector, wait_committed_to_end  # noqa: E402
from sluice_harness import REPO, ClickHouse, Kafka, clickhouse_connector, distributed_workers, env, unique, wait_for  # noqa: E402
from test_clickhouse_exactly_once import assert_exact, create_table  # noqa: E402

import report  # noqa: E402

PARTITIONS = 4
TASKS = 2  # per connector: each task holds two of the four partitions
INTERVAL_S = 10.0
DRAIN_TIMEOUT_S = 900.0
PARQUET_FLUSH_SIZE = 10_000  # records per partition: a size cut every 40 s at 1000 events/s
PARQUET_SCHEDULE_MS = 60_000  # and a wall-clock cut every minute
CLK_TCK = os.sysconf("SC_CLK_TCK")

COLUMNS = ["t_s", "phase", "rss_mib", "hwm_mib", "fds", "threads", "cpu_s", "produced",
           "ch_committed", "pq_committed", "ch_lag", "pq_lag", "ch_rows"]


def proc_sample(pid: int) -> dict:
    """RSS, high-water mark and threads from /proc/PID/status, open fds, CPU seconds."""
    status = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return {
        "rss_mib": int(status["VmRSS"].split()[0]) / 1024,
        "hwm_mib": int(status["VmHWM"].split()[0]) / 1024,
        "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
        "cpu_s": (int(stat[11]) + int(stat[12])) / CLK_TCK,  # utime + stime (fields 14, 15)
    }


def total_or_none(kafka: Kafka, connector: str, topic: str) -> int | None:
    try:
        return sum(kafka.committed(connector, topic, timeout=5).values())
    except Exception:  # a coordinator answer that times out: a gap in the plot, not a failure
        return None


class Soak:
    """The run's pieces and its samples."""

    def __init__(self, args):
        self.args = args
        self.work = Path(args.work)
        self.kafka = Kafka(env("SLUICE_KAFKA_BOOTSTRAP"))
        self.ch = ClickHouse(env("SLUICE_CLICKHOUSE_URL"))
        base = unique("soak")
        self.topic, self.table = f"events_{base}", f"events_{base}"
        self.ch_name, self.pq_name = f"ch-{base}", f"pq-{base}"
        self.parquet_dir = self.work / "parquet"
        self.samples: list[dict] = []
        self.csv_path = Path(args.out) / "soak.csv"
        self.t0 = 0.0
        (self.worker,) = distributed_workers(self.work, self.kafka.bootstrap, 1, f"sluice-{base}")
        self.gen: subprocess.Popen | None = None
        self.gen_log = self.work / "gen.log"

    # -- steps ------------------------------------------------------------------------------

    def setup(self) -> None:
        self.kafka.create_topic(self.topic, PARTITIONS)
        create_table(self.ch, self.table)
        self.worker.start()
        wait_for("the worker in its group",
                 lambda: self.worker.get("/sluice/cluster").json()["members"] == [self.worker.worker_id], timeout=120)
        connectors = [
            clickhouse_connector(self.ch_name, self.topic, self.table, self.ch.url, tasks=TASKS, exactlyOnce="true"),
            parquet_connector(self.pq_name, self.topic, local_store(self.parquet_dir), PARQUET_FLUSH_SIZE, tasks=TASKS,
                              **{"rotate.schedule.interval.ms": str(PARQUET_SCHEDULE_MS)}),
        ]
        for body in connectors:
            r = self.worker.post("/connectors", body)
            assert r.status_code == 201, r.text
        for name in (self.ch_name, self.pq_name):
            wait_for(f"{name}'s {TASKS} tasks RUNNING", lambda n=name: self.worker.task_states(n) == ["RUNNING"] * TASKS,
                     timeout=120)
        print(f"soak: topic {self.topic}, table {self.table}, connectors {self.ch_name} {self.pq_name}, "
              f"worker pid {self.worker.proc.pid}, data in {self.work}", flush=True)

    def start_load(self) -> None:
        cmd = [str(self.worker.binary), "gen", "--topic", self.topic, "--bootstrap-server", self.kafka.bootstrap,
               "--duration-s", str(self.args.duration), "--rate", str(self.args.rate)]
        with open(self.gen_log, "wb") as log:
            self.gen = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)

    def sample(self, phase: str) -> dict:
        if self.worker.proc.poll() is not None:
            raise AssertionError(f"the worker exited with {self.worker.proc.returncode}; log:\n{self.worker.log()}")
        s = {"t_s": round(time.monotonic() - self.t0, 1), "phase": phase, **proc_sample(self.worker.proc.pid)}
        # committed before the end offsets: read the other way round a commit made in between
        # would show as a negative lag
        s["ch_committed"] = total_or_none(self.kafka, self.ch_name, self.topic)
        s["pq_committed"] = total_or_none(self.kafka, self.pq_name, self.topic)
        try:
            s["produced"] = sum(self.kafka.end_offsets(self.topic).values())
        except Exception:
            s["produced"] = None
        for short in ("ch", "pq"):
            c = s[f"{short}_committed"]
            s[f"{short}_lag"] = None if c is None or s["produced"] is None else s["produced"] - c
        try:
            s["ch_rows"] = self.ch.scalar(f"SELECT count() FROM {self.table}")
        except Exception:
            s["ch_rows"] = None
        self.samples.append(s)
        with open(self.csv_path, "a", newline="") as f:
            csv.DictWriter(f, COLUMNS).writerow({k: (f"{v:.1f}" if isinstance(v, float) else v) for k, v in s.items()})
        return s

    def failed_tasks(self) -> list[str]:
        out = []
        for name in (self.ch_name, self.pq_name):
            for t in self.worker.get(f"/connectors/{name}/status").json().get("tasks", []):
                if t["state"] == "FAILED":
                    out.append(f"{name} task {t['id']}: {(t.get('trace') or '')[:2000]}")
        return out

    def run_load(self) -> None:
        """Samples every INTERVAL_S while gen runs (phase load), then until both connectors
        committed the whole topic (phase drain)."""
        with open(self.csv_path, "w", newline="") as f:
            csv.writer(f).writerow(COLUMNS)
        self.t0 = time.monotonic()
        self.start_load()
        k, phase, drain_started, last_print = 0, "load", None, -60.0
        while True:
            s = self.sample(phase)
            if s["t_s"] - last_print >= 60:
                last_print = s["t_s"]
                print(f"soak: t={s['t_s']:.0f}s {phase} rss={s['rss_mib']:.1f}MiB hwm={s['hwm_mib']:.1f}MiB "
                      f"fds={s['fds']} threads={s['threads']} cpu={s['cpu_s']:.0f}s produced={s['produced']} "
                      f"lag ch={s['ch_lag']} pq={s['pq_lag']}", flush=True)
            failed = self.failed_tasks()
            if failed:
                raise AssertionError("a task FAILED: " + "\n".join(failed))
            if phase == "load" and self.gen.poll() is not None:
                if self.gen.returncode != 0:
                    raise AssertionError(f"sluice gen exited with {self.gen.returncode}: {self.gen_log.read_text()[-2000:]}")
                phase, drain_started = "drain", s["t_s"]
                self.load_end_s = s["t_s"]
                print(f"soak: the load ended at t={s['t_s']:.0f}s: {gen_report(self.gen_log)}", flush=True)
            elif phase == "drain" and s["ch_lag"] == 0 and s["pq_lag"] == 0:
                break
            elif phase == "drain" and s["t_s"] - drain_started > DRAIN_TIMEOUT_S:
                raise AssertionError(f"the connectors did not commit the whole topic within {DRAIN_TIMEOUT_S:.0f}s: {s}")
            k += 1
            time.sleep(max(0.0, self.t0 + k * INTERVAL_S - time.monotonic()))

    def check_counts(self) -> dict:
        """Exact counts in both sinks; returns the numbers for the report (fails on a mismatch)."""
        ends = self.kafka.end_offsets(self.topic)
        produced = sum(ends.values())
        self.kafka.wait_committed_to_end(self.ch_name, self.topic, timeout=60)
        wait_committed_to_end(self.worker, self.kafka, self.pq_name, self.topic, timeout=60)
        out = {"produced": produced, "gen": gen_report(self.gen_log)}
        rows = self.ch.rows(f"SELECT count() AS n, uniqExact(_partition, _offset) AS coords FROM {self.table}")[0]
        out["clickhouse_rows"], out["clickhouse_distinct"] = int(rows["n"]), int(rows["coords"])
        tree = ParquetTree(self.parquet_dir, self.topic)
        out["parquet_files"] = len(tree.files)
        out["parquet_rows"] = sum(f.num_rows for f in tree.files)
        out["parquet_distinct"] = parquet_distinct(tree)
        print(f"soak: counts {out}", flush=True)
        assert_exact(self.ch, self.table, ends)  # count() == N, no coordinate or event twice, no gap
        tree.check_files()
        tree.check_no_overlap()
        tree.check_record_counts(ends)
        tree.check_state_objects(range(PARTITIONS))
        assert out["parquet_rows"] == out["parquet_distinct"] == produced, out
        out["exact"] = True
        return out


def parquet_distinct(tree: ParquetTree) -> int:
    """Distinct (partition, offset) over every file's rows, each file's rows in its own partition
    (numpy rather than a set of tuples: an hour is millions of rows)."""
    by_partition: dict[int, list[np.ndarray]] = {}
    for f in tree.files:
        t = pq.read_table(f.path, columns=["kafka_partition", "kafka_offset"])
        parts = t.column(0).to_numpy()
        assert (parts == f.partition).all(), f"{f.rel}: rows of other partitions"
        by_partition.setdefault(f.partition, []).append(t.column(1).to_numpy())
    return sum(len(np.unique(np.concatenate(chunks))) for chunks in by_partition.values())


def gen_report(path: Path) -> str:
    lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.startswith("produced ")]
    return lines[-1] if lines else ""


def log_findings(log: Path) -> dict:
    """WARN and ERROR lines of the worker's log, grouped by message (timestamps stripped)."""
    counts: dict[str, int] = {}
    levels = {"WARN": 0, "ERROR": 0}
    for line in log.read_text(errors="replace").splitlines():
        line = re.sub(r"\x1b\[[0-9;]*m", "", line)  # the worker colours its levels
        m = re.search(r"\b(WARN|ERROR)\b\s*(.*)", line)
        if not m:
            continue
        levels[m.group(1)] += 1
        msg = re.sub(r"\d+", "N", m.group(2))[:160]
        counts[f"{m.group(1)} {msg}"] = counts.get(f"{m.group(1)} {msg}", 0) + 1
    top = sorted(counts.items(), key=lambda kv: -kv[1])[:10]
    return {"warn": levels["WARN"], "error": levels["ERROR"], "top": top}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=3600)
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--work", required=True)
    p.add_argument("--out", default=str(REPO / "docs" / "soak"))
    args = p.parse_args()
    Path(args.out).mkdir(parents=True, exist_ok=True)
    soak = Soak(args)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    commit = report.commit()  # now: the tree may move on during an hour
    error, counts = None, {}
    try:
        soak.setup()
        soak.run_load()
        counts = soak.check_counts()
    except AssertionError as e:
        error = str(e)
        print(f"soak: FAILED: {error}", flush=True)
    finally:
        if soak.gen is not None and soak.gen.poll() is None:
            soak.gen.terminate()
        soak.worker.stop()
    result = report.evaluate(soak.samples, args.duration, getattr(soak, "load_end_s", None))
    run = {
        "started": started, "commit": commit, "nice": os.nice(0), "duration_s": args.duration, "rate": args.rate, "topic": soak.topic,
        "partitions": PARTITIONS, "tasks": TASKS, "parquet_flush_size": PARQUET_FLUSH_SIZE,
        "parquet_schedule_ms": PARQUET_SCHEDULE_MS, "binary": str(soak.worker.binary),
        "binary_built": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(soak.worker.binary.stat().st_mtime)), "work": str(soak.work),
        "log": log_findings(soak.worker.log_path), "error": error, "counts": counts,
    }
    ok = report.write(Path(args.out), soak.samples, result, run)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
