//! Hostile input: never a panic, always an error that names the file.
//!
//! The inputs are generated into a temporary directory: they are large or
//! binary, and their exact bytes matter less than their shape.

use crate::common::{audit, pvwarden, Run, TempDir, NOW};

/// Audits one generated file and checks the run failed cleanly, naming it.
fn audit_hostile(test: &str, name: &str, contents: &[u8]) -> Run {
    let dir = TempDir::new(test);
    let path = dir.write(name, contents);
    let run = audit(&["-o", "json", &path]);
    run.assert_no_panic();
    run.assert_code(2);
    let message = run
        .stderr
        .lines()
        .find(|l| l.starts_with("pvwarden: "))
        .unwrap_or_default();
    assert!(
        message.contains(name),
        "the error must name {name}:\n{}",
        run.stderr
    );
    // The report is still a report, with the error in it.
    let report = run.json();
    assert_eq!(
        report["input"]["errors"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    run
}

/// Bytes from a fixed linear congruential sequence: noise, but the same noise every run.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed;
    (0..len)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            state.to_be_bytes()[0]
        })
        .collect()
}

#[test]
fn binary_garbage_is_an_input_error() {
    let mut bytes = noise(8192, 1);
    bytes[100] = 0;
    audit_hostile("binary", "garbage.yaml", &bytes);
}

#[test]
fn invalid_utf8_is_an_input_error() {
    // High bytes without NUL: looks like text until it is decoded.
    let bytes: Vec<u8> = noise(8192, 2).into_iter().map(|b| b | 0x80).collect();
    let mut input = b"apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: ".to_vec();
    input.extend(bytes);
    audit_hostile("utf8", "latin1.yaml", &input);
}

#[test]
fn empty_file_is_a_warning_not_an_error() {
    // An empty rendered template is common in a GitOps tree; it holds nothing
    // to audit and must not fail a pipeline.
    let dir = TempDir::new("empty");
    let path = dir.write("empty.yaml", b"");
    let run = audit(&["-o", "json", &path]);
    run.assert_no_panic();
    run.assert_code(0);
    assert!(
        run.stderr.contains("warning: ") && run.stderr.contains("empty.yaml"),
        "{}",
        run.stderr
    );
    assert!(run.json()["input"]["warnings"][0]
        .as_str()
        .unwrap_or("")
        .contains("empty.yaml"));
}

#[test]
fn blank_file_is_a_warning_not_an_error() {
    let dir = TempDir::new("blank");
    let path = dir.write("blank.yaml", b"\n  \n\t\n");
    let run = audit(&["-o", "json", &path]);
    run.assert_no_panic();
    run.assert_code(0);
    assert!(run.stderr.contains("blank.yaml"), "{}", run.stderr);
}

#[test]
fn two_megabyte_line_is_an_input_error() {
    audit_hostile("long-line", "long.yaml", "x".repeat(2 << 20).as_bytes());
}

#[test]
fn two_megabyte_annotation_is_read() {
    let dir = TempDir::new("long-annotation");
    let yaml = format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: long-note\n  annotations:\n    \
         note: \"{}\"\nspec:\n  persistentVolumeReclaimPolicy: Retain\n  csi:\n    driver: \
         ebs.csi.aws.com\n    volumeHandle: vol-0123456789abcdef0\n",
        "y".repeat(2 << 20)
    );
    let path = dir.write("long-note.yaml", yaml);
    let run = audit(&["-o", "json", &path]);
    run.assert_code(0);
    assert_eq!(crate::common::volume_names(&run.json()), ["long-note"]);
}

#[test]
fn deeply_nested_block_yaml_is_an_input_error() {
    let mut yaml =
        String::from("apiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: deep\n");
    yaml.push_str("spec:\n");
    for depth in 1..5000 {
        yaml.push_str(&"  ".repeat(depth));
        yaml.push_str("- a:\n");
    }
    audit_hostile("deep-block", "deep-block.yaml", yaml.as_bytes());
}

#[test]
fn deeply_nested_flow_yaml_is_an_input_error() {
    audit_hostile(
        "deep-flow",
        "deep-flow.yaml",
        "[".repeat(200_000).as_bytes(),
    );
}

#[test]
fn deeply_nested_json_is_an_input_error() {
    audit_hostile(
        "deep-json",
        "deep.json",
        "{\"a\":".repeat(200_000).as_bytes(),
    );
}

#[test]
fn garbage_on_standard_input_names_stdin() {
    let mut bytes = noise(4096, 3);
    bytes[0] = 0;
    let run = pvwarden(["audit", "--now", NOW, "-"]).stdin(bytes).run();
    run.assert_no_panic();
    run.assert_code(2);
    assert!(run.stderr.contains("pvwarden: - "), "{}", run.stderr);
}

#[test]
fn garbage_among_good_files_keeps_the_good_ones() {
    let dir = TempDir::new("garbage-among-good");
    let mut bytes = noise(4096, 4);
    bytes[10] = 0;
    let garbage = dir.write("garbage.yaml", bytes);
    let clean = crate::common::data_dir().join("clean.yaml");
    let clean = clean.to_str().expect("UTF-8 path");
    let run = audit(&["-o", "json", &garbage, clean]);
    run.assert_code(2);
    let names = crate::common::volume_names(&run.json());
    assert_eq!(names, ["pvc-1b4e28ba-2fa1-11d2-883f-0016d3cca427"]);
}

/// "failed to open x.yaml" alone does not say whether the file is missing or unreadable.
#[test]
fn input_error_gives_the_reason() {
    let run = audit(&["no-such-file.yaml"]);
    run.assert_code(2);
    let message = run
        .stderr
        .lines()
        .find(|l| l.starts_with("pvwarden: "))
        .unwrap_or_default();
    assert!(message.contains("os error 2"), "{message}");
}
