//! The audit: verdicts for every volume and claim of an [`Inventory`].
//!
//! For one PV the audit:
//! 1. classifies it and reads the evidence;
//! 2. lets the cluster settle from the state given (no human action), which
//!    says whether it is stuck;
//! 3. applies the next deletion (the claim's, or the PV object's, or none when
//!    one is under way) and settles again, which gives `on_delete`;
//! 4. when the evidence says the volume is stuck but the model says it would
//!    move on, repeats 2–3 with the out-of-tree actors stalled, and reports
//!    the disagreement;
//! 5. runs the rules and lists the remedies.

use crate::classify::{classify, Provisioning};
use crate::driver::{Backend, CephKind, Fate, Profile};
use crate::evidence::{self, Evidence, Settings};
use crate::facts::{ClaimFacts, Phase, PvFacts, ReclaimPolicy, Source};
use crate::handle;
use crate::inventory::Inventory;
use crate::remedy;
use crate::rule::{self, ShareIndex, VolumeContext};
use crate::sim::{Owner, Sim, State, Trace};
use crate::verdict::{Chapter, ClaimVerdict, NextDeletion, OnDelete, VolumeVerdict};
use crate::version::Assumptions;

/// Computes verdicts over one inventory.
#[derive(Debug)]
pub struct Auditor<'a> {
    inventory: &'a Inventory,
    assumptions: Assumptions,
    settings: Settings,
    shares: ShareIndex,
    story: bool,
}

/// The outcome of one simulated path.
#[derive(Debug, Clone)]
pub(crate) struct Outcome {
    pub(crate) settled: State,
    pub(crate) last: State,
    pub(crate) next: NextDeletion,
    pub(crate) on_delete: OnDelete,
    pub(crate) reason: String,
    pub(crate) stuck: Option<String>,
    pub(crate) blocking: Vec<String>,
    pub(crate) story: Vec<Chapter>,
}

impl<'a> Auditor<'a> {
    /// Prepares an audit; builds the cross-object indexes once.
    pub fn new(inventory: &'a Inventory, assumptions: Assumptions, settings: Settings) -> Self {
        let shares = ShareIndex::build(inventory);
        Auditor {
            inventory,
            assumptions,
            settings,
            shares,
            story: true,
        }
    }

    /// Whether verdicts carry the step-by-step story (on by default).
    ///
    /// Off saves formatting a story nobody reads, which matters on large clusters.
    #[must_use]
    pub fn with_story(mut self, story: bool) -> Self {
        self.story = story;
        self
    }

    /// The assumptions every verdict of this audit rests on.
    pub fn assumptions(&self) -> &Assumptions {
        &self.assumptions
    }

