#!/usr/bin/env bash
# Checks the Prometheus alerting rules: `promtool check rules` (syntax, templates) and
# `promtool test rules` (ops/prometheus/alerts_test.yml: each alert fires when it should and
# not before). Skips with a message (exit 0) when promtool is not installed
# (Debian: apt-get install prometheus).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$here/ops/prometheus"

if ! command -v promtool >/dev/null 2>&1; then
    echo "SKIP check_alerts: promtool not found (apt-get install prometheus)"
    exit 0
fi

cd "$dir"
promtool check rules alerts.yml
promtool test rules alerts_test.yml
echo "ok   alerts: rules valid and alerts_test.yml passed"
