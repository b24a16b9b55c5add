//! `pvwarden ceph` against a real Ceph (scripts/test-ceph/start.sh), when
//! `PVWARDEN_TEST_CEPH_CONF` names its ceph.conf; without it these tests pass without
//! checking anything, and say so on standard error.
//!
//! Each run makes its own volumes the way ceph-csi does (fresh uuids), so runs do not
//! disturb each other; assertions are about this run's objects only, since the cluster may
//! hold others (the benchmark's, an earlier run's).

#![cfg(feature = "ceph")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::Command;

use pvwarden_ceph::clean::{self, Options};
use pvwarden_ceph::inventory::CephInventory;
use pvwarden_ceph::join::Use;
use pvwarden_ceph::rados::fixture::{Fixture, Made};
use pvwarden_ceph::rados::{self, Connect, ReadOptions};
use serde_json::Value;

const FS: &str = "cephfs";
const META: &str = "cephfs.cephfs.meta";
const POOL: &str = "rbd";
const CLUSTER: &str = "live-test";

fn conf() -> Option<PathBuf> {
    match std::env::var_os("PVWARDEN_TEST_CEPH_CONF") {
        Some(conf) => Some(conf.into()),
        None => {
            eprintln!("PVWARDEN_TEST_CEPH_CONF is not set: the live Ceph tests check nothing");
            None
        }
    }
}

fn connect(conf: &Path) -> Connect {
    Connect {
        conf: Some(conf.to_owned()),
        id: "admin".into(),
        ..Connect::default()
    }
}

/// A ceph-csi handle: version 1, the cluster id, the pool or filesystem id, the uuid.
fn handle(location: i64, uuid: &str) -> String {
    format!(
        "0001-{:04x}-{CLUSTER}-{location:016x}-{uuid}",
        CLUSTER.len()
    )
}

fn pv(name: &str, driver: &str, handle: &str, policy: &str, attributes: &[(&str, &str)]) -> String {
    let dynamic = !attributes.iter().any(|(k, _)| *k == "staticVolume");
    let annotations = if dynamic {
        format!(
            "  annotations:\n    pv.kubernetes.io/provisioned-by: {driver}\n    \
             volume.kubernetes.io/provisioner-deletion-secret-name: s\n    \
             volume.kubernetes.io/provisioner-deletion-secret-namespace: ceph\n"
        )
    } else {
        String::new()
    };
    let attributes: String = std::iter::once(("clusterID", CLUSTER))
        .chain(attributes.iter().copied())
        .map(|(k, v)| format!("      {k}: {v:?}\n"))
        .collect();
    format!(
        "---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\n{annotations}\
         spec:\n  capacity:\n    storage: 1Gi\n  accessModes: [ReadWriteMany]\n  \
         persistentVolumeReclaimPolicy: {policy}\n  csi:\n    driver: {driver}\n    \
         volumeHandle: {handle}\n    volumeAttributes:\n{attributes}status:\n  phase: Bound\n"
    )
}

const CEPHFS: &str = "cephfs.csi.ceph.com";
const RBD: &str = "rbd.csi.ceph.com";

/// This run's volumes and the PVs that point at them.
struct Setup {
    dir: PathBuf,
    pvs: PathBuf,
    fs_dynamic: Made,
    fs_stale: Made,
    fs_shared: Made,
    fs_snapshotted: Made,
    static_group: String,
    rbd_dynamic: Made,
    rbd_stale: Made,
    rbd_static: String,
    orphan_uuid: String,
}

