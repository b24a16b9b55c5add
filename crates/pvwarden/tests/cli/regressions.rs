//! Behaviour a first-time user tripped over, kept fixed.

use crate::common::{audit, pvwarden, TempDir};

const PV: &str = "apiVersion: v1\nkind: PersistentVolume\nmetadata: {name: dup}\nspec:\n  \
    persistentVolumeReclaimPolicy: POLICY\n  csi: {driver: nfs.csi.k8s.io, volumeHandle: h}\n";

/// Two files defining one PV: the last wins, as with `kubectl apply`, but the
/// user is told, since file order then decides the verdict.
#[test]
fn a_pv_defined_twice_is_warned_about() {
    let dir = TempDir::new("duplicate");
    let first = dir.write("a.yaml", PV.replace("POLICY", "Retain"));
    let second = dir.write("b.yaml", PV.replace("POLICY", "Delete"));
    let run = audit(&["-o", "json", &first, &second]);
    run.assert_no_panic();
    assert!(
        run.stderr.contains("warning: PersistentVolume dup at"),
        "{}",
        run.stderr
    );
    let report = run.json();
    assert_eq!(report["volumes"][0]["policy"], "Delete");
    assert!(report["input"]["warnings"][0]
        .as_str()
        .unwrap_or("")
        .contains("replaces"));
}

/// A claim straight out of `helm template` has no PV yet; with a Delete class,
/// deleting it once it is provisioned destroys its storage.
#[test]
fn an_unprovisioned_claim_takes_its_class_policy() {
    let dir = TempDir::new("unprovisioned");
    let yaml = "apiVersion: storage.k8s.io/v1\nkind: StorageClass\nmetadata: {name: fast}\n\
                provisioner: ebs.csi.aws.com\nreclaimPolicy: Delete\n---\n\
                apiVersion: v1\nkind: PersistentVolumeClaim\n\
                metadata: {name: data, namespace: app}\n\
                spec:\n  storageClassName: fast\n  accessModes: [ReadWriteOnce]\n  \
                resources: {requests: {storage: 1Gi}}\n";
    let path = dir.write("helm.yaml", yaml);
    let report = audit(&["-o", "json", &path]).json();
    assert_eq!(report["claims"][0]["on_delete"], "deleted");
    let retain = yaml.replace("reclaimPolicy: Delete", "reclaimPolicy: Retain");
    let path = dir.write("helm-retain.yaml", retain);
    let report = audit(&["-o", "json", &path]).json();
    assert_eq!(report["claims"][0]["on_delete"], "kept");
}

/// `decode -` reads standard input, and blank lines there are not handles.
#[test]
fn decode_reads_stdin_for_a_dash_and_skips_blank_lines() {
    let handle = "0001-0009-rook-ceph-0000000000000001-53f8e5d7-eff5-11f1-828d-136dfc58b12e";
    let run = pvwarden(["decode", "-"])
        .stdin(format!("\n{handle}\n\n"))
        .run();
    run.assert_code(0);
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{}", run.stdout);
    assert!(lines[0].contains("\"ok\":true"));
}
