//! `undo` restores the objects a run changed, and the Rook share scenario end to end.

use serde_json::{json, Value};

use crate::common::{case, Live};

/// The Rook share example: the original subvolume, which both PVs point at.
fn rook_share() -> Live {
    let manifest = crate::common::testdata().join("../examples/rook-cephfs-share/broken.yaml");
    let subvolume = "0001-0009-rook-ceph-0000000000000001-1b9f2e64-3a7c-4e58-9d20-6c4b8a1f0e07";
    let seed = json!({
        "volumes": [{
            "driver": "rook-ceph.cephfs.csi.ceph.com",
            "id": subvolume,
            "kind": "cephfs-subvolume",
            "cluster": "rook-ceph",
            "pool": "myfs",
            "path": "/volumes/csi/csi-vol-1b9f2e64-3a7c-4e58-9d20-6c4b8a1f0e07/\
                     2f6d0c1e-8b4a-4f3e-a1c2-9e7d5b3a6c80",
            "journal": true,
            "exists": true,
            "deleted_by": null
        }],
        "pools": [{"cluster": "rook-ceph", "name": "myfs", "id": 1, "exists": true}],
        "faults": {"cephx_disabled": false, "unreachable": false}
    });
    Live::start(&manifest, seed, &[])
}

/// Deletes the second namespace's claim, as its user would: the copy is then Released,
/// and hangs.
fn release_copy(live: &Live) {
    let claims: kube::Api<k8s_openapi::api::core::v1::PersistentVolumeClaim> =
        kube::Api::namespaced(live.client.clone(), "broken-b");
    live.runtime
        .block_on(claims.delete("media", &Default::default()))
        .unwrap();
    live.wait_for("the copy to be Released", |live| {
        live.pv("media-broken-b")
            .is_some_and(|pv| pv["status"]["phase"] == "Released")
    });
}

/// A PV as the user sees it: without what the server itself counts on every write.
pub fn comparable(mut pv: Value) -> Value {
    if let Some(meta) = pv["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
        meta.remove("generation");
        meta.remove("managedFields");
    }
    pv
}

