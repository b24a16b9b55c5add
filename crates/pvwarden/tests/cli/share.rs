//! `pvwarden share`, `unshare` and `static`: what they write passes the audit,
//! and the audit of the result says the storage is safe.

use serde_json::Value;

use crate::common::{audit_json, pvwarden, rules_of, volume, TempDir};

const SOURCE: &str = "share-source.yaml";
const CEPHFS: &str = "pvc-5a1f3c20-7d4e-4b8a-9c61-2e0f8d7b6a01";
const RBD: &str = "pvc-9b2e4d61-1a3c-4f58-8e70-4c6a2f9d3e12";
const SHARE: &str = "share-team-b-media";

/// `pvwarden share` with these arguments; its output must be a success.
fn share(args: &[&str]) -> String {
    let run = pvwarden(["share"].iter().chain(args)).run();
    run.assert_code(0);
    run.stdout
}

/// Comments joined back into lines, as a reader takes them in.
fn unwrapped(text: &str) -> String {
    text.replace("\n# ", " ")
}

/// Every finding of a report at warning or above, as `object: rule`.
fn serious(report: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for list in ["volumes", "claims"] {
        for object in report[list]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
        {
            for finding in object["findings"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default()
            {
                if finding["severity"] != "info" {
                    out.push(format!("{}: {}", object["name"], finding["rule"]));
                }
            }
        }
    }
    out
}

#[test]
fn a_share_alone_passes_the_audit() {
    let dir = TempDir::new("share-alone");
    let out = dir.write(
        "share.yaml",
        share(&[CEPHFS, SOURCE, "--to-namespace", "team-b"]),
    );
    let report = audit_json(&[&out]);
    assert_eq!(serious(&report), Vec::<String>::new(), "{report}");
    assert_eq!(volume(&report, SHARE)["on_delete"], "kept");
}

#[test]
fn source_and_share_are_one_safe_shared_backend() {
    let dir = TempDir::new("share-together");
    let out = dir.write(
        "share.yaml",
        share(&[CEPHFS, SOURCE, "--to-namespace", "team-b"]),
    );
    let report = audit_json(&[SOURCE, &out]);
    assert_eq!(serious(&report), Vec::<String>::new(), "{report}");
    for pv in [CEPHFS, SHARE] {
        let verdict = volume(&report, pv);
        assert_eq!(
            rules_of(&verdict["findings"]),
            ["shared-volume"],
            "{verdict}"
        );
        assert_eq!(verdict["on_delete"], "kept", "{verdict}");
    }
    // The source is protected: the written copy switched it to Retain.
    assert_eq!(volume(&report, CEPHFS)["policy"], "Retain");
}

#[test]
fn a_source_on_delete_is_switched_and_the_output_says_why() {
    let out = share(&[CEPHFS, SOURCE, "--to-namespace", "team-b"]);
    let source_doc = out
        .split("\n---\n")
        .find(|d| d.contains(&format!("name: {CEPHFS}")))
        .expect("the source's change is written");
    let source_doc = unwrapped(source_doc);
    assert!(
        source_doc.contains("changes from Delete to Retain"),
        "{source_doc}"
    );
    assert!(source_doc.contains("persistentVolumeReclaimPolicy: Retain"));
    assert!(source_doc.contains("share.pvwarden.io/original-policy: Delete"));
    assert!(!source_doc.contains("status:"), "{source_doc}");
}

#[test]
fn the_share_copies_no_provisioner_markers_and_names_the_user_secret() {
    let out = share(&[CEPHFS, SOURCE, "--to-namespace", "team-b"]);
    let share_doc = out
        .split("\n---\n")
        .find(|d| d.contains(&format!("name: {SHARE}")))
        .map(unwrapped)
        .expect("the share is written");
    for copied in [
        "provisioned-by",
        "csiProvisionerIdentity",
        "subvolumeName",
        "pool:",
    ] {
        assert!(!share_doc.contains(copied), "{copied} copied:\n{share_doc}");
    }
    for wanted in [
        "staticVolume: \"true\"",
        "rootPath: /volumes/csi/csi-vol-3c8e1d52-6f0a-4e27-b9d4-8a2c5e7f1b03/7e2b9a14",
        "name: rook-csi-cephfs-node-user",
        "volumeHandle: pvwarden-share-team-b-media",
        "share.pvwarden.io/source: pvc-5a1f3c20",
        "adminID to userID",
        "not checked against Ceph",
    ] {
        assert!(share_doc.contains(wanted), "missing {wanted}:\n{share_doc}");
    }
}

/// A share later switched to Delete, as in the Rook guide's broken form, can
/// only hang: its handle never reaches the storage.
#[test]
fn a_share_flipped_to_delete_hangs_and_destroys_nothing() {
    let dir = TempDir::new("share-flip");
    let out = share(&[CEPHFS, SOURCE, "--to-namespace", "team-b"]);
    let (before, after) = out
        .split_once(&format!("name: {SHARE}"))
        .expect("the share");
    let after = after.replacen(
        "persistentVolumeReclaimPolicy: Retain",
        "persistentVolumeReclaimPolicy: Delete",
        1,
    );
    let flipped = dir.write("flipped.yaml", format!("{before}name: {SHARE}{after}"));
    let report = audit_json(&[SOURCE, &flipped]);
    let verdict = volume(&report, SHARE);
    assert_eq!(verdict["policy"], "Delete");
    assert_eq!(verdict["on_delete"], "hangs", "{verdict}");
    assert!(rules_of(&verdict["findings"]).contains(&"static-delete-never-deletes".to_owned()));
    assert_eq!(volume(&report, CEPHFS)["on_delete"], "kept");
}

#[test]
fn rbd_is_shared_only_read_only() {
    let run = pvwarden(["share", RBD, SOURCE, "--to-namespace", "team-b"]).run();
    run.assert_code(2);
    assert!(run.stderr.contains("is an RBD image"), "{}", run.stderr);
    assert!(run.stderr.contains("--read-only"), "{}", run.stderr);
    assert!(run.stdout.is_empty());

    let dir = TempDir::new("share-rbd");
    let out = share(&[RBD, SOURCE, "--to-namespace", "team-b", "--read-only"]);
    assert!(out.contains("volumeHandle: csi-vol-4d9f2e63-7a1b-4f38-c0e5-9b3d6f8a2c14"));
    assert!(out.contains("- ReadOnlyMany"));
    let path = dir.write("rbd.yaml", out);
    let report = audit_json(&[SOURCE, &path]);
    assert_eq!(serious(&report), Vec::<String>::new(), "{report}");
    assert_eq!(
        rules_of(&volume(&report, "share-team-b-db")["findings"]),
        ["shared-volume"]
    );
}

#[test]
fn share_refuses_names_in_use_and_its_own_namespace() {
    let dir = TempDir::new("share-taken");
    let first = dir.write(
        "first.yaml",
        share(&[CEPHFS, SOURCE, "--to-namespace", "team-b"]),
    );
    let again = pvwarden(["share", CEPHFS, SOURCE, &first, "--to-namespace", "team-b"]).run();
    again.assert_code(2);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    let same = pvwarden(["share", CEPHFS, SOURCE, "--to-namespace", "team-a"]).run();
    same.assert_code(2);
    assert!(
        same.stderr.contains("can use claim media directly"),
        "{}",
        same.stderr
    );
    let missing = pvwarden(["share", "pvc-5a1f", SOURCE, "--to-namespace", "team-b"]).run();
    missing.assert_code(2);
    assert!(
        missing.stderr.contains("did you mean"),
        "{}",
        missing.stderr
    );
}

#[test]
fn unshare_deletes_claim_then_pv_and_says_when_the_source_may_go_back() {
    let dir = TempDir::new("unshare");
    let first = dir.write(
        "b.yaml",
        share(&[CEPHFS, SOURCE, "--to-namespace", "team-b"]),
    );
    let run = pvwarden(["unshare", SHARE, SOURCE, &first]).run();
    run.assert_code(0);
    let script = &unwrapped(&run.stdout);
    let claim = script
        .find("kubectl delete pvc --namespace team-b media")
        .expect("claim");
    let pv = script
        .find(&format!("kubectl delete pv {SHARE}"))
        .expect("pv");
    assert!(claim < pv, "the claim goes first:\n{script}");
    assert!(script.contains("may go back to Delete"), "{script}");
    assert!(
        script.contains("\"persistentVolumeReclaimPolicy\":\"Delete\""),
        "{script}"
    );

    // With a second share, the source must stay on Retain.
    let second = share(&[CEPHFS, SOURCE, &first, "--to-namespace", "team-c"]);
    let second = dir.write("c.yaml", second);
    let run = pvwarden(["unshare", "team-b/media", SOURCE, &first, &second]).run();
    run.assert_code(0);
    let script = unwrapped(&run.stdout);
    assert!(script.contains("Keep the source"), "{script}");
    assert!(script.contains("share-team-c-media still use"), "{script}");
    assert!(!run.stdout.contains("\"Delete\""), "{}", run.stdout);
}

#[test]
fn unshare_switches_a_share_on_delete_to_retain_first_and_refuses_the_original() {
    let run = pvwarden(["unshare", CEPHFS, SOURCE]).run();
    run.assert_code(2);
    assert!(run.stderr.contains("not a static share"), "{}", run.stderr);

    let broken = "../../../../examples/rook-cephfs-share/broken.yaml";
    let run = pvwarden(["unshare", "media-broken-b", broken]).run();
    run.assert_code(0);
    let script = &run.stdout;
    let retain = script
        .find("persistentVolumeReclaimPolicy\":\"Retain")
        .expect("retain");
    let claim = script.find("kubectl delete pvc").expect("claim");
    assert!(retain < claim, "{script}");
}

#[test]
fn static_volumes_pass_the_audit() {
    let dir = TempDir::new("static");
    let cephfs = pvwarden([
        "static",
        "cephfs",
        "--name",
        "media-archive",
        "-n",
        "archive",
        "--cluster-id",
        "rook-ceph",
        "--fs-name",
        "myfs",
        "--size",
        "100Gi",
        "--root-path",
        "/volumes/archive/media/3f1c",
    ])
    .run();
    cephfs.assert_code(0);
    assert!(cephfs.stdout.contains("name: rook-csi-cephfs-node-user"));
    assert!(
        cephfs.stdout.contains("storageClassName: \"\""),
        "{}",
        cephfs.stdout
    );
    let rbd = pvwarden([
        "static",
        "rbd",
        "--name",
        "legacy-db",
        "-n",
        "imports",
        "--cluster-id",
        "rook-ceph",
        "--pool",
        "replicapool",
        "--image",
        "legacy-db-img",
        "--size",
        "50Gi",
    ])
    .run();
    rbd.assert_code(0);
    assert!(rbd.stdout.contains("volumeHandle: legacy-db-img"));
    assert!(
        rbd.stdout.contains("name: rook-csi-rbd-node\n"),
        "{}",
        rbd.stdout
    );
    let a = dir.write("cephfs.yaml", &cephfs.stdout);
    let b = dir.write("rbd.yaml", &rbd.stdout);
    let report = audit_json(&[&a, &b]);
    assert_eq!(serious(&report), Vec::<String>::new(), "{report}");
    for pv in ["media-archive", "legacy-db"] {
        assert_eq!(volume(&report, pv)["on_delete"], "kept");
        assert_eq!(volume(&report, pv)["provisioning"], "static");
    }
}

#[test]
fn static_refuses_an_image_name_ceph_csi_would_read_as_an_id() {
    let id = "0001-0009-rook-ceph-0000000000000002-4d9f2e63-7a1b-4f38-c0e5-9b3d6f8a2c14";
    let run = pvwarden([
        "static",
        "rbd",
        "--name",
        "x",
        "-n",
        "a",
        "--cluster-id",
        "rook-ceph",
        "--pool",
        "p",
        "--image",
        id,
        "--size",
        "1Gi",
    ])
    .run();
    run.assert_code(2);
    assert!(
        run.stderr.contains("ceph-csi can read as a volume id"),
        "{}",
        run.stderr
    );
    let admin = pvwarden([
        "static",
        "cephfs",
        "--name",
        "x",
        "-n",
        "a",
        "--cluster-id",
        "c",
        "--size",
        "1Gi",
        "--root-path",
        "/x",
        "--node-stage-secret",
        "rook-ceph/rook-ceph-admin-keyring",
    ])
    .run();
    admin.assert_code(2);
    assert!(
        admin.stderr.contains("looks like admin credentials"),
        "{}",
        admin.stderr
    );
}

#[test]
fn apply_refuses_files_as_input() {
    let run = pvwarden([
        "share",
        CEPHFS,
        SOURCE,
        "--to-namespace",
        "team-b",
        "--apply",
    ])
    .run();
    run.assert_code(2);
    assert!(run.stderr.contains("give no PATH"), "{}", run.stderr);
}
