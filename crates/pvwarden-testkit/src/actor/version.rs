//! Release numbers of the simulated components.
//!
//! Only `major.minor.patch` is kept; a leading `v` and anything after a `-` or `+` are
//! dropped, so `v5.0.1-rc.1` reads as 5.0.1.

use std::fmt;
use std::str::FromStr;

/// A release number such as `1.31.0` or `v5.0.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The major release.
    pub major: u32,
    /// The minor release.
    pub minor: u32,
    /// The patch release.
    pub patch: u32,
}

/// A release number that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid release number {0:?}, expected MAJOR.MINOR[.PATCH]")]
pub struct ParseVersionError(String);

impl Version {
    /// Builds a release number from its three parts.
    #[must_use]
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }
}

impl FromStr for Version {
    type Err = ParseVersionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || ParseVersionError(text.to_owned());
        let core = text.trim().trim_start_matches('v');
        let core = core.split(['-', '+']).next().unwrap_or_default();

        let mut parts = core
            .split('.')
            .map(|part| part.parse::<u32>().map_err(|_| bad()));
        let major = parts.next().ok_or_else(bad)??;
        let minor = parts.next().ok_or_else(bad)??;
        let patch = parts.next().transpose()?.unwrap_or(0);
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(Self::new(major, minor, patch))
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn reads_plain_prefixed_and_suffixed_releases() {
        assert_eq!("1.31".parse(), Ok(Version::new(1, 31, 0)));
        assert_eq!("v5.0.1".parse(), Ok(Version::new(5, 0, 1)));
        assert_eq!("v3.6.0-rc.0".parse(), Ok(Version::new(3, 6, 0)));
        assert!("5".parse::<Version>().is_err());
        assert!("1.2.3.4".parse::<Version>().is_err());
        assert!("one.two".parse::<Version>().is_err());
    }

    #[test]
    fn orders_by_major_then_minor_then_patch() {
        assert!(Version::new(1, 30, 9) < Version::new(1, 31, 0));
        assert!(Version::new(2, 0, 0) > Version::new(1, 99, 99));
    }
}
