//! Discovery (`/version`, `/api`, `/apis`, ...) and the OpenAPI v3 documents.
//!
//! Discovery answers in the unaggregated v1 format whatever the `Accept`
//! header asks, as a server older than aggregated discovery does; client-go
//! reads the `Content-Type` (plain `application/json`) and falls back.
//!
//! OpenAPI v2 is not served (`404`). OpenAPI v3 is served as a stub that only
//! says, for each kind, that its PATCH takes the `fieldValidation` parameter:
//! that is what kubectl checks to leave validation to the server instead of
//! downloading the v2 schema, so `kubectl apply` and `kubectl create` work
//! with validation on. The stub declares no request body, so kubectl computes
//! apply patches from its compiled-in types, as it does against any server
//! whose OpenAPI it cannot use.

use serde_json::{json, Map, Value};

use crate::resource::{Kind, KINDS};

/// The Kubernetes version the server claims.
pub(crate) const GIT_VERSION: &str = "v1.32.4";

/// `/version`.
pub(crate) fn version() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T00:00:00Z",
        "goVersion": "go1.23.8",
        "compiler": "gc",
        "platform": "linux/amd64"
    })
}

/// `/api`.
pub(crate) fn api(address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": address}]
    })
}

/// `/apis`.
pub(crate) fn apis() -> Value {
    let groups: Vec<Value> = Kind::group_versions()
        .into_iter()
        .filter(|(group, _)| !group.is_empty())
        .filter_map(|(group, _)| group_body(group))
        .collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/<group>`.
pub(crate) fn group(group: &str) -> Option<Value> {
    let mut body = group_body(group)?;
    if let Value::Object(map) = &mut body {
        map.insert("kind".into(), "APIGroup".into());
        map.insert("apiVersion".into(), "v1".into());
    }
    Some(body)
}

fn group_body(group: &str) -> Option<Value> {
    let version = KINDS
        .iter()
        .find(|k| k.group == group && !group.is_empty())?
        .version;
    let gv = json!({"groupVersion": format!("{group}/{version}"), "version": version});
    Some(json!({"name": group, "versions": [gv], "preferredVersion": gv}))
}

/// `/api/v1` or `/apis/<group>/<version>`.
pub(crate) fn resources(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&Kind> = KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut resources = Vec::new();
    for kind in &kinds {
        let mut main = Map::new();
        main.insert("name".into(), kind.plural.into());
        main.insert("singularName".into(), kind.singular.into());
        main.insert("namespaced".into(), kind.namespaced.into());
        main.insert("kind".into(), kind.kind.into());
        main.insert(
            "verbs".into(),
            json!([
                "create",
                "delete",
                "deletecollection",
                "get",
                "list",
                "patch",
                "update",
                "watch"
            ]),
        );
        if !kind.short.is_empty() {
            main.insert("shortNames".into(), json!(kind.short));
        }
        if !kind.categories.is_empty() {
            main.insert("categories".into(), json!(kind.categories));
        }
        resources.push(Value::Object(main));
        if kind.status {
            resources.push(json!({
                "name": format!("{}/status", kind.plural),
                "singularName": "",
                "namespaced": kind.namespaced,
                "kind": kind.kind,
                "verbs": ["get", "patch", "update"]
            }));
        }
    }
    let group_version = kinds[0].api_version();
    let mut body =
        json!({"kind": "APIResourceList", "groupVersion": group_version, "resources": resources});
    if !group.is_empty() {
        body["apiVersion"] = "v1".into();
    }
    Some(body)
}

/// `/openapi/v3`: where each group version's document is.
pub(crate) fn openapi_root() -> Value {
    let mut paths = Map::new();
    for (group, version) in Kind::group_versions() {
        let path = openapi_path(group, version);
        let hash = openapi_doc(group, version)
            .map(|doc| fnv(&doc.to_string()))
            .unwrap_or(0);
        let url = format!("/openapi/v3/{path}?hash={hash:016X}");
        paths.insert(path, json!({"serverRelativeURL": url}));
    }
    json!({"paths": paths})
}

fn openapi_path(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("api/{version}")
    } else {
        format!("apis/{group}/{version}")
    }
}

/// `/openapi/v3/<group version>`: PATCH operations with their `fieldValidation` parameter.
pub(crate) fn openapi_doc(group: &str, version: &str) -> Option<Value> {
    let kinds: Vec<&Kind> = KINDS
        .iter()
        .filter(|k| k.group == group && k.version == version)
        .collect();
    if kinds.is_empty() {
        return None;
    }
    let mut paths = Map::new();
    for kind in kinds {
        let prefix = format!("/{}", openapi_path(group, version));
        let scope = if kind.namespaced {
            "/namespaces/{namespace}"
        } else {
            ""
        };
        let path = format!("{prefix}{scope}/{}/{{name}}", kind.plural);
        let gvk = json!({"group": kind.group, "version": kind.version, "kind": kind.kind});
        let params = json!([
            {"name": "name", "in": "path", "required": true, "schema": {"type": "string"}},
            {"name": "dryRun", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldManager", "in": "query", "schema": {"type": "string"}},
            {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}},
        ]);
        let patch = json!({
            "operationId": format!("patch{}", kind.kind),
            "parameters": params,
            "responses": {"200": {"description": "OK"}},
            "x-kubernetes-action": "patch",
            "x-kubernetes-group-version-kind": gvk
        });
        paths.insert(path, json!({"patch": patch}));
    }
    Some(json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": GIT_VERSION},
        "paths": paths
    }))
}

/// FNV-1a, for the `hash` of OpenAPI URLs (any stable digest will do).
fn fnv(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, b| {
        (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
