//! ceph-csi's `DeleteVolume`, per driver kind and release.
//!
//! The order of checks follows ceph-csi's controller servers: RBD checks
//! credentials, then migration handles, then decodes the id; CephFS (and the
//! NFS driver, which deletes through CephFS) decodes the id first. An id that
//! does not decode is answered `Internal` from v3.0 on; v1.1 to v2.1 RBD
//! answered OK for undecodable ids that did not look like v1.0 ("legacy") ids,
//! and tried the legacy metadata store for those that did. A missing pool
//! became a success in v2.1.

use serde::Serialize;

use super::{Answer, Backend, Fate, Request, Secrets};
use crate::version::Version;
use crate::volid;

/// The three ceph-csi drivers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CephKind {
    /// `rbd.csi.ceph.com`: RBD images.
    Rbd,
    /// `cephfs.csi.ceph.com`: CephFS subvolumes.
    Cephfs,
    /// `nfs.csi.ceph.com`: NFS exports of CephFS subvolumes.
    Nfs,
}

impl CephKind {
    /// Recognises a ceph-csi driver name, with or without Rook's namespace prefix.
    pub fn from_driver(driver: &str) -> Option<CephKind> {
        let is = |base: &str| driver == base || driver.ends_with(&format!(".{base}"));
        if is("rbd.csi.ceph.com") {
            Some(CephKind::Rbd)
        } else if is("cephfs.csi.ceph.com") {
            Some(CephKind::Cephfs)
        } else if is("nfs.csi.ceph.com") {
            Some(CephKind::Nfs)
        } else {
            None
        }
    }
}

/// Said wherever a verdict rests on backend state the input cannot show.
const ASSUMED: &str = "Assumed, because it endangers data: the journal entry and the volume \
    exist (without Ceph access the input cannot show them; were they gone, ceph-csi would \
    answer OK and delete nothing)";

/// What a verdict that destroys data rests on: the endangering assumption, or a storage read.
fn basis(backend: &Backend) -> String {
    match backend {
        Backend::Found(why) => format!("Seen in the storage: {why}"),
        _ => ASSUMED.to_owned(),
    }
}

fn is_legacy_era(v: Version) -> bool {
    v.at_least(1, 1) && !v.at_least(3, 0)
}

/// Returns true when no backend state lets this handle's deletion reach data.
pub(super) fn never_deletes(kind: CephKind, handle: &str, v: Version) -> bool {
    if kind == CephKind::Rbd && v.at_least(3, 5) && volid::is_migration_handle(handle) {
        return volid::parse_migration(handle).is_err();
    }
    if volid::decode(handle).is_ok() {
        return false;
    }
    let legacy = match kind {
        CephKind::Rbd => volid::is_legacy_rbd_shape(handle),
        CephKind::Cephfs | CephKind::Nfs => volid::is_legacy_cephfs_shape(handle),
    };
    !(legacy && is_legacy_era(v))
}

pub(super) fn delete(kind: CephKind, r: &Request<'_>) -> Answer {
    let handle = r.pv.csi().map_or("", |c| c.handle.as_str());
    if !r.ceph_csi.at_least(1, 1) {
        return Answer::Unknown {
            why: "ceph-csi before v1.1 kept volumes in a metadata store the input does not show"
                .into(),
        };
    }
    match kind {
        CephKind::Rbd => delete_rbd(r, handle),
        CephKind::Cephfs | CephKind::Nfs => delete_cephfs(r, handle),
    }
}

