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

use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, PersistentVolume, PersistentVolumeSpec,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
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

/// The source PV, read and checked.
struct Source<'a> {
    pv: &'a PersistentVolume,
    name: String,
    spec: &'a PersistentVolumeSpec,
    csi: &'a CSIPersistentVolumeSource,
    kind: CephKind,
    attributes: BTreeMap<String, String>,
    cluster_id: String,
    capacity: Quantity,
}

/// The names of the new objects.
struct Names {
    namespace: String,
    claim: String,
    pv: String,
}

/// What the share mounts, and how.
struct Mount {
    handle: String,
    /// One sentence on where the data is.
    location: String,
    attributes: BTreeMap<String, String>,
}

/// Plans a share of `request.source` into `request.namespace`.
///
/// # Errors
///
/// Returns an [`Error`] saying why the share would not be safe or valid.
pub fn plan(request: &Request<'_>, existing: &Existing<'_>) -> Result<Plan, Error> {
    let source = Source::read(request.source)?;
    let names = names(request, &source)?;
    let access_modes = access_modes(source.kind, &source.name, source.spec, request.read_only)?;
    let mount = mount(&source, request, &names.pv)?;
    let driver = &source.csi.driver;
    existing.check_free(
        &names.pv,
        &names.namespace,
        &names.claim,
        driver,
        &mount.handle,
    )?;
    let secret = secret::choose(
        source.kind,
        &source.name,
        request.node_stage_secret.as_ref(),
        source_secret(source.csi).as_ref(),
    )?;

    let mut labels = BTreeMap::new();
    if names::is_label_value(&source.name) {
        labels.insert(LABEL_SOURCE.to_owned(), source.name.clone());
    }
    let share_pv = StaticPv {
        name: names.pv.clone(),
        namespace: names.namespace.clone(),
        claim_name: names.claim.clone(),
        labels,
        annotations: BTreeMap::from([(ANN_SOURCE.to_owned(), source.name.clone())]),
        capacity: source.capacity.clone(),
        access_modes,
        storage_class: source.spec.storage_class_name.clone().unwrap_or_default(),
        volume_mode: source.spec.volume_mode.clone(),
        mount_options: source.spec.mount_options.clone(),
        driver: driver.clone(),
        handle: mount.handle.clone(),
        attributes: mount.attributes.clone(),
        fs_type: source.csi.fs_type.clone(),
        read_only: request.read_only,
        node_stage_secret: secret.reference.clone(),
    }
    .build();
    let claim = volume::claim(&share_pv);

    let source_switched = source.spec.persistent_volume_reclaim_policy.as_deref() == Some("Delete");
    let mut documents = Vec::new();
    if source_switched {
        documents.push(source_change(&source));
    }
    documents.push(Document {
        comments: share_comments(&source, &names, &mount, &secret.requirement),
        manifest: Manifest::Volume(Box::new(share_pv)),
    });
    documents.push(Document {
        comments: vec![format!(
            "The claim for namespace {}: it binds only to PV {} (volumeName), with the same \
             class, size, access modes and volume mode.",
            names.namespace, names.pv
        )],
        manifest: Manifest::Claim(Box::new(claim)),
    });
    Ok(Plan {
        documents,
        requirements: vec![secret.requirement],
        pv_name: names.pv,
        claim: format!("{}/{}", names.namespace, names.claim),
        source_switched,
    })
}

impl<'a> Source<'a> {
    /// Checks that `pv` can be shared at all, and keeps what the share needs.
    fn read(pv: &'a PersistentVolume) -> Result<Source<'a>, Error> {
        let name = pv.metadata.name.clone().unwrap_or_default();
        let missing = |field, why| Error::Missing {
            pv: name.clone(),
            field,
            why,
        };
        let spec = pv.spec.as_ref().ok_or_else(|| {
            missing(
                "spec",
                "the share copies its capacity, access modes and volume source",
            )
        })?;
        let csi = spec
            .csi
            .as_ref()
            .ok_or_else(|| Error::NotCsi { pv: name.clone() })?;
        let kind = match CephKind::from_driver(&csi.driver) {
            Some(kind @ (CephKind::Cephfs | CephKind::Rbd)) => kind,
            _ => {
                return Err(Error::NotCeph {
                    pv: name,
                    driver: csi.driver.clone(),
                })
            }
        };
        if pv.metadata.deletion_timestamp.is_some() {
            return Err(Error::SourceDeleting { pv: name });
        }
        // A share made by `kubectl apply` of an edited stream may keep only one of
        // the two marks; either makes the PV a share.
        let label = pv
            .metadata
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_SOURCE));
        if let Some(original) = annotation(&pv.metadata, ANN_SOURCE).or(label.map(String::as_str)) {
            return Err(Error::SourceIsShare {
                pv: name,
                source_pv: original.to_owned(),
            });
        }
        let attributes = csi.volume_attributes.clone().unwrap_or_default();
        let cluster_id = attributes.get("clusterID").cloned().ok_or_else(|| {
            missing(
                "spec.csi.volumeAttributes.clusterID",
                "ceph-csi finds the Ceph cluster of a static volume by it",
            )
        })?;
        let capacity = spec
            .capacity
            .as_ref()
            .and_then(|c| c.get("storage"))
            .cloned()
            .ok_or_else(|| {
                missing(
                    "spec.capacity.storage",
                    "the share and its claim must ask for the same size to bind",
                )
            })?;
        Ok(Source {
            pv,
            name,
            spec,
            csi,
            kind,
            attributes,
            cluster_id,
            capacity,
        })
    }
}

