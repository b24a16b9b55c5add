use serde_json::{json, Value};

use super::*;
use crate::actor::fixture::{bound_claim, bound_pv, Cluster};

fn deleting_claim() -> Value {
    let mut claim = bound_claim("vms", "vm01-rootdisk", "u1", "pv-a");
    claim["metadata"]["deletionTimestamp"] = json!("2023-12-01T03:10:00Z");
    claim
}

fn pod(extra: Value) -> Value {
    let mut pod = json!({
        "metadata": {"name": "virt-launcher", "namespace": "vms"},
        "spec": {"containers": [{"name": "compute"}],
                 "volumes": [{"name": "rootdisk",
                              "persistentVolumeClaim": {"claimName": "vm01-rootdisk"}}]},
        "status": {"phase": "Running"},
    });
    merge(&mut pod, extra);
    pod
}

fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(target), Value::Object(patch)) => {
            for (key, value) in patch {
                merge(target.entry(key).or_insert(Value::Null), value);
            }
        }
        (target, patch) => *target = patch,
    }
}

#[test]
fn a_pod_terminating_for_years_still_holds_the_claim() {
    // Case 07: the pod's deletion has a 30 s grace period that never ended.
    let held = pod(
        json!({"metadata": {"deletionTimestamp": "2023-12-01T03:09:30Z",
                                       "deletionGracePeriodSeconds": 30}}),
    );
    let snapshot = Cluster::default().claim(deleting_claim()).pod(held).build();
    assert!(decide_claims(&snapshot).is_empty());
}

#[test]
fn a_claim_no_pod_uses_loses_its_finalizer() {
    let snapshot = Cluster::default().claim(deleting_claim()).build();
    let changes = decide_claims(&snapshot);
    assert!(matches!(
        changes.as_slice(),
        [Change::ClaimFinalizers { finalizers, .. }] if finalizers.is_empty()
    ));
}

#[test]
fn terminated_force_deleted_and_unscheduled_pods_do_not_hold_the_claim() {
    let released = [
        pod(json!({"status": {"phase": "Succeeded"}})),
        pod(
            json!({"metadata": {"deletionTimestamp": "2023-12-01T03:09:30Z",
                                "deletionGracePeriodSeconds": 0}}),
        ),
        pod(json!({"status": {"phase": "Pending"}})),
        pod(json!({"metadata": {"namespace": "elsewhere"}})),
    ];
    for pod in released {
        let snapshot = Cluster::default()
            .claim(deleting_claim())
            .pod(pod.clone())
            .build();
        assert_eq!(decide_claims(&snapshot).len(), 1, "{pod}");
    }
}

#[test]
fn a_scheduled_pending_pod_holds_the_claim() {
    let scheduled = pod(json!({"spec": {"nodeName": "worker-1"}, "status": {"phase": "Pending"}}));
    let snapshot = Cluster::default()
        .claim(deleting_claim())
        .pod(scheduled)
        .build();
    assert!(decide_claims(&snapshot).is_empty());
}

#[test]
fn an_ephemeral_volume_claim_is_held_by_its_pod() {
    let mut claim = deleting_claim();
    claim["metadata"]["name"] = json!("launcher-scratch");
    let owner = json!({
        "metadata": {"name": "launcher", "namespace": "vms"},
        "spec": {"containers": [{"name": "c"}],
                 "volumes": [{"name": "scratch", "ephemeral": {"volumeClaimTemplate": {
                     "spec": {"accessModes": ["ReadWriteOnce"]}}}}]},
        "status": {"phase": "Running"},
    });
    let snapshot = Cluster::default().claim(claim).pod(owner).build();
    assert!(decide_claims(&snapshot).is_empty());
}

#[test]
fn a_claim_not_being_deleted_gets_the_finalizer() {
    let mut claim = bound_claim("ns", "c", "u1", "pv-a");
    claim["metadata"]["finalizers"] = json!([]);
    let snapshot = Cluster::default().claim(claim).build();
    assert!(matches!(
        decide_claims(&snapshot).as_slice(),
        [Change::ClaimFinalizers { finalizers, .. }] if finalizers == &[PVC_PROTECTION.to_owned()]
    ));
}

#[test]
fn pv_protection_waits_while_the_pv_is_bound() {
    let mut pv = bound_pv("pv-a", "d", "Delete", ("ns", "c", "u1"));
    pv["metadata"]["deletionTimestamp"] = json!("2024-11-14T09:12:44Z");
    let snapshot = Cluster::default().pv(pv.clone()).build();
    assert!(decide_volumes(&snapshot).is_empty());

    pv["status"]["phase"] = json!("Released");
    pv["metadata"]["finalizers"] = json!([
        PV_PROTECTION,
        "external-provisioner.volume.kubernetes.io/finalizer"
    ]);
    let snapshot = Cluster::default().pv(pv).build();
    assert!(matches!(
        decide_volumes(&snapshot).as_slice(),
        [Change::VolumeFinalizers { finalizers, .. }]
            if finalizers == &["external-provisioner.volume.kubernetes.io/finalizer".to_owned()]
    ));
}

#[test]
fn pv_protection_is_added_to_live_pvs_only() {
    let mut pv = bound_pv("pv-a", "d", "Delete", ("ns", "c", "u1"));
    pv["metadata"]["finalizers"] = json!([]);
    let snapshot = Cluster::default().pv(pv.clone()).build();
    assert_eq!(decide_volumes(&snapshot).len(), 1);

    pv["metadata"]["deletionTimestamp"] = json!("2024-11-14T09:12:44Z");
    let snapshot = Cluster::default().pv(pv).build();
    assert!(decide_volumes(&snapshot).is_empty());
}
