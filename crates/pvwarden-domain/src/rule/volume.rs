//! The rules about one PersistentVolume.

use super::share::Sharing;
use super::*;
use crate::audit::Outcome;
use crate::classify::{Classification, Provisioning};
use crate::driver::{Profile, Secrets};
use crate::evidence::Evidence;
use crate::facts::{Phase, PvFacts, ReclaimPolicy};
use crate::handle::HandleReport;
use crate::inventory::Inventory;
use crate::sim::{self, Sim};
use crate::verdict::OnDelete;
use crate::version::Assumptions;

/// Everything the rules may look at for one PV.
pub(crate) struct VolumeContext<'a> {
    pub(crate) pv: &'a PvFacts,
    pub(crate) inventory: &'a Inventory,
    pub(crate) assumptions: &'a Assumptions,
    pub(crate) sim: &'a Sim<'a>,
    pub(crate) classification: &'a Classification,
    pub(crate) handle: Option<&'a HandleReport>,
    pub(crate) outcome: &'a Outcome,
    pub(crate) evidence: &'a Evidence,
    pub(crate) disagreement: Option<&'a str>,
    /// The PVs that share this PV's storage, found once per verdict.
    pub(crate) sharing: Sharing<'a>,
}

impl VolumeContext<'_> {
    fn driver(&self) -> &str {
        self.pv.csi().map_or("", |c| &c.driver)
    }

    /// Returns true when no delete call can ever reach this PV's storage.
    pub(crate) fn never_deletes(&self) -> bool {
        self.pv.csi().is_some_and(|c| {
            self.sim
                .profile
                .handle_never_deletes(&c.handle, self.assumptions.ceph_csi.value)
        })
    }

    pub(crate) fn sharing(&self) -> &Sharing<'_> {
        &self.sharing
    }

    fn is_static(&self) -> bool {
        self.classification.provisioning == Provisioning::Static
    }
}

fn patch_retain(name: &str) -> String {
    format!(
        "patch the PV to Retain (kubectl patch pv {name} --type merge -p \
         '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}')"
    )
}

/// Runs every per-PV rule.
pub(crate) fn check(ctx: &VolumeContext<'_>) -> Vec<Finding> {
    let mut out = Vec::new();
    static_delete(ctx, &mut out);
    stuck_or_hanging(ctx, &mut out);
    sharing(ctx, &mut out);
    markers(ctx, &mut out);
    handle(ctx, &mut out);
    cluster(ctx, &mut out);
    attachments(ctx, &mut out);
    evidence(ctx, &mut out);
    out
}

fn static_delete(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    if !ctx.is_static() || ctx.pv.policy != ReclaimPolicy::Delete {
        return;
    }
    if ctx.never_deletes() {
        let why = ctx
            .handle
            .and_then(|h| h.error.clone())
            .unwrap_or_else(|| "the driver cannot decode it".into());
        let fate = if ctx.outcome.blocking.is_empty() {
            "when its claim goes it stays Released, retried forever".to_owned()
        } else {
            format!(
                "when its claim goes it hangs behind {}",
                ctx.outcome.blocking.join(", ")
            )
        };
        let message = format!(
            "static PV with Delete whose handle the driver {} can never delete ({why}): {fate}",
            ctx.driver()
        );
        let remedy = format!(
            "{}; static volumes are created and deleted by hand",
            patch_retain(&ctx.pv.name)
        );
        out.push(Finding::new(STATIC_DELETE_NEVER_DELETES, message, remedy));
    } else if ctx.outcome.last.fate == Some(crate::driver::Fate::Destroyed) {
        let sharing = ctx.sharing();
        let others: Vec<&str> = sharing.all().map(|p| p.name.as_str()).collect();
        let shared = if others.is_empty() {
            String::new()
        } else {
            format!(", which PVs {} also use", others.join(", "))
        };
        let message = format!(
            "static PV with Delete whose handle reaches real storage: deleting its claim \
             destroys data that existed before the PV{shared}"
        );
        let remedy = format!(
            "{} now, before anyone deletes the claim",
            patch_retain(&ctx.pv.name)
        );
        out.push(Finding::new(STATIC_DELETE_DESTROYS_DATA, message, remedy));
    }
}

