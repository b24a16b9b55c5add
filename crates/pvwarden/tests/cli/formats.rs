//! The report formats of `audit`: json, yaml, sarif, table and wide.

use std::collections::BTreeSet;

use crate::common::{audit, audit_json, line_of, pvwarden, NOW};

const ESC: char = '\u{1b}';

/// The keys at the top of a report, in either format.
const REPORT_KEYS: [&str; 10] = [
    "apiVersion",
    "assumptions",
    "claims",
    "input",
    "kind",
    "now",
    "schemaVersion",
    "stuckAfter",
    "summary",
    "volumes",
];

#[test]
fn json_report_has_versioned_top_level_fields() {
    let report = audit_json(&["clean.yaml"]);
    let keys: BTreeSet<&str> = report
        .as_object()
        .expect("report must be an object")
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(REPORT_KEYS));
    assert_eq!(report["apiVersion"], "pvwarden.io/v1");
    assert_eq!(report["kind"], "AuditReport");
    assert_eq!(report["schemaVersion"], 1);
    assert_eq!(report["now"], NOW);
    assert_eq!(report["stuckAfter"], "3600s");
}

#[test]
fn json_assumptions_give_default_versions_and_basis() {
    let report = audit_json(&["clean.yaml"]);
    let a = &report["assumptions"];
    for (component, version) in [
        ("kubernetes", "1.37.0"),
        ("provisioner", "6.3.0"),
        ("ceph_csi", "3.12.0"),
    ] {
        assert_eq!(a[component]["value"], version, "{component}: {a}");
        assert_eq!(a[component]["basis"]["kind"], "default", "{component}: {a}");
    }
    assert_eq!(a["honor_reclaim_policy_gate"], serde_json::Value::Null);
}

#[test]
fn json_summary_counts_the_verdicts() {
    let report = audit_json(&["clean.yaml", "helm-static-cephfs.yaml"]);
    let summary = &report["summary"];
    assert_eq!(summary["volumes"], 2);
    assert_eq!(summary["claims"], 2);
    assert_eq!(
        summary["on_delete"],
        serde_json::json!({ "deleted": 1, "hangs": 1 })
    );
    assert_eq!(report["volumes"].as_array().map(Vec::len), Some(2));
    assert_eq!(report["claims"].as_array().map(Vec::len), Some(2));
}

#[test]
fn json_story_only_with_story_flag() {
    let plain = audit_json(&["helm-static-cephfs.yaml"]);
    assert!(
        plain["volumes"][0].get("story").is_none(),
        "{}",
        plain["volumes"][0]
    );

    let told = audit_json(&["--story", "helm-static-cephfs.yaml"]);
    let story = told["volumes"][0]["story"]
        .as_array()
        .expect("story must be present");
    assert!(!story.is_empty());
}

#[test]
fn yaml_report_has_the_json_top_level_keys() {
    let run = audit(&["-o", "yaml", "helm-static-cephfs.yaml"]);
    run.assert_code(1);
    let keys: BTreeSet<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with([' ', '-', '#']) && !l.is_empty())
        .filter_map(|l| l.split_once(':').map(|(key, _)| key))
        .collect();
    assert_eq!(keys, BTreeSet::from(REPORT_KEYS), "{}", run.stdout);
    for line in [
        "apiVersion: pvwarden.io/v1",
        "kind: AuditReport",
        "schemaVersion: 1",
    ] {
        assert!(
            run.stdout.lines().any(|l| l == line),
            "missing {line:?}:\n{}",
            run.stdout
        );
    }
    assert!(run.stdout.contains("  on_delete: hangs"), "{}", run.stdout);
    assert!(run.stdout.contains("  name: team-share"), "{}", run.stdout);
}

/// The YAML report read back by pvwarden's own manifest reader: one document
/// of an unknown kind, no syntax error.
#[test]
fn yaml_report_parses_back() {
    let run = audit(&["-o", "yaml", "helm-static-cephfs.yaml"]);
    let dir = crate::common::TempDir::new("yaml-back");
    let path = dir.write("report.yaml", &run.stdout);

    let back = audit_json(&[&path]);
    assert_eq!(back["input"]["documents"], 1, "{}", back["input"]);
    assert_eq!(
        back["input"]["skipped"],
        serde_json::json!({ "AuditReport": 1 })
    );
    assert_eq!(back["input"]["errors"], serde_json::json!([]));
}

