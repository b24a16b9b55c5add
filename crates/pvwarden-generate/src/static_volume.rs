//! `static cephfs|rbd`: a PV and claim for storage that already exists.
//!
//! The import case is where `Delete` and hand-encoded handles most often slip
//! in. Here the PV is always `Retain` and static, and its handle is checked
//! against ceph-csi's parser: a CephFS handle is made up so that it can never
//! decode; an RBD handle must be the image name (ceph-csi mounts a static RBD
//! volume by it), so an image name ceph-csi would read as a volume id is
//! refused.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use pvwarden_domain::driver::CephKind;

use crate::document::{Document, Manifest};
use crate::error::Error;
use crate::secret::{self, SecretRef};
use crate::volume::{self, StaticPv};
use crate::{handle, names, Existing, Plan};

/// What every static volume needs.
#[derive(Debug, Clone, Default)]
pub struct Common {
    /// The PV's name.
    pub pv_name: String,
    /// The claim's namespace.
    pub namespace: String,
    /// The claim's name; default: the PV's name.
    pub claim_name: Option<String>,
    /// The CSI driver, e.g. `rook-ceph.cephfs.csi.ceph.com`.
    pub driver: String,
    /// ceph-csi's clusterID (under Rook, the cluster's namespace).
    pub cluster_id: String,
    /// The size, a Kubernetes quantity such as `10Gi`.
    pub size: String,
    /// Mount read-only (`ReadOnlyMany`).
    pub read_only: bool,
    /// The node-stage secret; default under Rook: the one Rook's recipe names.
    pub node_stage_secret: Option<SecretRef>,
    /// The storage class name written on both objects; default `""` (none).
    pub storage_class: Option<String>,
}

/// A CephFS directory or subvolume.
#[derive(Debug, Clone, Default)]
pub struct Cephfs {
    /// Names, size, driver, cluster and secret.
    pub common: Common,
    /// The CephFS filesystem name (`fsName`); ceph-csi's default filesystem when absent.
    pub fs_name: Option<String>,
    /// The directory to mount, e.g. a subvolume's path from `ceph fs subvolume getpath`.
    pub root_path: String,
}

/// An RBD image.
#[derive(Debug, Clone, Default)]
pub struct Rbd {
    /// Names, size, driver, cluster and secret.
    pub common: Common,
    /// The pool holding the image.
    pub pool: String,
    /// The image's name; it becomes the handle.
    pub image: String,
    /// The RADOS namespace of the image, if any.
    pub rados_namespace: Option<String>,
    /// The image features the node maps it with, e.g. `layering`.
    pub image_features: String,
    /// The filesystem on the image (`ext4`, `xfs`); ignored for a block volume.
    pub fs_type: String,
    /// Expose the image as a raw block device (`volumeMode: Block`).
    pub block: bool,
}

/// Plans a static CephFS volume.
///
/// # Errors
///
/// Returns an [`Error`] for an invalid name, path, size or secret, or a name taken.
pub fn cephfs(request: &Cephfs, existing: &Existing<'_>) -> Result<Plan, Error> {
    let c = &request.common;
    let kind = ceph_kind(c, CephKind::Cephfs)?;
    if !request.root_path.starts_with('/') {
        return Err(Error::InvalidName {
            what: "--root-path",
            value: request.root_path.clone(),
            why: "give the absolute path inside the filesystem, e.g. the output of `ceph fs \
                  subvolume getpath`",
        });
    }
    let volume_handle = handle::for_pv(kind, &c.pv_name)?;
    let mut attributes = BTreeMap::from([
        ("clusterID".to_owned(), c.cluster_id.clone()),
        ("rootPath".to_owned(), request.root_path.clone()),
        ("staticVolume".to_owned(), "true".to_owned()),
    ]);
    if let Some(fs) = &request.fs_name {
        attributes.insert("fsName".into(), fs.clone());
    }
    let modes = if c.read_only {
        "ReadOnlyMany"
    } else {
        "ReadWriteMany"
    };
    let what = format!(
        "the directory {} of filesystem {} in Ceph cluster {}",
        request.root_path,
        request.fs_name.as_deref().unwrap_or("(ceph-csi's default)"),
        c.cluster_id
    );
    build(
        c,
        kind,
        volume_handle,
        attributes,
        modes,
        None,
        &what,
        existing,
    )
}

