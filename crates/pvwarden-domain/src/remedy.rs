//! The ways out of a stuck or dangerous volume, safest first, and what must not be done.
//!
//! The order is always the same: let the owning controller finish by itself
//! (fix what makes its calls fail), then the provisioner-cooperative fix
//! (`Retain`: the provisioner drops its own finalizer), and only then
//! finalizer surgery — exactly one finalizer, and only when the model shows
//! that no storage can be lost by it.

use crate::classify::Provisioning;
use crate::facts::{Phase, ReclaimPolicy, ATTACHER_FINALIZER_PREFIX, PROVISIONER_FINALIZER};
use crate::rule::VolumeContext;
use crate::verdict::{OnDelete, Remedy, RemedyKind};

fn retain(name: &str) -> String {
    format!(
        "kubectl patch pv {name} --type merge -p \
         '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'"
    )
}

fn remove_finalizer<S: AsRef<str>>(
    name: &str,
    finalizers: &[S],
    finalizer: &str,
) -> Option<String> {
    let index = finalizers.iter().position(|f| f.as_ref() == finalizer)?;
    Some(format!(
        "kubectl patch pv {name} --type json -p '[{{\"op\":\"test\",\"path\":\
         \"/metadata/finalizers/{index}\",\"value\":\"{finalizer}\"}},{{\"op\":\"remove\",\
         \"path\":\"/metadata/finalizers/{index}\"}}]'"
    ))
}

/// Lists the remedies and the things not to do for one PV.
pub(crate) fn for_volume(ctx: &VolumeContext<'_>) -> (Vec<Remedy>, Vec<String>) {
    let mut remedies = Vec::new();
    let mut must_not = Vec::new();
    let pv = ctx.pv;
    let o = ctx.outcome;
    // No delete call can reach the storage: the handle never decodes, the
    // storage is already gone, or the phase is one the provisioner never deletes.
    let storage_safe =
        ctx.never_deletes() || !ctx.sim.backend.volume_exists() || o.settled.phase == Phase::Failed;
    let troubled = o.stuck.is_some() || o.on_delete == OnDelete::Hangs;

    if troubled && o.blocking.iter().any(|f| f == PROVISIONER_FINALIZER) {
        provisioner_way_out(ctx, storage_safe, &mut remedies, &mut must_not);
    }
    if troubled
        && o.blocking
            .iter()
            .any(|f| f.starts_with(ATTACHER_FINALIZER_PREFIX))
    {
        attacher_way_out(ctx, &mut remedies, &mut must_not);
    }
    if troubled && o.blocking.is_empty() && o.on_delete == OnDelete::Orphaned {
        remedies.push(Remedy {
            kind: RemedyKind::FixDeleteFailure,
            action: "fix what makes the delete calls fail; the provisioner's next retry then \
                     deletes the storage and the PV"
                .into(),
            command: None,
            why: o.settled.failures.last().cloned().unwrap_or_default(),
        });
        must_not.push(format!(
            "do not `kubectl delete pv {}`: no finalizer protects it, so the object goes and \
             the storage is orphaned",
            pv.name
        ));
    }
    if o.stuck.is_some() && o.blocking.is_empty() && o.on_delete == OnDelete::Deleted {
        remedies.push(Remedy {
            kind: RemedyKind::DeletePv,
            action: "delete the PV object: nothing holds it, and its storage is already gone"
                .into(),
            command: Some(format!("kubectl delete pv {}", pv.name)),
            why: "no delete call is needed, so nothing can be lost".into(),
        });
    }
    if !troubled && pv.policy == ReclaimPolicy::Delete && danger(ctx) {
        remedies.push(Remedy {
            kind: RemedyKind::RetainBeforeDeletion,
            action: "switch the PV to Retain now, before anyone deletes its claim".into(),
            command: Some(retain(&pv.name)),
            why: "with Retain no deletion reaches the storage; remove it by hand when it is \
                  really no longer needed"
                .into(),
        });
        must_not.push("do not delete the claim while the PV is Delete".into());
    }
    if o.stuck.is_some() && !pv.finalizers.is_empty() {
        must_not.push(format!(
            "do not remove every finalizer at once (kubectl patch pv {} -p \
             '{{\"metadata\":{{\"finalizers\":null}}}}'): it races with the provisioner and can \
             orphan storage",
            pv.name
        ));
    }
    if pv.phase == Some(Phase::Failed) && ctx.classification.provisioning == Provisioning::Static {
        must_not.push(
            "do not set status.phase back to Released: a current provisioner would then call \
             DeleteVolume on the pre-existing volume"
                .into(),
        );
    }
    (remedies, must_not)
}

/// Returns true when a deletion would destroy storage other users rely on.
fn danger(ctx: &VolumeContext<'_>) -> bool {
    let destroys = ctx.outcome.last.fate == Some(crate::driver::Fate::Destroyed);
    let is_static = ctx.classification.provisioning == Provisioning::Static;
    destroys && (is_static || !ctx.sharing().is_alone())
}

