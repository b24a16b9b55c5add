//! The external-provisioner: ownership, its finalizer, and the delete call.
//!
//! Mirrors the provisioner library's sync of a PV: decide whether the PV is
//! its own, add or remove its finalizer, then delete the volume when the PV is
//! `Released` with `Delete` (and, with the finalizer feature on, while the
//! finalizer is still present or the PV is not yet being deleted).

use serde::Serialize;

use super::{Actor, Sim, State, Trace};
use crate::driver::{Answer, Fate, Profile, Request, Secrets};
use crate::facts::{Phase, PvFacts, ReclaimPolicy, Source, PROVISIONER_FINALIZER};
use crate::inventory::Inventory;
use crate::version::Assumptions;

/// The provisioner that considers a PV its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Owner {
    /// The provisioner's name.
    pub name: String,
    /// Whether it is a CSI external-provisioner (else a non-CSI one).
    pub csi: bool,
    /// Why it owns the PV.
    pub why: String,
}

impl Owner {
    /// Finds the provisioner that owns a PV, as the provisioner itself decides.
    pub fn of(pv: &PvFacts, inventory: &Inventory, assumptions: &Assumptions) -> Option<Owner> {
        let annotation = pv.provisioned_by.as_deref();
        let migrated = pv.migrated_to();
        match &pv.source {
            Source::Csi(csi) => {
                let driver = &*csi.driver;
                // A provisioner name other than the driver's is known when a class
                // uses it: a CSI provisioner is deployed under that name.
                let known =
                    |name: &str| name == driver || inventory.class_with_provisioner(name).is_some();
                match (annotation, migrated) {
                    (Some(a), _) if known(a) => Some(Owner {
                        name: a.to_owned(),
                        csi: true,
                        why: format!("its provisioned-by annotation names {a}"),
                    }),
                    (_, Some(m)) if m == driver => Some(Owner {
                        name: m.to_owned(),
                        csi: true,
                        why: format!("its migrated-to annotation names {m}"),
                    }),
                    (None, None) if assumptions.provisioner_owns_static() => Some(Owner {
                        name: driver.to_owned(),
                        csi: true,
                        why: format!(
                            "a static CSI PV belongs to the provisioner of its driver {driver} \
                             (external-provisioner {} and later)",
                            crate::version::Version::new(3, 1, 0)
                        ),
                    }),
                    _ => None,
                }
            }
            Source::InTree { .. } => {
                if let Some(m) = migrated {
                    return Some(Owner {
                        name: m.to_owned(),
                        csi: true,
                        why: format!("its migrated-to annotation names {m}"),
                    });
                }
                let a = annotation?;
                if Profile::for_external_provisioner(a).is_some() {
                    return Some(Owner {
                        name: a.to_owned(),
                        csi: false,
                        why: format!("its provisioned-by annotation names {a}"),
                    });
                }
                (Profile::for_pv(pv) == Profile::InTreeMigrated).then(|| Owner {
                    name: a.to_owned(),
                    csi: true,
                    why: format!("CSI migration hands {a} volumes to their CSI driver"),
                })
            }
            Source::None => None,
        }
    }
}

/// One sync of the PV by its provisioner.
pub(super) fn step(sim: &Sim<'_>, s: &mut State, trace: &mut Trace) -> bool {
    let Some(owner) = &sim.owner else {
        return false;
    };
    if !s.exists {
        return false;
    }
    let adds = owner.csi && sim.assumptions.provisioner_adds_finalizer();
    let knows_finalizer = owner.csi && sim.assumptions.provisioner.value.at_least(3, 1);
    let has = s.has(PROVISIONER_FINALIZER);

    if adds && !has && s.policy == ReclaimPolicy::Delete && !s.deleting && s.phase == Phase::Bound {
        s.finalizers.push(PROVISIONER_FINALIZER.to_owned());
        trace.push(Actor::Provisioner, || {
            format!("adds {PROVISIONER_FINALIZER}: the PV is Bound with Delete")
        });
        return true;
    }
    let keeps = adds && s.policy == ReclaimPolicy::Delete;
    if knows_finalizer && has && !keeps {
        s.remove(PROVISIONER_FINALIZER);
        let why = if adds {
            format!("the policy is {}", s.policy.as_str())
        } else {
            "its finalizer feature is off".to_owned()
        };
        trace.push(Actor::Provisioner, || {
            format!("removes {PROVISIONER_FINALIZER}: {why}")
        });
        return true;
    }

    let should_delete = if adds {
        has || !s.deleting
    } else {
        !s.deleting
    };
    if !should_delete || s.phase != Phase::Released || s.policy != ReclaimPolicy::Delete {
        return false;
    }
    delete(sim, s, trace, adds)
}

