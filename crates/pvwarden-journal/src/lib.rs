//! The journal of every change pvwarden makes to a cluster.
//!
//! A repair is a *run*: one plan, confirmed by its digest, carried out by one
//! operator. Each change of the run is an *entry*, written before the change
//! is sent (state [`EntryState::Planned`]) and marked after it
//! ([`EntryState::Applied`] or [`EntryState::Failed`]). An entry holds the
//! object as it was, the patch or action, the resource version it was made
//! against, and the backend volume it leaves behind when it orphans one, so
//! that a run killed half way can be resumed or undone from the journal alone.
//!
//! ```text
//!   repair engine ──begin/record/mark/finish──▶ Journal
//!                                                 ├─ SqliteJournal     (CLI: a file in the
//!                                                 │                     XDG state directory)
//!                                                 └─ ConfigMapJournal  (controller: one
//!                                                                       ConfigMap per run)
//!   journal ls / show / undo ◀──runs/run──────────┘
//! ```
//!
//! Both stores keep the same records; a front end picks one and hands it to
//! the engine as `impl Journal`.

#![warn(missing_docs)]

mod cluster;
mod error;
mod record;
mod sqlite;

use std::future::Future;
use std::path::PathBuf;

pub use crate::cluster::ConfigMapJournal;
pub use crate::error::Error;
pub use crate::record::{Entry, EntryState, ObjectRef, Run, RunId, RunState};
pub use crate::sqlite::SqliteJournal;

/// A result whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Where runs and their entries are kept.
///
/// Every method is one durable write or read: when it returns `Ok`, the
/// record survives the process being killed. Callers write an entry with
/// [`Journal::record`] *before* they make the change it describes, and mark
/// it with [`Journal::mark`] after.
pub trait Journal: Send + Sync {
    /// Records a new run, in state [`RunState::Open`].
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be written, or a run of that id exists.
    fn begin(&self, run: &Run) -> impl Future<Output = Result<()>> + Send;

    /// Records an entry of an open run; its `seq` must be new in the run.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be written or the run is unknown.
    fn record(&self, entry: &Entry) -> impl Future<Output = Result<()>> + Send;

    /// Sets the state of one entry, with the error that made it fail, if any.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be written or the entry is unknown.
    fn mark(
        &self,
        run: &RunId,
        seq: u32,
        state: EntryState,
        error: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Sets the state of a run (done, failed, undone, or open again on resume).
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be written or the run is unknown.
    fn finish(&self, run: &RunId, state: RunState) -> impl Future<Output = Result<()>> + Send;

    /// Lists every run, oldest first.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be read.
    fn runs(&self) -> impl Future<Output = Result<Vec<Run>>> + Send;

    /// Reads one run and its entries in order, or `None` when it is unknown.
    ///
    /// # Errors
    ///
    /// [`Error`] when the store cannot be read.
    fn run(&self, id: &RunId) -> impl Future<Output = Result<Option<(Run, Vec<Entry>)>>> + Send;
}

/// The CLI's journal file: `$XDG_STATE_HOME/pvwarden/journal.db`, else
/// `~/.local/state/pvwarden/journal.db`; `None` without either variable.
pub fn default_path() -> Option<PathBuf> {
    let state = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local").join("state"))
        })?;
    Some(state.join("pvwarden").join("journal.db"))
}
