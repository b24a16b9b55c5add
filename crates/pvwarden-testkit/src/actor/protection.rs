//! kube-controller-manager's pv-protection and pvc-protection controllers.
//!
//! - `kubernetes.io/pv-protection` leaves a PV being deleted once it is no longer `Bound`.
//! - `kubernetes.io/pvc-protection` leaves a claim being deleted once no pod uses it. A pod
//!   uses a claim when it is scheduled, not terminated (`Succeeded`/`Failed`) and not shut
//!   down (deleted with a zero grace period), and names the claim in a volume. A pod whose
//!   deletion has been pending for years still uses it: only the kubelet ends it.
//!
//! Both controllers also put their finalizer on objects that are not being deleted.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Pod};

use super::cache::{
    has_finalizer, is_deleting, meta_name, meta_namespace, volume_phase, with, without, Snapshot,
};
use super::write::Change;

/// The finalizer that keeps a bound PV.
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";
/// The finalizer that keeps a claim a pod uses.
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";

/// Decides pv-protection's changes for one pass.
#[must_use]
pub fn decide_volumes(snapshot: &Snapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    for pv in &snapshot.volumes {
        let meta = &pv.metadata;
        let has = has_finalizer(meta, PV_PROTECTION);
        let finalizers = match (is_deleting(meta), has) {
            (true, true) if volume_phase(pv) != "Bound" => without(meta, PV_PROTECTION),
            (false, false) => with(meta, PV_PROTECTION),
            _ => continue,
        };
        changes.push(Change::VolumeFinalizers {
            name: meta_name(meta).to_owned(),
            version: meta.resource_version.clone().unwrap_or_default(),
            finalizers,
        });
    }
    changes
}

/// Decides pvc-protection's changes for one pass.
#[must_use]
pub fn decide_claims(snapshot: &Snapshot) -> Vec<Change> {
    let mut changes = Vec::new();
    for claim in &snapshot.claims {
        let meta = &claim.metadata;
        let has = has_finalizer(meta, PVC_PROTECTION);
        let finalizers = match (is_deleting(meta), has) {
            (true, true) if !is_used(claim, snapshot) => without(meta, PVC_PROTECTION),
            (false, false) => with(meta, PVC_PROTECTION),
            _ => continue,
        };
        changes.push(Change::ClaimFinalizers {
            namespace: meta_namespace(meta).to_owned(),
            name: meta_name(meta).to_owned(),
            version: meta.resource_version.clone().unwrap_or_default(),
            finalizers,
        });
    }
    changes
}

/// Returns whether any pod still uses the claim.
#[must_use]
pub fn is_used(claim: &PersistentVolumeClaim, snapshot: &Snapshot) -> bool {
    snapshot.pods.iter().any(|pod| uses(pod, claim))
}

/// Lists the pods that keep a claim.
pub fn users<'a>(
    claim: &'a PersistentVolumeClaim,
    snapshot: &'a Snapshot,
) -> impl Iterator<Item = &'a Pod> + 'a {
    snapshot
        .pods
        .iter()
        .map(AsRef::as_ref)
        .filter(move |pod| uses(pod, claim))
}

fn uses(pod: &Pod, claim: &PersistentVolumeClaim) -> bool {
    if meta_namespace(&pod.metadata) != meta_namespace(&claim.metadata) {
        return false;
    }
    if !is_scheduled(pod) || is_terminated(pod) || is_shut_down(pod) {
        return false;
    }

    let claim_name = meta_name(&claim.metadata);
    let pod_name = meta_name(&pod.metadata);
    let volumes = pod
        .spec
        .as_ref()
        .and_then(|spec| spec.volumes.as_deref())
        .unwrap_or_default();
    volumes.iter().any(|volume| {
        let named = volume
            .persistent_volume_claim
            .as_ref()
            .map(|source| source.claim_name.as_str());
        // A generic ephemeral volume's claim is named `<pod>-<volume>`.
        let ephemeral =
            volume.ephemeral.is_some() && format!("{pod_name}-{}", volume.name) == claim_name;
        named == Some(claim_name) || ephemeral
    })
}

/// A pod the scheduler placed; a running pod must have been placed, even when a minimal
/// manifest leaves `nodeName` out.
fn is_scheduled(pod: &Pod) -> bool {
    let node = pod.spec.as_ref().and_then(|spec| spec.node_name.as_deref());
    node.is_some_and(|node| !node.is_empty()) || matches!(pod_phase(pod), "Running" | "Unknown")
}

fn is_terminated(pod: &Pod) -> bool {
    matches!(pod_phase(pod), "Succeeded" | "Failed")
}

/// Deleted with a zero grace period: the kubelet is done with it, or it was force-deleted.
fn is_shut_down(pod: &Pod) -> bool {
    is_deleting(&pod.metadata) && pod.metadata.deletion_grace_period_seconds == Some(0)
}

fn pod_phase(pod: &Pod) -> &str {
    pod.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or_default()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
