//! `--load`: preloading manifests into the store.
//!
//! Manifests are read with [`pvwarden_manifest::Reader`], so only the kinds it
//! knows are loaded (PVs, PVCs, StorageClasses, CSIDrivers,
//! VolumeAttachments, Nodes, Pods, Events, workloads, snapshots); other kinds
//! are skipped with a warning. Each object is created as if POSTed, but keeps
//! its status, finalizers, `deletionTimestamp`, `creationTimestamp`, `uid` and
//! `generation`, since test cases start in stuck states and name each other by
//! uid. Namespaces that objects name are created when missing; `default` and
//! the `kube-*` namespaces always exist.

use std::path::PathBuf;

use pvwarden_domain::object::{Located, Object};
use serde_json::Value;

use crate::resource::Kind;
use crate::server::Error;
use crate::store::{Store, WriteOptions};

const PRELOAD: WriteOptions = WriteOptions {
    dry_run: false,
    preload: true,
};

/// Creates the standard namespaces and loads the manifests; returns how many objects.
pub(crate) fn preload(store: &Store, paths: &[PathBuf]) -> Result<usize, Error> {
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        ensure_namespace(store, ns)?;
    }
    if paths.is_empty() {
        return Ok(0);
    }
    let mut objects = Vec::new();
    let mut failure = None;
    let summary = pvwarden_manifest::Reader::new().read_paths(paths, &mut |read| match read {
        Ok(located) => objects.push(located),
        Err(error) => {
            failure.get_or_insert(error);
        }
    });
    if let Some(error) = failure {
        return Err(Error::Manifest(Box::new(error)));
    }
    for (kind, count) in &summary.skipped {
        tracing::warn!(kind = %kind, count, "manifest kind not loaded: pvwarden-manifest skips it");
    }
    let count = objects.len();
    for located in objects {
        load_one(store, located)?;
    }
    Ok(count)
}

fn load_one(store: &Store, located: Located<Object>) -> Result<(), Error> {
    let origin = located.origin.to_string();
    let Some((kind, value)) = to_json(&located.object) else {
        tracing::warn!(origin = %origin, "object of an unknown variant not loaded");
        return Ok(());
    };
    let name = value["metadata"]["name"].as_str().unwrap_or("").to_owned();
    let refused = |source| Error::Preload {
        origin: origin.clone(),
        kind: kind.kind.to_owned(),
        name: name.clone(),
        source: Box::new(source),
    };
    let ns = match value["metadata"]["namespace"].as_str() {
        _ if !kind.namespaced => String::new(),
        Some(ns) if !ns.is_empty() => ns.to_owned(),
        _ => "default".to_owned(),
    };
    if kind.namespaced {
        ensure_namespace(store, &ns)?;
    }
    store.create(kind, &ns, value, PRELOAD).map_err(refused)?;
    tracing::debug!(origin = %origin, kind = kind.kind, ns = %ns, name = %name, "preloaded");
    Ok(())
}

fn ensure_namespace(store: &Store, ns: &str) -> Result<(), Error> {
    let Some(kind) = Kind::find("", "v1", "namespaces") else {
        return Ok(());
    };
    if store.get(kind, "", ns).is_ok() {
        return Ok(());
    }
    let object =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    store
        .create(kind, "", object, PRELOAD)
        .map_err(|source| Error::Preload {
            origin: "(namespace of a preloaded object)".to_owned(),
            kind: "Namespace".to_owned(),
            name: ns.to_owned(),
            source: Box::new(source),
        })?;
    Ok(())
}

/// The kind and JSON form of a manifest object.
fn to_json(object: &Object) -> Option<(&'static Kind, Value)> {
    let (api_version, value) = match object {
        Object::PersistentVolume(o) => ("v1", serde_json::to_value(o)),
        Object::PersistentVolumeClaim(o) => ("v1", serde_json::to_value(o)),
        Object::StorageClass(o) => ("storage.k8s.io/v1", serde_json::to_value(o)),
        Object::CsiDriver(o) => ("storage.k8s.io/v1", serde_json::to_value(o)),
        Object::VolumeAttachment(o) => ("storage.k8s.io/v1", serde_json::to_value(o)),
        Object::Node(o) => ("v1", serde_json::to_value(o)),
        Object::Pod(o) => ("v1", serde_json::to_value(o)),
        Object::Event(o) => ("v1", serde_json::to_value(o)),
        Object::EventV1(o) => ("events.k8s.io/v1", serde_json::to_value(o)),
        Object::Deployment(o) => ("apps/v1", serde_json::to_value(o)),
        Object::StatefulSet(o) => ("apps/v1", serde_json::to_value(o)),
        Object::DaemonSet(o) => ("apps/v1", serde_json::to_value(o)),
        Object::VolumeSnapshot(o) => ("snapshot.storage.k8s.io/v1", serde_json::to_value(o)),
        Object::VolumeSnapshotContent(o) => ("snapshot.storage.k8s.io/v1", serde_json::to_value(o)),
        _ => return None,
    };
    let kind = Kind::by_kind(api_version, object.kind())?;
    let mut value = value.ok()?;
    if let Value::Object(map) = &mut value {
        map.insert("apiVersion".into(), api_version.into());
        map.insert("kind".into(), kind.kind.into());
    }
    Some((kind, value))
}
