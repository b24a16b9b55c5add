#!/usr/bin/env bash
# Measures how long reading and auditing a large cluster takes, and how much memory.
#
# Generates PVS (default 100,000) synthetic PersistentVolumes with their claims
# as one `kind: List`, in YAML and in JSON, then runs on each file:
#   floor   parse-floor: the file into k8s-openapi types, nothing else;
#   reader  read-manifests: pvwarden-manifest's Reader (dispatch, origins, errors);
#   audit   pvwarden audit -o json (skipped while that binary does not exist).
# and prints wall time and peak RSS (from GNU time), with ratios to the floor.
# Takes about a minute on 2 cores, once the release build is done.
set -euo pipefail
cd "$(dirname "$0")/.."

pvs="${PVS:-100000}"
target="${CARGO_TARGET_DIR:-target}"

if [ ! -x /usr/bin/time ]; then
    echo "installing GNU time" >&2
    apt-get update -qq >/dev/null && apt-get install -y -qq time >/dev/null
fi

echo "building release binaries" >&2
cargo build --release --quiet -p pvwarden-synth --bins
if [ -f crates/pvwarden/Cargo.toml ]; then
    cargo build --release --quiet -p pvwarden --bins ||
        echo "pvwarden did not build; the audit rows are skipped" >&2
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

echo "generating $pvs PersistentVolumes" >&2
"$target/release/pvwarden-synth" --pvs "$pvs" --format yaml --layout list >"$work/pvs.yaml"
"$target/release/pvwarden-synth" --pvs "$pvs" --format json --layout list >"$work/pvs.json"

# measure FILE NAME COMMAND... : runs COMMAND with stdout discarded, prints "seconds kib".
measure() {
    local status=0
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || status=$?
    # pvwarden audit exits 1 when it finds problems, which is not a failure here.
    if [ "$status" -gt 1 ]; then
        echo "$* failed with status $status:" >&2
        tail -n 5 "$work/stderr" >&2
        echo "- -"
        return
    fi
    tail -n 1 "$work/time"
}

row() {
    local format="$1" tool="$2" seconds="$3" kib="$4" floor_s="$5" floor_kib="$6"
    if [ "$seconds" = "-" ]; then
        printf '%-6s %-7s %9s %9s %8s %8s\n' "$format" "$tool" "failed" "-" "-" "-"
        return
    fi
    awk -v f="$format" -v t="$tool" -v s="$seconds" -v k="$kib" \
        -v fs="$floor_s" -v fk="$floor_kib" \
        'BEGIN { printf "%-6s %-7s %9.2f %9.1f %8.2f %8.2f\n", f, t, s, k / 1024, s / fs, k / fk }'
}

printf '\n%d PersistentVolumes: %s MiB of YAML, %s MiB of JSON\n\n' "$pvs" \
    "$(( $(stat -c %s "$work/pvs.yaml") >> 20 ))" "$(( $(stat -c %s "$work/pvs.json") >> 20 ))"
printf '%-6s %-7s %9s %9s %8s %8s\n' format tool "wall s" "RSS MiB" "x time" "x RSS"
for format in yaml json; do
    file="$work/pvs.$format"
    read -r floor_s floor_kib < <(measure "$target/release/parse-floor" "$file")
    row "$format" floor "$floor_s" "$floor_kib" "$floor_s" "$floor_kib"
    read -r s kib < <(measure "$target/release/read-manifests" "$file")
    row "$format" reader "$s" "$kib" "$floor_s" "$floor_kib"
    if [ -x "$target/release/pvwarden" ]; then
        read -r s kib < <(measure "$target/release/pvwarden" audit -o json "$file")
        row "$format" audit "$s" "$kib" "$floor_s" "$floor_kib"
    else
        printf '%-6s %-7s %s\n' "$format" audit \
            "skipped: $target/release/pvwarden does not exist yet"
    fi
done
