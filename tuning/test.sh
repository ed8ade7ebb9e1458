#!/usr/bin/env bash
# Tests the tuning scripts on a fake /sys, /proc and grub file (no root, changes nothing on the
# host): apply twice is the same as once, and revert restores exactly what was there.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
export SYS="$root/sys" PROC="$root/proc" TUNING_STATE_DIR="$root/state"
fails=0
passes=0
check() { # name expected actual
    if [ "$2" = "$3" ]; then
        echo "ok   $1"; passes=$((passes + 1))
    else
        echo "FAIL $1: expected '$2', got '$3'"; fails=$((fails + 1))
    fi
}
quiet() { "$@" >/dev/null; }

# Fake host: 4 cpus, governors, THP, 3 IRQs.
mkdir -p "$SYS/devices/system/cpu" "$SYS/kernel/mm/transparent_hugepage" "$PROC/irq"
echo 0-3 > "$SYS/devices/system/cpu/present"
for c in 0 1 2 3; do
    mkdir -p "$SYS/devices/system/cpu/cpu$c/cpufreq"
    echo powersave > "$SYS/devices/system/cpu/cpu$c/cpufreq/scaling_governor"
done
echo schedutil > "$SYS/devices/system/cpu/cpu3/cpufreq/scaling_governor"
echo "always [madvise] never" > "$SYS/kernel/mm/transparent_hugepage/enabled"
echo "always defer defer+madvise [madvise] never" > "$SYS/kernel/mm/transparent_hugepage/defrag"
for i in 1 9 24; do mkdir -p "$PROC/irq/$i"; echo 0-3 > "$PROC/irq/$i/smp_affinity_list"; done
echo 2 > "$PROC/irq/9/smp_affinity_list"
echo "f" > "$PROC/irq/default_smp_affinity"
echo "BOOT_IMAGE=/vmlinuz root=/dev/sda1" > "$PROC/cmdline"
gov() { cat "$SYS/devices/system/cpu/cpu$1/cpufreq/scaling_governor"; }
# A fake sysfs file keeps whatever is written (no [brackets]); `selected` reads both forms.
. "$here/lib.sh"
set +e
thp_sel() { selected "$SYS/kernel/mm/transparent_hugepage/$1"; }

# Governor
quiet "$here/cpu_governor.sh" apply 2-3
quiet "$here/cpu_governor.sh" apply 2-3
check "governor applied" "powersave powersave performance performance" "$(gov 0) $(gov 1) $(gov 2) $(gov 3)"
quiet "$here/cpu_governor.sh" revert
check "governor reverted" "powersave powersave powersave schedutil" "$(gov 0) $(gov 1) $(gov 2) $(gov 3)"
check "governor revert twice" "nothing to revert" "$("$here/cpu_governor.sh" revert)"

# THP
quiet "$here/thp.sh" apply
echo "always madvise [never]" > "$SYS/kernel/mm/transparent_hugepage/enabled"
echo "always defer defer+madvise madvise [never]" > "$SYS/kernel/mm/transparent_hugepage/defrag"
quiet "$here/thp.sh" apply
check "thp state saved once" "enabled madvise,defrag madvise" "$(paste -sd, "$TUNING_STATE_DIR/thp.saved")"
quiet "$here/thp.sh" revert
check "thp reverted" "madvise madvise" "$(thp_sel enabled) $(thp_sel defrag)"

# IRQs
irq() { cat "$PROC/irq/$1/smp_affinity_list"; }
quiet "$here/irq_affinity.sh" apply 0-1
quiet "$here/irq_affinity.sh" apply 0-1
check "irqs applied" "0-1 0-1 0-1" "$(irq 1) $(irq 9) $(irq 24)"
quiet "$here/irq_affinity.sh" revert
check "irqs reverted" "0-3 2 0-3" "$(irq 1) $(irq 9) $(irq 24)"

# Grub command line
export GRUB_FILE="$root/grub"
printf 'GRUB_DEFAULT=0\nGRUB_CMDLINE_LINUX_DEFAULT="quiet splash"\nGRUB_CMDLINE_LINUX=""\n' > "$GRUB_FILE"
orig="$(cat "$GRUB_FILE")"
quiet "$here/isolcpus.sh" apply 2-3
once="$(cat "$GRUB_FILE")"
quiet "$here/isolcpus.sh" apply 2-3
check "grub apply idempotent" "$once" "$(cat "$GRUB_FILE")"
check "grub params" 'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash isolcpus=managed_irq,domain,2-3 nohz_full=2-3 rcu_nocbs=2-3 irqaffinity=0,1"' \
    "$(grep '^GRUB_CMDLINE_LINUX_DEFAULT=' "$GRUB_FILE")"
quiet "$here/isolcpus.sh" apply 3
check "grub re-apply replaces" 'GRUB_CMDLINE_LINUX_DEFAULT="quiet splash isolcpus=managed_irq,domain,3 nohz_full=3 rcu_nocbs=3 irqaffinity=0,1,2"' \
    "$(grep '^GRUB_CMDLINE_LINUX_DEFAULT=' "$GRUB_FILE")"
quiet "$here/isolcpus.sh" revert
check "grub reverted" "$orig" "$(cat "$GRUB_FILE")"
check "grub backup kept" "$orig" "$(cat "$GRUB_FILE.obi-scalp.bak")"
if "$here/isolcpus.sh" apply 0-3 >/dev/null 2>&1; then
    check "grub refuses to isolate every cpu" "error" "applied"
else
    check "grub refuses to isolate every cpu" "error" "error"
fi

# The report reads the fake tree (all 3 IRQs may run on 2-3 again after the revert).
report="$("$here/check.sh" 2-3)"
check "check.sh irqs" "  irqs readable: 3; allowed on trading cpus: 3" "$(grep 'irqs readable' <<< "$report")"
check "check.sh thp" "transparent hugepages: enabled=madvise defrag=madvise" "$(grep 'transparent hugepages' <<< "$report")"
quiet "$here/irq_affinity.sh" apply 0-1
check "check.sh irqs after apply" "  irqs readable: 3; allowed on trading cpus: 0" \
    "$("$here/check.sh" 2-3 | grep 'irqs readable')"
quiet "$here/irq_affinity.sh" revert
unset SYS PROC
if "$here/check.sh" >/dev/null; then r=ok; else r=failed; fi
check "check.sh on this host" ok "$r"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
