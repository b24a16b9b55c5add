//! The rules: named, documented findings about volumes and claims.
//!
//! Each rule has a stable kebab-case id, a severity and a one-line summary;
//! `docs/rules.md` documents what each detects, why it matters and how to fix
//! it. A finding can be silenced for one object with the annotation
//! `pvwarden.io/ignore.<rule-id>: "<reason>"` (a reason is required).

use serde::Serialize;

mod claim;
mod share;
mod volume;

pub(crate) use self::claim::check as check_claim;
pub use self::share::{keys as backend_keys, ShareIndex};
pub(crate) use self::volume::{check as check_volume, VolumeContext};

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// Something will go wrong, or is wrong without losing data.
    Warning,
    /// Data will be lost, or a volume hangs.
    Error,
}

impl Severity {
    /// The severity as printed.
    pub fn as_str(&self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    /// Reads a severity as printed.
    pub fn parse(s: &str) -> Option<Severity> {
        match s {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "error" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// A rule's fixed description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rule {
    /// The stable id.
    pub id: &'static str,
    /// The default severity.
    pub severity: Severity,
    /// What it detects, in one line.
    pub summary: &'static str,
}

macro_rules! rules {
    ($($name:ident = $id:literal, $sev:ident, $summary:literal;)*) => {
        $(
            #[doc = $summary]
            pub const $name: Rule = Rule { id: $id, severity: Severity::$sev, summary: $summary };
        )*
        /// Every rule, in documentation order.
        pub const RULES: &[Rule] = &[$($name),*];
    };
}

rules! {
    STATIC_DELETE_NEVER_DELETES = "static-delete-never-deletes", Error,
        "A static PV with Delete whose handle the driver can never delete: it hangs on release.";
    STATIC_DELETE_DESTROYS_DATA = "static-delete-destroys-data", Error,
        "A static PV with Delete whose handle reaches real storage: release destroys it.";
    DUPLICATE_VOLUME_HANDLE = "duplicate-volume-handle", Error,
        "Several PVs of one driver carry the same volume handle.";
    SHARE_SOURCE_DELETE = "share-source-delete", Error,
        "The original of a shared volume has Delete while other PVs still use its storage.";
    SHARED_BACKEND = "shared-backend", Warning,
        "Several PVs use one backend volume, and the share is not in its safe form.";
    SHARED_VOLUME = "shared-volume", Info,
        "A deliberate, correctly made share: no deletion of a PV can reach the shared storage.";
    PV_STUCK = "pv-stuck", Error,
        "The PV is already stuck, and named finalizers hold it.";
    DELETE_WILL_HANG = "delete-will-hang", Error,
        "The PV's next deletion will hang: it never goes away by itself.";
    DELETE_ORPHANS_STORAGE = "delete-orphans-storage", Warning,
        "The PV's next deletion removes the object but leaves its Delete storage behind.";
    COPIED_DYNAMIC_MARKERS = "copied-dynamic-markers", Warning,
        "A static PV carries markers copied from a dynamic one.";
    HANDLE_INCONSISTENT = "handle-inconsistent", Warning,
        "The handle disagrees with the PV's own attributes: it was edited by hand.";
    LEGACY_VOLUME_ID = "legacy-volume-id", Warning,
        "A ceph-csi v1.0 (pre-journal) handle that current ceph-csi cannot delete.";
    DRIVER_NOT_INSTALLED = "driver-not-installed", Warning,
        "No CSIDriver exists for the PV's driver: nothing may be running to delete it.";
    NO_PROVISIONER_OWNER = "no-provisioner-owner", Warning,
        "No provisioner considers this Delete PV its own: nothing will ever delete its storage.";
    MISSING_DELETION_SECRET = "missing-deletion-secret", Error,
        "The driver needs deletion secrets and none can be found: deletion fails.";
    STALE_CLAIM_REF = "stale-claim-ref", Warning,
        "A released PV names a claim uid that no longer exists; a re-created claim cannot bind.";
    LINGERING_VOLUME_ATTACHMENT = "lingering-volume-attachment", Warning,
        "A VolumeAttachment still names a PV that is released, deleted, or on a lost node.";
    SNAPSHOT_HOLDS_VOLUME = "snapshot-holds-volume", Warning,
        "VolumeSnapshotContents still point at the volume.";
    DELETE_FAILING = "delete-failing", Warning,
        "Events record failed deletions of the volume.";
    EVIDENCE_DISAGREES = "evidence-disagrees", Info,
        "The evidence contradicts the model's prediction; the evidence decided.";
    RETAIN_LEAKS_STORAGE = "retain-leaks-storage", Info,
        "A dynamic PV kept on Retain although its class deletes: its storage outlives the claim.";
    CLAIM_HELD = "claim-held", Warning,
        "A claim being deleted is held by a pod or a snapshot.";
    CLAIM_PENDING_FOREVER = "claim-pending-forever", Warning,
        "A claim names a PV it can never bind to.";
    CLAIM_VOLUME_MISSING = "claim-volume-missing", Warning,
        "A claim names a PV the input does not hold: what deleting it does cannot be judged.";
    INVALID_IGNORE = "invalid-ignore", Warning,
        "An ignore annotation without a reason, or for an unknown rule.";
}

/// Looks a rule up by id.
pub fn find(id: &str) -> Option<&'static Rule> {
    RULES.iter().find(|r| r.id == id)
}

/// One finding about one object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The rule id.
    pub rule: &'static str,
    /// The severity.
    pub severity: Severity,
    /// What was found, in one line.
    pub message: String,
    /// What to do about it.
    pub remedy: String,
    /// Why it was silenced, when it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suppressed_because: Option<String>,
}

impl Finding {
    /// A finding of a rule.
    pub fn new(rule: Rule, message: impl Into<String>, remedy: impl Into<String>) -> Finding {
        Finding {
            rule: rule.id,
            severity: rule.severity,
            message: message.into(),
            remedy: remedy.into(),
            suppressed_because: None,
        }
    }

    /// The same finding at another severity.
    #[must_use]
    pub fn at(mut self, severity: Severity) -> Finding {
        self.severity = severity;
        self
    }
}

/// Splits findings into kept and silenced, by the object's ignore annotations.
///
/// Malformed annotations become [`INVALID_IGNORE`] findings themselves.
pub(crate) fn apply_ignores(
    findings: Vec<Finding>,
    ignored: &[(String, String)],
) -> (Vec<Finding>, Vec<Finding>) {
    let mut kept = Vec::new();
    let mut suppressed = Vec::new();
    for (rule, reason) in ignored {
        if find(rule).is_none() {
            kept.push(Finding::new(
                INVALID_IGNORE,
                format!("pvwarden.io/ignore.{rule} names no known rule"),
                "use one of the rule ids in docs/rules.md",
            ));
        } else if reason.trim().is_empty() {
            kept.push(Finding::new(
                INVALID_IGNORE,
                format!("pvwarden.io/ignore.{rule} gives no reason, so it is not honoured"),
                "write why the finding does not apply as the annotation's value",
            ));
        }
    }
    for mut finding in findings {
        let reason = ignored
            .iter()
            .find(|(rule, reason)| rule == finding.rule && !reason.trim().is_empty());
        match reason {
            Some((_, reason)) => {
                finding.suppressed_because = Some(reason.clone());
                suppressed.push(finding);
            }
            None => kept.push(finding),
        }
    }
    (kept, suppressed)
}
