//! The parts of the external-snapshotter's CRDs that the model reads.
//!
//! k8s-openapi has no types for custom resources, so these are declared here
//! with only the fields that decide whether a snapshot holds a claim or a
//! backend volume; unknown fields are ignored when reading.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

/// A `snapshot.storage.k8s.io/v1` VolumeSnapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeSnapshot {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What the snapshot is taken from.
    #[serde(default)]
    pub spec: VolumeSnapshotSpec,
    /// Whether the snapshot is ready, and its bound content.
    #[serde(default)]
    pub status: Option<VolumeSnapshotStatus>,
}

/// The spec of a VolumeSnapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotSpec {
    /// The source: a claim, or a pre-existing content.
    #[serde(default)]
    pub source: VolumeSnapshotSource,
    /// The snapshot class.
    #[serde(default)]
    pub volume_snapshot_class_name: Option<String>,
}

/// The source of a VolumeSnapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotSource {
    /// The claim (in the snapshot's namespace) being snapshotted.
    #[serde(default)]
    pub persistent_volume_claim_name: Option<String>,
    /// A pre-provisioned content.
    #[serde(default)]
    pub volume_snapshot_content_name: Option<String>,
}

/// The status of a VolumeSnapshot.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotStatus {
    /// The content this snapshot is bound to.
    #[serde(default)]
    pub bound_volume_snapshot_content_name: Option<String>,
    /// Whether the snapshot can be used.
    #[serde(default)]
    pub ready_to_use: Option<bool>,
}

/// A `snapshot.storage.k8s.io/v1` VolumeSnapshotContent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VolumeSnapshotContent {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The driver, the source volume and the deletion policy.
    #[serde(default)]
    pub spec: VolumeSnapshotContentSpec,
}

/// The spec of a VolumeSnapshotContent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotContentSpec {
    /// The CSI driver that made the snapshot.
    #[serde(default)]
    pub driver: String,
    /// `Delete` or `Retain`.
    #[serde(default)]
    pub deletion_policy: Option<String>,
    /// The volume (or snapshot) this content was taken from.
    #[serde(default)]
    pub source: VolumeSnapshotContentSource,
    /// The VolumeSnapshot this content is bound to.
    #[serde(default)]
    pub volume_snapshot_ref: Option<k8s_openapi::api::core::v1::ObjectReference>,
}

/// The source of a VolumeSnapshotContent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeSnapshotContentSource {
    /// The CSI volume handle the snapshot was taken from.
    #[serde(default)]
    pub volume_handle: Option<String>,
    /// The handle of a pre-existing snapshot.
    #[serde(default)]
    pub snapshot_handle: Option<String>,
}
