//! The compact facts the model keeps about each object.
//!
//! A cluster dump of 100,000 volumes must fit in a small, fixed memory budget,
//! so the [`crate::inventory::Inventory`] keeps these summaries rather than
//! whole API objects: only the fields that decide what a deletion does.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiff::Timestamp;
use serde::Serialize;

use crate::object::Origin;

mod uid;

pub use self::uid::Uid;

/// The finalizer the external-provisioner puts on PVs it must delete.
pub const PROVISIONER_FINALIZER: &str = "external-provisioner.volume.kubernetes.io/finalizer";
/// The finalizer kube-controller-manager keeps on a PV while a claim is bound to it.
pub const PV_PROTECTION_FINALIZER: &str = "kubernetes.io/pv-protection";
/// The finalizer kube-controller-manager puts on in-tree volumes it must delete.
pub const PV_CONTROLLER_FINALIZER: &str = "kubernetes.io/pv-controller";
/// The finalizer kube-controller-manager keeps on a claim while a pod uses it.
pub const PVC_PROTECTION_FINALIZER: &str = "kubernetes.io/pvc-protection";
/// The finalizer the snapshot controller keeps on a claim being snapshotted.
pub const SNAPSHOT_SOURCE_FINALIZER: &str =
    "snapshot.storage.kubernetes.io/pvc-as-source-protection";
/// The prefix of the external-attacher's finalizers on PVs and VolumeAttachments.
pub const ATTACHER_FINALIZER_PREFIX: &str = "external-attacher/";

/// The annotation a provisioner writes on the PVs it creates.
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// The annotation kube-controller-manager writes on in-tree PVs handed to CSI.
pub const ANN_MIGRATED_TO: &str = "pv.kubernetes.io/migrated-to";
/// The annotation naming the secret the provisioner deletes with.
pub const ANN_DELETION_SECRET_NAME: &str = "volume.kubernetes.io/provisioner-deletion-secret-name";
/// The annotation naming the namespace of that secret.
pub const ANN_DELETION_SECRET_NAMESPACE: &str =
    "volume.kubernetes.io/provisioner-deletion-secret-namespace";
/// The volume attribute CSI provisioners add to the PVs they create.
pub const ATTR_PROVISIONER_IDENTITY: &str = "storage.kubernetes.io/csiProvisionerIdentity";
/// The prefix of the annotations that silence a rule for one object.
pub const ANN_IGNORE_PREFIX: &str = "pvwarden.io/ignore.";

/// The finalizer of the external-attacher for a driver (dots become dashes).
pub fn attacher_finalizer(driver: &str) -> String {
    format!("{ATTACHER_FINALIZER_PREFIX}{}", driver.replace('.', "-"))
}

/// What happens to a PV's storage once it is released.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub enum ReclaimPolicy {
    /// The storage is deleted with the PV.
    Delete,
    /// The storage stays; the PV stays `Released` until someone acts.
    Retain,
    /// The deprecated scrub-and-reuse policy.
    Recycle,
}

impl ReclaimPolicy {
    /// The policy as Kubernetes spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ReclaimPolicy::Delete => "Delete",
            ReclaimPolicy::Retain => "Retain",
            ReclaimPolicy::Recycle => "Recycle",
        }
    }
}

/// The lifecycle phase of a PV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Phase {
    /// Not yet processed by the PV controller.
    Pending,
    /// Free, not bound to a claim.
    Available,
    /// Bound to a claim.
    Bound,
    /// Its claim is gone; the reclaim policy decides what happens next.
    Released,
    /// Reclamation failed.
    Failed,
}

impl Phase {
    /// Reads a phase as Kubernetes spells it.
    pub fn parse(s: &str) -> Option<Phase> {
        Some(match s {
            "Pending" => Phase::Pending,
            "Available" => Phase::Available,
            "Bound" => Phase::Bound,
            "Released" => Phase::Released,
            "Failed" => Phase::Failed,
            _ => return None,
        })
    }

