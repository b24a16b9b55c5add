//! `pvwarden ceph audit` and `ceph clean` from the inventory dump in testdata/ceph,
//! through the binary: the report formats, exit codes and the plan a user sees.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const NOW: &str = "2026-12-04T12:00:00Z";

fn example(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/ceph")
        .join(file)
}

fn pvwarden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args(args)
        .env_remove("CEPH_CONF")
        .output()
        .unwrap()
}

fn audit(extra: &[&str]) -> Output {
    let inventory = example("inventory.json");
    let pvs = example("pvs.yaml");
    let mut args = vec![
        "ceph",
        "audit",
        "--inventory",
        inventory.to_str().unwrap(),
        pvs.to_str().unwrap(),
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    pvwarden(&args)
}

#[test]
fn the_json_report_carries_the_storage_section_and_backend_facts() {
    let out = audit(&["-o", "json"]);
    assert_eq!(out.status.code(), Some(1), "findings exit 1");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = report["storage"]["objects"].as_array().unwrap();
    let stale: Vec<&str> = objects
        .iter()
        .filter(|o| o["state"] == "stale")
        .map(|o| o["name"].as_str().unwrap())
        .collect();
    assert_eq!(stale.len(), 3);
    let media = objects.iter().find(|o| o["name"] == "media").unwrap();
    assert_eq!(media["state"], "shared");

    // The PV whose journal entry is gone: ceph-csi answers OK and deletes nothing.
    let volumes = report["volumes"].as_array().unwrap();
    let gone = volumes
        .iter()
        .find(|v| v["name"] == "pvc-0c1a1000-0000-4000-8000-000000000007")
        .unwrap();
    assert_eq!(gone["backend"]["state"], "gone");
    assert_eq!(gone["storage"], "already-gone");
    let missing = report["storage"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["pv"] == "pvc-0c1a1000-0000-4000-8000-000000000007")
        .unwrap();
    assert_eq!(missing["found"], "journal-missing");
    assert_eq!(missing["on_delete"], "deleted");
    // Found in the storage: still destroyed, now known rather than assumed.
    let present = volumes
        .iter()
        .find(|v| v["name"] == "pvc-0c1a1000-0000-4000-8000-000000000001")
        .unwrap();
    assert_eq!(present["backend"]["state"], "found");
    assert_eq!(present["storage"], "destroyed");
    // Five PVs whose storage is missing, and the dynamic PV whose subvolume a static copy
    // shares (share-source-delete).
    assert_eq!(report["summary"]["findings"]["error"], 6);
}

#[test]
fn the_table_lists_storage_and_missing_pvs_and_honours_ignore() {
    let out = audit(&["--ignore", "ceph-storage-missing", "--color", "never"]);
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Ceph storage:"), "{text}");
    assert!(text.contains("myfs/csi/csi-vol-bbbbbbbb-0000-4000-8000-000000000002"));
    assert!(text.contains("PVs whose storage is missing:"));
    assert!(!text.contains("ceph-storage-missing"));
    let out = audit(&["--ignore", "no-such-rule"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn without_an_inventory_or_ceph_access_the_error_says_what_to_give() {
    let pvs = example("pvs.yaml");
    let out = pvwarden(&["ceph", "audit", pvs.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("--inventory"), "{err}");
}

#[test]
fn the_clean_plan_names_exactly_the_stale_objects_in_plain_words() {
    let inventory = example("inventory.json");
    let pvs = example("pvs.yaml");
    let args = [
        "ceph",
        "clean",
        "--inventory",
        inventory.to_str().unwrap(),
        pvs.to_str().unwrap(),
    ];
    let out = pvwarden(&args);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("2 removal(s)"), "{text}");
    assert!(text.contains("remove subvolume myfs/csi/csi-vol-bbbbbbbb"));
    assert!(text.contains("move image replicapool/csi-vol-22222222"));
    assert!(text.contains("RBD trash"));
    assert!(text.contains("cannot be undone"));
    assert!(
        !text.contains("media"),
        "a shared subvolume is never offered"
    );
    assert!(
        !text.contains("legacy-import"),
        "a static image is never offered"
    );
}

#[test]
fn a_broken_dump_is_an_input_error_naming_the_file() {
    let dir = std::env::temp_dir().join(format!("pvwarden-ceph-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let broken = dir.join("broken.json");
    std::fs::write(
        &broken,
        r#"{"version": 1, "fsid": "x", "taken": "yesterday"}"#,
    )
    .unwrap();
    let pvs = example("pvs.yaml");
    let out = pvwarden(&[
        "ceph",
        "audit",
        "--inventory",
        broken.to_str().unwrap(),
        pvs.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("broken.json: not a Ceph inventory dump: at taken"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn explain_with_an_inventory_follows_the_storage() {
    let inventory = example("inventory.json");
    let pvs = example("pvs.yaml");
    let name = "pvc-0c1a1000-0000-4000-8000-000000000007";
    let base = ["explain", name, pvs.to_str().unwrap(), "--now", NOW];
    let assumed = String::from_utf8(pvwarden(&base).stdout).unwrap();
    assert!(
        assumed.contains("Assumed, because it endangers data"),
        "{assumed}"
    );
    let mut args = base.to_vec();
    args.extend(["--ceph-inventory", inventory.to_str().unwrap()]);
    let found = String::from_utf8(pvwarden(&args).stdout).unwrap();
    assert!(found.contains("no ceph-csi journal entry"), "{found}");
    assert!(
        !found.contains("Assumed, because it endangers data"),
        "{found}"
    );
}

/// The README's first command reads every file under examples/: nothing there may be
/// anything but Kubernetes manifests (a Ceph dump lives in testdata/ceph).
#[test]
fn the_readme_audit_of_examples_has_no_input_errors() {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let out = pvwarden(&["audit", "--exit-zero", examples.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `share` with a Ceph dump: rootPath is the path the inventory holds for the subvolume the
/// handle's journal entry names, and a source whose attribute disagrees is refused.
#[test]
fn share_takes_root_path_from_the_inventory_and_refuses_a_contradiction() {
    let inventory = example("inventory.json");
    let pv = "pvc-0c1a1000-0000-4000-8000-000000000001";
    let real = "/volumes/csi/csi-vol-aaaaaaaa-0000-4000-8000-000000000001/\
                5f0c1d2e-aaaa-4000-8000-000000000001";
    let share = |pvs: &Path| {
        pvwarden(&[
            "share",
            pv,
            pvs.to_str().unwrap(),
            "--to-namespace",
            "team-b",
            "--node-stage-secret",
            "rook-ceph/rook-csi-cephfs-node",
            "--inventory",
            inventory.to_str().unwrap(),
        ])
    };
    let out = share(&example("pvs.yaml"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(&format!("rootPath: {real}")), "{stdout}");
    assert!(
        stdout.contains("is the path Ceph reports for the subvolume"),
        "{stdout}"
    );

    let moved = "/volumes/csi/csi-vol-aaaaaaaa-0000-4000-8000-000000000001/moved";
    let text = std::fs::read_to_string(example("pvs.yaml")).unwrap();
    let edited = text.replace(real, moved);
    assert_ne!(text, edited);
    let dir = std::env::temp_dir().join(format!("pvwarden-share-inventory-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let pvs = dir.join("pvs.yaml");
    std::fs::write(&pvs, edited).unwrap();
    let out = share(&pvs);
    std::fs::remove_dir_all(&dir).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing is emitted when refused");
    assert!(stderr.contains(moved) && stderr.contains(real), "{stderr}");
}

#[test]
fn a_wrong_cluster_id_refuses_the_clean_plan_and_audits_nothing_as_stale() {
    let inventory = example("inventory.json");
    let pvs = example("pvs.yaml");
    let inventory = inventory.to_str().unwrap();
    let pvs = pvs.to_str().unwrap();
    let args = [
        "ceph",
        "clean",
        "--inventory",
        inventory,
        "--cluster-id",
        "rook-ceph-typo",
        pvs,
    ];
    let out = pvwarden(&args);
    assert_ne!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stderr).unwrap();
    assert!(text.contains("the PVs name cluster id rook-ceph"), "{text}");
    assert!(out.stdout.is_empty(), "no plan is printed");

    let out = audit(&["--cluster-id", "rook-ceph-typo", "-o", "json"]);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = report["storage"]["objects"].as_array().unwrap();
    assert!(objects.iter().all(|o| o["state"] != "stale"));
    assert!(objects.iter().any(|o| o["state"] == "unknown"));
}
