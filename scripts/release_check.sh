#!/usr/bin/env bash
# Release gate: the stages below in order, stopping at the first failure.
#   fmt     cargo fmt --all --check
#   clippy  cargo clippy --all-targets -- -D warnings
#   test    cargo test (all targets; bounded tests, 127.0.0.1 only)
#   smoke   scripts/smoke.sh (run on the built-in market: /healthz, /metrics, SIGTERM, exit 0)
# Prints one line per stage; on failure the stage's last output lines and
# `release_check: FAILED stage=<name>`, exit 1. `release_check: OK` and exit 0 when all pass.
# Needs no network once the dependencies are in the cargo cache.
#
# Options:
#   --quick            skip the slow stages (clippy, test)
#   --stage NAME       run only NAME (repeatable)
#   --fail-stage NAME  force NAME to fail without running it (tests the gate itself);
#                      also RELEASE_CHECK_FAIL_STAGE=NAME
# Environment: OBI_SCALP_BIN (binary for smoke; otherwise smoke builds one).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
all_stages=(fmt clippy test smoke)
quick=0
only=()
force="${RELEASE_CHECK_FAIL_STAGE:-}"

known() { local s; for s in "${all_stages[@]}"; do [ "$s" = "$1" ] && return 0; done; return 1; }
usage() { sed -n '2,17p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1 ;;
        --stage) only+=("${2:-}"); shift ;;
        --fail-stage) force="${2:-}"; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "release_check: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
for s in "${only[@]}" ${force:+"$force"}; do
    known "$s" || { echo "release_check: unknown stage '$s' (stages: ${all_stages[*]})" >&2; exit 2; }
done

stage_cmd() {
    case "$1" in
        fmt) cargo fmt --all --check ;;
        clippy) cargo clippy --all-targets --quiet -- -D warnings ;;
        test) cargo test --quiet ;;
        smoke) "$here/scripts/smoke.sh" ;;
    esac
}

stage_timeout() {
    case "$1" in
        fmt) echo 300 ;;
        smoke) echo 300 ;;
        *) echo 3600 ;;
    esac
}

cd "$here" || exit 1
out="$(mktemp)"
trap 'rm -f "$out"' EXIT
for s in "${all_stages[@]}"; do
    if [ ${#only[@]} -gt 0 ]; then
        want=0
        for o in "${only[@]}"; do [ "$o" = "$s" ] && want=1; done
        [ $want = 1 ] || continue
    fi
    if [ $quick = 1 ] && { [ "$s" = clippy ] || [ "$s" = test ]; } && [ "$s" != "$force" ]; then
        echo "release_check: $s skipped (--quick)"
        continue
    fi
    t0=$SECONDS
    if [ "$s" = "$force" ]; then
        echo "forced failure of stage $s (--fail-stage / RELEASE_CHECK_FAIL_STAGE)" >"$out"
        rc=1
    else
        timeout -k 10 "$(stage_timeout "$s")" bash -c "$(declare -f stage_cmd); here='$here'; stage_cmd $s" >"$out" 2>&1
        rc=$?
    fi
    if [ $rc -eq 0 ]; then
        echo "release_check: $s ok ($((SECONDS - t0))s)"
    else
        what="exit code $rc"
        [ $rc -eq 124 ] && what="timed out after $(stage_timeout "$s")s"
        echo "release_check: $s FAILED ($what, $((SECONDS - t0))s); last output:"
        tail -n 40 "$out" | sed 's/^/    /'
        echo "release_check: FAILED stage=$s"
        exit 1
    fi
done
echo "release_check: OK"
