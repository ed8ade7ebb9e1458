#!/usr/bin/env bash
# Reports this host's latency tuning without changing anything (safe anywhere, including
# containers and CI; needs no root). Items that cannot be read show "n/a".
#
#   tuning/check.sh [TRADING_CPUS]
#
# TRADING_CPUS defaults to the kernel's isolated cpus, else 2-3. Exit code is always 0: this
# is a report, not a gate.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"
set +e

read_or_na() { if [ -r "$1" ]; then cat "$1" 2>/dev/null || echo n/a; else echo n/a; fi; }

cmdline="$(read_or_na "$PROC/cmdline")"
isolated="$(read_or_na "$SYS/devices/system/cpu/isolated")"
nohz="$(read_or_na "$SYS/devices/system/cpu/nohz_full")"
trade="${1:-}"
if [ -z "$trade" ]; then
    if [ "$isolated" != n/a ] && [ -n "$isolated" ]; then trade="$isolated"; else trade="2-3"; fi
fi

echo "== obi-scalp host tuning report (read-only) =="
echo "cpus present:        $(all_cpus) ($(nproc) usable by this process)"
echo "trading cpus:        $trade"
present=" $(expand_cpus "$(all_cpus)") "
for c in $(expand_cpus "$trade" 2>/dev/null); do
    [[ "$present" == *" $c "* ]] || echo "  note: cpu$c is not present on this host"
done
echo "kernel cmdline:      $cmdline"
for k in isolcpus nohz_full rcu_nocbs irqaffinity transparent_hugepage; do
    v="$(tr ' ' '\n' <<< "$cmdline" | grep "^$k=" | tail -n 1)"
    echo "  $k: ${v:-not set}"
done
echo "isolated cpus (sysfs): ${isolated:-none}"
echo "nohz_full cpus (sysfs): ${nohz:-none}"

echo "cpu governors:"
for c in $(expand_cpus "$(all_cpus)"); do
    echo "  cpu$c: $(read_or_na "$SYS/devices/system/cpu/cpu$c/cpufreq/scaling_governor")"
done

thp="$SYS/kernel/mm/transparent_hugepage"
echo "transparent hugepages: enabled=$( [ -r "$thp/enabled" ] && selected "$thp/enabled" || echo n/a)" \
     "defrag=$( [ -r "$thp/defrag" ] && selected "$thp/defrag" || echo n/a)"

echo "irq affinity:"
echo "  default_smp_affinity: $(read_or_na "$PROC/irq/default_smp_affinity")"
trade_set=" $(expand_cpus "$trade" 2>/dev/null) "
total=0; on_trade=0
for d in "$PROC"/irq/[0-9]*; do
    [ -r "$d/smp_affinity_list" ] || continue
    total=$((total + 1))
    for c in $(expand_cpus "$(cat "$d/smp_affinity_list" 2>/dev/null)" 2>/dev/null); do
        if [[ "$trade_set" == *" $c "* ]]; then on_trade=$((on_trade + 1)); break; fi
    done
done
echo "  irqs readable: $total; allowed on trading cpus: $on_trade"
if pgrep -x irqbalance >/dev/null 2>&1; then
    echo "  irqbalance: running (ban the trading cpus or stop it)"
else
    echo "  irqbalance: not running"
fi

echo "this process's cpu affinity: $(grep Cpus_allowed_list "$PROC/self/status" 2>/dev/null | awk '{print $2}')"
echo "saved state (from apply): $(ls "$TUNING_STATE_DIR" 2>/dev/null | tr '\n' ' ' || true)"
exit 0
