#!/bin/sh
# The word-count benchmark (`make bench`): generates the Zipf corpus, counts it
# in one process (wc_single), then through a local cluster of one master and
# two workers on free loopback ports (wc_cluster), and prints the summary with
# the ratio cluster / single-process. The cluster is stopped on every exit.
#   sh tests/bench/run.sh BUILD_DIR
# Knobs (environment): BENCH_MB corpus size in MiB (150), BENCH_PARTITIONS
# (2), BENCH_BLOCK_MS receiver block interval (0: engine default, 200 ms),
# BENCH_KEEP=1 keeps the run directory (logs, job output), BENCH_PERF=1
# records the daemons with `perf record -g` during the cluster run into
# RUN_DIR/perf.data (and keeps the run directory).
set -eu
bin=$(cd "${1:-build}" && pwd)
bench="$bin/bench"
mb=${BENCH_MB:-150}
parts=${BENCH_PARTITIONS:-2}
block=${BENCH_BLOCK_MS:-0}
run=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
pids=""

stop_cluster() {
    # Workers first, then the master; TERM, a bounded wait, then KILL.
    for pid in $pids; do
        kill -TERM "$pid" 2>/dev/null || true
        t=0
        while kill -0 "$pid" 2>/dev/null && [ "$t" -lt 100 ]; do sleep 0.1; t=$((t + 1)); done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    pids=""
}

finish() {
    rc=$?
    stop_cluster
    if [ "$rc" -eq 0 ] && [ "${BENCH_KEEP:-0}" != 1 ]; then
        rm -rf "$run"
    else
        echo "run directory kept: $run" >&2
    fi
    exit "$rc"
}
trap finish EXIT
trap 'exit 130' INT TERM

# Waits (bounded) until a daemon's log says it listens; false when it died
# (its port was taken) or did not come up.
wait_listening() {
    pid=$1 log=$2 t=0
    while [ "$t" -lt 100 ]; do
        grep -q "listening on" "$log" 2>/dev/null && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
        t=$((t + 1))
    done
    return 1
}

port_free() {
    ! ss -Htln 2>/dev/null | awk '{ print $4 }' | grep -q ":$1\$"
}

# Starts the master and two workers on a base port nobody listens on; a
# daemon that loses a race for its port is retried on another base.
start_cluster() {
    tries=0
    while [ "$tries" -lt 10 ]; do
        tries=$((tries + 1))
        base=$(awk -v s="$$$tries" 'BEGIN { srand(s); print 20000 + int(rand() * 400) * 100 }')
        for p in "$base" $((base + 1)) $((base + 2)) $((base + 3)); do
            port_free "$p" || continue 2
        done
        master="127.0.0.1:$base"
        rm -rf "$run/checkpoint" "$run"/worker-*
        "$bin/sluice-master" --listen "$master" --http "127.0.0.1:$((base + 1))" \
            --checkpoint-dir "$run/checkpoint" >"$run/master.log" 2>&1 &
        mpid=$!
        if ! wait_listening "$mpid" "$run/master.log"; then
            pids="$mpid"; stop_cluster; continue
        fi
        wpids="" ok=1
        for i in 1 2; do
            "$bin/sluice-worker" --master "$master" --listen "127.0.0.1:$((base + 1 + i))" \
                --cores 2 --memory 1G --work-dir "$run/worker-$i" >"$run/worker-$i.log" 2>&1 &
            wpids="$wpids $!"
            wait_listening "$!" "$run/worker-$i.log" || ok=0
        done
        pids="$wpids $mpid"
        if [ "$ok" -eq 0 ]; then
            stop_cluster; continue
        fi
        t=0
        while :; do
            alive=$("$bin/sluice" --master "$master" --timeout 2s status --json 2>/dev/null |
                grep -c '"state": "alive"' || true)
            [ "$alive" -ge 2 ] && return 0
            t=$((t + 1))
            if [ "$t" -gt 100 ]; then
                echo "the local cluster did not come up; logs in $run" >&2
                exit 1
            fi
            sleep 0.1
        done
    done
    echo "no free ports for the local cluster after $tries tries" >&2
    exit 1
}

# CPU seconds (user + system) a process has used, from /proc.
cpu_of() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' \
        "/proc/$1/stat" 2>/dev/null || echo 0
}

