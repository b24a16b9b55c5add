//! What each storage driver does when asked to delete a volume.
//!
//! A [`Profile`] is chosen from the PV's driver or provisioner. Its
//! [`Profile::delete`] answers as the real driver would answer `DeleteVolume`
//! (or the non-CSI provisioner its delete hook), given what the model assumes
//! about the backend. ceph-csi is modelled exactly, per release; the other
//! profiles follow each driver's documented deletion semantics, and
//! [`Profile::Generic`] follows the CSI specification.

use serde::Serialize;

use crate::facts::{ClassFacts, PvFacts, Source};
use crate::version::Version;

mod ceph;
mod other;

pub use self::ceph::CephKind;
pub(crate) use self::other::migration_ga;

/// The deletion behaviour of one driver or provisioner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// ceph-csi (CephFS, RBD or NFS), modelled from its source, per release.
    CephCsi(CephKind),
    /// The CSI specification: delete what exists, answer OK for what does not.
    Generic,
    /// AWS EBS CSI: the EBS volume is deleted.
    AwsEbs,
    /// AWS EFS CSI: the access point is deleted; whole-filesystem handles are left alone.
    AwsEfs,
    /// vSphere CSI: the CNS block volume or file share is deleted.
    Vsphere,
    /// Azure Disk CSI: the managed disk is deleted.
    AzureDisk,
    /// Azure File CSI: the file share is deleted.
    AzureFile,
    /// GCE PD CSI: the persistent disk is deleted.
    GcePd,
    /// Longhorn: the Longhorn volume and its replicas are deleted.
    Longhorn,
    /// csi-driver-smb and csi-driver-nfs: the sub-directory is deleted, kept or
    /// archived as `onDelete` says; handles they cannot parse are left alone.
    SubdirCsi,
    /// nfs-subdir-external-provisioner (not CSI): the directory is archived
    /// unless the class says otherwise.
    NfsSubdir,
    /// local-path-provisioner (not CSI): a helper pod removes the directory.
    LocalPath,
    /// OpenEBS local PV hostpath (not CSI): a cleanup pod removes the directory.
    OpenebsLocal,
    /// An in-tree plugin that kube-controller-manager cannot delete (NFS, local, hostPath, ...).
    InTreeNoDeleter,
    /// A cloud in-tree plugin, deleted by its CSI driver since CSI migration.
    InTreeMigrated,
    /// Nothing is known about how this volume is deleted.
    Unknown,
}

/// What the model assumes about the storage behind a handle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "why")]
pub enum Backend {
    /// The volume exists, as does any journal entry that leads to it. This is
    /// the assumption that endangers data, used when nothing says otherwise.
    Present,
    /// The pool or filesystem that held the volume is gone.
    PoolMissing(String),
    /// The volume is already gone.
    Gone(String),
    /// A read of the storage found the volume, and the journal entry leading to it where the
    /// driver keeps one: the same outcome as [`Backend::Present`], known rather than assumed.
    Found(String),
}

impl Backend {
    /// Returns true when the volume exists, whether assumed or found by a storage read.
    pub fn volume_exists(&self) -> bool {
        matches!(self, Backend::Present | Backend::Found(_))
    }
}

/// Whether deletion secrets reach the driver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum Secrets {
    /// A secret is named (`namespace/name`); the model assumes it exists.
    Named(String),
    /// The provisioner recorded that no secret is needed.
    NotNeeded,
    /// No secret can be found; the driver is called without one.
    Missing(String),
}

/// What becomes of the storage when a delete call answers OK.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fate {
    /// The data is destroyed.
    Destroyed,
    /// The data was already gone; nothing more is lost.
    AlreadyGone,
    /// The call succeeds without touching the data.
    Untouched,
    /// The data is kept under another name (an archive directory, a trash).
    Archived,
}

/// A driver's answer to a delete call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "result")]
pub enum Answer {
    /// Success: the PV object may go.
    Ok {
        /// What became of the data.
        fate: Fate,
        /// Why, in a sentence.
        why: String,
    },
    /// Failure: the provisioner records `VolumeFailedDelete` and retries forever.
    Error {
        /// The gRPC code (`Internal`, `InvalidArgument`, ...), or `Error` for non-CSI.
        code: &'static str,
        /// The message the driver gives.
        message: String,
    },
    /// The outcome depends on something the model cannot see.
    Unknown {
        /// What is unknown.
        why: String,
    },
}

