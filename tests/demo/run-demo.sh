#!/usr/bin/env bash
# The local demo: real Kafka and ClickHouse, a Sluice worker, two connectors POSTed over REST
# (ClickHouse, and Parquet files partitioned by event type and day), sample events produced with
# Confluent's Python client, and what landed printed at the end (the Parquet files read by duckdb).
#
#   make demo            (or tests/demo/run-demo.sh [EVENTS])
#
# Services stay up afterwards; stop them with `tests/services/services.sh down`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO"
EVENTS="${1:-${SLUICE_DEMO_EVENTS:-10000}}"
SERVICES="$REPO/tests/services/services.sh"
DEMO_DIR="$REPO/.build/demo"
REST=http://127.0.0.1:8083

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Starting Kafka and ClickHouse (installed from packages on first run)"
"$SERVICES" up kafka clickhouse
eval "$("$SERVICES" env)"

step "Building sluice"
cargo build --release -p sluice-worker --bin sluice
BIN="${CARGO_TARGET_DIR:-$REPO/target}/release/sluice"

step "Preparing a fresh topic and the events table"
TOPIC="events_$(date +%s)"
curl -sS --fail-with-body "$SLUICE_CLICKHOUSE_URL" --data-binary "DROP TABLE IF EXISTS events" >/dev/null
curl -sS --fail-with-body "$SLUICE_CLICKHOUSE_URL" --data-binary @config/clickhouse/events.sql >/dev/null
rm -rf "$DEMO_DIR" && mkdir -p "$DEMO_DIR"
"$SLUICE_PYTHON" - "$TOPIC" > "$DEMO_DIR/connector.json" <<'PY'
import json, sys
body = json.load(open("config/connectors/events-clickhouse.json"))
topic = sys.argv[1]
body["config"]["topics"] = topic
body["config"]["topic2TableMap"] = f"{topic}=events"
print(json.dumps(body, indent=2))
PY
"$SLUICE_PYTHON" - "$TOPIC" "$DEMO_DIR/parquet" > "$DEMO_DIR/parquet-connector.json" <<'PY'
import json, sys
body = json.load(open("config/connectors/events-parquet.json"))
body["config"]["topics"] = sys.argv[1]
body["config"]["store.url"] = f"file://{sys.argv[2]}"
print(json.dumps(body, indent=2))
PY

step "Starting a standalone worker (log: $DEMO_DIR/sluice.log)"
"$BIN" standalone config/worker.properties > "$DEMO_DIR/sluice.log" 2>&1 &
WORKER_PID=$!
trap 'kill $WORKER_PID 2>/dev/null || true; wait $WORKER_PID 2>/dev/null || true' EXIT
for _ in $(seq 1 60); do
    curl -sf "$REST/" >/dev/null && break
    sleep 0.5
done
curl -sS "$REST/"; echo

step "Producing $EVENTS sample events to $TOPIC (sluice gen)"
"$SLUICE_PYTHON" -c "import sys; sys.path.insert(0, 'tests/integration'); from sluice_harness import Kafka; Kafka(sys.argv[1]).create_topic(sys.argv[2], partitions=4)" "$SLUICE_KAFKA_BOOTSTRAP" "$TOPIC"
"$BIN" gen --topic "$TOPIC" --count "$EVENTS" --bootstrap-server "$SLUICE_KAFKA_BOOTSTRAP"

step "POST /connectors (ClickHouse and Parquet)"
START=$(date +%s.%N)
curl -sS -X POST -H 'Content-Type: application/json' --data @"$DEMO_DIR/connector.json" "$REST/connectors"; echo
curl -sS -X POST -H 'Content-Type: application/json' --data @"$DEMO_DIR/parquet-connector.json" "$REST/connectors"; echo

step "Waiting for $EVENTS rows in ClickHouse"
count=0
for _ in $(seq 1 240); do
    count=$(curl -sS "$SLUICE_CLICKHOUSE_URL" --data-binary "SELECT count() FROM events")
    [ "$count" -ge "$EVENTS" ] && break
    sleep 0.5
done
END=$(date +%s.%N)

step "GET /connectors/events-clickhouse/status"
curl -sS "$REST/connectors/events-clickhouse/status"; echo

step "What landed"
curl -sS "$SLUICE_CLICKHOUSE_URL" --data-binary "SELECT count() AS rows, uniqExact(session_id) AS sessions, min(timestamp) AS first, max(timestamp) AS last FROM events FORMAT PrettyCompactMonoBlock"
curl -sS "$SLUICE_CLICKHOUSE_URL" --data-binary "SELECT event_type, device, count() AS n FROM events GROUP BY event_type, device ORDER BY event_type, device FORMAT PrettyCompactMonoBlock"
curl -sS "$SLUICE_CLICKHOUSE_URL" --data-binary "SELECT * FROM events ORDER BY timestamp LIMIT 5 FORMAT PrettyCompactMonoBlock"
"$SLUICE_PYTHON" -c "print(f\"$count rows in {$END - $START:.1f} s after the connector was created.\")"
if [ "$count" -ne "$EVENTS" ]; then
    echo "expected $EVENTS rows, found $count; see $DEMO_DIR/sluice.log" >&2
    exit 1
fi

step "Waiting for the Parquet files (published every 5 s of wall clock)"
"$SLUICE_PYTHON" - "$DEMO_DIR/parquet" "$EVENTS" "$REST" <<'PY'
import sys, time, duckdb, requests
root, expected, rest = sys.argv[1], int(sys.argv[2]), sys.argv[3]
glob = f"{root}/topics/**/*.parquet"
rows = 0
for _ in range(120):
    try:
        rows = duckdb.sql(f"SELECT count(*) FROM read_parquet('{glob}')").fetchall()[0][0]
    except duckdb.Error:
        rows = 0
    if rows >= expected:
        break
    time.sleep(0.5)
print(requests.get(f"{rest}/connectors/events-parquet/status").text)
print(duckdb.sql(f"""
    SELECT regexp_extract(filename, 'topics/[^/]+/(.*)/[^/]+$', 1) AS directory, count(*) AS rows, count(DISTINCT filename) AS files
    FROM read_parquet('{glob}', filename = true) GROUP BY directory ORDER BY directory"""))
print(f"{rows} rows in Parquet files under {root}/topics")
if rows != expected:
    sys.exit(f"expected {expected} rows in Parquet files, found {rows}")
PY
