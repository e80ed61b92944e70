#!/usr/bin/env bash
# Every test Sluice has, against real services: unit tests, then integration tests that start
# the real Kafka and ClickHouse (tests/services/services.sh) and the real `sluice` binary.
#
#   make test      (or tests/run-all.sh)
#
# SLUICE_KEEP_SERVICES=1 leaves the services running afterwards (faster reruns).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
SERVICES="$REPO/tests/services/services.sh"

step() { printf '\n\033[1m==> %s\033[0m\n' "$*"; }

step "Unit tests"
cargo test --workspace --locked

step "The in-process benches, one round of each stage (their checks: both paths make the same rows and files)"
SLUICE_BENCH_ROUNDS=1 cargo test --locked -p sluice-clickhouse --bench encode
SLUICE_BENCH_ROUNDS=1 cargo test --locked -p sluice-parquet --bench write

step "Browser and Graphviz for the console's browser test and the architecture picture"
"$SERVICES" install chromium graphviz

step "Starting real services"
"$SERVICES" up kafka clickhouse registry registry-tls s3
if [ "${SLUICE_KEEP_SERVICES:-0}" != 1 ]; then
    trap '"$SERVICES" down kafka clickhouse registry registry-tls s3 >/dev/null 2>&1 || true' EXIT
fi
eval "$("$SERVICES" env)"

step "ClickHouse sink against the real server"
cargo test -p sluice-clickhouse --features integration-tests --locked

step "Sink task contract (open, put, flush, close, commits) and internal topics against the real Kafka"
cargo test -p sluice-worker --features integration-tests --locked --test sink_contract --test internal_topics
cargo test -p sluice-kafka-queues --features integration-tests --locked

step "Schema registry client and converters against the real registry"
cargo test -p sluice-converters --features integration-tests --locked

step "Building the sluice binary"
cargo build -p sluice-worker --bin sluice --locked
export SLUICE_BIN="${CARGO_TARGET_DIR:-$REPO/target}/debug/sluice"

cd tests
if [ "$#" -gt 0 ]; then
    step "End-to-end tests: pytest $*"
    exec "$SLUICE_PYTHON" -m pytest "$@"
fi
step "End-to-end tests (pytest, Confluent's Python client, the sluice binary)"
"$SLUICE_PYTHON" -m pytest -m "not disruptive"
step "End-to-end tests that stop shared services (ClickHouse, the registry, brokers), one at a time"
"$SLUICE_PYTHON" -m pytest -m disruptive
