//! The errors of reading and writing a journal.

/// A failure to read or write a journal.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The journal file or its directory could not be created or opened.
    #[error("failed to open the journal {path}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A statement on the SQLite journal failed.
    #[error("failed to {operation} in the journal")]
    Sqlite {
        /// What was being done, e.g. `record entry 3 of run r-1`.
        operation: String,
        /// Why.
        #[source]
        source: rusqlite::Error,
    },
    /// A request on the in-cluster journal failed.
    #[error("failed to {operation} in the in-cluster journal")]
    Kube {
        /// What was being done, e.g. `read ConfigMap pvwarden/pvwarden-run-r-1`.
        operation: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// The in-cluster journal kept changing under this writer.
    #[error(
        "the in-cluster journal of run {run} kept changing; gave up after {attempts} attempts"
    )]
    Contended {
        /// The run.
        run: String,
        /// How many writes were refused with a conflict.
        attempts: u32,
    },
    /// A stored record is not what this release writes.
    #[error("the journal holds a record of {what} that cannot be read")]
    Corrupt {
        /// Which record.
        what: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A run of this id is already recorded.
    #[error("run {0} is already in the journal")]
    RunExists(String),
    /// No run of this id is recorded.
    #[error("run {0} is not in the journal")]
    UnknownRun(String),
    /// No entry of this number is recorded in the run.
    #[error("run {run} has no entry {seq}")]
    UnknownEntry {
        /// The run.
        run: String,
        /// The entry number.
        seq: u32,
    },
    /// An entry of this number is already recorded in the run.
    #[error("run {run} already has an entry {seq}")]
    EntryExists {
        /// The run.
        run: String,
        /// The entry number.
        seq: u32,
    },
}
