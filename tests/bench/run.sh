#!/bin/sh
# The word-count benchmark (`make bench`): generates the Zipf corpus, counts it
# in one process (wc_single), then through a local cluster of one master and
# two workers on free loopback ports (wc_cluster): first pushed at full speed
# for at least BENCH_SECONDS, then, when that does not keep up, paced at
# rates found by halving and bisecting (each on a fresh cluster, each push at
# least BENCH_SECONDS long) for the highest rate that keeps up. After each
# cluster run the single-process count runs again (the machine's speed moves
# from minute to minute); the summary gives the ratio of the highest rate
# that keeps up to the single-process rate right after that run. Every
# cluster is stopped on every exit.
#   sh tests/bench/run.sh BUILD_DIR
# Knobs (environment): BENCH_MB corpus size in MiB (150), BENCH_PARTITIONS
# (2), BENCH_BLOCK_MS receiver block interval (0: engine default, 200 ms),
# BENCH_SECONDS shortest push of a cluster run (10), BENCH_MIN_RATE lowest
# paced rate tried in MB/s (25), BENCH_TRIES most paced runs (5),
# BENCH_VERBOSE=1 prints the whole output of the paced runs too, BENCH_KEEP=1
# keeps the run directory (logs, job outputs), BENCH_PERF=1 records the
# daemons with `perf record -g` during the full-speed run into
# RUN_DIR/full/perf.data (and keeps the run directory).
set -eu
started=$(date +%s)
bin=$(cd "${1:-build}" && pwd)
bench="$bin/bench"
mb=${BENCH_MB:-150}
parts=${BENCH_PARTITIONS:-2}
block=${BENCH_BLOCK_MS:-0}
secs=${BENCH_SECONDS:-10}
min_rate=${BENCH_MIN_RATE:-25}
max_tries=${BENCH_TRIES:-5}
run=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
pids=""
clusters=0     # clusters started so far: varies the port base
run_singles="" # the single-process MB/s measured right after each cluster run

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

