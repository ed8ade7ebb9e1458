#!/usr/bin/env bash
# The alert rules evaluated by a real Prometheus server (Debian's /usr/bin/prometheus), not only
# `promtool test rules`: Prometheus on 127.0.0.1 in a temporary directory scrapes a running
# `obi-scalp run` (paper, against the local simulator) every second and evaluates
# ops/prometheus/alerts.yml every second. The script then checks, through /api/v1/alerts:
#   0. while the client trades: none of the alerts below is firing;
#   1. the simulator stops sending (fault `stall`): ObiScalpFeedSilent fires;
#   2. the kill switch is triggered (kill file): ObiScalpKillSwitchEngaged and ObiScalpUnhealthy
#      fire (the client keeps serving /metrics for ops.stop_linger_ms after the kill);
#   3. the client has exited (code 8): ObiScalpTargetDown fires.
# Any alert not seen within its bound fails the script with what Prometheus and the client said.
#
# Time compression (default): the rules are the repository's, with every `for:` cut to 3 s and
# ObiScalpFeedSilent's 60 s frame age cut to 5 s, so that the whole check takes about a minute.
# --real-durations keeps alerts.yml exactly as committed: the 1-2 minute `for:` of the four
# alerts and the 60 s frame age are real, so it takes about 6-8 minutes.
#
# Usage: scripts/alerts_fire.sh [--bin PATH] [--real-durations] [--keep]
# Exits 0 when every alert fired, 1 when one did not, 2 on a usage or set-up problem. Without
# prometheus it skips (exit 0) unless OBI_REQUIRE_TOOLS=1 (.ci/run): then it fails.
set -euo pipefail

BIN=""
REAL=0
KEEP=0
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) BIN="$2"; shift ;;
        --real-durations) REAL=1 ;;
        --keep) KEEP=1 ;;
        -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "alerts_fire: unknown argument '$1' (see --help)" >&2; exit 2 ;;
    esac
    shift
done

for tool in prometheus python3 curl; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        if [ "${OBI_REQUIRE_TOOLS:-0}" = 1 ]; then
            echo "FAIL alerts_fire: $tool not found (OBI_REQUIRE_TOOLS=1 forbids skipping; apt-get install prometheus python3 curl)" >&2
            exit 1
        fi
        echo "SKIP alerts_fire: $tool not found (apt-get install prometheus python3 curl)"
        exit 0
    fi
done

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
if [ -z "$BIN" ]; then
    cargo build --quiet --bin obi-scalp
    BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/obi-scalp"
fi
[ -x "$BIN" ] || { echo "alerts_fire: no binary at $BIN" >&2; exit 2; }

if [ "$REAL" = 1 ]; then
    FOR_S=300; SILENT_S=60; STALL_AT=20; STALL_FOR=400; LINGER_MS=150000
else
    FOR_S=3; SILENT_S=5; STALL_AT=12; STALL_FOR=120; LINGER_MS=12000
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/obi-alerts.XXXXXX")"
PIDS=""
cleanup() {
    local p
    for p in $PIDS; do
        if kill -0 "$p" 2>/dev/null; then kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; fi
    done
    if [ "$KEEP" = 1 ]; then echo "alerts_fire: work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$(date +%s)
say() { echo "alerts_fire: [$(( $(date +%s) - T0 ))s] $*"; }
die() {
    echo "alerts_fire: FAIL $*" >&2
    echo "--- alerts Prometheus reports:" >&2
    curl -s -m 2 "$PROM/api/v1/alerts" >&2 || true
    echo >&2
    echo "--- client stderr (last 15 lines):" >&2
    tail -15 "$WORK/client.err" >&2 || true
    echo "--- prometheus log (last 5 lines):" >&2
    tail -5 "$WORK/prometheus.log" >&2 || true
    exit 1
}

# The rules under test: alerts.yml, time-compressed unless --real-durations.
if [ "$REAL" = 1 ]; then
    cp ops/prometheus/alerts.yml "$WORK/alerts.yml"
else
    python3 - ops/prometheus/alerts.yml "$WORK/alerts.yml" "$FOR_S" "$SILENT_S" <<'PY'
import re, sys
src, dst, for_s, silent_s = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
text = open(src).read()
text, n_for = re.subn(r"^(\s+)for: \S+$", rf"\g<1>for: {for_s}s", text, flags=re.M)
old = "expr: obi_scalp_last_frame_age_seconds > 60"
if old not in text:
    sys.exit("alerts_fire: ObiScalpFeedSilent's expression changed; update scripts/alerts_fire.sh")
text = text.replace(old, f"expr: obi_scalp_last_frame_age_seconds > {silent_s}")
open(dst, "w").write(text)
print(f"alerts_fire: rules: ops/prometheus/alerts.yml with {n_for} `for:` cut to {for_s}s and ObiScalpFeedSilent at > {silent_s} s")
PY
fi

# Prometheus on a free loopback port, scraping the target file every second.
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
PROM="http://127.0.0.1:$PORT"
cat >"$WORK/prometheus.yml" <<YML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - $WORK/alerts.yml
scrape_configs:
  - job_name: obi-scalp
    file_sd_configs:
      - files: ["$WORK/targets.json"]
        refresh_interval: 1s
YML
echo '[]' >"$WORK/targets.json"
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/data" \
    --web.listen-address="127.0.0.1:$PORT" >"$WORK/prometheus.log" 2>&1 &
PIDS="$PIDS $!"
for _ in $(seq 1 150); do curl -sf -m 1 "$PROM/-/ready" >/dev/null 2>&1 && break; sleep 0.2; done
curl -sf -m 1 "$PROM/-/ready" >/dev/null 2>&1 || die "prometheus did not become ready on $PROM"
say "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') on $PROM"

# The simulator: stops sending at STALL_AT for STALL_FOR seconds.
"$BIN" sim --venue coincheck --listen 127.0.0.1:0 --duration $((STALL_AT + STALL_FOR + 60)) \
    --fault "stall@${STALL_AT}s:${STALL_FOR}s" >"$WORK/sim.out" 2>"$WORK/sim.err" &
PIDS="$PIDS $!"
SIM_PORT=""
for _ in $(seq 1 200); do
    SIM_PORT="$(sed -n 's#.*listening on ws://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$WORK/sim.out" 2>/dev/null | head -1 || true)"
    [ -n "$SIM_PORT" ] && break
    sleep 0.05
