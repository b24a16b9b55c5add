//! The node-stage secret of a static volume: user credentials, never admin ones.
//!
//! ceph-csi mounts a static CephFS volume with the `userID` and `userKey` of
//! its node-stage secret. Rook's node secret for CephFS, `rook-csi-cephfs-node`,
//! holds the same `csi-cephfs-node` Ceph user under the keys `adminID` and
//! `adminKey`; Rook's recipe for sharing a volume across namespaces copies it
//! to `rook-csi-cephfs-node-user` with the keys renamed. Rook's RBD node
//! secret, `rook-csi-rbd-node`, already has `userID` and `userKey`.

use pvwarden_domain::driver::CephKind;

use crate::error::Error;

/// A reference to a secret, `namespace/name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl std::fmt::Display for SecretRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The suffix Rook's recipe gives the user copy of the CephFS node secret.
pub const USER_SUFFIX: &str = "-user";

/// The node-stage secret chosen, and what the user must make sure of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSecret {
    /// The secret the PV names.
    pub reference: SecretRef,
    /// Which secret is needed, and how to make it.
    pub requirement: String,
}

/// Chooses the node-stage secret of a static volume.
///
/// `given` is the user's choice; `source` the node-stage secret of the volume
/// being shared, or, for a new static volume, Rook's default for the cluster.
///
/// # Errors
///
/// Returns [`Error::AdminSecret`] when the secret's name says it holds admin
/// credentials, and [`Error::Missing`] (naming `pv`) when there is none to start from.
pub fn choose(
    kind: CephKind,
    pv: &str,
    given: Option<&SecretRef>,
    source: Option<&SecretRef>,
) -> Result<NodeSecret, Error> {
    let reference = match (given, source) {
        (Some(given), _) => given.clone(),
        (None, Some(source)) if kind == CephKind::Rbd => source.clone(),
        (None, Some(source)) if source.name.ends_with(USER_SUFFIX) => source.clone(),
        (None, Some(source)) => SecretRef {
            namespace: source.namespace.clone(),
            name: format!("{}{USER_SUFFIX}", source.name),
        },
        (None, None) => {
            return Err(Error::Missing {
                pv: pv.to_owned(),
                field: "spec.csi.nodeStageSecretRef",
                why: "name the secret nodes mount with, with --node-stage-secret NAMESPACE/NAME",
            })
        }
    };
    let base = reference
        .name
        .strip_suffix(USER_SUFFIX)
        .unwrap_or(&reference.name);
    if reference.name.contains("admin") {
        return Err(Error::AdminSecret {
            secret: reference.to_string(),
            suggestion: format!(
                "{}/rook-csi-{}-node{}",
                reference.namespace,
                if kind == CephKind::Rbd {
                    "rbd"
                } else {
                    "cephfs"
                },
                if kind == CephKind::Rbd {
                    ""
                } else {
                    USER_SUFFIX
                }
            ),
        });
    }
    let requirement = match kind {
        CephKind::Rbd => format!(
            "Secret {reference} must hold userID and userKey of a Ceph user that may map the \
             image (under Rook, the rook-csi-rbd-node secret of the cluster namespace does)."
        ),
        CephKind::Cephfs | CephKind::Nfs => format!(
            "Secret {reference} must exist and hold userID and userKey of a Ceph user that may \
             mount the directory, not client.admin: ceph-csi mounts static CephFS volumes with \
             these keys. Under Rook it is Rook's recipe: copy Secret {}/{base} and rename its \
             keys adminID to userID and adminKey to userKey (the values are the csi-cephfs-node \
             user's).",
            reference.namespace
        ),
    };
    Ok(NodeSecret {
        reference,
        requirement,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(namespace: &str, name: &str) -> SecretRef {
        SecretRef {
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    #[test]
    fn cephfs_shares_use_rooks_user_copy_of_the_node_secret() {
        let source = secret("rook-ceph", "rook-csi-cephfs-node");
        let chosen = choose(CephKind::Cephfs, "pv", None, Some(&source)).expect("a secret");
        assert_eq!(
            chosen.reference,
            secret("rook-ceph", "rook-csi-cephfs-node-user")
        );
        assert!(chosen.requirement.contains("adminID to userID"));
        assert!(chosen
            .requirement
            .contains("rook-ceph/rook-csi-cephfs-node "));
    }

    #[test]
    fn rbd_keeps_the_node_secret_and_admin_names_are_refused() {
        let source = secret("rook-ceph", "rook-csi-rbd-node");
        let chosen = choose(CephKind::Rbd, "pv", None, Some(&source)).expect("a secret");
        assert_eq!(chosen.reference, source);
        let admin = secret("rook-ceph", "rook-ceph-admin-keyring");
        let err = choose(CephKind::Cephfs, "pv", Some(&admin), Some(&source));
        assert!(matches!(err, Err(Error::AdminSecret { .. })), "{err:?}");
        assert!(matches!(
            choose(CephKind::Cephfs, "pv", None, None),
            Err(Error::Missing { .. })
        ));
    }
}
