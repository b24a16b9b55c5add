//! What a read found: counts per kind, the server version, and what was left out.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::version::Info;
use pvwarden_domain::version::Version;
use serde::Serialize;

/// What [`Cluster::read`](crate::Cluster::read) did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReadReport {
    /// The kubeconfig context, or `in-cluster`.
    pub context: String,
    /// The API server's version; `None` when `/version` was forbidden.
    pub server: Option<ServerVersion>,
    /// Objects handed to the sink, by kind.
    pub objects: BTreeMap<&'static str, u64>,
    /// Objects listed but not handed over because the model has no use for
    /// them, by kind (pods without claims, workloads without CSI sidecars).
    pub dropped: BTreeMap<&'static str, u64>,
    /// Parts left out for want of a permission or of the kind itself.
    pub degraded: Vec<Degraded>,
    /// Objects that could not be understood, each naming its kind and name.
    pub errors: Vec<String>,
    /// API requests sent.
    pub requests: u64,
    /// Lists started again after their `continue` token expired.
    pub restarts: u64,
}

/// The API server's version, as `/version` reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerVersion {
    /// The `gitVersion`, e.g. `v1.31.2-eks-7f9249a`.
    pub git_version: String,
    /// The release it names, when it names one.
    pub version: Option<Version>,
}

impl From<Info> for ServerVersion {
    fn from(info: Info) -> ServerVersion {
        // Managed offerings decorate gitVersion (`-eks-…`, `+k3s1`), which
        // `from_tag` drops; major/minor (`"31+"` on GKE) are the fallback.
        let version = Version::from_tag(&info.git_version).or_else(|| {
            let minor = info.minor.trim_end_matches('+');
            Version::from_tag(&format!("{}.{minor}", info.major))
        });
        ServerVersion {
            git_version: info.git_version,
            version,
        }
    }
}

/// A permission: a verb on a resource of an API group, or on a URL path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Permission {
    /// `list` or `get`.
    pub verb: &'static str,
    /// The resource's plural (`persistentvolumeclaims`) or a path (`/version`).
    pub resource: &'static str,
    /// The API group (`""` for core); `None` for a URL path.
    pub group: Option<&'static str>,
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.group {
            Some(group) => write!(f, "{} {} in API group {group:?}", self.verb, self.resource),
            None => write!(f, "{} {}", self.verb, self.resource),
        }
    }
}

/// Why a part of the read was left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// `403 Forbidden`: the permission is missing.
    Forbidden,
    /// `404 Not Found`: the server does not serve this kind.
    NotFound,
}

impl Reason {
    /// The refusal an error status stands for, by code or by reason.
    ///
    /// The code alone is not enough: a proxy may answer without a Status,
    /// and kube then keeps the code but not the reason.
    pub(crate) fn of(code: u16, reason: &str) -> Option<Reason> {
        if code == 403 || reason == "Forbidden" {
            Some(Reason::Forbidden)
        } else if code == 404 || reason == "NotFound" {
            Some(Reason::NotFound)
        } else {
            None
        }
    }
}

/// A part of the cluster that was not read; the audit went on without it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Degraded {
    /// What was refused.
    pub permission: Permission,
    /// How it was refused.
    pub reason: Reason,
    /// What the audit cannot see without it.
    pub without: &'static str,
}

impl fmt::Display for Degraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason {
            Reason::Forbidden => write!(f, "missing permission: {}", self.permission)?,
            Reason::NotFound => write!(f, "not served: {}", self.permission)?,
        }
        write!(f, "; audited without {}", self.without)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(git: &str, major: &str, minor: &str) -> Info {
        Info {
            git_version: git.into(),
            major: major.into(),
            minor: minor.into(),
            ..Info::default()
        }
    }

    #[test]
    fn server_versions_read_decorated_git_versions() {
        let eks = ServerVersion::from(info("v1.31.2-eks-7f9249a", "1", "31+"));
        assert_eq!(eks.version, Some(Version::new(1, 31, 2)));
        let k3s = ServerVersion::from(info("v1.30.5+k3s1", "1", "30"));
        assert_eq!(k3s.version, Some(Version::new(1, 30, 5)));
        let odd = ServerVersion::from(info("unknown", "1", "29+"));
        assert_eq!(odd.version, Some(Version::new(1, 29, 0)));
        let none = ServerVersion::from(info("", "", ""));
        assert_eq!(none.version, None);
    }

    #[test]
    fn degraded_names_the_missing_permission() {
        let d = Degraded {
            permission: Permission {
                verb: "list",
                resource: "persistentvolumeclaims",
                group: Some(""),
            },
            reason: Reason::Forbidden,
            without: "claims",
        };
        assert_eq!(
            d.to_string(),
            "missing permission: list persistentvolumeclaims in API group \"\"; \
             audited without claims"
        );
    }
}
