//! Planning from the verdicts of the case files, without a cluster.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};

use pvwarden_domain::audit::Auditor;
use pvwarden_domain::evidence::Settings;
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::version::Assumptions;
use pvwarden_repair::plan::{self, Action, Mode, Plan, Request};

fn plan_of(file: &str, request: &Request) -> Plan {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(file);
    let mut inventory = Inventory::new();
    pvwarden_manifest::Reader::new().read_paths(&[path], &mut |item| {
        inventory.add(item.unwrap()).unwrap();
    });
    let settings = Settings::at("2026-12-04T12:00:00Z".parse().unwrap());
    let auditor = Auditor::new(&inventory, Assumptions::default(), settings).with_story(false);
    let (volumes, claims) = plan::verdicts(&auditor, &inventory);
    plan::plan(&inventory, &volumes, &claims, request)
}

fn case(name: &str) -> String {
    format!("testdata/cases/{name}.yaml")
}

fn all_stuck() -> Request {
    Request {
        all_stuck: true,
        ..Request::default()
    }
}

#[test]
fn the_digest_binds_the_plan_and_nothing_else() {
    let file = case("01-rook-cephfs-static-share-newnamespace");
    let plan = plan_of(&file, &all_stuck());
    assert_eq!(plan.digest(), plan_of(&file, &all_stuck()).digest());
    assert_eq!(plan.digest().len(), 12);

    let mut changed = plan.clone();
    changed.targets[0].expect.finalizers.pop();
    assert_ne!(changed.digest(), plan.digest());
}

#[test]
fn a_share_copy_gets_retain_and_a_guarded_finalizer_removal() {
    let plan = plan_of(
        &case("01-rook-cephfs-static-share-newnamespace"),
        &all_stuck(),
    );
    assert_eq!(plan.targets.len(), 1, "{plan:#?}");
    let actions: Vec<&Action> = plan.targets[0].steps.iter().map(|s| &s.action).collect();
    assert!(matches!(actions[0], Action::SetRetain { from } if from == "Delete"));
    // Waiting for the provisioner always comes before the finalizer is touched.
    let wait = actions
        .iter()
        .position(|a| **a == Action::AwaitGone)
        .unwrap();
    let remove = actions
        .iter()
        .position(|a| matches!(a, Action::RemoveFinalizer { .. }))
        .unwrap();
    assert!(wait < remove);
}

#[test]
fn dynamic_storage_with_data_needs_orphan_backend_by_name() {
    let file = case("19-cephcsi-rbd-released-cephx-disabled");
    let pv = "pvc-8114a654-fc70-48a7-8580-48f9088dc4e8";
    let refused = plan_of(&file, &all_stuck());
    assert!(refused.targets.is_empty());
    assert_eq!(refused.refused[0].subject, pv);

    let allowed = plan_of(
        &file,
        &Request {
            orphan_backend: vec![pv.to_owned()],
            ..all_stuck()
        },
    );
    let target = &allowed.targets[0];
    assert!(target.orphans.as_deref().is_some_and(|h| !h.is_empty()));
    assert!(target
        .steps
        .iter()
        .all(|s| !matches!(s.action, Action::RemoveFinalizer { .. })));
    // The object is deleted only after its policy is Retain.
    assert!(matches!(target.steps[0].action, Action::SetRetain { .. }));
}

#[test]
fn a_claim_held_by_a_pod_is_refused_with_the_manual_step() {
    let plan = plan_of(
        &case("07-rook-rbd-pvc-terminating-pod-still-running"),
        &all_stuck(),
    );
    assert!(plan.targets.is_empty());
    let refusal = plan
        .refused
        .iter()
        .find(|r| r.subject == "vms/vm01-rootdisk")
        .unwrap();
    assert!(refusal.manual.contains("pods"), "{refusal:?}");
}

#[test]
fn a_stale_claim_uid_is_cleared_only_with_rebind() {
    let file = case("23-smb-released-pv-stale-claimref-uid");
    let without = plan_of(&file, &all_stuck());
    assert!(without.targets.is_empty());
    assert!(without.refused[0].manual.contains("--rebind"));

    let with = plan_of(
        &file,
        &Request {
            rebind: true,
            ..all_stuck()
        },
    );
    assert!(matches!(
        with.targets[0].steps[0].action,
        Action::ClearClaimUid { .. }
    ));
}

#[test]
fn max_changes_defers_what_does_not_fit() {
    let file = case("01-rook-cephfs-static-share-newnamespace");
    let plan = plan_of(
        &file,
        &Request {
            max_changes: Some(1),
            ..all_stuck()
        },
    );
    assert!(plan.targets.is_empty());
    assert_eq!(plan.deferred.len(), 1);
}

#[test]
fn unknown_names_are_refused_by_name() {
    let plan = plan_of(
        &case("05-rook-rbd-static-retain-underflow"),
        &Request {
            names: vec!["no-such-pv".into(), "db-data".into()],
            ..Request::default()
        },
    );
    assert_eq!(plan.refused[0].subject, "no-such-pv");
    assert_eq!(plan.fine, ["db-data"]);
}

#[test]
fn prune_deletes_released_static_pvs_only_after_retain() {
    let plan = plan_of(
        &case("01-rook-cephfs-static-share-newnamespace"),
        &Request {
            mode: Mode::PruneReleasedStatic,
            ..Request::default()
        },
    );
    for target in &plan.targets {
        let delete = target
            .steps
            .iter()
            .position(|s| s.action == Action::DeletePv);
        let retain = target
            .steps
            .iter()
            .position(|s| matches!(s.action, Action::SetRetain { .. }));
        if let (Some(delete), Some(retain)) = (delete, retain) {
            assert!(retain < delete);
        }
    }
    assert!(plan.refused.iter().all(|r| !r.reason.is_empty()));
}
