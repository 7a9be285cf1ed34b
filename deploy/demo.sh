#!/bin/sh
# `make demo`: a local cluster (master + 2 workers), the word-count job, a
# bundled text pushed in three parts, each part one batch (manual clock: each
# `sluice tick` closes a batch), and the top words of every batch read back
# from the job's output files. Then a clean stop.
set -eu
bin=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
run=$(mktemp -d "${TMPDIR:-/tmp}/sluice-demo.XXXXXX")
trap '"$here/local-cluster.sh" stop "$run"' EXIT INT TERM
echo "== starting a local cluster: master + 2 workers (logs in $run)"
master=$(SLUICE_CLOCK=manual "$here/local-cluster.sh" start "$bin" "$run" 2)
export SLUICE_MASTER="$master"
"$bin/sluice" status
echo
echo "== submitting deploy/examples/wordcount.job"
cat "$here/examples/wordcount.job"
cd "$run"
job=$("$bin/sluice" submit "$here/examples/wordcount.job")
echo "job id: $job"
# The sample text has three parts separated by '--' lines.
awk -v dir="$run" 'BEGIN { n = 1 } /^--$/ { n++; next } { print > (dir "/part" n ".txt") }' \
    "$here/examples/sample.txt"
for n in 1 2 3; do
    echo
    echo "== batch $n: pushing part $n of the sample text"
    "$bin/sluice" push "$job" lines "$run/part$n.txt"
    time=$("$bin/sluice" tick "$job" --wait)
    echo "-- top words of batch $time (from $run/demo-out/counts-$time/):"
    cat "$run/demo-out/counts-$time"/part-* | sort -t "$(printf '\t')" -k2,2nr -k1,1 | head -8 |
        awk -F '\t' '{ printf "   %-10s %s\n", $1, $2 }'
done
echo
echo "== sluice batches $job"
"$bin/sluice" batches "$job"
echo
echo "== stopping the cluster"