#[test]
fn sarif_report_locates_findings_on_the_pv_line() {
    let run = audit(&["-o", "sarif", "helm-static-cephfs.yaml"]);
    run.assert_code(1);
    let sarif = run.json();
    assert_eq!(sarif["version"], "2.1.0");
    assert_eq!(sarif["runs"][0]["tool"]["driver"]["name"], "pvwarden");

    let results = sarif["runs"][0]["results"]
        .as_array()
        .expect("results must be an array");
    assert_eq!(results.len(), 1, "{results:?}");
    let result = &results[0];
    assert_eq!(result["ruleId"], "static-delete-never-deletes");
    assert_eq!(result["level"], "error");
    let location = &result["locations"][0]["physicalLocation"];
    assert_eq!(
        location["artifactLocation"]["uri"],
        "helm-static-cephfs.yaml"
    );
    // The PV's document starts at its `apiVersion`, the line above its kind.
    let line = line_of("helm-static-cephfs.yaml", "kind: PersistentVolume") - 1;
    assert_eq!(location["region"]["startLine"], line);
}

#[test]
fn sarif_warning_level_for_warnings() {
    let sarif = audit(&["-o", "sarif", "driver-not-installed.yaml"]).json();
    let result = &sarif["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "driver-not-installed");
    assert_eq!(result["level"], "warning");
    let line = line_of("driver-not-installed.yaml", "kind: PersistentVolume") - 1;
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"]["startLine"],
        line
    );
}

#[test]
fn sarif_lists_every_rule() {
    let sarif = audit(&["-o", "sarif", "clean.yaml"]).json();
    let rules = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .expect("rules array");
    let ids: Vec<&str> = rules.iter().filter_map(|r| r["id"].as_str()).collect();
    let expected: Vec<&str> = pvwarden_domain::rule::RULES.iter().map(|r| r.id).collect();
    assert_eq!(ids, expected);
}

#[test]
fn table_has_header_and_one_row_per_pv() {
    let run = audit(&["clean.yaml", "helm-static-cephfs.yaml"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "DRIVER",
            "PROVISIONING",
            "POLICY",
            "PHASE",
            "ON-DELETE",
            "STUCK",
            "FINDING"
        ]
    );
    let rows: Vec<&str> = lines[1..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect();
    assert_eq!(rows.len(), 2, "{}", run.stdout);
    assert!(
        rows[0].starts_with("pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427 "),
        "{}",
        rows[0]
    );
    let team: Vec<&str> = rows[1].split_whitespace().collect();
    assert_eq!(
        team[..7],
        [
            "team-share",
            "cephfs.csi.ceph.com",
            "static",
            "Delete",
            "Pending",
            "hangs",
            "no"
        ]
    );
}

#[test]
fn table_lists_claims_after_volumes() {
    let run = audit(&["clean.yaml"]);
    let claims = run
        .stdout
        .lines()
        .skip_while(|l| !l.starts_with("CLAIM"))
        .collect::<Vec<_>>();
    let header: Vec<&str> = claims
        .first()
        .expect("claim table")
        .split_whitespace()
        .collect();
    assert_eq!(header, ["CLAIM", "VOLUME", "ON-DELETE", "STUCK", "FINDING"]);
    assert!(claims[1].starts_with("shop/db-data "), "{}", run.stdout);
}

#[test]
fn wide_table_adds_blocking_and_origin() {
    let run = audit(&["-o", "wide", "helm-static-cephfs.yaml"]);
    let lines: Vec<&str> = run.stdout.lines().collect();
    let header: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        header,
        [
            "NAME",
            "DRIVER",
            "PROVISIONING",
            "POLICY",
            "PHASE",
            "ON-DELETE",
            "STUCK",
            "BLOCKING",
            "ORIGIN",
            "FINDING"
        ]
    );
    let row: Vec<&str> = lines[1].split_whitespace().collect();
    assert_eq!(
        row[7],
        "external-provisioner.volume.kubernetes.io/finalizer"
    );
    let line = line_of("helm-static-cephfs.yaml", "kind: PersistentVolume") - 1;
    assert_eq!(row[8], format!("helm-static-cephfs.yaml:{line}"));
}

#[test]
fn table_has_no_color_when_not_a_terminal() {
    for format in ["table", "wide"] {
        let run = audit(&["-o", format, "helm-static-cephfs.yaml"]);
        assert!(!run.stdout.contains(ESC), "{format}: {:?}", run.stdout);
    }
}

#[test]
fn color_always_paints_the_table() {
    let run = audit(&["--color", "always", "helm-static-cephfs.yaml"]);
    assert!(
        run.stdout.contains("\u{1b}[31mhangs\u{1b}[0m"),
        "{:?}",
        run.stdout
    );
}

#[test]
fn color_never_leaves_the_table_plain() {
    let run = audit(&["--color", "never", "helm-static-cephfs.yaml"]);
    assert!(!run.stdout.contains(ESC), "{:?}", run.stdout);
}

/// Log lines and error messages on a redirected stderr end up in CI logs and
/// files, where escape codes are noise.
#[test]
fn stderr_has_no_color_when_not_a_terminal() {
    let run = pvwarden(["audit", "--now", NOW, "broken-document.yaml"]).run();
    run.assert_code(2);
    assert!(!run.stderr.contains(ESC), "{:?}", run.stderr);
}
