//! The cluster's actors as small state machines, stepped to a fixpoint.
//!
//! ```text
//!            ┌──────────────┐  binds, releases, fails static CSI PVs (old kcm)
//!            │ PV controller│
//!            ├──────────────┤  removes kubernetes.io/pv-protection
//!   State ◀──│ pv-protection│
//!  (one PV,  ├──────────────┤  adds/removes its finalizer, calls DeleteVolume
//!  its claim,│ provisioner  │───▶ driver profile (crate::driver)
//!  its VAs)  ├──────────────┤  removes external-attacher/<driver>
//!            │ attacher     │
//!            └──────────────┘
//! ```
//!
//! Each actor looks at the [`State`] and either changes it (recording a
//! [`Step`]) or leaves it alone; [`Sim::settle`] runs them until none acts.
//! Which actors exist, and how they behave, follows the assumed releases.

use serde::Serialize;

use crate::classify::Provisioning;
use crate::driver::{Backend, Fate, Profile};
use crate::facts::{Phase, PvFacts, ReclaimPolicy, PV_PROTECTION_FINALIZER};
use crate::inventory::Inventory;
use crate::version::Assumptions;

mod attacher;
mod provisioner;
mod pv_controller;

pub(crate) use self::provisioner::secrets as secrets_for;
pub use self::provisioner::Owner;

/// Who did something in a trace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// kube-controller-manager's PV controller.
    PvController,
    /// kube-controller-manager's PV protection controller.
    PvProtection,
    /// The external-provisioner.
    Provisioner,
    /// The external-attacher (and the attach/detach controller).
    Attacher,
    /// The storage driver answering a delete call.
    Driver,
    /// The API server (removes an object once its last finalizer is gone).
    ApiServer,
    /// A person or tool acting on the cluster.
    Human,
    /// What the evidence in the input says.
    Evidence,
}

impl Actor {
    /// The actor's name as printed.
    pub fn as_str(&self) -> &'static str {
        match self {
            Actor::PvController => "pv-controller",
            Actor::PvProtection => "pv-protection",
            Actor::Provisioner => "external-provisioner",
            Actor::Attacher => "external-attacher",
            Actor::Driver => "driver",
            Actor::ApiServer => "api-server",
            Actor::Human => "human",
            Actor::Evidence => "evidence",
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// One thing an actor did or refused to do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// Who acted.
    pub actor: Actor,
    /// What happened, in a sentence.
    pub action: String,
}

/// The steps of a simulation, recorded only when someone will read them.
///
/// Auditing a large cluster reads none of them, so a silent trace never
/// formats a step: each step's text is produced by a closure.
#[derive(Debug, Default)]
pub struct Trace {
    steps: Option<Vec<Step>>,
}

impl Trace {
    /// A trace that records (`true`) or drops (`false`) its steps.
    pub fn new(record: bool) -> Trace {
        Trace {
            steps: record.then(Vec::new),
        }
    }

    /// Records a step, formatting its text only when recording.
    pub fn push(&mut self, actor: Actor, action: impl FnOnce() -> String) {
        if let Some(steps) = &mut self.steps {
            steps.push(Step {
                actor,
                action: action(),
            });
        }
    }

    /// The recorded steps.
    pub fn into_steps(self) -> Vec<Step> {
        self.steps.unwrap_or_default()
    }
}

/// The claim a PV is bound to, as far as the simulation goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ClaimLink {
    /// No claim refers to the PV.
    None,
    /// A live claim is bound to the PV.
    Bound,
    /// The claim the PV names is gone (deleted, or re-created with a new uid).
    Gone,
}

/// A VolumeAttachment as the simulation sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attachment {
    /// Its name.
    pub name: String,
    /// The node.
    pub node: String,
    /// Why it cannot go away by itself, if it cannot.
    pub stuck: Option<String>,
}

/// The state of one PV and what around it matters to its deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct State {
    /// Whether the PV object still exists.
    pub exists: bool,
    /// Whether it has a deletion timestamp.
    pub deleting: bool,
    /// Its phase.
    pub phase: Phase,
    /// Its reclaim policy.
    pub policy: ReclaimPolicy,
    /// Its finalizers, in order.
    pub finalizers: Vec<String>,
    /// Its claim.
    pub claim: ClaimLink,
    /// VolumeAttachments that name it.
    pub attachments: Vec<Attachment>,
    /// What happened to the storage, once a delete call answered OK.
    pub fate: Option<Fate>,
    /// Delete calls that failed, newest last (the provisioner retries forever).
    pub failures: Vec<String>,
    /// Whether a delete call answered that it cannot know the outcome.
    pub unknown: Option<String>,
}

impl State {
    fn has(&self, finalizer: &str) -> bool {
        self.finalizers.iter().any(|f| f == finalizer)
    }

    fn remove(&mut self, finalizer: &str) -> bool {
        let before = self.finalizers.len();
        self.finalizers.retain(|f| f != finalizer);
        before != self.finalizers.len()
    }
}