# Starts the master and two workers, logs and state under DIR, on a base
# port nobody listens on; a daemon that loses a race for its port is retried
# on another base. Sets master and pids (workers first, then the master).
start_cluster() {
    dir=$1 tries=0
    clusters=$((clusters + 1))
    while [ "$tries" -lt 10 ]; do
        tries=$((tries + 1))
        base=$(awk -v s="$(($$ * 100 + clusters * 10 + tries))" \
            'BEGIN { srand(s); print 20000 + int(rand() * 400) * 100 }')
        for p in "$base" $((base + 1)) $((base + 2)) $((base + 3)); do
            port_free "$p" || continue 2
        done
        master="127.0.0.1:$base"
        rm -rf "$dir/checkpoint" "$dir"/worker-*
        "$bin/sluice-master" --listen "$master" --http "127.0.0.1:$((base + 1))" \
            --checkpoint-dir "$dir/checkpoint" >"$dir/master.log" 2>&1 &
        mpid=$!
        if ! wait_listening "$mpid" "$dir/master.log"; then
            pids="$mpid"; stop_cluster; continue
        fi
        wpids="" ok=1
        for i in 1 2; do
            "$bin/sluice-worker" --master "$master" --listen "127.0.0.1:$((base + 1 + i))" \
                --cores 2 --memory 1G --work-dir "$dir/worker-$i" >"$dir/worker-$i.log" 2>&1 &
            wpids="$wpids $!"
            wait_listening "$!" "$dir/worker-$i.log" || ok=0
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
                echo "the local cluster did not come up; logs in $dir" >&2
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

# Peak resident memory of a process (VmHWM), in MiB.
peak_mib() {
    awk '/^VmHWM:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# CPU seconds the whole machine has spent busy (user, nice, system, irq,
# softirq, steal: time taken by the hypervisor counts as busy), from /proc/stat.
busy_cpu() {
    awk -v hz="$(getconf CLK_TCK)" '/^cpu / { printf "%.2f", ($2 + $3 + $4 + $7 + $8 + $9) / hz }' \
        /proc/stat
}

field() {   # field NAME LINE: the value of NAME=... in a RESULT line
    echo "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"
}

calc() {    # calc EXPR: awk arithmetic
    awk "BEGIN { print $1 }"
}

# cluster_run LABEL [wc_cluster options]: one wc_cluster run on a fresh
# cluster, logs and job output under RUN/LABEL. Prints the whole output when
# LABEL is "full" or BENCH_VERBOSE=1, else one line; sets `result` to the
# RESULT line with the daemons' CPU and peak memory appended. Exits when the
# run fails (crash, timeout, wrong counts).
cluster_run() {
    label=$1
    shift
    rdir="$run/$label"
    mkdir -p "$rdir/out"
    opts="$*"
    start_cluster "$rdir"
    # shellcheck disable=SC2086  # three pids, split on purpose
    set -- $pids
    w1=$1 w2=$2 m=$3
    c0_m=$(cpu_of "$m") c0_w1=$(cpu_of "$w1") c0_w2=$(cpu_of "$w2")
    perf_pid=""
    if [ "$label" = full ] && [ "${BENCH_PERF:-0}" = 1 ]; then
        BENCH_KEEP=1
        perf record -g -o "$rdir/perf.data" -p "$m,$w1,$w2" >"$rdir/perf.log" 2>&1 &
        perf_pid=$!
        sleep 0.5
    fi
    rc=0
    t0_run=$(date +%s.%N) busy0=$(busy_cpu)
    # shellcheck disable=SC2086  # options without spaces, split on purpose
    "$bench/wc_cluster" --master "$master" --corpus "$corpus" --out "$rdir/out" \
        --partitions "$parts" --block-ms "$block" $opts >"$rdir/wc_cluster.txt" 2>&1 || rc=$?
    cpu_m=$(calc "$(cpu_of "$m") - $c0_m") cpu_w1=$(calc "$(cpu_of "$w1") - $c0_w1")
    cpu_w2=$(calc "$(cpu_of "$w2") - $c0_w2")
    rss_w1=$(peak_mib "$w1") rss_w2=$(peak_mib "$w2") rss_m=$(peak_mib "$m")
    busy1=$(busy_cpu) t1_run=$(date +%s.%N)
    if [ -n "$perf_pid" ]; then
        kill -INT "$perf_pid" 2>/dev/null || true
        wait "$perf_pid" || true
    fi
    stop_cluster
    # The single-process rate right after the run: the machine's speed moves
    # from minute to minute, the ratio pairs each run with its own moment.
    single_now=$(field mbps "$("$bench/wc_single" "$corpus" --runs 3 | grep '^RESULT single')")
    daemons="daemon CPU: master $cpu_m s, worker-1 $cpu_w1 s, worker-2 $cpu_w2 s; peak RSS:"
    daemons="$daemons master $rss_m MiB, worker-1 $rss_w1 MiB, worker-2 $rss_w2 MiB"
    if [ "$rc" -ne 0 ]; then
        cat "$rdir/wc_cluster.txt"
        echo "  $daemons"
        echo "wc_cluster failed (exit $rc); logs in $rdir" >&2
        BENCH_KEEP=1
        exit "$rc"
    fi
    result="$(grep '^RESULT cluster' "$rdir/wc_cluster.txt") cpu_w1=$cpu_w1 cpu_w2=$cpu_w2"
    result="$result rss_w1_mib=$rss_w1 rss_w2_mib=$rss_w2"
    # What the rest of the machine used meanwhile: busy CPU less the three
    # daemons and the producer, in cores on average over the run.
    rest=$(calc "($busy1 - $busy0 - $cpu_m - $cpu_w1 - $cpu_w2 - $(field client_cpu "$result")) / ($t1_run - $t0_run)" |
        awk '{ printf "%.2f", $1 < 0 ? 0 : $1 }')
    result="$result others_cores=$rest single_mbps=$single_now"
    run_singles="$run_singles $single_now"
    daemons="$daemons; rest of the machine: $rest cores on average"
    daemons="$daemons; single process right after: $single_now MB/s"
    if [ "$label" = full ] || [ "${BENCH_VERBOSE:-0}" = 1 ]; then
        cat "$rdir/wc_cluster.txt"
        echo "  $daemons"
        [ -z "$perf_pid" ] || echo "  perf profile: perf report -i $rdir/perf.data"
    else
        printf '  %-24s push %6.1f MB/s over %5.2f s, %2s batches: processing p50 %4s p99 %4s max %4s ms, max sched %4s ms -> keeps up: %-3s (verified: %s; worker peak RSS %s/%s MiB; rest of the machine %s cores; single process right after: %s MB/s)\n' \
            "$label:" "$(field mbps "$result")" "$(field push_seconds "$result")" \
            "$(field batches "$result")" "$(field p50_ms "$result")" "$(field p99_ms "$result")" \
            "$(field max_ms "$result")" "$(field sched_max_ms "$result")" \
            "$(field keeps_up "$result")" "$(field verified "$result")" "$rss_w1" "$rss_w2" \
            "$rest" "$single_now"
    fi
}

echo "== Sluice word-count benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "load average before the run: $(cut -d' ' -f1-3 /proc/loadavg)"
# (Not pgrep: it refuses patterns longer than the 15 characters of a comm.)
# shellcheck disable=SC2009
others=$(ps -eo comm= | grep -c -E '^sluice-(master|worker)$' || true)
if [ "${others:-0}" -gt 0 ]; then
    echo "WARNING: $others other sluice daemons are running on this machine; figures will be low"
fi

echo
echo "== corpus"
corpus="$run/corpus.txt"
"$bench/gen_corpus" "$corpus" --mb "$mb"
corpus_mb=$(calc "$(wc -c <"$corpus") / 1e6")

echo
echo "== single process"
single_out=$("$bench/wc_single" "$corpus" --runs 5)
echo "$single_out"
single=$(echo "$single_out" | grep '^RESULT single')
s_mbps=$(field mbps "$single") s_wps=$(field wps "$single")
echo "rest of the machine before the cluster runs: $(busy0=$(busy_cpu); sleep 1; calc "$(busy_cpu) - $busy0") cores"

echo
echo "== cluster at full speed: master + 2 workers (--cores 2 each) on 127.0.0.1, corpus" \
    "pushed again and again for at least $secs s"
cluster_run full --min-seconds "$secs"
full=$result
f_mbps=$(field mbps "$full")

# The highest paced rate that keeps up: halve from the full-speed rate until
# a rate keeps up (not below BENCH_MIN_RATE), then bisect (geometric mean)
# between it and the lowest rate that did not, until they are within 15 % or
# BENCH_TRIES runs are spent. Rates are whole MB/s; each push is whole copies
# of the corpus lasting at least BENCH_SECONDS at the requested rate.
best="" tried=""
if [ "$(field keeps_up "$full")" = yes ]; then
    best=$full
else
    echo
    echo "== cluster paced: the highest rate that keeps up (halving, then bisecting; fresh cluster each run)"
    lo="" hi=$f_mbps paced_runs=0
    while [ "$paced_runs" -lt "$max_tries" ]; do
        if [ -z "$lo" ]; then
            rate=$(calc "int($hi / 2 + 0.5)")
            [ "$(calc "($rate < $min_rate)")" = 0 ] || rate=$min_rate
            [ "$(calc "($rate < $hi)")" = 1 ] || break
        else
            [ "$(calc "($hi / $lo > 1.15)")" = 1 ] || break
            rate=$(calc "int(sqrt($lo * $hi) + 0.5)")
        fi
        paced_runs=$((paced_runs + 1))
        copies=$(calc "int($rate * $secs / $corpus_mb + 0.999)")
        [ "$copies" -ge 1 ] || copies=1
        cluster_run "paced-${rate}MBps" --rate "$rate" --repeat "$copies"
        tried="$tried $rate:$(field keeps_up "$result")"
        if [ "$(field keeps_up "$result")" = yes ]; then
            lo=$rate best=$result
        else
            hi=$rate
            [ -n "$lo" ] || [ "$rate" != "$min_rate" ] || break
        fi
    done
fi

echo
echo "== summary"
echo "load average after the run: $(cut -d' ' -f1-3 /proc/loadavg); bench took $(($(date +%s) - started)) s"
singles=$(echo "$run_singles" | tr ' ' '\n' | grep . | sort -n |
    awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.1f-%.1f", lo, hi }')
printf '  %-44s %7.1f MB/s %7.2f M words/s (at the start; right after each cluster run: %s MB/s)\n' \
    "single process (1 thread)" "$s_mbps" "$(calc "$s_wps / 1e6")" "$singles"
printf '  %-44s %7.1f MB/s %7.2f M words/s over %.1f s, %s batches: processing p50 %s ms, p99 %s ms, max sched delay %s ms; keeps up: %s\n' \
    "cluster, full speed (push)" "$f_mbps" "$(calc "$(field wps "$full") / 1e6")" \
    "$(field push_seconds "$full")" "$(field batches "$full")" \
    "$(field p50_ms "$full")" "$(field p99_ms "$full")" "$(field sched_max_ms "$full")" \
    "$(field keeps_up "$full")"
[ -z "$tried" ] || echo "  paced rates tried (MB/s: keeps up):$tried"
verified=yes
for r in "$run"/*/wc_cluster.txt; do
    grep -q 'verified=yes' "$r" || verified=no
done
if [ -n "$best" ]; then
    b_mbps=$(field mbps "$best") b_single=$(field single_mbps "$best")
    printf '  %-44s %7.1f MB/s %7.2f M words/s over %.1f s, %s batches: processing p50 %s ms, p99 %s ms, max sched delay %s ms (interval %s ms)\n' \
        "cluster, highest rate that keeps up" "$b_mbps" "$(calc "$(field wps "$best") / 1e6")" \
        "$(field push_seconds "$best")" "$(field batches "$best")" \
        "$(field p50_ms "$best")" "$(field p99_ms "$best")" "$(field sched_max_ms "$best")" \
        "$(field interval_ms "$best")"
    ratio=$(calc "$b_mbps / $b_single" | awk '{ printf "%.3f", $1 }')
    ratio0=$(calc "$b_mbps / $s_mbps" | awk '{ printf "%.3f", $1 }')
else
    echo "  cluster, highest rate that keeps up: none of the rates tried"
    b_mbps=0 b_single=0 ratio=0.000 ratio0=0.000
fi
echo "  counts verified against the corpus in every run: $verified"
met=no
[ "$(calc "($ratio >= 0.3)")" = 0 ] || met=yes
echo "  ratio highest rate that keeps up / single process right after that run ($b_single MB/s):" \
    "$ratio (against the rate at the start: $ratio0); target >= 0.3: $met"
echo "RESULT bench single_mbps=$s_mbps full_mbps=$f_mbps sustained_mbps=$b_mbps" \
    "single_then_mbps=$b_single ratio=$ratio ratio_start=$ratio0 target_met=$met"
