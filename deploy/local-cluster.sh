#!/bin/sh
# Starts or stops a local Sluice cluster: one master and N workers on
# 127.0.0.1, logs and pids under a run directory.
#   deploy/local-cluster.sh start BUILD_DIR RUN_DIR [WORKERS]
#   deploy/local-cluster.sh stop RUN_DIR
# Ports come from SLUICE_PORT_BASE (default 7077): master = base, HTTP =
# base + 1003 (8080 for the default), workers = base + 24 + i.
# SLUICE_CLOCK=manual starts the master with the manual batch clock.
set -eu
cmd=${1:-}
case "$cmd" in
start)
    bin=$2 run=$3 n=${4:-2}
    base=${SLUICE_PORT_BASE:-7077}
    mkdir -p "$run"
    master="127.0.0.1:$base"
    "$bin/sluice-master" --listen "$master" --http "127.0.0.1:$((base + 1003))" \
        --checkpoint-dir "$run/checkpoint" --clock "${SLUICE_CLOCK:-wall}" \
        >"$run/master.log" 2>&1 &
    echo $! >"$run/master.pid"
    i=1
    while [ "$i" -le "$n" ]; do
        "$bin/sluice-worker" --master "$master" --listen "127.0.0.1:$((base + 24 + i))" \
            --cores 2 --memory 1G --work-dir "$run/worker-$i" >"$run/worker-$i.log" 2>&1 &
        echo $! >"$run/worker-$i.pid"
        i=$((i + 1))
    done
    # Wait (bounded) until every worker is registered and alive.
    tries=0
    while :; do
        alive=$("$bin/sluice" --master "$master" --timeout 2s status --json 2>/dev/null |
            grep -c '"state": "alive"' || true)
        [ "$alive" -ge "$n" ] && break
        tries=$((tries + 1))
        if [ "$tries" -gt 100 ]; then
            echo "local cluster did not come up; logs in $run" >&2
            exit 1
        fi
        sleep 0.1
    done
    echo "$master"
    ;;
stop)
    run=$2
    for f in "$run"/worker-*.pid "$run"/master.pid; do
        [ -f "$f" ] || continue
        pid=$(cat "$f")
        kill -TERM "$pid" 2>/dev/null || true
        # Wait for a clean exit (bounded), then make sure.
        t=0
        while kill -0 "$pid" 2>/dev/null && [ "$t" -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
        rm -f "$f"
    done
    ;;
*)
    echo "usage: $0 start BUILD_DIR RUN_DIR [WORKERS] | stop RUN_DIR" >&2
    exit 2
    ;;
esac
