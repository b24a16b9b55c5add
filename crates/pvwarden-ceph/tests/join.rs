//! The join of the example in testdata/ceph: every classification the storage audit
//! makes, and the clean plan it leads to.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};

use pvwarden_ceph::clean::{self, Options, Removal};
use pvwarden_ceph::inventory::CephInventory;
use pvwarden_ceph::join::{Found, ObjectKind, Reach, StorageReport, Use};
use pvwarden_domain::driver::Backend;
use pvwarden_domain::inventory::Inventory;

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/ceph")
        .join(file)
}

fn pvs() -> Inventory {
    let mut inventory = Inventory::new();
    let reader = pvwarden_manifest::Reader::new();
    reader.read_paths(&[example("pvs.yaml")], &mut |item| {
        inventory.add(item.unwrap()).unwrap();
    });
    inventory
}

fn joined() -> StorageReport {
    joined_with(|_| {})
}

/// The join of the example inventory after `change`.
fn joined_with(change: impl FnOnce(&mut CephInventory)) -> StorageReport {
    let mut ceph = CephInventory::read(&example("inventory.json")).unwrap();
    change(&mut ceph);
    let now = "2026-12-04T12:00:00Z".parse().unwrap();
    pvwarden_ceph::join(&ceph, pvs().pvs(), now)
}

/// The state of the object whose name ends with `suffix`.
fn state(report: &StorageReport, suffix: &str) -> Use {
    let matching: Vec<_> = report
        .objects
        .iter()
        .filter(|o| o.name.ends_with(suffix))
        .collect();
    assert_eq!(matching.len(), 1, "one object ends with {suffix}");
    matching[0].state
}

#[test]
fn a_dynamic_volume_is_followed_through_the_journal() {
    let report = joined();
    assert_eq!(
        state(&report, "aaaaaaaa-0000-4000-8000-000000000001"),
        Use::Dynamic
    );
    assert_eq!(
        state(&report, "11111111-0000-4000-8000-000000000007"),
        Use::Dynamic
    );
}

#[test]
fn a_statically_shared_subvolume_is_shared_and_never_stale() {
    let report = joined();
    // A dynamic PV and a static copy of its path.
    let copied = report
        .objects
        .iter()
        .find(|o| o.name.ends_with("cccccccc-0000-4000-8000-000000000003"))
        .unwrap();
    assert_eq!(copied.state, Use::Shared);
    let reaches: Vec<Reach> = copied.pvs.iter().map(|p| p.reach).collect();
    assert_eq!(reaches, vec![Reach::Dynamic, Reach::Static]);
    // Two static PVs of one hand-made subvolume.
    assert_eq!(state(&report, "media"), Use::Shared);
}

#[test]
fn a_static_image_is_in_use_static() {
    assert_eq!(state(&joined(), "legacy-import"), Use::Static);
}

#[test]
fn storage_whose_pv_is_gone_is_stale_with_its_size_and_age() {
    let report = joined();
    let stale: Vec<_> = report.in_state(Use::Stale).collect();
    let names: Vec<&str> = stale.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(
        names,
        vec![
            "csi-vol-bbbbbbbb-0000-4000-8000-000000000002",
            "csi-vol-eeeeeeee-0000-4000-8000-000000000005",
            "csi-vol-22222222-0000-4000-8000-000000000008",
        ]
    );
    let subvolume = stale[0];
    assert_eq!(subvolume.size, Some(5 << 30));
    assert_eq!(subvolume.age.as_deref(), Some("30 days"));
    assert_eq!(
        subvolume.journal.as_ref().map(|j| j.request_name.as_str()),
        Some("pvc-bbbbbbbb-0000-4000-8000-000000000002")
    );
}

#[test]
fn storage_ceph_csi_did_not_make_is_left_unreferenced() {
    let report = joined();
    assert_eq!(state(&report, "scratch"), Use::Unreferenced);
    assert_eq!(state(&report, "vm-disk-7"), Use::Unreferenced);
    assert_eq!(
        state(&report, "33333333-0000-4000-8000-000000000009"),
        Use::Snapshot
    );
}

#[test]
fn journal_entries_without_storage_are_listed() {
    let report = joined();
    let entries: Vec<_> = report
        .objects
        .iter()
        .filter(|o| o.kind == ObjectKind::JournalEntry)
        .map(|o| (o.name.as_str(), o.state))
        .collect();
    assert_eq!(
        entries,
        vec![
            (
                "pvc-dddddddd-0000-4000-8000-000000000004",
                Use::JournalWithoutStorage
            ),
            (
                "pvc-44444444-0000-4000-8000-000000000010",
                Use::JournalWithoutStorage
            ),
        ]
    );
}

