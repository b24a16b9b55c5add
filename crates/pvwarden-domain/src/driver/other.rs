//! The deletion semantics of drivers other than ceph-csi.
//!
//! These follow each driver's documented `DeleteVolume` behaviour: most
//! delete what the handle names and answer OK when it is already gone, as the
//! CSI specification requires. The exceptions are drivers whose handles can
//! name storage they never delete (AWS EFS whole-filesystem handles, SMB and
//! NFS handles they cannot parse) and provisioners that archive.

use super::{Answer, Backend, Fate, Profile, Request};

pub(super) fn in_tree(plugin: &str) -> Profile {
    match plugin {
        "awsElasticBlockStore" | "gcePersistentDisk" | "azureDisk" | "azureFile" | "cinder"
        | "vsphereVolume" | "portworxVolume" => Profile::InTreeMigrated,
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
    let destroyed = |what: &str| Answer::Ok { fate: Fate::Destroyed, why: what.to_owned() };
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

fn subdir(r: &Request<'_>, handle: &str) -> Answer {
    // The drivers encode `source#subDir#...` in their handles; one they cannot
    // parse is treated as nothing to delete.
    let fields: Vec<&str> = handle.split('#').collect();
    if fields.len() < 2 || fields[1].is_empty() {
        return Answer::Ok {
            fate: Fate::Untouched,
            why: "the driver cannot parse this handle as one of its own and answers OK \
                  without deleting anything"
                .into(),
        };
    }
    let on_delete = fields
        .get(4)
        .copied()
        .filter(|f| !f.is_empty())
        .or_else(|| r.class.and_then(|c| c.delete_parameters.get("onDelete")).map(String::as_str))
        .unwrap_or("delete");
    match on_delete {
        "retain" => Answer::Ok {
            fate: Fate::Untouched,
            why: "onDelete is retain: the sub-directory is kept".into(),
        },
        "archive" => Answer::Ok {
            fate: Fate::Archived,
            why: "onDelete is archive: the sub-directory is renamed, not removed".into(),
        },
        _ => Answer::Ok {
            fate: Fate::Destroyed,
            why: format!("the sub-directory {} is removed from the share", fields[1]),
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
