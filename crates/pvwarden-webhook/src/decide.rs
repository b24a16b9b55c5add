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
//! A write that makes a PV a share of an original that is still `Delete` is
//! judged by the original's `share-source-delete` finding, named after the
//! original: only the original may be `Delete`, and only once no share remains,
//! so the way forward is to set the original to `Retain` first. The share's
//! own `shared-backend` finding is then left out, since it would blame the
//! share for the original's policy. A patch cannot reach the original, so
//! `mutate` refuses as `deny` does for this finding.
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
        let (verdict, neighbours) = match self.verdicts(pv) {
            Ok(verdicts) => verdicts,
            Err(error) => return Decision::deny(format!("pvwarden cannot read the PV: {error}")),
        };
        let before: Vec<Blamed<'_>> = match old.map(|old| self.verdicts(old)) {
            Some(Ok((old, old_neighbours))) => blamed(&old, &old_neighbours)
                .into_iter()
                .map(|b| Blamed {
                    on: b.on.map(str::to_owned),
                    rule: b.finding.rule,
                })
                .collect(),
            // An old object the model cannot read had no findings it could name.
            Some(Err(_)) | None => Vec::new(),
        };
        self.judge(stage, &blamed(&verdict, &neighbours), &before)
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
        self.judged(pv, false).map(|(verdict, _)| verdict)
    }

    /// The verdicts of `pv` and of the PVs that share its storage, with `pv`
    /// as written.
    fn verdicts(
        &self,
        pv: PersistentVolume,
    ) -> Result<(VolumeVerdict, Vec<VolumeVerdict>), Box<ReadError>> {
        self.judged(pv, true)
    }

    fn judged(
        &self,
        pv: PersistentVolume,
        with_neighbours: bool,
    ) -> Result<(VolumeVerdict, Vec<VolumeVerdict>), Box<ReadError>> {
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
        let own = auditor.volume(facts);
        let others = if with_neighbours {
            inventory
                .pvs()
                .iter()
                .filter(|other| other.name != name)
                .map(|other| auditor.volume(other))
                .collect()
        } else {
            Vec::new()
        };
        Ok((own, others))
    }

    fn judge(&self, stage: Stage, findings: &[Judged<'_>], before: &[Blamed<'_>]) -> Decision {
        let mut decision = Decision::allow();
        let mut refusals = Vec::new();
        for judged in findings {
            let finding = judged.finding;
            let brought = !before
                .iter()
                .any(|b| b.rule == finding.rule && b.on.as_deref() == judged.on);
            if let Some(original) = judged.on {
                // A finding of the original: nothing to patch on this object.
                match (self.config.action(finding.rule), brought, stage) {
                    (Action::Off, _, _) | (_, _, Stage::Mutate) => {}
                    (Action::Deny | Action::Mutate, true, Stage::Validate) => {
                        decision.rules.push(finding.rule);
                        refusals.push(original_reason(original, finding));
                    }
                    (_, _, Stage::Validate) => {
                        decision.warnings.push(format!(
                            "pvwarden {}: PV {original}: {}",
                            finding.rule, finding.message
                        ));
                    }
                }
                continue;
            }
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

/// A finding judged for a request: of the PV written, or (`on`) of the
/// original it shares storage with.
struct Judged<'a> {
    on: Option<&'a str>,
    finding: &'a Finding,
}

/// A rule that was already found before an update, and on which PV.
struct Blamed<'a> {
    on: Option<String>,
    rule: &'a str,
}

/// The findings a write is judged by: the PV's own, and the
/// `share-source-delete` findings of the originals it shares storage with.
///
/// The PV's `shared-backend` finding is left out when an original is `Delete`:
/// the original's finding names the PV to change and how.
fn blamed<'a>(own: &'a VolumeVerdict, neighbours: &'a [VolumeVerdict]) -> Vec<Judged<'a>> {
    let originals: Vec<Judged<'a>> = neighbours
        .iter()
        .flat_map(|n| {
            n.findings
                .iter()
                .filter(|f| f.rule == rule::SHARE_SOURCE_DELETE.id)
                .map(|finding| Judged {
                    on: Some(n.name.as_str()),
                    finding,
                })
        })
        .collect();
    let mut judged: Vec<Judged<'a>> = own
        .findings
        .iter()
        .filter(|f| originals.is_empty() || f.rule != rule::SHARED_BACKEND.id)
        .map(|finding| Judged { on: None, finding })
        .collect();
    judged.extend(originals);
    judged
}

fn original_reason(original: &str, finding: &Finding) -> String {
    format!(
        "{}: PV {original} is the original of this share and has Delete: {}; set PV \
         {original} to Retain first: {}",
        finding.rule, finding.message, finding.remedy
    )
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
