//! Which CephFS directory a share mounts.
//!
//! A dynamic CephFS PV records its subvolume's path in the `subvolumePath`
//! attribute; a static one names its directory in `rootPath`. When Ceph can be
//! asked, the path it reports for the subvolume is the truth and the attribute
//! must agree with it; otherwise the attribute is used as it is, and the
//! output says that it was not checked against Ceph.

use std::collections::BTreeMap;

use crate::error::Error;

/// Where the path came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Basis {
    /// Ceph reported it, and the PV's attribute agrees (or has none).
    Ceph,
    /// The PV's attribute of this name, unchecked.
    Attribute(&'static str),
}

/// The directory a share mounts, and why it is believed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootPath {
    /// The path inside the filesystem.
    pub path: String,
    /// Where it came from.
    pub basis: Basis,
}

impl RootPath {
    /// One sentence for the output on where the path came from.
    pub fn explain(&self) -> String {
        match self.basis {
            Basis::Ceph => format!(
                "rootPath {} is the path Ceph reports for the subvolume.",
                self.path
            ),
            Basis::Attribute(attribute) => format!(
                "rootPath {} is the source's {attribute}; it was not checked against Ceph.",
                self.path
            ),
        }
    }
}

/// Decides the directory of a share of PV `pv` with volume attributes `attributes`.
///
/// `from_ceph` is the subvolume path Ceph reports (`ceph fs subvolume getpath`),
/// when the caller could ask it.
///
/// # Errors
///
/// Returns [`Error::RootPathMismatch`] when Ceph and the attribute disagree, and
/// [`Error::Missing`] when neither gives a path.
pub fn resolve(
    pv: &str,
    attributes: &BTreeMap<String, String>,
    from_ceph: Option<&str>,
) -> Result<RootPath, Error> {
    let is_static = attributes.get("staticVolume").map(String::as_str) == Some("true");
    let name = if is_static {
        "rootPath"
    } else {
        "subvolumePath"
    };
    let attribute = attributes.get(name).filter(|p| !p.is_empty());
    let same = |a: &str, b: &str| a.trim_end_matches('/') == b.trim_end_matches('/');
    match (from_ceph, attribute) {
        (Some(ceph), Some(attribute)) if !same(ceph, attribute) => Err(Error::RootPathMismatch {
            pv: pv.to_owned(),
            attribute: attribute.clone(),
            ceph: ceph.to_owned(),
        }),
        (Some(ceph), _) => Ok(RootPath {
            path: ceph.to_owned(),
            basis: Basis::Ceph,
        }),
        (None, Some(attribute)) => Ok(RootPath {
            path: attribute.clone(),
            basis: Basis::Attribute(name),
        }),
        (None, None) => Err(Error::Missing {
            pv: pv.to_owned(),
            field: if is_static {
                "spec.csi.volumeAttributes.rootPath"
            } else {
                "spec.csi.volumeAttributes.subvolumePath"
            },
            why: "the share must mount the same directory; ceph-csi before 3.3 did not record \
                  it, so read it with `ceph fs subvolume getpath`",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn ceph_wins_only_when_it_agrees_with_the_pv() {
        let a = attrs(&[("subvolumePath", "/volumes/csi/a/1")]);
        let unchecked = resolve("pv", &a, None).expect("a path");
        assert_eq!(unchecked.basis, Basis::Attribute("subvolumePath"));
        let checked = resolve("pv", &a, Some("/volumes/csi/a/1/")).expect("the same path");
        assert_eq!(checked.basis, Basis::Ceph);
        let err = resolve("pv", &a, Some("/volumes/csi/b/1"));
        assert!(
            matches!(err, Err(Error::RootPathMismatch { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn static_sources_give_their_root_path() {
        let a = attrs(&[("staticVolume", "true"), ("rootPath", "/shared")]);
        assert_eq!(resolve("pv", &a, None).expect("a path").path, "/shared");
        let missing = resolve("pv", &attrs(&[]), None);
        assert!(matches!(missing, Err(Error::Missing { .. })));
    }
}
