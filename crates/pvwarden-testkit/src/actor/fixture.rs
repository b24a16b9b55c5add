//! Plain objects for the actors' unit tests.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::{StorageClass, VolumeAttachment};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::cache::Snapshot;

/// Decodes an object, giving it a `resourceVersion` of `"1"` unless it has one.
pub fn object<K: DeserializeOwned>(mut value: Value) -> Arc<K> {
    if value["metadata"]["resourceVersion"].is_null() {
        value["metadata"]["resourceVersion"] = json!("1");
    }
    Arc::new(serde_json::from_value(value).expect("fixture must decode"))
}

/// A CSI PV bound (phase `Bound`) to `ns/claim` with the given uid.
pub fn bound_pv(name: &str, driver: &str, policy: &str, claim: (&str, &str, &str)) -> Value {
    json!({
        "metadata": {"name": name, "finalizers": ["kubernetes.io/pv-protection"]},
        "spec": {
            "persistentVolumeReclaimPolicy": policy,
            "storageClassName": "sc",
            "claimRef": {"namespace": claim.0, "name": claim.1, "uid": claim.2},
            "csi": {"driver": driver, "volumeHandle": format!("{name}-handle")},
        },
        "status": {"phase": "Bound"},
    })
}

/// A claim bound to a PV.
pub fn bound_claim(namespace: &str, name: &str, uid: &str, volume: &str) -> Value {
    json!({
        "metadata": {
            "name": name, "namespace": namespace, "uid": uid,
            "annotations": {"pv.kubernetes.io/bind-completed": "yes"},
            "finalizers": ["kubernetes.io/pvc-protection"],
        },
        "spec": {"volumeName": volume},
        "status": {"phase": "Bound"},
    })
}

/// Builds a snapshot from JSON objects.
#[derive(Debug, Default)]
pub struct Cluster {
    snapshot: Snapshot,
}

impl Cluster {
    /// Adds a PV.
    pub fn pv(mut self, value: Value) -> Self {
        self.snapshot
            .volumes
            .push(object::<PersistentVolume>(value));
        self
    }

    /// Adds a claim.
    pub fn claim(mut self, value: Value) -> Self {
        self.snapshot
            .claims
            .push(object::<PersistentVolumeClaim>(value));
        self
    }

    /// Adds a pod.
    pub fn pod(mut self, value: Value) -> Self {
        self.snapshot.pods.push(object::<Pod>(value));
        self
    }

    /// Adds a VolumeAttachment.
    pub fn attachment(mut self, value: Value) -> Self {
        self.snapshot
            .attachments
            .push(object::<VolumeAttachment>(value));
        self
    }

    /// Adds a StorageClass.
    pub fn class(mut self, value: Value) -> Self {
        self.snapshot.classes.push(object::<StorageClass>(value));
        self
    }

    /// Returns the snapshot.
    pub fn build(self) -> Snapshot {
        self.snapshot
    }
}
