#!/usr/bin/env bash
# Restore drill: back the journal up (online), verify the backup by its manifest, restore it into
# a scratch folder and compare the restored rows with the manifest and with the live journal.
# With OBI_DRILL_POSTGRES_URL set, also pg_dump that database, pg_restore it into a scratch
# database (created and dropped here; the role needs CREATEDB) and compare every table's rows.
#
#   scripts/restore_drill.sh JOURNAL [BIN]      (BIN default: target/debug/obi-scalp)
# Exit 0 when every count matches; 1 with the difference otherwise.
set -euo pipefail
journal="${1:?usage: restore_drill.sh JOURNAL [BIN]}"
bin="${2:-target/debug/obi-scalp}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

"$bin" journal backup --journal "$journal" --out "$scratch/backups" --keep-days 0
b="$(ls -d "$scratch"/backups/backup-* | head -1)"
"$bin" journal verify "$b"
"$bin" journal restore --from "$b" --to "$scratch/restored/journal.sqlite" --files-to "$scratch/restored/files"
# restore itself compares the restored file's checksum and rows with the manifest; the
# manifest's rows must not exceed the live journal's (it only grows while the drill runs).
python3 - "$b/manifest.json" "$journal" <<'PY'
import json, sqlite3, sys
m = json.load(open(sys.argv[1]))
live = sqlite3.connect(f"file:{sys.argv[2]}?mode=ro", uri=True)
bad = 0
for t, n in m["rows"].items():
    have = live.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
    print(f"{t}: backup {n}, live {have}")
    if have < n:
        bad = 1
sys.exit(bad)
PY

if [ -n "${OBI_DRILL_POSTGRES_URL:-}" ]; then
  url="$OBI_DRILL_POSTGRES_URL"
  db="obi_drill_$$"
  pg_dump --format=custom --file "$scratch/postgres.dump" "$url"
  psql -qAt "$url" -c "CREATE DATABASE $db"
  trap 'psql -qAt "$url" -c "DROP DATABASE IF EXISTS $db" >/dev/null; rm -rf "$scratch"' EXIT
  scratch_url="${url%/*}/$db"
  pg_restore --no-owner --dbname "$scratch_url" "$scratch/postgres.dump"
  tables=$(psql -qAt "$url" -c "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")
  for t in $tables; do
    a=$(psql -qAt "$url" -c "SELECT count(*) FROM \"$t\"")
    r=$(psql -qAt "$scratch_url" -c "SELECT count(*) FROM \"$t\"")
    echo "postgres $t: dumped from $a, restored $r"
    # Rows may arrive after the dump: the restored copy holds at most the live count.
    [ "$r" -le "$a" ] && [ "$r" -gt 0 -o "$a" -eq 0 ] || { echo "restore drill: $t differs" >&2; exit 1; }
  done
fi
echo "restore drill: ok"
