//! The deletion semantics of drivers other than ceph-csi.
//!
//! These follow each driver's documented `DeleteVolume` behaviour: most
//! delete what the handle names and answer OK when it is already gone, as the
//! CSI specification requires. The exceptions are drivers whose handles can
//! name storage they never delete (AWS EFS whole-filesystem handles, SMB and
//! NFS handles they cannot parse) and provisioners that archive.

use super::{Answer, Backend, Fate, Profile, Request};

/// The Kubernetes release from which kube-controller-manager hands an in-tree
/// plugin's volumes to its CSI driver (CSI migration GA); before it, the
/// controller deletes them with the in-tree plugin itself. Either way the
/// storage is deleted.
pub(crate) fn migration_ga(plugin: &str) -> Option<crate::version::Version> {
    use crate::version::Version;
    match plugin {
        "azureDisk" | "cinder" => Some(Version::new(1, 24, 0)),
        "awsElasticBlockStore" | "gcePersistentDisk" => Some(Version::new(1, 25, 0)),
        "vsphereVolume" | "azureFile" => Some(Version::new(1, 26, 0)),
        "portworxVolume" => Some(Version::new(1, 31, 0)),
        _ => None,
    }
}

pub(super) fn in_tree(plugin: &str) -> Profile {
    match plugin {
        "awsElasticBlockStore"
        | "gcePersistentDisk"
        | "azureDisk"
        | "azureFile"
        | "cinder"
        | "vsphereVolume"
        | "portworxVolume" => Profile::InTreeMigrated,
        "nfs" | "local" | "hostPath" | "iscsi" | "fc" | "rbd" | "cephfs" | "glusterfs" => {
            Profile::InTreeNoDeleter
        }
        _ => Profile::Unknown,
    }
}

pub(super) fn delete(profile: Profile, r: &Request<'_>) -> Answer {
    if let Backend::Gone(why) | Backend::PoolMissing(why) = r.backend {
        return Answer::Ok {
            fate: Fate::AlreadyGone,
            why: format!("the volume is already gone ({why}); the driver answers OK"),
        };
    }
    let handle = match &r.pv.source {
        crate::facts::Source::Csi(csi) => csi.handle.as_str(),
        crate::facts::Source::InTree { id, .. } => id.as_str(),
        crate::facts::Source::None => "",
    };
    let destroyed = |what: &str| Answer::Ok {
        fate: Fate::Destroyed,
        why: what.to_owned(),
    };
    match profile {
        Profile::AwsEfs => efs(handle),
        Profile::SubdirCsi => subdir(r, handle),
        Profile::NfsSubdir => nfs_subdir(r),
        Profile::LocalPath => destroyed("a helper pod removes the volume's directory on the node"),
        Profile::OpenebsLocal => destroyed("a cleanup pod removes the volume's directory"),
        Profile::AwsEbs => destroyed("the EBS volume the handle names is deleted"),
        Profile::Vsphere => destroyed("the CNS volume (block disk or file share) is deleted"),
        Profile::AzureDisk => destroyed("the managed disk the handle names is deleted"),
        Profile::AzureFile => destroyed("the Azure file share the handle names is deleted"),
        Profile::GcePd => destroyed("the persistent disk the handle names is deleted"),
        Profile::Longhorn => destroyed("the Longhorn volume and its replicas are deleted"),
        Profile::InTreeMigrated => {
            destroyed("CSI migration hands the volume to its CSI driver, which deletes it")
        }
        Profile::Generic => destroyed(
            "a CSI driver deletes the volume its handle names (the CSI specification); the \
             model assumes the volume exists",
        ),
        Profile::InTreeNoDeleter | Profile::Unknown | Profile::CephCsi(_) => Answer::Unknown {
            why: "nothing in the input says how this volume is deleted".into(),
        },
    }
}

fn efs(handle: &str) -> Answer {
    if handle.contains("::fsap-") {
        Answer::Ok {
            fate: Fate::Destroyed,
            why: "the EFS access point is deleted (its directory too when the controller runs \
                  with delete-access-point-root-dir)"
                .into(),
        }
    } else {
        Answer::Ok {
            fate: Fate::Untouched,
            why: "a handle without an access point names a whole file system, which the EFS \
                  driver never deletes"
                .into(),
        }
    }
}

/// The field layout of a sub-directory driver's handle.
struct Layout {
    /// The minimum number of `#`-separated fields the driver parses.
    fields: usize,
    /// The index of the sub-directory.
    subdir: usize,
    /// The index of the `onDelete` policy recorded at provisioning.
    on_delete: usize,
}

/// csi-driver-nfs: `server#baseDir#subDir#uuid#onDelete`.
const NFS: Layout = Layout {
    fields: 3,
    subdir: 2,
    on_delete: 4,
};
/// csi-driver-smb: `source#subDir#uuid#onDelete`.
const SMB: Layout = Layout {
    fields: 2,
    subdir: 1,
    on_delete: 3,
};

fn subdir(r: &Request<'_>, handle: &str) -> Answer {
    let driver = r.pv.csi().map_or("", |c| &*c.driver);
    let layout = if driver == "nfs.csi.k8s.io" { NFS } else { SMB };
    // A handle the driver cannot parse as its own is treated as a volume that
    // does not exist: OK, and nothing is touched.
    let fields: Vec<&str> = handle.split('#').collect();
    let subdir = fields.get(layout.subdir).copied().unwrap_or("");
    if fields.len() < layout.fields || subdir.is_empty() {
        return Answer::Ok {
            fate: Fate::Untouched,
            why: "the driver cannot parse this handle as one of its own and answers OK \
                  without deleting anything"
                .into(),
        };
    }
    let on_delete = fields
        .get(layout.on_delete)
        .copied()
        .filter(|f| !f.is_empty())
        .or_else(|| {
            r.class
                .and_then(|c| c.delete_parameters.get("onDelete"))
                .map(String::as_str)
        })
        .unwrap_or("delete");
    match on_delete.to_ascii_lowercase().as_str() {
        "retain" => Answer::Ok {
            fate: Fate::Untouched,
            why: "onDelete is retain: the sub-directory is kept".into(),
        },
        "archive" => Answer::Ok {
            fate: Fate::Archived,
            why: format!("onDelete is archive: the sub-directory is renamed archived-{subdir}"),
        },
        _ => Answer::Ok {
            fate: Fate::Destroyed,
            why: format!(
                "the sub-directory {subdir} is removed from the share (onDelete delete, the \
                 driver's default unless its controller is started with another)"
            ),
        },
    }
}

fn nfs_subdir(r: &Request<'_>) -> Answer {
    let params = r.class.map(|c| &c.delete_parameters);
    let param = |key: &str| params.and_then(|p| p.get(key)).map(String::as_str);
    match (param("onDelete"), param("archiveOnDelete")) {
        (Some("delete"), _) | (None, Some("false")) => Answer::Ok {
            fate: Fate::Destroyed,
            why: "the class tells the provisioner to delete the directory".into(),
        },
        (Some("retain"), _) => Answer::Ok {
            fate: Fate::Untouched,
            why: "onDelete is retain: the directory is kept".into(),
        },
        _ if r.class.is_none() => Answer::Unknown {
            why: "the StorageClass is not in the input, and it decides between archiving and \
                  deleting the directory"
                .into(),
        },
        _ => Answer::Ok {
            fate: Fate::Archived,
            why: "the provisioner renames the directory to archived-<name> by default".into(),
        },
    }
}