fn stuck_or_hanging(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    let o = ctx.outcome;
    if let Some(reason) = &o.stuck {
        let held = if o.blocking.is_empty() {
            "; no finalizer holds it once it is deleted".to_owned()
        } else if reason.contains("held by") {
            String::new()
        } else {
            format!("; held by {}", o.blocking.join(", "))
        };
        let remedy = format!(
            "run `pvwarden explain {}` for the safe way out; do not remove finalizers before \
             reading it",
            ctx.pv.name
        );
        out.push(Finding::new(
            PV_STUCK,
            format!("stuck: {reason}{held}"),
            remedy,
        ));
    } else if o.on_delete == OnDelete::Hangs {
        let flagged = out.iter().any(|f| f.rule == STATIC_DELETE_NEVER_DELETES.id);
        if !flagged {
            let message = format!(
                "its next deletion ({}) hangs: {}",
                o.next.describe(),
                o.reason
            );
            out.push(Finding::new(
                DELETE_WILL_HANG,
                message,
                format!("see `pvwarden explain {}`", ctx.pv.name),
            ));
        }
    }
    if o.on_delete == OnDelete::Orphaned {
        let message = format!(
            "its next deletion ({}) orphans storage: {}",
            o.next.describe(),
            o.reason
        );
        let remedy = "fix why the driver cannot delete it (see `pvwarden explain`), or switch \
                      to Retain and delete the storage deliberately";
        out.push(Finding::new(DELETE_ORPHANS_STORAGE, message, remedy));
    }
}

