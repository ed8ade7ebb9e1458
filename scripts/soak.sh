#!/usr/bin/env bash
# Soak test: the local exchange simulator with a fault every few seconds, and `obi-scalp run`
# (or `obi-scalp record`) against it on 127.0.0.1, per venue. Asserts at the end:
#   - the client exited 0 and nothing panicked;
#   - every fault was recovered from: the final `summary:` line says book_state=synced, and its
#     counters show a reconnect per drop, resyncs, and malformed frames counted;
#   - resident memory grew by less than a bound between warm-up and the end;
#   - no stuck state: the book was never out of `synced` for longer than --max-unsynced seconds
#     in a row (sampled from /metrics), and synced and healthy at the end;
#   - with --prometheus: no "stuck" alert (target down, unhealthy, book stale/resyncing, feed
#     reconnecting/silent, run loop failures, journal degraded) fired while the client ran;
#     other alerts are listed.
# Every --sample-every seconds it samples the client's RSS, open fds and threads (/proc), and
# from its /metrics: healthy, book synced, ring overflows, last frame age, kill switch; with
# --prometheus also the alerts firing (/api/v1/alerts). The samples are in WORK/VENUE/samples
# (tab-separated, header line); a summary per venue is printed at the end.
#
# Usage: scripts/soak.sh [--short] [--duration SECONDS] [--venue coincheck|bybit|binance|binance_usdm|gmocoin|bitbank|bitflyer|all]
#                        [--mode run|record] [--bin PATH] [--release] [--rss-growth-mib N]
#                        [--speed X] [--fault-every S] [--sample-every S] [--max-unsynced S]
#                        [--parallel] [--prometheus] [--keep]
#   --short        10 s per venue (about 30 s in all): what CI runs
#   --duration S   client run time per venue (default 120)
#   --mode         run (default: paper trading through the threaded pipeline) or record
#   --bin PATH     the obi-scalp binary (default: cargo build, then target/debug/obi-scalp)
#   --release      build and use target/release/obi-scalp instead
#   --fault-every  seconds between faults (default 4, 2 for runs under 60 s)
#   --parallel     soak the venues at the same time instead of one after the other
#   --prometheus   run Debian's prometheus (/usr/bin/prometheus) on 127.0.0.1 in the work
#                  directory, scraping every client every 2 s with ops/prometheus/alerts.yml
#   --keep         keep the work directory (configs, logs, samples, Prometheus data)
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
RELEASE=0
FAULT_EVERY=""
SAMPLE_EVERY=2
MAX_UNSYNCED=30
PARALLEL=0
PROM=0

usage() { sed -n '2,37p' "$0" | sed 's/^# \{0,1\}//'; }

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
        --release) RELEASE=1 ;;
        --fault-every) FAULT_EVERY="$2"; shift ;;
        --sample-every) SAMPLE_EVERY="$2"; shift ;;
        --max-unsynced) MAX_UNSYNCED="$2"; shift ;;
        --parallel) PARALLEL=1 ;;
        --prometheus) PROM=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "soak: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$VENUES" = all ] && VENUES="coincheck bybit binance binance_usdm gmocoin bitbank bitflyer"
case "$MODE" in run|record) ;; *) echo "soak: --mode must be run or record" >&2; exit 2 ;; esac
case "$DURATION" in ''|*[!0-9]*) echo "soak: --duration must be whole seconds" >&2; exit 2 ;; esac
[ "$DURATION" -ge 6 ] || { echo "soak: --duration must be at least 6" >&2; exit 2; }
for n in "$FAULT_EVERY" "$SAMPLE_EVERY" "$MAX_UNSYNCED"; do
    case "$n" in *[!0-9]*) echo "soak: --fault-every, --sample-every and --max-unsynced take whole seconds" >&2; exit 2 ;; esac
