//! The decision about one request, with `audit`'s model and rules.
//!
//! A write of a PV is judged by the verdict `audit` would give it in a cluster
//! made of the PVs that share its storage (from the [`View`]) and the
//! StorageClasses. Each finding then gets its rule's [`Action`]:
//!
//! | action | mutating stage | validating stage |
//! |---|---|---|
//! | `mutate` | patch to `Retain`, with a warning | refuse: the patch did not happen |
//! | `deny` | nothing | refuse |
//! | `warn` | nothing | admission warning (findings of severity warning or error) |
//!
//! An UPDATE is refused or changed only for findings it brings: a problem the
//! PV had before the update is only warned about, so that the way out of it
//! (switching to `Retain`, removing a finalizer) is never refused.
//!
//! A deletion of a PV, or of the claim bound to it, is refused when it would
//! destroy storage that other PVs still use and the rule that says so is set
//! to `deny` or `mutate` (a deletion cannot be patched).

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, PersistentVolumeStatus};
use pvwarden_domain::audit::Auditor;
use pvwarden_domain::evidence::Settings;
use pvwarden_domain::rule::{self, backend_keys, Finding, Rule, Severity};
use pvwarden_domain::verdict::{OnDelete, VolumeVerdict};

use crate::config::{Action, Config};
use crate::view::{keys_of, Neighbours, ReadError, View};

/// Which of the two webhook configurations a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// The MutatingWebhookConfiguration (`/mutate`).
    Mutate,
    /// The ValidatingWebhookConfiguration (`/validate`).
    Validate,
}

/// The rules whose finding means a deletion destroys storage other PVs use.
const DATA_LOSS: &[Rule] = &[
    rule::SHARE_SOURCE_DELETE,
    rule::STATIC_DELETE_DESTROYS_DATA,
    rule::DUPLICATE_VOLUME_HANDLE,
];

/// The name judged for a PV created with `generateName` (it has none yet).
const UNNAMED: &str = "(generated name)";

/// What the webhook answers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The reason for a refusal; `None` lets the request through.
    pub denied: Option<String>,
    /// Whether the PV is to be switched to `Retain`.
    pub retain: bool,
    /// Admission warnings, one per finding.
    pub warnings: Vec<String>,
    /// The rules that refused or changed the request.
    pub rules: Vec<&'static str>,
}

impl Decision {
    fn allow() -> Decision {
        Decision::default()
    }

    fn deny(reason: String) -> Decision {
        Decision {
            denied: Some(reason),
            ..Decision::default()
        }
    }
}

/// Judges requests against the view with the configured actions.
#[derive(Debug, Clone)]
pub struct Decider {
    view: View,
    config: Config,
}

impl Decider {
    /// A decider over a view.
    pub fn new(view: View, config: Config) -> Decider {
        Decider { view, config }
    }

