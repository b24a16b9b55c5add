//! `share`: a static PV and claim that give another namespace the storage of a PV.
//!
//! The share is made in the one form no deletion can turn against the data:
//!
//! - the share is a static PV (`staticVolume: "true"`) on `Retain`, whose
//!   handle is its own and can never be read by ceph-csi as a volume id, so
//!   that even a later switch to `Delete` can only hang, never delete;
//! - the source stays on `Retain` while any share exists: a source on
//!   `Delete` is switched, and the output says so and why;
//! - nothing the provisioner wrote is copied (annotations, the provisioner
//!   identity, the subvolume name), so no tool takes the share for a dynamic
//!   volume.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use pvwarden_domain::driver::CephKind;

use crate::document::{Document, Manifest};
use crate::error::Error;
use crate::root_path::{self, RootPath};
use crate::secret::{self, SecretRef};
use crate::volume::{self, StaticPv};
use crate::{handle, names, Existing, Plan, ANN_ORIGINAL_POLICY, ANN_SOURCE, LABEL_SOURCE};

/// What to share, and with whom.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The PV whose storage is shared.
    pub source: &'a PersistentVolume,
    /// The namespace that gets the claim.
    pub namespace: String,
    /// The claim's name; default: the source's claim name, else the source PV's name.
    pub claim_name: Option<String>,
    /// The share PV's name; default: `share-<namespace>-<claim>`.
    pub pv_name: Option<String>,
    /// Mount the share read-only (`ReadOnlyMany`).
    pub read_only: bool,
    /// The node-stage secret; default: derived from the source's, as Rook names it.
    pub node_stage_secret: Option<SecretRef>,
    /// The subvolume path Ceph reports, when the caller could ask Ceph; the
    /// source's attribute is checked against it.
    pub ceph_root_path: Option<String>,
}

/// The ceph-csi volume attributes a share keeps from its source: what the node
/// plugin reads to mount it. Everything the provisioner recorded for itself
/// (subvolume name and path, provisioner identity, pools to create in) is left out.
const CEPHFS_KEPT: &[&str] = &[
    "clusterID",
    "fsName",
    "mounter",
    "kernelMountOptions",
    "fuseMountOptions",
];
const RBD_KEPT: &[&str] = &[
    "clusterID",
    "pool",
    "dataPool",
    "radosNamespace",
    "imageFeatures",
    "mounter",
    "mapOptions",
    "unmapOptions",
];

