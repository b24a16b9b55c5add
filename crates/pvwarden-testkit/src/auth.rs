//! Bearer tokens and their permissions.
//!
//! The admin token may do everything, including the `/pvwarden-test/`
//! endpoints. Extra tokens ([`TokenSpec`]) carry RBAC-like rules: a request is
//! allowed when one rule lists its verb, API group and resource (or `*`).
//! Discovery and OpenAPI paths are open to every authenticated user, as the
//! `system:discovery` role makes them on a real cluster.

use serde::{Deserialize, Serialize};

/// One extra bearer token, for permission tests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenSpec {
    /// The bearer token.
    pub token: String,
    /// The user name that 403 messages show.
    pub user: String,
    /// What the token may do.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// One permission rule: any of the verbs on any of the resources of any of the groups.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Rule {
    /// Verbs: `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`, or `*`.
    pub verbs: Vec<String>,
    /// API groups: `""` for core, `storage.k8s.io`, ..., or `*`.
    #[serde(rename = "apiGroups")]
    pub api_groups: Vec<String>,
    /// Resources: `persistentvolumes`, `persistentvolumes/status`, ..., or `*`.
    pub resources: Vec<String>,
}

impl Rule {
    /// A rule that allows everything.
    pub fn all() -> Rule {
        let any = vec!["*".to_owned()];
        Rule {
            verbs: any.clone(),
            api_groups: any.clone(),
            resources: any,
        }
    }

    fn allows(&self, verb: &str, group: &str, resource: &str) -> bool {
        let has = |list: &[String], want: &str| list.iter().any(|x| x == "*" || x == want);
        has(&self.verbs, verb) && has(&self.api_groups, group) && has(&self.resources, resource)
    }
}

/// Who a request is.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub name: String,
    pub admin: bool,
    rules: Vec<Rule>,
}

impl User {
    /// Whether the user may do `verb` on `resource` (with `/sub` if any) in `group`.
    pub(crate) fn may(&self, verb: &str, group: &str, resource: &str) -> bool {
        self.admin || self.rules.iter().any(|r| r.allows(verb, group, resource))
    }
}

/// The known tokens.
#[derive(Debug, Clone)]
pub(crate) struct Auth {
    admin_token: String,
    tokens: Vec<TokenSpec>,
}

/// The user name of the admin token.
pub(crate) const ADMIN_USER: &str = "pvwarden-admin";

impl Auth {
    pub(crate) fn new(admin_token: String, tokens: Vec<TokenSpec>) -> Auth {
        Auth {
            admin_token,
            tokens,
        }
    }

    /// Finds the user of an `Authorization` header value.
    pub(crate) fn authenticate(&self, header: Option<&str>) -> Option<User> {
        let token = header?.strip_prefix("Bearer ")?.trim();
        if token.is_empty() {
            return None;
        }
        if token == self.admin_token {
            return Some(User {
                name: ADMIN_USER.to_owned(),
                admin: true,
                rules: vec![Rule::all()],
            });
        }
        let spec = self.tokens.iter().find(|t| t.token == token)?;
        Some(User {
            name: spec.user.clone(),
            admin: false,
            rules: spec.rules.clone(),
        })
    }
}

/// A random admin token.
pub(crate) fn random_token() -> String {
    (0..32)
        .map(|_| char::from(b"abcdefghijklmnopqrstuvwxyz0123456789"[fastrand::usize(..36)]))
        .collect()
}
