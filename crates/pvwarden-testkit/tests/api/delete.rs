//! DELETE: immediate removal, finalizers, preconditions and collections.

use hyper::Method;
use serde_json::json;

use crate::common::{self, pv, PVS};

#[tokio::test]
async fn deleting_without_finalizers_removes_and_returns_the_object() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let (status, body) = h.admin.delete(&format!("{PVS}/a")).await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["kind"].as_str(), body["metadata"]["name"].as_str()),
        (Some("PersistentVolume"), Some("a"))
    );
    assert_eq!(h.admin.get(&format!("{PVS}/a")).await.0, 404);
    assert_eq!(h.admin.delete(&format!("{PVS}/a")).await.0, 404);
    h.server.shutdown().await;
}

#[tokio::test]
async fn finalizers_hold_a_deleted_object_until_the_last_one_goes() {
    let h = common::start().await;
    let mut body = pv("a");
    body["metadata"]["finalizers"] = json!(["kubernetes.io/pv-protection", "example.com/x"]);
    h.admin.post(PVS, &body).await;
    let path = format!("{PVS}/a");
    let mut watch = h.admin.watch(&format!("{PVS}?watch=1")).await;
    watch.next().await;

    let (status, first) = h.admin.delete(&path).await;
    assert_eq!(status, 200);
    assert!(first["metadata"]["deletionTimestamp"].is_string());
    assert_eq!(first["metadata"]["deletionGracePeriodSeconds"], 0);
    assert_eq!(
        watch.next_named().await,
        Some(("MODIFIED".into(), "a".into()))
    );

    let (status, second) = h.admin.delete(&path).await;
    assert_eq!(
        (status, &second),
        (200, &first),
        "a second delete changes nothing"
    );

    let added = json!({"metadata": {"finalizers": ["kubernetes.io/pv-protection",
        "example.com/x", "example.com/new"]}});
    let (status, body) = h
        .admin
        .patch(&path, "application/merge-patch+json", &added)
        .await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "PersistentVolume \"a\" is invalid: metadata.finalizers: \
        Forbidden: no new finalizers can be added if the object is being deleted, found new \
        finalizers []string{\"example.com/new\"}"
    );

    let one = json!({"metadata": {"finalizers": ["example.com/x"]}});
    let (status, _) = h
        .admin
        .patch(&path, "application/merge-patch+json", &one)
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.admin.get(&path).await.0, 200);
    assert_eq!(
        watch.next_named().await,
        Some(("MODIFIED".into(), "a".into()))
    );

    let none = json!([{"op": "remove", "path": "/metadata/finalizers"}]);
    let (status, last) = h
        .admin
        .patch(&path, "application/json-patch+json", &none)
        .await;
    assert_eq!(status, 200, "{last}");
    assert_eq!(h.admin.get(&path).await.0, 404);
    assert_eq!(
        watch.next_named().await,
        Some(("DELETED".into(), "a".into()))
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn delete_preconditions_are_checked() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let options = json!({"kind": "DeleteOptions", "apiVersion": "v1",
        "preconditions": {"uid": "not-the-uid"}, "propagationPolicy": "Background"});
    let (status, body) = h
        .admin
        .send(
            Method::DELETE,
            &format!("{PVS}/a"),
            Some(&options),
            "application/json",
            None,
        )
        .await;
    assert_eq!(status, 409);
    assert!(body["message"].as_str().unwrap().starts_with(
        "Operation cannot be fulfilled on persistentvolumes \"a\": Precondition failed: UID in \
         precondition: not-the-uid, UID in object meta: "), "{body}");
    let bad = json!({"propagationPolicy": "Sideways"});
    let (status, _) = h
        .admin
        .send(
            Method::DELETE,
            &format!("{PVS}/a"),
            Some(&bad),
            "application/json",
            None,
        )
        .await;
    assert_eq!(status, 422);
    h.server.shutdown().await;
}

#[tokio::test]
async fn dry_run_deletes_nothing() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    assert_eq!(h.admin.delete(&format!("{PVS}/a?dryRun=All")).await.0, 200);
    assert_eq!(h.admin.get(&format!("{PVS}/a")).await.0, 200);
    h.server.shutdown().await;
}

#[tokio::test]
async fn collections_are_deleted_by_selector() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let mut other = pv("b");
    other["metadata"]["labels"]["app"] = "keep".into();
    h.admin.post(PVS, &other).await;
    let (status, body) = h
        .admin
        .delete(&format!("{PVS}?labelSelector=app%3Ddemo"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 1);
    let (_, list) = h.admin.get(PVS).await;
    assert_eq!(list["items"][0]["metadata"]["name"], "b");
    h.server.shutdown().await;
}
