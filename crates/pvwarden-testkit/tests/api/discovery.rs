//! Discovery and OpenAPI documents.

use hyper::Method;

use crate::common;

#[tokio::test]
async fn version_claims_kubernetes_1_32() {
    let h = common::start().await;
    let (status, body) = h.admin.get("/version").await;
    assert_eq!(status, 200);
    assert_eq!(
        (body["major"].as_str(), body["minor"].as_str()),
        (Some("1"), Some("32"))
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn discovery_lists_every_group_and_resource() {
    let h = common::start().await;
    let (_, api) = h.admin.get("/api").await;
    assert_eq!(api["versions"], serde_json::json!(["v1"]));

    let (_, apis) = h.admin.get("/apis").await;
    let groups: Vec<&str> = apis["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    for group in [
        "apps",
        "storage.k8s.io",
        "events.k8s.io",
        "snapshot.storage.k8s.io",
        "coordination.k8s.io",
        "admissionregistration.k8s.io",
    ] {
        assert!(groups.contains(&group), "{group} in {groups:?}");
    }

    let (_, core) = h.admin.get("/api/v1").await;
    let names: Vec<&str> = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    for name in [
        "persistentvolumes",
        "persistentvolumes/status",
        "persistentvolumeclaims",
        "persistentvolumeclaims/status",
        "pods",
        "nodes",
        "events",
        "namespaces",
        "secrets",
        "configmaps",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let pv = core["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "persistentvolumes")
        .unwrap();
    assert_eq!(pv["namespaced"], false);
    assert_eq!(pv["shortNames"], serde_json::json!(["pv"]));

    let (status, group) = h.admin.get("/apis/storage.k8s.io").await;
    assert_eq!((status, group["kind"].as_str()), (200, Some("APIGroup")));
    let (_, storage) = h.admin.get("/apis/storage.k8s.io/v1").await;
    assert_eq!(storage["groupVersion"], "storage.k8s.io/v1");
    assert_eq!(h.admin.get("/apis/nope.example.com/v1").await.0, 404);
    h.server.shutdown().await;
}

#[tokio::test]
async fn aggregated_discovery_requests_get_the_unaggregated_form() {
    let h = common::start().await;
    let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,\
        application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
    let response = h
        .admin
        .raw(Method::GET, "/apis", None, "application/json", Some(accept))
        .await;
    assert_eq!(response.headers()["content-type"], "application/json");
    h.server.shutdown().await;
}

#[tokio::test]
async fn openapi_v3_tells_that_patch_takes_field_validation() {
    let h = common::start().await;
    let (status, root) = h.admin.get("/openapi/v3").await;
    assert_eq!(status, 200);
    let url = root["paths"]["api/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(url.starts_with("/openapi/v3/api/v1?hash="), "{url}");
    let (status, doc) = h.admin.get(&url).await;
    assert_eq!(status, 200);
    let patch = &doc["paths"]["/api/v1/persistentvolumes/{name}"]["patch"];
    assert_eq!(
        patch["x-kubernetes-group-version-kind"]["kind"],
        "PersistentVolume"
    );
    let params: Vec<&str> = patch["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert!(params.contains(&"fieldValidation"));
    assert_eq!(h.admin.get("/openapi/v2").await.0, 404);
    h.server.shutdown().await;
}
