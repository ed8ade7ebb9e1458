#!/usr/bin/env bash
# Secret rotation check against the project's simulator (127.0.0.1 only, no real venue):
#   1. the simulator (Bybit, TLS, test account) on a free port; credential set A in a
#      credentials directory ($CREDENTIALS_DIRECTORY, as systemd's LoadCredential= gives it);
#   2. phase "before": `obi-scalp run` in LIVE mode against the simulator (its test account,
#      ops HTTP on a free port) with set A loaded; it trades (requests signed with A accepted),
#      /healthz 200, /metrics has its series, scripts/smoke.sh passes, `obi-scalp drill` with
#      set A passes (signed reads and the private stream accepted);
#   3. rotation, as an operator does it at a venue that lets an account hold two keys: the
#      simulator gets set B and keeps A for now (POST /sim/rotate, keep_old); the secrets
#      files are swapped to B in place and the engine gets SIGHUP: its log must say the secrets
#      were reloaded and changed, the audit log must have the secrets_reload event, and the
#      simulator must see the running live gateway sign with B; then A is retired at the
#      simulator (retire_old): a drill with A is refused (exit 20, auth), one with B passes;
#   4. phase "after": /healthz, /metrics, smoke.sh and the drill (now with B) again, and the
#      engine still trading with B;
#   5. SIGTERM: exit 0, the gateway's `auth_errors=0`; no secret string (A or B, key or secret)
#      in any log, artifact, audit file, /metrics answer or drill output.
# Prints `rotate: OK` and exits 0, or `rotate: FAIL phase=<phase>: <what>` and exits 1 (the
# working directory is kept).
#
# Environment: OBI_SCALP_BIN (binary; else cargo build), ROTATE_TIMEOUT_S (per wait, 30),
# KEEP=1 (keep the working directory on success too).
set -uo pipefail
# `grep -q` at the end of a pipeline under pipefail can fail a match: it exits at the first
# match and the writer before it dies of SIGPIPE (exit 141). `has` reads all of its input.
has() { grep -c "$@" >/dev/null; }

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
case "${1:-}" in
    -h | --help) sed -n '2,23p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    "") ;;
    *) echo "rotate: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac
wait_s="${ROTATE_TIMEOUT_S:-30}"
work="$(mktemp -d "${TMPDIR:-/tmp}/obi-rotate.XXXXXX")"
sim_pid=""
run_pid=""
cleanup() {
    for p in $run_pid $sim_pid; do
        if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null; fi
    done
}
trap cleanup EXIT

