//! The records a journal keeps: runs and their entries.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The id of a run: its start time to the second and four random hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RunId(String);

impl RunId {
    /// Makes a new id for a run that starts at `now`, e.g. `20261204-194400-3fa2`.
    pub fn new(now: Timestamp) -> RunId {
        let time = now.strftime("%Y%m%d-%H%M%S");
        RunId(format!("{time}-{:04x}", fastrand::u16(..)))
    }

    /// Takes an id as given by the user or read from a store.
    pub fn parse(id: &str) -> RunId {
        RunId(id.trim().to_owned())
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RunId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RunState {
    /// Started and not finished: it is running, or it was killed half way.
    Open,
    /// Every step was carried out.
    Done,
    /// It stopped at a step that failed; the entries say which.
    Failed,
    /// Its changes were taken back by `undo`.
    Undone,
}

impl RunState {
    /// The state as printed and stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            RunState::Open => "open",
            RunState::Done => "done",
            RunState::Failed => "failed",
            RunState::Undone => "undone",
        }
    }

    /// Reads a stored state.
    pub fn parse(s: &str) -> Option<RunState> {
        [
            RunState::Open,
            RunState::Done,
            RunState::Failed,
            RunState::Undone,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// Where one change stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntryState {
    /// Written before the change was sent; if the run was killed, the change
    /// may or may not have reached the cluster.
    Planned,
    /// The API server accepted the change.
    Applied,
    /// The change was refused or could not be sent; the error says why.
    Failed,
    /// The change was taken back by `undo`.
    Undone,
}

impl EntryState {
    /// The state as printed and stored.
    pub fn as_str(&self) -> &'static str {
        match self {
            EntryState::Planned => "planned",
            EntryState::Applied => "applied",
            EntryState::Failed => "failed",
            EntryState::Undone => "undone",
        }
    }

    /// Reads a stored state.
    pub fn parse(s: &str) -> Option<EntryState> {
        [
            EntryState::Planned,
            EntryState::Applied,
            EntryState::Failed,
            EntryState::Undone,
        ]
        .into_iter()
        .find(|state| state.as_str() == s)
    }
}

/// The object a change is made to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// The kind, e.g. `PersistentVolume`.
    pub kind: String,
    /// The namespace, for namespaced kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// A PersistentVolume.
    pub fn pv(name: &str) -> ObjectRef {
        ObjectRef {
            kind: "PersistentVolume".into(),
            namespace: None,
            name: name.into(),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(namespace) => write!(f, "{} {namespace}/{}", self.kind, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// One repair: a confirmed plan carried out by one operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Run {
    /// Its id.
    pub id: RunId,
    /// When it started.
    pub started: Timestamp,
    /// Who ran it: the kubeconfig context's user, or the service account.
    pub operator: String,
    /// The kubeconfig context (the cluster) it ran against.
    pub context: String,
    /// What was run, e.g. `fix --all-stuck`.
    pub command: String,
    /// The digest of the plan that was confirmed.
    pub digest: String,
    /// The plan itself, as the repair engine wrote it, so that a run killed
    /// half way can be resumed from the journal alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<Value>,
    /// Where it stands.
    pub state: RunState,
}

/// One change of a run, written before it is made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The run it belongs to.
    pub run: RunId,
    /// Its number in the run, from 1, in the order the changes were made.
    pub seq: u32,
    /// The object changed.
    pub target: ObjectRef,
    /// What is done, e.g. `set-retain`, `remove-finalizer`, `delete`, `take-lease`.
    pub action: String,
    /// The request body sent (a JSON patch, or delete options), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patch: Option<Value>,
    /// The object as read just before the change (without `managedFields`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// The resource version the change was made against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    /// A backend volume the change leaves without a PV, to clean up later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_id: Option<String>,
    /// Where it stands.
    pub state: EntryState,
    /// Why it failed, when it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was written.
    pub at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_read_back_what_they_print() {
        for state in [
            RunState::Open,
            RunState::Done,
            RunState::Failed,
            RunState::Undone,
        ] {
            assert_eq!(RunState::parse(state.as_str()), Some(state));
        }
        for state in [
            EntryState::Planned,
            EntryState::Applied,
            EntryState::Failed,
            EntryState::Undone,
        ] {
            assert_eq!(EntryState::parse(state.as_str()), Some(state));
        }
        assert_eq!(RunState::parse("running"), None);
    }

    #[test]
    fn run_ids_start_with_the_time() {
        let now: Timestamp = "2026-12-04T19:44:00Z".parse().expect("a valid time");
        let id = RunId::new(now);
        assert!(id.as_str().starts_with("20261204-194400-"), "{id}");
        assert_eq!(id.as_str().len(), "20261204-194400-".len() + 4);
    }
}