done
[ -n "$SIM_PORT" ] || die "the simulator did not start: $(cat "$WORK/sim.err")"

# The client: paper trading against the simulator, ops HTTP on a free port, linger after a kill.
sed -e "s#127\.0\.0\.1:1910[0-9]#127.0.0.1:$SIM_PORT#g" \
    -e "s#var/sim-coincheck#$WORK/client#g" \
    -e 's#^http_addr = .*#http_addr = "127.0.0.1:0"#' \
    -e "s#^\[ops\]#[ops]\nstop_linger_ms = $LINGER_MS#" \
    config/sim-coincheck.toml >"$WORK/client.toml"
printf '\n[store]\njournal = "%s/client/journal.sqlite"\n' "$WORK" >>"$WORK/client.toml"
mkdir -p "$WORK/client"
RUST_LOG=info "$BIN" run --config "$WORK/client.toml" --duration 0 >"$WORK/client.out" 2>"$WORK/client.err" &
CLIENT=$!
PIDS="$CLIENT $PIDS"
ADDR=""
for _ in $(seq 1 300); do
    ADDR="$(sed -n 's/.*ops HTTP listening addr=\([0-9.:]*\).*/\1/p' "$WORK/client.err" 2>/dev/null | head -1 || true)"
    [ -n "$ADDR" ] && break
    kill -0 "$CLIENT" 2>/dev/null || die "the client exited at start-up"
    sleep 0.1
done
[ -n "$ADDR" ] || die "no 'ops HTTP listening' line from the client"
printf '[{"targets": ["%s"]}]\n' "$ADDR" >"$WORK/targets.json.tmp"
mv "$WORK/targets.json.tmp" "$WORK/targets.json"
say "client pid $CLIENT serving /metrics on $ADDR; simulator on port $SIM_PORT, silent from ${STALL_AT}s"

# state ALERT: firing, pending or none.
state() {
    curl -sf -m 2 "$PROM/api/v1/alerts" 2>/dev/null | python3 -c '
import json, sys
states = [a["state"] for a in json.load(sys.stdin)["data"]["alerts"] if a["labels"]["alertname"] == sys.argv[1]]
print("firing" if "firing" in states else ("pending" if states else "none"))' "$1" 2>/dev/null || echo none
}
# query EXPR: the first value of an instant query, empty when none.
query() {
    curl -sf -m 2 "$PROM/api/v1/query" --data-urlencode "query=$1" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(r[0]["value"][1] if r else "")' 2>/dev/null || true
}
# wait_firing ALERT BOUND_S WHAT
wait_firing() {
    local end=$(( $(date +%s) + $2 ))
    while [ "$(date +%s)" -le "$end" ]; do
        if [ "$(state "$1")" = firing ]; then
            say "ok   $1 firing ($3)"
            return 0
        fi
        sleep 0.5
    done
    die "$1 did not fire within $2 s after $3"
}

# 0. Scraped and healthy, and nothing firing yet.
end=$(( $(date +%s) + 30 ))
while [ "$(query 'up{job="obi-scalp"}')" != 1 ] || [ "$(query 'obi_scalp_healthy')" != 1 ]; do
    [ "$(date +%s)" -le "$end" ] || die "the client was not scraped up and healthy within 30 s"
    sleep 0.5
done
for a in ObiScalpFeedSilent ObiScalpKillSwitchEngaged ObiScalpUnhealthy ObiScalpTargetDown; do
    [ "$(state "$a")" = none ] || die "$a is $(state "$a") while the client trades normally"
done
say "ok   scraped: up=1, healthy=1, none of the four alerts pending or firing"

# 1. The simulator stops sending.
wait_firing ObiScalpFeedSilent $((STALL_AT + SILENT_S + FOR_S + 40)) "the simulator stopped sending"
say "     last frame age now $(query 'obi_scalp_last_frame_age_seconds') s"

# 2. The kill switch.
: >"$WORK/client/KILL"
say "kill file written"
wait_firing ObiScalpKillSwitchEngaged 20 "the kill switch (kill file)"
wait_firing ObiScalpUnhealthy $((FOR_S + 20)) "the kill switch (healthy=0)"

# 3. The client exits (code 8 after the linger); the target goes down.
end=$(( $(date +%s) + LINGER_MS / 1000 + 30 ))
while kill -0 "$CLIENT" 2>/dev/null; do
    [ "$(date +%s)" -le "$end" ] || die "the client did not exit after the kill and its ${LINGER_MS} ms linger"
    sleep 0.2
done
rc=0
wait "$CLIENT" || rc=$?
[ "$rc" = 8 ] || die "the client exited $rc after the kill switch (expected 8)"
say "client exited 8 (kill switch)"
wait_firing ObiScalpTargetDown $((FOR_S + 30)) "the client exited"

say "PASS: FeedSilent, KillSwitchEngaged, Unhealthy and TargetDown fired on a real Prometheus"
