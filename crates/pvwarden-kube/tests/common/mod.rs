//! A fake API server behind kube's client, as a tower service: no socket.
//!
//! It serves LISTs of all-namespace collections with `limit`/`continue`
//! paging, the `involvedObject.kind` field selector of events, `/version`,
//! and discovery of the snapshot group. Tests make paths answer `403`, let
//! `continue` tokens expire (`410`), and count the requests.

#![allow(dead_code, reason = "each test file uses a part of the helpers")]
#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use pvwarden_domain::audit::Auditor;
use pvwarden_domain::evidence::Settings;
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::object::Object;
use pvwarden_domain::version::Assumptions;
use serde_json::{json, Value};

/// What the fake serves and how it misbehaves.
#[derive(Debug, Default)]
pub struct State {
    /// Items by collection path, e.g. `/api/v1/persistentvolumes`.
    pub collections: BTreeMap<String, Vec<Value>>,
    /// Paths answered with `403 Forbidden`.
    pub forbidden: BTreeSet<String>,
    /// Paths answered with `500 InternalError`.
    pub broken: BTreeSet<String>,
    /// Paths whose next N requests with a `continue` token get `410 Expired`.
    pub expire: BTreeMap<String, u32>,
    /// Whether `snapshot.storage.k8s.io/v1` is served.
    pub snapshots: bool,
    /// Every request as `path?query`.
    pub requests: Vec<String>,
}

/// The fake server.
#[derive(Debug, Default)]
pub struct Fake {
    pub state: Mutex<State>,
}

impl Fake {
    pub fn new() -> Arc<Fake> {
        Arc::new(Fake::default())
    }

    /// A kube client whose every request this fake answers.
    pub fn client(self: &Arc<Fake>) -> kube::Client {
        let fake = Arc::clone(self);
        let service = tower::service_fn(move |req: Request<Body>| {
            let fake = Arc::clone(&fake);
            async move { Ok::<_, Infallible>(fake.answer(&req)) }
        });
        kube::Client::new(service, "default")
    }

    /// A cluster named `test` on this fake.
    pub fn cluster(self: &Arc<Fake>) -> pvwarden_kube::Cluster {
        pvwarden_kube::Cluster::from_client(self.client(), "test")
    }

    pub fn with(&self, f: impl FnOnce(&mut State)) {
        f(&mut self.state.lock().unwrap());
    }

    /// Adds objects to their collections.
    pub fn add(&self, path: &str, items: impl IntoIterator<Item = Value>) {
        self.with(|s| s.collections.entry(path.into()).or_default().extend(items));
    }

    /// Loads every object of a manifest the way the API server would serve it.
    pub fn load(&self, manifest: &str) {
        pvwarden_manifest::Reader::new().read_bytes("fixture", manifest.as_bytes(), &mut |item| {
            let located = item.expect("fixtures must parse");
            let (path, value) = served(&located.object);
            self.add(path, [value]);
        });
    }

    /// Requests whose path is exactly `path`.
    pub fn requests_to(&self, path: &str) -> usize {
        let state = self.state.lock().unwrap();
        state
            .requests
            .iter()
            .filter(|r| r.split('?').next() == Some(path))
            .count()
    }

    pub fn total_requests(&self) -> usize {
        self.state.lock().unwrap().requests.len()
    }

    fn answer(&self, req: &Request<Body>) -> Response<Body> {
        let path = req.uri().path().to_owned();
        let query = query(req.uri().query().unwrap_or(""));
        let mut state = self.state.lock().unwrap();
        let line = format!("{path}?{}", req.uri().query().unwrap_or(""));
        state.requests.push(line);

        if state.forbidden.contains(&path) {
            let message = format!("forbidden: cannot access {path}");
            return status(StatusCode::FORBIDDEN, "Forbidden", &message);
        }
        if state.broken.contains(&path) {
            let message = "etcdserver: request timed out";
            return status(StatusCode::INTERNAL_SERVER_ERROR, "InternalError", message);
        }
        if path == "/version" {
            return ok(json!({
                "major": "1", "minor": "30", "gitVersion": "v1.30.4-fake.1",
                "gitCommit": "0", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z",
                "goVersion": "go1.24", "compiler": "gc", "platform": "linux/amd64"
            }));
        }
        if path == "/apis/snapshot.storage.k8s.io/v1" {
            if !state.snapshots {
                return status(
                    StatusCode::NOT_FOUND,
                    "NotFound",
                    "the server could not find it",
                );
            }
            return ok(discovery());
        }
        let continuing = query.get("continue").cloned();
        if continuing.is_some() {
            if let Some(left) = state.expire.get_mut(&path).filter(|n| **n > 0) {
                *left -= 1;
                let message = "The provided continue parameter is too old";
                return status(StatusCode::GONE, "Expired", message);
            }
        }
        let items = state.collections.get(&path).cloned().unwrap_or_default();
        let items = select(items, query.get("fieldSelector").map(String::as_str));
        let offset: usize = continuing.and_then(|c| c.parse().ok()).unwrap_or(0);
        let limit: usize = query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(usize::MAX);
        let end = offset.saturating_add(limit).min(items.len());
        let page: Vec<Value> = items.get(offset..end).unwrap_or(&[]).to_vec();
        let next = if end < items.len() {
            end.to_string()
        } else {
            String::new()
        };
        ok(json!({
            "apiVersion": "v1",
            "kind": "List",
            "metadata": {"resourceVersion": "100", "continue": next},
            "items": page,
        }))
    }
}

