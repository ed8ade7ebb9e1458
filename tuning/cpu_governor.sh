#!/usr/bin/env bash
# CPU frequency governor: `performance` on the given cpus (default: all), so the trading cores
# do not ramp down between bursts.
#
#   cpu_governor.sh status [CPUS]
#   cpu_governor.sh apply  [CPUS]   # idempotent; remembers each cpu's previous governor once
#   cpu_governor.sh revert          # restores what apply found, then forgets it
#
# Not persistent across reboots: run apply from a oneshot unit, or set the governor in the
# firmware/cpupower config. Hosts without cpufreq (many VMs, containers) have nothing to set.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"

gov_file() { echo "$SYS/devices/system/cpu/cpu$1/cpufreq/scaling_governor"; }
saved="$(state_file governor.saved)"

cmd="${1:-status}"
cpus="$(expand_cpus "${2:-$(all_cpus)}")"

case "$cmd" in
status)
    for c in $cpus; do
        f="$(gov_file "$c")"
        if [ -r "$f" ]; then log "cpu$c governor: $(cat "$f")"; else log "cpu$c governor: n/a (no cpufreq)"; fi
    done
    ;;
apply)
    ensure_state_dir
    for c in $cpus; do
        f="$(gov_file "$c")"
        [ -e "$f" ] || { log "cpu$c: no cpufreq, skipped"; continue; }
        # Remember the first value seen only, so a second apply keeps the true original.
        if ! grep -q "^$c " "$saved" 2>/dev/null; then
            echo "$c $(cat "$f")" >> "$saved"
        fi
        if [ "$(cat "$f")" != performance ]; then
            echo performance > "$f"
            log "cpu$c: governor -> performance"
        else
            log "cpu$c: governor already performance"
        fi
    done
    ;;
revert)
    [ -f "$saved" ] || { log "nothing to revert"; exit 0; }
    while read -r c g; do
        f="$(gov_file "$c")"
        [ -e "$f" ] && echo "$g" > "$f" && log "cpu$c: governor -> $g"
    done < "$saved"
    rm -f "$saved"
    ;;
*) die "usage: $0 status|apply|revert [CPUS]" ;;
esac
