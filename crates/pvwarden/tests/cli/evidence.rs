//! What the cluster's records say: delete failures in events, overdue deletions.

use crate::common::{audit_json, volume};

const PV: &str = "pvc-3c1f8e2a-7d4b-4a9e-b6c5-2f8e1d7a0c93";

#[test]
fn released_dynamic_pv_without_evidence_is_deleted() {
    let report = audit_json(&["released-rbd.yaml"]);
    let pv = volume(&report, PV);
    assert_eq!(pv["stuck"], false, "{pv}");
    assert_eq!(pv["on_delete"], "deleted");
}

#[test]
fn failed_delete_event_makes_pv_stuck() {
    let report = audit_json(&["released-rbd.yaml", "failed-delete-event-core.yaml"]);
    let pv = volume(&report, PV);
    assert_eq!(pv["stuck"], true, "{pv}");
    assert_eq!(pv["on_delete"], "hangs");
    let evidence = pv["evidence"].to_string();
    assert!(evidence.contains("42 VolumeFailedDelete"), "{evidence}");
    assert!(evidence.contains("image still has watchers"), "{evidence}");
}

#[test]
fn events_v1_failed_delete_makes_pv_stuck() {
    let report = audit_json(&["released-rbd.yaml", "failed-delete-event-v1.yaml"]);
    let pv = volume(&report, PV);
    assert_eq!(pv["stuck"], true, "{pv}");
    assert_eq!(pv["on_delete"], "hangs");
    let evidence = pv["evidence"].to_string();
    assert!(evidence.contains("VolumeFailedDelete"), "{evidence}");
    assert!(evidence.contains("image still has watchers"), "{evidence}");
}

/// The model expects the provisioner to finish within the hour; three days of
/// `deletionTimestamp` say it does not.
#[test]
fn overdue_deletion_is_stuck() {
    let report = audit_json(&["terminating-rbd.yaml"]);
    let pv = volume(&report, PV);
    assert_eq!(pv["stuck"], true, "{pv}");
    assert!(pv["disagreement"].is_string(), "{pv}");
    let rules = crate::common::rules_of(&pv["findings"]);
    assert!(
        rules.contains(&"evidence-disagrees".to_owned()),
        "{rules:?}"
    );
}

#[test]
fn long_stuck_after_keeps_deletion_on_time() {
    let report = audit_json(&["--stuck-after", "100000d", "terminating-rbd.yaml"]);
    assert_eq!(report["stuckAfter"], "8640000000s");
    let pv = volume(&report, PV);
    assert_eq!(pv["stuck"], false, "{pv}");
    assert_eq!(pv["disagreement"], serde_json::Value::Null);
}

/// A threshold beyond what a duration holds is a usage error, not a panic
/// (debug builds) or a wrapped-around threshold (release builds).
#[test]
fn stuck_after_too_large_is_a_usage_error() {
    let run = crate::common::audit(&["--stuck-after", "999999999999999d", "clean.yaml"]);
    run.assert_code(2);
    assert!(run.stderr.contains("--stuck-after"), "{}", run.stderr);
}