#[test]
fn pvs_whose_storage_is_missing_are_told_apart() {
    let report = joined();
    let inventory = pvs();
    let by_label = |label: &str| {
        let pv = inventory
            .pvs()
            .iter()
            .find(|pv| pv.name == label || pv.name.ends_with(label))
            .unwrap();
        report
            .volumes
            .iter()
            .find(|v| v.pv == pv.name)
            .unwrap()
            .clone()
    };
    assert_eq!(by_label("fs-static-missing").found, Found::Missing);
    // PV names of dynamic volumes are pvc-<claim uid>; the fixture numbers them.
    assert_eq!(by_label("000000000007").found, Found::JournalMissing);
    assert_eq!(by_label("000000000008").found, Found::Missing);
    assert_eq!(by_label("000000000011").found, Found::Missing);
    assert_eq!(by_label("000000000012").found, Found::PoolMissing);
    assert_eq!(by_label("rbd-static").found, Found::Present);
    assert_eq!(by_label("media-a").found, Found::Present);
}

#[test]
fn backend_facts_say_what_ceph_csi_will_find() {
    let report = joined();
    let facts = report.storage_facts();
    let journal_missing = facts
        .get("pvc-0c1a1000-0000-4000-8000-000000000007")
        .unwrap();
    assert!(matches!(journal_missing, Backend::Gone(why) if why.contains("answers OK")));
    let pool_missing = facts
        .get("pvc-0c1a1000-0000-4000-8000-000000000012")
        .unwrap();
    assert!(matches!(pool_missing, Backend::PoolMissing(_)));
    let present = facts
        .get("pvc-0c1a1000-0000-4000-8000-000000000001")
        .unwrap();
    assert!(matches!(present, Backend::Found(_)));
}

#[test]
fn the_clean_plan_takes_exactly_the_stale_objects() {
    let report = joined();
    let plan = clean::plan(&report, Options::default());
    let planned: Vec<(Removal, &str)> = plan
        .actions
        .iter()
        .map(|a| (a.removal, a.name.as_str()))
        .collect();
    assert_eq!(
        planned,
        vec![
            (
                Removal::Subvolume,
                "csi-vol-bbbbbbbb-0000-4000-8000-000000000002"
            ),
            (
                Removal::ImageToTrash,
                "csi-vol-22222222-0000-4000-8000-000000000008"
            ),
        ]
    );
    let refused: Vec<&str> = plan.refused.iter().map(|r| r.object.as_str()).collect();
    assert_eq!(
        refused,
        vec![
            "myfs/csi/csi-vol-eeeeeeee-0000-4000-8000-000000000005",
            "myfs journal/pvc-dddddddd-0000-4000-8000-000000000004",
            "replicapool/pvc-44444444-0000-4000-8000-000000000010",
        ]
    );
    assert!(plan.refused[0].why.contains("snapshot"));
    assert!(plan.refused[1].why.contains("PV"));
    assert!(plan.actions[1].describe().contains("RBD trash"));
}

#[test]
fn asking_for_it_takes_snapshots_and_purges_images() {
    let report = joined();
    let options = Options {
        purge: true,
        with_snapshots: true,
    };
    let plan = clean::plan(&report, options);
    assert_eq!(plan.actions.len(), 3);
    assert!(plan
        .actions
        .iter()
        .any(|a| a.removal == Removal::ImagePurge));
    assert!(plan.actions[1].describe().contains("csi-snap-nightly"));
    assert_ne!(plan.digest, clean::plan(&report, Options::default()).digest);
    assert_eq!(plan.digest, clean::plan(&report, options).digest);
}

#[test]
fn a_dump_of_another_version_is_refused_with_its_name() {
    let err = CephInventory::from_json(
        "old.json",
        r#"{"version": 9, "fsid": "x",
        "taken": "2026-01-01T00:00:00Z"}"#,
    )
    .unwrap_err();
    assert!(err.to_string().contains("old.json"));
    let err = CephInventory::from_json("bad.json", r#"{"version": 1, "fsid": 3}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("bad.json: not a Ceph inventory dump: at fsid"),
        "{err}"
    );
}

#[test]
fn a_cluster_id_no_pv_names_makes_nothing_stale_and_says_which_ids_the_pvs_name() {
    let report = joined_with(|ceph| ceph.cluster_ids = vec!["rook-ceph-typo".into()]);
    assert!(report.volumes.is_empty());
    let why = report.unmatched.as_deref().unwrap();
    assert!(why.contains("rook-ceph-typo"), "{why}");
    assert!(why.contains("the PVs name cluster id rook-ceph"), "{why}");
    assert_eq!(report.in_state(Use::Stale).count(), 0);
    assert_eq!(report.in_state(Use::JournalWithoutStorage).count(), 0);
    assert_eq!(
        state(&report, "bbbbbbbb-0000-4000-8000-000000000002"),
        Use::Unknown
    );
    let plan = clean::plan(&report, Options::default());
    assert!(plan.actions.is_empty(), "{:?}", plan.actions);
    let findings = pvwarden_ceph::report::findings(&report, &|_| None);
    assert!(findings
        .iter()
        .any(|f| f.finding.rule == "ceph-no-pv-of-cluster"));
    assert!(joined().unmatched.is_none());
}

