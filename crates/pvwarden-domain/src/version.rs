//! Versions of the cluster's components, and the assumptions a verdict rests on.
//!
//! The outcome of a deletion depends on the Kubernetes release (how the PV
//! controller treats static CSI volumes), on the external-provisioner release
//! and flags (whether it puts its finalizer on PVs) and on the ceph-csi release
//! (how it answers `DeleteVolume` for ids it cannot decode). Every verdict is
//! printed with the [`Assumptions`] it was computed under.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};

use crate::facts::{Component, ComponentFacts};

/// A release number, `major.minor.patch`; a missing part counts as zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The major release.
    pub major: u32,
    /// The minor release.
    pub minor: u32,
    /// The patch release.
    pub patch: u32,
}

impl Version {
    /// Creates a version from its three parts.
    pub const fn new(major: u32, minor: u32, patch: u32) -> Version {
        Version {
            major,
            minor,
            patch,
        }
    }

    /// Reads a version from an image tag such as `v5.0.1`, `v3.12.0-rc1` or `1.31`.
    ///
    /// Returns `None` for tags that carry no version (`latest`, `canary`, digests).
    pub fn from_tag(tag: &str) -> Option<Version> {
        let tag = tag.trim();
        let tag = tag.strip_prefix('v').unwrap_or(tag);
        // Pre-release and build suffixes do not change which behaviour applies.
        let core = tag.split(['-', '+', '_']).next()?;
        let mut parts = core.split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        let patch = parts.next().map_or(Some(0), |p| p.parse().ok())?;
        if parts.next().is_some() {
            return None;
        }
        Some(Version {
            major,
            minor,
            patch,
        })
    }

    /// Returns true when this version is at least `major.minor`.
    pub fn at_least(&self, major: u32, minor: u32) -> bool {
        (self.major, self.minor) >= (major, minor)
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for Version {
    type Err = String;

    fn from_str(s: &str) -> Result<Version, String> {
        Version::from_tag(s)
            .ok_or_else(|| format!("expected a version such as 1.31 or v5.0.1, got {s:?}"))
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

fn workload(c: &ComponentFacts) -> Basis {
    Basis::Workload(format!(
        "{} container {} image {}",
        c.workload, c.container, c.image
    ))
}

/// Where an assumed version came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind", content = "detail")]
pub enum Basis {
    /// The pinned default: the current release when this model was written.
    Default,
    /// Given on the command line.
    Flag,
    /// Read from a workload in the input (`namespace/name` and container).
    Workload(String),
    /// Reported by the API server.
    Server,
}

/// A version together with where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assumed<T> {
    /// The value used.
    pub value: T,
    /// Why this value was used.
    pub basis: Basis,
}

impl<T> Assumed<T> {
    fn default_of(value: T) -> Assumed<T> {
        Assumed {
            value,
            basis: Basis::Default,
        }
    }
}

/// The Kubernetes release assumed when nothing says otherwise.
pub const DEFAULT_KUBE: Version = Version::new(1, 37, 0);
/// The external-provisioner release assumed when nothing says otherwise.
pub const DEFAULT_PROVISIONER: Version = Version::new(6, 3, 0);
/// The ceph-csi release assumed when nothing says otherwise.
///
/// This is the newest release whose `DeleteVolume` path this model was checked
/// against line by line; later 3.x releases answer the same way.
pub const DEFAULT_CEPH_CSI: Version = Version::new(3, 12, 0);

/// Releases given by the user, which win over anything the input says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// The Kubernetes release.
    pub kubernetes: Option<Version>,
    /// The external-provisioner release.
    pub provisioner: Option<Version>,
    /// The provisioner's `HonorPVReclaimPolicy` gate.
    pub honor_reclaim_policy_gate: Option<bool>,
    /// The ceph-csi release.
    pub ceph_csi: Option<Version>,
}

/// Everything a verdict assumes about the cluster's software.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assumptions {
    /// The Kubernetes release (kube-controller-manager).
    pub kubernetes: Assumed<Version>,
    /// The external-provisioner (csi-provisioner sidecar) release.
    pub provisioner: Assumed<Version>,
    /// The `HonorPVReclaimPolicy` feature gate of the provisioner, when set explicitly.
    pub honor_reclaim_policy_gate: Option<Assumed<bool>>,
    /// The ceph-csi release.
    pub ceph_csi: Assumed<Version>,
}

impl Default for Assumptions {
    fn default() -> Assumptions {
        Assumptions {
            kubernetes: Assumed::default_of(DEFAULT_KUBE),
            provisioner: Assumed::default_of(DEFAULT_PROVISIONER),
            honor_reclaim_policy_gate: None,
            ceph_csi: Assumed::default_of(DEFAULT_CEPH_CSI),
        }
    }
}

impl Assumptions {
    /// The assumptions the workloads of the input imply, over the pinned defaults.
    ///
    /// Where several workloads run one component at different releases, the
    /// oldest is used: it is the one whose behaviour the verdicts must survive.
    pub fn from_components(components: &[ComponentFacts]) -> Assumptions {
        let mut assumptions = Assumptions::default();
        let oldest = |component: Component| {
            components
                .iter()
                .filter(|c| c.component == component)
                .filter_map(|c| Some((c.version?, c)))
                .min_by_key(|(v, _)| *v)
        };
        if let Some((version, c)) = oldest(Component::Provisioner) {
            assumptions.provisioner = Assumed {
                value: version,
                basis: workload(c),
            };
        }
        if let Some((version, c)) = oldest(Component::CephCsi) {
            assumptions.ceph_csi = Assumed {
                value: version,
                basis: workload(c),
            };
        }
        let gate = components
            .iter()
            .filter(|c| c.component == Component::Provisioner)
            .find_map(|c| Some((c.honor_gate?, c)));
        if let Some((value, c)) = gate {
            assumptions.honor_reclaim_policy_gate = Some(Assumed {
                value,
                basis: workload(c),
            });
        }
        assumptions
    }

