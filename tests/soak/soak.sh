#!/usr/bin/env bash
# The soak (issue 15): one worker with a ClickHouse sink (exactlyOnce=true) and a Parquet sink
# (local directory) on one 4-partition topic, `sluice gen` producing a steady load, and the
# worker's RSS, open fds and threads sampled every 10 s. Documented, not in CI: it takes an hour.
#
# Usage: tests/soak/soak.sh [SECONDS [RATE]]      defaults: 3600 s at 1000 events/s
#
# Starts kafka and clickhouse with tests/services/services.sh (left running afterwards; stop them
# with `tests/services/services.sh down kafka clickhouse`). Every variable services.sh reads
# applies (SLUICE_BUILD_DIR, SLUICE_KAFKA_PORT, SLUICE_CLICKHOUSE_HTTP_PORT, ...), so a soak can
# run beside the test services on ports of its own.
#
# Environment (defaults in brackets):
#   SLUICE_BIN       the sluice binary [<repo>/target/debug/sluice]; copy it elsewhere first (cp -p)
#                    if a rebuild may replace it during the run
#   SLUICE_SOAK_OUT  where soak.csv, soak.png, soak.json and SOAK.md go [<repo>/docs/soak]
#   SLUICE_SOAK_DIR  the run's worker data, Parquet files and logs
#                    [<build>/soak/<UTC time of the start>]
#
# Exit status: 0 when the RSS and fd bounds held and both sinks hold every record exactly once.
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$SCRIPT_DIR/../.." && pwd)"
SERVICES="$REPO_ROOT/tests/services/services.sh"

DURATION="${1:-3600}"
RATE="${2:-1000}"
case "$DURATION$RATE" in
*[!0-9]*) echo "usage: $0 [SECONDS [RATE]]" >&2; exit 2 ;;
esac

"$SERVICES" up kafka clickhouse
eval "$("$SERVICES" env)"

BIN="${SLUICE_BIN:-$REPO_ROOT/target/debug/sluice}"
if [ ! -x "$BIN" ]; then
    echo "soak.sh: $BIN does not exist: build it with \`cargo build -p sluice-worker\` (or set SLUICE_BIN)" >&2
    exit 2
fi
BUILD_DIR="${SLUICE_BUILD_DIR:-$REPO_ROOT/.build}"
WORK="${SLUICE_SOAK_DIR:-$BUILD_DIR/soak/$(date -u +%Y%m%dT%H%M%SZ)}"
OUT="${SLUICE_SOAK_OUT:-$REPO_ROOT/docs/soak}"
mkdir -p "$WORK" "$OUT"

export SLUICE_BIN="$BIN"
exec "$SLUICE_PYTHON" "$SCRIPT_DIR/soak.py" --duration "$DURATION" --rate "$RATE" --work "$WORK" --out "$OUT"
