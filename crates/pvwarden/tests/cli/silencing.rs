//! Silencing findings: ignore annotations, `--ignore`, and baselines.

use crate::common::{audit, audit_json, rules_of, volume, TempDir};

const RULE: &str = "static-delete-never-deletes";

#[test]
fn ignore_annotation_moves_finding_to_suppressed() {
    let report = audit_json(&["helm-static-cephfs-ignored.yaml"]);
    let pv = volume(&report, "team-share");
    assert_eq!(rules_of(&pv["findings"]), Vec::<String>::new());
    assert_eq!(rules_of(&pv["suppressed"]), [RULE]);
    let reason = &pv["suppressed"][0]["suppressed_because"];
    assert_eq!(reason, "the share is retired with its namespace (OPS-1432)");
    audit(&["helm-static-cephfs-ignored.yaml"]).assert_code(0);
}

#[test]
fn ignore_annotation_without_reason_is_invalid() {
    let report = audit_json(&["helm-static-cephfs-ignored-no-reason.yaml"]);
    let pv = volume(&report, "team-share");
    let mut rules = rules_of(&pv["findings"]);
    rules.sort();
    assert_eq!(rules, ["invalid-ignore", RULE]);
    assert!(pv.get("suppressed").is_none(), "{pv}");
    audit(&["helm-static-cephfs-ignored-no-reason.yaml"]).assert_code(1);
}

#[test]
fn ignore_flag_drops_the_rule() {
    let report = audit_json(&["--ignore", RULE, "helm-static-cephfs.yaml"]);
    let pv = volume(&report, "team-share");
    assert_eq!(rules_of(&pv["findings"]), Vec::<String>::new());
    assert!(pv.get("suppressed").is_none(), "{pv}");
    assert_eq!(report["summary"]["findings"], serde_json::json!({}));
    audit(&["--ignore", RULE, "helm-static-cephfs.yaml"]).assert_code(0);
}

#[test]
fn baseline_silences_recorded_findings() {
    let dir = TempDir::new("baseline");
    let baseline = dir.path("baseline.json");
    audit(&["--write-baseline", &baseline, "helm-static-cephfs.yaml"]).assert_code(1);

    let recorded: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&baseline).expect("baseline written"))
            .expect("baseline must be JSON");
    assert_eq!(recorded["kind"], "Baseline");
    assert_eq!(recorded["findings"][0]["rule"], RULE);

    let run = audit(&[
        "-o",
        "json",
        "--baseline",
        &baseline,
        "helm-static-cephfs.yaml",
    ]);
    run.assert_code(0);
    assert_eq!(run.json()["summary"]["findings"], serde_json::json!({}));
}

#[test]
fn baseline_still_fails_new_findings() {
    let dir = TempDir::new("baseline-new");
    let baseline = dir.path("baseline.json");
    audit(&["--write-baseline", &baseline, "helm-static-cephfs.yaml"]).assert_code(1);

    let run = audit(&[
        "-o",
        "json",
        "--baseline",
        &baseline,
        "helm-static-cephfs.yaml",
        "driver-not-installed.yaml",
    ]);
    run.assert_code(1);
    let report = run.json();
    assert_eq!(
        rules_of(&volume(&report, "team-share")["findings"]),
        Vec::<String>::new()
    );
    let new = volume(&report, "pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427");
    assert_eq!(rules_of(&new["findings"]), ["driver-not-installed"]);
}

#[test]
fn unreadable_baseline_is_an_error() {
    let dir = TempDir::new("baseline-bad");
    let baseline = dir.write("baseline.json", "{\"kind\": \"Something\"");
    let run = audit(&["--baseline", &baseline, "clean.yaml"]);
    run.assert_code(2);
    assert!(run.stderr.contains("baseline"), "{}", run.stderr);
}
