//! The deletion model, version by version, on objects built in the test.
//!
//! Each test builds a tiny cluster, audits one PV and asserts what a user
//! relies on: where the next deletion leads, whether it is stuck now, and
//! which finalizers hold it.

use jiff::Timestamp;
use pvwarden_domain::audit::Auditor;
use pvwarden_domain::evidence::Settings;
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::object::{Located, Object, Origin};
use pvwarden_domain::verdict::{OnDelete, VolumeVerdict};
use pvwarden_domain::version::{Assumed, Assumptions, Basis, Version};
use serde_json::{json, Value};

const RBD: &str = "rbd.csi.ceph.com";
const CEPHFS: &str = "cephfs.csi.ceph.com";
const FINALIZER: &str = "external-provisioner.volume.kubernetes.io/finalizer";
const DECODES: &str = "0001-0004-ceph-0000000000000003-0b7e4d0f-9a51-4f0e-8b2c-4d61aa00bb11";

fn now() -> Timestamp {
    "2026-12-04T12:00:00Z".parse().expect("valid time")
}

fn object(value: Value) -> Object {
    match value["kind"].as_str() {
        Some("PersistentVolume") => {
            Object::PersistentVolume(Box::new(serde_json::from_value(value).expect("pv")))
        }
        Some("PersistentVolumeClaim") => {
            Object::PersistentVolumeClaim(Box::new(serde_json::from_value(value).expect("pvc")))
        }
        Some("StorageClass") => {
            Object::StorageClass(Box::new(serde_json::from_value(value).expect("sc")))
        }
        Some("VolumeAttachment") => {
            Object::VolumeAttachment(Box::new(serde_json::from_value(value).expect("va")))
        }
        Some("Event") => Object::Event(Box::new(serde_json::from_value(value).expect("event"))),
        other => panic!("unexpected kind {other:?}"),
    }
}

fn inventory(objects: Vec<Value>) -> Inventory {
    let mut inventory = Inventory::new();
    for (line, value) in objects.into_iter().enumerate() {
        let origin = Origin::new("test.yaml", u32::try_from(line + 1).expect("small"));
        inventory
            .add(Located {
                object: object(value),
                origin,
            })
            .expect("valid object");
    }
    inventory
}

fn class(provisioner: &str) -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "sc"}, "provisioner": provisioner,
        "parameters": {
            "csi.storage.k8s.io/provisioner-secret-name": "secret",
            "csi.storage.k8s.io/provisioner-secret-namespace": "ceph"
        }
    })
}

struct Pv {
    driver: &'static str,
    handle: &'static str,
    policy: &'static str,
    phase: &'static str,
    dynamic: bool,
    finalizers: Vec<&'static str>,
    deletion: Option<&'static str>,
}

impl Pv {
    fn new(driver: &'static str, handle: &'static str, policy: &'static str) -> Pv {
        Pv {
            driver,
            handle,
            policy,
            phase: "Bound",
            dynamic: false,
            finalizers: vec!["kubernetes.io/pv-protection"],
            deletion: None,
        }
    }

    fn json(&self) -> Value {
        let name = if self.dynamic {
            "pvc-11111111-2222-4333-8444-555555555555"
        } else {
            "vol"
        };
        let mut meta = json!({"name": name, "finalizers": self.finalizers});
        if self.dynamic {
            meta["annotations"] = json!({"pv.kubernetes.io/provisioned-by": self.driver});
        }
        if let Some(t) = self.deletion {
            meta["deletionTimestamp"] = json!(t);
        }
        json!({
            "apiVersion": "v1", "kind": "PersistentVolume", "metadata": meta,
            "spec": {
                "persistentVolumeReclaimPolicy": self.policy,
                "storageClassName": "sc",
                "claimRef": {"namespace": "app", "name": "data",
                             "uid": "11111111-2222-4333-8444-555555555555"},
                "csi": {"driver": self.driver, "volumeHandle": self.handle,
                        "volumeAttributes": {"clusterID": "ceph"}}
            },
            "status": {"phase": self.phase}
        })
    }
}

