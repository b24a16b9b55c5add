#!/usr/bin/env bash
# Measures `pvwarden audit` against a live (test) API server holding a large cluster.
#
# Generates PVS (default 100,000) synthetic PersistentVolumes with their claims, preloads
# them into pvwarden-apiserver (127.0.0.1, a port of its own), then runs
#   pvwarden audit -o json --kubeconfig KC
# and prints its wall time and peak RSS (GNU time), the API requests it sent (from the
# server's /pvwarden-test/requests counts), and the server's own memory. The server's load
# time is printed but is not part of the measurement.
#
# The read lists every kind in pages of 500, so it must cost at most ceil(N/500) lists per
# kind (at least one), plus /version and one discovery request; the script prints PASS or
# FAIL for that bound and exits 1 on FAIL. Needs curl and jq.
set -euo pipefail
cd "$(dirname "$0")/.."

pvs="${PVS:-100000}"
target="${CARGO_TARGET_DIR:-target}"
page=500
now="2026-12-04T12:00:00Z"

for tool in curl jq; do
    command -v "$tool" >/dev/null || { echo "bench/live.sh needs $tool" >&2; exit 2; }
done
if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null
fi

echo "building release binaries" >&2
cargo build --release --quiet -p pvwarden -p pvwarden-testkit -p pvwarden-synth --bins

work="$(mktemp -d)"
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "generating $pvs PersistentVolumes" >&2
"$target/release/pvwarden-synth" --pvs "$pvs" --format yaml --layout list >"$work/cluster.yaml"

echo "starting pvwarden-apiserver" >&2
kc="$work/kubeconfig"
started=$(date +%s.%N)
"$target/release/pvwarden-apiserver" --port 0 --load "$work/cluster.yaml" --kubeconfig-out "$kc" \
    --log-level warn >"$work/server.out" 2>"$work/server.err" &
server_pid=$!

# The kubeconfig is written once the manifests are loaded and the port is bound.
until [ -s "$kc" ] && [ -s "$work/server.out" ]; do
    if ! kill -0 "$server_pid" 2>/dev/null; then
        echo "pvwarden-apiserver exited:" >&2
        tail -n 5 "$work/server.err" >&2
        exit 2
    fi
    sleep 0.2
done
url="$(head -n 1 "$work/server.out")"
token="$(awk '$1 == "token:" { print $2; exit }' "$kc")"
awk '$1 == "certificate-authority-data:" { print $2; exit }' "$kc" | base64 -d >"$work/ca.pem"

# api METHOD PATH: one request to the server with the admin token.
api() {
    curl -sS --fail --cacert "$work/ca.pem" -H "Authorization: Bearer $token" -X "$1" "$url$2"
}
until api GET /version >/dev/null 2>&1; do sleep 0.2; done
loaded=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')

# What the read lists, as pvwarden-kube lists it: "counts key|path|field selector".
snap=snapshot.storage.k8s.io/v1
listings=(
    "v1/persistentvolumes|/api/v1/persistentvolumes|"
    "v1/persistentvolumeclaims|/api/v1/persistentvolumeclaims|"
    "storage.k8s.io/v1/storageclasses|/apis/storage.k8s.io/v1/storageclasses|"
    "storage.k8s.io/v1/csidrivers|/apis/storage.k8s.io/v1/csidrivers|"
    "storage.k8s.io/v1/volumeattachments|/apis/storage.k8s.io/v1/volumeattachments|"
    "v1/nodes|/api/v1/nodes|"
    "v1/pods|/api/v1/pods|"
    "v1/events|/api/v1/events|involvedObject.kind%3DPersistentVolume"
    "v1/events|/api/v1/events|involvedObject.kind%3DPersistentVolumeClaim"
    "apps/v1/deployments|/apis/apps/v1/deployments|"
    "apps/v1/statefulsets|/apis/apps/v1/statefulsets|"
    "apps/v1/daemonsets|/apis/apps/v1/daemonsets|"
    "$snap/volumesnapshots|/apis/$snap/volumesnapshots|"
    "$snap/volumesnapshotcontents|/apis/$snap/volumesnapshotcontents|"
)
# The bound of each counts key: the pages its listings need, from the server's own counts.
declare -A objects bound
for listing in "${listings[@]}"; do
    IFS='|' read -r key path selector <<<"$listing"
    n=$(api GET "$path?limit=1&fieldSelector=$selector" |
        jq '(.items | length) + (.metadata.remainingItemCount // 0)')
    objects[$key]=$(( ${objects[$key]:-0} + n ))
    pages=$(( (n + page - 1) / page ))
    bound[$key]=$(( ${bound[$key]:-0} + (pages > 0 ? pages : 1) ))
