#!/usr/bin/env bash
# Transparent huge pages: `never` for both enabled and defrag, so khugepaged compaction and
# page-fault-time defragmentation never stall a hot thread.
#
#   thp.sh status
#   thp.sh apply    # idempotent; remembers the previous settings once
#   thp.sh revert   # restores them
#
# Persistent alternative: kernel command line `transparent_hugepage=never`.
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=tuning/lib.sh
. "$here/lib.sh"

dir="$SYS/kernel/mm/transparent_hugepage"
saved="$(state_file thp.saved)"

case "${1:-status}" in
status)
    for k in enabled defrag; do
        if [ -r "$dir/$k" ]; then log "thp $k: $(selected "$dir/$k")"; else log "thp $k: n/a"; fi
    done
    ;;
apply)
    [ -d "$dir" ] || { log "no THP on this kernel; nothing to do"; exit 0; }
    ensure_state_dir
    [ -f "$saved" ] || { echo "enabled $(selected "$dir/enabled")"; echo "defrag $(selected "$dir/defrag")"; } > "$saved"
    for k in enabled defrag; do
        if [ "$(selected "$dir/$k")" != never ]; then
            echo never > "$dir/$k"
            log "thp $k -> never"
        else
            log "thp $k already never"
        fi
    done
    ;;
revert)
    [ -f "$saved" ] || { log "nothing to revert"; exit 0; }
    while read -r k v; do echo "$v" > "$dir/$k" && log "thp $k -> $v"; done < "$saved"
    rm -f "$saved"
    ;;
*) die "usage: $0 status|apply|revert" ;;
esac
