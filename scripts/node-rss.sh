#!/usr/bin/env bash
# Sample the resident memory of the `diverge node` processes a run spawns.
#
#   scripts/node-rss.sh <controller-pid> [interval-s]
#
# Every interval (10 s by default) prints one line: seconds since the start,
# then `id=RSS_KiB` for each node child of the controller (found afresh each
# time, so a node restarted after a crash is followed under its new pid).
# Stops when the controller exits. Example, for the soak of issue 20 #4a:
#
#   target/release/diverge run --workload register --rate 0 --concurrency 32 \
#       --nemesis all --time-limit 180 & scripts/node-rss.sh $! | tee rss.txt
set -euo pipefail
controller=${1:?usage: node-rss.sh <controller-pid> [interval-s]}
interval=${2:-10}
start=$(date +%s)
while kill -0 "$controller" 2>/dev/null; do
    line="$(( $(date +%s) - start ))s"
    for pid in $(pgrep -P "$controller" -f 'diverge node' || true); do
        # A node may exit (crash fault) between pgrep and here: skip it.
        id=$( (tr '\0' ' ' < "/proc/$pid/cmdline") 2>/dev/null | sed -n 's/.*--id \([^ ]*\).*/\1/p' || true)
        rss=$( (ps -o rss= -p "$pid" || true) | tr -d ' ')
        if [ -n "$id" ] && [ -n "$rss" ]; then line="$line $id=$rss"; fi
    done
    echo "$line"
    sleep "$interval"
done
