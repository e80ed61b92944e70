#!/usr/bin/env bash
# Instructions per record of each stage of an in-process record path bench, counted by
# valgrind (cachegrind, no cache simulation): deterministic, so two builds compare to the
# instruction on a shared, noisy machine where timings of the same binary vary by half. A run
# of ROUNDS batches minus a run of none (the setup), divided by the records.
#
#   tests/bench/instructions.sh                    # ClickHouse (benches/encode.rs), every stage
#   BENCH=parquet tests/bench/instructions.sh      # Parquet (benches/write.rs), every stage
#   tests/bench/instructions.sh BINARY [STAGE...]  # a given bench binary, chosen stages
#
# The Parquet bench publishes a segment every 5 batches: keep ROUNDS a multiple of 5 there.
set -euo pipefail
cd "$(dirname "$0")/../.."
BENCH=${BENCH:-clickhouse}
BATCH=10000
case $BENCH in
    clickhouse) crate=sluice-clickhouse; bench=encode; ROUNDS=${ROUNDS:-3}
        default_stages=("JSON → SinkRecord" "Avro → SinkRecord" "SinkRecord → RowBinary" "LZ4 of the inserts"
                        "JSON lane: text → RowBinary" "JSON lane: the whole path") ;;
    parquet) crate=sluice-parquet; bench=write; ROUNDS=${ROUNDS:-5}
        default_stages=("JSON lane: text → published files" "decoded values → published files") ;;
    *) echo "BENCH is clickhouse or parquet, not $BENCH" >&2; exit 2 ;;
esac
if [[ $# -ge 1 ]]; then
    bin=$1; shift
else
    cargo bench -p $crate --bench $bench --no-run 2>/dev/null
    bin=$(ls -t target/release/deps/$bench-* | grep -v '\.d$' | head -1)
fi
stages=("$@")
if [[ ${#stages[@]} -eq 0 ]]; then
    stages=("${default_stages[@]}")
fi
count() { # rounds, stage -> instructions of the whole run
    SLUICE_BENCH_ROUNDS=$1 SLUICE_BENCH_ONLY=$2 valgrind --tool=cachegrind --cache-sim=no \
        --cachegrind-out-file=/dev/null "$bin" 2>&1 >/dev/null | sed -n 's/.*I *refs: *//p' | tr -d ,
}
setup=$(count 0 "no stage has this name")
printf '%-40s %14s\n' "stage ($bin)" "instr/record"
for stage in "${stages[@]}"; do
    total=$(count "$ROUNDS" "$stage")
    printf '%-40s %14d\n' "$stage" $(( (total - setup) / (ROUNDS * BATCH) ))
done