/// Plans a static RBD volume.
///
/// # Errors
///
/// Returns an [`Error`] for an invalid name, image, size or secret, a name taken,
/// or an image name ceph-csi would read as a volume id.
pub fn rbd(request: &Rbd, existing: &Existing<'_>) -> Result<Plan, Error> {
    let c = &request.common;
    let kind = ceph_kind(c, CephKind::Rbd)?;
    let bad_image = request.image.is_empty()
        || request.image.contains(['/', '@', ' '])
        || request.pool.is_empty();
    if bad_image {
        return Err(Error::InvalidName {
            what: "--pool/--image",
            value: format!("{}/{}", request.pool, request.image),
            why: "name an existing pool and image, without '/', '@' or spaces",
        });
    }
    handle::check(kind, &request.image)?;
    let mut attributes = BTreeMap::from([
        ("clusterID".to_owned(), c.cluster_id.clone()),
        ("pool".to_owned(), request.pool.clone()),
        ("imageFeatures".to_owned(), request.image_features.clone()),
        ("staticVolume".to_owned(), "true".to_owned()),
    ]);
    if let Some(ns) = &request.rados_namespace {
        attributes.insert("radosNamespace".into(), ns.clone());
    }
    let modes = if c.read_only {
        "ReadOnlyMany"
    } else {
        "ReadWriteOnce"
    };
    let fs_type = (!request.block).then(|| request.fs_type.clone());
    let what = format!(
        "image {} in pool {} of Ceph cluster {}",
        request.image, request.pool, c.cluster_id
    );
    let mut plan = build(
        c,
        kind,
        request.image.clone(),
        attributes,
        modes,
        fs_type,
        &what,
        existing,
    )?;
    if request.block {
        for document in &mut plan.documents {
            match &mut document.manifest {
                Manifest::Volume(pv) => {
                    if let Some(spec) = pv.spec.as_mut() {
                        spec.volume_mode = Some("Block".into());
                    }
                }
                Manifest::Claim(pvc) => {
                    if let Some(spec) = pvc.spec.as_mut() {
                        spec.volume_mode = Some("Block".into());
                    }
                }
            }
        }
    }
    Ok(plan)
}

fn ceph_kind(c: &Common, want: CephKind) -> Result<CephKind, Error> {
    match CephKind::from_driver(&c.driver) {
        Some(kind) if kind == want => Ok(kind),
        _ => Err(Error::NotCeph {
            pv: c.pv_name.clone(),
            driver: c.driver.clone(),
        }),
    }
}

/// Rook's node-stage secret for a static volume of `kind`, when the driver is Rook's.
///
/// Rook prefixes its drivers with the operator's namespace and keeps the node
/// secrets in the cluster's namespace, which is also the clusterID it writes.
fn rook_default(c: &Common, kind: CephKind) -> Option<SecretRef> {
    let base = match kind {
        CephKind::Rbd => "rbd.csi.ceph.com",
        CephKind::Cephfs | CephKind::Nfs => "cephfs.csi.ceph.com",
    };
    let prefixed = c.driver.len() > base.len() && c.driver.ends_with(base);
    prefixed.then(|| SecretRef {
        namespace: c.cluster_id.clone(),
        name: match kind {
            CephKind::Rbd => "rook-csi-rbd-node".to_owned(),
            CephKind::Cephfs | CephKind::Nfs => "rook-csi-cephfs-node".to_owned(),
        },
    })
}

