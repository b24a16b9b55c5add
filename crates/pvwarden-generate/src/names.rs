//! Kubernetes name rules, checked before anything is written.

use crate::error::Error;

/// Checks a DNS-1123 subdomain: PV and claim names.
///
/// # Errors
///
/// Returns [`Error::InvalidName`] naming `what`.
pub fn subdomain(what: &'static str, value: &str) -> Result<(), Error> {
    let ok =
        !value.is_empty() && value.len() <= 253 && value.split('.').all(|part| is_label(part, 253));
    ok.then_some(()).ok_or_else(|| Error::InvalidName {
        what,
        value: value.to_owned(),
        why: "use at most 253 lowercase letters, digits, '-' and '.', starting and ending with \
              a letter or digit",
    })
}

/// Checks a DNS-1123 label: namespaces.
///
/// # Errors
///
/// Returns [`Error::InvalidName`] naming `what`.
pub fn label(what: &'static str, value: &str) -> Result<(), Error> {
    is_label(value, 63)
        .then_some(())
        .ok_or_else(|| Error::InvalidName {
            what,
            value: value.to_owned(),
            why: "use at most 63 lowercase letters, digits and '-', starting and ending with a \
                  letter or digit",
        })
}

/// Returns true when `value` may be a label value (so a PV can be selected by it).
pub fn is_label_value(value: &str) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    value.len() <= 63
        && edge(value.chars().next())
        && edge(value.chars().last())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn is_label(part: &str, max: usize) -> bool {
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    !part.is_empty()
        && part.len() <= max
        && edge(part.chars().next())
        && edge(part.chars().last())
        && part
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_kubernetes_rules() {
        assert!(subdomain("n", "share-team-b.media").is_ok());
        assert!(subdomain("n", "Media").is_err());
        assert!(subdomain("n", "-media").is_err());
        assert!(subdomain("n", "").is_err());
        assert!(label("n", "team-b").is_ok());
        assert!(label("n", "team.b").is_err());
        assert!(label("n", &"a".repeat(64)).is_err());
        assert!(is_label_value("pvc-7c1d2a55-0b7e-4d0f-9a51-3f0e8b2c4d01"));
        assert!(!is_label_value(&"a".repeat(64)));
    }
}
