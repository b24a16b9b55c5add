//! LIST: pagination, selectors and resource versions.

use serde_json::{json, Value};

use crate::common::{self, pv, PVS};

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn lists_page_through_a_consistent_snapshot() {
    let h = common::start().await;
    for name in ["a", "b", "c", "d", "e"] {
        h.admin.post(PVS, &pv(name)).await;
    }
    let (status, first) = h.admin.get(&format!("{PVS}?limit=2")).await;
    assert_eq!(status, 200);
    assert_eq!(first["kind"], "PersistentVolumeList");
    assert_eq!(names(&first), ["a", "b"]);
    assert_eq!(first["metadata"]["remainingItemCount"], 3);
    assert!(
        first["items"][0].get("kind").is_none(),
        "items of built-in lists carry no kind"
    );

    // Changes after the first page do not show in later pages.
    h.admin.post(PVS, &pv("bb")).await;
    h.admin.delete(&format!("{PVS}/d")).await;

    let token = first["metadata"]["continue"].as_str().unwrap();
    let (_, second) = h
        .admin
        .get(&format!("{PVS}?limit=2&continue={token}"))
        .await;
    assert_eq!(names(&second), ["c", "d"]);
    assert_eq!(
        second["metadata"]["resourceVersion"],
        first["metadata"]["resourceVersion"]
    );
    let token = second["metadata"]["continue"].as_str().unwrap();
    let (_, third) = h
        .admin
        .get(&format!("{PVS}?limit=2&continue={token}"))
        .await;
    assert_eq!(names(&third), ["e"]);
    assert!(third["metadata"].get("continue").is_none());
    h.server.shutdown().await;
}

#[tokio::test]
async fn compacted_continue_tokens_are_expired() {
    let h = common::start().await;
    for name in ["a", "b", "c"] {
        h.admin.post(PVS, &pv(name)).await;
    }
    let (_, first) = h.admin.get(&format!("{PVS}?limit=1")).await;
    let token = first["metadata"]["continue"].as_str().unwrap().to_owned();
    h.admin.post(PVS, &pv("d")).await;
    assert_eq!(
        h.admin
            .send(
                hyper::Method::POST,
                "/pvwarden-test/compact",
                None,
                "application/json",
                None
            )
            .await
            .0,
        200
    );
    let (status, body) = h
        .admin
        .get(&format!("{PVS}?limit=1&continue={token}"))
        .await;
    assert_eq!(status, 410);
    assert_eq!(
        body,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "Expired", "code": 410,
        "message": "The provided continue parameter is too old to display a consistent list \
            result. You can start a new list without the continue parameter."})
    );
    let (status, _) = h
        .admin
        .get(&format!("{PVS}?limit=1&continue=garbage"))
        .await;
    assert_eq!(status, 400);
    h.server.shutdown().await;
}

#[tokio::test]
async fn label_selectors_take_every_operator() {
    let h = common::start().await;
    for (name, app, tier) in [("a", "db", "1"), ("b", "web", "2"), ("c", "db", "")] {
        let mut body = pv(name);
        body["metadata"]["labels"] = json!({"app": app});
        if !tier.is_empty() {
            body["metadata"]["labels"]["tier"] = tier.into();
        }
        h.admin.post(PVS, &body).await;
    }
    for (selector, want) in [
        ("app%3Ddb", vec!["a", "c"]),
        ("app%3D%3Ddb", vec!["a", "c"]),
        ("app!%3Ddb", vec!["b"]),
        ("app+in+(web,db),tier", vec!["a", "b"]),
        ("app%20notin%20(db)", vec!["b"]),
        ("!tier", vec!["c"]),
        ("tier", vec!["a", "b"]),
    ] {
        let (status, list) = h
            .admin
            .get(&format!("{PVS}?labelSelector={selector}"))
            .await;
        assert_eq!(status, 200, "{selector}: {list}");
        assert_eq!(names(&list), want, "{selector}");
    }
    let (status, _) = h.admin.get(&format!("{PVS}?labelSelector=app+in+db")).await;
    assert_eq!(status, 400);
    h.server.shutdown().await;
}

