#!/usr/bin/env bash
# Measures the Ceph inventory read: SUBVOLUMES (default 1000) CephFS volumes and IMAGES
# (default 1000) RBD volumes, made the way ceph-csi makes them, on a throw-away test Ceph.
#
# 1. starts a test Ceph in a fresh directory (scripts/test-ceph/start.sh);
# 2. makes the volumes with their journal entries (pvwarden-ceph-fixture);
# 3. times `pvwarden ceph inventory` (release build, `ceph` feature) three times, and prints
#    its calls by kind; the read must take at most 3 s (PASS/FAIL, exit 1 on FAIL);
# 4. times the same scan done by spawning the `ceph`/`rbd`/`rados` CLI per object, on a
#    sample of SAMPLE (default 100) subvolumes and as many images, and extrapolates it;
# 5. stops the Ceph.
#
# Needs the packages .ci/ceph installs, and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

subvolumes=${SUBVOLUMES:-1000}
images=${IMAGES:-1000}
sample=${SAMPLE:-100}
target=${CARGO_TARGET_DIR:-target}

echo "building release binaries" >&2
cargo build --release -q -p pvwarden --features ceph
cargo build --release -q -p pvwarden-ceph --features rados --bin pvwarden-ceph-fixture

dir=$(mktemp -d /tmp/pvwarden-bench-ceph.XXXXXX)
trap 'scripts/test-ceph/stop.sh "$dir"; rm -rf "$dir"' EXIT
scripts/test-ceph/start.sh "$dir" >/dev/null
conf=$dir/ceph.conf
export CEPH_CONF=$conf

"$target/release/pvwarden-ceph-fixture" "$conf" "$subvolumes" "$images"

best=
for run in 1 2 3; do
    /usr/bin/time -f "%e %M" -o "$dir/time" \
        "$target/release/pvwarden" ceph inventory -o "$dir/inventory.json" 2>"$dir/calls"
    read -r wall rss <"$dir/time"
    echo "run $run: ${wall} s wall, ${rss} KiB peak RSS; $(tail -1 "$dir/calls" | sed 's/^pvwarden: //')"
    if [[ -z $best ]] || awk "BEGIN{exit !($wall < $best)}"; then best=$wall; fi
done

# The same facts through one CLI process per object, as scripts without a kept-open
# connection gather them: subvolume info and snapshot list per subvolume, image info and
# snapshot list per image, and each journal entry's volume object.
python3 - "$dir/inventory.json" "$sample" >"$dir/sample" <<'PY'
import json, sys
inv = json.load(open(sys.argv[1])); n = int(sys.argv[2])
fs = inv["filesystems"][0]
subs = [s["name"] for g in fs["groups"] if g["name"] == "csi" for s in g["subvolumes"]][:n]
imgs = [i["name"] for p in inv["rbd_pools"] for ns in p["namespaces"] for i in ns["images"]][:n]
for s in subs: print("sub", fs["name"], s)
for i in imgs: print("img", inv["rbd_pools"][0]["name"], i)
PY
start=$(date +%s.%N)
count=0
while read -r kind where name; do
    if [[ $kind == sub ]]; then
        ceph fs subvolume info "$where" "$name" --group_name csi >/dev/null
        ceph fs subvolume snapshot ls "$where" "$name" --group_name csi >/dev/null
        rados -p cephfs.cephfs.meta -N csi listomapvals "csi.volume.${name#csi-vol-}" >/dev/null
    else
        rbd info "$where/$name" >/dev/null
        rbd snap ls "$where/$name" >/dev/null
        rados -p "$where" listomapvals "csi.volume.${name#csi-vol-}" >/dev/null
    fi
    count=$((count + 1))
done <"$dir/sample"
cli=$(awk "BEGIN{print $(date +%s.%N) - $start}")
total=$((subvolumes + images))
echo "CLI per object: $count objects in ${cli} s, $(awk "BEGIN{printf \"%.0f\", $cli / $count * 1000}") ms an object; $total objects ≈ $(awk "BEGIN{printf \"%.0f\", $cli / $count * $total}") s"
if awk "BEGIN{exit !($best <= 3.0)}"; then
    echo "PASS: best inventory read ${best} s <= 3 s"
else
    echo "FAIL: best inventory read ${best} s > 3 s"
    exit 1
fi