    /// The verdict for one PV.
    pub fn volume(&self, pv: &PvFacts) -> VolumeVerdict {
        let classification = classify(pv, self.inventory);
        let evidence = evidence::read(pv, self.inventory, &self.settings);
        let mut sim = Sim {
            pv,
            inventory: self.inventory,
            assumptions: &self.assumptions,
            profile: Profile::for_pv(pv),
            owner: Owner::of(pv, self.inventory, &self.assumptions),
            provisioning: classification.provisioning,
            backend: evidence.backend.clone(),
            forced_failure: evidence.failure.clone(),
            stalled: None,
        };
        let mut outcome = run(&sim, self.story);
        let mut disagreement = None;
        if let (None, Some(overdue)) = (&outcome.stuck, &evidence.overdue) {
            let model = outcome.on_delete;
            sim.stalled = Some(format!(
                "{overdue}, longer than the model expects (threshold {}); an out-of-tree \
                 actor is not finishing its work",
                evidence::human_duration(self.settings.stuck_after)
            ));
            outcome = run(&sim, self.story);
            if outcome.stuck.is_none() {
                outcome.stuck = sim.stalled.clone();
            }
            disagreement = Some(format!(
                "the model expects this PV to move on by itself ({}), but {overdue}; the \
                 evidence decides: it is stuck",
                model.as_str()
            ));
        }

        if let (Some(failed), None, None) = (&evidence.failed_delete, &outcome.stuck, &disagreement)
        {
            disagreement = Some(format!(
                "{} VolumeFailedDelete event(s) say deleting failed ({}), but under the assumed \
                 releases the next attempt succeeds; if the events are recent, the cluster runs \
                 older software than assumed (see --ceph-csi-version, --provisioner-version)",
                failed.count, failed.message
            ));
        }

        let handle = pv.csi().and_then(|csi| {
            CephKind::from_driver(&csi.driver).map(|kind| handle::report(csi, kind))
        });
        let ctx = VolumeContext {
            pv,
            inventory: self.inventory,
            assumptions: &self.assumptions,
            sim: &sim,
            classification: &classification,
            handle: handle.as_ref(),
            outcome: &outcome,
            evidence: &evidence,
            disagreement: disagreement.as_deref(),
            sharing: self.shares.sharing(pv, self.inventory),
        };
        let findings = rule::check_volume(&ctx);
        let (remedies, must_not) = remedy::for_volume(&ctx);
        let (findings, suppressed) = rule::apply_ignores(findings, pv.ignored());

        VolumeVerdict {
            name: pv.name.clone(),
            origin: pv.origin.clone(),
            driver: driver_name(pv),
            profile: sim.profile.name(),
            policy: pv.policy.as_str(),
            phase: pv.phase.unwrap_or(Phase::Pending).as_str(),
            terminating: pv.deletion.is_some(),
            provisioning: classification.provisioning,
            owner: sim.owner.clone(),
            handle,
            next_deletion: outcome.next,
            on_delete: outcome.on_delete,
            on_delete_reason: outcome.reason.clone(),
            storage: outcome.last.fate,
            stuck: outcome.stuck.is_some(),
            stuck_reason: outcome.stuck.clone(),
            blocking_finalizers: outcome.blocking.clone(),
            backend: sim.backend.clone(),
            evidence: evidence_lines(&evidence),
            disagreement,
            story: outcome.story,
            classification,
            findings,
            suppressed,
            remedies,
            must_not,
        }
    }

    /// The verdict for one claim, given the verdicts of the PVs computed so far.
    ///
    /// `volumes` gives a PV's `on_delete` by name; a claim bound to a PV it
    /// does not know is judged `unknown`.
    pub fn claim(
        &self,
        claim: &ClaimFacts,
        volumes: &dyn Fn(&str) -> Option<OnDelete>,
    ) -> ClaimVerdict {
        let bound_pv = claim
            .volume_name
            .as_deref()
            .and_then(|name| self.inventory.pv(name))
            .filter(|pv| claim_matches(pv, claim) || pv.claim_ref.is_none());
        let on_delete = match bound_pv {
            Some(pv) => volumes(&pv.name).unwrap_or(OnDelete::Unknown),
            // A claim naming a PV the input lacks cannot be judged.
            None if claim
                .volume_name
                .as_deref()
                .is_some_and(|name| self.inventory.pv(name).is_none()) =>
            {
                OnDelete::Unknown
            }
            // Not yet provisioned: its class decides what its storage will face.
            None if claim.volume_name.is_none() => self.unprovisioned(claim),
            None => OnDelete::Kept,
        };
        let (stuck, findings) = rule::check_claim(claim, bound_pv, self.inventory, &self.settings);
        let (findings, suppressed) = rule::apply_ignores(findings, &claim.ignored);
        ClaimVerdict {
            namespace: claim.namespace.to_string(),
            name: claim.name.clone(),
            origin: claim.origin.clone(),
            volume: bound_pv.map(|pv| pv.name.clone()),
            on_delete,
            stuck: stuck.is_some(),
            stuck_reason: stuck,
            findings,
            suppressed,
        }
    }
}

impl Auditor<'_> {
    /// What deleting a claim that has no volume yet will do once it has one.
    ///
    /// A claim fresh from `helm template` has no PV; its StorageClass will give
    /// the PV its reclaim policy, and with `Delete` deleting the claim then
    /// deletes the storage.
    fn unprovisioned(&self, claim: &ClaimFacts) -> OnDelete {
        let class = claim.storage_class.as_deref().filter(|c| !c.is_empty());
        match class.map(|c| self.inventory.class(c)) {
            // `storageClassName: ""` asks for a pre-provisioned PV: nothing is made.
            None if claim.storage_class.is_some() => OnDelete::Kept,
            Some(Some(class)) if class.policy == ReclaimPolicy::Delete => OnDelete::Deleted,
            Some(Some(_)) => OnDelete::Kept,
            _ => OnDelete::Unknown,
        }
    }
}

