//! The test endpoints: backend document, request counts, faults, preloading.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use hyper::Method;
use pvwarden_testkit::server::Config;
use serde_json::json;

use crate::common::{self, pv, PVS};

#[tokio::test]
async fn the_backend_document_is_stored_as_given() {
    let h = common::start().await;
    let (status, initial) = h.admin.get("/pvwarden-test/backend").await;
    assert_eq!(
        (status, initial),
        (200, json!({"volumes": [], "pools": [], "faults": {}}))
    );
    let document = json!({"volumes": [{"driver": "d", "id": "v1", "kind": "generic",
        "exists": true, "deleted_by": null}], "pools": [],
        "faults": {"cephx_disabled": false, "unreachable": true}});
    assert_eq!(
        h.admin.put("/pvwarden-test/backend", &document).await.0,
        200
    );
    assert_eq!(h.admin.get("/pvwarden-test/backend").await.1, document);
    assert_eq!(
        h.admin.put("/pvwarden-test/backend", &json!([1])).await.0,
        400
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn requests_are_counted_by_verb_and_resource() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    h.admin.get(PVS).await;
    h.admin.get(&format!("{PVS}/a")).await;
    h.admin
        .patch(
            &format!("{PVS}/a/status"),
            "application/merge-patch+json",
            &json!({}),
        )
        .await;
    let (_, counts) = h.admin.get("/pvwarden-test/requests").await;
    assert_eq!(counts["total"], 4);
    assert_eq!(counts["by"]["create v1/persistentvolumes"], 1);
    assert_eq!(counts["by"]["list v1/persistentvolumes"], 1);
    assert_eq!(counts["by"]["get v1/persistentvolumes"], 1);
    assert_eq!(counts["by"]["patch v1/persistentvolumes/status"], 1);
    h.admin.delete("/pvwarden-test/requests").await;
    let (_, counts) = h.admin.get("/pvwarden-test/requests").await;
    assert_eq!(counts, json!({"total": 0, "by": {}}));
    h.server.shutdown().await;
}

#[tokio::test]
async fn faults_inject_errors_on_matching_paths_only() {
    let h = common::start().await;
    let faults = json!({"error_rate": 1.0, "error_status": 503, "paths": ["persistentvolumes"]});
    let (status, set) = h.admin.put("/pvwarden-test/faults", &faults).await;
    assert_eq!(status, 200);
    assert_eq!(set["latency_ms"], 0, "unset fields take their defaults");
    let (status, body) = h.admin.get(PVS).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("ServiceUnavailable"))
    );
    assert_eq!(h.admin.get("/api/v1/nodes").await.0, 200);
    assert_eq!(
        h.admin.get("/pvwarden-test/faults").await.0,
        200,
        "never on test endpoints"
    );

    h.admin
        .put("/pvwarden-test/faults", &json!({"conflict_rate": 1.0}))
        .await;
    assert_eq!(
        h.admin.post(PVS, &pv("a")).await.0,
        201,
        "creates get no conflicts"
    );
    let (status, _) = h
        .admin
        .patch(
            &format!("{PVS}/a"),
            "application/merge-patch+json",
            &json!({}),
        )
        .await;
    assert_eq!(status, 409);

    h.admin
        .put("/pvwarden-test/faults", &json!({"latency_ms": 300}))
        .await;
    let started = Instant::now();
    h.admin.get(PVS).await;
    assert!(started.elapsed() >= Duration::from_millis(300));

    assert_eq!(h.admin.delete("/pvwarden-test/faults").await.0, 200);
    let bad = json!({"error_rate": 2.0});
    assert_eq!(h.admin.put("/pvwarden-test/faults", &bad).await.0, 400);
    h.server.shutdown().await;
}

#[tokio::test]
async fn faults_can_drop_watches() {
    let h = common::start().await;
    h.admin
        .put(
            "/pvwarden-test/faults",
            &json!({"drop_watches_after_ms": 200}),
        )
        .await;
    let mut watch = h.admin.watch(&format!("{PVS}?watch=1")).await;
    let started = Instant::now();
    assert!(watch.next_within(Duration::from_secs(5)).await.is_none());
    assert!(started.elapsed() < Duration::from_secs(3));
    h.server.shutdown().await;
}

#[tokio::test]
async fn preloaded_manifests_keep_their_stuck_state() {
    let data = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/stuck.yaml");
    let h = common::start_with(Config {
        load: vec![data],
        ..Config::default()
    })
    .await;
    let (status, pv) = h.admin.get(&format!("{PVS}/pvc-stuck")).await;
    assert_eq!(status, 200);
    assert_eq!(pv["status"]["phase"], "Released");
    assert_eq!(pv["metadata"]["deletionTimestamp"], "2026-02-03T04:05:06Z");
    assert_eq!(pv["metadata"]["creationTimestamp"], "2026-01-02T03:04:05Z");
    assert_eq!(pv["metadata"]["finalizers"].as_array().unwrap().len(), 2);
    let (status, pvc) = h
        .admin
        .get("/api/v1/namespaces/apps/persistentvolumeclaims/shared")
        .await;
    assert_eq!(
        (status, pvc["status"]["phase"].as_str()),
        (200, Some("Lost"))
    );
    let (_, events) = h.admin.get("/api/v1/namespaces/default/events").await;
    assert_eq!(events["items"][0]["reason"], "VolumeFailedDelete");

    // Removing the finalizers of the preloaded terminating PV deletes it.
    let (status, _) = h
        .admin
        .patch(
            &format!("{PVS}/pvc-stuck"),
            "application/merge-patch+json",
            &json!({"metadata": {"finalizers": null}}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(h.admin.get(&format!("{PVS}/pvc-stuck")).await.0, 404);
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_broken_manifest_stops_the_start() {
    let dir = std::env::temp_dir().join(format!("pvwarden-testkit-broken-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("broken.yaml");
    std::fs::write(
        &file,
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: [\n",
    )
    .unwrap();
    let started = pvwarden_testkit::server::Server::start(Config {
        load: vec![file],
        ..Config::default()
    })
    .await;
    assert!(started.is_err());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn the_kubeconfig_names_the_server_and_token() {
    let h = common::start().await;
    assert!(h
        .server
        .kubeconfig
        .contains(&format!("server: {}", h.server.url)));
    assert!(h
        .server
        .kubeconfig
        .contains(&format!("token: {}", h.server.admin_token)));
    assert!(h.server.url.starts_with("https://127.0.0.1:"));
    let _ = Method::GET;
    h.server.shutdown().await;
}
