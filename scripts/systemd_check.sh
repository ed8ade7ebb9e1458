#!/usr/bin/env bash
# The service as users install it, under a real systemd: a minimal Debian bookworm root
# (debootstrap, cached in $OBI_NSPAWN_CACHE, default /var/cache/obi-scalp-nspawn) booted with
# `systemd-nspawn --boot --private-network --register=no --keep-unit`, installed with
# scripts/install.sh, market data from `obi-scalp sim` inside the container on loopback (the
# installed production configs with only the URLs pointed at it).
#
#   scripts/systemd_check.sh [--bin PATH]     (root; default binary target/release/obi-scalp,
#                                              else target/debug/obi-scalp)
#
# Checks: start -> READY and STATUS (never "trading" while /healthz is 503), /healthz and
# /metrics, alive past WatchdogSec, SIGSTOP -> watchdog restart, kill -9 -> restarted,
# systemctl reload (SIGHUP), journal lines plain with the right priorities, exit 8 (kill
# switch), 2 (config) and 7 (risk abort) stay down, systemctl stop clean, the template with
# two instances side by side. WatchdogSec is shortened to 4 s by a drop-in (the check's only
# change to the units) so the watchdog case takes seconds.
#
# Needs: root, systemd-nspawn (systemd-container), debootstrap. Skips (exit 0) without them
# unless OBI_REQUIRE_TOOLS=1 (then exit 1). Prints "systemd_check: N failures" and the time.
set -uo pipefail
# `grep -q` at the end of a pipeline under pipefail can fail a match: it exits at the first
# match and the writer before it dies of SIGPIPE (exit 141). `has` reads all of its input.
has() { grep -c "$@" >/dev/null; }

t_start=$(date +%s)
skip() {
    if [ "${OBI_REQUIRE_TOOLS:-0}" = 1 ]; then
        echo "FAIL systemd_check: $1 (OBI_REQUIRE_TOOLS=1 forbids skipping)" >&2
        exit 1
    fi
    echo "SKIP systemd_check: $1"
    exit 0
}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin=""
while [ $# -gt 0 ]; do
    case "$1" in
        --bin) bin="$2"; shift 2 ;;
        *) echo "systemd_check.sh: unknown argument '$1'" >&2; exit 2 ;;
    esac
done
if [ -z "$bin" ]; then
    for b in "$here/target/release/obi-scalp" "$here/target/debug/obi-scalp"; do
        if [ -x "$b" ]; then bin="$b"; break; fi
    done
