#!/usr/bin/env bash
# Builds the fuzz targets with nightly and runs each for SECONDS (default 600), two at a time,
# niced; writes one line per target (runs, execs/s, new corpus entries, peak RSS, findings) to
# fuzz/RESULTS.md. Findings land in fuzz/artifacts/<target>/; the corpus grown by a run stays in
# fuzz/work/<target>/ (not committed), seeded from fuzz/corpus/<target>/ (committed).
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Needs `rustup toolchain install nightly` and `cargo install cargo-fuzz --locked`.
set -euo pipefail

seconds="${1:-600}"
shift || true
cd "$(dirname "$0")"

# No sanitizer: Sluice forbids `unsafe`, so the targets look for panics, hangs and runaway
# memory (libFuzzer's -rss_limit_mb and -timeout), which need none and run faster without.
nice -n 10 cargo +nightly fuzz build --sanitizer none
bin_dir="target/x86_64-unknown-linux-gnu/release"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

commit=$(git rev-parse --short HEAD)
git diff --quiet HEAD -- .. 2>/dev/null || commit="$commit+changes"

mkdir -p logs
run_one() {
    local t="$1"
    mkdir -p "work/$t" "artifacts/$t" "corpus/$t"
    local before
    before=$(find "artifacts/$t" -type f | wc -l)
    local rc=0
    nice -n 10 "$bin_dir/$t" "work/$t" "corpus/$t" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -artifact_prefix="artifacts/$t/" -print_final_stats=1 >"logs/$t.log" 2>&1 || rc=$?
    local after
    after=$(find "artifacts/$t" -type f | wc -l)
    local runs execs units rss
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "logs/$t.log" | tail -1)
    execs=$(sed -n 's/^stat::average_exec_per_sec: *//p' "logs/$t.log" | tail -1)
    units=$(sed -n 's/^stat::new_units_added: *//p' "logs/$t.log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "logs/$t.log" | tail -1)
    local found=$((after - before))
    local verdict="ok"
    if [ "$found" -gt 0 ] || [ "$rc" -ne 0 ]; then
        verdict="FOUND $found (exit $rc; see fuzz/artifacts/$t/, fuzz/logs/$t.log)"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$(date -u '+%Y-%m-%d')" "$commit" "$seconds" \
        "${runs:-?}" "${execs:-?}" "${units:-?}" "${rss:-?}" "$verdict" >"logs/$t.result"
    echo "$t: ${runs:-?} runs, ${execs:-?} exec/s, $verdict"
}

# Two at a time: other builds and services share this machine.
running=0
for t in "${targets[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge 2 ]; then
        wait -n || true
        running=$((running - 1))
    fi
done
wait

# Rows of targets not run this time stay as they were.
{
    echo "# Fuzzing results"
    echo
    echo "Written by \`fuzz/run.sh [seconds] [target…]\` (one row per target, from its last run): two"
    echo "targets at a time, \`nice -n 10\`, no sanitizer, \`-rss_limit_mb=2048 -timeout=10\`, on $(nproc) CPUs."
    echo "\"new corpus entries\" counts inputs that reached new code during the run."
    echo
    echo "| target | date | commit | seconds | runs | execs/s | new corpus entries | peak RSS (MB) | findings |"
    echo "|---|---|---|---|---|---|---|---|---|"
    {
        if [ -f RESULTS.md ]; then
            grep '^| [a-z_0-9]* | [0-9]' RESULTS.md | while IFS= read -r row; do
                name=$(echo "$row" | cut -d'|' -f2 | tr -d ' ')
                [[ " ${targets[*]} " == *" $name "* ]] || echo "$row"
            done
        fi
        for t in "${targets[@]}"; do cat "logs/$t.result"; done
    } | sort
} >RESULTS.md.new
mv RESULTS.md.new RESULTS.md
cat RESULTS.md