done
[ "${SAMPLE_EVERY:-0}" -ge 1 ] || { echo "soak: --sample-every must be at least 1" >&2; exit 2; }
[ -z "$FAULT_EVERY" ] || [ "$FAULT_EVERY" -ge 1 ] || { echo "soak: --fault-every must be at least 1" >&2; exit 2; }
command -v curl >/dev/null 2>&1 || { echo "soak: needs curl (samples /metrics)" >&2; exit 2; }
if [ "$PROM" = 1 ]; then
    command -v prometheus >/dev/null 2>&1 || { echo "soak: --prometheus needs prometheus (apt-get install prometheus)" >&2; exit 2; }
    command -v python3 >/dev/null 2>&1 || { echo "soak: --prometheus needs python3" >&2; exit 2; }
fi

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -z "$BIN" ]; then
    if [ "$RELEASE" = 1 ]; then
        cargo build --quiet --release --bin obi-scalp
        BIN="${CARGO_TARGET_DIR:-$ROOT/target}/release/obi-scalp"
    else
        cargo build --quiet --bin obi-scalp
        BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/obi-scalp"
    fi
fi
[ -x "$BIN" ] || { echo "soak: no binary at $BIN" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/obi-soak.XXXXXX")"
SIM_PID=""
CLIENT_PID=""
PROM_PID=""
PROM_URL=""
# Every process started (also by the parallel per-venue subshells) is listed in WORK/pids.
: >"$WORK/pids"
cleanup() {
    local p
    for p in $(tac "$WORK/pids" 2>/dev/null) $PROM_PID; do
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then
            kill "$p" 2>/dev/null || true
            wait "$p" 2>/dev/null || true
        fi
    done
    for p in $(tac "$WORK/pids" 2>/dev/null) $PROM_PID; do
        if [ -n "$p" ] && kill -0 "$p" 2>/dev/null; then sleep 1; kill -9 "$p" 2>/dev/null || true; fi
    done
    if [ "$KEEP" = 1 ]; then echo "soak: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

FAILED=0
fail() { echo "soak: FAIL [$1] $2" >&2; FAILED=$((FAILED + 1)); }

# value KEY FILE: the value of KEY=... on the summary line
value() { grep '^summary:' "$2" | tail -1 | tr ' ' '\n' | sed -n "s/^$1=//p" | tail -1; }

# The faults for one venue: one-shots every STEP seconds up to 70 % of the run.
faults_for() {
    local venue="$1" step t i=0 last
    step=${FAULT_EVERY:-$(( DURATION >= 60 ? 4 : 2 ))}
    last=$(( DURATION * 7 / 10 ))
    t=2
    DROPS=0; STALLS=0; MALFORMED=0; SKIPS=0
    FAULTS=()
    STEP=$step
    while [ "$t" -le "$last" ]; do
        case $(( i % 4 )) in
            0) FAULTS+=(--fault "drop@${t}s"); DROPS=$((DROPS + 1)) ;;
            # Venues without a gap to detect (no sequence: Coincheck, GMO's full books,
            # bitbank's shared counter, bitFlyer's unsequenced diffs) get malformed frames
            # instead of skipped ones.
            1) if [ "$venue" = coincheck ] || [ "$venue" = gmocoin ] || [ "$venue" = bitbank ] || [ "$venue" = bitflyer ]; then
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

# A free TCP port on 127.0.0.1 (for Prometheus, which cannot report a port 0 choice).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Prometheus in the work directory: scrapes every target file WORK/targets/*.json every 2 s and
# evaluates ops/prometheus/alerts.yml every 2 s.
start_prometheus() {
    local port i
    mkdir -p "$WORK/targets" "$WORK/prom"
    cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 2s
  scrape_timeout: 2s
  evaluation_interval: 2s
rule_files:
  - $ROOT/ops/prometheus/alerts.yml
scrape_configs:
  - job_name: obi-scalp
    file_sd_configs:
      - files: ["$WORK/targets/*.json"]
        refresh_interval: 2s
YML
    port="$(free_port)"
    prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/prom/data" \
        --web.listen-address="127.0.0.1:$port" --storage.tsdb.retention.time=1d \
        >"$WORK/prom/prometheus.log" 2>&1 &
    PROM_PID=$!
    PROM_URL="http://127.0.0.1:$port"
    for i in $(seq 1 100); do
        curl -sf -m 1 "$PROM_URL/-/ready" >/dev/null 2>&1 && break
        kill -0 "$PROM_PID" 2>/dev/null || break
        sleep 0.2
    done
    if ! curl -sf -m 1 "$PROM_URL/-/ready" >/dev/null 2>&1; then
        echo "soak: prometheus did not become ready: $(tail -5 "$WORK/prom/prometheus.log")" >&2
        exit 1
    fi
    echo "soak: prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') on $PROM_URL (scrape and rule evaluation every 2 s)"
}

# firing_alerts VENUE: the names of the alerts firing for this venue's target (or for none), comma
# separated, "-" when none.
firing_alerts() {
    curl -sf -m 2 "$PROM_URL/api/v1/alerts" 2>/dev/null | python3 -c '
import json, sys
v = sys.argv[1]
try:
    alerts = json.load(sys.stdin)["data"]["alerts"]
except Exception:
    print("?"); sys.exit()
names = sorted({a["labels"]["alertname"] for a in alerts
                if a["state"] == "firing" and a["labels"].get("venue", v) == v})
print(",".join(names) or "-")' "$1" 2>/dev/null || echo "?"
}

# prom_value QUERY UNIX_TIME: the first sample value of an instant query at that time, empty
# when none.
prom_value() {
    curl -sf -m 5 "$PROM_URL/api/v1/query" --data-urlencode "query=$1" --data-urlencode "time=$2" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}

# One sample line: t rss_kb fds threads healthy synced overflows frame_age kill alerts
# rss_anon_kb rss_file_kb (RSS split: anonymous memory, where a leak grows, and mapped files,
# the binary's own pages among them, paged in as code first runs)
sample() { # pid t http_addr venue
    local pid="$1" t="$2" addr="$3" venue="$4" rss threads fds m alerts="-" split
    rss="$(awk '/^VmRSS:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)" || return 0
    split="$(awk '/^RssAnon:/ { a = $2 } /^RssFile:/ { f = $2 } END { printf "%s\t%s", a, f }' "/proc/$pid/status" 2>/dev/null)" || split="-	-"
    threads="$(awk '/^Threads:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)"
    fds="$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)"
    [ -n "$rss" ] || return 0
    m="-	-	-	-	-"
    if [ -n "$addr" ]; then
        m="$(curl -sf -m 2 "http://$addr/metrics" 2>/dev/null | awk '
            /^obi_scalp_healthy / { h = $2 }
            /^obi_scalp_book_state\{state="synced"\} / { s = $2 }
            /^obi_scalp_ring_overflows_total/ { o += $2; seen = 1 }
            /^obi_scalp_last_frame_age_seconds / { a = $2 }
            /^obi_scalp_kill_switch_engaged / { k = $2 }
            END { printf "%s\t%s\t%s\t%s\t%s", (h == "" ? "-" : h), (s == "" ? "-" : s),
                  (seen ? o : "-"), (a == "" ? "-" : a), (k == "" ? "-" : k) }')" \
            || m="-	-	-	-	-"
        [ -n "$m" ] || m="-	-	-	-	-"
    fi
    [ "$PROM" = 1 ] && alerts="$(firing_alerts "$venue")"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$rss" "$fds" "$threads" "$m" "$alerts" "$split"
}

# Alerts that mean the client is stuck (or gone) rather than reacting to one fault.
STUCK_ALERTS="ObiScalpTargetDown ObiScalpTargetAbsent ObiScalpUnhealthy ObiScalpBookStale ObiScalpBookResyncing ObiScalpFeedReconnecting ObiScalpFeedSilent ObiScalpRunLoopFailures ObiScalpJournalDegraded"

soak_one() {
    local venue="$1"
    local dir="$WORK/$venue" port cfg out err rc addr=""
    mkdir -p "$dir"
    faults_for "$venue"
    echo "soak: $venue: ${DURATION}s of $MODE, speed ${SPEED}x, $(( ${#FAULTS[@]} / 2 )) faults (every $STEP s up to 70 % of the run): drops=$DROPS stalls=$STALLS malformed=$MALFORMED skips=$SKIPS"
    echo "${FAULTS[*]}" >"$dir/faults"
    "$BIN" sim --venue "$venue" --listen 127.0.0.1:0 --speed "$SPEED" \
        --duration $((DURATION + 15)) "${FAULTS[@]}" >"$dir/sim.out" 2>"$dir/sim.err" &
    SIM_PID=$!
    echo "$SIM_PID" >>"$WORK/pids"
    port=""
    for _ in $(seq 1 100); do
        port="$(sed -n 's#.*listening on ws://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$dir/sim.out" 2>/dev/null | head -1 || true)"
        [ -n "$port" ] && break
        sleep 0.05
    done
    if [ -z "$port" ]; then
        fail "$venue" "the simulator did not start: $(cat "$dir/sim.err")"
        return
    fi
    cfg="$dir/config.toml"
    # The ops HTTP server on a free loopback port: /metrics is sampled (and scraped).
    sed -e "s#127\.0\.0\.1:1910[0-9]#127.0.0.1:$port#g" \
        -e "s#var/sim-$venue#$dir#g" \
        -e "s#^max_silence_ms = .*#max_silence_ms = 1000#" \
        -e 's#^http_addr = .*#http_addr = "127.0.0.1:0"#' \
        "config/sim-$venue.toml" >"$cfg"
    # The journal in the venue's directory too (the default var/journal.sqlite is relative to the
    # working directory: parallel venues would share one, and runs would carry risk state over).
    printf '\n[store]\njournal = "%s/journal.sqlite"\n' "$dir" >>"$cfg"
    out="$dir/client.out"
    err="$dir/client.err"
    if [ "$MODE" = run ]; then
        RUST_LOG=info "$BIN" run --config "$cfg" --duration "$DURATION" >"$out" 2>"$err" &
    else
        RUST_LOG=info "$BIN" record --config "$cfg" --out "$dir/rec" --duration "$DURATION" >"$out" 2>"$err" &
    fi
    CLIENT_PID=$!
    echo "$CLIENT_PID" >>"$WORK/pids"
    printf 't_s\trss_kb\tfds\tthreads\thealthy\tbook_synced\tring_overflows\tlast_frame_age_s\tkill_engaged\talerts_firing\trss_anon_kb\trss_file_kb\n' >"$dir/samples"
    local start now next alive
    start=$(date +%s)
    alive=$start
    next=$start
    while kill -0 "$CLIENT_PID" 2>/dev/null; do
        now=$(date +%s)
        if [ -z "$addr" ]; then
            addr="$(sed -n 's/.*ops HTTP listening addr=\([0-9.:]*\).*/\1/p' "$err" 2>/dev/null | head -1 || true)"
            if [ -n "$addr" ] && [ "$PROM" = 1 ]; then
                printf '[{"targets": ["%s"], "labels": {"venue": "%s"}}]\n' "$addr" "$venue" >"$WORK/targets/$venue.json.tmp"
                mv "$WORK/targets/$venue.json.tmp" "$WORK/targets/$venue.json"
            fi
        fi
        if [ "$now" -ge "$next" ]; then
            sample "$CLIENT_PID" $((now - start)) "$addr" "$venue" >>"$dir/samples" || true
            alive=$now
            next=$((next + SAMPLE_EVERY))
        fi
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
    local fired_faults
    fired_faults="$(grep -c 'sim: fault fires' "$dir/sim.err" "$dir/sim.out" 2>/dev/null | awk -F: '{ n += $NF } END { print n + 0 }')"
    echo "soak: $venue: faults: $(( ${#FAULTS[@]} / 2 )) scheduled, $fired_faults fired (sim log); drops=$DROPS reconnects=$reconnects resyncs=$resyncs malformed=$malformed gaps=$gaps"

    # Memory, fds and threads: the first sample after warm-up (30 % of the run) against the end,
    # the peak after warm-up, and the least-squares slope of RSS after warm-up.
    local warm_t stats
    warm_t=$(( DURATION * 3 / 10 ))
    stats="$(awk -F'\t' -v w="$warm_t" 'NR > 1 && $1 >= w && $2 != "" {
            n++; if (n == 1) { r0 = $2; f0 = $3; t0 = $4; a0 = $11; m0 = $12 }
            r1 = $2; f1 = $3; t1 = $4; a1 = $11; m1 = $12
            if ($2 > rmax) rmax = $2; if ($3 > fmax) fmax = $3; if ($4 > tmax) tmax = $4
            sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2 }
        END {
            if (n < 2) { print "none"; exit }
            d = n * sxx - sx * sx; slope = d ? (n * sxy - sx * sy) / d : 0
            printf "%d %d %d %d %d %d %d %d %d %d %.1f %d %d\n", n, r0, r1, rmax, f0, f1, fmax, t0, t1, tmax, slope * 3600, a1 - a0, m1 - m0
        }' "$dir/samples")"
    if [ "$stats" = none ] || [ -z "$stats" ]; then
        fail "$venue" "fewer than 2 samples after warm-up"
    else
        local n r0 r1 rmax f0 f1 fmax t0 t1 tmax slope growth_kb anon_kb file_kb
        read -r n r0 r1 rmax f0 f1 fmax t0 t1 tmax slope anon_kb file_kb <<<"$stats"
        growth_kb=$((r1 - r0))
        echo "soak: $venue: RSS ${r0} kB after warm-up (t=${warm_t}s), ${r1} kB at the end, peak ${rmax} kB: growth $((growth_kb)) kB ($(awk -v g="$growth_kb" 'BEGIN { printf "%.2f", g / 1024 }') MiB, bound ${RSS_GROWTH_MIB} MiB), slope ${slope} kB/h over $n samples; of the growth ${anon_kb} kB anonymous, ${file_kb} kB mapped files"
        echo "soak: $venue: fds ${f0} after warm-up, ${f1} at the end, peak ${fmax}; threads ${t0} -> ${t1}, peak ${tmax}"
        [ "$growth_kb" -lt $((RSS_GROWTH_MIB * 1024)) ] || fail "$venue" "RSS grew by ${growth_kb} kB (bound ${RSS_GROWTH_MIB} MiB)"
        [ "$f1" -le $((f0 + 4)) ] || fail "$venue" "open fds grew from $f0 to $f1"
        [ "$t1" -le "$t0" ] || fail "$venue" "threads grew from $t0 to $t1"
    fi

    # Stuck state: the longest stretch of samples with the book not synced (or unhealthy).
    local stuck
    stuck="$(awk -F'\t' -v step="$SAMPLE_EVERY" 'NR > 1 && $5 != "-" {
            if ($6 != 1) { if (!run) s = $1; run = 1; len = $1 - s + step; if (len > max) max = len }
            else run = 0
            if ($5 != 1) { if (!urun) us = $1; urun = 1; ul = $1 - us + step; if (ul > umax) umax = ul }
            else urun = 0
            m++; last_s = $6; last_h = $5; ov = $7 }
        END { printf "%d %d %d %s %s %s\n", m, max, umax, last_s, last_h, ov }' "$dir/samples")"
    local msamples max_unsynced max_unhealthy last_synced last_healthy overflows
    read -r msamples max_unsynced max_unhealthy last_synced last_healthy overflows <<<"$stuck"
    echo "soak: $venue: /metrics sampled $msamples times: longest not-synced stretch ${max_unsynced} s, longest unhealthy ${max_unhealthy} s (bound ${MAX_UNSYNCED} s), ring overflows ${overflows:-?} at the last sample"
    if [ "${msamples:-0}" -lt 2 ]; then
        fail "$venue" "/metrics could not be sampled (ops HTTP address: ${addr:-not found in the log})"
    else
        [ "$max_unsynced" -le "$MAX_UNSYNCED" ] || fail "$venue" "book not synced for ${max_unsynced} s in a row (bound ${MAX_UNSYNCED} s)"
        [ "$max_unhealthy" -le "$MAX_UNSYNCED" ] || fail "$venue" "unhealthy for ${max_unhealthy} s in a row (bound ${MAX_UNSYNCED} s)"
    fi

    if [ "$PROM" = 1 ]; then
        local fired stuck_fired a up_avg up_n
        fired="$(awk -F'\t' 'NR > 1 && $10 != "-" && $10 != "?" { n = split($10, a, ","); for (i = 1; i <= n; i++) c[a[i]]++ }
            END { for (k in c) printf "%s(%d samples) ", k, c[k] }' "$dir/samples")"
        # Scrapes while the client ran (up to its last sample; the ones after it exited are down).
        local win=$((alive - start + 1))
        up_n="$(prom_value "count_over_time(up{job=\"obi-scalp\",venue=\"$venue\"}[${win}s])" "$alive")"
        up_avg="$(prom_value "sum_over_time(up{job=\"obi-scalp\",venue=\"$venue\"}[${win}s])" "$alive")"
        echo "soak: $venue: prometheus: ${up_n:-0} scrapes while the client ran, ${up_avg:-?} of them up; alerts firing during the run: ${fired:-none}"
        [ "${up_n:-0}" = "${up_avg:-x}" ] || fail "$venue" "failed scrapes: ${up_avg:-?} of ${up_n:-0} up"
        [ "${up_n:-0}" != 0 ] || fail "$venue" "prometheus never scraped the client"
        stuck_fired=""
        for a in $STUCK_ALERTS; do
            case " $fired" in *" $a("*) stuck_fired="$stuck_fired $a" ;; esac
        done
        [ -z "$stuck_fired" ] || fail "$venue" "stuck-state alerts fired:$stuck_fired"
        rm -f "$WORK/targets/$venue.json"
    fi
    if [ -f "$dir/artifacts/run_complete.json" ]; then
        echo "soak: $venue: run_complete.json: $(tr -d '\n' <"$dir/artifacts/run_complete.json" | cut -c1-300)"
    fi
}

for v in $VENUES; do
    case "$v" in coincheck|bybit|binance|binance_usdm|gmocoin|bitbank|bitflyer) ;; *) echo "soak: unknown venue $v" >&2; exit 2 ;; esac
done
echo "soak: $(date -u +%FT%TZ) start: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), binary $BIN"
[ "$PROM" = 1 ] && start_prometheus

if [ "$PARALLEL" = 1 ]; then
    jobs_=""
    for v in $VENUES; do
        ( FAILED=0; soak_one "$v"; echo "$FAILED" >"$WORK/$v.failed" ) &
        jobs_="$jobs_ $!"
    done
    for j in $jobs_; do wait "$j" || true; done
    for v in $VENUES; do
        FAILED=$((FAILED + $(cat "$WORK/$v.failed" 2>/dev/null || echo 1)))
    done
else
    for v in $VENUES; do soak_one "$v"; done
fi
echo "soak: $(date -u +%FT%TZ) end: load average $(cut -d' ' -f1-3 /proc/loadavg)"

N=$(echo $VENUES | wc -w)
if [ "$FAILED" -eq 0 ]; then
    echo "soak: $N passed, 0 failed"
else
    echo "soak: $N venues run, $FAILED check(s) failed" >&2
    exit 1
fi