done

# cpu PID: the CPU seconds a process has used (user + system).
cpu() {
    awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat"
}

api DELETE /pvwarden-test/requests >/dev/null
echo "auditing" >&2
server_cpu_before=$(cpu "$server_pid")
status=0
PVWARDEN_CONTEXT="" /usr/bin/time -f "%e %M" -o "$work/time" \
    "$target/release/pvwarden" audit -o json --now "$now" --kubeconfig "$kc" \
    >/dev/null 2>"$work/audit.err" || status=$?
# The audit exits 1 when it finds problems, which is not a failure here.
if [ "$status" -gt 1 ]; then
    echo "pvwarden audit failed with status $status:" >&2
    tail -n 5 "$work/audit.err" >&2
    exit 2
fi
# GNU time prints "Command exited with non-zero status 1" first when the audit exits 1.
read -r seconds kib < <(tail -n 1 "$work/time")
server_cpu=$(awk -v a="$server_cpu_before" -v b="$(cpu "$server_pid")" 'BEGIN { print b - a }')
api GET /pvwarden-test/requests >"$work/requests.json"
server_rss=$(awk '$1 == "VmRSS:" { print $2 }' "/proc/$server_pid/status")
server_hwm=$(awk '$1 == "VmHWM:" { print $2 }' "/proc/$server_pid/status")

printf '\n%d PersistentVolumes (%s MiB of YAML); server loaded them in %s s\n\n' "$pvs" \
    "$(( $(stat -c %s "$work/cluster.yaml") >> 20 ))" "$loaded"
awk -v s="$seconds" -v k="$kib" \
    'BEGIN { printf "audit   wall %.2f s, peak RSS %.1f MiB\n", s, k / 1024 }'
awk -v r="$server_rss" -v h="$server_hwm" -v c="$server_cpu" \
    'BEGIN { printf "server  RSS %.1f MiB, peak %.1f MiB, %.2f CPU s serving the audit\n\n",
             r / 1024, h / 1024, c }'

total=$(jq '.total' "$work/requests.json")
allowed=2 # /version and the snapshot group's discovery
verdict=PASS
printf '%-52s %9s %6s %6s\n' "list requests" objects sent bound
for key in $(printf '%s\n' "${!bound[@]}" | sort); do
    sent=$(jq --arg k "list $key" '.by[$k] // 0' "$work/requests.json")
    mark=""
    if [ "$sent" -gt "${bound[$key]}" ]; then mark="  over"; verdict=FAIL; fi
    printf '%-52s %9d %6d %6d%s\n' "$key" "${objects[$key]}" "$sent" "${bound[$key]}" "$mark"
    allowed=$(( allowed + bound[$key] ))
done
# Anything else the audit sent, e.g. a kind the script does not know of.
jq -r --arg known "$(printf 'list %s\n' "${!bound[@]}")" \
    '.by | to_entries[] | select(.key as $k | ($known | split("\n") | index($k)) | not)
     | "other: \(.key) \(.value)"' "$work/requests.json"
[ "$total" -le "$allowed" ] || verdict=FAIL
printf '\ntotal requests %d, bound %d (ceil(N/%d) per listing + 2): %s\n' \
    "$total" "$allowed" "$page" "$verdict"
[ "$verdict" = PASS ]