fn setup(conf: &Path) -> Setup {
    let fixture = Fixture::connect(&connect(conf)).unwrap();
    let uuids: Vec<String> = (0..4).map(|_| Fixture::uuid()).collect();
    let mut fs = fixture
        .cephfs_volumes(FS, META, &uuids, 4)
        .unwrap()
        .into_iter();
    let (fs_dynamic, fs_stale, fs_shared, fs_snapshotted) = (
        fs.next().unwrap(),
        fs.next().unwrap(),
        fs.next().unwrap(),
        fs.next().unwrap(),
    );
    fixture
        .snapshot(FS, "csi", &fs_snapshotted.name, "before-upgrade")
        .unwrap();
    let static_group = format!("shared-{}", &Fixture::uuid()[..8]);
    fixture.group(FS, &static_group).unwrap();
    let media_path = fixture.subvolume(FS, &static_group, "media").unwrap();
    let uuids: Vec<String> = (0..2).map(|_| Fixture::uuid()).collect();
    let mut rbd = fixture.rbd_volumes(POOL, &uuids, 2).unwrap().into_iter();
    let (rbd_dynamic, rbd_stale) = (rbd.next().unwrap(), rbd.next().unwrap());
    let rbd_static = format!("import-{}", &Fixture::uuid()[..8]);
    fixture.image(POOL, &rbd_static).unwrap();
    // A reservation whose image was never made (or was removed behind ceph-csi's back).
    let orphan_uuid = Fixture::uuid();
    let pool = fixture.pool_id(POOL).unwrap();
    let orphan_name = format!("csi-vol-{orphan_uuid}");
    fixture
        .journal(
            pool,
            "",
            &format!("pvc-{orphan_uuid}"),
            &orphan_uuid,
            &orphan_name,
            Some(""),
        )
        .unwrap();

    let fscid = fixture.filesystem_id(FS).unwrap();
    let run = &fs_dynamic.uuid[..8];
    let shared_path = fs_shared.path.clone().unwrap();
    let dynamic_path = fs_dynamic.path.clone().unwrap();
    let manifests = [
        pv(
            &format!("dyn-{run}"),
            CEPHFS,
            &handle(fscid, &fs_dynamic.uuid),
            "Delete",
            &[
                ("fsName", FS),
                ("subvolumeName", &fs_dynamic.name),
                ("subvolumePath", &dynamic_path),
            ],
        ),
        pv(
            &format!("owner-{run}"),
            CEPHFS,
            &handle(fscid, &fs_shared.uuid),
            "Delete",
            &[
                ("fsName", FS),
                ("subvolumeName", &fs_shared.name),
                ("subvolumePath", &shared_path),
            ],
        ),
        pv(
            &format!("copy-{run}"),
            CEPHFS,
            &format!("copy-{run}"),
            "Retain",
            &[
                ("fsName", FS),
                ("staticVolume", "true"),
                ("rootPath", &shared_path),
            ],
        ),
        pv(
            &format!("media-a-{run}"),
            CEPHFS,
            &format!("media-a-{run}"),
            "Retain",
            &[("staticVolume", "true"), ("rootPath", &media_path)],
        ),
        pv(
            &format!("media-b-{run}"),
            CEPHFS,
            &format!("media-b-{run}"),
            "Retain",
            &[("staticVolume", "true"), ("rootPath", &media_path)],
        ),
        pv(
            &format!("lost-{run}"),
            CEPHFS,
            &format!("lost-{run}"),
            "Retain",
            &[
                ("fsName", FS),
                ("staticVolume", "true"),
                ("rootPath", &format!("/volumes/{static_group}/gone/0")),
            ],
        ),
        pv(
            &format!("rbd-{run}"),
            RBD,
            &handle(pool, &rbd_dynamic.uuid),
            "Delete",
            &[("pool", POOL), ("imageName", &rbd_dynamic.name)],
        ),
        pv(
            &format!("import-{run}"),
            RBD,
            &rbd_static,
            "Retain",
            &[("pool", POOL), ("staticVolume", "true")],
        ),
        pv(
            &format!("orphan-{run}"),
            RBD,
            &handle(pool, &orphan_uuid),
            "Delete",
            &[("pool", POOL), ("imageName", &orphan_name)],
        ),
    ];
    let dir = std::env::temp_dir().join(format!("pvwarden-ceph-live-{run}"));
    std::fs::create_dir_all(&dir).unwrap();
    let pvs = dir.join("pvs.yaml");
    std::fs::write(&pvs, manifests.concat()).unwrap();
    Setup {
        dir,
        pvs,
        fs_dynamic,
        fs_stale,
        fs_shared,
        fs_snapshotted,
        static_group,
        rbd_dynamic,
        rbd_stale,
        rbd_static,
        orphan_uuid,
    }
}

fn object<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["storage"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == name)
        .unwrap_or_else(|| panic!("no storage row named {name}"))
}

fn storage_of<'a>(report: &'a Value, pv: &str) -> &'a Value {
    report["storage"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["pv"] == pv)
        .unwrap_or_else(|| panic!("no storage row for PV {pv}"))
}

