#!/usr/bin/env bash
# Runs every fuzz target (fuzz/, cargo-fuzz + libFuzzer) for SECONDS each (default 60), niced,
# one after the other, and prints the executions each reached and whether it crashed.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# Needs a nightly toolchain (`rustup toolchain install nightly`) and cargo-fuzz
# (`cargo install cargo-fuzz`). New inputs the fuzzer keeps go to fuzz/corpus/TARGET/ (commit
# the small ones); a crash input goes to fuzz/artifacts/TARGET/: fix the defect, copy the input
# to fuzz/regressions/TARGET/ (tests/fuzz_corpus.rs replays it on stable), and add a test.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
secs="${1:-60}"
shift || true
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo +nightly fuzz list)
fi
nice -n 19 cargo +nightly fuzz build -O >/dev/null
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    log="target/fuzz-$t.log"
    set +e
    nice -n 19 cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$secs" -print_final_stats=1 -max_len=65536 >"$log" 2>&1
    rc=$?
    set -e
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    if [ "$rc" -eq 0 ]; then
        echo "$t: $execs executions ($rate/s), no crash"
    else
        echo "$t: CRASH or error (rc=$rc) after $execs executions; see fuzz/$log and fuzz/artifacts/$t/"
        status=1
    fi
done
exit "$status"
