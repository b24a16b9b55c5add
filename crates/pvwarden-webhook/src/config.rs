//! What the webhook does about each rule, read from a YAML file.
//!
//! ```yaml
//! # Every key is optional; these are the defaults.
//! rules:
//!   static-delete-never-deletes: mutate   # patch the PV to Retain
//!   static-delete-destroys-data: deny
//!   share-source-delete: deny
//!   duplicate-volume-handle: deny
//! otherRules: warn                        # every rule not listed above
//! assume:                                 # the releases the model assumes
//!   kubernetes: "1.37.0"
//!   provisioner: "6.3.0"
//!   cephCsi: "3.12.0"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use pvwarden_domain::rule::{self, Rule};
use pvwarden_domain::version::{Assumed, Assumptions, Basis, Version};
use serde::Deserialize;

/// What the webhook does when a rule finds something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Refuse the request, with the finding as the reason.
    Deny,
    /// Change the PV to `Retain` (a JSON patch) and say so in a warning.
    Mutate,
    /// Let the request through with the finding as an admission warning.
    Warn,
    /// Say nothing.
    Off,
}

impl Action {
    /// The action as written in the configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Deny => "deny",
            Action::Mutate => "mutate",
            Action::Warn => "warn",
            Action::Off => "off",
        }
    }
}

/// The rules whose fix is switching the PV to `Retain`: only these may be `mutate`.
///
/// `Retain` stops every deletion from reaching the storage, which is the
/// remedy `audit` gives for each of them.
pub const MUTABLE: &[Rule] = &[
    rule::STATIC_DELETE_NEVER_DELETES,
    rule::STATIC_DELETE_DESTROYS_DATA,
    rule::SHARE_SOURCE_DELETE,
];

/// A configuration that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read the webhook configuration {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not YAML of the expected shape.
    #[error("{path}: not a valid webhook configuration")]
    Parse {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<serde_saphyr::Error>,
    },
    /// A field has a value the webhook cannot use.
    #[error("{path}: {field}: {problem}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The field, e.g. `rules.some-rule`.
        field: String,
        /// What is wrong, and what would be right.
        problem: String,
    },
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct File {
    #[serde(default)]
    rules: BTreeMap<String, Action>,
    other_rules: Option<Action>,
    #[serde(default)]
    assume: Assume,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Assume {
    kubernetes: Option<String>,
    provisioner: Option<String>,
    ceph_csi: Option<String>,
}

/// The webhook's validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    actions: BTreeMap<&'static str, Action>,
    other: Action,
    /// The releases every decision assumes.
    pub assumptions: Assumptions,
}

impl Default for Config {
    fn default() -> Config {
        let actions = [
            (rule::STATIC_DELETE_NEVER_DELETES.id, Action::Mutate),
            (rule::STATIC_DELETE_DESTROYS_DATA.id, Action::Deny),
            (rule::SHARE_SOURCE_DELETE.id, Action::Deny),
            (rule::DUPLICATE_VOLUME_HANDLE.id, Action::Deny),
        ];
        Config {
            actions: actions.into_iter().collect(),
            other: Action::Warn,
            assumptions: Assumptions::default(),
        }
    }
}

impl Config {
    /// Reads a configuration file; the defaults fill what it leaves out.
    ///
    /// # Errors
    ///
    /// Returns an [`Error`] naming the file, and the field when one is wrong.
    pub fn load(path: &Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Reads a configuration from text; `path` names it in errors.
    ///
    /// # Errors
    ///
    /// As [`Config::load`].
    pub fn parse(text: &str, path: &Path) -> Result<Config, Error> {
        let file: File = if text.trim().is_empty() {
            File::default()
        } else {
            serde_saphyr::from_str(text).map_err(|source| Error::Parse {
                path: path.to_owned(),
                source: Box::new(source),
            })?
        };
        let invalid = |field: String, problem: String| Error::Invalid {
            path: path.to_owned(),
            field,
            problem,
        };

        let mut config = Config::default();
        for (id, action) in file.rules {
            let Some(rule) = rule::find(&id) else {
                let problem = "no such rule; `pvwarden rules` lists them".to_owned();
                return Err(invalid(format!("rules.{id}"), problem));
            };
            if action == Action::Mutate && !MUTABLE.iter().any(|r| r.id == rule.id) {
                let allowed: Vec<&str> = MUTABLE.iter().map(|r| r.id).collect();
                let problem = format!(
                    "mutate (switch to Retain) does not fix this rule; it may be set for {} only",
                    allowed.join(", ")
                );
                return Err(invalid(format!("rules.{id}"), problem));
            }
            config.actions.insert(rule.id, action);
        }
        if let Some(other) = file.other_rules {
            if other == Action::Mutate {
                let problem = "must be deny, warn or off".to_owned();
                return Err(invalid("otherRules".into(), problem));
            }
            config.other = other;
        }

        let versions = [
            ("assume.kubernetes", file.assume.kubernetes, 0),
            ("assume.provisioner", file.assume.provisioner, 1),
            ("assume.cephCsi", file.assume.ceph_csi, 2),
        ];
        for (field, value, which) in versions {
            let Some(value) = value else { continue };
            let version: Version = value
                .parse()
                .map_err(|problem: String| invalid(field.into(), problem))?;
            let assumed = Assumed {
                value: version,
                basis: Basis::Flag,
            };
            match which {
                0 => config.assumptions.kubernetes = assumed,
                1 => config.assumptions.provisioner = assumed,
                _ => config.assumptions.ceph_csi = assumed,
            }
        }
        Ok(config)
    }

    /// The action for findings of a rule.
    pub fn action(&self, rule: &str) -> Action {
        self.actions.get(rule).copied().unwrap_or(self.other)
    }

    /// Sets the action of one rule (for tests and embedders).
    #[must_use]
    pub fn with_action(mut self, rule: &'static Rule, action: Action) -> Config {
        self.actions.insert(rule.id, action);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, Error> {
        Config::parse(text, Path::new("webhook.yaml"))
    }

    #[test]
    fn empty_file_gives_the_defaults() {
        let config = parse("").expect("empty is valid");
        assert_eq!(config.action("static-delete-never-deletes"), Action::Mutate);
        assert_eq!(config.action("duplicate-volume-handle"), Action::Deny);
        assert_eq!(config.action("pv-stuck"), Action::Warn);
    }

    #[test]
    fn listed_rules_and_other_rules_are_honoured() {
        let config = parse(
            "rules:\n  static-delete-never-deletes: deny\notherRules: off\n\
             assume:\n  cephCsi: 3.4.0\n",
        )
        .expect("valid");
        assert_eq!(config.action("static-delete-never-deletes"), Action::Deny);
        assert_eq!(config.action("shared-backend"), Action::Off);
        assert_eq!(config.assumptions.ceph_csi.value, Version::new(3, 4, 0));
    }

    #[test]
    fn rejects_unknown_rules_and_impossible_mutations() {
        let err = parse("rules:\n  no-such-rule: deny\n").expect_err("unknown rule");
        assert!(err.to_string().contains("rules.no-such-rule"), "{err}");
        let err = parse("rules:\n  duplicate-volume-handle: mutate\n").expect_err("no fix");
        assert!(
            err.to_string().contains("rules.duplicate-volume-handle"),
            "{err}"
        );
        let err = parse("otherRules: mutate\n").expect_err("other rules");
        assert!(err.to_string().contains("otherRules"), "{err}");
        let err = parse("rules: [1, 2]\n").expect_err("shape");
        assert!(err.to_string().contains("webhook.yaml"), "{err}");
    }
}
