#!/usr/bin/env bash
# Smoke test of `obi-scalp run` on the built-in synthetic market (no network, no keys):
#   1. build (debug) unless OBI_SCALP_BIN names a binary,
#   2. start `run` in a temporary working directory (its own var/) with the ops HTTP server on a
#      free 127.0.0.1 port,
#   3. wait for /healthz 200, check /metrics has the key series and the artifacts exist,
#   4. stop it with SIGTERM and check exit 0 and run_complete.json (stop_reason signal, clean).
# Prints `smoke: OK` and exits 0, or `smoke: FAIL stage=<stage>: <what>` with the process's
# output and exits 1 (the working directory is kept for inspection).
#
# Options:
#   --simulate-failure[=bind|crash]  make the check fail on purpose (to test the diagnostics):
#       bind  (default) another obi-scalp already holds the HTTP port, so run exits 6 at start-up;
#       crash the process is SIGKILLed mid-way, so there is no clean exit and no run_complete.json.
# Environment: OBI_SCALP_BIN (binary to test), SMOKE_TIMEOUT_S (per wait, default 30),
# KEEP=1 (keep the working directory on success too).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
simulate=""
for a in "$@"; do
    case "$a" in
        --simulate-failure) simulate="bind" ;;
        --simulate-failure=bind | --simulate-failure=crash) simulate="${a#--simulate-failure=}" ;;
        -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "smoke: unknown argument $a (see --help)" >&2; exit 2 ;;
    esac
done
wait_s="${SMOKE_TIMEOUT_S:-30}"

work="$(mktemp -d "${TMPDIR:-/tmp}/obi-smoke.XXXXXX")"
pid=""
other=""
cleanup() {
    for p in $pid $other; do
        if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; fi
    done
}
trap cleanup EXIT

log() { echo "smoke: $*"; }

fail() { # stage, message
    log "FAIL stage=$1: $2"
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
        wait "$pid" 2>/dev/null
        local rc=$?
        log "obi-scalp run (pid $pid) is not running: exit code $rc$( [ "$rc" -gt 128 ] && echo " (killed by signal $((rc - 128)))")"
        pid=""
    fi
    for f in stdout stderr; do
        if [ -s "$work/$f.log" ]; then
            echo "---- obi-scalp $f (last 25 lines) ----"
            tail -n 25 "$work/$f.log"
        fi
    done
    if [ -f "$work/var/artifacts/run_complete.json" ]; then
        echo "---- run_complete.json (summary) ----"
        grep -E '^  "(exit_code|exit_name|stop_reason|clean)"' "$work/var/artifacts/run_complete.json"
    fi
    echo "---- working directory kept: $work"
    exit 1
}

# One HTTP/1.1 GET over bash's /dev/tcp; prints the whole answer (head and body).
http_get() { # port path
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" >&3
        cat <&3' _ "$1" "$2" 2>/dev/null
}

