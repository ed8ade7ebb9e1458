#!/usr/bin/env bash
# Go-live preparation: every stage must pass, in order, stopping at the first failure.
#   gonogo   scripts/go_nogo.sh (GO_LIVE_GONOGO_ARGS, default --quick)
#   soak     scripts/soak.sh --short (simulator + run with faults, every venue)
#   report   obi-scalp report --period month on --journal FILE, or, without one, on the journal
#            of a 3 s paper run on the built-in market made here
#   drill    obi-scalp drill --config FILE (the live config; the simulator unless
#            OBI_SCALP_DRILL_REAL_CONNECT=1; its exit code is kept in the summary)
# Prints exactly one `[go-live-prep] DECISION: GO` (exit 0) or
# `[go-live-prep] DECISION: NO-GO stage=<stage>` (exit 1) line, and writes
# <artifacts>/go_live_prep_summary.json (artifacts: --artifacts DIR, default var/artifacts):
# each stage with its result, exit code and seconds, and the decision.
#
# Usage: scripts/go_live_prep.sh --config FILE [--journal FILE] [--artifacts DIR]
#                                [--stages gonogo,soak,report,drill]
# Environment: OBI_SCALP_BIN (binary; else cargo build), GO_LIVE_GONOGO_ARGS.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
all="gonogo,soak,report,drill"
config=""
journal=""
artifacts="$here/var/artifacts"
stages="$all"
while [ $# -gt 0 ]; do
    case "$1" in
        --config) config="${2:-}"; shift ;;
        --journal) journal="${2:-}"; shift ;;
        --artifacts) artifacts="${2:-}"; shift ;;
        --stages) stages="${2:-}"; shift ;;
        -h | --help) sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "go_live_prep: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ -n "$config" ] || { echo "go_live_prep: --config FILE is required (the live config)" >&2; exit 2; }
[ -f "$config" ] || { echo "go_live_prep: no config file $config" >&2; exit 2; }
config="$(cd "$(dirname "$config")" && pwd)/$(basename "$config")"
for s in ${stages//,/ }; do
    [[ ",$all," == *",$s,"* ]] || { echo "go_live_prep: unknown stage '$s' (stages: $all)" >&2; exit 2; }
done
mkdir -p "$artifacts" || { echo "go_live_prep: cannot create $artifacts" >&2; exit 2; }
work="$(mktemp -d "${TMPDIR:-/tmp}/obi-go-live.XXXXXX")"
trap 'rm -rf "$work"' EXIT
say() { echo "[go-live-prep] $*"; }

if [ -n "${OBI_SCALP_BIN:-}" ]; then
    bin="$OBI_SCALP_BIN"
else
    (cd "$here" && cargo build --quiet --bin obi-scalp) || { say "DECISION: NO-GO stage=build"; exit 1; }
    bin="${CARGO_TARGET_DIR:-$here/target}/debug/obi-scalp"
fi
export OBI_SCALP_BIN="$bin"

run_stage() {
    case "$1" in
        gonogo) bash "$here/scripts/go_nogo.sh" ${GO_LIVE_GONOGO_ARGS---quick} ;;
        soak) bash "$here/scripts/soak.sh" --short --bin "$bin" ;;
        report)
            local j="$journal"
            if [ -z "$j" ]; then
                printf '[ops]\nhttp_addr = "off"\nartifacts_dir = "%s/var/artifacts"\nlog_dir = "%s/var/logs"\nkill_file = "%s/var/KILL"\n[store]\njournal = "%s/journal.sqlite"\n' \
                    "$work" "$work" "$work" "$work" >"$work/paper.toml"
                (cd "$work" && "$bin" run --config "$work/paper.toml" --duration 3) || return 1
                j="$work/journal.sqlite"
            fi
            "$bin" report --period month --journal "$j" --out "$artifacts/reports"
            ;;
        drill) (cd "$(dirname "$config")" && "$bin" drill --config "$config") ;;
    esac
}

rows=""
decision="GO"
failed=""
for s in ${stages//,/ }; do
    t0=$SECONDS
    run_stage "$s" >"$work/$s.log" 2>&1
    rc=$?
    secs=$((SECONDS - t0))
    sed "s/^/[$s] /" "$work/$s.log"
    cp "$work/$s.log" "$artifacts/go_live_prep_$s.log" 2>/dev/null || true
    result=ok
    [ "$rc" -eq 0 ] || result=fail
    rows="$rows${rows:+,}{\"stage\":\"$s\",\"result\":\"$result\",\"exit_code\":$rc,\"seconds\":$secs}"
    if [ "$rc" -ne 0 ]; then
        decision="NO-GO"
        failed="$s"
        break
    fi
done
stage_json="null"
[ -n "$failed" ] && stage_json="\"$failed\""
printf '{"decision":"%s","failed_stage":%s,"config":"%s","stages":[%s],"finished_utc":"%s"}\n' \
    "$decision" "$stage_json" "$config" "$rows" "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
    >"$artifacts/go_live_prep_summary.json"
if [ "$decision" = GO ]; then
    say "DECISION: GO"
    exit 0
fi
say "DECISION: NO-GO stage=$failed"
exit 1
