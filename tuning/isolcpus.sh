#!/usr/bin/env bash
# Kernel command line for the trading cores: isolcpus (no scheduler load balancing, no managed
# IRQs), nohz_full (no scheduler tick while one thread runs), rcu_nocbs (RCU callbacks
# elsewhere), irqaffinity (default IRQ cpus). Takes effect after update-grub and a reboot.
#
#   isolcpus.sh advise TRADING_CPUS             # print the parameters (changes nothing)
#   isolcpus.sh apply  TRADING_CPUS [HOUSEKEEPING_CPUS]   # edit GRUB_FILE (idempotent, backed up)
#   isolcpus.sh revert                          # remove exactly what apply added
#
# GRUB_FILE defaults to /etc/default/grub. Our parameters are kept in GRUB_CMDLINE_LINUX_DEFAULT
# and replaced as a set, so apply with new cpus replaces the old ones instead of adding more.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"

GRUB_FILE="${GRUB_FILE:-/etc/default/grub}"

params() {
    local trade="$1" hk="$2"
    echo "isolcpus=managed_irq,domain,$trade nohz_full=$trade rcu_nocbs=$trade irqaffinity=$hk"
}

# Housekeeping = every present cpu not in the trading list.
housekeeping_for() {
    local trade all c out=()
    trade=" $(expand_cpus "$1") "
    all="$(expand_cpus "$(all_cpus)")"
    for c in $all; do [[ "$trade" == *" $c "* ]] || out+=("$c"); done
    [ "${#out[@]}" -gt 0 ] || die "no housekeeping cpu left: keep at least one cpu out of $1"
    local IFS=,; echo "${out[*]}"
}

# GRUB_CMDLINE_LINUX_DEFAULT with our keys removed.
strip_ours() {
    local line="$1" w out=()
    for w in $line; do
        case "$w" in isolcpus=*|nohz_full=*|rcu_nocbs=*|irqaffinity=*) ;; *) out+=("$w") ;; esac
    done
    echo "${out[*]}"
}

current_default() {
    sed -n 's/^GRUB_CMDLINE_LINUX_DEFAULT="\(.*\)"$/\1/p' "$GRUB_FILE" | tail -n 1
}

write_default() {
    local new="$1" tmp
    tmp="$(mktemp "$GRUB_FILE.XXXXXX")"
    if grep -q '^GRUB_CMDLINE_LINUX_DEFAULT=' "$GRUB_FILE"; then
        awk -v v="$new" '/^GRUB_CMDLINE_LINUX_DEFAULT=/ { print "GRUB_CMDLINE_LINUX_DEFAULT=\"" v "\""; next } { print }' \
            "$GRUB_FILE" > "$tmp"
    else
        { cat "$GRUB_FILE"; echo "GRUB_CMDLINE_LINUX_DEFAULT=\"$new\""; } > "$tmp"
    fi
    chmod --reference="$GRUB_FILE" "$tmp" 2>/dev/null || true
    mv "$tmp" "$GRUB_FILE"
}

cmd="${1:-advise}"
case "$cmd" in
advise)
    trade="${2:-}"; [ -n "$trade" ] || die "usage: $0 advise TRADING_CPUS (e.g. 2-3)"
    hk="${3:-$(housekeeping_for "$trade")}"
    log "add to GRUB_CMDLINE_LINUX_DEFAULT in /etc/default/grub, then update-grub and reboot:"
    log "  $(params "$trade" "$hk")"
    log "and keep the service on those cores: CPUAffinity=$(expand_cpus "$trade") in the unit."
    log "current kernel command line: $(cat "$PROC/cmdline" 2>/dev/null || echo n/a)"
    ;;
apply)
    trade="${2:-}"; [ -n "$trade" ] || die "usage: $0 apply TRADING_CPUS [HOUSEKEEPING_CPUS]"
    expand_cpus "$trade" >/dev/null
    hk="${3:-$(housekeeping_for "$trade")}"
    [ -f "$GRUB_FILE" ] || die "$GRUB_FILE not found"
    cur="$(current_default)"
    new="$(strip_ours "$cur") $(params "$trade" "$hk")"
    new="${new# }"
    if [ "$new" = "$cur" ]; then
        log "$GRUB_FILE already has: $(params "$trade" "$hk")"
        exit 0
    fi
    [ -f "$GRUB_FILE.obi-scalp.bak" ] || cp -p "$GRUB_FILE" "$GRUB_FILE.obi-scalp.bak"
    write_default "$new"
    log "GRUB_CMDLINE_LINUX_DEFAULT=\"$new\""
    log "now run update-grub (or grub2-mkconfig) and reboot"
    ;;
revert)
    [ -f "$GRUB_FILE" ] || die "$GRUB_FILE not found"
    cur="$(current_default)"
    new="$(strip_ours "$cur")"
    if [ "$new" = "$cur" ]; then log "nothing to revert"; exit 0; fi
    write_default "$new"
    log "GRUB_CMDLINE_LINUX_DEFAULT=\"$new\"; run update-grub and reboot"
    ;;
*) die "usage: $0 advise|apply|revert ..." ;;
esac
