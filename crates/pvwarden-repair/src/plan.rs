//! Planning: from the model's verdicts to the exact changes a repair makes.
//!
//! Planning is pure. It reads the verdicts of an audit (their remedies are
//! already ranked, safest first) and the facts of the inventory, and turns
//! each PV asked for into a [`Target`]: what the plan expects to find, and the
//! [`Step`]s to take. What must not be done is a [`Refusal`] with its reason
//! and the safe manual step. The [`Plan::digest`] binds a confirmation to
//! exactly this plan.
//!
//! The rules, in order of safety:
//! 1. A PV its provisioner holds is patched to `Retain`; the provisioner then
//!    drops its own finalizer. A Released PV that is not being deleted yet is
//!    then deleted as an object (never through its storage).
//! 2. A finalizer is removed (exactly one, by index) only where the model
//!    says no storage can be lost by it, and only after waiting for its owner.
//! 3. A dynamic PV whose storage may still hold data is refused unless named
//!    with `--orphan-backend`; its backend id then goes in the journal.
//! 4. `pv-protection` is never removed. A VolumeAttachment is released only
//!    with `--detach-stale`, and only when its node no longer exists.
//! 5. With `--rebind`, a Released PV's stale claim uid is cleared.
//! 6. Everything else is reported, never forced.

use std::collections::BTreeSet;

use pvwarden_domain::audit::Auditor;
use pvwarden_domain::classify::Provisioning;
use pvwarden_domain::driver::Backend;
use pvwarden_domain::facts::{
    Phase, PvFacts, ReclaimPolicy, PROVISIONER_FINALIZER, PV_PROTECTION_FINALIZER,
};
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::verdict::{ClaimVerdict, OnDelete, RemedyKind, VolumeVerdict};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a repair is asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Request {
    /// What kind of repair.
    pub mode: Mode,
    /// PVs by name, and claims as `namespace/name`.
    pub names: Vec<String>,
    /// Every stuck PV and claim too.
    pub all_stuck: bool,
    /// Dynamic PVs whose storage may be left without a PV, by name.
    pub orphan_backend: Vec<String>,
    /// Release VolumeAttachments whose node no longer exists.
    pub detach_stale: bool,
    /// The Node list was read whole, so a node missing from the inventory is
    /// gone (an inventory only shows that when it holds at least one Node).
    pub nodes_listed: bool,
    /// Clear the stale claim uid of Released PVs so that a new claim binds.
    pub rebind: bool,
    /// At most this many changes; further targets wait for a later run.
    pub max_changes: Option<usize>,
}

/// The kinds of repair.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    /// `pvwarden fix`: stuck PVs and claims.
    #[default]
    Fix,
    /// `pvwarden prune --released-static`: Released static PV objects.
    PruneReleasedStatic,
}

/// The changes of one repair, per PV, and what was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// What kind of repair.
    pub mode: Mode,
    /// The PVs changed, in name order.
    pub targets: Vec<Target>,
    /// What will not be done, with the reason and the safe manual step.
    pub refused: Vec<Refusal>,
    /// PVs and claims asked for that need nothing.
    pub fine: Vec<String>,
    /// PVs left for a later run by `--max-changes`.
    pub deferred: Vec<String>,
}

/// One PV's changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    /// The PV.
    pub pv: String,
    /// What the PV must look like when the run starts on it.
    pub expect: Expect,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// A backend volume the repair leaves without a PV (`--orphan-backend`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub orphans: Option<String>,
}

/// The parts of a PV a plan depends on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expect {
    /// The reclaim policy.
    pub policy: String,
    /// The finalizers, in order.
    pub finalizers: Vec<String>,
    /// Whether it has a deletion timestamp.
    pub terminating: bool,
    /// The uid in its claim reference.
    pub claim_uid: Option<String>,
}

/// One step of a target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// What is done.
    #[serde(flatten)]
    pub action: Action,
    /// Why it is safe, in a sentence.
    pub why: String,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "action")]
pub enum Action {
    /// Patches the reclaim policy from `from` to `Retain`.
    SetRetain {
        /// The policy expected before.
        from: String,
    },
    /// Deletes the PV object; only ever done once its policy is `Retain`.
    DeletePv,
    /// Waits (bounded by the run's timeout) until the PV is gone.
    AwaitGone,
    /// Removes exactly this finalizer, found by value, tested by index.
    RemoveFinalizer {
        /// The finalizer.
        finalizer: String,
    },
    /// Removes the claim uid from the PV's claim reference.
    ClearClaimUid {
        /// The stale uid.
        uid: String,
    },
    /// Removes the attacher's finalizer from a VolumeAttachment of a gone node.
    ReleaseAttachment {
        /// The VolumeAttachment.
        name: String,
        /// The node it names, which no longer exists.
        node: String,
    },
}

