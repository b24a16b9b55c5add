//! Settling the entries a killed run left `planned`.
//!
//! A run killed between writing an entry and hearing the API server's answer
//! leaves the entry `planned`: the change may or may not have been made. The
//! object itself tells: each action has an effect that can be seen on it.

use pvwarden_journal::{Entry, EntryState, Journal};
use serde_json::Value;

use crate::client::Writer;
use crate::execute::finalizers;
use crate::lease::Lease;
use crate::Error;

/// Marks each `planned` entry `applied` or `failed` after what the cluster shows.
pub(crate) async fn planned<J: Journal>(
    writer: &mut Writer<'_, J>,
    entries: &[Entry],
) -> Result<(), Error> {
    for entry in entries.iter().filter(|e| e.state == EntryState::Planned) {
        let read = if entry.target.kind == "VolumeAttachment" {
            writer.read_attachment(&entry.target.name).await
        } else {
            writer.read_pv(&entry.target.name).await
        };
        let current = match read {
            Ok(current) => current,
            Err(why) => {
                tracing::warn!(run = %entry.run, seq = entry.seq, error = %why,
                    "cannot read the object of a planned entry; left planned");
                continue;
            }
        };
        let (state, error) = match visible(entry, current.as_ref()) {
            Some(true) => (EntryState::Applied, None),
            Some(false) => (
                EntryState::Failed,
                Some("not made: the run stopped before the request reached the cluster"),
            ),
            None => continue,
        };
        tracing::info!(run = %entry.run, seq = entry.seq, state = state.as_str(),
            "planned entry settled");
        writer
            .journal
            .mark(&entry.run, entry.seq, state, error)
            .await?;
    }
    Ok(())
}

/// Whether the entry's change shows on the object; `None` when it cannot be told.
pub(crate) fn visible(entry: &Entry, current: Option<&Value>) -> Option<bool> {
    let tested = |index: usize| -> Option<String> {
        let patch = entry.patch.as_ref()?;
        patch[index]["value"].as_str().map(str::to_owned)
    };
    let Some(current) = current else {
        // Gone: every PV change but taking a lease ends, or is overtaken, there.
        return Some(entry.action != "take-lease" && entry.action != "restore-pv");
    };
    let run = entry.run.as_str();
    let lease = Lease::of(current).filter(|l| l.run == run);
    Some(match entry.action.as_str() {
        "set-retain" => current["spec"]["persistentVolumeReclaimPolicy"] == "Retain",
        "delete" => !current["metadata"]["deletionTimestamp"].is_null(),
        "remove-finalizer" | "release-attachment" => {
            let finalizer = tested(1)?;
            !finalizers(current).contains(&finalizer)
        }
        "clear-claim-uid" => current["spec"]["claimRef"]["uid"].as_str() != tested(1).as_deref(),
        "take-lease" => lease.is_some(),
        "release-lease" => lease.is_none(),
        _ => return None,
    })
}
