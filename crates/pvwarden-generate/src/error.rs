//! Why a volume cannot be generated.

/// A request that pvwarden refuses, with the reason a user needs to fix it.
///
/// Every message names the object or the option at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The source PV has no CSI volume source.
    #[error("PV {pv} is not a CSI volume: only ceph-csi CephFS and RBD volumes can be shared")]
    NotCsi {
        /// The source PV.
        pv: String,
    },
    /// The source PV's driver is not a ceph-csi CephFS or RBD driver.
    #[error(
        "PV {pv} uses driver {driver}: only ceph-csi CephFS and RBD volumes can be shared \
         (a ceph-csi NFS export is shared by mounting the export itself)"
    )]
    NotCeph {
        /// The source PV.
        pv: String,
        /// Its driver.
        driver: String,
    },
    /// A field the generated objects need is missing from the source.
    #[error("PV {pv} has no {field}: {why}")]
    Missing {
        /// The source PV.
        pv: String,
        /// The missing field, e.g. `spec.csi.volumeAttributes.clusterID`.
        field: &'static str,
        /// What it is needed for.
        why: &'static str,
    },
    /// The source PV is being deleted.
    #[error("PV {pv} is being deleted: a share of it would outlive its storage")]
    SourceDeleting {
        /// The source PV.
        pv: String,
    },
    /// The directory Ceph reports differs from the one the source PV names.
    #[error(
        "PV {pv} names the directory {attribute}, but Ceph reports the subvolume at {ceph}: \
         find out which is right before sharing"
    )]
    RootPathMismatch {
        /// The source PV.
        pv: String,
        /// The path in the PV's attributes.
        attribute: String,
        /// The path Ceph reports.
        ceph: String,
    },
    /// An RBD volume would be written from two namespaces.
    #[error(
        "PV {pv} is an RBD image and {why}: an RBD image holds one block device, and PVs \
         that write it from different namespaces corrupt it; share it with --read-only, or use \
         CephFS for data that several namespaces write"
    )]
    RbdReadWrite {
        /// The source PV.
        pv: String,
        /// What would write it.
        why: &'static str,
    },
    /// The share would land in the namespace of the source's own claim.
    #[error(
        "the claim of PV {pv} is already in namespace {namespace}: pods there can use claim \
         {claim} directly"
    )]
    SameNamespace {
        /// The source PV.
        pv: String,
        /// The namespace asked for.
        namespace: String,
        /// The source's claim.
        claim: String,
    },
    /// The source is itself a share made by pvwarden.
    #[error("PV {pv} is a share of PV {source_pv}: share {source_pv} instead")]
    SourceIsShare {
        /// The PV given.
        pv: String,
        /// The PV it shares.
        source_pv: String,
    },
    /// A name given or derived is not valid for its kind.
    #[error("{what} {value:?} is not valid: {why}")]
    InvalidName {
        /// What the name is for, e.g. `the PV name`.
        what: &'static str,
        /// The name.
        value: String,
        /// What a valid name looks like.
        why: &'static str,
    },
    /// An object of that name already exists in the input.
    #[error("{kind} {name} already exists; choose another name with {option}")]
    NameTaken {
        /// `PersistentVolume` or `PersistentVolumeClaim`.
        kind: &'static str,
        /// `name` or `namespace/name`.
        name: String,
        /// The option that chooses the name.
        option: &'static str,
    },
    /// Another PV of the driver already carries the handle.
    #[error(
        "PV {pv} already uses handle {handle} with driver {driver}: two PVs with one handle \
         let whichever claim goes first decide for both"
    )]
    HandleTaken {
        /// The PV holding the handle.
        pv: String,
        /// The handle.
        handle: String,
        /// The driver.
        driver: String,
    },
    /// The handle would be read by ceph-csi as a volume id it can delete.
    #[error(
        "handle {handle:?} is one ceph-csi can read as a volume id ({why}): a later Delete \
         could reach the storage"
    )]
    HandleDecodes {
        /// The handle.
        handle: String,
        /// What ceph-csi would make of it.
        why: String,
    },
    /// The node-stage secret would hand admin credentials to every node.
    #[error(
        "node-stage secret {secret} looks like admin credentials: give nodes a user that may \
         only mount (under Rook, {suggestion})"
    )]
    AdminSecret {
        /// `namespace/name` of the secret.
        secret: String,
        /// The secret Rook's recipe names.
        suggestion: String,
    },
    /// A size is not a Kubernetes quantity.
    #[error("size {value:?} is not a quantity such as 10Gi or 500Mi")]
    InvalidSize {
        /// The text given.
        value: String,
    },
    /// The PV named for removal is not a static share.
    #[error("PV {pv} is not a static share ({why}): unshare removes only static copies")]
    NotAShare {
        /// The PV.
        pv: String,
        /// What makes it something else.
        why: &'static str,
    },
}
