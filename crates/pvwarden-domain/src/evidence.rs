//! What the cluster's own records say, and how it bends the prediction.
//!
//! The model predicts; the evidence decides. Events tell which delete calls
//! failed and often why (a missing pool is a fact about the backend, a failing
//! `rbd` command is not), and the age of a deletion timestamp or of the
//! `Released` phase tells whether something the model expects to happen has
//! in fact not happened. The threshold is [`Settings::stuck_after`]: a volume
//! whose deletion has been pending longer than that is stuck, whatever the
//! model says, and the disagreement is reported.

use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::driver::Backend;
use crate::facts::{EventSummary, Phase, PvFacts, ReclaimPolicy};
use crate::inventory::Inventory;

/// The default threshold after which a pending deletion counts as stuck.
pub const DEFAULT_STUCK_AFTER: SignedDuration = SignedDuration::from_hours(1);

/// How evidence is weighed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// The time the input is judged at (`--now`).
    pub now: Timestamp,
    /// How long a deletion or a release may be pending before it counts as stuck.
    pub stuck_after: SignedDuration,
}

impl Settings {
    /// Settings judged at `now` with the default threshold.
    pub fn at(now: Timestamp) -> Settings {
        Settings {
            now,
            stuck_after: DEFAULT_STUCK_AFTER,
        }
    }

    /// Returns true when `since` lies further back than the threshold.
    pub fn is_overdue(&self, since: Timestamp) -> bool {
        self.now.duration_since(since) > self.stuck_after
    }

    /// How long ago `since` was, in words.
    pub fn age(&self, since: Timestamp) -> String {
        human_duration(self.now.duration_since(since))
    }
}

/// What the evidence says about one PV.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The backend state the evidence implies (or the endangering default).
    pub backend: Backend,
    /// A delete failure recorded by events that the model must reproduce.
    pub failure: Option<String>,
    /// The recorded `VolumeFailedDelete` events.
    pub failed_delete: Option<EventSummary>,
    /// How long the PV has been being deleted, if it has.
    pub deletion_age: Option<String>,
    /// Set when the deletion (or the release of a `Delete` PV) is overdue.
    pub overdue: Option<String>,
    /// Sentences for the explanation.
    pub notes: Vec<String>,
}

/// Reads the evidence about one PV.
pub fn read(pv: &PvFacts, inventory: &Inventory, settings: &Settings) -> Evidence {
    let events = inventory.pv_events(&pv.name);
    let failed_delete = events.and_then(|e| e.failed_delete.clone());
    let mut notes = Vec::new();
    let mut backend = Backend::Present;
    let mut failure = None;

    if let Some(failed) = &failed_delete {
        notes.push(format!(
            "{} VolumeFailedDelete event(s), the newest: {}",
            failed.count, failed.message
        ));
        match backend_fact(&failed.message) {
            Some(fact) => backend = fact,
            None => failure = Some(format!("recorded by events: {}", failed.message)),
        }
    }
    if let Some(deleted) = events.and_then(|e| e.deleted.as_ref()) {
        notes.push(format!(
            "an event records a successful delete: {}",
            deleted.message
        ));
        backend = Backend::Gone(format!("an event says: {}", deleted.message));
    }

    let deletion_age = pv.deletion.map(|t| settings.age(t));
    let overdue = if let Some(since) = pv.deletion.filter(|t| settings.is_overdue(*t)) {
        Some(format!(
            "the PV has been terminating for {}",
            settings.age(since)
        ))
    } else {
        let released = pv.phase == Some(Phase::Released) && pv.policy == ReclaimPolicy::Delete;
        pv.phase_since
            .filter(|t| released && settings.is_overdue(*t))
            .map(|since| {
                format!(
                    "the PV has been Released with Delete for {}",
                    settings.age(since)
                )
            })
    };
    Evidence {
        backend,
        failure,
        failed_delete,
        deletion_age,
        overdue,
        notes,
    }
}

impl Evidence {
    /// Takes what a read of the storage found: it replaces what events implied about the
    /// backend, because it is a direct and current look rather than a report of a past call.
    pub fn apply_storage(&mut self, found: &Backend) {
        let what = match found {
            Backend::Present => "the volume exists".to_owned(),
            Backend::Found(why) => format!("found: {why}"),
            Backend::PoolMissing(why) => format!("the pool or filesystem is missing: {why}"),
            Backend::Gone(why) => format!("the volume is gone: {why}"),
        };
        self.notes.push(format!("the storage read says {what}"));
        self.backend = found.clone();
    }
}

/// Recognises delete failures that state a fact about the backend.
fn backend_fact(message: &str) -> Option<Backend> {
    let lower = message.to_ascii_lowercase();
    let pool_gone = (lower.contains("pool") || lower.contains("filesystem"))
        && (lower.contains("not found in ceph cluster") || lower.contains("pool not found"));
    pool_gone.then(|| Backend::PoolMissing(message.to_owned()))
}

/// A duration in its largest whole unit, e.g. `3 days`.
pub fn human_duration(d: SignedDuration) -> String {
    let secs = d.as_secs().max(0);
    let (value, unit) = match secs {
        s if s >= 2 * 86_400 * 365 => (s / (86_400 * 365), "years"),
        s if s >= 2 * 86_400 => (s / 86_400, "days"),
        s if s >= 2 * 3_600 => (s / 3_600, "hours"),
        s if s >= 120 => (s / 60, "minutes"),
        s => (s, "seconds"),
    };
    format!("{value} {unit}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_pool_is_a_backend_fact() {
        let fact =
            backend_fact("rpc error: code = Internal desc = pool ID (8) not found in Ceph cluster");
        assert!(matches!(fact, Some(Backend::PoolMissing(_))));
        assert_eq!(
            backend_fact("an error (exit status 95) occurred while running rbd"),
            None
        );
    }

    #[test]
    fn durations_read_in_the_largest_whole_unit() {
        assert_eq!(human_duration(SignedDuration::from_hours(50)), "2 days");
        assert_eq!(human_duration(SignedDuration::from_secs(90)), "90 seconds");
    }
}