#[test]
fn storage_another_ceph_csi_instance_reserved_is_never_stale() {
    let report = joined_with(|ceph| {
        for entry in &mut ceph.filesystems[0].journal {
            if entry.uuid == "bbbbbbbb-0000-4000-8000-000000000002" {
                entry.instance = "other-k8s".into();
            }
        }
    });
    let name = "csi-vol-bbbbbbbb-0000-4000-8000-000000000002";
    assert_eq!(state(&report, name), Use::OtherInstance);
    let plan = clean::plan(&report, Options::default());
    assert!(plan.actions.iter().all(|a| a.name != name));
    let findings = pvwarden_ceph::report::findings(&report, &|_| None);
    assert!(findings
        .iter()
        .any(|f| f.finding.rule == "ceph-other-instance" && f.object.ends_with(name)));
}

#[test]
fn a_purge_plan_says_an_image_with_snapshots_goes_to_the_trash() {
    let report = joined_with(|ceph| {
        for image in &mut ceph.rbd_pools[0].namespaces[0].images {
            if image.name == "csi-vol-22222222-0000-4000-8000-000000000008" {
                image.snapshots = vec!["before-upgrade".into()];
            }
        }
    });
    let options = Options {
        purge: true,
        with_snapshots: true,
    };
    let plan = clean::plan(&report, options);
    let image = plan
        .actions
        .iter()
        .find(|a| a.name == "csi-vol-22222222-0000-4000-8000-000000000008")
        .unwrap();
    assert_eq!(image.removal, Removal::ImageToTrash);
    assert!(
        image.describe().contains("RBD trash"),
        "{}",
        image.describe()
    );
}

/// The example PVs and one static CephFS PV whose `rootPath` is `root_path`.
fn joined_with_static_root(root_path: &str) -> StorageReport {
    let mut text = std::fs::read_to_string(example("pvs.yaml")).unwrap();
    text.push_str(&format!(
        "---
apiVersion: v1
kind: PersistentVolume
metadata:
  name: whole-tree
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  csi:
    driver: rook-ceph.cephfs.csi.ceph.com
    volumeHandle: whole-tree
    volumeAttributes:
      clusterID: \"rook-ceph\"
      fsName: \"myfs\"
      staticVolume: \"true\"
      rootPath: \"{root_path}\"
"
    ));
    let file = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("pvs-root{}.yaml", root_path.replace('/', "-")));
    std::fs::write(&file, text).unwrap();
    let mut inventory = Inventory::new();
    pvwarden_manifest::Reader::new().read_paths(&[file], &mut |item| {
        inventory.add(item.unwrap()).unwrap();
    });
    let ceph = CephInventory::read(&example("inventory.json")).unwrap();
    pvwarden_ceph::join(
        &ceph,
        inventory.pvs(),
        "2026-12-04T12:00:00Z".parse().unwrap(),
    )
}

#[test]
fn a_static_root_path_above_subvolumes_uses_them_all_and_is_present() {
    for root in ["/volumes/csi", "/"] {
        let report = joined_with_static_root(root);
        let stale = "csi-vol-bbbbbbbb-0000-4000-8000-000000000002";
        assert_eq!(state(&report, stale), Use::Static, "rootPath {root}");
        let subvolume = report.objects.iter().find(|o| o.name == stale).unwrap();
        assert_eq!(subvolume.pvs[0].name, "whole-tree");
        let volume = report
            .volumes
            .iter()
            .find(|v| v.pv == "whole-tree")
            .unwrap();
        assert_eq!(volume.found, Found::Present, "rootPath {root}");
        let plan = clean::plan(&report, Options::default());
        assert!(
            plan.actions.iter().all(|a| a.removal != Removal::Subvolume),
            "rootPath {root}: {:?}",
            plan.actions
        );
    }
    let report = joined_with_static_root("/volumes/shared");
    assert_eq!(
        state(&report, "bbbbbbbb-0000-4000-8000-000000000002"),
        Use::Stale,
        "a directory above other subvolumes covers only those"
    );
}

#[test]
fn a_volume_no_reservation_read_names_is_never_planned() {
    let report = joined_with(|ceph| {
        ceph.filesystems[0]
            .journal
            .retain(|e| e.uuid != "bbbbbbbb-0000-4000-8000-000000000002");
    });
    let name = "csi-vol-bbbbbbbb-0000-4000-8000-000000000002";
    let plan = clean::plan(&report, Options::default());
    assert!(plan.actions.iter().all(|a| a.name != name));
    let refusal = plan
        .refused
        .iter()
        .find(|r| r.object.ends_with(name))
        .unwrap();
    assert!(refusal.why.contains("another"), "{}", refusal.why);
}
