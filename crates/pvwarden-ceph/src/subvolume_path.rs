//! The directory of the subvolume behind a dynamic CephFS PV, as Ceph reports it.
//!
//! The PV's own `subvolumePath` attribute is a copy ceph-csi made at provisioning (and
//! ceph-csi before 3.3 made none); a share that mounts a wrong directory shares nothing, or
//! the wrong data. The join already follows the handle through ceph-csi's journal to the
//! subvolume; this takes that subvolume's path from the inventory, which holds what the
//! volumes module answers for `getpath`.

use crate::inventory::CephInventory;
use crate::join::{Address, Found, ObjectKind, Reach, StorageReport};

/// Why Ceph gave no path for a PV.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PathError {
    /// The PV is not a ceph-csi volume of this cluster, so the join left it out.
    #[error(
        "PV {pv} is not a ceph-csi volume of Ceph cluster {fsid} (its driver or clusterID \
         names another)"
    )]
    NotInCluster {
        /// The PV.
        pv: String,
        /// The cluster read.
        fsid: String,
    },
    /// The join found no subvolume behind the PV.
    #[error("Ceph holds no storage for PV {pv} ({found}): {detail}")]
    NoStorage {
        /// The PV.
        pv: String,
        /// What the join found.
        found: &'static str,
        /// The join's sentence on why.
        detail: String,
    },
    /// The subvolume exists but the volumes module gave no path for it.
    #[error("Ceph gave no path for subvolume {subvolume} of PV {pv}")]
    NoPath {
        /// The PV.
        pv: String,
        /// The subvolume, as `filesystem/group/name`.
        subvolume: String,
    },
}

/// The data path of the subvolume that dynamic CephFS PV `pv` reaches through its handle.
///
/// Returns `Ok(None)` for a PV that names its directory itself (a static PV): its
/// `rootPath` may be any directory inside a subvolume, so the subvolume's path is no check
/// on it. `report` must be the join of `ceph` with a set of PVs holding `pv`.
///
/// # Errors
///
/// [`PathError`] when the PV is not of this cluster, its subvolume does not exist, or Ceph
/// gave no path for it.
pub fn subvolume_path(
    ceph: &CephInventory,
    report: &StorageReport,
    pv: &str,
) -> Result<Option<String>, PathError> {
    let Some(volume) = report.volumes.iter().find(|v| v.pv == pv) else {
        return Err(PathError::NotInCluster {
            pv: pv.to_owned(),
            fsid: ceph.fsid.clone(),
        });
    };
    if volume.reach == Reach::Static {
        return Ok(None);
    }
    if volume.found != Found::Present {
        return Err(PathError::NoStorage {
            pv: pv.to_owned(),
            found: volume.found.as_str(),
            detail: volume.detail.clone(),
        });
    }
    let object = report.objects.iter().find(|o| {
        o.kind == ObjectKind::Subvolume
            && o.pvs
                .iter()
                .any(|u| u.name == pv && u.reach == Reach::Dynamic)
    });
    // An image (an RBD PV) has no directory: nothing to mount by path.
    let Some(object) = object else {
        return Ok(None);
    };
    let Address::Cephfs { filesystem, group } = &object.address else {
        return Ok(None);
    };
    let path = ceph
        .filesystems
        .iter()
        .filter(|fs| &fs.name == filesystem)
        .flat_map(|fs| fs.groups.iter().filter(|g| &g.name == group))
        .flat_map(|g| g.subvolumes.iter().filter(|s| s.name == object.name))
        .find_map(|s| s.path.clone());
    match path {
        Some(path) => Ok(Some(path)),
        None => Err(PathError::NoPath {
            pv: pv.to_owned(),
            subvolume: format!("{filesystem}/{group}/{}", object.name),
        }),
    }
}