fn delete(sim: &Sim<'_>, s: &mut State, trace: &mut Trace, adds: bool) -> bool {
    let answer = answer(sim, s);
    match answer {
        Answer::Ok { fate, why } => {
            let call = match sim.pv.csi() {
                Some(csi) => format!("calls DeleteVolume({})", csi.handle),
                None => "runs its delete hook for the volume".to_owned(),
            };
            trace.push(Actor::Provisioner, || call);
            trace.push(Actor::Driver, || format!("answers OK: {why}"));
            s.fate = Some(merge_fate(s.fate, fate));
            if !s.deleting {
                s.deleting = true;
                trace.push(Actor::Provisioner, || "deletes the PV object".into());
            }
            if adds && s.remove(PROVISIONER_FINALIZER) {
                trace.push(Actor::Provisioner, || {
                    format!("removes {PROVISIONER_FINALIZER}")
                });
            }
            true
        }
        Answer::Error { code, message } => {
            let failure = format!("{code}: {message}");
            if s.failures.last() == Some(&failure) {
                return false;
            }
            if code == "Evidence" {
                trace.push(Actor::Evidence, || {
                    format!(
                        "the driver model would answer OK, but the cluster's records say \
                         otherwise: {message}"
                    )
                });
            }
            trace.push(Actor::Provisioner, || {
                format!(
                    "tries to delete the volume and fails; it records VolumeFailedDelete \
                     ({failure}) and retries with backoff, forever"
                )
            });
            s.failures.push(failure);
            true
        }
        Answer::Unknown { why } => {
            if s.unknown.is_some() {
                return false;
            }
            trace.push(Actor::Driver, || format!("cannot be predicted: {why}"));
            s.unknown = Some(why);
            true
        }
    }
}

fn merge_fate(old: Option<Fate>, new: Fate) -> Fate {
    match old {
        Some(Fate::Destroyed) => Fate::Destroyed,
        _ => new,
    }
}

/// What the delete call answers: the evidence first, then the driver profile.
fn answer(sim: &Sim<'_>, s: &State) -> Answer {
    if let Some(attachment) = s.attachments.first() {
        return Answer::Error {
            code: "Precondition",
            message: format!(
                "persistentvolume {} is still attached to node {} (VolumeAttachment {})",
                sim.pv.name, attachment.node, attachment.name
            ),
        };
    }
    let secrets = secrets(sim);
    let has_snapshots = sim.pv.csi().is_some_and(|c| {
        sim.inventory
            .snapshot_contents_of(&c.driver, &c.handle)
            .next()
            .is_some()
    });
    let request = Request {
        pv: sim.pv,
        class: sim
            .pv
            .storage_class
            .as_deref()
            .and_then(|c| sim.inventory.class(c)),
        secrets: &secrets,
        backend: &sim.backend,
        ceph_csi: sim.assumptions.ceph_csi.value,
        has_snapshots,
    };
    let modelled = sim.profile.delete(&request);
    let evidence = sim.forced_failure.as_ref().or(sim.stalled.as_ref());
    match (modelled, evidence) {
        (Answer::Ok { .. }, Some(evidence)) => Answer::Error {
            code: "Evidence",
            message: evidence.clone(),
        },
        (modelled, _) => modelled,
    }
}

/// Which deletion secrets the provisioner finds for a PV.
pub(crate) fn secrets(sim: &Sim<'_>) -> Secrets {
    let pv = sim.pv;
    if let Some((ns, name)) = &pv.deletion_secret {
        return match (ns.is_empty(), name.is_empty()) {
            (true, true) => Secrets::NotNeeded,
            (false, false) => Secrets::Named(format!("{ns}/{name}")),
            _ => Secrets::Missing("the PV's deletion-secret annotations are incomplete".into()),
        };
    }
    let Some(class) = pv.storage_class.as_deref() else {
        return Secrets::Missing(
            "the PV names no StorageClass and has no deletion-secret annotations".into(),
        );
    };
    if pv.claim_ref.is_none() {
        return Secrets::Missing("the PV has no claimRef to resolve secret templates".into());
    }
    match sim.inventory.class(class) {
        Some(facts) => match &facts.provisioner_secret {
            Some((ns, name)) => Secrets::Named(format!("{ns}/{name}")),
            None => Secrets::Missing(format!("StorageClass {class} names no provisioner secret")),
        },
        None if sim.inventory.saw_kind("StorageClass") => {
            Secrets::Missing(format!("StorageClass {class} does not exist"))
        }
        None => Secrets::Named(format!("from StorageClass {class} (not in the input)")),
    }
}