#[test]
fn every_classification_and_a_clean_that_removes_only_the_stale() {
    let Some(conf) = conf() else { return };
    let s = setup(&conf);
    let run = &s.fs_dynamic.uuid[..8];

    // The audit, as a user runs it from the README.
    let out = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args([
            "ceph",
            "audit",
            "-o",
            "json",
            "--cluster-id",
            CLUSTER,
            "--ceph-conf",
        ])
        .arg(&conf)
        .arg(&s.pvs)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        object(&report, &s.fs_dynamic.name)["state"],
        "in-use-dynamic"
    );
    assert_eq!(object(&report, &s.fs_shared.name)["state"], "shared");
    assert_eq!(
        object(&report, &s.rbd_dynamic.name)["state"],
        "in-use-dynamic"
    );
    assert_eq!(object(&report, &s.rbd_static)["state"], "in-use-static");
    let stale = object(&report, &s.fs_stale.name);
    assert_eq!(stale["state"], "stale");
    assert!(
        stale["size"].is_u64(),
        "a stale subvolume is reported with its size"
    );
    assert_eq!(stale["journal"]["uuid"], s.fs_stale.uuid.as_str());
    assert_eq!(object(&report, &s.rbd_stale.name)["state"], "stale");

    // A wrong --confirm is refused without giving away the digest it should have been.
    let clean = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pvwarden"))
            .args(["ceph", "clean", "--cluster-id", CLUSTER])
            .args(extra)
            .arg("--ceph-conf")
            .arg(&conf)
            .arg(&s.pvs)
            .output()
            .unwrap()
    };
    let plan_text = String::from_utf8(clean(&["--json"]).stdout).unwrap();
    let digest = serde_json::from_str::<Value>(&plan_text).unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let wrong = clean(&["--apply", "--confirm", "0000000000000000"]);
    let stderr = String::from_utf8_lossy(&wrong.stderr);
    assert_ne!(wrong.status.code(), Some(0));
    assert!(stderr.contains("not the one confirmed"), "{stderr}");
    assert!(!stderr.contains(&digest), "{stderr}");
    let snapshotted = object(&report, &s.fs_snapshotted.name);
    assert_eq!(snapshotted["snapshots"][0], "before-upgrade");
    let media = report["storage"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["name"] == "media" && o["address"]["group"] == s.static_group.as_str())
        .unwrap();
    assert_eq!(media["state"], "shared");
    assert_eq!(
        storage_of(&report, &format!("lost-{run}"))["found"],
        "missing"
    );
    let orphan = storage_of(&report, &format!("orphan-{run}"));
    assert_eq!(orphan["found"], "missing");
    assert_eq!(orphan["on_delete"], "deleted");
    assert_eq!(
        object(&report, &format!("pvc-{}", s.orphan_uuid))["state"],
        "journal-without-storage"
    );

    // The plan takes this run's stale objects, refuses the snapshotted one, and nothing in use.
    let read = ReadOptions {
        journal_instances: vec!["default".into()],
        concurrency: 8,
    };
    let ceph: CephInventory = rados::read(&connect(&conf), &read).unwrap();
    let mut pvs = pvwarden_domain::inventory::Inventory::new();
    pvwarden_manifest::Reader::new().read_paths(std::slice::from_ref(&s.pvs), &mut |item| {
        pvs.add(item.unwrap()).unwrap();
    });
    let mut ceph_run = ceph.clone();
    ceph_run.cluster_ids = vec![CLUSTER.into()];
    let joined = pvwarden_ceph::join(&ceph_run, pvs.pvs(), jiff::Timestamp::now());
    let plan = clean::plan(&joined, Options::default());
    let ours = [s.fs_stale.name.as_str(), s.rbd_stale.name.as_str()];
    let in_use = [
        s.fs_dynamic.name.as_str(),
        s.fs_shared.name.as_str(),
        s.rbd_dynamic.name.as_str(),
        s.rbd_static.as_str(),
        "media",
    ];
    let planned: Vec<&str> = plan.actions.iter().map(|a| a.name.as_str()).collect();
    for name in ours {
        assert!(planned.contains(&name), "{name} is planned");
    }
    for name in in_use {
        assert!(
            !planned.contains(&name),
            "{name} is in use and never planned"
        );
    }
    assert!(!planned.contains(&s.fs_snapshotted.name.as_str()));

    // Remove this run's stale objects, each re-checked first, and read again.
    let remover = rados::remove(&connect(&conf)).unwrap();
    for action in plan
        .actions
        .iter()
        .filter(|a| ours.contains(&a.name.as_str()))
    {
        remover.recheck(action).unwrap();
        let removed = remover.remove(action).unwrap();
        assert!(
            removed.journal,
            "the journal entry goes with {}",
            action.name
        );
    }
    let after = rados::read(&connect(&conf), &read).unwrap();
    let names: Vec<String> = after
        .filesystems
        .iter()
        .flat_map(|fs| {
            fs.groups
                .iter()
                .flat_map(|g| g.subvolumes.iter().map(|s| s.name.clone()))
        })
        .chain(after.rbd_pools.iter().flat_map(|p| {
            p.namespaces
                .iter()
                .flat_map(|ns| ns.images.iter().map(|i| i.name.clone()))
        }))
        .collect();
    for name in ours {
        assert!(!names.iter().any(|n| n == name), "{name} was removed");
    }
    for name in in_use {
        assert!(names.iter().any(|n| n == name), "{name} is still there");
    }
    let journal_uuids: Vec<&str> = after
        .filesystems
        .iter()
        .flat_map(|fs| fs.journal.iter())
        .chain(
            after
                .rbd_pools
                .iter()
                .flat_map(|p| p.namespaces.iter().flat_map(|n| n.journal.iter())),
        )
        .map(|e| e.uuid.as_str())
        .collect();
    assert!(!journal_uuids.contains(&s.fs_stale.uuid.as_str()));
    assert!(!journal_uuids.contains(&s.rbd_stale.uuid.as_str()));
    assert!(journal_uuids.contains(&s.fs_dynamic.uuid.as_str()));
    // A second removal of the same object is refused by the re-check.
    let again = plan
        .actions
        .iter()
        .find(|a| a.name == s.fs_stale.name)
        .unwrap();
    assert!(remover.recheck(again).is_err());
    let _ = joined.in_state(Use::Stale).count();
    std::fs::remove_dir_all(&s.dir).unwrap();
}

