#!/bin/sh
# `make demo`: a local cluster (master + 2 workers), its status, a clean stop.
set -eu
bin=${1:-build}
run=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")
trap 'deploy/local-cluster.sh stop "$run"' EXIT INT TERM
echo "== starting a local cluster (logs in $run)"
master=$(deploy/local-cluster.sh start "$bin" "$run" 2)
echo "== sluice status"
"$bin/sluice" --master "$master" status
echo "== stopping the cluster"
