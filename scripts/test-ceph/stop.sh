#!/usr/bin/env bash
# Stops the test Ceph that start.sh started in DIR: only the daemons whose pid files are in
# DIR and whose command line names DIR's ceph.conf, by pid (TERM, then KILL after 15 s).
#
#   scripts/test-ceph/stop.sh DIR
set -uo pipefail

dir=${1:?usage: stop.sh DIR}
[[ -d $dir/run ]] || exit 0
dir=$(cd "$dir" && pwd)
pids=()
for file in "$dir"/run/*.pid; do
    [[ -e $file ]] || continue
    pid=$(cat "$file")
    [[ $pid =~ ^[0-9]+$ && -r /proc/$pid/cmdline ]] || continue
    if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir/ceph.conf"; then
        kill -TERM "$pid" 2>/dev/null && pids+=("$pid")
    fi
done
for _ in $(seq 1 150); do
    left=()
    for pid in "${pids[@]}"; do
        [[ -d /proc/$pid ]] && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]] \
            && left+=("$pid")
    done
    (( ${#left[@]} )) || exit 0
    sleep 0.1
done
for pid in "${left[@]}"; do
    kill -KILL "$pid" 2>/dev/null
done
exit 0
