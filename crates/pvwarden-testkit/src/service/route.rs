//! Request paths, parsed into what they address.

use crate::resource::Kind;

/// What a request path addresses.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Route {
    /// `/version`.
    Version,
    /// `/api`.
    Api,
    /// `/apis`.
    Apis,
    /// `/apis/<group>`.
    Group(String),
    /// `/api/v1` or `/apis/<group>/<version>`.
    Resources(String, String),
    /// `/openapi/v2` (not served).
    OpenApiV2,
    /// `/openapi/v3`.
    OpenApiV3,
    /// `/openapi/v3/api/v1` or `/openapi/v3/apis/<group>/<version>`.
    OpenApiV3Doc(String, String),
    /// `/healthz`, `/livez`, `/readyz`.
    Health,
    /// A resource, a collection or a subresource.
    Resource(Target),
    /// Anything else.
    Unknown,
}

/// A resource path.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Target {
    pub kind: &'static Kind,
    /// The namespace; `None` for cluster-scoped kinds and all-namespace lists.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parses a request path (without query).
pub(crate) fn parse(path: &str) -> Route {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        ["version"] => Route::Version,
        ["healthz" | "livez" | "readyz", ..] => Route::Health,
        ["api"] => Route::Api,
        ["apis"] => Route::Apis,
        ["apis", group] => Route::Group((*group).to_owned()),
        ["api", version] => Route::Resources(String::new(), (*version).to_owned()),
        ["apis", group, version] => Route::Resources((*group).to_owned(), (*version).to_owned()),
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3,
        ["openapi", "v3", "api", version] => {
            Route::OpenApiV3Doc(String::new(), (*version).to_owned())
        }
        ["openapi", "v3", "apis", group, version] => {
            Route::OpenApiV3Doc((*group).to_owned(), (*version).to_owned())
        }
        ["api", version, rest @ ..] => resource("", version, rest),
        ["apis", group, version, rest @ ..] => resource(group, version, rest),
        _ => Route::Unknown,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let target = |plural: &str, namespace: Option<&str>, tail: &[&str]| {
        let kind = Kind::find(group, version, plural)?;
        if namespace.is_some() && !kind.namespaced {
            return None;
        }
        let (name, subresource) = match tail {
            [] => (None, None),
            [name] => (Some(*name), None),
            [name, sub] => (Some(*name), Some(*sub)),
            _ => return None,
        };
        // A namespaced object is only reachable through its namespace.
        if kind.namespaced && namespace.is_none() && name.is_some() {
            return None;
        }
        if name.is_some_and(str::is_empty) {
            return None;
        }
        // `status` is the only subresource served, and only where the kind has it.
        if subresource.is_some_and(|s| s != "status" || !kind.status) {
            return None;
        }
        Some(Target {
            kind,
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
            subresource: subresource.map(str::to_owned),
        })
    };
    let found = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if Kind::find(group, version, plural).is_some_and(|k| k.namespaced) =>
        {
            target(plural, Some(ns), tail)
        }
        [plural, tail @ ..] => target(plural, None, tail),
        [] => None,
    };
    found.map_or(Route::Unknown, Route::Resource)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        match parse(path) {
            Route::Resource(t) => t,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_name_resources() {
        let t = target("/api/v1/persistentvolumes/pv1/status");
        assert_eq!(t.kind.plural, "persistentvolumes");
        assert_eq!(
            (t.name.as_deref(), t.subresource.as_deref()),
            (Some("pv1"), Some("status"))
        );
        let t = target("/api/v1/namespaces/ns1/persistentvolumeclaims/c");
        assert_eq!(
            (t.namespace.as_deref(), t.name.as_deref()),
            (Some("ns1"), Some("c"))
        );
        let t = target("/api/v1/namespaces/ns1");
        assert_eq!(
            (t.kind.plural, t.name.as_deref()),
            ("namespaces", Some("ns1"))
        );
        let t = target("/api/v1/namespaces/ns1/status");
        assert_eq!(t.subresource.as_deref(), Some("status"));
        let t = target("/apis/storage.k8s.io/v1/storageclasses");
        assert_eq!(t.kind.kind, "StorageClass");
        let t = target("/api/v1/pods");
        assert_eq!((t.namespace, t.name), (None, None));
    }

    #[test]
    fn wrong_scopes_are_unknown() {
        assert_eq!(
            parse("/api/v1/namespaces/a/persistentvolumes"),
            Route::Unknown
        );
        assert_eq!(parse("/api/v1/pods/p"), Route::Unknown);
        assert_eq!(parse("/api/v1/widgets"), Route::Unknown);
    }
}
