//! kube-controller-manager's PV controller and PV protection controller.

use super::{unprotect, Actor, ClaimLink, Sim, State, Trace};
use crate::driver::Profile;
use crate::facts::{Phase, ReclaimPolicy, PV_CONTROLLER_FINALIZER};

/// Binds, releases and reclaims (or fails) the PV.
pub(super) fn step(sim: &Sim<'_>, s: &mut State, trace: &mut Trace) -> bool {
    if !s.exists {
        return false;
    }
    let next = match (s.phase, &s.claim) {
        (Phase::Pending | Phase::Available, ClaimLink::Bound) => Some(Phase::Bound),
        (Phase::Pending, _) => Some(Phase::Available),
        (Phase::Bound, ClaimLink::Gone) => Some(Phase::Released),
        (Phase::Released, _) => return reclaim(sim, s, trace),
        _ => None,
    };
    if let Some(phase) = next {
        let action = match phase {
            Phase::Bound => "binds the PV to its claim: phase Bound".to_owned(),
            Phase::Available => "finds no claim for the PV: phase Available".to_owned(),
            _ => "sees that the PV's claim is gone: phase Released".to_owned(),
        };
        trace.push(Actor::PvController, || action);
        s.phase = phase;
        return true;
    }
    handover_finalizer(sim, s, trace)
}

/// Decides what the controller itself does with a released PV.
fn reclaim(sim: &Sim<'_>, s: &mut State, trace: &mut Trace) -> bool {
    let failed = |s: &mut State, trace: &mut Trace, message: &str| {
        s.phase = Phase::Failed;
        trace.push(Actor::PvController, || {
            format!("marks the PV Failed: {message}")
        });
        true
    };
    match s.policy {
        ReclaimPolicy::Retain => false,
        ReclaimPolicy::Recycle => match sim.profile {
            Profile::InTreeNoDeleter if is_recyclable(sim) => {
                s.phase = Phase::Available;
                s.claim = ClaimLink::None;
                s.fate = Some(crate::driver::Fate::Destroyed);
                trace.push(Actor::PvController, || {
                    "recycles the volume (its files are scrubbed): phase Available".into()
                });
                true
            }
            _ => failed(s, trace, "no volume plugin matched name for recycling"),
        },
        ReclaimPolicy::Delete => {
            let pv = sim.pv;
            let external = pv.provisioned_by.is_some() || pv.migrated_to().is_some();
            let is_csi = pv.csi().is_some();
            if is_csi && !external && sim.assumptions.kcm_fails_static_csi() {
                let message = format!(
                    "error getting deleter volume plugin for volume \"{}\": no deletable \
                     volume plugin matched (Kubernetes {} fails static CSI PVs)",
                    pv.name, sim.assumptions.kubernetes.value
                );
                return failed(s, trace, &message);
            }
            if let Some(done) = in_tree_delete(sim, s, trace) {
                return done;
            }
            if sim.profile == Profile::InTreeNoDeleter && sim.owner.is_none() {
                let message = format!(
                    "error getting deleter volume plugin for volume \"{}\": no deletable \
                     volume plugin matched",
                    pv.name
                );
                return failed(s, trace, &message);
            }
            handover_finalizer(sim, s, trace)
        }
    }
}

/// Before CSI migration, the controller deletes cloud in-tree volumes itself.
fn in_tree_delete(sim: &Sim<'_>, s: &mut State, trace: &mut Trace) -> Option<bool> {
    let crate::facts::Source::InTree { plugin, .. } = &sim.pv.source else {
        return None;
    };
    let ga = crate::driver::migration_ga(plugin)?;
    if sim.assumptions.kubernetes.value >= ga || sim.pv.migrated_to().is_some() || s.deleting {
        return None;
    }
    s.fate = Some(crate::driver::Fate::Destroyed);
    s.deleting = true;
    s.remove(PV_CONTROLLER_FINALIZER);
    trace.push(Actor::PvController, || {
        format!(
            "deletes the {plugin} volume with its in-tree plugin (CSI migration is GA only \
             from Kubernetes {ga}), then the PV object"
        )
    });
    Some(true)
}

fn is_recyclable(sim: &Sim<'_>) -> bool {
    matches!(&sim.pv.source, crate::facts::Source::InTree { plugin, .. }
        if plugin == "nfs" || plugin == "hostPath")
}

/// The controller drops its in-tree finalizer from PVs an external provisioner deletes.
fn handover_finalizer(sim: &Sim<'_>, s: &mut State, trace: &mut Trace) -> bool {
    let external = sim.pv.csi().is_some() || sim.profile == Profile::InTreeMigrated;
    if external && s.remove(PV_CONTROLLER_FINALIZER) {
        trace.push(Actor::PvController, || {
            format!(
                "removes {PV_CONTROLLER_FINALIZER}: an external provisioner \
                             deletes this volume"
            )
        });
        return true;
    }
    false
}

/// Removes `kubernetes.io/pv-protection` once no claim holds the PV.
pub(super) fn protect(_sim: &Sim<'_>, s: &mut State, trace: &mut Trace) -> bool {
    if s.exists && unprotect(s) {
        trace.push(Actor::PvProtection, || {
            "removes kubernetes.io/pv-protection: no claim is bound to the PV".into()
        });
        return true;
    }
    false
}
