//! The resource kinds the server serves, with their discovery facts.
//!
//! One static row per kind: group, version, plural, scope, short names and
//! whether it has a `status` subresource. Discovery, routing, RBAC checks and
//! error messages all read this table, so adding a kind is one row.

/// One served resource kind.
#[derive(Debug, PartialEq, Eq)]
pub struct Kind {
    /// The API group; empty for the core group.
    pub group: &'static str,
    /// The version served (only one per group here).
    pub version: &'static str,
    /// The kind, e.g. `PersistentVolume`.
    pub kind: &'static str,
    /// The plural resource name, e.g. `persistentvolumes`.
    pub plural: &'static str,
    /// The singular resource name, e.g. `persistentvolume`.
    pub singular: &'static str,
    /// Short names kubectl accepts, e.g. `pv`.
    pub short: &'static [&'static str],
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Whether the kind has a `status` subresource.
    pub status: bool,
    /// Whether the kind is a CustomResourceDefinition on a real cluster (no
    /// strategic merge patch; kubectl falls back to JSON merge patch).
    pub custom: bool,
    /// Discovery categories (`all` for the workload kinds).
    pub categories: &'static [&'static str],
}

const fn core(kind: &'static str, plural: &'static str, singular: &'static str) -> Kind {
    Kind {
        group: "",
        version: "v1",
        kind,
        plural,
        singular,
        short: &[],
        namespaced: true,
        status: false,
        custom: false,
        categories: &[],
    }
}

const fn grouped(
    group: &'static str,
    kind: &'static str,
    plural: &'static str,
    singular: &'static str,
) -> Kind {
    Kind {
        group,
        version: "v1",
        ..core(kind, plural, singular)
    }
}

/// Every kind served, in discovery order.
pub static KINDS: &[Kind] = &[
    Kind {
        short: &["cm"],
        ..core("ConfigMap", "configmaps", "configmap")
    },
    Kind {
        short: &["ev"],
        ..core("Event", "events", "event")
    },
    Kind {
        short: &["ns"],
        namespaced: false,
        status: true,
        ..core("Namespace", "namespaces", "namespace")
    },
    Kind {
        short: &["no"],
        namespaced: false,
        status: true,
        ..core("Node", "nodes", "node")
    },
    Kind {
        short: &["pvc"],
        status: true,
        ..core(
            "PersistentVolumeClaim",
            "persistentvolumeclaims",
            "persistentvolumeclaim",
        )
    },
    Kind {
        short: &["pv"],
        namespaced: false,
        status: true,
        ..core("PersistentVolume", "persistentvolumes", "persistentvolume")
    },
    Kind {
        short: &["po"],
        status: true,
        categories: &["all"],
        ..core("Pod", "pods", "pod")
    },
    Kind {
        ..core("Secret", "secrets", "secret")
    },
    Kind {
        short: &["svc"],
        status: true,
        categories: &["all"],
        ..core("Service", "services", "service")
    },
    Kind {
        short: &["sa"],
        ..core("ServiceAccount", "serviceaccounts", "serviceaccount")
    },
    Kind {
        short: &["deploy"],
        status: true,
        categories: &["all"],
        ..grouped("apps", "Deployment", "deployments", "deployment")
    },
    Kind {
        short: &["ds"],
        status: true,
        categories: &["all"],
        ..grouped("apps", "DaemonSet", "daemonsets", "daemonset")
    },
    Kind {
        short: &["sts"],
        status: true,
        categories: &["all"],
        ..grouped("apps", "StatefulSet", "statefulsets", "statefulset")
    },
    Kind {
        short: &["ev"],
        ..grouped("events.k8s.io", "Event", "events", "event")
    },
    Kind {
        namespaced: false,
        ..grouped("storage.k8s.io", "CSIDriver", "csidrivers", "csidriver")
    },
    Kind {
        short: &["sc"],
        namespaced: false,
        ..grouped(
            "storage.k8s.io",
            "StorageClass",
            "storageclasses",
            "storageclass",
        )
    },
    Kind {
        namespaced: false,
        status: true,
        ..grouped(
            "storage.k8s.io",
            "VolumeAttachment",
            "volumeattachments",
            "volumeattachment",
        )
    },
    Kind {
        short: &["vs"],
        status: true,
        custom: true,
        ..grouped(
            "snapshot.storage.k8s.io",
            "VolumeSnapshot",
            "volumesnapshots",
            "volumesnapshot",
        )
    },
    Kind {
        short: &["vsc", "vscs"],
        namespaced: false,
        status: true,
        custom: true,
        ..grouped(
            "snapshot.storage.k8s.io",
            "VolumeSnapshotContent",
            "volumesnapshotcontents",
            "volumesnapshotcontent",
        )
    },
    Kind {
        ..grouped("coordination.k8s.io", "Lease", "leases", "lease")
    },
    Kind {
        namespaced: false,
        ..grouped(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            "clusterroles",
            "clusterrole",
        )
    },
    Kind {
        namespaced: false,
        ..grouped(
            "rbac.authorization.k8s.io",
            "ClusterRoleBinding",
            "clusterrolebindings",
            "clusterrolebinding",
        )
    },
    Kind {
        ..grouped("rbac.authorization.k8s.io", "Role", "roles", "role")
    },
    Kind {
        ..grouped(
            "rbac.authorization.k8s.io",
            "RoleBinding",
            "rolebindings",
            "rolebinding",
        )
    },
    Kind {
        namespaced: false,
        ..grouped(
            "admissionregistration.k8s.io",
            "MutatingWebhookConfiguration",
            "mutatingwebhookconfigurations",
            "mutatingwebhookconfiguration",
        )
    },
    Kind {
        namespaced: false,
        ..grouped(
            "admissionregistration.k8s.io",
            "ValidatingWebhookConfiguration",
            "validatingwebhookconfigurations",
            "validatingwebhookconfiguration",
        )
    },
];

impl Kind {
    /// Finds a kind by group, version and plural.
    pub fn find(group: &str, version: &str, plural: &str) -> Option<&'static Kind> {
        KINDS
            .iter()
            .find(|k| k.group == group && k.version == version && k.plural == plural)
    }

    /// Finds a kind by `apiVersion` and `kind`, as written in a manifest.
    pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static Kind> {
        KINDS
            .iter()
            .find(|k| k.kind == kind && k.api_version() == api_version)
    }

    /// The `apiVersion` of objects of this kind: `v1` or `group/v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.to_owned()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `plural` or `plural.group`, as error messages name the resource.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_owned()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// `Kind` or `Kind.group`, as `Invalid` messages name the kind.
    pub fn group_kind(&self) -> String {
        if self.group.is_empty() {
            self.kind.to_owned()
        } else {
            format!("{}.{}", self.kind, self.group)
        }
    }

    /// The key that names this kind in request counts: `group/version/plural`.
    pub fn key(&self) -> String {
        format!("{}/{}", self.api_version(), self.plural)
    }

    /// The patch media types this kind accepts, in the real server's order.
    pub fn patch_types(&self) -> &'static [&'static str] {
        if self.custom {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
            ]
        } else {
            &[
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/strategic-merge-patch+json",
            ]
        }
    }

    /// The group versions served, each once, in discovery order.
    pub fn group_versions() -> Vec<(&'static str, &'static str)> {
        let mut out: Vec<(&str, &str)> = Vec::new();
        for k in KINDS {
            if !out.contains(&(k.group, k.version)) {
                out.push((k.group, k.version));
            }
        }
        out
    }
}