fn audit(objects: Vec<Value>, tweak: impl FnOnce(&mut Assumptions)) -> VolumeVerdict {
    let inventory = inventory(objects);
    let mut assumptions = Assumptions::default();
    tweak(&mut assumptions);
    let auditor = Auditor::new(&inventory, assumptions, Settings::at(now()));
    auditor.volume(&inventory.pvs()[0])
}

fn flag(v: Version) -> Assumed<Version> {
    Assumed {
        value: v,
        basis: Basis::Flag,
    }
}

#[test]
fn undecodable_static_delete_hangs_behind_provisioner_finalizer() {
    let pv = Pv::new(CEPHFS, "my-share", "Delete");
    let v = audit(vec![pv.json(), class(CEPHFS)], |_| {});
    assert_eq!(v.on_delete, OnDelete::Hangs);
    assert!(!v.stuck);
    assert_eq!(v.blocking_finalizers, vec![FINALIZER]);
    assert!(v
        .findings
        .iter()
        .any(|f| f.rule == "static-delete-never-deletes"));
}

#[test]
fn old_kube_controller_manager_fails_released_static_csi_pv() {
    let mut pv = Pv::new(CEPHFS, "my-share", "Delete");
    pv.phase = "Released";
    pv.finalizers.push(FINALIZER);
    let v = audit(vec![pv.json(), class(CEPHFS)], |a| {
        a.kubernetes = flag(Version::new(1, 30, 0));
    });
    assert!(v.stuck, "Failed with Delete is stuck: {:?}", v.stuck_reason);
    assert!(v
        .stuck_reason
        .as_deref()
        .is_some_and(|r| r.contains("Failed")));
    assert_eq!(v.on_delete, OnDelete::Hangs);
    assert_eq!(v.blocking_finalizers, vec![FINALIZER]);
}

#[test]
fn provisioner_without_finalizer_feature_leaves_no_finalizer() {
    let pv = Pv::new(CEPHFS, "my-share", "Delete");
    let v = audit(vec![pv.json(), class(CEPHFS)], |a| {
        a.provisioner = flag(Version::new(4, 0, 0));
    });
    // The delete call still fails, so the PV stays Released; nothing holds it
    // once someone deletes it, and a static volume's storage is kept.
    assert_eq!(v.on_delete, OnDelete::Hangs);
    assert!(v.blocking_finalizers.is_empty());
}

#[test]
fn provisioner_before_static_ownership_never_deletes_static_pv() {
    let mut pv = Pv::new(RBD, DECODES, "Delete");
    pv.phase = "Released";
    let v = audit(vec![pv.json(), class(RBD)], |a| {
        a.provisioner = flag(Version::new(3, 0, 0));
    });
    assert!(v.owner.is_none());
    assert!(v.stuck);
    assert!(v.findings.iter().any(|f| f.rule == "no-provisioner-owner"));
}

#[test]
fn decodable_static_delete_destroys_storage() {
    let pv = Pv::new(RBD, DECODES, "Delete");
    let v = audit(vec![pv.json(), class(RBD)], |_| {});
    assert_eq!(v.on_delete, OnDelete::Deleted);
    assert!(v
        .findings
        .iter()
        .any(|f| f.rule == "static-delete-destroys-data"));
}

#[test]
fn ceph_csi_2_0_answers_ok_for_undecodable_rbd_ids() {
    let mut pv = Pv::new(RBD, "not-a-ceph-csi-id", "Delete");
    pv.dynamic = true;
    let v = audit(vec![pv.json(), class(RBD)], |a| {
        a.ceph_csi = flag(Version::new(2, 0, 0));
    });
    assert_eq!(v.on_delete, OnDelete::Orphaned, "{}", v.on_delete_reason);
    let v = audit(vec![pv.json(), class(RBD)], |_| {});
    assert_eq!(
        v.on_delete,
        OnDelete::Hangs,
        "current ceph-csi answers Internal"
    );
}

