//! The Kubernetes objects the model reads, and where each one came from.
//!
//! Every front end (manifest files, a live API server, a support bundle) turns
//! what it reads into [`Object`]s with an [`Origin`]; the [`crate::inventory`]
//! keeps only the facts the model needs from them.

use std::sync::Arc;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    Event as CoreEvent, Node, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::events::v1::Event as EventsEvent;
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass, VolumeAttachment};
use serde::{Deserialize, Serialize};

pub use self::snapshot::{VolumeSnapshot, VolumeSnapshotContent};

/// Where an object was read from: a file (or `-`, or a cluster) and a line.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Origin {
    /// The file path as given by the user, `-` for stdin, or `cluster:<context>`.
    pub file: Arc<str>,
    /// The 1-based line where the object starts; 0 when unknown.
    pub line: u32,
}

impl Origin {
    /// Creates an origin for a file and a 1-based line.
    pub fn new(file: impl Into<Arc<str>>, line: u32) -> Origin {
        Origin {
            file: file.into(),
            line,
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.file)
        } else {
            write!(f, "{}:{}", self.file, self.line)
        }
    }
}

/// One Kubernetes object of a kind the model uses.
///
/// Large variants are boxed so that a stream of objects stays small in memory.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Object {
    /// A `v1` PersistentVolume.
    PersistentVolume(Box<PersistentVolume>),
    /// A `v1` PersistentVolumeClaim.
    PersistentVolumeClaim(Box<PersistentVolumeClaim>),
    /// A `storage.k8s.io/v1` StorageClass.
    StorageClass(Box<StorageClass>),
    /// A `storage.k8s.io/v1` CSIDriver.
    CsiDriver(Box<CSIDriver>),
    /// A `storage.k8s.io/v1` VolumeAttachment.
    VolumeAttachment(Box<VolumeAttachment>),
    /// A `v1` Node.
    Node(Box<Node>),
    /// A `v1` Pod (only its claim references and lifecycle matter).
    Pod(Box<Pod>),
    /// A `v1` Event.
    Event(Box<CoreEvent>),
    /// An `events.k8s.io/v1` Event.
    EventV1(Box<EventsEvent>),
    /// An `apps/v1` Deployment (read for csi-provisioner and ceph-csi images and flags).
    Deployment(Box<Deployment>),
    /// An `apps/v1` StatefulSet (same use as a Deployment).
    StatefulSet(Box<StatefulSet>),
    /// An `apps/v1` DaemonSet (same use as a Deployment).
    DaemonSet(Box<DaemonSet>),
    /// A `snapshot.storage.k8s.io/v1` VolumeSnapshot.
    VolumeSnapshot(Box<VolumeSnapshot>),
    /// A `snapshot.storage.k8s.io/v1` VolumeSnapshotContent.
    VolumeSnapshotContent(Box<VolumeSnapshotContent>),
}

impl Object {
    /// The object's kind as Kubernetes spells it.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::PersistentVolume(_) => "PersistentVolume",
            Object::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
            Object::StorageClass(_) => "StorageClass",
            Object::CsiDriver(_) => "CSIDriver",
            Object::VolumeAttachment(_) => "VolumeAttachment",
            Object::Node(_) => "Node",
            Object::Pod(_) => "Pod",
            Object::Event(_) | Object::EventV1(_) => "Event",
            Object::Deployment(_) => "Deployment",
            Object::StatefulSet(_) => "StatefulSet",
            Object::DaemonSet(_) => "DaemonSet",
            Object::VolumeSnapshot(_) => "VolumeSnapshot",
            Object::VolumeSnapshotContent(_) => "VolumeSnapshotContent",
        }
    }
}

/// An object together with where it was read.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// The object.
    pub object: T,
    /// Where it starts.
    pub origin: Origin,
}

pub mod snapshot;
