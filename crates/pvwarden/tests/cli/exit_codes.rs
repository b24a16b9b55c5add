//! Exit codes: 0 nothing at or above `--fail-on`, 1 findings, 2 usage or input errors.

use crate::common::{audit, pvwarden, volume_names, NOW};

#[test]
fn clean_input_exits_zero() {
    let run = audit(&["clean.yaml"]);
    run.assert_code(0);
    assert!(run.stdout.contains("findings: none"), "{}", run.stdout);
}

#[test]
fn warning_fails_by_default() {
    audit(&["driver-not-installed.yaml"]).assert_code(1);
}

#[test]
fn fail_on_error_passes_warnings() {
    audit(&["--fail-on", "error", "driver-not-installed.yaml"]).assert_code(0);
}

#[test]
fn fail_on_error_still_fails_errors() {
    audit(&["--fail-on", "error", "helm-static-cephfs.yaml"]).assert_code(1);
}

#[test]
fn info_findings_fail_only_with_fail_on_info() {
    audit(&["retain-leaks-storage.yaml"]).assert_code(0);
    audit(&["--fail-on", "info", "retain-leaks-storage.yaml"]).assert_code(1);
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let run = audit(&["--no-such-flag", "clean.yaml"]);
    run.assert_code(2);
    assert!(run.stderr.contains("--no-such-flag"), "{}", run.stderr);
}

#[test]
fn ignoring_an_unknown_rule_is_a_usage_error() {
    let run = audit(&["--ignore", "no-such-rule", "clean.yaml"]);
    run.assert_code(2);
    assert!(run.stderr.contains("no-such-rule"), "{}", run.stderr);
    assert!(
        run.stdout.is_empty(),
        "no report may be printed: {}",
        run.stdout
    );
}

#[test]
fn malformed_kube_version_is_a_usage_error() {
    for bad in ["banana", "1.x", "1.2.3.4"] {
        let run = audit(&["--kube-version", bad, "clean.yaml"]);
        run.assert_code(2);
        assert!(
            run.stderr.contains("--kube-version"),
            "{bad}: {}",
            run.stderr
        );
    }
}

#[test]
fn unknown_severity_is_a_usage_error() {
    audit(&["--fail-on", "critical", "clean.yaml"]).assert_code(2);
}

#[test]
fn missing_file_is_an_input_error() {
    let run = audit(&["no-such-file.yaml"]);
    run.assert_code(2);
    assert!(run.stderr.contains("no-such-file.yaml"), "{}", run.stderr);
}

/// A broken document costs only itself: the rest is audited, the exit code
/// still says the input was bad, even though findings would make it 1.
#[test]
fn broken_document_exits_two_but_audits_the_rest() {
    let run = pvwarden(["audit", "-o", "json", "--now", NOW, "broken-document.yaml"]).run();
    run.assert_code(2);

    let report = run.json();
    assert_eq!(volume_names(&report), ["first-good", "second-good"]);
    let second = crate::common::volume(&report, "second-good");
    assert!(
        !second["findings"].as_array().expect("findings").is_empty(),
        "{second}"
    );
    assert_eq!(
        report["input"]["errors"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
}

#[test]
fn broken_document_error_names_file_and_line() {
    let run = audit(&["broken-document.yaml"]);
    run.assert_code(2);

    // The message names the file and a line of the broken document, which
    // runs from its `---` to the line before the next one.
    let start = crate::common::line_of("broken-document.yaml", "name: broken");
    let message = run
        .stderr
        .lines()
        .find(|l| l.starts_with("pvwarden: "))
        .unwrap_or_else(|| panic!("no pvwarden: line on stderr:\n{}", run.stderr));
    let after = message
        .split("broken-document.yaml:")
        .nth(1)
        .unwrap_or_else(|| panic!("file not named: {message}"));
    let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
    let line: u64 = digits
        .parse()
        .unwrap_or_else(|_| panic!("no line number: {message}"));
    assert!(
        (start - 3..=start + 3).contains(&line),
        "line {line} is not near {start}: {message}"
    );
}

/// The README's first command is `pvwarden audit --exit-zero examples/`.
#[test]
fn exit_zero_reports_findings_but_exits_zero() {
    let run = audit(&["--exit-zero", "helm-static-cephfs.yaml"]);
    run.assert_code(0);
    assert!(
        run.stdout.contains("static-delete-never-deletes"),
        "{}",
        run.stdout
    );
}

#[test]
fn exit_zero_still_reports_input_errors() {
    audit(&["--exit-zero", "broken-document.yaml"]).assert_code(2);
}

/// `main` promises that a broken pipe counts as success (`pvwarden audit | head`).
///
/// Each of these writes far more than a pipe holds, so the binary is bound to
/// write into the closed pipe whatever the timing.
#[test]
fn table_into_closed_pipe_counts_as_success() {
    let dir = crate::common::TempDir::new("table-pipe");
    let input = dir.write("many.yaml", many_hanging_pvs(PIPE_FILLER));
    let run = pvwarden(["audit", "--now", NOW, &input])
        .stdout_closed()
        .run();
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn sarif_into_closed_pipe_counts_as_success() {
    let dir = crate::common::TempDir::new("sarif-pipe");
    let input = dir.write("many.yaml", many_hanging_pvs(PIPE_FILLER));
    let run = pvwarden(["audit", "-o", "sarif", "--now", NOW, &input])
        .stdout_closed()
        .run();
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

#[test]
fn json_into_closed_pipe_counts_as_success() {
    let dir = crate::common::TempDir::new("json-pipe");
    let input = dir.write("many.yaml", many_hanging_pvs(PIPE_FILLER));
    let run = pvwarden(["audit", "-o", "json", "--now", NOW, &input])
        .stdout_closed()
        .run();
    run.assert_code(0);
    assert!(run.stderr.is_empty(), "{}", run.stderr);
}

/// How many PVs make every format's output outgrow a pipe's buffer (64 KiB on Linux).
const PIPE_FILLER: usize = 1000;

/// Static CephFS PVs with Delete and undecodable handles: each one a finding,
/// so that every format writes far more than a pipe holds.
fn many_hanging_pvs(count: usize) -> String {
    let mut yaml = String::new();
    for i in 0..count {
        yaml.push_str(&format!(
            "---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: share-{i:04}\n\
             spec:\n  persistentVolumeReclaimPolicy: Delete\n  csi:\n    driver: \
             cephfs.csi.ceph.com\n    volumeHandle: share-{i:04}\n    volumeAttributes:\n      \
             staticVolume: \"true\"\n      rootPath: /volumes/shares/{i}\n"
        ));
    }
    yaml
}