/// Plans a share of `request.source` into `request.namespace`.
///
/// # Errors
///
/// Returns an [`Error`] saying why the share would not be safe or valid.
pub fn plan(request: &Request<'_>, existing: &Existing<'_>) -> Result<Plan, Error> {
    let source = request.source;
    let source_name = source.metadata.name.clone().unwrap_or_default();
    let spec = source.spec.as_ref().ok_or_else(|| Error::Missing {
        pv: source_name.clone(),
        field: "spec",
        why: "the share copies its capacity, access modes and volume source",
    })?;
    let csi = spec.csi.as_ref().ok_or_else(|| Error::NotCsi {
        pv: source_name.clone(),
    })?;
    let kind = match CephKind::from_driver(&csi.driver) {
        Some(kind @ (CephKind::Cephfs | CephKind::Rbd)) => kind,
        _ => {
            return Err(Error::NotCeph {
                pv: source_name,
                driver: csi.driver.clone(),
            })
        }
    };
    if source.metadata.deletion_timestamp.is_some() {
        return Err(Error::SourceDeleting { pv: source_name });
    }
    if let Some(original) = annotation(&source.metadata, ANN_SOURCE) {
        return Err(Error::SourceIsShare {
            pv: source_name,
            source_pv: original.to_owned(),
        });
    }
    let attributes = csi.volume_attributes.clone().unwrap_or_default();
    let cluster_id = attributes.get("clusterID").ok_or_else(|| Error::Missing {
        pv: source_name.clone(),
        field: "spec.csi.volumeAttributes.clusterID",
        why: "ceph-csi finds the Ceph cluster of a static volume by it",
    })?;
    let capacity = spec
        .capacity
        .as_ref()
        .and_then(|c| c.get("storage"))
        .cloned()
        .ok_or_else(|| Error::Missing {
            pv: source_name.clone(),
            field: "spec.capacity.storage",
            why: "the share and its claim must ask for the same size to bind",
        })?;

    let source_claim = spec.claim_ref.as_ref();
    let namespace = request.namespace.clone();
    names::label("the namespace", &namespace)?;
    if let Some(claim) = source_claim {
        if claim.namespace.as_deref() == Some(namespace.as_str()) {
            return Err(Error::SameNamespace {
                pv: source_name,
                namespace,
                claim: claim.name.clone().unwrap_or_default(),
            });
        }
    }
    let claim_name = request
        .claim_name
        .clone()
        .or_else(|| source_claim.and_then(|c| c.name.clone()))
        .unwrap_or_else(|| source_name.clone());
    names::subdomain("the claim name", &claim_name)?;
    let pv_name = request
        .pv_name
        .clone()
        .unwrap_or_else(|| format!("share-{namespace}-{claim_name}"));
    names::subdomain("the PV name", &pv_name)?;

    let access_modes = access_modes(kind, &source_name, spec, request.read_only)?;
    let (volume_handle, location, kept, root) = match kind {
        CephKind::Rbd => {
            // ceph-csi mounts a static RBD volume by taking its handle as the image name;
            // a static source's handle is that name already, and then the share would
            // carry the same handle, which `check_free` refuses.
            let is_static = attributes.get("staticVolume").is_some_and(|v| v == "true");
            let image = attributes
                .get("imageName")
                .or(is_static.then_some(&csi.volume_handle))
                .ok_or_else(|| Error::Missing {
                    pv: source_name.clone(),
                    field: "spec.csi.volumeAttributes.imageName",
                    why: "a static RBD volume's handle is its image name",
                })?;
            handle::check(kind, image)?;
            let location = format!("image {image} in pool {}", attr(&attributes, "pool"));
            (image.clone(), location, RBD_KEPT, None)
        }
        CephKind::Cephfs | CephKind::Nfs => {
            let root =
                root_path::resolve(&source_name, &attributes, request.ceph_root_path.as_deref())?;
            let h = handle::for_pv(kind, &pv_name)?;
            (h, root.explain(), CEPHFS_KEPT, Some(root))
        }
    };
    existing.check_free(
        &pv_name,
        &namespace,
        &claim_name,
        &csi.driver,
        &volume_handle,
    )?;

    let source_secret = csi.node_stage_secret_ref.as_ref().map(|s| SecretRef {
        namespace: s.namespace.clone().unwrap_or_default(),
        name: s.name.clone().unwrap_or_default(),
    });
    let node_secret = secret::choose(
        kind,
        &source_name,
        request.node_stage_secret.as_ref(),
        source_secret.as_ref(),
    )?;

    let mut share_attributes: BTreeMap<String, String> = kept
        .iter()
        .filter_map(|k| attributes.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    share_attributes.insert("staticVolume".into(), "true".into());
    if let Some(RootPath { path, .. }) = root {
        share_attributes.insert("rootPath".into(), path);
    }

    let mut labels = BTreeMap::new();
    if names::is_label_value(&source_name) {
        labels.insert(LABEL_SOURCE.to_owned(), source_name.clone());
    }
    let annotations = BTreeMap::from([(ANN_SOURCE.to_owned(), source_name.clone())]);

    let share_pv = StaticPv {
        name: pv_name.clone(),
        namespace: namespace.clone(),
        claim_name: claim_name.clone(),
        labels,
        annotations,
        capacity,
        access_modes,
        storage_class: spec.storage_class_name.clone().unwrap_or_default(),
        volume_mode: spec.volume_mode.clone(),
        mount_options: spec.mount_options.clone(),
        driver: csi.driver.clone(),
        handle: volume_handle.clone(),
        attributes: share_attributes,
        fs_type: csi.fs_type.clone(),
        read_only: request.read_only,
        node_stage_secret: node_secret.reference.clone(),
    }
    .build();
    let claim = volume::claim(&share_pv);

    let mut documents = Vec::new();
    let policy = spec.persistent_volume_reclaim_policy.as_deref();
    let source_switched = policy == Some("Delete");
    if source_switched {
        documents.push(Document {
            comments: vec![format!(
                "The source PV {source_name} changes from Delete to Retain: with Delete, \
                 deleting its claim would make ceph-csi delete the storage this share mounts. \
                 Keep it on Retain while any share exists; `pvwarden unshare` says when it may \
                 go back. Only the reclaim policy and the annotation {ANN_ORIGINAL_POLICY} \
                 (which remembers the old policy) differ from the live object. Equivalent: \
                 kubectl patch pv {source_name} -p \
                 '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'"
            )],
            manifest: Manifest::Volume(Box::new(retained(source))),
        });
    }
    let mut pv_comments = vec![
        format!(
            "A static share of PV {source_name} for namespace {namespace}: Retain, \
             staticVolume, and the handle {volume_handle}, which no ceph-csi release can read \
             as a volume id, so that no deletion of this PV, even after a switch to Delete, \
             can reach the shared storage."
        ),
        format!("It mounts, in Ceph cluster {cluster_id}: {location}"),
        node_secret.requirement.clone(),
    ];
    if kind == CephKind::Rbd {
        pv_comments.push(
            "Read-only: an RBD image can have only one writer; the source's pods must not \
             write while this share is mounted, or readers see a filesystem changing under them."
                .into(),
        );
    }
    documents.push(Document {
        comments: pv_comments,
        manifest: Manifest::Volume(Box::new(share_pv)),
    });
    documents.push(Document {
        comments: vec![format!(
            "The claim for namespace {namespace}: it binds only to PV {pv_name} (volumeName), \
             with the same class, size, access modes and volume mode."
        )],
        manifest: Manifest::Claim(Box::new(claim)),
    });
    Ok(Plan {
        documents,
        requirements: vec![node_secret.requirement],
        pv_name,
        claim: format!("{namespace}/{claim_name}"),
        source_switched,
    })
}

fn attr<'a>(attributes: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    attributes.get(key).map_or("?", String::as_str)
}

fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

/// The share's access modes: the source's, or `ReadOnlyMany` when asked; RBD only read-only.
fn access_modes(
    kind: CephKind,
    pv: &str,
    spec: &PersistentVolumeSpec,
    read_only: bool,
) -> Result<Vec<String>, Error> {
    let source = spec.access_modes.clone().unwrap_or_default();
    if kind == CephKind::Rbd {
        // A share in another namespace is a second mount of the same block device. Even
        // read-only it is only sound while nothing else writes; read-write it corrupts the
        // image, and a multi-writer source (block mode) already has writers elsewhere.
        let why = if source.iter().any(|m| m == "ReadWriteMany") {
            Some("its source is ReadWriteMany, so it already has writers on several nodes")
        } else if !read_only {
            Some("a read-write share would be a second writer")
        } else {
            None
        };
        if let Some(why) = why {
            return Err(Error::RbdReadWrite {
                pv: pv.to_owned(),
                why,
            });
        }
    }
    Ok(if read_only {
        vec!["ReadOnlyMany".to_owned()]
    } else if source.is_empty() {
        vec!["ReadWriteMany".to_owned()]
    } else {
        source
    })
}

/// The source as it must be while shared: the same object on `Retain`, with
/// its old policy remembered, and nothing the server owns (status, uid,
/// resource version, finalizers), so that applying it changes only the policy.
fn retained(source: &PersistentVolume) -> PersistentVolume {
    let mut annotations = source.metadata.annotations.clone().unwrap_or_default();
    annotations.remove("kubectl.kubernetes.io/last-applied-configuration");
    annotations.insert(ANN_ORIGINAL_POLICY.to_owned(), "Delete".to_owned());
    let mut spec = source.spec.clone().unwrap_or_default();
    spec.persistent_volume_reclaim_policy = Some("Retain".into());
    PersistentVolume {
        metadata: ObjectMeta {
            name: source.metadata.name.clone(),
            labels: source.metadata.labels.clone(),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        status: None,
    }
}
