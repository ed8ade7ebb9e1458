# Shared helpers for the tuning scripts (sourced, not run).
#
# SYS and PROC point at /sys and /proc; the test (tuning/test.sh) points them at a fake tree.
# TUNING_STATE_DIR keeps what `apply` changed so `revert` can put it back.
set -euo pipefail

SYS="${SYS:-/sys}"
PROC="${PROC:-/proc}"
TUNING_STATE_DIR="${TUNING_STATE_DIR:-/var/lib/obi-scalp-tuning}"

die() { echo "error: $*" >&2; exit 1; }
log() { echo "$*"; }

# Expands a cpu list like "0-2,5" into "0 1 2 5".
expand_cpus() {
    local list="$1" part a b out=()
    [ -n "$list" ] || die "empty cpu list"
    IFS=',' read -r -a parts <<< "$list"
    for part in "${parts[@]}"; do
        if [[ "$part" =~ ^([0-9]+)-([0-9]+)$ ]]; then
            a="${BASH_REMATCH[1]}"; b="${BASH_REMATCH[2]}"
            [ "$a" -le "$b" ] || die "bad cpu range $part"
            for ((i = a; i <= b; i++)); do out+=("$i"); done
        elif [[ "$part" =~ ^[0-9]+$ ]]; then
            out+=("$part")
        else
            die "bad cpu list '$list': expected e.g. 2-3 or 0,2,4-5"
        fi
    done
    echo "${out[@]}"
}

# All online-capable cpus of this host, as a list like "0-3".
all_cpus() {
    if [ -r "$SYS/devices/system/cpu/present" ]; then
        cat "$SYS/devices/system/cpu/present"
    else
        echo "0-$(($(nproc) - 1))"
    fi
}

state_file() { echo "$TUNING_STATE_DIR/$1"; }

ensure_state_dir() { mkdir -p "$TUNING_STATE_DIR"; }

# The bracketed choice of a sysfs selector file ("always [madvise] never" -> madvise); a file
# without brackets is returned as it is.
selected() { sed -n 's/.*\[\([^]]*\)\].*/\1/p;t;p' "$1"; }