impl Action {
    /// Whether the step writes to the cluster (waits do not).
    pub fn is_change(&self) -> bool {
        !matches!(self, Action::AwaitGone)
    }

    /// The action as a short phrase, for tables.
    pub fn describe(&self) -> String {
        match self {
            Action::SetRetain { from } => format!("set reclaim policy {from} -> Retain"),
            Action::DeletePv => "delete the PV object (storage untouched)".into(),
            Action::AwaitGone => "wait for the PV to go".into(),
            Action::RemoveFinalizer { finalizer } => {
                format!("if still there: remove finalizer {finalizer}")
            }
            Action::ClearClaimUid { uid } => format!("clear stale claimRef uid {uid}"),
            Action::ReleaseAttachment { name, node } => {
                format!("release VolumeAttachment {name} (node {node} is gone)")
            }
        }
    }
}

/// Something the repair will not do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The PV, or `namespace/name` of a claim.
    pub subject: String,
    /// Why not.
    pub reason: String,
    /// The safe manual step, or the flag that allows it.
    pub manual: String,
}

impl Plan {
    /// The digest a confirmation must quote: 12 hex digits of the SHA-256 of
    /// the plan's canonical JSON.
    pub fn digest(&self) -> String {
        let canonical = serde_json::to_vec(self).unwrap_or_default();
        let hash = Sha256::digest(&canonical);
        hash.iter().take(6).map(|b| format!("{b:02x}")).collect()
    }

    /// How many changes the plan makes (waits not counted).
    pub fn changes(&self) -> usize {
        self.targets.iter().map(Target::changes).sum()
    }

    /// Whether the plan changes nothing.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }
}

impl Target {
    /// How many changes the target makes.
    pub fn changes(&self) -> usize {
        self.steps.iter().filter(|s| s.action.is_change()).count()
    }
}

impl Expect {
    /// What the plan depends on, from the model's facts.
    pub fn of(pv: &PvFacts) -> Expect {
        Expect {
            policy: pv.policy.as_str().to_owned(),
            finalizers: pv.finalizers.iter().map(|f| f.to_string()).collect(),
            terminating: pv.deletion.is_some(),
            claim_uid: pv
                .claim_ref
                .as_ref()
                .and_then(|r| r.uid.as_ref())
                .map(ToString::to_string),
        }
    }
}

/// Plans a repair from an audit's verdicts.
pub fn plan(
    inventory: &Inventory,
    volumes: &[VolumeVerdict],
    claims: &[ClaimVerdict],
    request: &Request,
) -> Plan {
    let mut plan = Plan {
        mode: request.mode,
        ..Plan::default()
    };
    let named: BTreeSet<&str> = request.names.iter().map(String::as_str).collect();
    let mut outcomes = Vec::new();
    for verdict in volumes {
        let Some(pv) = inventory.pv(&verdict.name) else {
            continue;
        };
        let asked = named.contains(verdict.name.as_str());
        let outcome = match request.mode {
            Mode::Fix if asked || (request.all_stuck && verdict.stuck) => {
                fix_volume(inventory, pv, verdict, request, asked)
            }
            Mode::PruneReleasedStatic if asked || named.is_empty() => prune_volume(pv, verdict),
            _ => continue,
        };
        outcomes.push((verdict.name.clone(), outcome));
    }
    if request.mode == Mode::Fix {
        for verdict in claims {
            let key = format!("{}/{}", verdict.namespace, verdict.name);
            let asked = named.contains(key.as_str());
            if asked || (request.all_stuck && verdict.stuck) {
                outcomes.push((key, fix_claim(inventory, verdict, request)));
            }
        }
    }
    for name in &named {
        if !outcomes.iter().any(|(n, _)| n == name) && !name_is_known(inventory, name) {
            outcomes.push((
                (*name).to_owned(),
                Outcome::Refused(
                    "no such PV or claim in the cluster".into(),
                    "check the name (claims are namespace/name)".into(),
                ),
            ));
        }
    }

    outcomes.sort_by(|a, b| a.0.cmp(&b.0));
    let mut budget = request.max_changes.unwrap_or(usize::MAX);
    for (subject, outcome) in outcomes {
        match outcome {
            Outcome::Target(target) if target.changes() > budget => plan.deferred.push(subject),
            Outcome::Target(target) => {
                budget -= target.changes();
                merge_target(&mut plan.targets, *target);
            }
            Outcome::Refused(reason, manual) => plan.refused.push(Refusal {
                subject,
                reason,
                manual,
            }),
            Outcome::Fine => plan.fine.push(subject),
        }
    }
    plan.targets.sort_by(|a, b| a.pv.cmp(&b.pv));
    plan
}