    /// The view decisions are made against.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// Judges the creation (`old` is `None`) or update of a PV.
    pub fn pv_write(
        &self,
        stage: Stage,
        mut pv: PersistentVolume,
        old: Option<PersistentVolume>,
    ) -> Decision {
        if old.is_none() {
            // The API server discards the status of a new PV and makes it
            // Pending; judge the PV as it will be stored.
            pv.status = Some(PersistentVolumeStatus {
                phase: Some("Pending".into()),
                ..PersistentVolumeStatus::default()
            });
            pv.metadata.deletion_timestamp = None;
        }
        if pv.metadata.name.as_deref().is_none_or(str::is_empty) {
            pv.metadata.name = Some(UNNAMED.into());
        }
        let verdict = match self.verdict(pv) {
            Ok(verdict) => verdict,
            Err(error) => return Decision::deny(format!("pvwarden cannot read the PV: {error}")),
        };
        let before: Vec<&'static str> = match old.map(|old| self.verdict(old)) {
            Some(Ok(old)) => old.findings.iter().map(|f| f.rule).collect(),
            // An old object the model cannot read had no findings it could name.
            Some(Err(_)) | None => Vec::new(),
        };
        self.judge(stage, &verdict.findings, &before)
    }

    /// Judges the deletion of a PV.
    pub fn pv_delete(&self, stage: Stage, pv: &PersistentVolume) -> Decision {
        if stage == Stage::Mutate {
            return Decision::allow();
        }
        self.deletion(pv, "deleting this PV")
    }

    /// Judges the deletion of a claim, by the PV bound to it.
    pub fn claim_delete(&self, stage: Stage, claim: &PersistentVolumeClaim) -> Decision {
        if stage == Stage::Mutate {
            return Decision::allow();
        }
        let volume = claim.spec.as_ref().and_then(|s| s.volume_name.as_deref());
        let Some(pv) = volume.and_then(|name| self.view.pv(name)) else {
            return Decision::allow();
        };
        let bound = pv
            .spec
            .as_ref()
            .and_then(|s| s.claim_ref.as_ref())
            .is_some_and(|r| {
                r.name == claim.metadata.name && r.namespace == claim.metadata.namespace
            });
        if !bound {
            return Decision::allow();
        }
        self.deletion(&pv, "deleting this claim")
    }

    fn deletion(&self, pv: &PersistentVolume, what: &str) -> Decision {
        let name = pv.metadata.name.as_deref().unwrap_or_default();
        let shared = !self.view.neighbours(name, &keys_of(pv)).pvs.is_empty();
        let Ok(verdict) = self.verdict(pv.clone()) else {
            return Decision::allow();
        };
        if !shared || verdict.on_delete != OnDelete::Deleted {
            return Decision::allow();
        }
        let refusing: Vec<&Finding> = verdict
            .findings
            .iter()
            .filter(|f| DATA_LOSS.iter().any(|r| r.id == f.rule))
            .filter(|f| matches!(self.config.action(f.rule), Action::Deny | Action::Mutate))
            .collect();
        if refusing.is_empty() {
            return Decision::allow();
        }
        let reasons: Vec<String> = refusing.iter().map(|f| reason(f)).collect();
        let mut decision = Decision::deny(format!(
            "pvwarden refuses: {what} destroys storage other PVs use: {}",
            reasons.join("; ")
        ));
        decision.rules = refusing.iter().map(|f| f.rule).collect();
        decision
    }

    /// The verdict `audit` gives `pv` among the PVs that share its storage.
    fn verdict(&self, pv: PersistentVolume) -> Result<VolumeVerdict, Box<ReadError>> {
        let name = pv.metadata.name.clone().unwrap_or_default();
        let name = name.as_str();
        let mut inventory = Neighbours::default().inventory(pv)?;
        let facts = inventory
            .pv(name)
            .expect("the inventory must hold the PV just added to it");
        let neighbours = self.view.neighbours(name, &backend_keys(facts));
        neighbours.add_to(&mut inventory);

        let settings = Settings::at(Timestamp::now());
        let auditor =
            Auditor::new(&inventory, self.config.assumptions.clone(), settings).with_story(false);
        let facts = inventory
            .pv(name)
            .expect("adding neighbours must keep the PV in the inventory");
        Ok(auditor.volume(facts))
    }

    fn judge(&self, stage: Stage, findings: &[Finding], before: &[&str]) -> Decision {
        let mut decision = Decision::allow();
        let mut refusals = Vec::new();
        for finding in findings {
            let brought = !before.contains(&finding.rule);
            match (self.config.action(finding.rule), brought, stage) {
                (Action::Off, _, _) => {}
                (Action::Mutate, true, Stage::Mutate) => {
                    decision.retain = true;
                    decision.rules.push(finding.rule);
                    decision.warnings.push(format!(
                        "pvwarden switched persistentVolumeReclaimPolicy to Retain: {}: {}",
                        finding.rule, finding.message
                    ));
                }
                (Action::Mutate, true, Stage::Validate) => {
                    decision.rules.push(finding.rule);
                    refusals.push(format!(
                        "{} (set to mutate, but no mutating webhook switched it to Retain)",
                        reason(finding)
                    ));
                }
                (Action::Deny, true, Stage::Validate) => {
                    decision.rules.push(finding.rule);
                    refusals.push(reason(finding));
                }
                // Info findings say nothing is wrong: no warning for them.
                (_, _, Stage::Validate) if finding.severity >= Severity::Warning => {
                    decision.warnings.push(warning(finding));
                }
                (_, _, Stage::Validate) => {}
                (_, _, Stage::Mutate) => {}
            }
        }
        if !refusals.is_empty() {
            decision.denied = Some(format!("pvwarden refuses: {}", refusals.join("; ")));
        }
        decision
    }
}

fn reason(finding: &Finding) -> String {
    format!(
        "{}: {}; fix: {}",
        finding.rule, finding.message, finding.remedy
    )
}

fn warning(finding: &Finding) -> String {
    format!("pvwarden {}: {}", finding.rule, finding.message)
}
