#!/usr/bin/env bash
# Checks the runner's Prometheus side: the shipped alerting rules (promtool check rules) and a real
# scrape of the registry (promtool check metrics, in TestScrapePassesPromtool). Installs promtool
# (Debian's prometheus package, without starting its daemon) when it is missing and we are root.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v promtool >/dev/null; then
	if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
		echo "promtool not found: install Prometheus' promtool (Debian: apt-get install --no-install-recommends prometheus)" >&2
		exit 1
	fi
	echo "== installing promtool (Debian prometheus package)"
	# policy-rc.d 101 keeps the package from starting a prometheus daemon.
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
		trap 'rm -f /usr/sbin/policy-rc.d' EXIT
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null
fi

echo "== promtool check rules deploy/prometheus/alerts.yml"
promtool check rules deploy/prometheus/alerts.yml
echo "== grafana dashboard is valid JSON"
python3 -m json.tool deploy/grafana/runner-dashboard.json >/dev/null
echo "== promtool check metrics on a scrape"
go test -count=1 -run 'TestScrapePassesPromtool' ./internal/metrics/ -v | grep -E '^(--- |ok|FAIL|PASS)'
