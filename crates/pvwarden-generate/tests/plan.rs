//! The plans of `share`, `unshare` and `static`, checked on objects built here.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use k8s_openapi::api::core::v1::PersistentVolume;
use pvwarden_domain::volid;
use pvwarden_generate::document::Manifest;
use pvwarden_generate::{share, unshare, Error, Existing, Plan, ANN_SOURCE, LABEL_SOURCE};
use serde_json::json;

const HANDLE: &str = "0001-0009-rook-ceph-0000000000000001-3c8e1d52-6f0a-4e27-b9d4-8a2c5e7f1b03";
const PATH: &str = "/volumes/csi/csi-vol-3c8e1d52/7e2b9a14";

fn cephfs_source(policy: &str) -> PersistentVolume {
    serde_json::from_value(json!({
        "metadata": {
            "name": "pvc-1",
            "uid": "u-1",
            "annotations": {"pv.kubernetes.io/provisioned-by": "rook-ceph.cephfs.csi.ceph.com"}
        },
        "spec": {
            "capacity": {"storage": "20Gi"},
            "accessModes": ["ReadWriteMany"],
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": "rook-cephfs",
            "volumeMode": "Filesystem",
            "claimRef": {"namespace": "team-a", "name": "media", "uid": "c-1"},
            "csi": {
                "driver": "rook-ceph.cephfs.csi.ceph.com",
                "volumeHandle": HANDLE,
                "volumeAttributes": {
                    "clusterID": "rook-ceph",
                    "fsName": "myfs",
                    "pool": "myfs-replicated",
                    "subvolumeName": "csi-vol-3c8e1d52",
                    "subvolumePath": PATH,
                    "storage.kubernetes.io/csiProvisionerIdentity": "1-8081-rook"
                },
                "nodeStageSecretRef": {"name": "rook-csi-cephfs-node", "namespace": "rook-ceph"}
            }
        }
    }))
    .unwrap()
}

fn request(source: &PersistentVolume) -> share::Request<'_> {
    share::Request {
        source,
        namespace: "team-b".into(),
        claim_name: None,
        pv_name: None,
        read_only: false,
        node_stage_secret: None,
        ceph_root_path: None,
    }
}

fn volumes(plan: &Plan) -> Vec<&PersistentVolume> {
    plan.documents
        .iter()
        .filter_map(|d| match &d.manifest {
            Manifest::Volume(pv) => Some(&**pv),
            Manifest::Claim(_) => None,
        })
        .collect()
}

#[test]
fn a_cephfs_share_is_static_retained_and_keeps_only_mount_attributes() {
    let source = cephfs_source("Retain");
    let plan = share::plan(&request(&source), &Existing::default()).unwrap();
    assert!(!plan.source_switched);
    let [share] = volumes(&plan)[..] else {
        panic!("one PV: {plan:?}")
    };
    let spec = share.spec.as_ref().unwrap();
    assert_eq!(
        spec.persistent_volume_reclaim_policy.as_deref(),
        Some("Retain")
    );
    let csi = spec.csi.as_ref().unwrap();
    assert_ne!(csi.volume_handle, HANDLE);
    assert!(volid::decode(&csi.volume_handle).is_err());
    let attributes: Vec<&str> = csi
        .volume_attributes
        .as_ref()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        attributes,
        ["clusterID", "fsName", "rootPath", "staticVolume"]
    );
    assert_eq!(csi.volume_attributes.as_ref().unwrap()["rootPath"], PATH);
    assert_eq!(
        share.metadata.annotations.as_ref().unwrap()[ANN_SOURCE],
        "pvc-1"
    );
    assert!(share.metadata.annotations.as_ref().unwrap().len() == 1);
    let claim_ref = spec.claim_ref.as_ref().unwrap();
    assert_eq!(
        (
            claim_ref.namespace.as_deref(),
            claim_ref.name.as_deref(),
            claim_ref.uid.as_deref()
        ),
        (Some("team-b"), Some("media"), None)
    );
    let Manifest::Claim(claim) = &plan.documents[1].manifest else {
        panic!("the claim follows the PV")
    };
    let claim_spec = claim.spec.as_ref().unwrap();
    assert_eq!(
        claim_spec.volume_name.as_deref(),
        Some("share-team-b-media")
    );
    assert_eq!(
        claim_spec.storage_class_name.as_deref(),
        Some("rook-cephfs")
    );
    assert_eq!(
        claim_spec.resources.as_ref().unwrap().requests,
        spec.capacity
    );
}

#[test]
fn a_source_on_delete_comes_first_switched_to_retain() {
    let source = cephfs_source("Delete");
    let plan = share::plan(&request(&source), &Existing::default()).unwrap();
    assert!(plan.source_switched);
    let first = volumes(&plan)[0];
    assert_eq!(first.metadata.name.as_deref(), Some("pvc-1"));
    let spec = first.spec.as_ref().unwrap();
    assert_eq!(
        spec.persistent_volume_reclaim_policy.as_deref(),
        Some("Retain")
    );
    // The handle and everything else the provisioner owns stay as they are.
    assert_eq!(spec.csi.as_ref().unwrap().volume_handle, HANDLE);
    assert!(first.metadata.uid.is_none() && first.status.is_none());
}