    /// The phase as Kubernetes spells it.
    pub fn as_str(&self) -> &'static str {
        match self {
            Phase::Pending => "Pending",
            Phase::Available => "Available",
            Phase::Bound => "Bound",
            Phase::Released => "Released",
            Phase::Failed => "Failed",
        }
    }
}

/// A PV's reference to the claim it is (or was) bound to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClaimRef {
    /// The claim's namespace.
    pub namespace: Arc<str>,
    /// The claim's name.
    pub name: String,
    /// The claim's uid, when the binding was completed.
    pub uid: Option<Uid>,
}

/// The CSI part of a PV, with the attributes the model reads.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CsiSource {
    /// The CSI driver name.
    pub driver: Arc<str>,
    /// The driver's id of the backing volume.
    pub handle: String,
    /// The volume attributes the model reads (others are dropped).
    pub attributes: Attributes,
    /// The node-stage secret, `namespace/name`.
    pub node_stage_secret: Option<Arc<str>>,
    /// Whether `rootPath` is set (a static CephFS volume names its directory).
    pub root_path: bool,
    /// A hash of the CephFS directory the volume mounts (`rootPath`, else
    /// `subvolumePath`, with its cluster and filesystem): volumes with the same
    /// key share storage. The paths themselves are long, unique per volume and
    /// read by nothing else, so only their hash is kept.
    pub path_key: Option<u64>,
}

/// The volume attributes kept from `spec.csi.volumeAttributes`.
pub const KEPT_ATTRIBUTES: &[&str] = &[
    "clusterID",
    "fsName",
    "pool",
    "journalPool",
    "imageName",
    "subvolumeName",
    "staticVolume",
    "radosNamespace",
    "share",
    "server",
    "source",
    "subDir",
    "type",
    ATTR_PROVISIONER_IDENTITY,
];

/// The key of a CephFS directory: its cluster and path (trailing slashes
/// ignored), hashed with a fixed seed so that equal keys always match.
///
/// The filesystem name is left out on purpose: hand-written shares often omit
/// the optional `fsName`, and ceph-csi's subvolume paths carry a uuid, so the
/// path alone already tells filesystems apart.
pub fn cephfs_path_key(cluster: &str, path: &str) -> u64 {
    use std::hash::BuildHasher;
    let path = path.trim_end_matches('/');
    foldhash::quality::FixedState::with_seed(0x7076_7061_7468_6b65).hash_one((cluster, path))
}

/// One kept volume attribute: its name and value.
pub type Attribute = (&'static str, Arc<str>);

/// The volume attributes of a CSI PV that the model reads.
///
/// Most attributes (cluster, pool, filesystem, provisioner identity) are the
/// same on every PV of a StorageClass, so that set is shared between PVs; only
/// the few that name one volume (`imageName`, `subvolumeName`, `subDir`) are
/// the PV's own.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Attributes {
    /// Attributes many PVs have in common, shared between them.
    pub shared: Arc<[Attribute]>,
    /// Attributes that name this volume alone.
    pub own: Box<[Attribute]>,
}

/// Attribute values that differ on every volume: sharing them would only cost.
pub const UNIQUE_ATTRIBUTES: &[&str] = &["imageName", "subvolumeName", "subDir"];

impl Attributes {
    /// Splits attributes into the shared and the volume's own ones.
    pub fn new(all: Vec<Attribute>) -> Attributes {
        let (own, shared): (Vec<_>, Vec<_>) = all
            .into_iter()
            .partition(|(k, _)| UNIQUE_ATTRIBUTES.contains(k));
        Attributes {
            shared: shared.into(),
            own: own.into_boxed_slice(),
        }
    }

    /// A kept attribute's value, if present.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.shared
            .iter()
            .chain(self.own.iter())
            .find(|(k, _)| *k == key)
            .map(|(_, v)| &**v)
    }
}

impl CsiSource {
    /// A kept volume attribute, if present.
    pub fn attribute(&self, key: &str) -> Option<&str> {
        self.attributes.get(key)
    }

    /// Returns true when ceph-csi is told this is a static volume.
    pub fn is_static_volume(&self) -> bool {
        self.attribute("staticVolume") == Some("true")
    }
}

