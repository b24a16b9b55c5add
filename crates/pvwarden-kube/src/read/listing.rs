//! The lists a read makes, each with what the audit loses without it.

use crate::rbac::SNAPSHOT_GROUP;
use crate::report::Permission;

/// One LIST of one resource, possibly narrowed by a field selector.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Listing {
    /// The kind, as counted in reports and shown in progress.
    pub kind: &'static str,
    /// The resource's plural.
    pub resource: &'static str,
    /// The API group, `""` for core.
    pub group: &'static str,
    /// A field selector, for events.
    pub field_selector: Option<&'static str>,
    /// Whether the read fails without it (PersistentVolumes only).
    pub required: bool,
    /// What the audit cannot see without it, for warnings.
    pub without: &'static str,
}

impl Listing {
    /// The permission this list needs.
    pub fn permission(&self) -> Permission {
        Permission {
            verb: "list",
            resource: self.resource,
            group: Some(self.group),
        }
    }

    /// The resource with its group, as in `kubectl get` (`storageclasses.storage.k8s.io`).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.resource.to_owned()
        } else {
            format!("{}.{}", self.resource, self.group)
        }
    }
}

const fn listing(
    kind: &'static str,
    resource: &'static str,
    group: &'static str,
    without: &'static str,
) -> Listing {
    Listing {
        kind,
        resource,
        group,
        field_selector: None,
        required: false,
        without,
    }
}

pub(crate) const PERSISTENT_VOLUMES: Listing = Listing {
    required: true,
    ..listing("PersistentVolume", "persistentvolumes", "", "volumes")
};
pub(crate) const CLAIMS: Listing = listing(
    "PersistentVolumeClaim",
    "persistentvolumeclaims",
    "",
    "claims (their verdicts, and whether a PV's claim still exists)",
);
pub(crate) const STORAGE_CLASSES: Listing = listing(
    "StorageClass",
    "storageclasses",
    "storage.k8s.io",
    "storage classes (deletion secrets and policies)",
);
pub(crate) const CSI_DRIVERS: Listing = listing(
    "CSIDriver",
    "csidrivers",
    "storage.k8s.io",
    "CSIDriver objects (whether a PV's driver is installed)",
);
pub(crate) const ATTACHMENTS: Listing = listing(
    "VolumeAttachment",
    "volumeattachments",
    "storage.k8s.io",
    "volume attachments (what holds the attacher finalizer)",
);
pub(crate) const NODES: Listing = listing(
    "Node",
    "nodes",
    "",
    "nodes (whether an attachment's node still exists)",
);
pub(crate) const PODS: Listing = listing("Pod", "pods", "", "pods (which claims are in use)");
pub(crate) const PV_EVENTS: Listing = Listing {
    field_selector: Some(crate::EVENT_SELECTORS[0]),
    ..listing(
        "Event",
        "events",
        "",
        "events (failed and finished deletions)",
    )
};
pub(crate) const CLAIM_EVENTS: Listing = Listing {
    field_selector: Some(crate::EVENT_SELECTORS[1]),
    ..PV_EVENTS
};
pub(crate) const DEPLOYMENTS: Listing = listing(
    "Deployment",
    "deployments",
    "apps",
    "deployments (csi-provisioner and ceph-csi releases)",
);
pub(crate) const STATEFUL_SETS: Listing = listing(
    "StatefulSet",
    "statefulsets",
    "apps",
    "stateful sets (csi-provisioner and ceph-csi releases)",
);
pub(crate) const DAEMON_SETS: Listing = listing(
    "DaemonSet",
    "daemonsets",
    "apps",
    "daemon sets (ceph-csi releases)",
);
pub(crate) const SNAPSHOTS: Listing = listing(
    "VolumeSnapshot",
    "volumesnapshots",
    SNAPSHOT_GROUP,
    "volume snapshots (claims held as snapshot sources)",
);
pub(crate) const SNAPSHOT_CONTENTS: Listing = listing(
    "VolumeSnapshotContent",
    "volumesnapshotcontents",
    SNAPSHOT_GROUP,
    "volume snapshot contents (snapshots that outlive a volume)",
);

/// Every listing, in the order a read makes them.
#[cfg(test)]
pub(crate) const ALL: &[Listing] = &[
    PERSISTENT_VOLUMES,
    CLAIMS,
    STORAGE_CLASSES,
    CSI_DRIVERS,
    ATTACHMENTS,
    NODES,
    PODS,
    PV_EVENTS,
    CLAIM_EVENTS,
    DEPLOYMENTS,
    STATEFUL_SETS,
    DAEMON_SETS,
    SNAPSHOTS,
    SNAPSHOT_CONTENTS,
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac::grants;

    #[test]
    fn the_role_grants_every_listing() {
        for listing in ALL {
            assert!(
                grants("list", Some(listing.group), listing.resource),
                "{} is read but not in rbac::RULES",
                listing.qualified()
            );
        }
    }

    #[test]
    fn only_persistent_volumes_are_required() {
        let required: Vec<_> = ALL.iter().filter(|l| l.required).map(|l| l.kind).collect();
        assert_eq!(required, ["PersistentVolume"]);
    }
}