/// One delete call, as the model sees it.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The PV being deleted.
    pub pv: &'a PvFacts,
    /// Its StorageClass, if it exists.
    pub class: Option<&'a ClassFacts>,
    /// The deletion secrets.
    pub secrets: &'a Secrets,
    /// The backend state assumed.
    pub backend: &'a Backend,
    /// The ceph-csi release assumed.
    pub ceph_csi: Version,
    /// Whether snapshots of the volume still exist (VolumeSnapshotContents).
    pub has_snapshots: bool,
}

impl Profile {
    /// Chooses the profile for a PV from its driver or provisioner.
    pub fn for_pv(pv: &PvFacts) -> Profile {
        match &pv.source {
            Source::Csi(csi) => Profile::for_csi_driver(&csi.driver),
            Source::InTree { plugin, .. } => {
                let provisioner = pv.provisioned_by.as_deref().unwrap_or("");
                Profile::for_external_provisioner(provisioner)
                    .unwrap_or_else(|| other::in_tree(plugin))
            }
            Source::None => Profile::Unknown,
        }
    }

    /// Chooses the profile for a CSI driver name.
    pub fn for_csi_driver(driver: &str) -> Profile {
        if let Some(kind) = CephKind::from_driver(driver) {
            return Profile::CephCsi(kind);
        }
        match driver {
            "ebs.csi.aws.com" => Profile::AwsEbs,
            "efs.csi.aws.com" => Profile::AwsEfs,
            "csi.vsphere.vmware.com" => Profile::Vsphere,
            "disk.csi.azure.com" => Profile::AzureDisk,
            "file.csi.azure.com" => Profile::AzureFile,
            "pd.csi.storage.gke.io" => Profile::GcePd,
            "driver.longhorn.io" | "io.rancher.longhorn" => Profile::Longhorn,
            "smb.csi.k8s.io" | "nfs.csi.k8s.io" => Profile::SubdirCsi,
            _ => Profile::Generic,
        }
    }

    /// Chooses the profile for a non-CSI external provisioner, if it is one the model knows.
    pub fn for_external_provisioner(provisioner: &str) -> Option<Profile> {
        if provisioner.ends_with("nfs-subdir-external-provisioner") {
            return Some(Profile::NfsSubdir);
        }
        match provisioner {
            "rancher.io/local-path" => Some(Profile::LocalPath),
            "openebs.io/local" => Some(Profile::OpenebsLocal),
            _ => None,
        }
    }

    /// A short name for output.
    pub fn name(&self) -> &'static str {
        match self {
            Profile::CephCsi(CephKind::Rbd) => "ceph-csi-rbd",
            Profile::CephCsi(CephKind::Cephfs) => "ceph-csi-cephfs",
            Profile::CephCsi(CephKind::Nfs) => "ceph-csi-nfs",
            Profile::Generic => "generic-csi",
            Profile::AwsEbs => "aws-ebs",
            Profile::AwsEfs => "aws-efs",
            Profile::Vsphere => "vsphere",
            Profile::AzureDisk => "azure-disk",
            Profile::AzureFile => "azure-file",
            Profile::GcePd => "gce-pd",
            Profile::Longhorn => "longhorn",
            Profile::SubdirCsi => "smb-nfs-subdir",
            Profile::NfsSubdir => "nfs-subdir-external-provisioner",
            Profile::LocalPath => "local-path",
            Profile::OpenebsLocal => "openebs-local",
            Profile::InTreeNoDeleter => "in-tree-no-deleter",
            Profile::InTreeMigrated => "in-tree-migrated",
            Profile::Unknown => "unknown",
        }
    }

    /// Returns true when this driver needs deletion secrets to delete anything.
    pub fn needs_secrets(&self) -> bool {
        matches!(self, Profile::CephCsi(_))
    }

    /// Returns true when a handle of this driver can never reach any storage.
    ///
    /// Only ceph-csi's handles are understood well enough to say so.
    pub fn handle_never_deletes(&self, handle: &str, ceph_csi: Version) -> bool {
        match self {
            Profile::CephCsi(kind) => ceph::never_deletes(*kind, handle, ceph_csi),
            _ => false,
        }
    }

    /// Answers a delete call as the driver would.
    pub fn delete(&self, request: &Request<'_>) -> Answer {
        match self {
            Profile::CephCsi(kind) => ceph::delete(*kind, request),
            _ => other::delete(*self, request),
        }
    }
}

impl Answer {
    /// Returns true when the call succeeded.
    pub fn is_ok(&self) -> bool {
        matches!(self, Answer::Ok { .. })
    }
}