#[tokio::test]
async fn field_selectors_know_each_kinds_fields() {
    let h = common::start().await;
    let events = "/api/v1/namespaces/default/events";
    for (name, kind, reason, kind_type) in [
        ("e1", "PersistentVolume", "VolumeFailedDelete", "Warning"),
        (
            "e2",
            "PersistentVolumeClaim",
            "ProvisioningSucceeded",
            "Normal",
        ),
    ] {
        let event = json!({"metadata": {"name": name}, "involvedObject": {"kind": kind,
            "name": "pv1"}, "reason": reason, "type": kind_type});
        assert_eq!(h.admin.post(events, &event).await.0, 201);
    }
    for (selector, want) in [
        ("involvedObject.kind%3DPersistentVolume", vec!["e1"]),
        ("involvedObject.name%3Dpv1,type%3DNormal", vec!["e2"]),
        ("reason!%3DVolumeFailedDelete", vec!["e2"]),
        ("metadata.name%3De1", vec!["e1"]),
        ("metadata.namespace%3Ddefault", vec!["e1", "e2"]),
    ] {
        let (_, list) = h
            .admin
            .get(&format!("{events}?fieldSelector={selector}"))
            .await;
        assert_eq!(names(&list), want, "{selector}");
    }
    let (_, all) = h
        .admin
        .get("/api/v1/events?fieldSelector=involvedObject.kind%3DPersistentVolume")
        .await;
    assert_eq!(names(&all), ["e1"], "events of all namespaces");
    let (status, body) = h
        .admin
        .get(&format!("{PVS}?fieldSelector=spec.claimRef.name%3Dx"))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["message"],
        "field label not supported: spec.claimRef.name"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn lists_honour_resource_version_semantics() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let (_, before) = h.admin.get(PVS).await;
    let rv = before["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    h.admin.post(PVS, &pv("b")).await;

    let (_, exact) = h
        .admin
        .get(&format!(
            "{PVS}?resourceVersion={rv}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(names(&exact), ["a"], "an exact list shows the old state");
    let (_, newer) = h
        .admin
        .get(&format!(
            "{PVS}?resourceVersion={rv}&resourceVersionMatch=NotOlderThan"
        ))
        .await;
    assert_eq!(names(&newer), ["a", "b"]);
    let (_, any) = h.admin.get(&format!("{PVS}?resourceVersion=0")).await;
    assert_eq!(names(&any), ["a", "b"]);

    let (status, body) = h.admin.get(&format!("{PVS}?resourceVersion=999999")).await;
    assert_eq!(status, 504);
    assert_eq!(body["reason"], "Timeout");

    h.admin
        .send(
            hyper::Method::POST,
            "/pvwarden-test/compact",
            None,
            "application/json",
            None,
        )
        .await;
    let (status, body) = h
        .admin
        .get(&format!(
            "{PVS}?resourceVersion={rv}&resourceVersionMatch=Exact"
        ))
        .await;
    assert_eq!(status, 410);
    assert_eq!(
        body["message"],
        "The resourceVersion for the provided list is too old."
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn namespaced_lists_cover_one_or_all_namespaces() {
    let h = common::start().await;
    let ns = json!({"metadata": {"name": "apps"}});
    assert_eq!(h.admin.post("/api/v1/namespaces", &ns).await.0, 201);
    for ns in ["default", "apps"] {
        let pvc = json!({"metadata": {"name": format!("c-{ns}")}, "spec": {}});
        h.admin
            .post(
                &format!("/api/v1/namespaces/{ns}/persistentvolumeclaims"),
                &pvc,
            )
            .await;
    }
    let (_, one) = h
        .admin
        .get("/api/v1/namespaces/apps/persistentvolumeclaims")
        .await;
    assert_eq!(names(&one), ["c-apps"]);
    let (_, all) = h.admin.get("/api/v1/persistentvolumeclaims").await;
    assert_eq!(names(&all), ["c-apps", "c-default"]);
    h.server.shutdown().await;
}

#[tokio::test]
async fn tables_are_served_when_asked_for() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (status, table) = h
        .admin
        .send(
            hyper::Method::GET,
            PVS,
            None,
            "application/json",
            Some(accept),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(table["kind"], "Table");
    let columns: Vec<&str> = table["columnDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        &columns[..5],
        [
            "Name",
            "Capacity",
            "Access Modes",
            "Reclaim Policy",
            "Status"
        ]
    );
    let row = &table["rows"][0];
    assert_eq!(row["cells"][0], "a");
    assert_eq!(row["cells"][2], "RWO");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    h.server.shutdown().await;
}

/// Regression: the continue token compared `ns/name` strings while the table is
/// ordered by (namespace, name) pairs, so a namespace that prefixes another
/// (`a` and `a-b`) made the next page skip the longer namespace's objects.
#[tokio::test]
async fn pages_do_not_skip_namespaces_that_share_a_prefix() {
    let h = common::start().await;
    let claims = |ns: &str| format!("/api/v1/namespaces/{ns}/persistentvolumeclaims");
    for ns in ["a", "a-b"] {
        let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        h.admin.post("/api/v1/namespaces", &namespace).await;
    }
    for (ns, name) in [("a", "z"), ("a-b", "x"), ("a-b", "y")] {
        let claim = json!({
            "apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"accessModes": ["ReadWriteOnce"],
                     "resources": {"requests": {"storage": "1Gi"}}}
        });
        h.admin.post(&claims(ns), &claim).await;
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let continue_param = token.map(|t| format!("&continue={t}")).unwrap_or_default();
        let url = format!("/api/v1/persistentvolumeclaims?limit=1{continue_param}");
        let (status, page) = h.admin.get(&url).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(names(&page));
        token = page["metadata"]["continue"]
            .as_str()
            .filter(|t| !t.is_empty())
            .map(str::to_owned);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["z", "x", "y"]);
}
