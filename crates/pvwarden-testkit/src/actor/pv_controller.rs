//! kube-controller-manager's PV controller: binding, release and reclaim.
//!
//! ```text
//!  PV ──claimRef──► claim (namespace/name + uid)        claim ──volumeName──► PV
//!
//!  claim gone, or its uid differs ──► PV Released ──► reclaim by policy
//!      Retain          nothing: a person decides
//!      Delete, dynamic the external provisioner's job (provisioned-by names it)
//!      Delete, static  CSI: the external provisioner's job from Kubernetes 1.31 on;
//!                      before, "no deletable volume plugin matched" and Failed
//!      Recycle         no recycler for CSI volumes: Failed
//! ```
//!
//! Only pre-bound pairs are bound (a claim naming a PV, or a PV whose `claimRef` names a
//! claim); claims that name no PV stay `Pending`, as nothing provisions in this cluster.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use super::cache::{
    annotation, claim_phase, meta_name, meta_namespace, volume_claim_ref, volume_csi, volume_phase,
    Snapshot,
};
use super::version::Version;
use super::write::{Change, ClaimRef, ANN_BIND_COMPLETED};

/// Annotation of a PV made by a provisioner; its value names the provisioner.
pub const ANN_PROVISIONED_BY: &str = "pv.kubernetes.io/provisioned-by";
/// Annotation of an in-tree PV handled by a CSI driver.
pub const ANN_MIGRATED_TO: &str = "pv.kubernetes.io/migrated-to";

/// From this release on kcm leaves static CSI PVs to the external provisioner instead of
/// failing them (kubernetes PRs 122030 and 125767).
pub const STATIC_CSI_LEFT_TO_PROVISIONER: Version = Version::new(1, 31, 0);

/// Decides the PV controller's changes for one pass.
#[must_use]
pub fn decide(snapshot: &Snapshot, kubernetes: Version) -> Vec<Change> {
    let volumes = snapshot
        .volumes
        .iter()
        .filter_map(|pv| sync_volume(pv, snapshot, kubernetes));
    let claims = snapshot
        .claims
        .iter()
        .filter_map(|claim| sync_claim(claim, snapshot));
    volumes.chain(claims).collect()
}

/// Decides what a PV's phase should become.
#[must_use]
pub fn sync_volume(
    pv: &PersistentVolume,
    snapshot: &Snapshot,
    kubernetes: Version,
) -> Option<Change> {
    let phase = volume_phase(pv);
    let Some(claim_ref) = volume_claim_ref(pv) else {
        return volume_phase_change(pv, "Available", None);
    };
    let uid = claim_ref.uid.as_deref().unwrap_or_default();
    if uid.is_empty() {
        // Pre-bound by name only: the claim's sync completes the binding.
        return volume_phase_change(pv, "Available", None);
    }

    let namespace = claim_ref.namespace.as_deref().unwrap_or_default();
    let name = claim_ref.name.as_deref().unwrap_or_default();
    let claim = snapshot
        .claim(namespace, name)
        .filter(|claim| claim.metadata.uid.as_deref() == Some(uid));

    let Some(claim) = claim else {
        // The claim is gone, or was replaced by one with another uid: never rebound.
        return match (phase, reclaim_failure(pv, kubernetes)) {
            ("Failed", _) => None,
            (_, Some(message)) => volume_phase_change(pv, "Failed", Some(message)),
            (_, None) => volume_phase_change(pv, "Released", None),
        };
    };

    match claim
        .spec
        .as_ref()
        .and_then(|spec| spec.volume_name.as_deref())
    {
        Some(bound) if bound == meta_name(&pv.metadata) => volume_phase_change(pv, "Bound", None),
        // The claim's sync finishes a half-done binding.
        None | Some("") => None,
        // The claim got bound to another PV: a PV made for it is no longer needed.
        Some(_) if is_dynamic(pv) && policy(pv) == "Delete" => match phase {
            "Failed" => None,
            _ => volume_phase_change(pv, "Released", None),
        },
        // NOTE: kcm also unbinds PVs it bound itself here; no case needs it.
        Some(_) => None,
    }
}

/// Decides what binding a claim still needs.
#[must_use]
pub fn sync_claim(claim: &PersistentVolumeClaim, snapshot: &Snapshot) -> Option<Change> {
    let wanted = claim
        .spec
        .as_ref()
        .and_then(|spec| spec.volume_name.as_deref());
    let Some(volume_name) = wanted.filter(|name| !name.is_empty()) else {
        return bind_pre_bound_volume(claim, snapshot)
            .or_else(|| claim_phase_change(claim, "Pending"));
    };

    let Some(pv) = snapshot.volume(volume_name) else {
        let lost = annotation(&claim.metadata, ANN_BIND_COMPLETED).is_some();
        return claim_phase_change(claim, if lost { "Lost" } else { "Pending" });
    };

    match volume_claim_ref(pv) {
        None => Some(bind_volume(pv, claim, true)),
        Some(claim_ref) if names_claim(claim_ref, claim) => {
            if claim_ref.uid.as_deref().unwrap_or_default().is_empty() {
                Some(bind_volume(pv, claim, false))
            } else if annotation(&claim.metadata, ANN_BIND_COMPLETED).is_none() {
                Some(bind_claim(claim, volume_name, false))
            } else {
                claim_phase_change(claim, "Bound")
            }
        }
        // The PV is bound to another claim, or to an older claim of the same name.
        Some(_) => claim_phase_change(claim, "Pending"),
    }
}

