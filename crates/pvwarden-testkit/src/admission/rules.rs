//! Whether a webhook's `rules` match a request.

use serde_json::Value;

use super::Attributes;

/// Returns true when one of the webhook's rules matches the request.
pub(super) fn matches(webhook: &Value, attrs: &Attributes<'_>) -> bool {
    webhook["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|rule| rule_matches(rule, attrs))
}

fn rule_matches(rule: &Value, attrs: &Attributes<'_>) -> bool {
    let kind = attrs.kind;
    let scope = rule["scope"].as_str().unwrap_or("*");
    let scoped = match scope {
        "Cluster" => !kind.namespaced,
        "Namespaced" => kind.namespaced,
        _ => true,
    };
    scoped
        && listed(&rule["operations"], attrs.operation.as_str())
        && listed(&rule["apiGroups"], kind.group)
        && listed(&rule["apiVersions"], kind.version)
        && rule["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .any(|r| resource_matches(r, kind.plural, attrs.subresource))
}

/// A list of values or `*`.
fn listed(list: &Value, value: &str) -> bool {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .any(|v| v == "*" || v == value)
}

/// `resources` entries: `plural`, `plural/sub`, `*` (no subresources),
/// `*/*`, `plural/*` and `*/sub`.
fn resource_matches(entry: &str, plural: &str, sub: Option<&str>) -> bool {
    let (res, entry_sub) = match entry.split_once('/') {
        Some((res, sub)) => (res, Some(sub)),
        None => (entry, None),
    };
    let res_ok = res == "*" || res == plural;
    match (entry_sub, sub) {
        (None, None) => res_ok,
        (None, Some(_)) => false,
        (Some(_), None) => false,
        (Some(want), Some(got)) => res_ok && (want == "*" || want == got),
    }
}

#[cfg(test)]
mod tests {
    use super::resource_matches;

    #[test]
    fn resources_match_as_the_real_server_matches_them() {
        assert!(resource_matches(
            "persistentvolumes",
            "persistentvolumes",
            None
        ));
        assert!(!resource_matches(
            "persistentvolumes",
            "persistentvolumes",
            Some("status")
        ));
        assert!(resource_matches("*", "pods", None));
        assert!(!resource_matches("*", "pods", Some("status")));
        assert!(resource_matches("*/*", "pods", Some("status")));
        assert!(resource_matches("*/status", "pods", Some("status")));
        assert!(resource_matches("pods/*", "pods", Some("exec")));
        assert!(!resource_matches("pods/status", "pods", None));
        assert!(!resource_matches("nodes", "pods", None));
    }
}
