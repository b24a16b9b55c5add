//! CREATE, GET and UPDATE, with their errors.

use hyper::Method;
use serde_json::json;

use crate::common::{self, pv, PVS};

#[tokio::test]
async fn create_fills_system_metadata_and_starts_status_over() {
    let h = common::start().await;
    let mut body = pv("a");
    body["status"] = json!({"phase": "Bound"});
    let (status, created) = h.admin.post(PVS, &body).await;
    assert_eq!(status, 201, "{created}");
    let meta = &created["metadata"];
    assert_eq!(meta["uid"].as_str().unwrap().len(), 36);
    assert!(meta["creationTimestamp"].as_str().unwrap().ends_with('Z'));
    assert!(meta["resourceVersion"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .is_ok());
    assert_eq!(meta["generation"], 1);
    assert_eq!(
        created["status"],
        json!({"phase": "Pending"}),
        "status is the server's"
    );
    assert_eq!(created["spec"]["volumeMode"], "Filesystem");

    let (status, got) = h.admin.get(&format!("{PVS}/a")).await;
    assert_eq!((status, &got), (200, &created));
    h.server.shutdown().await;
}

#[tokio::test]
async fn creating_an_existing_name_is_already_exists() {
    let h = common::start().await;
    assert_eq!(h.admin.post(PVS, &pv("a")).await.0, 201);
    let (status, body) = h.admin.post(PVS, &pv("a")).await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": "persistentvolumes \"a\" already exists",
        "reason": "AlreadyExists", "details": {"name": "a", "kind": "persistentvolumes"},
        "code": 409})
    );
    let sc = json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "fast"}, "provisioner": "x"});
    let scs = "/apis/storage.k8s.io/v1/storageclasses";
    assert_eq!(h.admin.post(scs, &sc).await.0, 201);
    let (_, body) = h.admin.post(scs, &sc).await;
    assert_eq!(
        body["message"],
        "storageclasses.storage.k8s.io \"fast\" already exists"
    );
    assert_eq!(
        body["details"],
        json!({"name": "fast", "group": "storage.k8s.io",
        "kind": "storageclasses"})
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn generate_name_makes_distinct_names() {
    let h = common::start().await;
    let body = json!({"metadata": {"generateName": "pvc-"}, "spec": {}});
    let (_, a) = h.admin.post(PVS, &body).await;
    let (_, b) = h.admin.post(PVS, &body).await;
    let (a, b) = (
        a["metadata"]["name"].as_str().unwrap(),
        b["metadata"]["name"].as_str().unwrap(),
    );
    assert!(a.starts_with("pvc-") && a.len() == 9, "{a}");
    assert_ne!(a, b);
    h.server.shutdown().await;
}

#[tokio::test]
async fn dry_run_creates_nothing() {
    let h = common::start().await;
    let (status, body) = h.admin.post(&format!("{PVS}?dryRun=All"), &pv("a")).await;
    assert_eq!(status, 201);
    assert_eq!(body["metadata"]["name"], "a");
    assert_eq!(h.admin.get(&format!("{PVS}/a")).await.0, 404);
    h.server.shutdown().await;
}

#[tokio::test]
async fn bad_names_are_invalid() {
    let h = common::start().await;
    let (status, body) = h.admin.post(PVS, &pv("Bad_Name")).await;
    assert_eq!(status, 422);
    let detail = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric \
        characters, '-' or '.', and must start and end with an alphanumeric character (e.g. \
        'example.com', regex used for validation is \
        '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "Invalid", "code": 422,
        "message": format!("PersistentVolume \"Bad_Name\" is invalid: metadata.name: Invalid \
            value: \"Bad_Name\": {detail}"),
        "details": {"name": "Bad_Name", "kind": "PersistentVolume", "causes": [{
            "reason": "FieldValueInvalid", "field": "metadata.name",
            "message": format!("Invalid value: \"Bad_Name\": {detail}")}]}})
    );

    let (status, body) = h.admin.post(PVS, &json!({"metadata": {}})).await;
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "PersistentVolume \"\" is invalid: metadata.name: Required value: \
        name or generateName is required"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn namespaced_objects_need_their_namespace() {
    let h = common::start().await;
    let pvc = json!({"metadata": {"name": "c"}, "spec": {}});
    let (status, body) = h
        .admin
        .post("/api/v1/namespaces/nope/persistentvolumeclaims", &pvc)
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["message"], "namespaces \"nope\" not found");
    let (status, created) = h
        .admin
        .post("/api/v1/namespaces/default/persistentvolumeclaims", &pvc)
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["status"]["phase"], "Pending");
    let wrong = json!({"metadata": {"name": "d", "namespace": "other"}});
    let (status, _) = h
        .admin
        .post("/api/v1/namespaces/default/persistentvolumeclaims", &wrong)
        .await;
    assert_eq!(status, 400);
    h.server.shutdown().await;
}

