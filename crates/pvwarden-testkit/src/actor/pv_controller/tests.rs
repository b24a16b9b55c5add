use serde_json::json;

use super::*;
use crate::actor::fixture::{bound_claim, bound_pv, Cluster};

const CURRENT: Version = Version::new(1, 33, 0);
const OLD: Version = Version::new(1, 30, 0);

fn phase_of(change: Option<Change>) -> Option<(&'static str, Option<String>)> {
    match change? {
        Change::VolumePhase { phase, message, .. } => Some((phase, message)),
        other => panic!("unexpected change {other:?}"),
    }
}

#[test]
fn a_pv_whose_claim_is_gone_is_released() {
    let snapshot = Cluster::default()
        .pv(bound_pv(
            "pv-a",
            "d.example.com",
            "Delete",
            ("ns", "c", "u1"),
        ))
        .build();
    let change = sync_volume(&snapshot.volumes[0], &snapshot, CURRENT);
    assert_eq!(phase_of(change), Some(("Released", None)));
}

#[test]
fn a_bound_pv_with_its_claim_stays_bound() {
    let snapshot = Cluster::default()
        .pv(bound_pv(
            "pv-a",
            "d.example.com",
            "Delete",
            ("ns", "c", "u1"),
        ))
        .claim(bound_claim("ns", "c", "u1", "pv-a"))
        .build();
    assert_eq!(sync_volume(&snapshot.volumes[0], &snapshot, CURRENT), None);
}

#[test]
fn a_new_claim_of_the_same_name_does_not_keep_the_pv_bound() {
    // Case 23: the claim was re-created with a new uid.
    let snapshot = Cluster::default()
        .pv(bound_pv(
            "pv-a",
            "smb.csi.k8s.io",
            "Retain",
            ("media", "c", "old-uid"),
        ))
        .claim(json!({
            "metadata": {"name": "c", "namespace": "media", "uid": "new-uid"},
            "spec": {"volumeName": "pv-a"},
            "status": {"phase": "Pending"},
        }))
        .build();
    assert_eq!(
        phase_of(sync_volume(&snapshot.volumes[0], &snapshot, CURRENT)),
        Some(("Released", None))
    );
    assert_eq!(
        sync_claim(&snapshot.claims[0], &snapshot),
        None,
        "the claim stays Pending"
    );
}

#[test]
fn a_released_pv_with_a_stale_uid_stays_released() {
    let mut pv = bound_pv(
        "pv-a",
        "smb.csi.k8s.io",
        "Retain",
        ("media", "c", "old-uid"),
    );
    pv["status"]["phase"] = json!("Released");
    let snapshot = Cluster::default()
        .pv(pv)
        .claim(
            json!({"metadata": {"name": "c", "namespace": "media", "uid": "new-uid"},
                      "spec": {"volumeName": "pv-a"}, "status": {"phase": "Pending"}}),
        )
        .build();
    assert_eq!(sync_volume(&snapshot.volumes[0], &snapshot, CURRENT), None);
}

#[test]
fn static_csi_delete_pvs_fail_only_before_kubernetes_1_31() {
    let mut pv = bound_pv(
        "static",
        "org.veritas.infoscale",
        "Delete",
        ("ns", "c", "u1"),
    );
    pv["status"]["phase"] = json!("Released");
    let snapshot = Cluster::default().pv(pv).build();

    assert_eq!(sync_volume(&snapshot.volumes[0], &snapshot, CURRENT), None);
    let (phase, message) = phase_of(sync_volume(&snapshot.volumes[0], &snapshot, OLD)).unwrap();
    assert_eq!(phase, "Failed");
    assert_eq!(
        message.as_deref(),
        Some(
            "error getting deleter volume plugin for volume \"static\": no deletable volume \
             plugin matched"
        )
    );
}

#[test]
fn dynamic_delete_pvs_are_left_to_the_provisioner_on_old_kubernetes() {
    let mut pv = bound_pv("pvc-1", "d.example.com", "Delete", ("ns", "c", "u1"));
    pv["metadata"]["annotations"] = json!({ANN_PROVISIONED_BY: "d.example.com"});
    pv["status"]["phase"] = json!("Released");
    let snapshot = Cluster::default().pv(pv).build();
    assert_eq!(sync_volume(&snapshot.volumes[0], &snapshot, OLD), None);
}