fi
[ -n "$bin" ] && [ -x "$bin" ] || { echo "systemd_check: no obi-scalp binary (cargo build)" >&2; exit 1; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v systemd-nspawn >/dev/null 2>&1 || skip "systemd-nspawn not found (apt-get install systemd-container)"
command -v debootstrap >/dev/null 2>&1 || skip "debootstrap not found (apt-get install debootstrap)"

# --- The cached root ---------------------------------------------------------------------------
cache="${OBI_NSPAWN_CACHE:-/var/cache/obi-scalp-nspawn}"
# The name changes when the package list does (a new root is built).
base="$cache/bookworm-1"
# The mirror apt on this machine uses (deb822 or one-line sources), else Debian's.
mirror="$(sed -n 's/^URIs: *\([^ ]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -1)"
[ -n "$mirror" ] || mirror="$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null)"
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
if [ ! -x "$base/usr/lib/systemd/systemd" ]; then
    echo "systemd_check: building the Debian root in $base (debootstrap from $mirror; cached)"
    mkdir -p "$cache"
    rm -rf "$base.tmp"
    debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,curl,procps bookworm "$base.tmp" "$mirror" \
        > "$cache/debootstrap.log" 2>&1 || { tail -20 "$cache/debootstrap.log"; echo "FAIL debootstrap"; exit 1; }
    mv "$base.tmp" "$base"
fi
t_root=$(date +%s)

# --- A fresh copy with the project in it ---------------------------------------------------------
work="$(mktemp -d /var/tmp/obi-nspawn.XXXXXX)"
root="$work/root"
nspawn_pid=""
cleanup() {
    if [ -n "$nspawn_pid" ] && kill -0 "$nspawn_pid" 2>/dev/null; then
        kill -TERM "$nspawn_pid" 2>/dev/null   # nspawn's SIGTERM: the container powers off
        for _ in $(seq 1 100); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nspawn_pid" 2>/dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT
cp -a "$base" "$root"
src="$root/opt/obi-src"
mkdir -p "$src/scripts" "$src/config"
cp "$here/scripts/install.sh" "$src/scripts/"
cp -r "$here/systemd" "$src/"
cp -r "$here/config/service" "$src/config/"
cp "$bin" "$src/obi-scalp"
echo "obi-check" > "$root/etc/hostname"

nspawn=(systemd-nspawn -q -D "$root" --private-network --register=no --keep-unit)
if ! "${nspawn[@]}" /opt/obi-src/scripts/install.sh --bin /opt/obi-src/obi-scalp > "$work/install.log" 2>&1; then
    cat "$work/install.log"; echo "FAIL install.sh"; exit 1
fi
# Idempotent: a second run changes nothing and succeeds.
"${nspawn[@]}" /opt/obi-src/scripts/install.sh --bin /opt/obi-src/obi-scalp >> "$work/install.log" 2>&1 \
    || { cat "$work/install.log"; echo "FAIL install.sh (second run)"; exit 1; }

# The check's own additions: the simulators, the production configs pointed at them, broken
# and risk-abort instances, a short watchdog.
etc="$root/etc/obi-scalp"
sed -i -e 's|^ws_url = .*|ws_url = "ws://127.0.0.1:19101/"|' -e 's|^rest_url = .*|rest_url = "http://127.0.0.1:19101"|' "$etc/coincheck-btcjpy.toml"
sed -i -e 's|^ws_url = .*|ws_url = "ws://127.0.0.1:19102/v5/public/linear"|' "$etc/bybit-btcusdt.toml"
sed -i -e '/^stream_depth/a rest_url = "http://127.0.0.1:19102"' "$etc/bybit-btcusdt.toml"
printf 'bogus_key = 1\n' > "$etc/broken.toml"
printf 'duration_s = 0\n[risk]\nmax_drawdown = "0.001"\n[pipeline]\nwait = "park"\n[ops]\nhttp_addr = "127.0.0.1:9760"\n' > "$etc/riskabort.toml"
# Readable by the service account, like the installed ones (root:obi-scalp 0640).
gid="$(awk -F: '$1 == "obi-scalp" {print $3}' "$root/etc/group")"
chgrp "$gid" "$etc/broken.toml" "$etc/riskabort.toml"
chmod 0640 "$etc"/*.toml
for v in coincheck:19101 bybit:19102; do
    cat > "$root/etc/systemd/system/obi-sim-${v%%:*}.service" <<EOF
[Unit]
Description=obi-scalp simulator (${v%%:*}) for the check
[Service]
ExecStart=/usr/local/bin/obi-scalp sim --venue ${v%%:*} --listen 127.0.0.1:${v##*:} --synthetic 1
[Install]
WantedBy=multi-user.target
EOF
    mkdir -p "$root/etc/systemd/system/multi-user.target.wants"
    ln -s "/etc/systemd/system/obi-sim-${v%%:*}.service" "$root/etc/systemd/system/multi-user.target.wants/"
done
for d in obi-scalp.service.d obi-scalp@.service.d; do
    mkdir -p "$root/etc/systemd/system/$d"
    printf '[Service]\nWatchdogSec=4\nRestartSec=1\n' > "$root/etc/systemd/system/$d/check.conf"
done
# No getty or other noise in the container.
rm -f "$root/etc/systemd/system/getty.target.wants/"* 2>/dev/null

# --- Boot ----------------------------------------------------------------------------------------
"${nspawn[@]}" --boot > "$work/console.log" 2>&1 &
nspawn_pid=$!
leader=""
for _ in $(seq 1 200); do
    for c in $(cat /proc/"$nspawn_pid"/task/*/children 2>/dev/null); do
        if [ "$(cat /proc/"$c"/comm 2>/dev/null)" = systemd ]; then leader="$c"; fi
    done
    [ -n "$leader" ] && break
    sleep 0.1
done
[ -n "$leader" ] || { cat "$work/console.log"; echo "FAIL: the container did not boot"; exit 1; }
ct() { nsenter -t "$leader" -m -u -i -n -p -C -- "$@"; }
for _ in $(seq 1 300); do
    st="$(ct systemctl is-system-running 2>/dev/null)"
    case "$st" in running|degraded) break ;; esac
    sleep 0.1
done
t_boot=$(date +%s)
echo "systemd_check: booted ($(ct systemctl --version | head -1), state $st)"

