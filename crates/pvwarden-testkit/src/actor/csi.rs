//! The CSI drivers' controller services, acting on the backend inventory.
//!
//! Each call is a pure function of the [`Inventory`]: the provisioner and the attacher take
//! the inventory through [`Backend::update`](super::backend::Backend::update), call
//! [`delete_volume`] or [`unpublish_volume`], and the changed document is stored back.
//!
//! ```text
//! driver name ──► Plugin ──┬─ CephFs  (ceph-csi CephFS: ceph::delete_subvolume)
//!                          ├─ Rbd     (ceph-csi RBD:    ceph::delete_image)
//!                          └─ Generic (the CSI spec: delete what exists, OK for the rest)
//! ```

pub mod ceph;

use std::collections::BTreeMap;
use std::fmt;

use super::backend::Inventory;
use super::version::Version;

/// A gRPC status code a CSI call can answer with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    /// The request is malformed, e.g. credentials are missing.
    InvalidArgument,
    /// The object does not exist.
    NotFound,
    /// The backend failed.
    Internal,
    /// The backend cannot be reached.
    Unavailable,
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::InvalidArgument => "InvalidArgument",
            Self::NotFound => "NotFound",
            Self::Internal => "Internal",
            Self::Unavailable => "Unavailable",
        })
    }
}

/// A failed CSI call, rendered the way the sidecars log it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rpc error: code = {code} desc = {message}")]
pub struct Status {
    /// The gRPC code.
    pub code: Code,
    /// The driver's message.
    pub message: String,
}

impl Status {
    /// Builds a status from a code and a message.
    #[must_use]
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// Builds an `Internal` status.
    #[must_use]
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, message)
    }
}

/// The deletion secrets the provisioner could resolve for a call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Secrets {
    /// Neither the PV nor its StorageClass names a secret.
    #[default]
    None,
    /// A secret is named, but it is not stored in the API server.
    ///
    /// Case manifests never carry Secrets; a named secret stands for one that exists in the
    /// cluster the case comes from.
    Named {
        /// The secret's namespace.
        namespace: String,
        /// The secret's name.
        name: String,
    },
    /// The secret was read from the API server: its keys and values.
    Data(BTreeMap<String, String>),
}

impl Secrets {
    /// Returns whether the secret carries a non-empty value for each key, or is only named.
    #[must_use]
    pub fn has_keys(&self, keys: &[&str]) -> bool {
        match self {
            Self::None => false,
            Self::Named { .. } => true,
            Self::Data(data) => keys
                .iter()
                .all(|key| data.get(*key).is_some_and(|value| !value.is_empty())),
        }
    }

    /// Returns the value of a key, when the secret's data is known.
    #[must_use]
    pub fn value(&self, key: &str) -> Option<&str> {
        match self {
            Self::Data(data) => data.get(key).map(String::as_str),
            Self::None | Self::Named { .. } => None,
        }
    }
}

/// Which controller implementation serves a CSI driver name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plugin {
    /// ceph-csi CephFS (also its NFS driver, which exports CephFS subvolumes).
    CephFs,
    /// ceph-csi RBD.
    Rbd,
    /// Any other driver, following the CSI spec.
    Generic,
}

impl Plugin {
    /// Picks the implementation from the driver name; Rook prefixes the ceph-csi names.
    #[must_use]
    pub fn for_driver(driver: &str) -> Self {
        let ceph = |suffix: &str| driver == suffix || driver.ends_with(&format!(".{suffix}"));
        if ceph("cephfs.csi.ceph.com") || ceph("nfs.csi.ceph.com") {
            Self::CephFs
        } else if ceph("rbd.csi.ceph.com") {
            Self::Rbd
        } else {
            Self::Generic
        }
    }
}

/// A `DeleteVolume` call: the id and the secrets, never the PV's attributes.
#[derive(Debug, Clone)]
pub struct DeleteRequest<'a> {
    /// The CSI driver the provisioner talks to.
    pub driver: &'a str,
    /// The PV's volume handle.
    pub volume_id: &'a str,
    /// The resolved deletion secrets.
    pub secrets: &'a Secrets,
}

/// Runs `DeleteVolume` of the driver against the inventory.
///
/// # Errors
///
/// The driver's [`Status`] when it refuses or fails.
pub fn delete_volume(
    inventory: &mut Inventory,
    request: &DeleteRequest<'_>,
    ceph_csi: Version,
) -> Result<(), Status> {
    match Plugin::for_driver(request.driver) {
        Plugin::CephFs => ceph::delete_subvolume(inventory, request, ceph_csi),
        Plugin::Rbd => ceph::delete_image(inventory, request, ceph_csi),
        Plugin::Generic => delete_generic(inventory, request),
    }
}