field() {   # field NAME LINE: the value of NAME=... in a RESULT line
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

echo "== Sluice word-count benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
others=$(pgrep -c -x 'sluice-(master|worker)' 2>/dev/null || true)
if [ "${others:-0}" -gt 0 ]; then
    echo "WARNING: $others other sluice daemons are running on this machine; figures will be low"
fi

echo
echo "== corpus"
corpus="$run/corpus.txt"
"$bench/gen_corpus" "$corpus" --mb "$mb"

echo
echo "== single process"
single_out=$("$bench/wc_single" "$corpus" --runs 5)
echo "$single_out"
single=$(echo "$single_out" | grep '^RESULT single')

echo
echo "== cluster: master + 2 workers (--cores 2 each) on 127.0.0.1, logs in $run"
start_cluster
echo "master $master, pids: $pids"
set -- $pids
w1=$1 w2=$2 m=$3
c0_m=$(cpu_of "$m") c0_w1=$(cpu_of "$w1") c0_w2=$(cpu_of "$w2")
mkdir -p "$run/out"
perf_pid=""
if [ "${BENCH_PERF:-0}" = 1 ]; then
    BENCH_KEEP=1
    perf record -g -o "$run/perf.data" -p "$m,$w1,$w2" >"$run/perf.log" 2>&1 &
    perf_pid=$!
    sleep 0.5
fi
rc=0
cluster_out=$("$bench/wc_cluster" --master "$master" --corpus "$corpus" --out "$run/out" \
    --partitions "$parts" --block-ms "$block") || rc=$?
echo "$cluster_out"
c1_m=$(cpu_of "$m") c1_w1=$(cpu_of "$w1") c1_w2=$(cpu_of "$w2")
echo "  daemon CPU during the run: master $(echo "$c1_m $c0_m" | awk '{ printf "%.2f", $1 - $2 }') s," \
    "worker-1 $(echo "$c1_w1 $c0_w1" | awk '{ printf "%.2f", $1 - $2 }') s," \
    "worker-2 $(echo "$c1_w2 $c0_w2" | awk '{ printf "%.2f", $1 - $2 }') s"
if [ -n "$perf_pid" ]; then
    kill -INT "$perf_pid" 2>/dev/null || true
    wait "$perf_pid" || true
    echo "  perf profile: perf report -i $run/perf.data"
fi
stop_cluster
[ "$rc" -eq 0 ] || { echo "wc_cluster failed (exit $rc)" >&2; exit "$rc"; }
cluster=$(echo "$cluster_out" | grep '^RESULT cluster')

s_mbps=$(field mbps "$single") s_wps=$(field wps "$single")
c_mbps=$(field mbps "$cluster") c_wps=$(field wps "$cluster")
e_mbps=$(field e2e_mbps "$cluster")
ratio=$(echo "$c_mbps $s_mbps" | awk '{ printf "%.3f", $1 / $2 }')
e_ratio=$(echo "$e_mbps $s_mbps" | awk '{ printf "%.3f", $1 / $2 }')
met=no
if [ "$(echo "$ratio" | awk '{ print ($1 >= 0.3) }')" = 1 ] && [ "$(field keeps_up "$cluster")" = yes ]; then
    met=yes
fi

echo
echo "== summary"
printf '  %-34s %8.1f MB/s %8.2f M words/s\n' "single process (1 thread)" "$s_mbps" \
    "$(echo "$s_wps" | awk '{ print $1 / 1e6 }')"
printf '  %-34s %8.1f MB/s %8.2f M words/s\n' "cluster, sustained input (push)" "$c_mbps" \
    "$(echo "$c_wps" | awk '{ print $1 / 1e6 }')"
printf '  %-34s %8.1f MB/s\n' "cluster, end to end" "$e_mbps"
echo "  batch processing time: p50 $(field p50_ms "$cluster") ms, p99 $(field p99_ms "$cluster") ms," \
    "max $(field max_ms "$cluster") ms over $(field batches "$cluster") batches" \
    "(interval $(field interval_ms "$cluster") ms; under it: $(field keeps_up "$cluster"))"
echo "  counts verified against the corpus: $(field verified "$cluster")"
echo "  ratio cluster / single-process: $ratio (end to end: $e_ratio); target >= 0.3 with" \
    "processing under the interval: $met"
echo "RESULT bench ratio=$ratio e2e_ratio=$e_ratio target_met=$met"
