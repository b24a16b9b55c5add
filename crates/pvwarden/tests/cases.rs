//! Every real-world case in `testdata/cases/` audited as a user would, with the
//! verdicts of its `.expect.json` (derived from its `.expect.md`) asserted.
//!
//! The cases are rewritten from public bug reports; each asserts, per PV, who
//! made it, what deleting it does, whether it is stuck and which finalizers
//! hold it, and per claim what deleting it does and whether it is stuck.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// The time every case is judged at, so that ages of timestamps are fixed.
const NOW: &str = "2026-12-04T12:00:00Z";

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases")
}

fn audit(yaml: &Path, extra: &[String]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .arg("audit")
        .args(["-o", "json", "--now", NOW])
        .args(extra)
        .arg(yaml)
        .output()
        .expect("pvwarden must run");
    let code = output.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "{}: exit {code:?}, stderr: {}",
        yaml.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("audit -o json must print JSON")
}

fn check_case(name: &str) {
    let dir = cases_dir();
    let yaml = dir.join(format!("{name}.yaml"));
    let expect: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(format!("{name}.expect.json"))).expect("expect.json"),
    )
    .expect("expect.json must parse");
    let extra: Vec<String> = expect["audit_args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let report = audit(&yaml, &extra);

    let volumes = report["volumes"].as_array().expect("volumes array");
    let expected = expect["volumes"].as_object().expect("volumes object");
    for (pv, want) in expected {
        let got = volumes
            .iter()
            .find(|v| v["name"] == pv.as_str())
            .unwrap_or_else(|| panic!("{name}: PV {pv} missing from the report"));
        for field in ["provisioning", "on_delete", "stuck", "blocking_finalizers"] {
            assert_eq!(
                got[field], want[field],
                "{name}: PV {pv}: {field}\nreason: {}\nstory: {}",
                got["on_delete_reason"], got["stuck_reason"]
            );
        }
    }
    let claims = report["claims"].as_array().expect("claims array");
    for (key, want) in expect["claims"].as_object().expect("claims object") {
        let (ns, claim) = key.split_once('/').expect("claims are namespace/name");
        let got = claims
            .iter()
            .find(|c| c["namespace"] == ns && c["name"] == claim)
            .unwrap_or_else(|| panic!("{name}: claim {key} missing from the report"));
        for field in ["on_delete", "stuck"] {
            assert_eq!(
                got[field], want[field],
                "{name}: claim {key}: {field}: {got}"
            );
        }
    }
}

macro_rules! cases {
    ($($test:ident => $file:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check_case($file);
            }
        )*

        /// Every case file in the directory has a test above.
        #[test]
        fn every_case_file_has_a_test() {
            let known = [$($file),*];
            for entry in std::fs::read_dir(cases_dir()).expect("cases dir") {
                let name = entry.expect("entry").file_name().into_string().expect("utf-8");
                if let Some(stem) = name.strip_suffix(".expect.json") {
                    assert!(known.contains(&stem), "case {stem} has no test");
                }
            }
        }
    };
}

cases! {
    rook_cephfs_static_share_hangs => "01-rook-cephfs-static-share-newnamespace";
    static_pv_marked_failed_hangs => "03-infoscale-static-failed-phase-finalizer";
    static_rbd_retain_is_kept => "05-rook-rbd-static-retain-underflow";
    claim_held_by_running_pod => "07-rook-rbd-pvc-terminating-pod-still-running";
    attacher_finalizer_holds_released_pv => "09-vsphere-released-attacher-finalizer-cns-gone";
    overdue_deletion_is_stuck_despite_model => "11-azuredisk-finalizer-race-backend-deleted";
    longhorn_attacher_finalizer_hangs => "13-longhorn-pv-terminating-attacher-finalizer";
    legacy_rbd_handle_hangs => "15-cephcsi-legacy-v1-volume-id";
    duplicate_handle_both_delete => "17-vsphere-duplicate-volumehandle-file-share";
    failing_rbd_without_finalizer_orphans => "19-cephcsi-rbd-released-cephx-disabled";
    adopted_encoded_handle_destroys_image => "21-cephcsi-rbd-handcrafted-encoded-handle-adoption";
    stale_claim_ref_keeps_claim_pending => "23-smb-released-pv-stale-claimref-uid";
    doc_example_handles_do_not_decode => "25-rook-doc-example-clusterid-length-mismatch";
    deleted_pool_on_old_ceph_csi => "27-cephcsi-rbd-pool-deleted-before-pv";
}
