//! `pvwarden share` against a real Ceph (scripts/test-ceph/start.sh), when
//! `PVWARDEN_TEST_CEPH_CONF` names its ceph.conf; without it these tests pass without
//! checking anything, and say so on standard error.
//!
//! Each test makes its own subvolume the way ceph-csi does (a fresh uuid, the journal
//! entry, the subvolume `csi-vol-<uuid>` in group `csi`), so runs do not disturb each other.

#![cfg(feature = "ceph")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use pvwarden_ceph::rados::fixture::{Fixture, Made};
use pvwarden_ceph::rados::Connect;

const FS: &str = "cephfs";
const META: &str = "cephfs.cephfs.meta";
const CLUSTER: &str = "share-live";

fn conf() -> Option<PathBuf> {
    match std::env::var_os("PVWARDEN_TEST_CEPH_CONF") {
        Some(conf) => Some(conf.into()),
        None => {
            eprintln!("PVWARDEN_TEST_CEPH_CONF is not set: the live share tests check nothing");
            None
        }
    }
}

/// One ceph-csi volume made in the test Ceph, and its handle.
fn volume(conf: &Path) -> (Made, String) {
    let fixture = Fixture::connect(&Connect {
        conf: Some(conf.to_owned()),
        id: "admin".into(),
        ..Connect::default()
    })
    .unwrap();
    let made = fixture
        .cephfs_volumes(FS, META, &[Fixture::uuid()], 1)
        .unwrap()
        .pop()
        .unwrap();
    let fscid = fixture.filesystem_id(FS).unwrap();
    let handle = format!(
        "0001-{:04x}-{CLUSTER}-{fscid:016x}-{}",
        CLUSTER.len(),
        made.uuid
    );
    (made, handle)
}

/// Writes a dynamic CephFS PV with these extra attributes and runs `share` on it.
fn share(conf: &Path, name: &str, handle: &str, attributes: &[(&str, &str)]) -> Output {
    let attributes: String = [("clusterID", CLUSTER), ("fsName", FS)]
        .iter()
        .chain(attributes)
        .map(|(k, v)| format!("      {k}: {v:?}\n"))
        .collect();
    let manifest = format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: {name}\n  annotations:\n    \
         pv.kubernetes.io/provisioned-by: cephfs.csi.ceph.com\nspec:\n  capacity:\n    \
         storage: 1Gi\n  accessModes: [ReadWriteMany]\n  persistentVolumeReclaimPolicy: Retain\n  \
         csi:\n    driver: cephfs.csi.ceph.com\n    volumeHandle: {handle}\n    \
         nodeStageSecretRef: {{name: rook-csi-cephfs-node, namespace: rook-ceph}}\n    \
         volumeAttributes:\n{attributes}status:\n  phase: Bound\n"
    );
    let dir = std::env::temp_dir().join(format!("pvwarden-share-ceph-{name}"));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pv.yaml");
    std::fs::write(&file, manifest).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .arg("share")
        .arg(name)
        .arg(&file)
        .args([
            "--to-namespace",
            "team-b",
            "--claim-name",
            "data",
            "--ceph-conf",
        ])
        .arg(conf)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    out
}

/// The `rootPath` value of the emitted share PV.
fn root_path(stdout: &str) -> String {
    let values: Vec<&str> = stdout
        .lines()
        .filter_map(|l| l.trim().strip_prefix("rootPath:"))
        .map(|v| v.trim().trim_matches(|c| c == '"' || c == '\''))
        .collect();
    assert_eq!(values.len(), 1, "one rootPath in:\n{stdout}");
    values[0].to_owned()
}

#[test]
fn root_path_is_the_subvolume_path_ceph_reports() {
    let Some(conf) = conf() else { return };
    let (made, handle) = volume(&conf);
    let real = made.path.clone().unwrap();
    let name = format!("src-{}", &made.uuid[..8]);
    // ceph-csi before 3.3 recorded no subvolumePath: Ceph alone gives the directory.
    let out = share(&conf, &name, &handle, &[("subvolumeName", &made.name)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(root_path(&stdout), real);
    assert!(
        stdout.contains("is the path Ceph reports for the subvolume"),
        "{stdout}"
    );

    // With the attribute that agrees, the same path, and still said to come from Ceph.
    let out = share(&conf, &name, &handle, &[("subvolumePath", &real)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert_eq!(root_path(&stdout), real);
    assert!(!stdout.contains("not checked against Ceph"), "{stdout}");
}

#[test]
fn a_subvolume_path_attribute_ceph_contradicts_is_refused() {
    let Some(conf) = conf() else { return };
    let (made, handle) = volume(&conf);
    let name = format!("wrong-{}", &made.uuid[..8]);
    let wrong = "/volumes/csi/csi-vol-elsewhere/0";
    let out = share(&conf, &name, &handle, &[("subvolumePath", wrong)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is emitted when refused");
    assert!(
        stderr.contains(wrong) && stderr.contains(made.path.as_deref().unwrap()),
        "{stderr}"
    );
}

#[test]
fn a_volume_ceph_does_not_hold_is_refused() {
    let Some(conf) = conf() else { return };
    let (made, handle) = volume(&conf);
    // Same filesystem, a uuid with no journal entry: ceph-csi would find nothing.
    let gone = handle.replace(&made.uuid, &Fixture::uuid());
    let name = format!("gone-{}", &made.uuid[..8]);
    let out = share(
        &conf,
        &name,
        &gone,
        &[("subvolumePath", "/volumes/csi/x/0")],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("journal-missing"), "{stderr}");
}
