#!/usr/bin/env bash
# Checks the Prometheus alerting rules: `promtool check rules` (syntax, templates) and
# `promtool test rules` (ops/prometheus/alerts_test.yml: each alert fires when it should and
# not before), `promtool check config prometheus.yml` (the example scrape config and the rule
# file it loads), every alert's runbook_url names a section of ops/RUNBOOK.md. Also parses every query of the Grafana dashboard (ops/grafana/obi-scalp.json,
# needs python3) by wrapping them as recording rules. Skips with a message (exit 0) when promtool is not installed
# (Debian: apt-get install prometheus), unless OBI_REQUIRE_TOOLS=1 (set by .ci/run): then a
# missing promtool or python3 fails (exit 1).
set -euo pipefail

skip() { # what why
    if [ "${OBI_REQUIRE_TOOLS:-0}" = 1 ]; then
        echo "FAIL $1: $2 (OBI_REQUIRE_TOOLS=1 forbids skipping)" >&2
        exit 1
    fi
    echo "SKIP $1: $2"
}

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/ops/prometheus"

if ! command -v promtool >/dev/null 2>&1; then
    skip check_alerts "promtool not found (apt-get install prometheus)"
    exit 0
fi

cd "$dir"
promtool check rules alerts.yml
promtool test rules alerts_test.yml
echo "ok   alerts: rules valid and alerts_test.yml passed"
promtool check config prometheus.yml
echo "ok   prometheus.yml: example scrape config valid"

if command -v python3 >/dev/null 2>&1; then
    tmp="$(mktemp -d)"
    trap 'rm -rf "$tmp"' EXIT
    python3 - "$here/ops/grafana/obi-scalp.json" > "$tmp/dashboard_rules.yml" <<'PY'
import json, sys
dash = json.load(open(sys.argv[1]))
print("groups:\n  - name: dashboard-queries\n    rules:")
n = 0
for panel in dash["panels"]:
    for t in panel.get("targets", []):
        expr = t["expr"].replace("$__rate_interval", "5m").replace("$instance", ".*")
        n += 1
        print(f"      - record: dashboard:query_{n}")
        print(f"        expr: {json.dumps(expr)}")
PY
    promtool check rules "$tmp/dashboard_rules.yml" >/dev/null
    echo "ok   dashboard: every query parses"
    python3 - "$dir/alerts.yml" "$here/ops/RUNBOOK.md" <<'PY'
import re, sys
rules = open(sys.argv[1]).read()
anchors = {re.sub(r"[^a-z0-9_ -]", "", h.strip().lower()).replace(" ", "-")
           for h in re.findall(r"^#+ (.+)$", open(sys.argv[2]).read(), re.M)}
alerts = re.findall(r"^      - alert: (\w+)$", rules, re.M)
urls = re.findall(r'runbook_url: "ops/RUNBOOK.md#([^"]+)"', rules)
bad = [a for a in urls if a not in anchors]
if len(urls) != len(alerts) or bad:
    sys.exit(f"FAIL runbook: {len(alerts)} alerts, {len(urls)} runbook_url, no section for {bad}")
PY
    echo "ok   runbook: every alert has a runbook_url with a section in ops/RUNBOOK.md"
else
    skip "dashboard query check" "python3 not found"
fi
