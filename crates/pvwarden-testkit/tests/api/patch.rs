//! PATCH: JSON patch, merge patch, strategic merge patch, and refused types.

use serde_json::json;

use crate::common::{self, pv, PVS};

const JSON: &str = "application/json-patch+json";
const MERGE: &str = "application/merge-patch+json";
const STRATEGIC: &str = "application/strategic-merge-patch+json";

#[tokio::test]
async fn json_patches_apply_and_failed_tests_are_invalid() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let path = format!("{PVS}/a");
    let ops = json!([
        {"op": "test", "path": "/spec/persistentVolumeReclaimPolicy", "value": "Delete"},
        {"op": "replace", "path": "/spec/persistentVolumeReclaimPolicy", "value": "Retain"},
        {"op": "add", "path": "/metadata/finalizers", "value": ["a", "b"]},
        {"op": "remove", "path": "/metadata/finalizers/0"}
    ]);
    let (status, patched) = h.admin.patch(&path, JSON, &ops).await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(patched["metadata"]["finalizers"], json!(["b"]));

    let failing =
        json!([{"op": "test", "path": "/spec/persistentVolumeReclaimPolicy", "value": "Delete"}]);
    let (status, body) = h.admin.patch(&path, JSON, &failing).await;
    assert_eq!(status, 422);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "Invalid", "code": 422, "details": {},
        "message": "the server rejected our request due to an error in our request"})
    );

    let (status, body) = h.admin.patch(&path, JSON, &json!({"op": "add"})).await;
    assert_eq!(status, 400);
    assert_eq!(body["reason"], "BadRequest");
    h.server.shutdown().await;
}

#[tokio::test]
async fn merge_patches_merge_maps_and_replace_lists() {
    let h = common::start().await;
    let mut body = pv("a");
    body["metadata"]["finalizers"] = json!(["a", "b"]);
    h.admin.post(PVS, &body).await;
    let patch = json!({"metadata": {"finalizers": ["c"], "labels": {"app": null, "x": "y"}}});
    let (status, patched) = h.admin.patch(&format!("{PVS}/a"), MERGE, &patch).await;
    assert_eq!(status, 200);
    assert_eq!(patched["metadata"]["finalizers"], json!(["c"]));
    assert_eq!(patched["metadata"]["labels"], json!({"x": "y"}));
    h.server.shutdown().await;
}

#[tokio::test]
async fn strategic_patches_merge_finalizers_as_a_set() {
    let h = common::start().await;
    let mut body = pv("a");
    body["metadata"]["finalizers"] = json!(["a", "b"]);
    h.admin.post(PVS, &body).await;
    let path = format!("{PVS}/a");
    let (_, patched) = h
        .admin
        .patch(
            &path,
            STRATEGIC,
            &json!({"metadata": {"finalizers": ["c"]}}),
        )
        .await;
    assert_eq!(patched["metadata"]["finalizers"], json!(["a", "b", "c"]));
    let (_, patched) = h
        .admin
        .patch(&path, STRATEGIC, &json!({"metadata": {"finalizers": []}}))
        .await;
    assert_eq!(
        patched["metadata"]["finalizers"],
        json!(["a", "b", "c"]),
        "[] removes nothing"
    );
    let (_, patched) = h
        .admin
        .patch(
            &path,
            STRATEGIC,
            &json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"]}}),
        )
        .await;
    assert_eq!(patched["metadata"]["finalizers"], json!(["a", "c"]));
    let (_, patched) = h
        .admin
        .patch(
            &path,
            STRATEGIC,
            &json!({"metadata": {"finalizers": null}, "spec": {"accessModes": ["ReadWriteMany"]}}),
        )
        .await;
    assert!(patched["metadata"].get("finalizers").is_none());
    assert_eq!(
        patched["spec"]["accessModes"],
        json!(["ReadWriteMany"]),
        "other lists are replaced"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn patches_with_a_stale_resource_version_conflict() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let patch = json!({"metadata": {"resourceVersion": "1", "labels": {"x": "y"}}});
    let (status, body) = h.admin.patch(&format!("{PVS}/a"), MERGE, &patch).await;
    assert_eq!((status, body["reason"].as_str()), (409, Some("Conflict")));
    h.server.shutdown().await;
}

#[tokio::test]
async fn unsupported_patch_types_are_415() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let (status, body) = h
        .admin
        .patch(
            &format!("{PVS}/a"),
            "application/apply-patch+yaml",
            &json!({}),
        )
        .await;
    assert_eq!(status, 415);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "UnsupportedMediaType", "code": 415,
        "message": "the body of the request was in an unknown format - accepted media types \
            include: application/json-patch+json, application/merge-patch+json, \
            application/strategic-merge-patch+json"})
    );

    // Snapshots are custom resources on a real cluster: no strategic merge patch.
    let vsc = json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "metadata": {"name": "s"}, "spec": {}});
    let vscs = "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents";
    assert_eq!(h.admin.post(vscs, &vsc).await.0, 201);
    let (status, _) = h
        .admin
        .patch(&format!("{vscs}/s"), STRATEGIC, &json!({}))
        .await;
    assert_eq!(status, 415);
    let (status, _) = h
        .admin
        .patch(&format!("{vscs}/s"), MERGE, &json!({"spec": {"a": 1}}))
        .await;
    assert_eq!(status, 200);
    h.server.shutdown().await;
}

#[tokio::test]
async fn status_patches_change_only_status() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let patch = json!({"status": {"phase": "Released"}, "spec": {"storageClassName": "x"}});
    let (status, patched) = h
        .admin
        .patch(&format!("{PVS}/a/status"), MERGE, &patch)
        .await;
    assert_eq!(status, 200);
    assert_eq!(patched["status"]["phase"], "Released");
    assert_eq!(patched["spec"]["storageClassName"], "standard");
    h.server.shutdown().await;
}

#[tokio::test]
async fn patching_a_missing_object_is_not_found() {
    let h = common::start().await;
    let (status, body) = h
        .admin
        .patch(&format!("{PVS}/nope"), MERGE, &json!({}))
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "persistentvolumes \"nope\" not found");
    h.server.shutdown().await;
}
