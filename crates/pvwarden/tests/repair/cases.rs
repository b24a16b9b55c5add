//! Every stuck case of `testdata/cases` ends as the model says: repaired, or refused with
//! its reason, and never with a backend volume deleted.

use pvwarden_testkit::actor::Sidecar;
use serde_json::Value;

use crate::common::{case, Live};

/// Repairs every stuck PV and claim of a case and checks how each one ended.
fn check_case(name: &str) -> (Live, Value) {
    check_case_without(name, &[])
}

/// As [`check_case`], with sidecars stopped: the cases whose verdict assumes one is not
/// running (the actors' own tests show that a running one moves the PV on by itself).
fn check_case_without(name: &str, stopped: &[Sidecar]) -> (Live, Value) {
    let (manifest, seed, expect, args) = case(name);
    let live = Live::start_without(&manifest, seed, &args, stopped);
    let (plan, report) = live.fix(&["fix", "--all-stuck", "--rebind"]);
    let plan = &plan["plan"];

    // Everything the model calls stuck is either planned or refused, with a reason.
    let planned_or_refused = |subject: &str| {
        let targets = plan["targets"].as_array().unwrap();
        let refused = plan["refused"].as_array().unwrap();
        targets.iter().any(|t| t["pv"] == subject)
            || refused
                .iter()
                .any(|r| r["subject"] == subject && r["reason"] != "")
            || targets.iter().any(|t| {
                t["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|s| s["action"] == "clear-claim-uid")
            })
    };
    for (kind, field) in [("volumes", "stuck"), ("claims", "stuck")] {
        for (subject, verdict) in expect[kind].as_object().into_iter().flatten() {
            if verdict[field] == true {
                assert!(
                    planned_or_refused(subject),
                    "{name}: {subject} neither planned nor refused: {plan:#}"
                );
            }
        }
    }

    // A target that lets its PV go ends with the PV gone; a rebind, with the claim bound.
    for target in plan["targets"].as_array().unwrap() {
        let pv = target["pv"].as_str().unwrap();
        let steps = target["steps"].as_array().unwrap();
        if steps.iter().any(|s| s["action"] == "await-gone") {
            assert!(
                live.pv(pv).is_none(),
                "{name}: PV {pv} is still there: {report:#}"
            );
        }
    }
    assert_eq!(report["state"], "done", "{name}: {report:#}");
    // Refused PVs are left exactly as they were.
    for refusal in plan["refused"].as_array().unwrap() {
        let subject = refusal["subject"].as_str().unwrap();
        if !subject.contains('/') {
            let pv = live.pv(subject).expect("a refused PV must still exist");
            assert!(pv["metadata"]["annotations"]["pvwarden.io/lease"].is_null());
        }
    }
    live.assert_backend_kept(name);
    (live, plan.clone())
}

fn refused<'a>(plan: &'a Value, subject: &str) -> &'a Value {
    plan["refused"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["subject"] == subject)
        .unwrap_or_else(|| panic!("{subject} is not refused: {plan:#}"))
}

#[test]
fn case_01_static_share_copy_goes_and_the_subvolume_stays() {
    let (live, plan) = check_case("01-rook-cephfs-static-share-newnamespace");
    let target = &plan["targets"][0];
    assert_eq!(
        target["pv"],
        "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer"
    );
    assert_eq!(target["steps"][0]["action"], "set-retain");
    assert_eq!(target["steps"][0]["from"], "Delete");
    assert!(live
        .pv("pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27")
        .is_some());
}

#[test]
fn case_03_static_failed_pv_goes() {
    check_case("03-infoscale-static-failed-phase-finalizer");
}

#[test]
fn case_07_claim_held_by_a_pod_is_refused() {
    let (_, plan) = check_case("07-rook-rbd-pvc-terminating-pod-still-running");
    let refusal = refused(&plan, "vms/vm01-rootdisk");
    assert!(
        refusal["manual"].as_str().unwrap().contains("pods"),
        "{refusal:#}"
    );
}

#[test]
fn case_09_attacher_finalizer_of_a_released_pv() {
    check_case("09-vsphere-released-attacher-finalizer-cns-gone");
}

#[test]
fn case_11_backend_already_deleted() {
    let provisioner = Sidecar::Provisioner("disk.csi.azure.com".into());
    check_case_without(
        "11-azuredisk-finalizer-race-backend-deleted",
        &[provisioner],
    );
}

#[test]
fn case_13_terminating_pv_with_attacher_finalizer() {
    let attacher = Sidecar::Attacher("io.rancher.longhorn".into());
    check_case_without("13-longhorn-pv-terminating-attacher-finalizer", &[attacher]);
}

#[test]
fn case_15_legacy_handle_that_never_decodes() {
    check_case("15-cephcsi-legacy-v1-volume-id");
}

#[test]
fn case_19_dynamic_pv_with_data_is_refused() {
    let (live, plan) = check_case("19-cephcsi-rbd-released-cephx-disabled");
    let pv = "pvc-8114a654-fc70-48a7-8580-48f9088dc4e8";
    let refusal = refused(&plan, pv);
    assert!(
        refusal["manual"]
            .as_str()
            .unwrap()
            .contains("--orphan-backend"),
        "{refusal:#}"
    );
    assert_eq!(
        live.pv(pv).unwrap()["spec"]["persistentVolumeReclaimPolicy"],
        "Delete"
    );
}

#[test]
fn case_19_orphan_backend_keeps_the_storage_and_journals_its_id() {
    let (manifest, seed, _, args) = case("19-cephcsi-rbd-released-cephx-disabled");
    let live = Live::start(&manifest, seed, &args);
    let pv = "pvc-8114a654-fc70-48a7-8580-48f9088dc4e8";
    let (plan, report) = live.fix(&["fix", pv, "--orphan-backend", pv]);
    assert_eq!(report["state"], "done", "{report:#}");
    assert!(live.pv(pv).is_none());
    live.assert_backend_kept("orphan-backend");

    let handle = plan["plan"]["targets"][0]["orphans"].as_str().unwrap();
    let run = report["run"].as_str().unwrap();
    let (_, shown) = live.json(&["journal", "show", run]);
    let entries = shown["entries"].as_array().unwrap();
    assert!(
        entries.iter().any(|e| e["backend_id"] == handle),
        "{shown:#}"
    );
}

#[test]
fn case_23_rebind_lets_the_new_claim_bind() {
    let (live, _) = check_case("23-smb-released-pv-stale-claimref-uid");
    live.wait_for("the claim to bind", |live| {
        live.claim_phase("media", "library-config").as_deref() == Some("Bound")
    });
}

#[test]
fn case_27_pv_whose_pool_is_gone() {
    check_case("27-cephcsi-rbd-pool-deleted-before-pv");
}