/// Where a PV's storage is, as the PV says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Source {
    /// A CSI volume.
    Csi(CsiSource),
    /// An in-tree volume plugin (`nfs`, `local`, `hostPath`, `awsElasticBlockStore`, ...).
    InTree {
        /// The field name under `spec`, e.g. `awsElasticBlockStore`.
        plugin: String,
        /// The plugin's own id of the storage (volume id, server:path, local path).
        id: String,
    },
    /// The PV names no volume source the model knows.
    None,
}

/// The facts kept about one PersistentVolume.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PvFacts {
    /// The PV's name.
    pub name: String,
    /// Where the PV was read.
    pub origin: Origin,
    /// `metadata.deletionTimestamp`: the PV is being deleted.
    pub deletion: Option<Timestamp>,
    /// `metadata.finalizers`, in order (shared strings: a few values recur everywhere).
    pub finalizers: Box<[Arc<str>]>,
    /// `pv.kubernetes.io/provisioned-by`.
    pub provisioned_by: Option<Arc<str>>,
    /// The deletion secret from the PV's annotations, `(namespace, name)`; both
    /// empty when the provisioner recorded that no secret is needed.
    pub deletion_secret: Option<(Arc<str>, Arc<str>)>,
    /// `spec.persistentVolumeReclaimPolicy` (the API server defaults it to `Retain`).
    pub policy: ReclaimPolicy,
    /// `status.phase`; `None` when the object carries no status (freshly applied).
    pub phase: Option<Phase>,
    /// `status.lastPhaseTransitionTime`.
    pub phase_since: Option<Timestamp>,
    /// `spec.storageClassName` (empty means none).
    pub storage_class: Option<Arc<str>>,
    /// `spec.claimRef`.
    pub claim_ref: Option<ClaimRef>,
    /// The volume source.
    pub source: Source,
    /// `spec.capacity.storage`.
    pub capacity: Option<Arc<str>>,
    /// `spec.accessModes`.
    pub access_modes: Box<[Arc<str>]>,
    /// What few PVs have, kept out of line so that the common PV stays small.
    pub rare: Option<Box<RarePvFacts>>,
}

/// Facts that few PVs have.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RarePvFacts {
    /// `pv.kubernetes.io/migrated-to`.
    pub migrated_to: Option<Arc<str>>,
    /// Rules silenced on this object, with the reason given.
    pub ignored: Vec<(String, String)>,
    /// `status.message`, kept for `Failed` PVs only.
    pub status_message: Option<String>,
}

impl RarePvFacts {
    /// Boxes these facts unless there are none.
    pub fn boxed(self) -> Option<Box<RarePvFacts>> {
        (self != RarePvFacts::default()).then(|| Box::new(self))
    }
}

impl PvFacts {
    /// `pv.kubernetes.io/migrated-to`.
    pub fn migrated_to(&self) -> Option<&str> {
        self.rare.as_ref()?.migrated_to.as_deref()
    }

    /// Rules silenced on this object, with the reason given.
    pub fn ignored(&self) -> &[(String, String)] {
        self.rare.as_ref().map_or(&[], |rare| &rare.ignored)
    }

    /// `status.message`, kept for `Failed` PVs only.
    pub fn status_message(&self) -> Option<&str> {
        self.rare.as_ref()?.status_message.as_deref()
    }

    /// The CSI source, if this is a CSI volume.
    pub fn csi(&self) -> Option<&CsiSource> {
        match &self.source {
            Source::Csi(csi) => Some(csi),
            _ => None,
        }
    }

    /// Returns true when the PV carries this finalizer.
    pub fn has_finalizer(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| &**f == finalizer)
    }
}