/// Returns true when the PV's claimRef names this claim (and its uid, when both have one).
fn claim_matches(pv: &PvFacts, claim: &ClaimFacts) -> bool {
    pv.claim_ref.as_ref().is_some_and(|r| {
        *r.namespace == *claim.namespace
            && r.name == claim.name
            && match (&r.uid, &claim.uid) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    })
}

fn driver_name(pv: &PvFacts) -> String {
    match &pv.source {
        Source::Csi(csi) => csi.driver.to_string(),
        Source::InTree { plugin, .. } => format!("in-tree:{plugin}"),
        Source::None => "none".into(),
    }
}

fn evidence_lines(evidence: &Evidence) -> Vec<String> {
    let mut lines = evidence.notes.clone();
    match (&evidence.overdue, &evidence.deletion_age) {
        (Some(overdue), _) => lines.push(overdue.clone()),
        (None, Some(age)) => lines.push(format!("the deletion timestamp is {age} old")),
        (None, None) => {}
    }
    lines
}

/// Simulates the settling and the next deletion; `record` keeps the story.
fn run(sim: &Sim<'_>, record: bool) -> Outcome {
    let mut story = Vec::new();
    let chapter = |story: &mut Vec<Chapter>, title: &dyn Fn() -> String, trace: Trace| {
        if record {
            story.push(Chapter {
                title: title(),
                steps: trace.into_steps(),
            });
        }
    };
    let mut state = sim.initial_state();
    let mut trace = Trace::new(record);
    sim.settle(&mut state, &mut trace);
    let stuck = stuck_reason(sim, &state);
    chapter(
        &mut story,
        &|| "the cluster settles from the state given".into(),
        trace,
    );
    let settled = state.clone();

    let next = next_deletion(sim, &state);
    let mut trace = Trace::new(record);
    let acted = match next {
        NextDeletion::ByTheCluster | NextDeletion::UnderWay => false,
        NextDeletion::DeleteClaim => {
            sim.delete_claim(&mut state, &mut trace);
            true
        }
        NextDeletion::BindThenDeleteClaim => {
            sim.bind_claim(&mut state, &mut trace);
            sim.settle(&mut state, &mut trace);
            sim.delete_claim(&mut state, &mut trace);
            true
        }
        NextDeletion::DeletePv => {
            sim.delete_pv(&mut state, &mut trace);
            true
        }
    };
    if acted {
        sim.settle(&mut state, &mut trace);
        chapter(
            &mut story,
            &|| format!("next deletion: {}", next.describe()),
            trace,
        );
    }

    let (on_delete, mut reason) = on_delete(sim, &state);
    let blocking = if on_delete == OnDelete::Hangs && !state.deleting {
        // Nothing deletes the PV object by itself; show what would hold it
        // when someone does.
        let mut probe = state.clone();
        let mut trace = Trace::new(record);
        sim.delete_pv(&mut probe, &mut trace);
        sim.settle(&mut probe, &mut trace);
        chapter(
            &mut story,
            &|| "if the PV object is then deleted".into(),
            trace,
        );
        probe.finalizers
    } else if state.exists && state.deleting {
        state.finalizers.clone()
    } else {
        // Gone, or waiting for a person (Released with Retain): nothing holds it.
        Vec::new()
    };
    if on_delete == OnDelete::Hangs {
        reason = hang_reason(&state, &blocking);
    }
    Outcome {
        settled,
        last: state,
        next,
        on_delete,
        reason,
        stuck,
        blocking,
        story,
    }
}

fn next_deletion(sim: &Sim<'_>, s: &State) -> NextDeletion {
    if !s.exists {
        return NextDeletion::ByTheCluster;
    }
    if s.deleting {
        return if sim.pv.deletion.is_some() {
            NextDeletion::UnderWay
        } else {
            NextDeletion::ByTheCluster
        };
    }
    match s.phase {
        Phase::Bound => NextDeletion::DeleteClaim,
        Phase::Pending | Phase::Available => NextDeletion::BindThenDeleteClaim,
        Phase::Released | Phase::Failed => NextDeletion::DeletePv,
    }
}