fails=0
ok() { echo "ok   $*"; }
bad() { echo "FAIL $*"; fails=$((fails + 1)); }
prop() { ct systemctl show -P "$2" "$1"; }
# wait_for SECONDS WHAT CMD...: polls CMD (0.2 s apart) until it succeeds.
wait_for() {
    local limit=$1 what=$2; shift 2
    local end=$(( $(date +%s) + limit ))
    while [ "$(date +%s)" -lt "$end" ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2
    done
    echo "     (timed out after ${limit}s waiting for $what)"
    return 1
}
http_code() { ct curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1$2"; }
healthy() { [ "$(http_code "$1" /healthz)" = 200 ]; }
status_trading() { prop "$1" StatusText | has '^trading '; }
restarts_above() { [ "$(prop "$1" NRestarts)" -gt "$2" ]; }
active_pid_not() { [ "$(prop "$1" ActiveState)" = active ] && [ "$(prop "$1" MainPID)" != 0 ] && [ "$(prop "$1" MainPID)" != "$2" ]; }
down_with() { # unit code: not running, last exit status code
    local s; s="$(prop "$1" ActiveState)"
    [ "$s" != active ] && [ "$s" != activating ] && [ "$s" != reloading ] && [ "$(prop "$1" ExecMainStatus)" = "$2" ]
}
# STATUS= never says trading while /healthz is 503: sampled through start-up.
coherent_until_trading() { # unit port seconds
    local end=$(( $(date +%s) + $3 )) code text
    while [ "$(date +%s)" -lt "$end" ]; do
        text="$(prop "$1" StatusText)"
        code="$(http_code "$2" /healthz)"
        if [ "$code" = 503 ] && [ "${text#trading }" != "$text" ]; then
            echo "     STATUS='$text' while /healthz is 503"; return 1
        fi
        if [ "$code" = 200 ] && [ "${text#trading }" != "$text" ]; then return 0; fi
        sleep 0.1
    done
    echo "     (not trading after $3 s: STATUS='$text', /healthz $code)"; return 1
}

u=obi-scalp.service
wait_for 20 "the simulators" ct sh -c 'curl -s -o /dev/null http://127.0.0.1:19101/ ; curl -s -o /dev/null http://127.0.0.1:19102/' || true

# 1. Start: READY (systemctl start returns after it), STATUS follows health.
if ct systemctl start "$u"; then ok "start: READY=1 received (active)"; else bad "start"; ct journalctl -u "$u" -n 30 --no-pager; fi
ready_status="$(prop "$u" StatusText)"
if coherent_until_trading "$u" 9754 60; then
    ok "STATUS follows /healthz: at READY '$ready_status', now '$(prop "$u" StatusText)' with /healthz 200"
else bad "STATUS/healthz"; fi
# The body is kept: on a failure the line it had is shown.
metrics="$(ct curl -sf http://127.0.0.1:9754/metrics)" && rc=0 || rc=$?
if [ "$rc" = 0 ] && grep -q '^obi_scalp_healthy 1' <<<"$metrics"; then ok "/metrics: obi_scalp_healthy 1 (${#metrics} bytes)"
else bad "/metrics: curl exit $rc, $(grep '^obi_scalp_healthy' <<<"$metrics" || echo 'no obi_scalp_healthy line')"; fi

# 2. Alive past WatchdogSec (4 s): no restart.
pid="$(prop "$u" MainPID)"
sleep 6
if [ "$(prop "$u" NRestarts)" = 0 ] && [ "$(prop "$u" MainPID)" = "$pid" ]; then ok "alive 6 s past WatchdogSec=4 (no restart)"; else bad "restarted while healthy"; fi

# 3. Reload: SIGHUP, same process, logged.
if ct systemctl reload "$u" && wait_for 10 "the reload line" sh -c "nsenter -t $leader -m -u -i -n -p -C -- journalctl -u $u -o cat --no-pager | grep -q 'SIGHUP: secrets reloaded'" \
    && [ "$(prop "$u" MainPID)" = "$pid" ]; then ok "systemctl reload: SIGHUP handled by pid $pid"; else bad "reload"; ct systemctl status --no-pager -n 20 "$u"; fi

# 3b. The daily backup unit (started by hand here, as its timer would): a journal copy that
# verifies against its manifest, taken while obi-scalp runs.
if ct systemctl start obi-scalp-backup.service \
    && b="$(ct sh -c 'ls -d /var/lib/obi-scalp/backups/backup-* | tail -1')" && [ -n "$b" ] \
    && v="$(ct /usr/local/bin/obi-scalp journal verify "$b" 2>&1)"; then
    ok "obi-scalp-backup.service: $b verifies (${v%%$'\n'*})"
else bad "obi-scalp-backup.service"; ct journalctl -u obi-scalp-backup.service -n 20 --no-pager; fi
if ct systemctl enable --now obi-scalp-backup.timer >/dev/null 2>&1 \
    && [ "$(prop obi-scalp-backup.timer ActiveState)" = active ]; then
    ok "obi-scalp-backup.timer enabled: next run $(prop obi-scalp-backup.timer NextElapseUSecRealtime)"
else bad "obi-scalp-backup.timer does not start"; fi

# 4. SIGSTOP: the watchdog kills and restarts it.
ct kill -STOP "$pid"
t0=$(date +%s)
# journald may write systemd's own "Watchdog timeout" line after the new process is up (a
# loaded machine), so the line is waited for too, not read once.
watchdog_logged() { ct journalctl -u "$u" --no-pager | has -i 'watchdog timeout'; }
if wait_for 90 "the watchdog restart" active_pid_not "$u" "$pid" \
    && wait_for 30 "systemd's watchdog timeout line" watchdog_logged; then
    ok "SIGSTOP -> watchdog timeout -> restarted after $(( $(date +%s) - t0 )) s (NRestarts=$(prop "$u" NRestarts))"
else bad "SIGSTOP not restarted by the watchdog"; ct journalctl -u "$u" -n 40 --no-pager; fi

# 5. kill -9: restarted.
wait_for 60 "healthy again" healthy 9754
pid="$(prop "$u" MainPID)"; n="$(prop "$u" NRestarts)"
ct kill -KILL "$pid"
if wait_for 30 "the restart" active_pid_not "$u" "$pid" && restarts_above "$u" "$n"; then ok "kill -9 -> restarted"; else bad "kill -9 not restarted"; fi
wait_for 60 "healthy again" healthy 9754

# 6. Exit 8 (kill file) stays down; its warning is PRIORITY=4 in the journal.
n="$(prop "$u" NRestarts)"
ct touch /var/lib/obi-scalp/var/KILL
# The config's stop_linger_ms (25 s): the process stays up answering /healthz 503 and /metrics
# with the kill switch engaged, so Prometheus sees it, then exits 8.
kill_scrapeable() {
    [ "$(http_code 9754 /healthz)" = 503 ] \
        && grep -q '^obi_scalp_kill_switch_engaged 1' <<<"$(ct curl -s http://127.0.0.1:9754/metrics)"
}
if wait_for 20 "the kill switch on /metrics while lingering" kill_scrapeable; then
    ok "kill switch: /healthz 503 and obi_scalp_kill_switch_engaged 1 served while lingering ($(prop "$u" ActiveState))"
else bad "the kill switch was not served on /metrics before the exit"; fi
if wait_for 60 "exit 8" down_with "$u" 8; then
    sleep 3
    if down_with "$u" 8 && [ "$(prop "$u" NRestarts)" = "$n" ]; then ok "exit 8 (kill switch) stays down"; else bad "exit 8 restarted"; fi
else bad "no exit 8 after the kill file"; fi
ct rm -f /var/lib/obi-scalp/var/KILL

# 7. Journal: no colour codes, priorities per level.
jr="$(ct journalctl -u "$u" -o json --no-pager _COMM=obi-scalp 2>/dev/null)"
if printf '%s' "$jr" | has '\\u001b'; then bad "ANSI escapes in the journal"; else ok "journal: no ANSI escapes"; fi
if printf '%s\n' "$jr" | grep '"PRIORITY":"4"' | has 'kill switch'; then ok "journal: the kill-switch warning has PRIORITY=4"; else bad "no PRIORITY=4 warning"; fi
if printf '%s\n' "$jr" | grep '"PRIORITY":"6"' | has '"MESSAGE":"ready'; then ok "journal: start-up at PRIORITY=6"; else bad "no PRIORITY=6 start-up line"; printf '%s\n' "$jr" | grep -o '"PRIORITY":"[0-9]"\|"MESSAGE":"[^"]*"' | head -20; fi
if printf '%s\n' "$jr" | grep '"PRIORITY":"3"' | has 'obi-scalp: kill switch'; then ok "journal: the exit reason has PRIORITY=3"; else bad "no PRIORITY=3 exit line"; fi
if ct journalctl -u "$u" -o cat --no-pager _COMM=obi-scalp | has '^<[0-7]>'; then bad "journal shows raw <N> prefixes"; else ok "journal: prefixes consumed by journald"; fi

# 8. Clean stop.
ct systemctl reset-failed "$u" 2>/dev/null
ct systemctl start "$u"
wait_for 60 "healthy" healthy 9754
t0=$(date +%s%N)
ct systemctl stop "$u"
t1=$(date +%s%N)
if [ "$(prop "$u" Result)" = success ] && [ "$(prop "$u" ExecMainStatus)" = 0 ]; then
    ok "systemctl stop: clean, exit 0 in $(( (t1 - t0) / 1000000 )) ms"
else bad "stop: Result=$(prop "$u" Result) status=$(prop "$u" ExecMainStatus)"; fi

# 9. Exit 2 (config) and 7 (risk abort) stay down.
ct systemctl start obi-scalp@broken.service 2>/dev/null
if wait_for 20 "exit 2" down_with obi-scalp@broken.service 2; then
    sleep 3
    if down_with obi-scalp@broken.service 2 && [ "$(prop obi-scalp@broken.service NRestarts)" = 0 ] \
        && ct journalctl -u obi-scalp@broken.service -o cat --no-pager | has 'bogus_key'; then
        ok "exit 2 (config error naming bogus_key) stays down"
    else bad "exit 2 restarted or not for the bad key"; fi
else bad "no exit 2"; fi
ct systemctl start obi-scalp@riskabort.service 2>/dev/null
if wait_for 90 "exit 7" down_with obi-scalp@riskabort.service 7; then
    sleep 3
    if down_with obi-scalp@riskabort.service 7 && [ "$(prop obi-scalp@riskabort.service NRestarts)" = 0 ]; then ok "exit 7 (risk abort) stays down"; else bad "exit 7 restarted"; fi
else bad "no exit 7"; ct systemctl status --no-pager -n 20 obi-scalp@riskabort.service; fi

# 10. The template: two instances side by side, each on its own port.
ct systemctl start obi-scalp@coincheck-btcjpy.service obi-scalp@bybit-btcusdt.service
if wait_for 60 "coincheck instance" healthy 9754 && wait_for 60 "bybit instance" healthy 9755 \
    && status_trading obi-scalp@coincheck-btcjpy.service && status_trading obi-scalp@bybit-btcusdt.service; then
    ok "two template instances trading: $(prop obi-scalp@coincheck-btcjpy.service StatusText) | $(prop obi-scalp@bybit-btcusdt.service StatusText)"
else bad "template instances"; ct journalctl -u 'obi-scalp@*' -n 20 --no-pager; fi
# The instance's own backup unit, while it runs: its journal under backups/INSTANCE.
if ct systemctl start obi-scalp-backup@bybit-btcusdt.service \
    && b="$(ct sh -c 'ls -d /var/lib/obi-scalp/backups/bybit-btcusdt/backup-* | tail -1')" && [ -n "$b" ] \
    && v="$(ct /usr/local/bin/obi-scalp journal verify "$b" 2>&1)"; then
    ok "obi-scalp-backup@bybit-btcusdt.service: $b verifies (${v%%$'\n'*})"
else bad "obi-scalp-backup@bybit-btcusdt.service"; ct journalctl -u obi-scalp-backup@bybit-btcusdt.service -n 20 --no-pager; fi
ct systemctl stop obi-scalp@coincheck-btcjpy.service obi-scalp@bybit-btcusdt.service

# 11. Uninstall removes what install put there.
ct /opt/obi-src/scripts/install.sh --uninstall >/dev/null
if [ ! -e "$root/usr/local/bin/obi-scalp" ] && [ ! -e "$root/etc/systemd/system/obi-scalp.service" ] && [ -d "$root/etc/obi-scalp" ]; then
    ok "install.sh --uninstall: binary and units gone, configs kept"
else bad "uninstall"; fi

t_end=$(date +%s)
echo "systemd_check: $fails failures; $((t_end - t_start)) s (root ready in $((t_root - t_start)) s, booted after $((t_boot - t_start)) s)"
[ "$fails" = 0 ]