/// A claim's repair may target a PV that is also a target itself; one PV is
/// one target, so their steps are joined.
fn merge_target(targets: &mut Vec<Target>, target: Target) {
    match targets.iter_mut().find(|t| t.pv == target.pv) {
        Some(existing) => {
            for step in target.steps {
                if !existing.steps.contains(&step) {
                    existing.steps.push(step);
                }
            }
        }
        None => targets.push(target),
    }
}

fn name_is_known(inventory: &Inventory, name: &str) -> bool {
    match name.split_once('/') {
        Some((namespace, claim)) => inventory.claim(namespace, claim).is_some(),
        None => inventory.pv(name).is_some(),
    }
}

enum Outcome {
    Target(Box<Target>),
    Refused(String, String),
    Fine,
}

fn troubled(verdict: &VolumeVerdict) -> bool {
    verdict.stuck || verdict.on_delete == OnDelete::Hangs
}

fn step(action: Action, why: impl Into<String>) -> Step {
    Step {
        action,
        why: why.into(),
    }
}

/// The steps that let a PV go without its storage: `Retain`, then, for a Released
/// PV no one is deleting yet, the deletion of its object.
fn retain_first(pv: &PvFacts, released: bool, steps: &mut Vec<Step>) {
    if pv.policy != ReclaimPolicy::Retain {
        steps.push(step(
            Action::SetRetain {
                from: pv.policy.as_str().to_owned(),
            },
            "with Retain no delete call reaches the storage, and the provisioner drops its \
             own finalizer",
        ));
    }
    if released && pv.deletion.is_none() {
        steps.push(step(
            Action::DeletePv,
            "the PV is Released: its claim is gone, and Retain keeps its storage",
        ));
    }
}

fn fix_volume(
    inventory: &Inventory,
    pv: &PvFacts,
    verdict: &VolumeVerdict,
    request: &Request,
    asked: bool,
) -> Outcome {
    let kinds: Vec<&RemedyKind> = verdict.remedies.iter().map(|r| &r.kind).collect();
    let target = |steps: Vec<Step>, orphans: Option<String>| {
        Outcome::Target(Box::new(Target {
            pv: pv.name.clone(),
            expect: Expect::of(pv),
            steps,
            orphans,
        }))
    };
    if !troubled(verdict) {
        let endangered = asked && kinds.contains(&&RemedyKind::RetainBeforeDeletion);
        return match retain_only(
            pv,
            "deleting its claim would destroy storage others rely on",
        ) {
            Some(steps) if endangered => target(steps, None),
            _ => Outcome::Fine,
        };
    }
    if let Some(refusal) = protected(inventory, pv, verdict) {
        return refusal;
    }

    let released = pv.phase == Some(Phase::Released) || pv.phase == Some(Phase::Failed);
    if pv.deletion.is_none() && !released {
        // Nothing is deleting the PV yet; only its next deletion would hang. Retain is
        // enough: the PV stays, and no deletion can reach its storage any more.
        let why = "its next deletion would hang or leave storage behind; with Retain it \
                   cannot reach the storage";
        return retain_only(pv, why).map_or(Outcome::Fine, |steps| target(steps, None));
    }

    let holds_data = holds_data(pv, verdict, &kinds);
    let orphan_allowed = request.orphan_backend.contains(&pv.name);
    if holds_data && !orphan_allowed {
        return orphan_refusal(pv, verdict);
    }
    let steps = match going_steps(inventory, pv, &kinds, released, request) {
        Ok(steps) => steps,
        Err(refusal) => return refusal,
    };
    if steps.is_empty() {
        let reason = verdict.stuck_reason.as_deref();
        return Outcome::Refused(
            format!(
                "no safe repair is known: {}",
                reason.unwrap_or(&verdict.on_delete_reason)
            ),
            format!("see `pvwarden explain {}`", pv.name),
        );
    }
    let orphans = (holds_data && orphan_allowed)
        .then(|| pv.csi().map(|c| c.handle.clone()))
        .flatten();
    target(steps, orphans)
}