/// Why a settled PV will not move on by itself, if it will not.
fn stuck_reason(sim: &Sim<'_>, s: &State) -> Option<String> {
    if !s.exists {
        return None;
    }
    let failure = s.failures.last();
    if s.deleting && sim.pv.deletion.is_some() {
        let held = s.finalizers.join(", ");
        let why = match (failure, s.phase) {
            (Some(f), _) => format!("every delete attempt fails ({f})"),
            (None, Phase::Failed) => {
                "the phase is Failed, and the provisioner only deletes Released PVs".into()
            }
            (None, _) => "no actor will remove them".into(),
        };
        return Some(format!("terminating, held by {held}: {why}"));
    }
    let reclaimable =
        matches!(s.phase, Phase::Released | Phase::Failed) && s.policy == ReclaimPolicy::Delete;
    if !reclaimable {
        return None;
    }
    Some(match (failure, s.phase) {
        (Some(f), _) => format!("Released with Delete, and every delete attempt fails ({f})"),
        (None, Phase::Failed) => format!(
            "Failed with Delete: {}",
            sim.pv
                .status_message()
                .unwrap_or("the PV controller gave up on it")
        ),
        (None, _) => "Released with Delete, and no provisioner will delete it".into(),
    })
}

fn on_delete(sim: &Sim<'_>, s: &State) -> (OnDelete, String) {
    if let Some(why) = &s.unknown {
        return (OnDelete::Unknown, why.clone());
    }
    if s.exists && s.fate == Some(Fate::Destroyed) {
        return (
            OnDelete::Deleted,
            "the volume is recycled: its files are scrubbed and the PV is offered again".into(),
        );
    }
    if s.exists {
        let waiting = matches!(s.phase, Phase::Released | Phase::Failed | Phase::Available)
            && s.policy != ReclaimPolicy::Delete;
        if waiting && !s.deleting {
            return (
                OnDelete::Kept,
                format!(
                    "the PV stays {} with {}: the storage is kept until someone decides",
                    s.phase.as_str(),
                    s.policy.as_str()
                ),
            );
        }
        return (OnDelete::Hangs, String::new());
    }
    match s.fate {
        Some(Fate::Destroyed) => (
            OnDelete::Deleted,
            "the PV goes and its storage is destroyed".into(),
        ),
        Some(Fate::AlreadyGone) => (
            OnDelete::Deleted,
            "the PV goes; its storage was already gone".into(),
        ),
        Some(Fate::Archived) => (
            OnDelete::Kept,
            "the PV goes; its storage is archived, not destroyed".into(),
        ),
        Some(Fate::Untouched) | None => untouched(sim, s),
    }
}

/// Why a PV hangs: what holds it, and what keeps failing.
fn hang_reason(s: &State, blocking: &[String]) -> String {
    let held = match (blocking.is_empty(), s.deleting) {
        (false, _) => format!("held by {}", blocking.join(", ")),
        (true, true) => "although no finalizer is left".to_owned(),
        (true, false) => "and nothing deletes it (once someone deletes the PV object, it goes at \
                          once)"
            .to_owned(),
    };
    let why = s
        .failures
        .last()
        .map_or(String::new(), |f| format!("; every delete call fails: {f}"));
    let phase = if s.deleting {
        "terminating"
    } else {
        s.phase.as_str()
    };
    format!("the PV never goes away by itself: it stays {phase}, {held}{why}")
}

fn untouched(sim: &Sim<'_>, s: &State) -> (OnDelete, String) {
    if let Backend::PoolMissing(why) | Backend::Gone(why) = &sim.backend {
        return (
            OnDelete::Deleted,
            format!("the PV goes; its storage was already gone ({why})"),
        );
    }
    let provisioned = sim.provisioning != Provisioning::Static;
    if provisioned && s.policy == ReclaimPolicy::Delete {
        let what = if sim.provisioning == Provisioning::Dynamic {
            "storage provisioned for it"
        } else {
            "its storage (which may have been provisioned for it)"
        };
        let how = if s.fate == Some(Fate::Untouched) {
            "the driver answers OK without deleting anything"
        } else {
            "no delete call reaches the driver"
        };
        return (
            OnDelete::Orphaned,
            format!("the PV goes, but {how}; {what} stays behind with nothing pointing at it"),
        );
    }
    (
        OnDelete::Kept,
        "the PV goes and its storage is left alone".into(),
    )
}
