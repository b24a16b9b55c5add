//! The external-attacher and the attach/detach controller, as far as they hold a PV.

use super::{Actor, Attachment, ClaimLink, Sim, State, Trace};
use crate::facts::ATTACHER_FINALIZER_PREFIX;

/// The VolumeAttachments of the PV, with why each cannot go away by itself.
pub(super) fn attachments(sim: &Sim<'_>) -> Vec<Attachment> {
    sim.inventory
        .attachments_of(&sim.pv.name)
        .map(|a| {
            let stuck = a
                .detach_error
                .as_ref()
                .map(|e| format!("detach keeps failing: {e}"));
            Attachment {
                name: a.name.clone(),
                node: a.node.clone(),
                stuck,
            }
        })
        .collect()
}

/// Detaches what can be detached and releases the attacher's PV finalizer.
pub(super) fn step(sim: &Sim<'_>, s: &mut State, trace: &mut Trace) -> bool {
    if !s.exists {
        return false;
    }
    // Once no pod can be using the volume, the attach/detach controller deletes
    // its VolumeAttachments and the attacher detaches them.
    if s.claim != ClaimLink::Bound || s.deleting {
        let before = s.attachments.len();
        let mut detached = Vec::new();
        s.attachments.retain(|a| {
            let keep = a.stuck.is_some();
            if !keep {
                detached.push(a.name.clone());
            }
            keep
        });
        for name in detached {
            trace.push(Actor::Attacher, || {
                format!("detaches the volume; VolumeAttachment {name} is deleted")
            });
        }
        if before != s.attachments.len() {
            return true;
        }
    }
    if !s.attachments.is_empty() || sim.stalled.is_some() {
        return false;
    }
    let ours: Vec<String> = s
        .finalizers
        .iter()
        .filter(|f| f.starts_with(ATTACHER_FINALIZER_PREFIX))
        .cloned()
        .collect();
    for finalizer in &ours {
        s.remove(finalizer);
        trace.push(Actor::Attacher, || {
            format!("removes {finalizer}: no VolumeAttachment names the PV")
        });
    }
    !ours.is_empty()
}
