#!/usr/bin/env bash
# Measures the memory of `pvwarden serve controller` watching a large (test) cluster.
#
# For each size in SIZES (default "10000 100000"), generates that many synthetic PVs with
# their claims (pvwarden-synth), preloads them into pvwarden-apiserver (127.0.0.1), starts
# the controller against it, waits for its first complete audit pass (its /metrics), lets
# it run RUN_SECONDS more (default 20, with a pass every 5 s), and reads from /proc its
# resident memory (VmRSS) and peak (VmHWM). Prints one row per size with the memory per
# 1,000 PVs, the time to the first pass and the duration of the last pass. Needs curl.
set -euo pipefail
cd "$(dirname "$0")/.."

sizes="${SIZES:-10000 100000}"
run_seconds="${RUN_SECONDS:-20}"
target="${CARGO_TARGET_DIR:-target}"

echo "building release binaries" >&2
cargo build --release --quiet -p pvwarden -p pvwarden-testkit -p pvwarden-synth --bins

work="$(mktemp -d)"
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# status PID FIELD: a field of /proc/PID/status in KiB.
status() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"; }
# metric PORT NAME: the value of one sample of the controller's /metrics.
metric() {
    curl -s "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2 }'
}

printf '| PVs | claims | RSS after %ss | peak RSS | RSS per 1,000 PVs | peak per 1,000 PVs | first pass after | pass duration |\n' "$run_seconds"
printf '|---|---|---|---|---|---|---|---|\n'
for pvs in $sizes; do
    "$target/release/pvwarden-synth" --pvs "$pvs" --format yaml --layout list >"$work/cluster.yaml"
    claims=$(grep -c '^  kind: PersistentVolumeClaim$' "$work/cluster.yaml" || true)
    kc="$work/kubeconfig-$pvs"
    "$target/release/pvwarden-apiserver" --port 0 --load "$work/cluster.yaml" \
        --kubeconfig-out "$kc" --log-level warn >"$work/server.out" 2>"$work/server.err" &
    server=$!
    pids+=("$server")
    until [ -s "$kc" ] && [ -s "$work/server.out" ]; do sleep 0.2; done

    port=$((18000 + RANDOM % 1000))
    started=$(date +%s.%N)
    "$target/release/pvwarden" serve controller --kubeconfig "$kc" --identity bench \
        --listen "127.0.0.1:$port" --resync 5s --log-level warn 2>"$work/controller.err" &
    controller=$!
    pids+=("$controller")
    until [ "$(metric "$port" pvwarden_reconciles_total 2>/dev/null || true)" \> "0" ] 2>/dev/null; do
        if ! kill -0 "$controller" 2>/dev/null; then
            echo "the controller exited:" >&2
            tail -n 5 "$work/controller.err" >&2
            exit 2
        fi
        sleep 0.5
    done
    first=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
    sleep "$run_seconds"
    rss=$(status "$controller" VmRSS)
    hwm=$(status "$controller" VmHWM)
    sum=$(metric "$port" pvwarden_reconcile_duration_seconds_sum)
    count=$(metric "$port" pvwarden_reconcile_duration_seconds_count)
    kill "$controller" "$server"
    wait "$controller" "$server" 2>/dev/null || true
    pids=()
    awk -v n="$pvs" -v c="$claims" -v r="$rss" -v h="$hwm" -v f="$first" -v s="$sum" -v k="$count" \
        'BEGIN { printf "| %d | %d | %.0f MiB | %.0f MiB | %.2f MiB | %.2f MiB | %s s | %.2f s (mean of %d) |\n",
                 n, c, r / 1024, h / 1024, r / 1024 / (n / 1000), h / 1024 / (n / 1000), f, s / k, k }'
done