log() { echo "rotate: $*"; }
fail() { # phase, message
    log "FAIL phase=$1: $2"
    for f in "$work"/*.log; do
        [ -f "$f" ] || continue
        echo "---- $f (last 20 lines)"
        tail -n 20 "$f"
    done
    echo "---- working directory kept: $work"
    exit 1
}

# Test credentials for the local simulator only.
KEY_A="obiSIMbybitKEY01"
SECRET_A="obi-sim-bybit-secret-not-a-real-key"
KEY_B="obiSIMrotatedKEY02"
SECRET_B="obi-sim-rotated-secret-set-b-test"

if [ -n "${OBI_SCALP_BIN:-}" ]; then
    bin="$OBI_SCALP_BIN"
else
    log "building (cargo build)"
    (cd "$here" && cargo build --quiet --bin obi-scalp) || fail build "cargo build failed"
    bin="${CARGO_TARGET_DIR:-$here/target}/debug/obi-scalp"
fi
[ -x "$bin" ] || fail build "no binary at $bin"

# 1. Simulator and credential set A.
(exec "$bin" sim --venue bybit --listen 127.0.0.1:0 --tls-self-signed "$work/tls" \
    --account "$here/config/sim-account-bybit.toml" --duration 600 \
    >"$work/sim.stdout.log" 2>"$work/sim.stderr.log") &
sim_pid=$!
port=""
end=$((SECONDS + wait_s))
while [ $SECONDS -lt $end ] && [ -z "$port" ]; do
    port="$(grep -m1 -o 'https://127\.0\.0\.1:[0-9]*' "$work/sim.stdout.log" 2>/dev/null | sed 's/.*://' || true)"
    kill -0 "$sim_pid" 2>/dev/null || fail start "the simulator exited"
    [ -n "$port" ] || sleep 0.05
done
[ -n "$port" ] || fail start "the simulator printed no address within ${wait_s}s"
ca="$work/tls/ca.pem"
log "simulator on 127.0.0.1:$port (TLS)"

creds="$work/creds"
mkdir -p "$creds" && chmod 700 "$creds"
put_creds() { # key secret: replaced in place (write, then rename), as an operator would
    printf '%s\n' "$1" >"$creds/.api_key.new" && mv "$creds/.api_key.new" "$creds/api_key"
    printf '%s\n' "$2" >"$creds/.api_secret.new" && mv "$creds/.api_secret.new" "$creds/api_secret"
    chmod 400 "$creds/api_key" "$creds/api_secret"
}
put_creds "$KEY_A" "$SECRET_A"
# A copy of set A for the drill that must be refused once A is retired at the simulator.
mkdir -p "$work/creds-a" && chmod 700 "$work/creds-a"
cp "$creds/api_key" "$creds/api_secret" "$work/creds-a/"

# The live config pointed at the simulator; the engine runs it live with HTTP on.
sed -e "s#127.0.0.1:19102#127.0.0.1:$port#g" -e "s#var/sim-tls/ca.pem#$ca#" \
    -e "s#var/sim-bybit-live#$work/var#g" -e 's/^duration_s = 60/duration_s = 0/' \
    "$here/config/sim-bybit-live.toml" >"$work/drill.toml"
sed -e 's/^http_addr = "off"/http_addr = "127.0.0.1:0"/' "$work/drill.toml" >"$work/run.toml"
grep -q '^mode = "live"' "$work/run.toml" || fail build "config/sim-bybit-live.toml is not mode = \"live\""

sim_state() { curl -sS --max-time 5 --cacert "$ca" "https://127.0.0.1:$port/sim/state"; }
# Requests the simulator accepted signed with its key pair $1 (0: set A, 1: set B).
accepted() {
    sim_state | python3 -c 'import json,sys; print(json.load(sys.stdin)["venue"]["keys"][int(sys.argv[1])]["accepted"])' "$1"
}
# Waits (bounded) until pair $1 has more than $2 accepted requests; phase $3, what $4.
wait_accepted() {
    local end=$((SECONDS + wait_s)) n=""
    while [ $SECONDS -lt $end ]; do
        n="$(accepted "$1" 2>/dev/null || true)"
        [ -n "$n" ] && [ "$n" -gt "$2" ] && return 0
        kill -0 "$run_pid" 2>/dev/null || fail "$3" "obi-scalp run exited"
        sleep 0.1
    done
    fail "$3" "$4 (pair $1: ${n:-no answer} accepted requests, wanted more than $2, within ${wait_s}s)"
}
sim_rotate() { # JSON body: the simulator's answer
    curl -sS --max-time 5 --cacert "$ca" -X POST -d "$1" "https://127.0.0.1:$port/sim/rotate" 2>&1
}

drill() { # phase, expected exit, log name[, credentials directory (default: the engine's)]
    (cd "$work" && CREDENTIALS_DIRECTORY="${4:-$creds}" OBI_SCALP_DRILL_REAL_CONNECT= \
        OBI_SCALP_API_KEY= OBI_SCALP_API_SECRET= \
        "$bin" drill --config "$work/drill.toml" >"$work/$3.log" 2>&1)
    local rc=$?
    [ "$rc" -eq "$2" ] || fail "$1" "drill exited $rc, expected $2 (see $3.log)"
    log "$1: drill exit $rc as expected"
}

http_get() { # path: the whole answer
    timeout 5 bash -c '
        exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
        printf "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n" "$2" >&3
        cat <&3' _ "$http_port" "$1" 2>/dev/null
}

checks() { # phase
    local code body end
    end=$((SECONDS + wait_s))
    code=""
    while [ $SECONDS -lt $end ]; do
        code="$(http_get /healthz | sed -n '1s/^HTTP\/1\.[01] \([0-9]*\).*/\1/p' | tr -d '\r')"
        [ "$code" = "200" ] && break
        kill -0 "$run_pid" 2>/dev/null || fail "$1" "obi-scalp run exited"
        sleep 0.1
    done
    [ "$code" = "200" ] || fail "$1" "/healthz answered '${code:-nothing}', not 200, within ${wait_s}s"
    body="$(http_get /metrics)"
    printf '%s\n' "$body" >>"$work/metrics.log"
    printf '%s' "$body" | has '^obi_scalp_uptime_seconds' || fail "$1" "/metrics has no obi_scalp_uptime_seconds"
    printf '%s' "$body" | has '^obi_scalp_http_requests_total' ||
        fail "$1" "/metrics has no obi_scalp_http_requests_total"
    log "$1: /healthz 200, /metrics ok"
    OBI_SCALP_BIN="$bin" TMPDIR="$work" bash "$here/scripts/smoke.sh" >"$work/smoke-$1.log" 2>&1 ||
        fail "$1" "scripts/smoke.sh failed (see smoke-$1.log)"
    grep -q "smoke: OK" "$work/smoke-$1.log" || fail "$1" "smoke.sh did not say OK"
    log "$1: smoke.sh OK"
}