#[tokio::test]
async fn missing_objects_are_not_found() {
    let h = common::start().await;
    let (status, body) = h.admin.get(&format!("{PVS}/nope")).await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "message": "persistentvolumes \"nope\" not found",
        "reason": "NotFound", "details": {"name": "nope", "kind": "persistentvolumes"},
        "code": 404})
    );
    assert_eq!(
        h.admin.put(&format!("{PVS}/nope"), &pv("nope")).await.0,
        404
    );
    assert_eq!(h.admin.get("/api/v1/widgets").await.0, 404);
    h.server.shutdown().await;
}

#[tokio::test]
async fn stale_updates_are_conflicts() {
    let h = common::start().await;
    let (_, created) = h.admin.post(PVS, &pv("a")).await;
    let mut first = created.clone();
    first["metadata"]["labels"]["n"] = "1".into();
    let (status, updated) = h.admin.put(&format!("{PVS}/a"), &first).await;
    assert_eq!(status, 200, "{updated}");
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );

    let mut stale = created.clone();
    stale["metadata"]["labels"]["n"] = "2".into();
    let (status, body) = h.admin.put(&format!("{PVS}/a"), &stale).await;
    assert_eq!(status, 409);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "Conflict", "code": 409,
        "message": "Operation cannot be fulfilled on persistentvolumes \"a\": the object has been \
            modified; please apply your changes to the latest version and try again",
        "details": {"name": "a", "kind": "persistentvolumes"}})
    );

    let mut renamed = updated.clone();
    renamed["metadata"]["name"] = "b".into();
    let (status, body) = h.admin.put(&format!("{PVS}/a"), &renamed).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "the name of the object (b) does not match the name on the URL (a)"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn status_changes_only_through_the_status_subresource() {
    let h = common::start().await;
    let (_, created) = h.admin.post(PVS, &pv("a")).await;
    let mut body = created.clone();
    body["status"] = json!({"phase": "Released"});
    body["metadata"]["resourceVersion"] = "".into();
    let (_, updated) = h.admin.put(&format!("{PVS}/a"), &body).await;
    assert_eq!(
        updated["status"]["phase"], "Pending",
        "PUT on the object keeps the status"
    );

    body["spec"]["persistentVolumeReclaimPolicy"] = "Retain".into();
    let (status, updated) = h.admin.put(&format!("{PVS}/a/status"), &body).await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["status"]["phase"], "Released");
    assert_eq!(
        updated["spec"]["persistentVolumeReclaimPolicy"], "Delete",
        "status PUT keeps spec"
    );
    assert_eq!(updated["metadata"]["generation"], 1);

    let (status, _) = h
        .admin
        .get("/apis/storage.k8s.io/v1/storageclasses/x/status")
        .await;
    assert_eq!(status, 404, "StorageClasses have no status subresource");
    h.server.shutdown().await;
}

#[tokio::test]
async fn generation_follows_spec_changes_only() {
    let h = common::start().await;
    let (_, created) = h.admin.post(PVS, &pv("a")).await;
    let mut body = created.clone();
    body["metadata"]["labels"]["x"] = "y".into();
    let (_, labelled) = h.admin.put(&format!("{PVS}/a"), &body).await;
    assert_eq!(labelled["metadata"]["generation"], 1);
    let mut body = labelled.clone();
    body["spec"]["persistentVolumeReclaimPolicy"] = "Retain".into();
    let (_, changed) = h.admin.put(&format!("{PVS}/a"), &body).await;
    assert_eq!(changed["metadata"]["generation"], 2);

    let (_, same) = h.admin.put(&format!("{PVS}/a"), &changed).await;
    assert_eq!(
        same["metadata"]["resourceVersion"], changed["metadata"]["resourceVersion"],
        "an update that changes nothing writes nothing"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn unsupported_methods_are_405() {
    let h = common::start().await;
    let (status, body) = h
        .admin
        .send(
            Method::POST,
            &format!("{PVS}/a"),
            Some(&pv("a")),
            "application/json",
            None,
        )
        .await;
    assert_eq!(status, 405);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "MethodNotAllowed", "code": 405, "details": {},
        "message": "the server does not allow this method on the requested resource"})
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_body_of_another_kind_is_refused() {
    let h = common::start().await;
    let body =
        json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "a"}});
    let (status, _) = h.admin.post(PVS, &body).await;
    assert_eq!(status, 400);
    h.server.shutdown().await;
}
