#!/usr/bin/env bash
# Measures the admission webhook against a bare hyper server that answers every request with a
# constant allow, over the same TLS (rustls) and HTTP/1.1 stack, on this machine's cores.
#
# Both servers run in one process (a runtime of two workers for the servers, one for the
# client, all on the same cores). The webhook's view holds PVS ceph-csi PVs (default 10,000)
# and a CephFS share; the requests are PV CREATE AdmissionReviews on /validate, nine in ten a
# new dynamic PV (allowed) and one in ten a static Delete copy of the share (refused).
#
# Prints, for each server: at a fixed RATE (default 1,000 req/s, over CONNECTIONS keep-alive
# connections, default 8, for SECONDS, default 10) the p50, p99 and maximum latency, measured
# from when each request was sent (or due, when the previous answer held it back); then each
# server's saturated throughput over the same connections, in ten alternating windows, and the
# ratios. The aim: webhook p99 under 1 ms at the fixed rate, and at least
# 80 % of the bare server's saturated throughput.
set -euo pipefail
cd "$(dirname "$0")/.."

pvs="${PVS:-10000}"
rate="${RATE:-1000}"
seconds="${SECONDS_EACH:-10}"
connections="${CONNECTIONS:-8}"

echo "machine: $(nproc) cores, $(uname -sr), $(date -u +%Y-%m-%dT%H:%M:%SZ)" >&2
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
cargo bench --quiet -p pvwarden-webhook --bench webhook -- \
    --pvs "$pvs" --rate "$rate" --seconds "$seconds" --connections "$connections"
