//! What `audit` reads: directories, stdin, lists, multi-document streams and
//! `helm template` output without status.

use crate::common::{audit_json, fixture, pvwarden, volume, volume_names, NOW};

#[test]
fn directory_is_walked_recursively() {
    let report = audit_json(&["tree"]);

    let mut names = volume_names(&report);
    names.sort();
    assert_eq!(
        names,
        [
            "imported-from-json",
            "legacy-db",
            "pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427"
        ]
    );
    assert_eq!(
        volume(&report, "imported-from-json")["origin"]["file"],
        "tree/apps/storage/imported.json"
    );
    assert_eq!(
        volume(&report, "legacy-db")["origin"]["file"],
        "tree/apps/storage/legacy.yml"
    );
}

/// `tree/` also holds `NOTES.txt` and `.cache/stale.yaml`, both broken: a walk
/// that read them would report errors and exit 2.
#[test]
fn directory_walk_skips_hidden_and_other_files() {
    let run = pvwarden(["audit", "-o", "json", "--now", NOW, "tree"]).run();
    run.assert_code(1);
    let report = run.json();
    assert_eq!(
        report["input"]["errors"],
        serde_json::json!([]),
        "{}",
        run.stderr
    );
}

#[test]
fn dash_reads_standard_input() {
    let run = pvwarden(["audit", "-o", "json", "--now", NOW, "-"])
        .stdin(fixture("clean.yaml"))
        .run();
    run.assert_code(0);
    let report = run.json();
    let pv = volume(&report, "pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427");
    assert_eq!(pv["origin"]["file"], "-");
    assert_eq!(report["summary"]["claims"], 1);
}

#[test]
fn helm_output_on_standard_input_is_audited() {
    let stdin = fixture("helm-static-cephfs.yaml");
    let run = pvwarden(["audit", "-o", "json", "--now", NOW, "-"])
        .stdin(stdin)
        .run();
    run.assert_code(1);
    assert_eq!(volume_names(&run.json()), ["team-share"]);
}

#[test]
fn kind_list_items_are_audited_and_others_skipped() {
    let report = audit_json(&["list.yaml"]);
    assert_eq!(volume_names(&report), ["list-pv-one", "list-pv-two"]);
    assert_eq!(
        report["input"]["skipped"],
        serde_json::json!({ "ConfigMap": 1 })
    );
}

/// API server LIST responses leave `kind` and `apiVersion` off their items.
#[test]
fn typed_list_items_take_the_list_kind() {
    let report = audit_json(&["pv-list.json"]);
    assert_eq!(volume_names(&report), ["api-pv-one", "api-pv-two"]);
    assert_eq!(volume(&report, "api-pv-one")["phase"], "Available");
    assert_eq!(report["input"]["errors"], serde_json::json!([]));
}

#[test]
fn unrelated_kinds_are_skipped_and_counted() {
    let report = audit_json(&["helm-stream.yaml"]);
    assert_eq!(volume_names(&report), ["stream-pv"]);
    let skipped = serde_json::json!({ "ConfigMap": 2, "Ingress": 1, "Service": 1 });
    assert_eq!(report["input"]["skipped"], skipped);
    assert_eq!(report["input"]["errors"], serde_json::json!([]));
}

#[test]
fn several_paths_are_audited_together() {
    let report = audit_json(&["clean.yaml", "released-static-ebs.yaml"]);
    assert_eq!(
        volume_names(&report),
        ["pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427", "legacy-db"]
    );
}

/// `helm template` output carries no status: the PV is judged as freshly
/// applied, and its first claim's deletion hangs on the undecodable handle.
#[test]
fn helm_static_cephfs_share_without_status_hangs() {
    let report = audit_json(&["helm-static-cephfs.yaml"]);
    let pv = volume(&report, "team-share");
    assert_eq!(pv["provisioning"], "static");
    assert_eq!(pv["phase"], "Pending");
    assert_eq!(pv["on_delete"], "hangs");
    assert_eq!(pv["stuck"], false);
    let finalizer = "external-provisioner.volume.kubernetes.io/finalizer";
    assert_eq!(pv["blocking_finalizers"], serde_json::json!([finalizer]));
    assert!(
        crate::common::rules_of(&pv["findings"]).contains(&"static-delete-never-deletes".into())
    );
}

/// The claim pins the PV with `spec.volumeName`; the PV has no claimRef yet.
/// Kubernetes binds the two, so deleting this claim is what makes the PV hang.
#[test]
fn claim_prebinding_a_volume_shares_its_fate() {
    let report = audit_json(&["helm-static-cephfs.yaml"]);
    let claim = crate::common::claim(&report, "team", "team-share");
    assert_eq!(claim["volume"], "team-share", "{claim}");
    assert_eq!(claim["on_delete"], "hangs", "{claim}");
}
