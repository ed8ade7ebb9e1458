#!/usr/bin/env bash
# IRQ affinity: steer every interrupt to the housekeeping cpus, away from the trading cores.
#
#   irq_affinity.sh status
#   irq_affinity.sh apply HOUSEKEEPING_CPUS   # e.g. 0-1; idempotent; remembers originals once
#   irq_affinity.sh revert
#
# Some IRQs (per-cpu timers, managed NVMe/virtio queues) refuse a new affinity; they are
# reported and left alone (`isolcpus=managed_irq,...` handles managed ones at boot). Stop
# irqbalance first, or give it IRQBALANCE_BANNED_CPULIST=<trading cpus>, or it will move them back.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"

saved="$(state_file irq_affinity.saved)"

irqs() {
    for d in "$PROC"/irq/[0-9]*; do
        [ -f "$d/smp_affinity_list" ] && basename "$d"
    done
}

case "${1:-status}" in
status)
    [ -r "$PROC/irq/default_smp_affinity" ] && log "default_smp_affinity: $(cat "$PROC/irq/default_smp_affinity")"
    for i in $(irqs); do log "irq $i: $(cat "$PROC/irq/$i/smp_affinity_list")"; done
    ;;
apply)
    hk="${2:-}"
    [ -n "$hk" ] || die "usage: $0 apply HOUSEKEEPING_CPUS (e.g. 0-1)"
    expand_cpus "$hk" >/dev/null
    ensure_state_dir
    first=0
    [ -f "$saved" ] || first=1
    for i in $(irqs); do
        f="$PROC/irq/$i/smp_affinity_list"
        cur="$(cat "$f")"
        [ "$first" = 1 ] && echo "$i $cur" >> "$saved"
        [ "$cur" = "$hk" ] && continue
        if echo "$hk" > "$f" 2>/dev/null; then
            log "irq $i: $cur -> $hk"
        else
            log "irq $i: cannot move (kept $cur)"
        fi
    done
    [ "$first" = 1 ] && touch "$saved"
    log "irqs steered to cpus $hk"
    ;;
revert)
    [ -f "$saved" ] || { log "nothing to revert"; exit 0; }
    while read -r i v; do
        f="$PROC/irq/$i/smp_affinity_list"
        [ -e "$f" ] && { echo "$v" > "$f" 2>/dev/null && log "irq $i -> $v" || log "irq $i: cannot restore $v"; }
    done < "$saved"
    rm -f "$saved"
    ;;
*) die "usage: $0 status|apply HOUSEKEEPING_CPUS|revert" ;;
esac