#[test]
fn rook_share_stuck_copy_goes_and_the_subvolume_stays() {
    let live = rook_share();
    let copy = "media-broken-b";
    let original = "pvc-7c1d2a55-0b7e-4d0f-9a51-3f0e8b2c4d01";
    release_copy(&live);

    let dry = live.pvwarden(&["fix", "--all-stuck"]);
    let text = String::from_utf8_lossy(&dry.stdout);
    assert!(text.contains(&format!("PV {copy}")), "{text}");
    assert!(
        text.contains("set reclaim policy Delete -> Retain"),
        "{text}"
    );
    assert!(
        !text.contains(&format!("PV {original}")),
        "only the stuck copy: {text}"
    );
    assert!(text.contains("--apply --confirm"), "{text}");

    let (plan, report) = live.fix(&["fix", "--all-stuck"]);
    let targets = plan["plan"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{plan:#}");
    assert_eq!(report["state"], "done", "{report:#}");
    assert!(live.pv(copy).is_none(), "the stuck copy must be gone");
    assert!(live.pv(original).is_some());
    live.assert_backend_kept("rook share");

    // Undo: the copy is gone, so only the explanation comes back; the original is untouched.
    let run = report["run"].as_str().unwrap();
    let (code, undone) = live.json(&["undo", run]);
    assert_eq!(code, Some(0), "{undone:#}");
    let notes = undone["notes"].to_string();
    assert!(notes.contains("--recreate-deleted"), "{notes}");
    live.assert_backend_kept("rook share undo");
}

#[test]
fn undo_restores_the_exact_earlier_pv() {
    let live = rook_share();
    let copy = "media-broken-b";
    let before = comparable(live.pv(copy).unwrap());

    // Not stuck yet, but deleting its claim would destroy the shared subvolume: Retain now.
    let (plan, report) = live.fix(&["fix", copy]);
    assert_eq!(
        plan["plan"]["targets"][0]["steps"][0]["action"], "set-retain",
        "{plan:#}"
    );
    assert_eq!(report["state"], "done", "{report:#}");
    live.wait_for("the provisioner to drop its finalizer", |live| {
        let pv = live.pv(copy).unwrap();
        pv["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
            && pv["metadata"]["finalizers"].as_array().unwrap().len() == 1
    });

    // While the original shares the copy's storage, undo keeps the copy on Retain:
    // with Delete, deleting its claim would destroy the original's data.
    let run = report["run"].as_str().unwrap();
    let (code, undone) = live.json(&["undo", run]);
    assert_eq!(code, Some(1), "{undone:#}");
    assert_eq!(undone["state"], "failed", "{undone:#}");
    let notes = undone["notes"].to_string();
    assert!(
        notes.contains("PV pvc-7c1d2a55-0b7e-4d0f-9a51-3f0e8b2c4d01 shares its storage"),
        "{notes}"
    );
    assert_eq!(
        live.pv(copy).unwrap()["spec"]["persistentVolumeReclaimPolicy"],
        "Retain"
    );
    live.assert_backend_kept("refused undo");

    // Once the original is gone (it is on Retain: its subvolume stays), undo brings
    // the copy back exactly as it was.
    live.remove_rook_original();
    let (code, undone) = live.json(&["undo", run]);
    assert_eq!(code, Some(0), "{undone:#}");
    // The provisioner puts its finalizer back on a Bound Delete PV by itself.
    live.wait_until(|live| comparable(live.pv(copy).unwrap()) == before);
    assert_eq!(comparable(live.pv(copy).unwrap()), before);

    let (_, runs) = live.json(&["journal", "ls"]);
    let states: Vec<&str> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["undone", "failed", "done"], "{runs:#}");
    live.assert_backend_kept("undo");
}

#[test]
fn undo_recreates_a_deleted_pv_only_when_asked() {
    let (manifest, seed, _, args) = case("15-cephcsi-legacy-v1-volume-id");
    let live = Live::start(&manifest, seed, &args);
    let pv = "pvc-47b24768-eff6-11f1-aa7a-350b1edd1bda";
    let before = comparable(live.pv(pv).unwrap());
    let (_, report) = live.fix(&["fix", pv]);
    assert_eq!(report["state"], "done", "{report:#}");
    assert!(live.pv(pv).is_none());

    let run = report["run"].as_str().unwrap();
    let (code, undone) = live.json(&["undo", run, "--recreate-deleted"]);
    assert_eq!(code, Some(0), "{undone:#}");
    let again = live.pv(pv).expect("the PV must be re-created");
    // The same object, but new to the server, and Retain so its storage stays safe.
    assert_eq!(again["spec"]["csi"], before["spec"]["csi"]);
    assert_eq!(again["spec"]["claimRef"], before["spec"]["claimRef"]);
    assert_eq!(again["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_ne!(again["metadata"]["uid"], before["metadata"]["uid"]);
    assert!(
        undone["notes"].to_string().contains("--rebind"),
        "{undone:#}"
    );
    live.assert_backend_kept("recreate");
}

#[test]
fn prune_clears_a_released_static_pv_and_keeps_its_storage() {
    let live = rook_share();
    let copy = "media-broken-b";
    release_copy(&live);

    let (plan, report) = live.fix(&["prune", "--released-static"]);
    let targets = plan["plan"]["targets"].as_array().unwrap();
    assert_eq!(targets.len(), 1, "{plan:#}");
    assert_eq!(targets[0]["pv"], copy);
    assert_eq!(report["state"], "done", "{report:#}");
    assert!(live.pv(copy).is_none());
    assert!(live
        .pv("pvc-7c1d2a55-0b7e-4d0f-9a51-3f0e8b2c4d01")
        .is_some());
    live.assert_backend_kept("prune");
}

#[test]
fn a_mistyped_digest_is_said_not_to_match_the_plan_shown() {
    let (manifest, seed, _, args) = case("15-cephcsi-legacy-v1-volume-id");
    let live = Live::start(&manifest, seed, &args);
    let pv = "pvc-47b24768-eff6-11f1-aa7a-350b1edd1bda";
    let output = live.pvwarden(&["fix", pv, "--apply", "--confirm", "000000000000"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("--confirm 000000000000 does not match the plan"),
        "{stderr}"
    );
    assert!(
        stderr.contains("check the digest against the plan shown"),
        "{stderr}"
    );
    assert!(live.pv(pv).is_some());
}

#[test]
fn journal_ls_creates_no_journal() {
    let dir = std::env::temp_dir().join(format!("pvwarden-nojournal-{}", std::process::id()));
    let path = dir.join("journal.db");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args(["journal", "ls", "--journal"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&output.stdout).contains("no runs"));
    assert!(!dir.exists(), "journal ls created {}", dir.display());
}
