//! The rules about one PersistentVolumeClaim.

use super::*;
use crate::evidence::Settings;
use crate::facts::{ClaimFacts, PvFacts, PVC_PROTECTION_FINALIZER, SNAPSHOT_SOURCE_FINALIZER};
use crate::inventory::Inventory;

/// Checks one claim; returns why it is stuck, if it is, and the findings.
pub(crate) fn check(
    claim: &ClaimFacts,
    bound_pv: Option<&PvFacts>,
    inventory: &Inventory,
    settings: &Settings,
) -> (Option<String>, Vec<Finding>) {
    let mut findings = Vec::new();
    let stuck = match claim.deletion {
        Some(since) => held(claim, inventory, settings, since, &mut findings),
        None if bound_pv.is_none() => pending(claim, inventory, &mut findings),
        None => None,
    };
    (stuck, findings)
}

fn held(
    claim: &ClaimFacts,
    inventory: &Inventory,
    settings: &Settings,
    since: jiff::Timestamp,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    let mut reasons = Vec::new();
    if claim
        .finalizers
        .iter()
        .any(|f| &**f == PVC_PROTECTION_FINALIZER)
    {
        for pod in inventory.pods_using(&claim.namespace, &claim.name) {
            if pod.has_ended() {
                continue;
            }
            let state = match pod.deletion {
                Some(t) if settings.is_overdue(t) => {
                    format!("itself terminating for {} (stuck)", settings.age(t))
                }
                Some(_) => "terminating".to_owned(),
                None => format!(
                    "{} and not being deleted",
                    pod.phase.as_deref().unwrap_or("running")
                ),
            };
            reasons.push(format!("pod {} still uses it, {state}", pod.pod));
        }
    }
    if claim
        .finalizers
        .iter()
        .any(|f| &**f == SNAPSHOT_SOURCE_FINALIZER)
    {
        let snapshots = inventory
            .snapshots_of(&claim.namespace, &claim.name)
            .join(", ");
        reasons.push(format!(
            "a VolumeSnapshot is being taken from it ({snapshots})"
        ));
    }
    if reasons.is_empty() {
        if claim.finalizers.is_empty() || !settings.is_overdue(since) {
            return None;
        }
        let reason = format!(
            "terminating for {}, held by {}",
            settings.age(since),
            claim.finalizers.join(", ")
        );
        return Some(reason);
    }
    let message = format!(
        "claim being deleted is held by kubernetes.io/pvc-protection: {}",
        reasons.join("; ")
    );
    let remedy = "find out why the pod cannot terminate (node, kubelet, unmount) and fix that; \
                  never remove pvc-protection while a pod may still use the volume";
    findings.push(Finding::new(CLAIM_HELD, message, remedy));
    Some(format!(
        "held until its pods are gone: {}",
        reasons.join("; ")
    ))
}

fn pending(
    claim: &ClaimFacts,
    inventory: &Inventory,
    findings: &mut Vec<Finding>,
) -> Option<String> {
    let volume = claim.volume_name.as_deref()?;
    let Some(pv) = inventory.pv(volume) else {
        let message = format!(
            "the claim names PV {volume}, which the input does not hold; add it to the input to \
             learn what deleting the claim does"
        );
        let remedy = "audit the PV together with its claim (kubectl get pv NAME -o yaml)";
        findings.push(Finding::new(CLAIM_VOLUME_MISSING, message, remedy));
        return None;
    };
    let claim_ref = pv.claim_ref.as_ref()?;
    let same_name = *claim_ref.namespace == *claim.namespace && claim_ref.name == claim.name;
    let reason = match (&claim_ref.uid, &claim.uid) {
        (Some(a), Some(b)) if same_name && a != b => format!(
            "PV {volume} still names the earlier claim of this name (uid {a}); this claim \
             (uid {b}) stays Pending forever"
        ),
        _ if !same_name => format!(
            "PV {volume} is bound to claim {}/{}: this claim stays Pending forever",
            claim_ref.namespace, claim_ref.name
        ),
        _ => return None,
    };
    let remedy = if same_name {
        format!(
            "keep the PV on Retain and clear its stale uid: kubectl patch pv {volume} --type \
             json -p '[{{\"op\":\"remove\",\"path\":\"/spec/claimRef/uid\"}}]'"
        )
    } else {
        "point the claim at a free PV, or release this PV from its claim first".to_owned()
    };
    findings.push(Finding::new(CLAIM_PENDING_FOREVER, reason.clone(), remedy));
    Some(reason)
}