fn delete_rbd(r: &Request<'_>, handle: &str) -> Answer {
    let v = r.ceph_csi;
    if let Secrets::Missing(why) = r.secrets {
        // v3 answers InvalidArgument, older releases Internal; both are retried forever.
        let code = if v.at_least(3, 0) {
            "InvalidArgument"
        } else {
            "Internal"
        };
        return Answer::Error {
            code,
            message: format!("missing ID field 'userID' in secrets ({why})"),
        };
    }
    // The migration path for in-tree RBD volumes came in v3.5.
    if v.at_least(3, 5) && volid::is_migration_handle(handle) {
        return match volid::parse_migration(handle) {
            Ok(_) => match r.backend {
                Backend::Present | Backend::Found(_) => Answer::Ok {
                    fate: Fate::Destroyed,
                    why: "ceph-csi deletes the migrated in-tree image the handle names".into(),
                },
                _ => gone(r.backend),
            },
            Err(err) => Answer::Error {
                code: "InvalidArgument",
                message: err.to_string(),
            },
        };
    }
    let id = match volid::decode(handle) {
        Ok(id) => id,
        Err(err) if v.at_least(3, 0) => {
            let message = format!(
                "invalid VolumeID: error decoding volume ID ({}) ({handle})",
                err.ceph_csi_message()
            );
            return Answer::Error {
                code: "Internal",
                message,
            };
        }
        Err(_) => return legacy_era_rbd(handle),
    };
    match r.backend {
        Backend::PoolMissing(_) if !v.at_least(2, 1) => Answer::Error {
            code: "Internal",
            message: format!("pool ID ({}) not found in Ceph cluster", id.location_id),
        },
        Backend::Present | Backend::Found(_) => Answer::Ok {
            fate: Fate::Destroyed,
            why: format!(
                "the id decodes (cluster {}, pool id {}, uuid {}); ceph-csi follows its \
                 journal to the image and deletes it (via the RBD trash{}). {}",
                id.cluster_id,
                id.location_id,
                id.object_uuid,
                if r.has_snapshots {
                    "; its space is freed once its snapshots are gone"
                } else {
                    ""
                },
                basis(r.backend)
            ),
        },
        _ => gone(r.backend),
    }
}

fn legacy_era_rbd(handle: &str) -> Answer {
    if volid::is_legacy_rbd_shape(handle) {
        return Answer::Ok {
            fate: Fate::Destroyed,
            why: "a v1.0 (legacy) id: ceph-csi deletes the image through its legacy metadata \
                  store; without that store configured it fails with \"missing metadata store \
                  configuration to proceed with deleting legacy volume ID\""
                .into(),
        };
    }
    Answer::Ok {
        fate: Fate::Untouched,
        why: "ceph-csi v1.1-v2.1 treats an id it cannot decode as already deleted and answers \
              OK without touching anything"
            .into(),
    }
}

fn delete_cephfs(r: &Request<'_>, handle: &str) -> Answer {
    let v = r.ceph_csi;
    let id = match volid::decode(handle) {
        Ok(id) => id,
        Err(err) => {
            let legacy = volid::is_legacy_cephfs_shape(handle);
            if legacy && is_legacy_era(v) {
                return Answer::Ok {
                    fate: Fate::Destroyed,
                    why: "a v1.0 (legacy) id: ceph-csi purges the volume through its legacy \
                          metadata store when one is configured, and fails otherwise"
                        .into(),
                };
            }
            let message = format!(
                "Failed as invalid VolumeID (internal error decoding volume ID ({handle}): {})",
                err.ceph_csi_message()
            );
            return Answer::Error {
                code: "Internal",
                message,
            };
        }
    };
    // After decoding, ceph-csi connects to the cluster with the admin
    // credentials from the secrets; without them nothing else is looked at.
    if let Secrets::Missing(why) = r.secrets {
        return Answer::Error {
            code: "Internal",
            message: format!("missing ID field 'adminID' in secrets ({why})"),
        };
    }
    match r.backend {
        Backend::PoolMissing(_) if !v.at_least(2, 1) => Answer::Error {
            code: "Internal",
            message: format!(
                "filesystem ID ({}) not found in Ceph cluster",
                id.location_id
            ),
        },
        Backend::Present | Backend::Found(_) if r.has_snapshots => Answer::Error {
            code: "FailedPrecondition",
            message: "subvolume has snapshots: it cannot be purged until they are deleted".into(),
        },
        Backend::Present | Backend::Found(_) => Answer::Ok {
            fate: Fate::Destroyed,
            why: format!(
                "the id decodes (cluster {}, filesystem id {}, uuid {}); ceph-csi finds the \
                 subvolume through its journal and purges it. {}",
                id.cluster_id,
                id.location_id,
                id.object_uuid,
                basis(r.backend)
            ),
        },
        _ => gone(r.backend),
    }
}

fn gone(backend: &Backend) -> Answer {
    let why = match backend {
        Backend::PoolMissing(why) => {
            format!("the pool or filesystem is gone ({why}); ceph-csi answers OK")
        }
        Backend::Gone(why) => format!("the volume is already gone ({why}); ceph-csi answers OK"),
        Backend::Present | Backend::Found(_) => "the volume exists".into(),
    };
    Answer::Ok {
        fate: Fate::AlreadyGone,
        why,
    }
}
