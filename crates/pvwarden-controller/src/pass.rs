//! One audit pass: the mirrored cluster through the same model as `pvwarden audit`.
//!
//! A pass rebuilds the inventory from the watched objects and judges every PV
//! and claim. It keeps only what metrics and events need: a verdict's story,
//! remedies and evidence are not kept.

use std::collections::HashMap;
use std::time::Instant;

use jiff::Timestamp;
use pvwarden_domain::audit::Auditor;
use pvwarden_domain::evidence::Settings;
use pvwarden_domain::rule::Finding;
use pvwarden_domain::verdict::OnDelete;
use pvwarden_domain::version::{Assumptions, Overrides, Version};

use crate::mirror::Mirror;

/// A finding, as metrics and events use it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Found {
    /// The rule id.
    pub(crate) rule: &'static str,
    /// `info`, `warning` or `error`.
    pub(crate) severity: &'static str,
    /// What was found, in one line.
    pub(crate) message: String,
}

impl From<Finding> for Found {
    fn from(finding: Finding) -> Found {
        Found {
            rule: finding.rule,
            severity: finding.severity.as_str(),
            message: finding.message,
        }
    }
}

/// What one pass says about one PV.
#[derive(Debug, Clone)]
pub(crate) struct Volume {
    /// The PV's name.
    pub(crate) name: String,
    /// Its uid, when the server gave one.
    pub(crate) uid: Option<String>,
    /// `static`, `dynamic` or `unknown`.
    pub(crate) provisioning: &'static str,
    /// What its next deletion does.
    pub(crate) on_delete: &'static str,
    /// How long it has been stuck, when it is.
    pub(crate) stuck_seconds: Option<f64>,
    /// Its findings (silenced ones left out).
    pub(crate) findings: Vec<Found>,
}

/// What one pass found.
#[derive(Debug, Default)]
pub(crate) struct Pass {
    /// Every PV, in name order.
    pub(crate) volumes: Vec<Volume>,
    /// Findings about claims.
    pub(crate) claim_findings: Vec<Found>,
    /// How long the pass took.
    pub(crate) seconds: f64,
}

/// What a pass needs besides the objects.
#[derive(Debug, Clone)]
pub(crate) struct Judge {
    /// The server's release, when it could be read.
    pub(crate) server: Option<Version>,
    /// Releases given by the operator.
    pub(crate) overrides: Overrides,
    /// How long a deletion may be pending before it counts as stuck.
    pub(crate) stuck_after: jiff::SignedDuration,
}

/// When each PV was first seen stuck, for PVs whose object does not say.
pub(crate) type StuckSince = HashMap<String, Timestamp>;

/// Audits the mirror at `now`.
///
/// `since` carries, from pass to pass, when a PV that is not terminating was
/// first seen stuck; PVs no longer stuck leave it.
pub(crate) fn run(mirror: &Mirror, judge: &Judge, now: Timestamp, since: &mut StuckSince) -> Pass {
    let started = Instant::now();
    let mut uids = HashMap::new();
    let inventory = mirror.inventory(&mut |name, uid| {
        uids.insert(name.to_owned(), uid.to_owned());
    });
    let assumptions = Assumptions::from_components(inventory.components())
        .resolve(judge.server, &judge.overrides);
    let settings = Settings {
        now,
        stuck_after: judge.stuck_after,
    };
    let auditor = Auditor::new(&inventory, assumptions, settings).with_story(false);

    let mut outcomes: HashMap<&str, OnDelete> = HashMap::new();
    let mut volumes = Vec::with_capacity(inventory.pvs().len());
    let mut still_stuck = StuckSince::default();
    for pv in inventory.pvs() {
        let verdict = auditor.volume(pv);
        outcomes.insert(pv.name.as_str(), verdict.on_delete);
        let stuck_seconds = verdict.stuck.then(|| {
            let start = pv
                .deletion
                .unwrap_or_else(|| since.get(&pv.name).copied().unwrap_or(now));
            if pv.deletion.is_none() {
                still_stuck.insert(pv.name.clone(), start);
            }
            now.duration_since(start).as_secs_f64().max(0.0)
        });
        volumes.push(Volume {
            uid: uids.remove(&pv.name),
            name: verdict.name,
            provisioning: verdict.provisioning.as_str(),
            on_delete: verdict.on_delete.as_str(),
            stuck_seconds,
            findings: verdict.findings.into_iter().map(Found::from).collect(),
        });
    }
    *since = still_stuck;
    volumes.sort_by(|a, b| a.name.cmp(&b.name));

    let on_delete = |name: &str| outcomes.get(name).copied();
    let claim_findings = inventory
        .claims()
        .iter()
        .flat_map(|claim| auditor.claim(claim, &on_delete).findings)
        .map(Found::from)
        .collect();
    Pass {
        volumes,
        claim_findings,
        seconds: started.elapsed().as_secs_f64(),
    }
}
