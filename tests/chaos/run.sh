#!/usr/bin/env bash
# The chaos suite (tests/chaos/chaos.py): starts the services it needs (the three-broker Kafka
# cluster, Apicurio, ClickHouse, SeaweedFS), builds `sluice`, and runs the scenarios.
#
#   make chaos                         the full suite; the table goes to tests/chaos/RESULTS.md
#   tests/chaos/run.sh --reduced       the reduced suite (`make test` runs it as a pytest test)
#   tests/chaos/run.sh --only NAME...  chosen scenarios; --list names them
#
# SLUICE_KEEP_SERVICES=1 leaves the services running afterwards.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SERVICES="$REPO/tests/services/services.sh"
cd "$REPO"

cargo build -p sluice-worker --bin sluice --locked
export SLUICE_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/sluice"

"$SERVICES" up clickhouse registry s3 kafka-cluster
if [ "${SLUICE_KEEP_SERVICES:-0}" != 1 ]; then
    trap '"$SERVICES" down clickhouse registry s3 kafka-cluster >/dev/null 2>&1 || true' EXIT
fi
eval "$("$SERVICES" env)"

full=1
for arg in "$@"; do
    case "$arg" in --reduced | --only | --list) full=0 ;; esac
done
if [ "$full" = 1 ]; then
    "$SLUICE_PYTHON" tests/chaos/chaos.py --report tests/chaos/RESULTS.md "$@"
else
    "$SLUICE_PYTHON" tests/chaos/chaos.py "$@"
fi
