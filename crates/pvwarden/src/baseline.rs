//! Baselines: today's findings recorded, so that only new ones fail a pipeline.
//!
//! A finding is identified by its rule and the object it is about (kind,
//! namespace, name); messages may change between releases without making a
//! known finding new.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::Context;
use serde::{Deserialize, Serialize};

/// The file format.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Baseline {
    /// Always `pvwarden.io/v1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// Always `Baseline`.
    pub kind: String,
    /// The recorded findings.
    pub findings: BTreeSet<Entry>,
}

/// One recorded finding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Entry {
    /// The rule id.
    pub rule: String,
    /// `PersistentVolume` or `PersistentVolumeClaim`.
    pub kind: String,
    /// The object, `name` or `namespace/name`.
    pub object: String,
}

impl Baseline {
    /// Reads a baseline file.
    pub fn read(path: &Path) -> anyhow::Result<Baseline> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("failed to read baseline {}", path.display()))?;
        let baseline: Baseline = serde_json::from_str(&text)
            .with_context(|| format!("failed to parse baseline {}", path.display()))?;
        if baseline.kind != "Baseline" || baseline.api_version != "pvwarden.io/v1" {
            anyhow::bail!(
                "{} is not a pvwarden baseline (apiVersion must be pvwarden.io/v1, kind Baseline)",
                path.display()
            );
        }
        Ok(baseline)
    }

    /// Writes a baseline file.
    pub fn write(&self, path: &Path) -> anyhow::Result<()> {
        let mut text = serde_json::to_string_pretty(self)?;
        text.push('\n');
        std::fs::write(path, text)
            .with_context(|| format!("failed to write baseline {}", path.display()))
    }

    /// An empty baseline to record into.
    pub fn new() -> Baseline {
        Baseline {
            api_version: "pvwarden.io/v1".into(),
            kind: "Baseline".into(),
            ..Default::default()
        }
    }

    /// Returns true when the finding is recorded.
    pub fn contains(&self, entry: &Entry) -> bool {
        self.findings.contains(entry)
    }
}