/// The facts kept about one PersistentVolumeClaim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClaimFacts {
    /// The namespace.
    pub namespace: Arc<str>,
    /// The name.
    pub name: String,
    /// `metadata.uid`, absent in manifests that were never applied.
    pub uid: Option<Uid>,
    /// Where the claim was read.
    pub origin: Origin,
    /// `metadata.deletionTimestamp`.
    pub deletion: Option<Timestamp>,
    /// `metadata.finalizers`.
    pub finalizers: Box<[Arc<str>]>,
    /// `spec.volumeName`.
    pub volume_name: Option<String>,
    /// `spec.storageClassName`.
    pub storage_class: Option<Arc<str>>,
    /// `status.phase` (`Pending`, `Bound`, `Lost`).
    pub phase: Option<Arc<str>>,
    /// Rules silenced on this object, with the reason given.
    pub ignored: Box<[(String, String)]>,
}

/// The facts kept about one StorageClass.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassFacts {
    /// The provisioner name.
    pub provisioner: Arc<str>,
    /// `reclaimPolicy` (defaults to `Delete`).
    pub policy: ReclaimPolicy,
    /// The provisioner (deletion) secret parameters, as written (may hold templates).
    pub provisioner_secret: Option<(String, String)>,
    /// Parameters that change what deletion does (`onDelete`, `archiveOnDelete`, ...).
    pub delete_parameters: BTreeMap<String, String>,
}

/// The facts kept about one VolumeAttachment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachmentFacts {
    /// The VolumeAttachment's name.
    pub name: String,
    /// The attacher (driver) name.
    pub attacher: String,
    /// The node it attaches to.
    pub node: String,
    /// The PV it attaches.
    pub pv: Option<String>,
    /// Whether it is being deleted.
    pub deletion: Option<Timestamp>,
    /// `status.attached`.
    pub attached: bool,
    /// `status.detachError.message`.
    pub detach_error: Option<String>,
    /// `status.attachError.message`.
    pub attach_error: Option<String>,
}

/// A pod's use of a claim.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PodUse {
    /// `namespace/name` of the pod.
    pub pod: String,
    /// The pod's phase.
    pub phase: Option<String>,
    /// When deletion was requested, if it was.
    pub deletion: Option<Timestamp>,
    /// The grace period of that deletion, in seconds.
    pub grace_seconds: Option<i64>,
    /// The node the pod runs on.
    pub node: Option<String>,
}

impl PodUse {
    /// Returns true when the pod has ended and no longer holds its claims.
    pub fn has_ended(&self) -> bool {
        matches!(self.phase.as_deref(), Some("Succeeded" | "Failed"))
    }
}

/// What the events say about one object.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct EventFacts {
    /// Recorded `VolumeFailedDelete` failures: total count and the newest message.
    pub failed_delete: Option<EventSummary>,
    /// Recorded successful deletions (`VolumeDeleted`-style reasons).
    pub deleted: Option<EventSummary>,
    /// Other warning events, newest message per reason.
    pub warnings: BTreeMap<String, Option<EventSummary>>,
}

/// A group of events with one reason.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventSummary {
    /// How many times it happened, summed over the events.
    pub count: u64,
    /// The newest message.
    pub message: String,
    /// When it last happened.
    pub last: Option<Timestamp>,
    /// The component that reported it.
    pub source: Option<String>,
}

/// A CSI sidecar or driver found running in a workload of the input.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ComponentFacts {
    /// `Kind namespace/name` of the workload.
    pub workload: String,
    /// The container name.
    pub container: String,
    /// The container image.
    pub image: String,
    /// The version from the image tag.
    pub version: Option<crate::version::Version>,
    /// Which component it is.
    pub component: Component,
    /// The `HonorPVReclaimPolicy` feature gate, when given in the arguments.
    pub honor_gate: Option<bool>,
    /// The driver name from the arguments (`--drivername`), when given.
    pub driver: Option<String>,
}

/// The kinds of component the model cares about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Component {
    /// The external-provisioner sidecar.
    Provisioner,
    /// The external-attacher sidecar.
    Attacher,
    /// The ceph-csi plugin.
    CephCsi,
}

/// A VolumeSnapshotContent that still refers to a volume.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SnapshotContentFacts {
    /// The content's name.
    pub name: String,
    /// The CSI driver.
    pub driver: String,
    /// The source volume handle.
    pub volume_handle: String,
    /// `Delete` or `Retain`.
    pub deletion_policy: Option<String>,
}