/// Everything fixed during one PV's simulation.
#[derive(Debug, Clone)]
pub struct Sim<'a> {
    /// The PV.
    pub pv: &'a PvFacts,
    /// The rest of the cluster.
    pub inventory: &'a Inventory,
    /// The assumed releases.
    pub assumptions: &'a Assumptions,
    /// The PV's driver profile.
    pub profile: Profile,
    /// The provisioner that owns the PV, if any.
    pub owner: Option<Owner>,
    /// Who made the PV.
    pub provisioning: Provisioning,
    /// What the model assumes about the backend.
    pub backend: Backend,
    /// A delete failure the evidence shows, which the model must reproduce.
    pub forced_failure: Option<String>,
    /// Set when the evidence shows that out-of-tree actors are not finishing
    /// what the model expects them to (a deletion pending far too long).
    pub stalled: Option<String>,
}

/// How many rounds [`Sim::settle`] runs before it gives up; every actor is
/// idempotent, so a fixpoint is reached in a handful of rounds.
const MAX_ROUNDS: usize = 32;

impl Sim<'_> {
    /// The initial state, from the PV's facts.
    pub fn initial_state(&self) -> State {
        let pv = self.pv;
        State {
            exists: true,
            deleting: pv.deletion.is_some(),
            phase: pv.phase.unwrap_or(Phase::Pending),
            policy: pv.policy.clone(),
            finalizers: pv.finalizers.iter().map(|f| f.to_string()).collect(),
            claim: self.claim_link(),
            attachments: attacher::attachments(self),
            fate: None,
            failures: Vec::new(),
            unknown: None,
        }
    }

    fn claim_link(&self) -> ClaimLink {
        let Some(claim_ref) = &self.pv.claim_ref else {
            // A claim that names an unbound PV in spec.volumeName gets it.
            let unbound = matches!(
                self.pv.phase,
                None | Some(Phase::Pending | Phase::Available)
            );
            let named = self.inventory.claim_naming(&self.pv.name).is_some();
            return if unbound && named {
                ClaimLink::Bound
            } else {
                ClaimLink::None
            };
        };
        match self.inventory.claim(&claim_ref.namespace, &claim_ref.name) {
            Some(claim) => match (&claim_ref.uid, &claim.uid) {
                (Some(a), Some(b)) if a != b => ClaimLink::Gone,
                _ if claim
                    .volume_name
                    .as_deref()
                    .is_some_and(|v| v != self.pv.name) =>
                {
                    ClaimLink::Gone
                }
                _ => ClaimLink::Bound,
            },
            // A claim missing from an input that holds claims is gone; when
            // the input holds no claims at all, trust the PV's own phase.
            None if self.inventory.saw_kind("PersistentVolumeClaim") => ClaimLink::Gone,
            None => match self.pv.phase {
                Some(Phase::Bound) | None | Some(Phase::Pending) => ClaimLink::Bound,
                _ => ClaimLink::Gone,
            },
        }
    }

    /// Runs every actor until none changes anything.
    pub fn settle(&self, state: &mut State, trace: &mut Trace) {
        for _ in 0..MAX_ROUNDS {
            let mut changed = false;
            changed |= pv_controller::step(self, state, trace);
            changed |= pv_controller::protect(self, state, trace);
            changed |= provisioner::step(self, state, trace);
            changed |= attacher::step(self, state, trace);
            changed |= remove_if_done(state, trace);
            if !changed {
                return;
            }
        }
    }

    /// The claim is deleted and the pods that used it have ended.
    pub fn delete_claim(&self, state: &mut State, trace: &mut Trace) {
        state.claim = ClaimLink::Gone;
        trace.push(Actor::Human, || {
            "the claim is deleted (once the pods using it have ended)".into()
        });
    }

    /// A new claim binds the available PV.
    pub fn bind_claim(&self, state: &mut State, trace: &mut Trace) {
        state.claim = ClaimLink::Bound;
        trace.push(Actor::Human, || "a claim binds the available PV".into());
    }

    /// The PV object is deleted.
    pub fn delete_pv(&self, state: &mut State, trace: &mut Trace) {
        state.deleting = true;
        trace.push(Actor::Human, || "the PV object is deleted".into());
    }
}

fn remove_if_done(state: &mut State, trace: &mut Trace) -> bool {
    if state.exists && state.deleting && state.finalizers.is_empty() {
        state.exists = false;
        trace.push(Actor::ApiServer, || {
            "no finalizer is left: the PV object is removed".into()
        });
        return true;
    }
    false
}

/// Removes pv-protection when the PV is being deleted and no claim holds it.
fn unprotect(state: &mut State) -> bool {
    let held = state.phase == Phase::Bound && state.claim == ClaimLink::Bound;
    state.deleting && !held && state.remove(PV_PROTECTION_FINALIZER)
}
