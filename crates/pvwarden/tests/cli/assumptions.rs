//! The releases a verdict assumes, from flags and from workloads in the input.

use crate::common::{audit_json, volume};

const PROVISIONER_FINALIZER: &str = "external-provisioner.volume.kubernetes.io/finalizer";

/// Before 1.31, kube-controller-manager marks a released static CSI PV with
/// Delete `Failed` ("no deletable volume plugin matched") and nothing deletes it.
#[test]
fn old_kubernetes_fails_released_static_csi_pv() {
    let report = audit_json(&["--kube-version", "1.30", "released-static-ebs.yaml"]);
    assert_eq!(report["assumptions"]["kubernetes"]["value"], "1.30.0");
    assert_eq!(report["assumptions"]["kubernetes"]["basis"]["kind"], "flag");

    let pv = volume(&report, "legacy-db");
    assert_eq!(pv["stuck"], true, "{pv}");
    let reason = pv["stuck_reason"].as_str().expect("a stuck PV says why");
    assert!(reason.contains("Failed"), "{reason}");
}

#[test]
fn current_kubernetes_deletes_released_static_csi_pv() {
    let report = audit_json(&["released-static-ebs.yaml"]);
    let pv = volume(&report, "legacy-db");
    assert_eq!(pv["stuck"], false, "{pv}");
    assert_eq!(pv["on_delete"], "deleted");
    let rules = crate::common::rules_of(&pv["findings"]);
    assert!(
        rules.contains(&"static-delete-destroys-data".to_owned()),
        "{rules:?}"
    );
}

#[test]
fn kube_version_from_the_environment() {
    let run = crate::common::pvwarden([
        "audit",
        "-o",
        "json",
        "--now",
        crate::common::NOW,
        "released-static-ebs.yaml",
    ])
    .env("PVWARDEN_KUBE_VERSION", "1.30")
    .run();
    let report = run.json();
    assert_eq!(report["assumptions"]["kubernetes"]["value"], "1.30.0");
    assert_eq!(volume(&report, "legacy-db")["stuck"], true);
}

/// The current provisioner puts its finalizer on the static PV, which then
/// holds it forever once the undecodable handle fails to delete.
#[test]
fn current_provisioner_holds_static_pv_with_its_finalizer() {
    let report = audit_json(&["bound-static-rbd.yaml"]);
    let pv = volume(&report, "reports-archive");
    assert_eq!(pv["on_delete"], "hangs");
    assert_eq!(
        pv["blocking_finalizers"],
        serde_json::json!([PROVISIONER_FINALIZER])
    );
}

/// v4.0 has the finalizer feature off by default: the PV hangs as Released
/// while the provisioner retries, but no finalizer of its own holds it.
#[test]
fn provisioner_v4_adds_no_finalizer() {
    let report = audit_json(&["--provisioner-version", "4.0.0", "bound-static-rbd.yaml"]);
    assert_eq!(report["assumptions"]["provisioner"]["value"], "4.0.0");
    assert_eq!(
        report["assumptions"]["provisioner"]["basis"]["kind"],
        "flag"
    );

    let pv = volume(&report, "reports-archive");
    assert_eq!(pv["on_delete"], "hangs");
    assert_eq!(pv["blocking_finalizers"], serde_json::json!([]));
}

#[test]
fn current_ceph_csi_hangs_on_undecodable_dynamic_handle() {
    let report = audit_json(&["dynamic-rbd-undecodable.yaml"]);
    let pv = volume(&report, "pvc-9a4f6c2e-3b1d-4e8f-a7c6-5d2e1f0a9b8c");
    assert_eq!(pv["provisioning"], "dynamic");
    assert_eq!(pv["on_delete"], "hangs");
}

/// ceph-csi v1.1 to v2.1 answered OK for an id it could not decode (and that
/// was not a v1.0 id) without deleting anything: the image is orphaned.
#[test]
fn ceph_csi_v2_orphans_undecodable_dynamic_handle() {
    let report = audit_json(&[
        "--ceph-csi-version",
        "2.0.0",
        "dynamic-rbd-undecodable.yaml",
    ]);
    assert_eq!(report["assumptions"]["ceph_csi"]["value"], "2.0.0");
    assert_eq!(report["assumptions"]["ceph_csi"]["basis"]["kind"], "flag");

    let pv = volume(&report, "pvc-9a4f6c2e-3b1d-4e8f-a7c6-5d2e1f0a9b8c");
    assert_eq!(pv["on_delete"], "orphaned", "{}", pv["on_delete_reason"]);
    let rules = crate::common::rules_of(&pv["findings"]);
    assert!(
        rules.contains(&"delete-orphans-storage".to_owned()),
        "{rules:?}"
    );
    let claim = crate::common::claim(&report, "web", "uploads");
    assert_eq!(claim["on_delete"], "orphaned");
}

#[test]
fn provisioner_deployment_in_input_sets_the_assumptions() {
    let report = audit_json(&["provisioner-v4-gate-off.yaml", "bound-static-rbd.yaml"]);
    let a = &report["assumptions"];
    assert_eq!(a["provisioner"]["value"], "4.0.0");
    assert_eq!(a["provisioner"]["basis"]["kind"], "workload");
    let detail = a["provisioner"]["basis"]["detail"]
        .as_str()
        .expect("workload detail");
    assert!(
        detail.contains("ceph-csi/csi-rbdplugin-provisioner"),
        "{detail}"
    );
    assert!(detail.contains("csi-provisioner:v4.0.0"), "{detail}");

    assert_eq!(a["honor_reclaim_policy_gate"]["value"], false);
    assert_eq!(a["honor_reclaim_policy_gate"]["basis"]["kind"], "workload");
    assert_eq!(a["ceph_csi"]["value"], "3.12.0");
    assert_eq!(a["ceph_csi"]["basis"]["kind"], "workload");

    let pv = volume(&report, "reports-archive");
    assert_eq!(pv["blocking_finalizers"], serde_json::json!([]));
}

#[test]
fn flag_overrides_the_workload() {
    let report = audit_json(&[
        "--provisioner-version",
        "6.3.0",
        "provisioner-v4-gate-off.yaml",
        "bound-static-rbd.yaml",
    ]);
    assert_eq!(report["assumptions"]["provisioner"]["value"], "6.3.0");
    assert_eq!(
        report["assumptions"]["provisioner"]["basis"]["kind"],
        "flag"
    );
    let pv = volume(&report, "reports-archive");
    assert_eq!(
        pv["blocking_finalizers"],
        serde_json::json!([PROVISIONER_FINALIZER])
    );
}