/// Finds an unbound PV whose `claimRef` names this claim, and binds the claim to it.
fn bind_pre_bound_volume(claim: &PersistentVolumeClaim, snapshot: &Snapshot) -> Option<Change> {
    let pv = snapshot.volumes.iter().find(|pv| {
        volume_claim_ref(pv).is_some_and(|claim_ref| names_claim(claim_ref, claim))
            && volume_phase(pv) != "Released"
            && volume_phase(pv) != "Failed"
    })?;
    Some(bind_claim(claim, meta_name(&pv.metadata), true))
}

fn names_claim(
    claim_ref: &k8s_openapi::api::core::v1::ObjectReference,
    claim: &PersistentVolumeClaim,
) -> bool {
    let uid = claim_ref.uid.as_deref().unwrap_or_default();
    claim_ref.namespace.as_deref().unwrap_or_default() == meta_namespace(&claim.metadata)
        && claim_ref.name.as_deref().unwrap_or_default() == meta_name(&claim.metadata)
        && (uid.is_empty() || Some(uid) == claim.metadata.uid.as_deref())
}

/// Says why kcm fails a released PV it cannot reclaim, if it does.
fn reclaim_failure(pv: &PersistentVolume, kubernetes: Version) -> Option<String> {
    let name = meta_name(&pv.metadata);
    let is_csi = volume_csi(pv).is_some();
    match policy(pv) {
        "Delete" if is_csi && !is_dynamic(pv) && kubernetes < STATIC_CSI_LEFT_TO_PROVISIONER => {
            Some(format!(
                "error getting deleter volume plugin for volume \"{name}\": no deletable volume \
                 plugin matched"
            ))
        }
        "Recycle" if is_csi => Some(format!(
            "error getting recycler volume plugin for volume \"{name}\": no volume plugin matched"
        )),
        _ => None,
    }
}

/// Returns whether a PV carries a provisioner's (or a migration's) annotation.
#[must_use]
pub fn is_dynamic(pv: &PersistentVolume) -> bool {
    annotation(&pv.metadata, ANN_PROVISIONED_BY).is_some()
}

/// Returns a PV's reclaim policy; the API defaults it to `Retain` for static PVs.
#[must_use]
pub fn policy(pv: &PersistentVolume) -> &str {
    pv.spec
        .as_ref()
        .and_then(|spec| spec.persistent_volume_reclaim_policy.as_deref())
        .unwrap_or("Retain")
}

fn volume_phase_change(
    pv: &PersistentVolume,
    phase: &'static str,
    message: Option<String>,
) -> Option<Change> {
    let current = pv.status.as_ref().and_then(|status| status.message.clone());
    if volume_phase(pv) == phase && (message.is_none() || current == message) {
        return None;
    }
    Some(Change::VolumePhase {
        name: meta_name(&pv.metadata).to_owned(),
        version: pv.metadata.resource_version.clone().unwrap_or_default(),
        phase,
        message,
    })
}

fn claim_phase_change(claim: &PersistentVolumeClaim, phase: &'static str) -> Option<Change> {
    (claim_phase(claim) != phase).then(|| Change::ClaimPhase {
        namespace: meta_namespace(&claim.metadata).to_owned(),
        name: meta_name(&claim.metadata).to_owned(),
        version: claim.metadata.resource_version.clone().unwrap_or_default(),
        phase,
    })
}

fn bind_volume(
    pv: &PersistentVolume,
    claim: &PersistentVolumeClaim,
    by_controller: bool,
) -> Change {
    Change::BindVolume {
        name: meta_name(&pv.metadata).to_owned(),
        version: pv.metadata.resource_version.clone().unwrap_or_default(),
        claim: ClaimRef {
            namespace: meta_namespace(&claim.metadata).to_owned(),
            name: meta_name(&claim.metadata).to_owned(),
            uid: claim.metadata.uid.clone().unwrap_or_default(),
        },
        by_controller,
    }
}

fn bind_claim(claim: &PersistentVolumeClaim, volume: &str, by_controller: bool) -> Change {
    Change::BindClaim {
        namespace: meta_namespace(&claim.metadata).to_owned(),
        name: meta_name(&claim.metadata).to_owned(),
        version: claim.metadata.resource_version.clone().unwrap_or_default(),
        volume: volume.to_owned(),
        by_controller,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
