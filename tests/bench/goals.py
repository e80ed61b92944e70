"""Issue 12's goals, judged PASS or MISS on `bench.py`'s rows (found by `Row.key`). Most are on
the goal row: Sluice JSON -> ClickHouse, one standalone worker, 4 tasks, exactly-once."""

from __future__ import annotations

from bench_report import Row

GOAL_ROW = "ch-json-eo"  # the scaling group's "standalone, 4 tasks" when the clickhouse group did not run
CPU_VS_L = 2.0  # the worker's CPU per record at most 2x kcat's
RATE_VS_K = 1.5  # records/s at least 1.5x the Kafka engine's
RATE_VS_P = 5.0  # records/s at least 5x the hand-written Python consumer's
TOTAL_CPU_VS_K = 2.5  # worker + clickhouse-server CPU per record at most 2.5x the engine's (server only)
RSS_MIB = 96  # the worker's peak RSS
OTHERS_VS_GOAL_ROW = 1.5  # Avro and Parquet rows' CPU per record at most 1.5x the JSON -> ClickHouse row's
FILE_RATE_VS_CONNECT = 2.0  # Sluice's file sink: records/s at least 2x Kafka Connect's
FILE_RSS_VS_CONNECT = 0.25  # ... at most a quarter of its peak RSS


def verdict(name: str, value: str, ok: bool) -> str:
    return f"  {'PASS' if ok else 'MISS'}  {name}: {value}"


def not_judged(name: str, why: str) -> str:
    return f"  ----  {name}: not judged ({why})"


def goal_lines(rows: list[Row]) -> list[str]:
    """A heading, then one line per goal."""
    by = {r.key: r for r in rows if r.ok}
    g = by.get(GOAL_ROW) or by.get("tasks-4")
    floor, engine, python = by.get("L"), by.get("K"), by.get("P")
    out = [f"Goals (issue 12), on the row '{g.label}':" if g else
           "Goals (issue 12): the JSON -> ClickHouse row with 4 tasks did not run (groups clickhouse or scaling)."]
    if g is not None:
        name = f"worker CPU per record <= {CPU_VS_L:g}x L's"
        if floor is not None:
            ratio = g.cpu_per_million / floor.cpu_per_million
            out.append(verdict(name, f"{ratio:.2f}x", ratio <= CPU_VS_L))
        name = f"records/s >= {RATE_VS_K:g}x K's"
        total = f"worker + ClickHouse CPU per record <= {TOTAL_CPU_VS_K:g}x K's"
        if engine is None:
            out += [not_judged(name, "no K row: group peers"), not_judged(total, "no K row")]
        elif engine.loaded is not None:
            out += [not_judged(name, "K did not finish"), not_judged(total, "K did not finish")]
        else:
            ratio = g.records_per_s / engine.records_per_s
            out.append(verdict(name, f"{ratio:.2f}x", ratio >= RATE_VS_K))
            ratio = (g.cpu_per_million + g.server_cpu_per_million) / engine.server_cpu_per_million
            out.append(verdict(total, f"{ratio:.2f}x", ratio <= TOTAL_CPU_VS_K))
        name = f"records/s >= {RATE_VS_P:g}x P's"
        if python is None:
            out.append(not_judged(name, "no P row: group peers"))
        else:
            ratio = g.records_per_s / python.records_per_s
            out.append(verdict(name, f"{ratio:.2f}x", ratio >= RATE_VS_P))
        rss = g.peak_rss_kib / 1024
        out.append(verdict(f"worker peak RSS <= {RSS_MIB} MiB", f"{rss:.0f} MiB", rss <= RSS_MIB))
        # Avro against JSON with the same delivery; Parquet (always exactly-once) against the goal row.
        for key, base_key in [("ch-avro-eo", GOAL_ROW), ("ch-avro-alo", "ch-json-alo"), ("json-field", GOAL_ROW),
                              ("avro-field", GOAL_ROW)]:
            row, base = by.get(key), by.get(base_key) or g
            if row is None:
                continue
            ratio = row.cpu_per_million / base.cpu_per_million
            out.append(verdict(f"{row.label}: CPU per record <= {OTHERS_VS_GOAL_ROW:g}x '{base.label}'",
                               f"{ratio:.2f}x", ratio <= OTHERS_VS_GOAL_ROW))
    connect, sluice_file = by.get("connect-jvm"), by.get("sluice-file")
    name = f"file sink: records/s >= {FILE_RATE_VS_CONNECT:g}x Kafka Connect's at <= 1/{1 / FILE_RSS_VS_CONNECT:g} of its RSS"
    if connect is None or sluice_file is None:
        out.append(not_judged(name, "the file-sink pair did not run"))
    else:
        rate = sluice_file.records_per_s / connect.records_per_s
        rss = sluice_file.peak_rss_kib / max(connect.peak_rss_kib, 1)
        out.append(verdict(name, f"{rate:.2f}x the records/s at {rss:.2f}x the RSS",
                           rate >= FILE_RATE_VS_CONNECT and rss <= FILE_RSS_VS_CONNECT))
    return out
