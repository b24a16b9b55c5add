//! The errors of carrying out and undoing repairs.

/// A failure that stops a run before or between its steps.
///
/// A step that the cluster refuses is not an error of this kind: it is
/// recorded in the journal and in the run's [`Report`](crate::Report).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The digest given does not match the plan as computed now: mistyped, or
    /// the cluster changed since the plan was shown (the two cannot be told apart).
    #[error(
        "--confirm {confirmed} does not match the plan (digest {current} now): check the digest \
         against the plan shown; if it is the one shown, the plan is no longer the one \
         confirmed because the cluster changed since: review the new plan and confirm its digest"
    )]
    DigestMismatch {
        /// The digest the operator confirmed.
        confirmed: String,
        /// The digest of the plan now.
        current: String,
    },
    /// The journal could not be written or read; nothing more is changed.
    #[error("the journal failed; the run stops before its next change")]
    Journal(#[source] pvwarden_journal::Error),
    /// The run to resume or undo is not in the journal.
    #[error("run {0} is not in the journal (`pvwarden journal ls` lists runs)")]
    UnknownRun(String),
    /// The run to resume has finished, or was undone.
    #[error("run {run} is {state}: there is nothing to resume")]
    NotResumable {
        /// The run.
        run: String,
        /// Its state.
        state: &'static str,
    },
    /// The run's stored plan cannot be read.
    #[error("run {run} holds no plan this release can read")]
    StoredPlan {
        /// The run.
        run: String,
        /// Why.
        #[source]
        source: Option<serde_json::Error>,
    },
}

impl From<pvwarden_journal::Error> for Error {
    fn from(err: pvwarden_journal::Error) -> Self {
        Error::Journal(err)
    }
}