fn provisioner_way_out(
    ctx: &VolumeContext<'_>,
    storage_safe: bool,
    remedies: &mut Vec<Remedy>,
    must_not: &mut Vec<String>,
) {
    let pv = ctx.pv;
    let failure = ctx.outcome.settled.failures.last().cloned();
    let is_static = ctx.classification.provisioning == Provisioning::Static;
    if !storage_safe && is_static {
        must_not.push(
            "do not fix what makes DeleteVolume fail (secrets, credentials, attachments) while \
             the policy is Delete: the next retry destroys storage that existed before the PV"
                .into(),
        );
    } else if !storage_safe {
        remedies.push(Remedy {
            kind: RemedyKind::FixDeleteFailure,
            action: "fix what makes DeleteVolume fail; the provisioner retries and finishes by \
                     itself"
                .into(),
            command: None,
            why: failure
                .clone()
                .unwrap_or_else(|| "the provisioner may not be running".into()),
        });
    }
    let keep = if storage_safe {
        "the storage is untouched (no delete call can reach it)"
    } else if is_static {
        "the pre-existing storage is kept"
    } else {
        "the storage is kept: record its handle and remove it by hand if it is not needed"
    };
    remedies.push(Remedy {
        kind: RemedyKind::SetRetain,
        action: "patch the PV to Retain: the provisioner removes its own finalizer, even from \
                 a terminating PV, and the deletion completes"
            .into(),
        command: Some(retain(&pv.name)),
        why: keep.into(),
    });
    if storage_safe {
        if let Some(command) = remove_finalizer(&pv.name, &pv.finalizers, PROVISIONER_FINALIZER) {
            remedies.push(Remedy {
                kind: RemedyKind::RemoveFinalizer {
                    finalizer: PROVISIONER_FINALIZER.to_owned(),
                },
                action: format!(
                    "only if no provisioner for {} is running: remove exactly {} (by index, \
                     with a test of its value)",
                    pv.csi().map_or("the driver", |c| &c.driver),
                    PROVISIONER_FINALIZER
                ),
                command: Some(command),
                why: "safe here because no delete call can reach the storage".into(),
            });
        }
    } else {
        must_not.push(format!(
            "do not remove {PROVISIONER_FINALIZER} while the storage may still exist: the PV \
             disappears and the storage is orphaned with nothing pointing at it"
        ));
    }
    if ctx.never_deletes() && pv.policy == ReclaimPolicy::Delete {
        must_not.push(
            "do not \"repair\" the handle (remove a suffix, fix its length field) while the \
             policy is Delete: a handle that decodes lets DeleteVolume destroy the storage"
                .into(),
        );
    }
    if pv.phase == Some(Phase::Bound) && pv.deletion.is_none() {
        must_not.push(format!(
            "removing {PROVISIONER_FINALIZER} while the PV is Bound with Delete is pointless: \
             the provisioner adds it straight back"
        ));
    }
}

fn attacher_way_out(
    ctx: &VolumeContext<'_>,
    remedies: &mut Vec<Remedy>,
    must_not: &mut Vec<String>,
) {
    let pv = ctx.pv;
    let attachments: Vec<_> = ctx.inventory.attachments_of(&pv.name).collect();
    if attachments.is_empty() {
        let finalizer = ctx
            .outcome
            .blocking
            .iter()
            .find(|f| f.starts_with(ATTACHER_FINALIZER_PREFIX));
        if let Some(finalizer) = finalizer {
            remedies.push(Remedy {
                kind: RemedyKind::RemoveFinalizer {
                    finalizer: finalizer.clone(),
                },
                action: "list VolumeAttachments that name this PV (kubectl get volumeattachment); \
                         if none exists and the attacher is not running, remove exactly the \
                         attacher's finalizer"
                    .into(),
                command: remove_finalizer(&pv.name, &pv.finalizers, finalizer),
                why: "the attacher only holds a PV while a VolumeAttachment names it".into(),
            });
        }
    } else {
        for va in attachments {
            remedies.push(Remedy {
                kind: RemedyKind::ReleaseAttachment {
                    name: va.name.clone(),
                    node: va.node.clone(),
                },
                action: format!(
                    "make sure the volume is detached from node {} on the storage side, then \
                     remove the finalizer of VolumeAttachment {}; the attacher then releases \
                     the PV",
                    va.node, va.name
                ),
                command: Some(format!(
                    "kubectl patch volumeattachment {} --type merge -p \
                     '{{\"metadata\":{{\"finalizers\":null}}}}'",
                    va.name
                )),
                why: va
                    .detach_error
                    .clone()
                    .unwrap_or_else(|| "it still attaches the PV".into()),
            });
        }
    }
    must_not.push(
        "do not remove the attacher's finalizer from the PV while the volume may still be \
         attached to a node"
            .into(),
    );
}
