//! A PV's handle as ceph-csi sees it, checked against the PV's own attributes.
//!
//! A hand-edited handle often still decodes, or almost does; comparing what it
//! says with `volumeAttributes` catches the edit: a clusterID that differs
//! from the attribute, a length field that does not match it, or an object
//! uuid that the image or subvolume name does not carry.

use serde::Serialize;

use crate::driver::CephKind;
use crate::facts::CsiSource;
use crate::volid::{self, HandleFamily};

/// What ceph-csi makes of a handle, and how it fits the PV's attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HandleReport {
    /// `v1`, `legacy-rbd`, `legacy-cephfs`, `migration`, `bad-migration` or `undecodable`.
    pub family: &'static str,
    /// Whether it decodes as a version-1 id.
    pub decodes: bool,
    /// ceph-csi's own error text when it does not.
    pub error: Option<String>,
    /// The decoded clusterID.
    pub cluster_id: Option<String>,
    /// The decoded pool or filesystem id.
    pub location_id: Option<i64>,
    /// The decoded object uuid.
    pub object_uuid: Option<String>,
    /// Where the handle and the attributes disagree.
    pub inconsistencies: Vec<String>,
}

/// Reads a ceph-csi handle and checks it against the PV's attributes.
pub fn report(csi: &CsiSource, kind: CephKind) -> HandleReport {
    let handle = csi.handle.as_str();
    let family = match kind {
        CephKind::Rbd => volid::classify(handle),
        // CephFS and NFS have no migration path: they decode straight away.
        CephKind::Cephfs | CephKind::Nfs => match volid::decode(handle) {
            Ok(id) => HandleFamily::V1(id),
            Err(_) if volid::is_legacy_cephfs_shape(handle) => volid::classify(handle),
            Err(error) => HandleFamily::Undecodable(error),
        },
    };
    let mut report = HandleReport {
        family: "undecodable",
        decodes: false,
        error: None,
        cluster_id: None,
        location_id: None,
        object_uuid: None,
        inconsistencies: Vec::new(),
    };
    match family {
        HandleFamily::V1(id) => {
            report.family = "v1";
            report.decodes = true;
            check_decoded(csi, &id, &mut report.inconsistencies);
            report.cluster_id = Some(id.cluster_id);
            report.location_id = Some(id.location_id);
            report.object_uuid = Some(id.object_uuid);
        }
        HandleFamily::LegacyRbd { error, .. } => {
            report.family = "legacy-rbd";
            report.error = Some(error.ceph_csi_message());
        }
        HandleFamily::LegacyCephfs { error, .. } => {
            report.family = "legacy-cephfs";
            report.error = Some(error.ceph_csi_message());
        }
        HandleFamily::Migration(_) => report.family = "migration",
        HandleFamily::BadMigration(error) => {
            report.family = "bad-migration";
            report.error = Some(error.ceph_csi_message().to_owned());
        }
        HandleFamily::Undecodable(error) => {
            report.error = Some(error.ceph_csi_message());
            check_length_field(csi, &mut report.inconsistencies);
        }
    }
    report
}

fn check_decoded(csi: &CsiSource, id: &volid::CsiId, out: &mut Vec<String>) {
    if let Some(attr) = csi.attribute("clusterID") {
        if attr != id.cluster_id {
            out.push(format!(
                "the handle's clusterID {:?} differs from volumeAttributes.clusterID {attr:?}",
                id.cluster_id
            ));
        }
    }
    for key in ["imageName", "subvolumeName"] {
        if let Some(name) = csi.attribute(key) {
            if !name.ends_with(&id.object_uuid) {
                out.push(format!(
                    "{key} {name:?} does not carry the handle's uuid {}: the handle was not \
                     made by ceph-csi for this {}",
                    id.object_uuid,
                    if key == "imageName" {
                        "image"
                    } else {
                        "subvolume"
                    }
                ));
            }
        }
    }
}

/// Explains an undecodable handle whose length field disagrees with the clusterID attribute.
fn check_length_field(csi: &CsiSource, out: &mut Vec<String>) {
    let Some(attr) = csi.attribute("clusterID") else {
        return;
    };
    let bytes = csi.handle.as_bytes();
    let Some(field) = bytes.get(5..9) else { return };
    let Ok(field) = std::str::from_utf8(field) else {
        return;
    };
    let Ok(declared) = usize::from_str_radix(field, 16) else {
        return;
    };
    let starts_with_attr = bytes.get(10..10 + attr.len()) == Some(attr.as_bytes());
    if declared != attr.len() && starts_with_attr {
        out.push(format!(
            "the handle's length field {field} says the clusterID has {declared} bytes, but it \
             is followed by volumeAttributes.clusterID {attr:?} ({} bytes): the handle was \
             edited by hand",
            attr.len()
        ));
    }
}
