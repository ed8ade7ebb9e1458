#!/usr/bin/env bash
# Soak test: the local exchange simulator with a fault every few seconds, and `obi-scalp run`
# (or `obi-scalp record`) against it on 127.0.0.1, per venue. Asserts at the end:
#   - the client exited 0 and nothing panicked;
#   - every fault was recovered from: the final `summary:` line says book_state=synced, and its
#     counters show a reconnect per drop, resyncs, and malformed frames counted;
#   - resident memory grew by less than a bound between warm-up and the end.
#
# Usage: scripts/soak.sh [--short] [--duration SECONDS] [--venue coincheck|bybit|binance|all]
#                        [--mode run|record] [--bin PATH] [--rss-growth-mib N] [--speed X] [--keep]
#   --short        10 s per venue (about 30 s in all): what CI runs
#   --duration S   client run time per venue (default 120)
#   --mode         run (default: paper trading through the threaded pipeline) or record
#   --bin PATH     the obi-scalp binary (default: cargo build, then target/debug/obi-scalp)
#   --keep         keep the work directory (configs, logs, RSS samples)
#
# Faults are one-shots at fixed times (drop, skip or malformed, stall longer than max silence,
# and REST 500s in long runs) up to 70 % of the run, so that the end of the run shows whether
# the client recovered from the last one. Only 127.0.0.1 is used; everything is bounded in time.
set -euo pipefail

DURATION=120
VENUES="coincheck bybit binance"
MODE=run
BIN=""
RSS_GROWTH_MIB=48
SPEED=3
KEEP=0

usage() { sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --short) DURATION=10 ;;
        --duration) DURATION="$2"; shift ;;
        --venue) VENUES="$2"; shift ;;
        --mode) MODE="$2"; shift ;;
        --bin) BIN="$2"; shift ;;
        --rss-growth-mib) RSS_GROWTH_MIB="$2"; shift ;;
        --speed) SPEED="$2"; shift ;;
        --keep) KEEP=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "soak: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$VENUES" = all ] && VENUES="coincheck bybit binance"
case "$MODE" in run|record) ;; *) echo "soak: --mode must be run or record" >&2; exit 2 ;; esac
case "$DURATION" in ''|*[!0-9]*) echo "soak: --duration must be whole seconds" >&2; exit 2 ;; esac
[ "$DURATION" -ge 6 ] || { echo "soak: --duration must be at least 6" >&2; exit 2; }

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -z "$BIN" ]; then
    cargo build --quiet --bin obi-scalp
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/obi-scalp"
fi
[ -x "$BIN" ] || { echo "soak: no binary at $BIN" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/obi-soak.XXXXXX")"
SIM_PID=""
CLIENT_PID=""
cleanup() {
    for p in "$CLIENT_PID" "$SIM_PID"; do
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    if [ "$KEEP" = 1 ]; then echo "soak: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

FAILED=0
fail() { echo "soak: FAIL [$1] $2" >&2; FAILED=$((FAILED + 1)); }

# value KEY FILE: the value of KEY=... on the summary line
value() { grep '^summary:' "$2" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -1; }

# The faults for one venue: one-shots every STEP seconds up to 70 % of the run.
faults_for() {
    local venue="$1" step t i=0 last
    step=$(( DURATION >= 60 ? 4 : 2 ))
    last=$(( DURATION * 7 / 10 ))
    t=2
    DROPS=0; STALLS=0; MALFORMED=0; SKIPS=0
    FAULTS=()
    while [ "$t" -le "$last" ]; do
        case $(( i % 4 )) in
            0) FAULTS+=(--fault "drop@${t}s"); DROPS=$((DROPS + 1)) ;;
            1) if [ "$venue" = coincheck ]; then
                   FAULTS+=(--fault "malformed@${t}s:3"); MALFORMED=$((MALFORMED + 1))
               else
                   FAULTS+=(--fault "skip@${t}s:5"); SKIPS=$((SKIPS + 1))
               fi ;;
            2) FAULTS+=(--fault "stall@${t}s:1500ms"); STALLS=$((STALLS + 1)) ;;
            3) FAULTS+=(--fault "malformed@${t}s:2"); MALFORMED=$((MALFORMED + 1))
               if [ "$venue" != bybit ] && [ "$DURATION" -ge 60 ]; then
                   FAULTS+=(--fault "rest500@${t}s")
               fi ;;
        esac
        i=$((i + 1))
        t=$((t + step))
    done
}