/// The admin key and the msgr1 monitor address of the test Ceph (start.sh's layout).
fn admin_key_and_monitor(conf: &Path) -> (String, String) {
    let dir = conf.parent().unwrap();
    let keyring = std::fs::read_to_string(dir.join("keys/client.admin.keyring")).unwrap();
    let key = keyring
        .lines()
        .find_map(|l| l.trim().strip_prefix("key = "))
        .unwrap()
        .to_owned();
    let text = std::fs::read_to_string(conf).unwrap();
    let hosts = text
        .lines()
        .find_map(|l| l.strip_prefix("mon host = "))
        .unwrap();
    let v1 = hosts.split("v1:").nth(1).unwrap().trim_end_matches(']');
    (key, v1.to_owned())
}

#[test]
fn rook_records_replace_a_ceph_conf_and_the_key_is_never_shown() {
    use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
    use k8s_openapi::ByteString;
    use kube::api::{Api, PostParams};
    use pvwarden_testkit::server::{Config, Server};

    let Some(conf) = conf() else { return };
    let (key, monitor) = admin_key_and_monitor(&conf);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(Server::start(Config::default())).unwrap();
    let dir = std::env::temp_dir().join(format!("pvwarden-rook-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    server.write_kubeconfig(&kubeconfig).unwrap();
    runtime.block_on(async {
        let options = pvwarden_kube::Options {
            kubeconfig: Some(kubeconfig.clone()),
            context: None,
        };
        let cluster = pvwarden_kube::Cluster::connect(&options).await.unwrap();
        let client = cluster.client().clone();
        let namespace: Namespace =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "rook-ceph"}})).unwrap();
        Api::<Namespace>::all(client.clone())
            .create(&PostParams::default(), &namespace)
            .await
            .unwrap();
        let endpoints: ConfigMap = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "rook-ceph-mon-endpoints", "namespace": "rook-ceph"},
            "data": {"data": format!("a={monitor}"), "mapping": "{}"},
        }))
        .unwrap();
        Api::<ConfigMap>::namespaced(client.clone(), "rook-ceph")
            .create(&PostParams::default(), &endpoints)
            .await
            .unwrap();
        let mut secret: Secret = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "rook-ceph-mon", "namespace": "rook-ceph"},
        }))
        .unwrap();
        secret.data = Some(
            [
                (
                    "ceph-username".to_owned(),
                    ByteString(b"client.admin".to_vec()),
                ),
                (
                    "ceph-secret".to_owned(),
                    ByteString(key.clone().into_bytes()),
                ),
            ]
            .into(),
        );
        Api::<Secret>::namespaced(client, "rook-ceph")
            .create(&PostParams::default(), &secret)
            .await
            .unwrap();
    });

    let out = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args([
            "ceph",
            "inventory",
            "--rook-namespace",
            "rook-ceph",
            "--log-level",
            "debug",
        ])
        .arg("--kubeconfig")
        .arg(&kubeconfig)
        .env_remove("CEPH_CONF")
        .env_remove("PVWARDEN_CONTEXT")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let inventory: Value = serde_json::from_str(&stdout).unwrap();
    let fsid = std::fs::read_to_string(&conf)
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("fsid = ").map(str::to_owned))
        .unwrap();
    assert_eq!(inventory["fsid"], fsid.as_str());
    assert!(
        !stdout.contains(&key) && !stderr.contains(&key),
        "the key was shown"
    );
    runtime.block_on(server.shutdown());
    std::fs::remove_dir_all(&dir).unwrap();
}
