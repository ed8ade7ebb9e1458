#!/usr/bin/env bash
# Checks that `rust-version` in Cargo.toml is not below what the locked dependencies declare:
# reads every package of the resolve (`cargo metadata --locked`) and compares the highest
# dependency `rust-version` with ours. The other half (our own code uses no std API newer than
# our rust-version) is clippy's `incompatible_msrv` lint, part of `cargo clippy -- -D warnings`.
# Exit 1 with the offending packages named when ours is too low.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$here"
cargo metadata --format-version 1 --locked ${CARGO_OFFLINE:+--offline} | python3 -c '
import json, sys
m = json.load(sys.stdin)
def v(s):
    return tuple(int(x) for x in s.split("."))[:3] + (0,) * (3 - len(s.split(".")))
root = next(p for p in m["packages"] if p["id"] == m["resolve"]["root"])
ours = root["rust_version"]
deps = [(v(p["rust_version"]), p["name"], p["version"], p["rust_version"])
        for p in m["packages"] if p["id"] != root["id"] and p.get("rust_version")]
top = max(d[0] for d in deps)
names = ", ".join(f"{n} {ver}" for t, n, ver, _ in sorted(deps, reverse=True) if t == top)
if ours is None or v(ours) < top:
    sys.exit(f"FAIL msrv: Cargo.toml rust-version {ours}, but {names} need {top[0]}.{top[1]}")
print(f"ok   msrv: rust-version {ours}; highest among {len(deps)} locked dependencies: "
      f"{top[0]}.{top[1]} ({names})")
'