/// `Retain` alone, for a PV that stays; `None` when it is already `Retain`.
fn retain_only(pv: &PvFacts, why: &str) -> Option<Vec<Step>> {
    (pv.policy == ReclaimPolicy::Delete).then(|| {
        let set = Action::SetRetain {
            from: pv.policy.as_str().to_owned(),
        };
        vec![step(set, why)]
    })
}

fn orphan_refusal(pv: &PvFacts, verdict: &VolumeVerdict) -> Outcome {
    let reason = verdict.stuck_reason.as_deref();
    let fix_first = verdict
        .remedies
        .iter()
        .find(|r| r.kind == RemedyKind::FixDeleteFailure);
    let manual = match fix_first {
        Some(remedy) => format!(
            "{}; or rerun with --orphan-backend {} to keep the storage and journal its id",
            remedy.action, pv.name
        ),
        None => format!(
            "rerun with --orphan-backend {} to keep the storage",
            pv.name
        ),
    };
    Outcome::Refused(
        format!(
            "dynamic PV whose storage may still hold data ({}): repairing it would leave that \
             storage without a PV",
            reason.unwrap_or(&verdict.on_delete_reason)
        ),
        manual,
    )
}

/// The steps that let a PV go: `Retain` (whatever else is done, a PV goes with
/// `Retain`, so no delete call can reach its storage on the way), the deletion of a
/// Released PV's object, then the finalizer surgery the model allows, each after
/// its owner had the chance to let go by itself. Empty when nothing would help.
fn going_steps(
    inventory: &Inventory,
    pv: &PvFacts,
    kinds: &[&RemedyKind],
    released: bool,
    request: &Request,
) -> Result<Vec<Step>, Outcome> {
    let mut steps = Vec::new();
    retain_first(pv, released, &mut steps);
    let mut surgery = Vec::new();
    for kind in kinds {
        match kind {
            RemedyKind::ReleaseAttachment { name, node } => {
                if let Some(refusal) = stale_attachment(inventory, name, node, request) {
                    return Err(refusal);
                }
                let release = Action::ReleaseAttachment {
                    name: name.clone(),
                    node: node.clone(),
                };
                let why = format!("node {node} no longer exists, so nothing is attached there");
                surgery.push(step(release, why));
            }
            RemedyKind::RemoveFinalizer { finalizer } => {
                let remove = Action::RemoveFinalizer {
                    finalizer: finalizer.clone(),
                };
                let why = "no delete call can reach the storage, so no storage can be lost by it";
                surgery.push(step(remove, why));
            }
            _ => {}
        }
    }
    if steps.is_empty() && surgery.is_empty() {
        return Ok(steps);
    }
    let removes = surgery
        .iter()
        .any(|s| matches!(s.action, Action::RemoveFinalizer { .. }));
    if removes {
        let why = "the owners of its finalizers let go of it by themselves";
        steps.push(step(Action::AwaitGone, why));
    }
    steps.extend(surgery);
    steps.push(step(Action::AwaitGone, "nothing holds the PV any more"));
    Ok(steps)
}

/// Whether letting the PV go would leave storage with data behind, storage its
/// `Delete` policy says should go with it: the PV is dynamic (or unknown), and the
/// model does not know the storage to be gone or out of reach of any delete call
/// (it offers the provisioner's finalizer removal only then).
fn holds_data(pv: &PvFacts, verdict: &VolumeVerdict, kinds: &[&RemedyKind]) -> bool {
    let storage_safe = !matches!(verdict.backend, Backend::Present)
        || kinds.iter().any(|k| match k {
            RemedyKind::RemoveFinalizer { finalizer } => finalizer == PROVISIONER_FINALIZER,
            RemedyKind::DeletePv => true,
            _ => false,
        });
    pv.policy == ReclaimPolicy::Delete
        && verdict.provisioning != Provisioning::Static
        && !storage_safe
}

/// `pv-protection` holding a PV whose claim is still bound is never removed.
fn protected(inventory: &Inventory, pv: &PvFacts, verdict: &VolumeVerdict) -> Option<Outcome> {
    if verdict
        .blocking_finalizers
        .iter()
        .all(|f| f != PV_PROTECTION_FINALIZER)
    {
        return None;
    }
    let claim = pv.claim_ref.as_ref()?;
    let bound = inventory
        .claim(&claim.namespace, &claim.name)
        .is_some_and(|c| c.volume_name.as_deref() == Some(pv.name.as_str()));
    bound.then(|| {
        Outcome::Refused(
            format!(
                "claim {}/{} is still bound: kubernetes.io/pv-protection stays while a claim \
                 uses the PV",
                claim.namespace, claim.name
            ),
            format!(
                "delete the claim {}/{} once no pod uses it",
                claim.namespace, claim.name
            ),
        )
    })
}