#[test]
fn a_failed_pv_stays_failed() {
    let mut pv = bound_pv(
        "static",
        "org.veritas.infoscale",
        "Delete",
        ("ns", "c", "u1"),
    );
    pv["status"] = json!({"phase": "Failed", "message": "no deletable volume plugin matched"});
    let snapshot = Cluster::default().pv(pv).build();
    assert_eq!(sync_volume(&snapshot.volumes[0], &snapshot, CURRENT), None);
    assert_eq!(sync_volume(&snapshot.volumes[0], &snapshot, OLD), None);
}

#[test]
fn a_pv_without_claim_ref_is_available() {
    let snapshot = Cluster::default()
        .pv(json!({"metadata": {"name": "copy"},
                   "spec": {"csi": {"driver": "d", "volumeHandle": "h"}},
                   "status": {"phase": "Pending"}}))
        .build();
    assert_eq!(
        phase_of(sync_volume(&snapshot.volumes[0], &snapshot, CURRENT)),
        Some(("Available", None))
    );
}

#[test]
fn a_claim_naming_an_available_pv_binds_it() {
    let snapshot = Cluster::default()
        .pv(json!({"metadata": {"name": "pv-a"}, "spec": {}, "status": {"phase": "Available"}}))
        .claim(
            json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u1"},
                      "spec": {"volumeName": "pv-a"}, "status": {"phase": "Pending"}}),
        )
        .build();
    let change = sync_claim(&snapshot.claims[0], &snapshot).unwrap();
    let Change::BindVolume {
        name,
        claim,
        by_controller,
        ..
    } = change
    else {
        panic!("expected a PV binding, got {change:?}");
    };
    assert_eq!(name, "pv-a");
    assert_eq!(
        claim,
        ClaimRef {
            namespace: "ns".into(),
            name: "c".into(),
            uid: "u1".into()
        }
    );
    assert!(by_controller);
}

#[test]
fn a_claim_whose_pv_points_back_completes_its_binding() {
    let snapshot = Cluster::default()
        .pv(bound_pv("pv-a", "d", "Delete", ("ns", "c", "u1")))
        .claim(
            json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u1"},
                      "spec": {"volumeName": "pv-a"}, "status": {"phase": "Pending"}}),
        )
        .build();
    let change = sync_claim(&snapshot.claims[0], &snapshot).unwrap();
    assert!(matches!(change, Change::BindClaim { ref volume, .. } if volume == "pv-a"));

    let bound = Cluster::default()
        .pv(bound_pv("pv-a", "d", "Delete", ("ns", "c", "u1")))
        .claim(
            json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u1",
                                   "annotations": {ANN_BIND_COMPLETED: "yes"}},
                      "spec": {"volumeName": "pv-a"}, "status": {"phase": "Pending"}}),
        )
        .build();
    let change = sync_claim(&bound.claims[0], &bound).unwrap();
    assert!(matches!(change, Change::ClaimPhase { phase: "Bound", .. }));
}

#[test]
fn a_pv_pre_bound_by_name_gets_the_claims_uid() {
    let snapshot = Cluster::default()
        .pv(json!({"metadata": {"name": "pv-a"},
                   "spec": {"claimRef": {"namespace": "ns", "name": "c"}},
                   "status": {"phase": "Available"}}))
        .claim(
            json!({"metadata": {"name": "c", "namespace": "ns", "uid": "u1"},
                      "spec": {}, "status": {"phase": "Pending"}}),
        )
        .build();
    let change = sync_claim(&snapshot.claims[0], &snapshot).unwrap();
    assert!(
        matches!(change, Change::BindClaim { ref volume, by_controller: true, .. }
            if volume == "pv-a")
    );
    assert_eq!(sync_volume(&snapshot.volumes[0], &snapshot, CURRENT), None);
}

#[test]
fn a_claim_whose_pv_is_gone_is_lost_once_bound() {
    let snapshot = Cluster::default()
        .claim(bound_claim("ns", "c", "u1", "pv-gone"))
        .build();
    assert!(matches!(
        sync_claim(&snapshot.claims[0], &snapshot),
        Some(Change::ClaimPhase { phase: "Lost", .. })
    ));
}

#[test]
fn a_claim_being_deleted_keeps_its_pv_bound() {
    let mut claim = bound_claim("vms", "disk", "u1", "pv-a");
    claim["metadata"]["deletionTimestamp"] = json!("2023-12-01T03:10:00Z");
    let snapshot = Cluster::default()
        .pv(bound_pv(
            "pv-a",
            "rbd.csi.ceph.com",
            "Delete",
            ("vms", "disk", "u1"),
        ))
        .claim(claim)
        .build();
    assert!(decide(&snapshot, CURRENT).is_empty());
}
