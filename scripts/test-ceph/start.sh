#!/usr/bin/env bash
# Starts a throw-away single-node Ceph (Debian's pacific packages) for pvwarden's tests.
#
#   scripts/test-ceph/start.sh DIR
#
# Everything lives in DIR (which must not hold a cluster yet): configuration, keys, daemon
# data, logs, sockets and pid files. One mon, one mgr (volumes and rbd_support modules), one
# memstore osd and one mds, all on 127.0.0.1, with a CephFS volume `cephfs` and an RBD pool
# `rbd`. Prints `export CEPH_CONF=DIR/ceph.conf` when the cluster answers; stop.sh DIR stops
# exactly the daemons whose pid files are in DIR.
#
# Knobs: PVWARDEN_CEPH_PORT (mon msgr2 port, default 46790; msgr1 is the next one),
# PVWARDEN_CEPH_TIMEOUT (seconds to wait for readiness, default 180).
set -euo pipefail

dir=${1:?usage: start.sh DIR}
port=${PVWARDEN_CEPH_PORT:-46790}
timeout=${PVWARDEN_CEPH_TIMEOUT:-180}
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/ceph.conf
if [[ -e $conf ]]; then
    echo "start.sh: $dir already holds a cluster" >&2
    exit 2
fi
started=$(date +%s)
say() { echo "test-ceph: +$(( $(date +%s) - started ))s $*" >&2; }
ceph_() { timeout 60 ceph -c "$conf" --connect-timeout 30 "$@"; }

# A failed start leaves nothing running.
trap 'rc=$?; if (( rc )); then echo "test-ceph: start failed, logs in $dir/log" >&2;
      "$here/stop.sh" "$dir" || true; fi' EXIT

mkdir -p "$dir"/{run,log,keys,mon.a,mgr.x,osd.0,mds.a,modules}
fsid=$(uuidgen)

# Only the mgr modules the tests need are visible: importing all of them costs seconds.
for m in mgr_module.py mgr_util.py balancer crash devicehealth orchestrator pg_autoscaler \
         progress rbd_support status telemetry volumes iostat; do
    ln -s "/usr/share/ceph/mgr/$m" "$dir/modules/$m"
done

cat > "$conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$port,v1:127.0.0.1:$((port + 1))]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $dir/keys/\$name.keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
crash dir = $dir/log
log to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
# The data is in memory (memstore); a nearly full disk must not stop the mon.
mon data avail warn = 1
mon data avail crit = 0
mgr stats period = 1
mgr tick period = 1
paxos propose interval = 0.1
mds beacon interval = 1
osd mon report interval = 1
[mon]
mon data = $dir/\$name
keyring = $dir/\$name/keyring
[mgr]
mgr data = $dir/\$name
mgr module path = $dir/modules
[osd]
osd data = $dir/\$name
osd objectstore = memstore
memstore device bytes = 2147483648
osd op num shards = 1
osd op num threads per shard = 2
[mds]
mds data = $dir/\$name
mds cache memory limit = 268435456
CONF

# Every key is made up front; the mon imports them when its store is created.
key() { # entity, then its caps
    local name=$1
    shift
    ceph-authtool --create-keyring "$dir/keys/$name.keyring" --gen-key -n "$name" "$@" >/dev/null
    chmod 600 "$dir/keys/$name.keyring"
}
key mon. --cap mon 'allow *'
key client.admin --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *'
key mgr.x --cap mon 'allow profile mgr' --cap osd 'allow *' --cap mds 'allow *'
key osd.0 --cap mon 'allow profile osd' --cap mgr 'allow profile osd' --cap osd 'allow *'
key mds.a --cap mon 'allow profile mds' --cap osd 'allow rw tag cephfs *=*' --cap mds 'allow' \
    --cap mgr 'allow profile mds'
seed=$dir/keys/seed.keyring
cp "$dir/keys/mon..keyring" "$seed"
for name in client.admin mgr.x osd.0 mds.a; do
    ceph-authtool "$seed" --import-keyring "$dir/keys/$name.keyring" >/dev/null
done

monmaptool --create --fsid "$fsid" \
    --addv a "[v2:127.0.0.1:$port,v1:127.0.0.1:$((port + 1))]" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" -i a --mkfs --monmap "$dir/monmap" --keyring "$seed"
rm -f "$seed"
cp "$dir/keys/mon..keyring" "$dir/mon.a/keyring"
ceph-mon -c "$conf" -i a
ceph-mgr -c "$conf" -i x
osd_uuid=$(uuidgen)
[[ $(ceph_ osd new "$osd_uuid" 0) == 0 ]]
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" \
    --key "$(ceph-authtool -p -n osd.0 "$dir/keys/osd.0.keyring")" >"$dir/log/osd-mkfs.out" 2>&1
ceph-osd -c "$conf" -i 0
ceph-mds -c "$conf" -i a
say "daemons started"

deadline=$(( $(date +%s) + timeout ))
until_ok() { # what, then a command that succeeds once it holds
    local what=$1
    shift
    until "$@" >/dev/null 2>&1; do
        if (( $(date +%s) > deadline )); then
            echo "test-ceph: gave up waiting for $what" >&2
            exit 1
        fi
        sleep 0.5
    done
    say "$what"
}
json_true() { # a python expression over the JSON `d` of a ceph command
    local expr=$1
    shift
    ceph_ "$@" --format json | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if ($expr) else 1)"
}
until_ok "osd up" json_true 'd["osds"] and d["osds"][0]["up"] == 1' osd dump
until_ok "mgr available" json_true 'd["available"]' mgr dump

ceph_ fs volume create cephfs >/dev/null
ceph_ fs set cephfs standby_count_wanted 0 >/dev/null
ceph_ osd pool create rbd 8 >/dev/null
ceph_ osd pool application enable rbd rbd >/dev/null
rbd -c "$conf" pool init rbd
until_ok "mds active" json_true \
    'any(i["state"] == "up:active" for i in d["mdsmap"]["info"].values())' fs get cephfs
until_ok "placement groups clean" json_true \
    'all(s["name"] == "active+clean" for s in d.get("pg_summary", d)["num_pg_by_state"])' pg stat
until_ok "volumes module answers" ceph_ fs subvolumegroup ls cephfs
echo "export CEPH_CONF=$conf" | tee "$dir/env"