# 2. Before: the engine with set A.
(cd "$work" && CREDENTIALS_DIRECTORY="$creds" OBI_SCALP_API_KEY= OBI_SCALP_API_SECRET= \
    OBI_SCALP_LIVE=yes exec "$bin" run --config "$work/run.toml" </dev/null \
    >"$work/run.stdout.log" 2>"$work/run.stderr.log") &
run_pid=$!
http_port=""
end=$((SECONDS + wait_s))
while [ $SECONDS -lt $end ] && [ -z "$http_port" ]; do
    http_port="$(grep -m1 -o 'http 127\.0\.0\.1:[0-9]*' "$work/run.stdout.log" 2>/dev/null | sed 's/.*://' || true)"
    kill -0 "$run_pid" 2>/dev/null || fail before "obi-scalp run exited at start-up"
    [ -n "$http_port" ] || sleep 0.05
done
[ -n "$http_port" ] || fail before "obi-scalp run printed no HTTP address within ${wait_s}s"
grep -q "secret loaded.*api_key" "$work/run.stderr.log" || fail before "the run did not load api_key"
grep -q "live trading" "$work/run.stdout.log" || fail before "the run is not live: $(head -1 "$work/run.stdout.log")"
wait_accepted 0 0 before "the live gateway's requests signed with set A"
checks before
drill before 0 drill-before-A

# 3. Rotation at the venue (B added, A kept for now), then in our files, then SIGHUP.
rot="$(sim_rotate "{\"api_key\":\"$KEY_B\",\"api_secret\":\"$SECRET_B\",\"keep_old\":true}")" ||
    fail rotate "POST /sim/rotate: $rot"
printf '%s' "$rot" | has '"rotations":1' || fail rotate "POST /sim/rotate answered $rot"
put_creds "$KEY_B" "$SECRET_B"
drill rotate 0 drill-rotated-B
b0="$(accepted 1)" || fail rotate "no /sim/state"
kill -HUP "$run_pid" || fail rotate "cannot send SIGHUP"
end=$((SECONDS + wait_s))
until grep -q "SIGHUP: secrets reloaded" "$work/run.stderr.log"; do
    [ $SECONDS -lt $end ] || fail rotate "no 'SIGHUP: secrets reloaded' within ${wait_s}s"
    kill -0 "$run_pid" 2>/dev/null || fail rotate "obi-scalp run exited after SIGHUP"
    sleep 0.05
done
grep "SIGHUP: secrets reloaded" "$work/run.stderr.log" | has "changed=true" ||
    fail rotate "the reload did not report changed secrets: $(grep 'SIGHUP' "$work/run.stderr.log")"
log "rotate: SIGHUP reloaded the secrets (changed=true)"
wait_accepted 1 "$b0" rotate "the running live gateway's requests signed with set B"
log "rotate: the running live gateway signs with set B"
rot="$(sim_rotate '{"retire_old":true}')" || fail rotate "POST /sim/rotate retire_old: $rot"
drill rotate 20 drill-rotated-A "$work/creds-a"
grep -Eq '"class": ?"auth"' "$work/var/artifacts/live_connectivity_drill.json" ||
    fail rotate "the drill artifact does not say class auth"

# 4. After.
b1="$(accepted 1)" || fail after "no /sim/state"
checks after
drill after 0 drill-after-B
wait_accepted 1 "$b1" after "the live gateway still trading with set B after A was retired"

# 5. Stop and look for leaks.
kill -TERM "$run_pid"
end=$((SECONDS + wait_s))
while kill -0 "$run_pid" 2>/dev/null && [ $SECONDS -lt $end ]; do sleep 0.05; done
kill -0 "$run_pid" 2>/dev/null && fail stop "obi-scalp run still running ${wait_s}s after SIGTERM"
wait "$run_pid"
rc=$?
run_pid=""
[ "$rc" -eq 0 ] || fail stop "obi-scalp run exited $rc after SIGTERM, expected 0"
grep "^bybit live:" "$work/run.stdout.log" | has ' auth_errors=0 ' ||
    fail stop "the live gateway counted auth errors: $(grep '^bybit live:' "$work/run.stdout.log")"
grep -rEq '"kind": ?"secrets_reload"' "$work/var" || fail stop "no secrets_reload audit event under var/"
for s in "$KEY_A" "$SECRET_A" "$KEY_B" "$SECRET_B"; do
    hits="$(grep -rlF --exclude-dir=creds --exclude-dir=creds-a --exclude-dir=tls \
        --exclude="*.toml" -- "$s" "$work" 2>/dev/null || true)"
    [ -z "$hits" ] || fail leak "a secret string appears in: $hits"
done
log "no secret string in logs, artifacts, audit or metrics"
log "OK"
[ "${KEEP:-0}" = 1 ] && echo "---- working directory kept: $work" || rm -rf "$work"
exit 0
