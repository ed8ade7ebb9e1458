#!/usr/bin/env bash
# Go/no-go before deploying a build: every stage must pass.
#   build    cargo build (skipped when OBI_SCALP_BIN names a binary)
#   fmt      release_check.sh --stage fmt
#   clippy   release_check.sh --stage clippy
#   test     release_check.sh --stage test
#   alerts   scripts/check_alerts.sh   (Prometheus rules and alert tests; skips without promtool)
#   systemd  scripts/check_systemd.sh  (unit verify + security score; skips without systemd-analyze)
#   tuning   tuning/test.sh            (host tuning scripts on a fake /sys)
#   smoke    release_check.sh --stage smoke (run, /healthz, /metrics, SIGTERM -> exit 0)
#   run      a short run (3 s) on the built-in market: exit 0, run_complete.json, risk not abort
# Stops at the first failure. The last line is `DECISION: GO` (exit 0) or
# `DECISION: NO-GO stage=<name>` (exit 1). Everything, including each stage's output, is also
# logged to var/artifacts/go_nogo-<UTC timestamp>.log (directory: GO_NOGO_LOG_DIR).
# Needs no network once the dependencies are in the cargo cache.
#
# Options:
#   --quick            skip the slow stages (clippy, test): checks the decision logic, smoke and run;
#                      a quick GO is not a release decision (it says so)
#   --fail-stage NAME  force stage NAME to fail without running it; also GO_NOGO_FAIL_STAGE=NAME
# Environment: OBI_SCALP_BIN (binary to check), GO_NOGO_LOG_DIR, GO_NOGO_RUN_S (run length, 3).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
stages=(build fmt clippy test alerts systemd tuning smoke run)
quick=0
force="${GO_NOGO_FAIL_STAGE:-}"

usage() { sed -n '2,24p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --fail-stage) force="${2:-}"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "go_nogo: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
if [ -n "$force" ] && [[ " ${stages[*]} " != *" $force "* ]]; then
    echo "go_nogo: unknown stage '$force' (stages: ${stages[*]})" >&2
    exit 2
fi

log_dir="${GO_NOGO_LOG_DIR:-$here/var/artifacts}"
mkdir -p "$log_dir" || { echo "go_nogo: cannot create $log_dir" >&2; exit 2; }
log="$log_dir/go_nogo-$(date -u +%Y%m%dT%H%M%SZ)-$$.log"
say() { echo "$*"; echo "$*" >>"$log"; }

out="$(mktemp)"
work="$(mktemp -d "${TMPDIR:-/tmp}/obi-go-nogo.XXXXXX")"
trap 'rm -rf "$out" "$work"' EXIT
cd "$here" || exit 2

run_stage() {
    case "$1" in
        build)
            if [ -n "${OBI_SCALP_BIN:-}" ]; then
                echo "using OBI_SCALP_BIN=$OBI_SCALP_BIN"
                [ -x "$OBI_SCALP_BIN" ]
            else
                cargo build --quiet --bin obi-scalp
            fi
            ;;
        fmt | clippy | test | smoke) "$here/scripts/release_check.sh" --stage "$1" ;;
        alerts) "$here/scripts/check_alerts.sh" ;;
        systemd) "$here/scripts/check_systemd.sh" ;;
        tuning) "$here/tuning/test.sh" ;;
        run) short_run ;;
    esac
}

# A short run with HTTP off: exit 0, the summary line, run_complete.json, risk not aborted.
short_run() {
    local secs="${GO_NOGO_RUN_S:-3}" rc
    mkdir -p "$work/run"
    printf 'duration_s = %s\n[ops]\nhttp_addr = "off"\n' "$secs" >"$work/run/run.toml"
    (cd "$work/run" && exec "$OBI_SCALP_BIN" run --config run.toml >stdout.log 2>stderr.log)
    rc=$?
    cat "$work/run/stdout.log"
    tail -n 5 "$work/run/stderr.log"
    [ $rc -eq 0 ] || { echo "run exited $rc, expected 0"; return 1; }
    local rcf="$work/run/var/artifacts/run_complete.json"
    grep -qF '"exit_code": 0,' "$rcf" || { echo "run_complete.json lacks exit_code 0"; return 1; }
    grep -qF '"stop_reason": "duration reached",' "$rcf" || { echo "run_complete.json: stop_reason is not 'duration reached'"; return 1; }
    grep -q '^summary: reason="duration reached"' "$work/run/stdout.log" || { echo "no summary line"; return 1; }
    if grep -q '^summary: .* risk=abort' "$work/run/stdout.log"; then echo "risk aborted during the run"; return 1; fi
    [ -s "$work/run/var/logs/audit_events.jsonl" ] || { echo "no audit log"; return 1; }
}

timeout_of() {
    case "$1" in
        clippy | test) echo 3600 ;;
        build) echo 1800 ;;
        *) echo 300 ;;
    esac
}

say "go_nogo: $(git -C "$here" describe --always --dirty 2>/dev/null || echo 'no git') at $(date -u +%Y-%m-%dT%H:%M:%SZ)$([ $quick = 1 ] && echo ' (quick)')"
say "go_nogo: log $log"
if [ -z "${OBI_SCALP_BIN:-}" ]; then
    export OBI_SCALP_BIN="${CARGO_TARGET_DIR:-$here/target}/debug/obi-scalp"
    built=1
else
    export OBI_SCALP_BIN
    built=0
fi
skipped=()
for s in "${stages[@]}"; do
    if [ $quick = 1 ] && { [ "$s" = clippy ] || [ "$s" = test ]; } && [ "$s" != "$force" ]; then
        say "stage $s: skipped (--quick)"
        skipped+=("$s")
        continue
    fi
    t0=$SECONDS
    if [ "$s" = "$force" ]; then
        echo "forced failure of stage $s (--fail-stage / GO_NOGO_FAIL_STAGE)" >"$out"
        rc=1
    elif [ "$s" = build ] && [ $built = 1 ]; then
        (unset OBI_SCALP_BIN; timeout -k 10 "$(timeout_of build)" cargo build --quiet --bin obi-scalp) >"$out" 2>&1
        rc=$?
    else
        export -f run_stage short_run
        export here work
        timeout -k 10 "$(timeout_of "$s")" bash -c 'run_stage "$1"' _ "$s" >"$out" 2>&1
        rc=$?
    fi
    { echo "---- stage $s output ----"; cat "$out"; } >>"$log"
    if [ $rc -eq 0 ]; then
        note=""
        grep -q '^SKIP' "$out" && note=" [$(grep -m1 '^SKIP' "$out")]"
        say "stage $s: ok ($((SECONDS - t0))s)$note"
    else
        what="exit code $rc"
        [ $rc -eq 124 ] && what="timed out after $(timeout_of "$s")s"
        say "stage $s: FAILED ($what, $((SECONDS - t0))s); last output:"
        tail -n 30 "$out" | sed 's/^/    /'
        say "DECISION: NO-GO stage=$s"
        exit 1
    fi
done
if [ ${#skipped[@]} -gt 0 ]; then
    say "note: quick mode skipped ${skipped[*]}; this is not a release decision"
fi
say "DECISION: GO"
exit 0