#[test]
fn ceph_is_believed_only_when_it_agrees_with_the_source() {
    let source = cephfs_source("Retain");
    let mut asked = request(&source);
    asked.ceph_root_path = Some("/volumes/csi/other/1".into());
    let err = share::plan(&asked, &Existing::default()).unwrap_err();
    assert!(matches!(err, Error::RootPathMismatch { .. }), "{err}");
    asked.ceph_root_path = Some(format!("{PATH}/"));
    let plan = share::plan(&asked, &Existing::default()).unwrap();
    assert!(plan.documents[0]
        .comments
        .iter()
        .any(|c| c.contains("Ceph reports")));
}

#[test]
fn shares_of_shares_nfs_and_deleting_sources_are_refused() {
    let mut share_of_share = cephfs_source("Retain");
    share_of_share
        .metadata
        .annotations
        .get_or_insert_with(Default::default)
        .insert(ANN_SOURCE.into(), "pvc-0".into());
    let err = share::plan(&request(&share_of_share), &Existing::default()).unwrap_err();
    assert!(matches!(err, Error::SourceIsShare { .. }), "{err}");
    // The label alone marks a share too.
    let mut labelled = cephfs_source("Retain");
    labelled
        .metadata
        .labels
        .get_or_insert_with(Default::default)
        .insert(LABEL_SOURCE.into(), "pvc-0".into());
    let err = share::plan(&request(&labelled), &Existing::default()).unwrap_err();
    assert!(matches!(err, Error::SourceIsShare { .. }), "{err}");

    let mut nfs = cephfs_source("Retain");
    nfs.spec.as_mut().unwrap().csi.as_mut().unwrap().driver = "nfs.csi.ceph.com".into();
    let err = share::plan(&request(&nfs), &Existing::default()).unwrap_err();
    assert!(matches!(err, Error::NotCeph { .. }), "{err}");

    let mut deleting = cephfs_source("Retain");
    deleting.metadata.deletion_timestamp =
        Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
            "2026-12-04T12:00:00Z".parse().unwrap(),
        ));
    let err = share::plan(&request(&deleting), &Existing::default()).unwrap_err();
    assert!(matches!(err, Error::SourceDeleting { .. }), "{err}");
}

fn rbd_source(modes: &[&str]) -> PersistentVolume {
    serde_json::from_value(json!({
        "metadata": {"name": "pvc-2"},
        "spec": {
            "capacity": {"storage": "10Gi"},
            "accessModes": modes,
            "persistentVolumeReclaimPolicy": "Retain",
            "claimRef": {"namespace": "team-a", "name": "db"},
            "csi": {
                "driver": "rbd.csi.ceph.com",
                "volumeHandle": HANDLE,
                "volumeAttributes": {
                    "clusterID": "c", "pool": "p", "imageName": "csi-vol-3c8e1d52"
                },
                "nodeStageSecretRef": {"name": "csi-rbd-secret", "namespace": "ceph"}
            }
        }
    }))
    .unwrap()
}

#[test]
fn rbd_shares_are_read_only_single_writer_and_unique() {
    let rwo = rbd_source(&["ReadWriteOnce"]);
    let err = share::plan(&request(&rwo), &Existing::default()).unwrap_err();
    assert!(matches!(err, Error::RbdReadWrite { .. }), "{err}");
    let mut read_only = request(&rwo);
    read_only.read_only = true;
    let plan = share::plan(&read_only, &Existing::default()).unwrap();
    let pv = volumes(&plan)[0];
    let csi = pv.spec.as_ref().unwrap().csi.as_ref().unwrap();
    assert_eq!(csi.volume_handle, "csi-vol-3c8e1d52");
    assert_eq!(csi.read_only, Some(true));

    // A second share of the image would carry the same handle.
    let pvs = [pv.clone()];
    let mut second = request(&rwo);
    second.read_only = true;
    second.namespace = "team-c".into();
    let existing = Existing {
        pvs: &pvs,
        claims: &[],
    };
    let err = share::plan(&second, &existing).unwrap_err();
    assert!(matches!(err, Error::HandleTaken { .. }), "{err}");

    let rwx = rbd_source(&["ReadWriteMany"]);
    let mut asked = request(&rwx);
    asked.read_only = true;
    let err = share::plan(&asked, &Existing::default()).unwrap_err();
    assert!(matches!(err, Error::RbdReadWrite { .. }), "{err}");
}

#[test]
fn unshare_retains_a_deleting_share_first_and_keeps_a_shared_source() {
    let source = cephfs_source("Retain");
    let plan = share::plan(&request(&source), &Existing::default()).unwrap();
    let mut share = volumes(&plan)[0].clone();
    share
        .spec
        .as_mut()
        .unwrap()
        .persistent_volume_reclaim_policy = Some("Delete".into());
    let removal = unshare::plan(&unshare::Request {
        share: &share,
        claim: None,
        source: Some(&source),
        others: vec!["share-team-c-media".into()],
    })
    .unwrap();
    let actions: Vec<&unshare::Action> = removal.steps.iter().map(|s| &s.action).collect();
    assert!(matches!(actions[0], unshare::Action::Retain { .. }));
    assert!(matches!(
        actions.last(),
        Some(unshare::Action::DeletePv { .. })
    ));
    assert!(removal.restore.is_none());
    assert!(removal.source_advice.contains("share-team-c-media"));

    let err = unshare::plan(&unshare::Request {
        share: &source,
        claim: None,
        source: None,
        others: vec![],
    })
    .unwrap_err();
    assert!(matches!(err, Error::NotAShare { .. }), "{err}");
}
