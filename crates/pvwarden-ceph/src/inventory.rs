//! What a Ceph cluster holds that Kubernetes volumes can point at, as plain data.
//!
//! The inventory is read once (live through librados, see the `rados` feature, or from a
//! JSON dump written by `pvwarden ceph inventory`) and then only joined with PVs, so it is
//! kept as simple owned data with a stable serde form: the dump is the contract between a
//! read and an offline audit.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The version of the dump format; a reader refuses a dump of another version.
pub const DUMP_VERSION: u32 = 1;

/// The subvolume group ceph-csi creates its subvolumes in unless configured otherwise.
pub const CSI_GROUP: &str = "csi";

/// The prefix ceph-csi gives the subvolumes and images it provisions.
pub const CSI_VOLUME_PREFIX: &str = "csi-vol-";

/// The prefix ceph-csi gives the images and subvolume snapshots of VolumeSnapshots.
pub const CSI_SNAPSHOT_PREFIX: &str = "csi-snap-";

/// Everything read from one Ceph cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CephInventory {
    /// The dump format, [`DUMP_VERSION`].
    pub version: u32,
    /// The cluster's fsid.
    pub fsid: String,
    /// When the read was made.
    pub taken: Timestamp,
    /// The ceph-csi `clusterID`s that name this cluster; empty means any PV's clusterID is
    /// taken to name it (one Ceph cluster behind the Kubernetes cluster).
    #[serde(default)]
    pub cluster_ids: Vec<String>,
    /// The CephFS filesystems.
    #[serde(default)]
    pub filesystems: Vec<Filesystem>,
    /// The pools that hold RBD images.
    #[serde(default)]
    pub rbd_pools: Vec<RbdPool>,
    /// How many calls the read made, by kind (absent in hand-written dumps).
    #[serde(default)]
    pub calls: Calls,
}

/// One CephFS filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Filesystem {
    /// The filesystem name (ceph-csi's `fsName`).
    pub name: String,
    /// Its id (fscid), which ceph-csi writes into the volume handle.
    pub id: i64,
    /// The metadata pool, which holds ceph-csi's journal under RADOS namespace `csi`.
    pub metadata_pool: String,
    /// The subvolume groups, with their subvolumes.
    #[serde(default)]
    pub groups: Vec<SubvolumeGroup>,
    /// ceph-csi's journal entries for this filesystem.
    #[serde(default)]
    pub journal: Vec<JournalEntry>,
}

/// A subvolume group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubvolumeGroup {
    /// The group name; `_nogroup` holds subvolumes made without a group.
    pub name: String,
    /// Its subvolumes.
    #[serde(default)]
    pub subvolumes: Vec<Subvolume>,
}

/// A CephFS subvolume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subvolume {
    /// The subvolume name.
    pub name: String,
    /// The directory that holds its data (what `getpath` answers).
    pub path: Option<String>,
    /// `complete`, `snapshot-retained`, `pending`, ... as the volumes module says.
    pub state: String,
    /// Bytes used, when the volumes module says.
    pub bytes_used: Option<u64>,
    /// When it was created.
    pub created: Option<Timestamp>,
    /// The names of its snapshots.
    #[serde(default)]
    pub snapshots: Vec<String>,
}

/// A pool with RBD images.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbdPool {
    /// The pool name.
    pub name: String,
    /// The pool id, which ceph-csi writes into the volume handle.
    pub id: i64,
    /// Its RADOS namespaces; the default namespace has the name `""`.
    #[serde(default)]
    pub namespaces: Vec<RadosNamespace>,
}

/// One RADOS namespace of an RBD pool: its images and ceph-csi's journal there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadosNamespace {
    /// The namespace name, `""` for the default one.
    pub name: String,
    /// The images (not those in the trash).
    #[serde(default)]
    pub images: Vec<Image>,
    /// ceph-csi's journal entries in this namespace.
    #[serde(default)]
    pub journal: Vec<JournalEntry>,
}

/// An RBD image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    /// The image name.
    pub name: String,
    /// The image id (the suffix of its `rbd_header.` object).
    pub id: String,
    /// Its provisioned size in bytes, when its header could be read.
    pub size: Option<u64>,
    /// When it was created.
    pub created: Option<Timestamp>,
    /// The names of its snapshots.
    #[serde(default)]
    pub snapshots: Vec<String>,
}