fn sharing(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    let sharing = ctx.sharing();
    if sharing.is_alone() {
        if ctx.classification.provisioning == Provisioning::Dynamic
            && ctx.pv.policy == ReclaimPolicy::Retain
            && ctx.pv.phase == Some(Phase::Bound)
        {
            let class_deletes = ctx
                .pv
                .storage_class
                .as_deref()
                .and_then(|c| ctx.inventory.class(c))
                .is_some_and(|c| c.policy == ReclaimPolicy::Delete);
            if class_deletes {
                let message = "dynamic PV on Retain while its class deletes: when its claim \
                               goes, the storage stays behind until someone removes it";
                let remedy = "switch it back to Delete once nothing else uses the storage, \
                              or plan its removal";
                out.push(Finding::new(RETAIN_LEAKS_STORAGE, message, remedy));
            }
        }
        return;
    }
    fn names(pvs: &[&PvFacts]) -> String {
        pvs.iter()
            .map(|p| p.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
    if !sharing.same_handle.is_empty() {
        let message = format!(
            "the handle {} is also the handle of {}: the driver deletes by handle, so \
             whichever claim goes first decides for all",
            ctx.pv.csi().map_or("", |c| &c.handle),
            names(&sharing.same_handle)
        );
        let remedy = "keep one owner on Delete; give every other PV Retain, and for ceph-csi \
                      a unique handle that can never decode";
        out.push(Finding::new(DUPLICATE_VOLUME_HANDLE, message, remedy));
    }
    let others: Vec<&PvFacts> = sharing.all().collect();
    let is_source = ctx.classification.provisioning == Provisioning::Dynamic;
    if is_source && ctx.pv.policy == ReclaimPolicy::Delete {
        let message = format!(
            "the original of a shared volume has Delete while PVs {} still use its storage: \
             deleting its claim destroys their data",
            names(&others)
        );
        let remedy = format!(
            "{} until the last share is gone",
            patch_retain(&ctx.pv.name)
        );
        out.push(Finding::new(SHARE_SOURCE_DELETE, message, remedy));
        return;
    }
    if is_safe_share(ctx, &others) {
        let message = format!(
            "shares its storage with {}; the share is safe: the original is Retain and \
             every share is a static Retain PV whose handle can never decode",
            names(&others)
        );
        out.push(Finding::new(SHARED_VOLUME, message, "nothing to do"));
    } else if !out.iter().any(|f| f.severity == Severity::Error) {
        let message = format!(
            "shares its storage with {}, and the share is not in its safe form",
            names(&others)
        );
        let remedy = "keep the original on Retain while shares exist, and make every share a \
                      static Retain PV with staticVolume and a handle that never decodes";
        out.push(Finding::new(SHARED_BACKEND, message, remedy));
    }
}

/// A share is safe when no deletion of any member can reach the storage.
fn is_safe_share(ctx: &VolumeContext<'_>, others: &[&PvFacts]) -> bool {
    let ceph_csi = ctx.assumptions.ceph_csi.value;
    let member_safe = |pv: &PvFacts| {
        let static_share = pv.csi().is_some_and(|c| {
            c.is_static_volume() && Profile::for_pv(pv).handle_never_deletes(&c.handle, ceph_csi)
        });
        let retained = pv.policy == ReclaimPolicy::Retain;
        retained && (static_share || !pv.csi().is_some_and(|c| c.is_static_volume()))
    };
    let sources = std::iter::once(ctx.pv).chain(others.iter().copied());
    let mut dynamic_count = 0;
    for pv in sources {
        let dynamic = pv.csi().is_some_and(|c| !c.is_static_volume());
        dynamic_count += usize::from(dynamic);
        if !member_safe(pv) {
            return false;
        }
    }
    dynamic_count <= 1
}

fn markers(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    let copied = &ctx.classification.copied_markers;
    if copied.is_empty() {
        return;
    }
    let message = format!(
        "static PV ({}) carrying dynamic markers: {}",
        ctx.classification.rule,
        copied.join("; ")
    );
    let remedy = "remove the copied provisioner annotations and attributes; tools and people \
                  take them for a dynamic volume";
    out.push(Finding::new(COPIED_DYNAMIC_MARKERS, message, remedy));
}

fn handle(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    let Some(report) = ctx.handle else { return };
    for inconsistency in &report.inconsistencies {
        let remedy = "take handles from the live PV the driver made, never from documentation \
                      or by hand";
        out.push(Finding::new(
            HANDLE_INCONSISTENT,
            inconsistency.clone(),
            remedy,
        ));
    }
    if report.family.starts_with("legacy") {
        let message = format!(
            "a ceph-csi v1.0 handle: ceph-csi {} {}",
            ctx.assumptions.ceph_csi.value,
            if ctx.never_deletes() {
                "cannot delete it (it no longer reads v1.0 ids)"
            } else {
                "deletes it only through the legacy metadata store"
            }
        );
        let remedy = "find the image or subvolume from the v1.0 metadata and remove it by \
                      hand, then switch the PV to Retain";
        out.push(Finding::new(LEGACY_VOLUME_ID, message, remedy));
    }
}

fn cluster(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    let pv = ctx.pv;
    if let Some(csi) = pv.csi() {
        if ctx.inventory.saw_kind("CSIDriver") && !ctx.inventory.has_csi_driver(&csi.driver) {
            let message = format!(
                "no CSIDriver {} is in the input: the driver may not be installed, and then \
                 nothing will delete this volume or release its finalizers",
                csi.driver
            );
            let remedy = "install the driver, or, if it is gone for good, decide about the \
                          storage by hand before removing finalizers";
            out.push(Finding::new(DRIVER_NOT_INSTALLED, message, remedy));
        }
        if pv.policy == ReclaimPolicy::Delete && ctx.sim.owner.is_none() {
            let message = format!(
                "no provisioner considers this Delete PV its own (provisioned-by {:?}, driver \
                 {}): nothing will ever delete its storage",
                pv.provisioned_by.as_deref().unwrap_or(""),
                csi.driver
            );
            let remedy = "correct the provisioned-by annotation, or switch to Retain";
            out.push(Finding::new(NO_PROVISIONER_OWNER, message, remedy));
        }
    }
    // CephFS decodes the id before it looks at secrets; RBD checks secrets first.
    let secrets_matter =
        ctx.sim.profile == Profile::CephCsi(crate::driver::CephKind::Rbd) || !ctx.never_deletes();
    if pv.policy == ReclaimPolicy::Delete && ctx.sim.profile.needs_secrets() && secrets_matter {
        if let Secrets::Missing(why) = sim::secrets_for(ctx.sim) {
            let message = format!(
                "{} needs deletion secrets and none can be found: {why}",
                ctx.driver()
            );
            let remedy = "restore the StorageClass or annotate the PV with \
                          volume.kubernetes.io/provisioner-deletion-secret-name/-namespace";
            out.push(Finding::new(MISSING_DELETION_SECRET, message, remedy));
        }
    }
    stale_claim_ref(ctx, out);
    if let Some(csi) = pv.csi() {
        let contents: Vec<String> = ctx
            .inventory
            .snapshot_contents_of(&csi.driver, &csi.handle)
            .map(|c| c.name.clone())
            .collect();
        if !contents.is_empty() {
            let message = format!(
                "VolumeSnapshotContents {} were taken from this volume: the driver may refuse \
                 to delete it, or keep its data, until they are gone",
                contents.join(", ")
            );
            let remedy = "delete the snapshots you no longer need before deleting the volume";
            out.push(Finding::new(SNAPSHOT_HOLDS_VOLUME, message, remedy));
        }
    }
}

fn stale_claim_ref(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    let pv = ctx.pv;
    let Some(claim_ref) = &pv.claim_ref else {
        return;
    };
    let Some(uid) = &claim_ref.uid else { return };
    if pv.phase != Some(Phase::Released) {
        return;
    }
    let Some(claim) = ctx.inventory.claim(&claim_ref.namespace, &claim_ref.name) else {
        return;
    };
    if claim.uid.as_ref().is_some_and(|u| u != uid) {
        let message = format!(
            "Released PV names claim {}/{} with uid {uid}, but that claim now has uid {}: the \
             new claim cannot bind to this PV",
            claim.namespace,
            claim.name,
            claim
                .uid
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default()
        );
        let remedy = format!(
            "keep Retain and clear the stale uid: kubectl patch pv {} --type json -p \
             '[{{\"op\":\"remove\",\"path\":\"/spec/claimRef/uid\"}}]'",
            pv.name
        );
        out.push(Finding::new(STALE_CLAIM_REF, message, remedy));
    }
}

fn attachments(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    let pv = ctx.pv;
    for va in ctx.inventory.attachments_of(&pv.name) {
        let node_gone = ctx.inventory.saw_kind("Node") && !ctx.inventory.has_node(&va.node);
        let released = pv.phase != Some(Phase::Bound) || pv.deletion.is_some();
        if !(released || node_gone || va.detach_error.is_some()) {
            continue;
        }
        let mut why = Vec::new();
        if released {
            why.push(format!(
                "the PV is {}",
                pv.phase.unwrap_or(Phase::Pending).as_str()
            ));
        }
        if node_gone {
            why.push(format!("node {} is not in the input", va.node));
        }
        if let Some(e) = &va.detach_error {
            why.push(format!("detach fails: {e}"));
        }
        let message = format!(
            "VolumeAttachment {} still attaches the PV to node {} ({}); the provisioner will \
             not delete an attached volume",
            va.name,
            va.node,
            why.join("; ")
        );
        let remedy = "make sure the volume is really detached from the node (storage side), \
                      then remove the VolumeAttachment's finalizer";
        out.push(Finding::new(LINGERING_VOLUME_ATTACHMENT, message, remedy));
    }
}

fn evidence(ctx: &VolumeContext<'_>, out: &mut Vec<Finding>) {
    if let Some(failed) = &ctx.evidence.failed_delete {
        if ctx.outcome.stuck.is_none() {
            let message = format!(
                "{} VolumeFailedDelete event(s): {}",
                failed.count, failed.message
            );
            out.push(Finding::new(
                DELETE_FAILING,
                message,
                format!("see `pvwarden explain {}`", ctx.pv.name),
            ));
        }
    }
    if let Some(disagreement) = ctx.disagreement {
        let remedy = "check the provisioner's and attacher's logs, or the backend, to learn \
                      which actor is not finishing";
        out.push(Finding::new(EVIDENCE_DISAGREES, disagreement, remedy));
    }
}