fn select(items: Vec<Value>, selector: Option<&str>) -> Vec<Value> {
    let Some((field, wanted)) = selector.and_then(|s| s.split_once('=')) else {
        return items;
    };
    assert_eq!(
        field, "involvedObject.kind",
        "the fake knows one field selector"
    );
    items
        .into_iter()
        .filter(|i| i["involvedObject"]["kind"] == wanted)
        .collect()
}

fn discovery() -> Value {
    let resource = |name: &str, kind: &str, namespaced: bool| {
        json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind,
               "verbs": ["get", "list", "watch"]})
    };
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": "snapshot.storage.k8s.io/v1",
        "resources": [
            resource("volumesnapshots", "VolumeSnapshot", true),
            resource("volumesnapshotcontents", "VolumeSnapshotContent", false),
        ],
    })
}

fn ok(body: Value) -> Response<Body> {
    let mut response = Response::new(Body::from(body.to_string().into_bytes()));
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().unwrap());
    response
}

fn status(code: StatusCode, reason: &str, message: &str) -> Response<Body> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code.as_u16(),
    });
    let mut response = ok(body);
    *response.status_mut() = code;
    response
}

fn query(q: &str) -> BTreeMap<String, String> {
    q.split('&')
        .filter(|p| !p.is_empty())
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The all-namespace collection an object is listed in, and the object as JSON.
pub fn served(object: &Object) -> (&'static str, Value) {
    let to = |v: Result<Value, serde_json::Error>| v.unwrap();
    match object {
        Object::PersistentVolume(o) => ("/api/v1/persistentvolumes", to(serde_json::to_value(o))),
        Object::PersistentVolumeClaim(o) => (
            "/api/v1/persistentvolumeclaims",
            to(serde_json::to_value(o)),
        ),
        Object::StorageClass(o) => (
            "/apis/storage.k8s.io/v1/storageclasses",
            to(serde_json::to_value(o)),
        ),
        Object::CsiDriver(o) => (
            "/apis/storage.k8s.io/v1/csidrivers",
            to(serde_json::to_value(o)),
        ),
        Object::VolumeAttachment(o) => (
            "/apis/storage.k8s.io/v1/volumeattachments",
            to(serde_json::to_value(o)),
        ),
        Object::Node(o) => ("/api/v1/nodes", to(serde_json::to_value(o))),
        Object::Pod(o) => ("/api/v1/pods", to(serde_json::to_value(o))),
        Object::Event(o) => ("/api/v1/events", to(serde_json::to_value(o))),
        Object::EventV1(o) => ("/apis/events.k8s.io/v1/events", to(serde_json::to_value(o))),
        Object::Deployment(o) => ("/apis/apps/v1/deployments", to(serde_json::to_value(o))),
        Object::StatefulSet(o) => ("/apis/apps/v1/statefulsets", to(serde_json::to_value(o))),
        Object::DaemonSet(o) => ("/apis/apps/v1/daemonsets", to(serde_json::to_value(o))),
        Object::VolumeSnapshot(o) => (
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshots",
            to(serde_json::to_value(o)),
        ),
        Object::VolumeSnapshotContent(o) => (
            "/apis/snapshot.storage.k8s.io/v1/volumesnapshotcontents",
            to(serde_json::to_value(o)),
        ),
        _ => panic!("the fake does not serve {}", object.kind()),
    }
}

/// A PersistentVolume named `pv-<i>`.
pub fn pv(i: usize) -> Value {
    json!({
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": format!("pv-{i:05}"), "uid": format!("uid-{i}")},
        "spec": {"persistentVolumeReclaimPolicy": "Retain",
                 "csi": {"driver": "example.csi.io", "volumeHandle": format!("h-{i}")}},
        "status": {"phase": "Available"},
    })
}

/// Every verdict of an inventory as JSON, volumes then claims, judged at a fixed time.
pub fn verdicts(inventory: &Inventory, assumptions: &Assumptions) -> Vec<Value> {
    let now: jiff::Timestamp = "2026-12-04T12:00:00Z".parse().unwrap();
    let auditor = Auditor::new(inventory, assumptions.clone(), Settings::at(now));
    let mut out = Vec::new();
    let mut outcomes = std::collections::HashMap::new();
    for pv in inventory.pvs() {
        let verdict = auditor.volume(pv);
        outcomes.insert(verdict.name.clone(), verdict.on_delete);
        out.push(serde_json::to_value(&verdict).unwrap());
    }
    for claim in inventory.claims() {
        let outcome = |name: &str| outcomes.get(name).copied();
        out.push(serde_json::to_value(auditor.claim(claim, &outcome)).unwrap());
    }
    out
}

/// The first place two JSON values differ, ignoring fields named `ignore`.
pub fn first_difference(a: &Value, b: &Value, path: &str, ignore: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            keys.into_iter().filter(|k| *k != ignore).find_map(|k| {
                let (l, r) = (
                    x.get(k).unwrap_or(&Value::Null),
                    y.get(k).unwrap_or(&Value::Null),
                );
                first_difference(l, r, &format!("{path}/{k}"), ignore)
            })
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (l, r))| first_difference(l, r, &format!("{path}/{i}"), ignore)),
        _ if a == b => None,
        _ => Some(format!("{path}: {a} != {b}")),
    }
}
