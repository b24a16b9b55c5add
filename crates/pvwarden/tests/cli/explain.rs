//! `pvwarden explain`: the story of one PV or claim, with the ways out.

use crate::common::explain;

/// The Rook share case from `testdata/cases/`, read where it lives.
const ROOK_CASE: &str = "../../../../testdata/cases/01-rook-cephfs-static-share-newnamespace.yaml";
const SHARE_COPY: &str = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer";
const ORIGINAL: &str = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27";

#[test]
fn explain_pv_prints_every_section() {
    let run = explain(&[SHARE_COPY, ROOK_CASE]);
    run.assert_code(0);
    let out = &run.stdout;
    assert!(
        out.starts_with(&format!("PersistentVolume {SHARE_COPY} ")),
        "{out}"
    );
    for section in [
        "\nWho made it: static",
        "\nWhat happens, step by step:",
        "\nVerdict:",
        "\nWays out, safest first:",
        "\nMust not:",
    ] {
        assert!(out.contains(section), "missing {section:?}:\n{out}");
    }
    assert!(
        out.contains("on delete (the deletion already under way): hangs"),
        "{out}"
    );
}

/// The safe way out of the stuck share copy is to switch it to Retain.
#[test]
fn explain_pv_gives_the_retain_command() {
    let run = explain(&[SHARE_COPY, ROOK_CASE]);
    let command = format!(
        "$ kubectl patch pv {SHARE_COPY} --type merge -p \
         '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'"
    );
    let ways_out = run
        .stdout
        .split("Ways out, safest first:")
        .nth(1)
        .expect("ways out");
    let first = ways_out.split("\n  2. ").next().expect("first way out");
    assert!(first.contains("patch the PV to Retain"), "{first}");
    assert!(first.contains(&command), "missing {command}:\n{first}");
}

#[test]
fn explain_claim_prints_claim_and_its_pv() {
    let run = explain(&["app-origin/shared-data", ROOK_CASE]);
    run.assert_code(0);
    let out = &run.stdout;
    assert!(
        out.starts_with("PersistentVolumeClaim app-origin/shared-data "),
        "{out}"
    );
    assert!(out.contains(&format!("bound to PV {ORIGINAL}\n")), "{out}");
    assert!(
        out.contains(&format!("\nPersistentVolume {ORIGINAL} ")),
        "{out}"
    );
    assert!(out.contains("\nVerdict:"), "{out}");
}

#[test]
fn explain_unknown_pv_exits_two() {
    let run = explain(&["no-such-pv", ROOK_CASE]);
    run.assert_code(2);
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    assert!(
        run.stderr.contains("no PV no-such-pv in the input"),
        "{}",
        run.stderr
    );
}

#[test]
fn explain_unknown_pv_suggests_close_names() {
    let run = explain(&["pvc-468804a2", ROOK_CASE]);
    run.assert_code(2);
    assert!(run.stderr.contains("did you mean"), "{}", run.stderr);
    assert!(run.stderr.contains(SHARE_COPY), "{}", run.stderr);
}

#[test]
fn explain_unknown_claim_exits_two() {
    let run = explain(&["nowhere/nothing", ROOK_CASE]);
    run.assert_code(2);
    assert!(
        run.stderr.contains("no claim nowhere/nothing in the input"),
        "{}",
        run.stderr
    );
}

#[test]
fn explain_json_parses() {
    let run = explain(&["--json", SHARE_COPY, ROOK_CASE]);
    run.assert_code(0);
    let doc = run.json();
    assert_eq!(doc["apiVersion"], "pvwarden.io/v1");
    assert_eq!(doc["kind"], "Explanation");
    assert_eq!(doc["claim"], serde_json::Value::Null);
    assert_eq!(doc["volume"]["name"], SHARE_COPY);
    assert_eq!(doc["volume"]["on_delete"], "hangs");
    assert!(
        doc["volume"]["story"]
            .as_array()
            .is_some_and(|s| !s.is_empty()),
        "{doc}"
    );
    assert_eq!(doc["assumptions"]["kubernetes"]["basis"]["kind"], "default");
}

#[test]
fn explain_json_for_claim_has_both() {
    let doc = explain(&["--json", "app-origin/shared-data", ROOK_CASE]).json();
    assert_eq!(doc["claim"]["name"], "shared-data");
    assert_eq!(doc["claim"]["volume"], ORIGINAL);
    assert_eq!(doc["volume"]["name"], ORIGINAL);
}

#[test]
fn explain_reads_standard_input() {
    let stdin = std::fs::read(crate::common::data_dir().join(ROOK_CASE)).expect("case file");
    let run = crate::common::pvwarden(["explain", "--now", crate::common::NOW, SHARE_COPY, "-"])
        .stdin(stdin)
        .run();
    run.assert_code(0);
    assert!(
        run.stdout
            .contains(&format!("PersistentVolume {SHARE_COPY}  (-:")),
        "{}",
        run.stdout
    );
}
