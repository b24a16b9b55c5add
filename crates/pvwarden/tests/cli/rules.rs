//! `pvwarden rules`: every rule with its severity.

use pvwarden_domain::rule::RULES;

use crate::common::pvwarden;

#[test]
fn rules_lists_every_rule_id() {
    let run = pvwarden(["rules"]).run();
    run.assert_code(0);
    let mut lines = run.stdout.lines();
    let header: Vec<&str> = lines.next().expect("header").split_whitespace().collect();
    assert_eq!(header, ["RULE", "SEVERITY", "SUMMARY"]);

    let listed: Vec<(&str, &str)> = lines
        .map(|l| {
            let mut words = l.split_whitespace();
            (
                words.next().expect("rule id"),
                words.next().expect("severity"),
            )
        })
        .collect();
    // The model's rules, then those of the Ceph storage audit.
    let expected: Vec<(&str, &str)> = RULES
        .iter()
        .chain(pvwarden_ceph::report::RULES)
        .map(|r| (r.id, r.severity.as_str()))
        .collect();
    assert_eq!(listed, expected);
}

/// The rules this suite's fixtures rely on exist under these ids.
#[test]
fn rules_include_the_documented_ids() {
    let run = pvwarden(["rules"]).run();
    for id in [
        "static-delete-never-deletes",
        "static-delete-destroys-data",
        "pv-stuck",
        "delete-will-hang",
        "delete-orphans-storage",
        "driver-not-installed",
        "evidence-disagrees",
        "retain-leaks-storage",
        "invalid-ignore",
    ] {
        assert!(
            run.stdout.lines().any(|l| l.starts_with(&format!("{id} "))),
            "{id} missing"
        );
    }
}