#[test]
fn legacy_rbd_id_is_deleted_by_ceph_csi_2_1_only() {
    let mut pv = Pv::new(
        RBD,
        "csi-rbd-vol-47b24801-eff6-11f1-9988-f98bcd776f73",
        "Delete",
    );
    pv.dynamic = true;
    let v = audit(vec![pv.json(), class(RBD)], |a| {
        a.ceph_csi = flag(Version::new(2, 1, 0));
    });
    assert_eq!(v.on_delete, OnDelete::Deleted);
    let v = audit(vec![pv.json(), class(RBD)], |_| {});
    assert_eq!(v.on_delete, OnDelete::Hangs);
    assert!(v.findings.iter().any(|f| f.rule == "legacy-volume-id"));
}

#[test]
fn missing_pool_is_success_from_ceph_csi_2_1() {
    let mut pv = Pv::new(RBD, DECODES, "Delete");
    pv.dynamic = true;
    pv.phase = "Released";
    let event = json!({
        "apiVersion": "v1", "kind": "Event", "metadata": {"name": "e", "namespace": "default"},
        "involvedObject": {
            "kind": "PersistentVolume",
            "name": "pvc-11111111-2222-4333-8444-555555555555"
        },
        "reason": "VolumeFailedDelete", "type": "Warning", "count": 9,
        "message": "rpc error: code = Internal desc = pool ID (3) not found in Ceph cluster"
    });
    let objects = || vec![pv.json(), class(RBD), event.clone()];
    let v = audit(objects(), |a| a.ceph_csi = flag(Version::new(2, 0, 0)));
    assert!(v.stuck);
    assert_eq!(
        v.on_delete,
        OnDelete::Deleted,
        "the pool took the image with it"
    );
    let v = audit(objects(), |_| {});
    assert!(!v.stuck);
    assert_eq!(v.on_delete, OnDelete::Deleted);
}

#[test]
fn retain_releases_a_terminating_pv_without_touching_storage() {
    let mut pv = Pv::new(CEPHFS, "my-share", "Retain");
    pv.phase = "Released";
    pv.finalizers.push(FINALIZER);
    pv.deletion = Some("2026-12-04T11:59:00Z");
    let v = audit(vec![pv.json(), class(CEPHFS)], |_| {});
    assert!(!v.stuck);
    assert_eq!(v.on_delete, OnDelete::Kept);
    assert!(v.blocking_finalizers.is_empty());
}

#[test]
fn attached_volume_is_not_deleted() {
    let mut pv = Pv::new(RBD, DECODES, "Delete");
    pv.dynamic = true;
    pv.phase = "Released";
    let va = json!({
        "apiVersion": "storage.k8s.io/v1", "kind": "VolumeAttachment", "metadata": {"name": "va"},
        "spec": {"attacher": RBD, "nodeName": "n1",
                 "source": {"persistentVolumeName": "pvc-11111111-2222-4333-8444-555555555555"}},
        "status": {"attached": true, "detachError": {"message": "timeout"}}
    });
    let v = audit(vec![pv.json(), class(RBD), va], |_| {});
    assert!(v.stuck);
    assert!(v
        .stuck_reason
        .as_deref()
        .is_some_and(|r| r.contains("still attached")));
    assert!(v
        .findings
        .iter()
        .any(|f| f.rule == "lingering-volume-attachment"));
}

#[test]
fn overdue_deletion_overrides_a_model_that_expects_success() {
    let mut pv = Pv::new("disk.csi.azure.com", "/subscriptions/x/disks/d", "Delete");
    pv.dynamic = true;
    pv.phase = "Released";
    pv.finalizers = vec![FINALIZER];
    pv.deletion = Some("2026-12-01T00:00:00Z");
    let v = audit(vec![pv.json(), class("disk.csi.azure.com")], |_| {});
    assert!(v.stuck);
    assert!(v.disagreement.is_some());
    assert_eq!(v.blocking_finalizers, vec![FINALIZER]);
    assert!(v.findings.iter().any(|f| f.rule == "evidence-disagrees"));
}
