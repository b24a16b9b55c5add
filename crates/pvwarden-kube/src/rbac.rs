//! The permissions a read needs, and the ClusterRole that grants exactly them.
//!
//! [`RULES`] lists what [`Cluster::read`](crate::Cluster::read) asks the API
//! server for, and is what `pvwarden rbac` prints. A unit test checks every
//! list the reader makes against it, so the role cannot fall behind the code.

use std::fmt::Write;

/// One rule of the ClusterRole: a verb on resources of an API group, or on paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The API group (`""` for core), or `None` for non-resource URLs.
    pub group: Option<&'static str>,
    /// Resource plurals, or URL paths when `group` is `None`.
    pub resources: &'static [&'static str],
    /// The verbs.
    pub verbs: &'static [&'static str],
}

/// The group of the external-snapshotter's CRDs, read only when the server serves it.
pub const SNAPSHOT_GROUP: &str = "snapshot.storage.k8s.io";
/// The group and version of the external-snapshotter's CRDs.
pub const SNAPSHOT_GROUP_VERSION: &str = "snapshot.storage.k8s.io/v1";

/// Everything a read asks for. Secrets are not among them.
pub const RULES: &[Rule] = &[
    Rule {
        group: Some(""),
        resources: &[
            "persistentvolumes",
            "persistentvolumeclaims",
            "pods",
            "nodes",
            "events",
        ],
        verbs: &["list"],
    },
    Rule {
        group: Some("storage.k8s.io"),
        resources: &["storageclasses", "csidrivers", "volumeattachments"],
        verbs: &["list"],
    },
    Rule {
        group: Some("apps"),
        resources: &["deployments", "statefulsets", "daemonsets"],
        verbs: &["list"],
    },
    Rule {
        group: Some(SNAPSHOT_GROUP),
        resources: &["volumesnapshots", "volumesnapshotcontents"],
        verbs: &["list"],
    },
    // Every authenticated user may read these through the default
    // system:discovery and system:public-info-viewer roles; they are listed
    // so that the role is complete on clusters that removed those bindings.
    Rule {
        group: None,
        resources: &["/version", "/apis/snapshot.storage.k8s.io/v1"],
        verbs: &["get"],
    },
];

/// Returns true when [`RULES`] grant `verb` on `resource` of `group`.
pub fn grants(verb: &str, group: Option<&str>, resource: &str) -> bool {
    RULES
        .iter()
        .any(|r| r.group == group && r.verbs.contains(&verb) && r.resources.contains(&resource))
}

/// Where the ClusterRoleBinding points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// The service account's namespace.
    pub namespace: String,
    /// The service account's name.
    pub name: String,
}

/// The ClusterRole named `role`, and a binding of it to `subject`, as a YAML stream.
pub fn manifests(role: &str, subject: &Subject) -> String {
    let mut out = String::new();
    let role_q = quote(role);
    // Writing to a String cannot fail.
    let _ = writeln!(
        out,
        "# Read-only access for pvwarden: exactly what it lists."
    );
    let _ = writeln!(out, "apiVersion: rbac.authorization.k8s.io/v1");
    let _ = writeln!(
        out,
        "kind: ClusterRole\nmetadata:\n  name: {role_q}\nrules:"
    );
    for rule in RULES {
        match rule.group {
            Some(group) => {
                let _ = writeln!(out, "- apiGroups: [{}]", quote(group));
                let _ = writeln!(out, "  resources: [{}]", list(rule.resources));
            }
            None => {
                let _ = writeln!(out, "- nonResourceURLs: [{}]", list(rule.resources));
            }
        }
        let _ = writeln!(out, "  verbs: [{}]", list(rule.verbs));
    }
    let _ = writeln!(out, "---");
    let _ = writeln!(out, "apiVersion: rbac.authorization.k8s.io/v1");
    let _ = writeln!(out, "kind: ClusterRoleBinding\nmetadata:\n  name: {role_q}");
    let _ = writeln!(out, "roleRef:\n  apiGroup: rbac.authorization.k8s.io");
    let _ = writeln!(out, "  kind: ClusterRole\n  name: {role_q}\nsubjects:");
    let _ = writeln!(out, "- kind: ServiceAccount");
    let _ = writeln!(out, "  namespace: {}", quote(&subject.namespace));
    let _ = writeln!(out, "  name: {}", quote(&subject.name));
    out
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|i| quote(i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A YAML double-quoted scalar; JSON string escaping is valid YAML.
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_lists_every_rule_and_no_secrets() {
        let subject = Subject {
            namespace: "tools".into(),
            name: "pvwarden".into(),
        };
        let yaml = manifests("pvwarden-reader", &subject);
        assert!(yaml.contains("- apiGroups: [\"\"]\n  resources: [\"persistentvolumes\""));
        assert!(yaml.contains("- nonResourceURLs: [\"/version\""));
        assert!(yaml.contains("  namespace: \"tools\"\n  name: \"pvwarden\""));
        assert!(!yaml.contains("secrets"));
        assert!(!yaml.contains("\"watch\"") && !yaml.contains("\"get\", "));
    }

    #[test]
    fn grants_only_what_is_listed() {
        assert!(grants("list", Some(""), "persistentvolumeclaims"));
        assert!(grants("get", None, "/version"));
        assert!(!grants("get", Some(""), "persistentvolumeclaims"));
        assert!(!grants("list", Some(""), "secrets"));
    }
}