soak_one() {
    local venue="$1"
    local dir="$WORK/$venue" port cfg out err rc
    mkdir -p "$dir"
    faults_for "$venue"
    echo "soak: $venue: ${DURATION}s of $MODE, speed ${SPEED}x, faults: ${FAULTS[*]}"
    "$BIN" sim --venue "$venue" --listen 127.0.0.1:0 --speed "$SPEED" \
        --duration $((DURATION + 15)) "${FAULTS[@]}" >"$dir/sim.out" 2>"$dir/sim.err" &
    SIM_PID=$!
    port=""
    for _ in $(seq 1 100); do
        port="$(sed -n 's#.*listening on ws://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$dir/sim.out" | head -1)"
        [ -n "$port" ] && break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        fail "$venue" "the simulator did not start: $(cat "$dir/sim.err")"
        return
    fi
    cfg="$dir/config.toml"
    sed -e "s#127\.0\.0\.1:1910[0-9]#127.0.0.1:$port#g" \
        -e "s#var/sim-$venue#$dir#g" \
        -e "s#^max_silence_ms = .*#max_silence_ms = 1000#" \
        "config/sim-$venue.toml" >"$cfg"
    out="$dir/client.out"
    err="$dir/client.err"
    if [ "$MODE" = run ]; then
        "$BIN" run --config "$cfg" --duration "$DURATION" >"$out" 2>"$err" &
    else
        "$BIN" record --config "$cfg" --out "$dir/rec" --duration "$DURATION" >"$out" 2>"$err" &
    fi
    CLIENT_PID=$!
    : >"$dir/rss"
    local start now
    start=$(date +%s)
    while kill -0 "$CLIENT_PID" 2>/dev/null; do
        now=$(date +%s)
        awk -v t=$((now - start)) '/^VmRSS:/ { print t, $2 }' "/proc/$CLIENT_PID/status" \
            >>"$dir/rss" 2>/dev/null || true
        if [ $((now - start)) -gt $((DURATION + 60)) ]; then
            fail "$venue" "the client did not stop within $((DURATION + 60)) s"
            kill "$CLIENT_PID" 2>/dev/null || true
        fi
        sleep 1
    done
    rc=0
    wait "$CLIENT_PID" || rc=$?
    CLIENT_PID=""
    kill "$SIM_PID" 2>/dev/null || true
    wait "$SIM_PID" 2>/dev/null || true
    SIM_PID=""

    [ "$rc" = 0 ] || fail "$venue" "client exit code $rc: $(tail -3 "$err")"
    if grep -q "panicked" "$out" "$err"; then
        fail "$venue" "panic: $(grep -h -m1 panicked "$out" "$err")"
    fi
    local summary
    summary="$(grep '^summary:' "$out" | tail -1 || true)"
    if [ -z "$summary" ]; then
        fail "$venue" "no summary: line on stdout"
        return
    fi
    echo "soak: $venue: $summary"
    local state frames reconnects resyncs malformed gaps
    state="$(value book_state "$out")"
    frames="$(value frames "$out")"
    reconnects="$(value reconnects "$out")"
    resyncs="$(value resyncs "$out")"
    malformed="$(value malformed "$out")"
    gaps="$(value gaps "$out")"
    [ "$state" = synced ] || fail "$venue" "book_state=$state at the end (expected synced)"
    [ "${frames:-0}" -gt 0 ] || fail "$venue" "no frames"
    [ "${reconnects:-0}" -ge "$DROPS" ] || fail "$venue" "reconnects=$reconnects < $DROPS drops"
    [ "${resyncs:-0}" -ge "$DROPS" ] || fail "$venue" "resyncs=$resyncs < $DROPS drops"
    if [ "$MALFORMED" -gt 0 ] && [ "${malformed:-0}" -lt 1 ]; then
        fail "$venue" "malformed frames injected but malformed=$malformed"
    fi
    if [ "$SKIPS" -gt 0 ] && [ "${gaps:-0}" -lt 1 ]; then
        fail "$venue" "frames skipped but gaps=$gaps"
    fi
    # Memory: the largest sample after warm-up (30 % of the run) against the end.
    local warm_t warm last growth
    warm_t=$(( DURATION * 3 / 10 ))
    warm="$(awk -v w="$warm_t" '$1 >= w { print $2; exit }' "$dir/rss")"
    last="$(tail -1 "$dir/rss" | awk '{ print $2 }')"
    if [ -n "$warm" ] && [ -n "$last" ]; then
        growth=$(( (last - warm) / 1024 ))
        echo "soak: $venue: RSS ${warm} kB after warm-up, ${last} kB at the end (growth ${growth} MiB, bound ${RSS_GROWTH_MIB} MiB)"
        [ "$growth" -lt "$RSS_GROWTH_MIB" ] || fail "$venue" "RSS grew by ${growth} MiB"
    else
        fail "$venue" "no RSS samples"
    fi
    if [ -f "$dir/artifacts/run_complete.json" ]; then
        echo "soak: $venue: run_complete.json: $(tr -d '\n' <"$dir/artifacts/run_complete.json" | cut -c1-300)"
    fi
}

for v in $VENUES; do
    case "$v" in coincheck|bybit|binance) ;; *) echo "soak: unknown venue $v" >&2; exit 2 ;; esac
    soak_one "$v"
done

N=$(echo $VENUES | wc -w)
if [ "$FAILED" -eq 0 ]; then
    echo "soak: $N passed, 0 failed"
else
    echo "soak: $((N - 0)) venues run, $FAILED check(s) failed" >&2
    exit 1
fi