/// One ceph-csi journal entry: a reservation in `csi.volumes.<instance>` and, when it exists,
/// the per-volume object `csi.volume.<uuid>` it leads to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JournalEntry {
    /// The ceph-csi instance (`csi.volumes.<instance>`), `default` unless configured.
    pub instance: String,
    /// The CSI request name the reservation is keyed by (usually `pvc-<claim uid>`).
    pub request_name: String,
    /// The uuid the handle carries.
    pub uuid: String,
    /// `csi.imagename` of the per-volume object: the subvolume or image it names. `None` when
    /// the per-volume object is missing or has no such key.
    pub image_name: Option<String>,
    /// `csi.volume.owner`, the namespace of the claim, when ceph-csi recorded it.
    #[serde(default)]
    pub owner: Option<String>,
}

/// How many calls a read made, by kind: the figure that shows whether the read grows with
/// groups and pools or with volumes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calls {
    /// Commands sent to the monitors.
    pub mon: u64,
    /// Commands sent to the manager (the volumes module).
    pub mgr: u64,
    /// omap reads, each of many keys at once.
    pub omap: u64,
    /// Requests to the CephFS metadata servers (directory listings, reads, stats).
    #[serde(default)]
    pub cephfs: u64,
}

impl Calls {
    /// All calls.
    pub fn total(&self) -> u64 {
        self.mon + self.mgr + self.omap + self.cephfs
    }
}

/// Why a dump cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The file could not be read.
    #[error("cannot read the Ceph inventory {path}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a valid dump.
    #[error("{path}: not a Ceph inventory dump: {detail}")]
    Parse {
        /// The file.
        path: String,
        /// The field path and what was wrong there.
        detail: String,
    },
    /// The dump was written by another version of the format.
    #[error(
        "{path}: Ceph inventory dump version {found}, this pvwarden reads version {DUMP_VERSION}"
    )]
    Version {
        /// The file.
        path: String,
        /// The version it holds.
        found: u32,
    },
}

impl CephInventory {
    /// Reads a dump from JSON text; `path` names it in errors.
    pub fn from_json(path: &str, text: &str) -> Result<CephInventory, DumpError> {
        let mut de = serde_json::Deserializer::from_str(text);
        let inventory: CephInventory =
            serde_path_to_error::deserialize(&mut de).map_err(|err| DumpError::Parse {
                path: path.to_owned(),
                detail: format!("at {}: {}", err.path(), err.inner()),
            })?;
        if inventory.version != DUMP_VERSION {
            return Err(DumpError::Version {
                path: path.to_owned(),
                found: inventory.version,
            });
        }
        Ok(inventory)
    }

    /// Reads a dump file.
    pub fn read(path: &std::path::Path) -> Result<CephInventory, DumpError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| DumpError::Read {
            path: name.clone(),
            source,
        })?;
        CephInventory::from_json(&name, &text)
    }

    /// The filesystem with this fscid.
    pub fn filesystem_by_id(&self, id: i64) -> Option<&Filesystem> {
        self.filesystems.iter().find(|fs| fs.id == id)
    }

    /// The RBD pool with this id.
    pub fn pool_by_id(&self, id: i64) -> Option<&RbdPool> {
        self.rbd_pools.iter().find(|pool| pool.id == id)
    }

    /// The RBD pool with this name.
    pub fn pool_by_name(&self, name: &str) -> Option<&RbdPool> {
        self.rbd_pools.iter().find(|pool| pool.name == name)
    }

    /// Returns true when a ceph-csi `clusterID` names this cluster.
    pub fn is_this_cluster(&self, cluster_id: &str) -> bool {
        self.cluster_ids.is_empty() || self.cluster_ids.iter().any(|id| id == cluster_id)
    }
}

impl Filesystem {
    /// The journal entry with this uuid.
    pub fn journal_entry(&self, uuid: &str) -> Option<&JournalEntry> {
        self.journal.iter().find(|entry| entry.uuid == uuid)
    }

    /// The subvolume with this name, looked for in ceph-csi's group first.
    pub fn subvolume(&self, name: &str) -> Option<(&SubvolumeGroup, &Subvolume)> {
        let csi_first = self
            .groups
            .iter()
            .filter(|g| g.name == CSI_GROUP)
            .chain(self.groups.iter().filter(|g| g.name != CSI_GROUP));
        for group in csi_first {
            if let Some(sub) = group.subvolumes.iter().find(|s| s.name == name) {
                return Some((group, sub));
            }
        }
        None
    }
}

impl RbdPool {
    /// The namespace with this name (`""` for the default one).
    pub fn namespace(&self, name: &str) -> Option<&RadosNamespace> {
        self.namespaces.iter().find(|ns| ns.name == name)
    }
}

impl RadosNamespace {
    /// The image with this name.
    pub fn image(&self, name: &str) -> Option<&Image> {
        self.images.iter().find(|image| image.name == name)
    }

    /// The journal entry with this uuid.
    pub fn journal_entry(&self, uuid: &str) -> Option<&JournalEntry> {
        self.journal.iter().find(|entry| entry.uuid == uuid)
    }
}
