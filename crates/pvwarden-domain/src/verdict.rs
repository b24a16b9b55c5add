//! What the model says about each volume and claim.

use serde::Serialize;

use crate::classify::{Classification, Provisioning};
use crate::driver::{Backend, Fate};
use crate::handle::HandleReport;
use crate::object::Origin;
use crate::rule::Finding;
use crate::sim::{Owner, Step};

/// Where the next deletion of a volume leads once the cluster has settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OnDelete {
    /// The storage stays, as a `Retain` policy or a static volume intends.
    Kept,
    /// The PV goes and its storage is gone.
    Deleted,
    /// The PV goes but storage provisioned for it under `Delete` stays behind.
    Orphaned,
    /// The PV never goes away by itself.
    Hangs,
    /// It depends on something the input does not say.
    Unknown,
}

impl OnDelete {
    /// The value as printed.
    pub fn as_str(&self) -> &'static str {
        match self {
            OnDelete::Kept => "kept",
            OnDelete::Deleted => "deleted",
            OnDelete::Orphaned => "orphaned",
            OnDelete::Hangs => "hangs",
            OnDelete::Unknown => "unknown",
        }
    }
}

/// Which deletion the verdict is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum NextDeletion {
    /// The cluster's own controllers delete the PV without anyone asking.
    ByTheCluster,
    /// The deletion already under way (the PV has a deletion timestamp).
    UnderWay,
    /// Deleting the claim bound to the PV.
    DeleteClaim,
    /// Deleting the claim that will bind the available PV.
    BindThenDeleteClaim,
    /// Deleting the PV object, which nothing else will reclaim.
    DeletePv,
}

impl NextDeletion {
    /// The deletion in words.
    pub fn describe(&self) -> &'static str {
        match self {
            NextDeletion::ByTheCluster => "the cluster reclaims the PV by itself",
            NextDeletion::UnderWay => "the deletion already under way",
            NextDeletion::DeleteClaim => "deleting its claim",
            NextDeletion::BindThenDeleteClaim => "deleting the claim that binds it",
            NextDeletion::DeletePv => "deleting the PV object",
        }
    }
}

/// A step of the story, grouped by what started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Chapter {
    /// What starts this part of the story.
    pub title: String,
    /// What the actors did.
    pub steps: Vec<Step>,
}

/// What a remedy does, for tools that carry it out (`pvwarden fix`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum RemedyKind {
    /// Fix what makes the storage deletion fail; nothing to do on the PV.
    FixDeleteFailure,
    /// Patch the PV to `Retain` so that its provisioner lets go of it.
    SetRetain,
    /// Patch the PV to `Retain` before anyone deletes it (it is not stuck yet).
    RetainBeforeDeletion,
    /// Remove exactly this finalizer from the PV; no storage can be lost by it.
    RemoveFinalizer {
        /// The finalizer.
        finalizer: String,
    },
    /// Release a VolumeAttachment that still holds the PV.
    ReleaseAttachment {
        /// The VolumeAttachment.
        name: String,
        /// The node it names.
        node: String,
    },
    /// Delete the PV object: nothing holds it and its storage is gone.
    DeletePv,
}

/// A way out, in order of safety.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Remedy {
    /// What it does, for tools; not part of the report.
    #[serde(skip)]
    pub kind: RemedyKind,
    /// What to do, in a sentence.
    pub action: String,
    /// The command, where one fits.
    pub command: Option<String>,
    /// Why it is safe (or what it risks).
    pub why: String,
}

/// Everything the model says about one PV.
#[derive(Debug, Clone, Serialize)]
pub struct VolumeVerdict {
    /// The PV's name.
    pub name: String,
    /// Where it was read.
    pub origin: Origin,
    /// The CSI driver, or the in-tree plugin.
    pub driver: String,
    /// The driver profile used.
    pub profile: &'static str,
    /// The reclaim policy.
    pub policy: &'static str,
    /// The phase as given (`Pending` when the object carries no status).
    pub phase: &'static str,
    /// Whether it has a deletion timestamp.
    pub terminating: bool,
    /// Who made it.
    pub provisioning: Provisioning,
    /// The evidence behind that.
    pub classification: Classification,
    /// The provisioner that owns it, if any.
    pub owner: Option<Owner>,
    /// The ceph-csi view of its handle (ceph-csi drivers only).
    pub handle: Option<HandleReport>,
    /// Which deletion [`VolumeVerdict::on_delete`] is about.
    pub next_deletion: NextDeletion,
    /// Where that deletion leads.
    pub on_delete: OnDelete,
    /// Why, in a sentence.
    pub on_delete_reason: String,
    /// What happens to the storage on that path, if anything is called.
    pub storage: Option<Fate>,
    /// True when it is already stuck as given: it will not move on by itself.
    pub stuck: bool,
    /// Why it is stuck.
    pub stuck_reason: Option<String>,
    /// The finalizers still on it once the cluster has settled.
    pub blocking_finalizers: Vec<String>,
    /// The backend state assumed.
    pub backend: Backend,
    /// What the evidence says, in sentences.
    pub evidence: Vec<String>,
    /// Where the evidence and the model disagree, and which one decided.
    pub disagreement: Option<String>,
    /// The step-by-step story (left out of output when cleared).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub story: Vec<Chapter>,
    /// Findings of the rules.
    pub findings: Vec<Finding>,
    /// Findings silenced by an annotation, with the reason given.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Finding>,
    /// Ways out, safest first.
    pub remedies: Vec<Remedy>,
    /// What must not be done, and why.
    pub must_not: Vec<String>,
}

/// Everything the model says about one claim.
#[derive(Debug, Clone, Serialize)]
pub struct ClaimVerdict {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
    /// Where it was read.
    pub origin: Origin,
    /// The PV it is bound to, if it is.
    pub volume: Option<String>,
    /// What happens to its storage when it is deleted (and its pods have ended).
    pub on_delete: OnDelete,
    /// True when it will not move on by itself.
    pub stuck: bool,
    /// Why it is stuck.
    pub stuck_reason: Option<String>,
    /// Findings of the rules.
    pub findings: Vec<Finding>,
    /// Findings silenced by an annotation.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub suppressed: Vec<Finding>,
}