fn stale_attachment(
    inventory: &Inventory,
    name: &str,
    node: &str,
    request: &Request,
) -> Option<Outcome> {
    let nodes_known = request.nodes_listed || inventory.saw_kind("Node");
    let node_gone = nodes_known && !inventory.has_node(node);
    if request.detach_stale && node_gone {
        return None;
    }
    let reason = if !nodes_known {
        format!("VolumeAttachment {name} still holds the PV, and the nodes could not be read")
    } else if node_gone {
        format!("VolumeAttachment {name} still holds the PV; its node {node} no longer exists")
    } else {
        format!("VolumeAttachment {name} still holds the PV on node {node}, which exists")
    };
    let manual = if node_gone {
        "rerun with --detach-stale to release it".to_owned()
    } else {
        format!("detach the volume from node {node} (drain it, or stop the pod that uses it)")
    };
    Some(Outcome::Refused(reason, manual))
}

fn fix_claim(inventory: &Inventory, verdict: &ClaimVerdict, request: &Request) -> Outcome {
    let stale = inventory.pvs().iter().find(|pv| {
        let Some(claim_ref) = &pv.claim_ref else {
            return false;
        };
        let uid = inventory
            .claim(&verdict.namespace, &verdict.name)
            .and_then(|c| c.uid.clone());
        *claim_ref.namespace == *verdict.namespace
            && claim_ref.name == verdict.name
            && pv.phase == Some(Phase::Released)
            && claim_ref.uid.is_some()
            && claim_ref.uid != uid
    });
    if let Some(pv) = stale {
        let uid = pv
            .claim_ref
            .as_ref()
            .and_then(|r| r.uid.as_ref())
            .map(ToString::to_string)
            .unwrap_or_default();
        if !request.rebind {
            return Outcome::Refused(
                format!(
                    "PV {} still names the deleted claim's uid {uid}, so this claim stays \
                     Pending",
                    pv.name
                ),
                "rerun with --rebind to clear the stale uid so that the claim binds to the \
                 same storage"
                    .into(),
            );
        }
        return Outcome::Target(Box::new(Target {
            pv: pv.name.clone(),
            expect: Expect::of(pv),
            steps: vec![step(
                Action::ClearClaimUid { uid },
                format!(
                    "the claim {}/{} of the same name binds to it; the storage is untouched",
                    verdict.namespace, verdict.name
                ),
            )],
            orphans: None,
        }));
    }
    if !verdict.stuck {
        return Outcome::Fine;
    }
    Outcome::Refused(
        verdict
            .stuck_reason
            .clone()
            .unwrap_or_else(|| "the claim is stuck".into()),
        format!(
            "stop the pods that use it (kubectl get pods -n {}), then let the deletion finish",
            verdict.namespace
        ),
    )
}

fn prune_volume(pv: &PvFacts, verdict: &VolumeVerdict) -> Outcome {
    if pv.phase != Some(Phase::Released) {
        return Outcome::Fine;
    }
    if verdict.provisioning != Provisioning::Static {
        return Outcome::Refused(
            format!(
                "Released PV is {}, not static: its storage was made for it",
                verdict.provisioning.as_str()
            ),
            format!("use `pvwarden fix {}` to repair it from the model", pv.name),
        );
    }
    let mut steps = Vec::new();
    retain_first(pv, true, &mut steps);
    steps.push(step(Action::AwaitGone, "nothing holds the PV any more"));
    Outcome::Target(Box::new(Target {
        pv: pv.name.clone(),
        expect: Expect::of(pv),
        steps,
        orphans: None,
    }))
}

/// The verdicts a plan is made from: every PV's, then every claim's.
pub fn verdicts(
    auditor: &Auditor<'_>,
    inventory: &Inventory,
) -> (Vec<VolumeVerdict>, Vec<ClaimVerdict>) {
    let volumes: Vec<VolumeVerdict> = inventory
        .pvs()
        .iter()
        .map(|pv| auditor.volume(pv))
        .collect();
    let on_delete = |name: &str| {
        inventory
            .pv_position(name)
            .and_then(|i| volumes.get(i))
            .map(|v| v.on_delete)
    };
    let claims = inventory
        .claims()
        .iter()
        .map(|claim| auditor.claim(claim, &on_delete))
        .collect();
    (volumes, claims)
}