/// The namespace, claim and PV names, defaulted and checked.
fn names(request: &Request<'_>, source: &Source<'_>) -> Result<Names, Error> {
    let namespace = request.namespace.clone();
    names::label("the namespace", &namespace)?;
    let source_claim = source.spec.claim_ref.as_ref();
    if let Some(claim) = source_claim {
        if claim.namespace.as_deref() == Some(namespace.as_str()) {
            return Err(Error::SameNamespace {
                pv: source.name.clone(),
                namespace,
                claim: claim.name.clone().unwrap_or_default(),
            });
        }
    }
    let claim = request
        .claim_name
        .clone()
        .or_else(|| source_claim.and_then(|c| c.name.clone()))
        .unwrap_or_else(|| source.name.clone());
    names::subdomain("the claim name", &claim)?;
    let pv = request
        .pv_name
        .clone()
        .unwrap_or_else(|| format!("share-{namespace}-{claim}"));
    names::subdomain("the PV name", &pv)?;
    Ok(Names {
        namespace,
        claim,
        pv,
    })
}

/// The share's handle and attributes: only what the node plugin reads to mount.
fn mount(source: &Source<'_>, request: &Request<'_>, pv_name: &str) -> Result<Mount, Error> {
    let attributes = &source.attributes;
    let (handle, location, kept, root) = match source.kind {
        CephKind::Rbd => {
            // ceph-csi mounts a static RBD volume by taking its handle as the image name;
            // a static source's handle is that name already, and then the share would
            // carry the same handle, which `check_free` refuses.
            let is_static = attributes.get("staticVolume").is_some_and(|v| v == "true");
            let image = attributes
                .get("imageName")
                .or(is_static.then_some(&source.csi.volume_handle))
                .ok_or_else(|| Error::Missing {
                    pv: source.name.clone(),
                    field: "spec.csi.volumeAttributes.imageName",
                    why: "a static RBD volume's handle is its image name",
                })?;
            handle::check(source.kind, image)?;
            let location = format!("image {image} in pool {}", attr(attributes, "pool"));
            (image.clone(), location, RBD_KEPT, None)
        }
        CephKind::Cephfs | CephKind::Nfs => {
            let ceph = request.ceph_root_path.as_deref();
            let root = root_path::resolve(&source.name, attributes, ceph)?;
            let handle = handle::for_pv(source.kind, pv_name)?;
            (handle, root.explain(), CEPHFS_KEPT, Some(root))
        }
    };
    let mut share_attributes: BTreeMap<String, String> = kept
        .iter()
        .filter_map(|k| attributes.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    share_attributes.insert("staticVolume".into(), "true".into());
    if let Some(RootPath { path, .. }) = root {
        share_attributes.insert("rootPath".into(), path);
    }
    Ok(Mount {
        handle,
        location,
        attributes: share_attributes,
    })
}

fn source_secret(csi: &CSIPersistentVolumeSource) -> Option<SecretRef> {
    csi.node_stage_secret_ref.as_ref().map(|s| SecretRef {
        namespace: s.namespace.clone().unwrap_or_default(),
        name: s.name.clone().unwrap_or_default(),
    })
}

/// The source switched to `Retain`, with the reason.
fn source_change(source: &Source<'_>) -> Document {
    let name = &source.name;
    Document {
        comments: vec![format!(
            "The source PV {name} changes from Delete to Retain: with Delete, deleting its \
             claim would make ceph-csi delete the storage this share mounts. Keep it on Retain \
             while any share exists; `pvwarden unshare` says when it may go back. Only the \
             reclaim policy and the annotation {ANN_ORIGINAL_POLICY} (which remembers the old \
             policy) differ from the live object. Equivalent: kubectl patch pv {name} -p \
             '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'"
        )],
        manifest: Manifest::Volume(Box::new(retained(source.pv))),
    }
}

/// Why the share PV is written as it is.
fn share_comments(
    source: &Source<'_>,
    names: &Names,
    mount: &Mount,
    requirement: &str,
) -> Vec<String> {
    let mut comments = vec![
        format!(
            "A static share of PV {} for namespace {}: Retain, staticVolume, and the handle \
             {}, which no ceph-csi release can read as a volume id, so that no deletion of \
             this PV, even after a switch to Delete, can reach the shared storage.",
            source.name, names.namespace, mount.handle
        ),
        format!(
            "It mounts, in Ceph cluster {}: {}",
            source.cluster_id, mount.location
        ),
        requirement.to_owned(),
    ];
    if source.kind == CephKind::Rbd {
        comments.push(
            "Read-only: an RBD image can have only one writer; the source's pods must not \
             write while this share is mounted, or readers see a filesystem changing under them."
                .into(),
        );
    }
    comments
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