#[allow(
    clippy::too_many_arguments,
    reason = "one private assembly step of the two public planners"
)]
fn build(
    c: &Common,
    kind: CephKind,
    volume_handle: String,
    attributes: BTreeMap<String, String>,
    modes: &str,
    fs_type: Option<String>,
    what: &str,
    existing: &Existing<'_>,
) -> Result<Plan, Error> {
    names::subdomain("the PV name", &c.pv_name)?;
    names::label("the namespace", &c.namespace)?;
    let claim_name = c.claim_name.clone().unwrap_or_else(|| c.pv_name.clone());
    names::subdomain("the claim name", &claim_name)?;
    if c.cluster_id.is_empty() {
        return Err(Error::Missing {
            pv: c.pv_name.clone(),
            field: "spec.csi.volumeAttributes.clusterID",
            why: "ceph-csi finds the Ceph cluster by it; give --cluster-id",
        });
    }
    let size = quantity(&c.size)?;
    existing.check_free(
        &c.pv_name,
        &c.namespace,
        &claim_name,
        &c.driver,
        &volume_handle,
    )?;
    let secret = secret::choose(
        kind,
        &c.pv_name,
        c.node_stage_secret.as_ref(),
        rook_default(c, kind).as_ref(),
    )?;
    let pv = StaticPv {
        name: c.pv_name.clone(),
        namespace: c.namespace.clone(),
        claim_name: claim_name.clone(),
        labels: BTreeMap::new(),
        annotations: BTreeMap::new(),
        capacity: size,
        access_modes: vec![modes.to_owned()],
        storage_class: c.storage_class.clone().unwrap_or_default(),
        volume_mode: Some("Filesystem".into()),
        mount_options: None,
        driver: c.driver.clone(),
        handle: volume_handle.clone(),
        attributes,
        fs_type,
        read_only: c.read_only,
        node_stage_secret: secret.reference.clone(),
    }
    .build();
    let claim = volume::claim(&pv);
    let pv_comments = vec![
        format!(
            "A static PV for {what}. Retain: deleting the claim or this PV leaves the storage \
             alone; remove the storage deliberately, in Ceph, when it is no longer wanted."
        ),
        format!(
            "Its handle {volume_handle} is one no ceph-csi release can read as a volume id, so \
             that even a later switch to Delete can only hang, never delete."
        ),
        secret.requirement.clone(),
    ];
    let documents = vec![
        Document {
            comments: pv_comments,
            manifest: Manifest::Volume(Box::new(pv)),
        },
        Document {
            comments: vec![format!(
                "The claim binds only to PV {} (volumeName); its class is the PV's, so the \
                 default StorageClass cannot give it one that never binds.",
                c.pv_name
            )],
            manifest: Manifest::Claim(Box::new(claim)),
        },
    ];
    Ok(Plan {
        documents,
        requirements: vec![secret.requirement],
        pv_name: c.pv_name.clone(),
        claim: format!("{}/{claim_name}", c.namespace),
        source_switched: false,
    })
}

/// Reads a Kubernetes quantity such as `10Gi`, `500M` or `1.5Ti`.
fn quantity(text: &str) -> Result<Quantity, Error> {
    const SUFFIXES: &[&str] = &[
        "Ki", "Mi", "Gi", "Ti", "Pi", "Ei", "k", "M", "G", "T", "P", "E",
    ];
    let number = SUFFIXES
        .iter()
        .find_map(|s| text.strip_suffix(s))
        .unwrap_or(text);
    let (whole, fraction) = number.split_once('.').unwrap_or((number, "0"));
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let positive = number.bytes().any(|b| (b'1'..=b'9').contains(&b));
    if digits(whole) && digits(fraction) && positive {
        Ok(Quantity(text.to_owned()))
    } else {
        Err(Error::InvalidSize {
            value: text.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_kubernetes_quantities() {
        for good in ["10Gi", "500M", "1.5Ti", "1073741824"] {
            assert!(quantity(good).is_ok(), "{good}");
        }
        for bad in ["", "Gi", "ten", "-1Gi", "0", "1GB"] {
            assert!(quantity(bad).is_err(), "{bad}");
        }
    }
}