/// Runs `ControllerUnpublishVolume` of the driver against the inventory.
///
/// ceph-csi has no controller publish capability, so the attacher detaches without a call;
/// other drivers fail when unreachable. A volume's `detach_error` fails any driver.
///
/// # Errors
///
/// The driver's [`Status`] when detaching fails.
pub fn unpublish_volume(
    inventory: &Inventory,
    driver: &str,
    volume_id: &str,
) -> Result<(), Status> {
    let volume = inventory
        .volumes
        .iter()
        .find(|volume| volume.driver == driver && volume.id == volume_id);
    if let Some(message) = volume.and_then(|volume| volume.detach_error.as_deref()) {
        return Err(Status::internal(message));
    }
    if Plugin::for_driver(driver) == Plugin::Generic && inventory.faults.unreachable {
        return Err(Status::new(
            Code::Unavailable,
            "storage backend unreachable",
        ));
    }
    Ok(())
}

/// The CSI spec's `DeleteVolume`: delete the volume if it exists, answer `OK` if it does not.
fn delete_generic(inventory: &mut Inventory, request: &DeleteRequest<'_>) -> Result<(), Status> {
    if inventory.faults.unreachable {
        return Err(Status::new(
            Code::Unavailable,
            "storage backend unreachable",
        ));
    }

    let found = inventory.volumes.iter_mut().find(|volume| {
        volume.driver == request.driver && volume.id == request.volume_id && volume.exists
    });
    if let Some(volume) = found {
        volume.exists = false;
        volume.deleted_by = Some(format!("{} DeleteVolume", request.driver));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn inventory(json: &str) -> Inventory {
        serde_json::from_str(json).unwrap()
    }

    const GENERIC: &str = r#"{"volumes":[{"driver":"disk.example.com","id":"vol-1",
        "kind":"generic","exists":true}]}"#;

    #[test]
    fn picks_ceph_plugins_by_suffix_only() {
        assert_eq!(
            Plugin::for_driver("rook-ceph.cephfs.csi.ceph.com"),
            Plugin::CephFs
        );
        assert_eq!(Plugin::for_driver("rbd.csi.ceph.com"), Plugin::Rbd);
        assert_eq!(Plugin::for_driver("storage.rbd.csi.ceph.com"), Plugin::Rbd);
        assert_eq!(Plugin::for_driver("fakerbd.csi.ceph.com"), Plugin::Generic);
        assert_eq!(Plugin::for_driver("disk.csi.azure.com"), Plugin::Generic);
    }

    #[test]
    fn generic_delete_removes_what_exists_and_accepts_the_rest() {
        let mut inv = inventory(GENERIC);
        let secrets = Secrets::None;
        let request = DeleteRequest {
            driver: "disk.example.com",
            volume_id: "vol-1",
            secrets: &secrets,
        };
        assert_eq!(
            delete_volume(&mut inv, &request, Version::new(3, 14, 0)),
            Ok(())
        );
        assert!(!inv.volumes[0].exists);
        assert_eq!(
            inv.volumes[0].deleted_by.as_deref(),
            Some("disk.example.com DeleteVolume")
        );

        let again = inv.clone();
        assert_eq!(
            delete_volume(&mut inv, &request, Version::new(3, 14, 0)),
            Ok(())
        );
        assert_eq!(inv, again);
    }

    #[test]
    fn generic_delete_of_another_drivers_handle_touches_nothing() {
        let mut inv = inventory(GENERIC);
        let secrets = Secrets::None;
        let request = DeleteRequest {
            driver: "other.example.com",
            volume_id: "vol-1",
            secrets: &secrets,
        };
        assert_eq!(
            delete_volume(&mut inv, &request, Version::new(3, 14, 0)),
            Ok(())
        );
        assert!(inv.volumes[0].exists);
    }

    #[test]
    fn unreachable_backend_fails_generic_calls() {
        let mut inv = inventory(GENERIC);
        inv.faults.unreachable = true;
        let secrets = Secrets::None;
        let request = DeleteRequest {
            driver: "disk.example.com",
            volume_id: "vol-1",
            secrets: &secrets,
        };
        let status = delete_volume(&mut inv, &request, Version::new(3, 14, 0)).unwrap_err();
        assert_eq!(status.code, Code::Unavailable);
        assert!(unpublish_volume(&inv, "disk.example.com", "vol-1").is_err());
        assert!(inv.volumes[0].exists);
    }

    #[test]
    fn detach_error_fails_unpublish() {
        let mut inv = inventory(GENERIC);
        inv.volumes[0].detach_error = Some("volume not found".into());
        let status = unpublish_volume(&inv, "disk.example.com", "vol-1").unwrap_err();
        assert_eq!(
            status.to_string(),
            "rpc error: code = Internal desc = volume not found"
        );
        assert_eq!(unpublish_volume(&inv, "disk.example.com", "vol-2"), Ok(()));
    }

    #[test]
    fn named_secrets_count_as_present() {
        let named = Secrets::Named {
            namespace: "ns".into(),
            name: "s".into(),
        };
        assert!(named.has_keys(&["userID", "userKey"]));
        assert!(!Secrets::None.has_keys(&[]));
        let data = Secrets::Data([("userID".to_owned(), "kube".to_owned())].into());
        assert!(data.has_keys(&["userID"]));
        assert!(!data.has_keys(&["userID", "userKey"]));
    }
}
