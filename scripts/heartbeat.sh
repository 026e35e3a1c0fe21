#!/usr/bin/env bash
# Runs a long, silent command and says every HEARTBEAT_SECONDS (15) what is happening and for how long,
# so nobody wonders whether it hung. Exits with the command's status. Usage:
#   scripts/heartbeat.sh "building the runner (go build)" go build -o bin/runner ./cmd/runner
set -uo pipefail

what="$1"
shift
every="${HEARTBEAT_SECONDS:-15}"
start=$SECONDS

(
	# sleep holds no pipe of ours: killed mid-sleep, the ticker leaves an orphan that blocks no reader.
	while sleep "$every" </dev/null >/dev/null 2>&1; do
		echo "   ... still $what ($((SECONDS - start))s elapsed)" >&2
	done
) &
ticker=$!
# The ticker dies with the command, also when this script is interrupted.
trap 'kill "$ticker" 2>/dev/null; wait "$ticker" 2>/dev/null' EXIT

"$@"