status_of() { sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' | tr -d '\r'; }

# Starts run with config $1 writing $2.{stdout,stderr}.log in $3; sets $started_pid.
start_run() { # config, log prefix, workdir
    (cd "$3" && exec "$bin" run --config "$1" >"$2.stdout.log" 2>"$2.stderr.log") &
    started_pid=$!
}

# Waits for the start-up line and prints the HTTP port; fails if the process exits first.
port_of() { # pid, stdout log
    local end=$((SECONDS + wait_s)) line
    while [ $SECONDS -lt $end ]; do
        line="$(grep -m1 -o 'http 127\.0\.0\.1:[0-9]*' "$2" 2>/dev/null || true)"
        if [ -n "$line" ]; then echo "${line##*:}"; return 0; fi
        kill -0 "$1" 2>/dev/null || return 1
        sleep 0.05
    done
    return 1
}

# 1. The binary.
if [ -n "${OBI_SCALP_BIN:-}" ]; then
    bin="$OBI_SCALP_BIN"
else
    log "building (cargo build)"
    (cd "$here" && cargo build --quiet --bin obi-scalp) || fail build "cargo build failed"
    bin="${CARGO_TARGET_DIR:-$here/target}/debug/obi-scalp"
fi
[ -x "$bin" ] || fail build "no executable at $bin"
log "binary $bin ($("$bin" --version 2>/dev/null | head -n 1))"

# 2. Start it.
cat >"$work/smoke.toml" <<'EOF'
# smoke.sh: built-in synthetic market, paper, HTTP on a free port; 120 s backstop.
duration_s = 120
[ops]
http_addr = "127.0.0.1:0"
status_interval_ms = 1000
EOF
if [ "$simulate" = bind ]; then
    log "simulating a failure: another obi-scalp holds the HTTP port first"
    mkdir -p "$work/other"
    start_run "$work/smoke.toml" "$work/other/holder" "$work/other"
    other=$started_pid
    hold_port="$(port_of "$other" "$work/other/holder.stdout.log")" ||
        fail setup "the port-holding instance did not start"
    sed -i "s/127\.0\.0\.1:0/127.0.0.1:$hold_port/" "$work/smoke.toml"
fi
start_run "$work/smoke.toml" "$work/run" "$work"
pid=$started_pid
# Keep the names fail() prints.
ln -sf run.stdout.log "$work/stdout.log"
ln -sf run.stderr.log "$work/stderr.log"
if ! port="$(port_of "$pid" "$work/run.stdout.log")"; then
    wait "$pid" 2>/dev/null
    rc=$?
    pid=""
    fail start "obi-scalp run exited with code $rc before serving HTTP: $(tail -n1 "$work/run.stderr.log")"
fi
log "pid $pid, ops HTTP on 127.0.0.1:$port"

# 3. Health, metrics, artifacts.
end=$((SECONDS + wait_s))
code=""
while [ $SECONDS -lt $end ]; do
    code="$(http_get "$port" /healthz | status_of)"
    [ "$code" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || fail healthz "process exited while waiting for /healthz"
    sleep 0.1
done
[ "$code" = 200 ] || fail healthz "/healthz answered '${code:-nothing}' for ${wait_s}s, expected 200"
log "/healthz 200"

if [ "$simulate" = crash ]; then
    log "simulating a failure: SIGKILL mid-run"
    kill -KILL "$pid"
fi

want_series=(
    'obi_scalp_healthy 1'
    'obi_scalp_monitor_status{status="active"} 1'
    'obi_scalp_run_loop_failures_total '
    'obi_scalp_feed_frames_total '
    'obi_scalp_orders_total{'
    'obi_scalp_fills_total{'
    'obi_scalp_tick_to_trade_seconds_bucket{'
    'obi_scalp_stage_seconds_bucket{'
    'obi_scalp_build_info{'
)
metrics=""
missing=()
end=$((SECONDS + wait_s))
while [ $SECONDS -lt $end ]; do
    metrics="$(http_get "$port" /metrics)"
    missing=()
    for s in "${want_series[@]}"; do
        grep -qF -- "$s" <<<"$metrics" || missing+=("$s")
    done
    [ ${#missing[@]} -eq 0 ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
done
if [ ${#missing[@]} -ne 0 ]; then
    [ -n "$metrics" ] || fail metrics "/metrics did not answer"
    fail metrics "series missing from /metrics: ${missing[*]}"
fi
log "/metrics has ${#want_series[@]} key series"

end=$((SECONDS + wait_s))
for f in var/artifacts/run_progress.json var/logs/audit_events.jsonl; do
    while [ ! -s "$work/$f" ] && [ $SECONDS -lt $end ]; do sleep 0.1; done
    [ -s "$work/$f" ] || fail artifacts "$f missing or empty"
done
grep -q '"kind":"startup"' "$work/var/logs/audit_events.jsonl" ||
    fail artifacts "no startup event in var/logs/audit_events.jsonl"
log "artifacts present"

# 4. Stop.
kill -TERM "$pid" 2>/dev/null || fail stop "process $pid is gone before SIGTERM"
end=$((SECONDS + wait_s))
while kill -0 "$pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
if kill -0 "$pid" 2>/dev/null; then
    fail stop "still running ${wait_s}s after SIGTERM"
fi
wait "$pid" 2>/dev/null
rc=$?
pid=""
[ "$rc" -eq 0 ] || fail exit "exit code $rc after SIGTERM, expected 0$( [ "$rc" -gt 128 ] && echo " (killed by signal $((rc - 128)))")"
rcf="$work/var/artifacts/run_complete.json"
[ -s "$rcf" ] || fail run_complete "var/artifacts/run_complete.json missing"
for want in '"exit_code": 0,' '"stop_reason": "signal",' '"clean": true,'; do
    grep -qF -- "$want" "$rcf" || fail run_complete "run_complete.json lacks $want"
done
grep -q '^summary: reason="signal"' "$work/run.stdout.log" || fail summary "no summary line with reason=\"signal\" on stdout"
log "exit 0, run_complete.json: stop_reason signal, clean"

log "OK"
if [ "${KEEP:-0}" = 1 ]; then echo "smoke: working directory kept: $work"; else rm -rf "$work"; fi
exit 0