    /// These assumptions with the server's release and then the user's overrides applied.
    ///
    /// The order is the documented precedence: an option wins over the server,
    /// the server over the workloads and the defaults.
    #[must_use]
    pub fn resolve(mut self, server: Option<Version>, overrides: &Overrides) -> Assumptions {
        fn flag<T>(value: T) -> Assumed<T> {
            Assumed {
                value,
                basis: Basis::Flag,
            }
        }
        if let Some(value) = server {
            self.kubernetes = Assumed {
                value,
                basis: Basis::Server,
            };
        }
        if let Some(v) = overrides.kubernetes {
            self.kubernetes = flag(v);
        }
        if let Some(v) = overrides.provisioner {
            self.provisioner = flag(v);
        }
        if let Some(v) = overrides.ceph_csi {
            self.ceph_csi = flag(v);
        }
        if let Some(gate) = overrides.honor_reclaim_policy_gate {
            self.honor_reclaim_policy_gate = Some(flag(gate));
        }
        self
    }

    /// Returns true when the provisioner puts its finalizer on PVs it owns.
    ///
    /// The gate came in v3.1, became default-on in v5.0 and its flag was removed
    /// in v6.2, after which the behaviour cannot be switched off. Between v3.1
    /// and v5.0 it was off unless enabled explicitly (Rook, for one, enabled it).
    pub fn provisioner_adds_finalizer(&self) -> bool {
        let version = self.provisioner.value;
        if version.at_least(6, 2) {
            return true;
        }
        if !version.at_least(3, 1) {
            return false;
        }
        match &self.honor_reclaim_policy_gate {
            Some(gate) => gate.value,
            None => version.at_least(5, 0),
        }
    }

    /// Returns true when the provisioner treats static CSI PVs of its driver as its own.
    ///
    /// Ownership of PVs without `pv.kubernetes.io/provisioned-by` came with the
    /// `HonorPVReclaimPolicy` work in v3.1; older releases only acted on PVs
    /// whose annotation named them.
    pub fn provisioner_owns_static(&self) -> bool {
        self.provisioner.value.at_least(3, 1)
    }

    /// Returns true when kube-controller-manager marks a released static CSI PV
    /// with `Delete` as `Failed` ("no deletable volume plugin matched").
    pub fn kcm_fails_static_csi(&self) -> bool {
        !self.kubernetes.value.at_least(1, 31)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_parse_with_prefixes_and_suffixes() {
        assert_eq!(Version::from_tag("v5.0.1"), Some(Version::new(5, 0, 1)));
        assert_eq!(
            Version::from_tag("v3.12.0-rc1"),
            Some(Version::new(3, 12, 0))
        );
        assert_eq!(Version::from_tag("1.31"), Some(Version::new(1, 31, 0)));
        assert_eq!(Version::from_tag("latest"), None);
        assert_eq!(Version::from_tag("canary"), None);
        assert_eq!(Version::from_tag("1.2.3.4"), None);
    }

    #[test]
    fn finalizer_follows_gate_until_flag_removal() {
        let mut a = Assumptions::default();
        a.provisioner.value = Version::new(3, 0, 0);
        a.honor_reclaim_policy_gate = Some(Assumed {
            value: true,
            basis: Basis::Flag,
        });
        assert!(
            !a.provisioner_adds_finalizer(),
            "the gate does not exist before v3.1"
        );
        a.honor_reclaim_policy_gate = None;
        a.provisioner.value = Version::new(4, 0, 0);
        assert!(!a.provisioner_adds_finalizer());
        a.honor_reclaim_policy_gate = Some(Assumed {
            value: true,
            basis: Basis::Flag,
        });
        assert!(a.provisioner_adds_finalizer());
        a.provisioner.value = Version::new(5, 3, 0);
        a.honor_reclaim_policy_gate = Some(Assumed {
            value: false,
            basis: Basis::Flag,
        });
        assert!(!a.provisioner_adds_finalizer());
        a.provisioner.value = Version::new(6, 2, 0);
        assert!(a.provisioner_adds_finalizer());
    }
}
