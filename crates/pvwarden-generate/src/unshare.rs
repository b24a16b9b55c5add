//! `unshare`: removing a share without touching the storage it shares.
//!
//! The order matters. A share on `Delete` is first switched to `Retain`: with
//! `Delete`, deleting its claim makes the provisioner call `DeleteVolume`,
//! which hangs forever on a handle ceph-csi cannot read and destroys every
//! sharer's data on one it can. Then the claim goes (the PV is released), and
//! then the PV, which on `Retain` asks nothing of the driver. The source may go
//! back to `Delete` only once no other PV uses its storage.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use crate::error::Error;
use crate::{ANN_ORIGINAL_POLICY, ANN_SOURCE};

/// The share to remove, and what else uses its storage.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The share PV.
    pub share: &'a PersistentVolume,
    /// Its claim, when the input holds it.
    pub claim: Option<&'a PersistentVolumeClaim>,
    /// The PV it shares, when known.
    pub source: Option<&'a PersistentVolume>,
    /// The other PVs that still use the same storage, the source left out.
    pub others: Vec<String>,
}

/// One change to the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Switch a PV's reclaim policy to `Retain`.
    Retain {
        /// The PV.
        pv: String,
    },
    /// Delete a claim and wait until it is gone.
    DeleteClaim {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
    /// Delete a PV on `Retain`.
    DeletePv {
        /// The PV.
        pv: String,
    },
}

impl Action {
    /// The kubectl command that makes this change.
    pub fn command(&self) -> String {
        match self {
            Action::Retain { pv } => format!(
                "kubectl patch pv {pv} -p \
                 '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Retain\"}}}}'"
            ),
            Action::DeleteClaim { namespace, name } => {
                format!("kubectl delete pvc --namespace {namespace} {name} --wait")
            }
            Action::DeletePv { pv } => format!("kubectl delete pv {pv} --wait"),
        }
    }
}

/// A change and why it is made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// Why, in one or two sentences.
    pub why: String,
    /// The change.
    pub action: Action,
}

/// The steps, in order, and what to do with the source afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The share PV.
    pub share: String,
    /// The changes, in order.
    pub steps: Vec<Step>,
    /// What may happen to the source once the share is gone.
    pub source_advice: String,
    /// The command that puts the source back on `Delete`, when that is safe.
    pub restore: Option<String>,
}

/// Plans the removal of a share.
///
/// # Errors
///
/// Returns [`Error::NotAShare`] when the PV is not a static volume, or is the
/// volume other PVs share.
pub fn plan(request: &Request<'_>) -> Result<Plan, Error> {
    let share = request.share;
    let name = share.metadata.name.clone().unwrap_or_default();
    let spec = share.spec.clone().unwrap_or_default();
    let csi = spec.csi.as_ref().ok_or_else(|| Error::NotAShare {
        pv: name.clone(),
        why: "it is not a CSI volume",
    })?;
    let is_static = csi
        .volume_attributes
        .as_ref()
        .and_then(|a| a.get("staticVolume"))
        .is_some_and(|v| v == "true");
    if !is_static {
        return Err(Error::NotAShare {
            pv: name,
            why: "it has no staticVolume: \"true\"; it is the original, which the shares use",
        });
    }

    let mut steps = Vec::new();
    if spec.persistent_volume_reclaim_policy.as_deref() != Some("Retain") {
        steps.push(Step {
            why: format!(
                "{name} is not on Retain: deleting its claim would make the provisioner call \
                 DeleteVolume with its handle, which hangs forever, or, for a handle ceph-csi \
                 can read, deletes the storage every sharer uses."
            ),
            action: Action::Retain { pv: name.clone() },
        });
    }
    if let Some(claim) = request.claim {
        let namespace = claim.metadata.namespace.clone().unwrap_or_default();
        let claim_name = claim.metadata.name.clone().unwrap_or_default();
        steps.push(Step {
            why: format!(
                "The claim first: the PV is then released, and on Retain nothing happens to \
                 the storage. The claim stays Terminating while a pod of {namespace} uses it."
            ),
            action: Action::DeleteClaim {
                namespace,
                name: claim_name,
            },
        });
    }
    steps.push(Step {
        why: "Then the PV: on Retain its deletion asks nothing of the driver, so the shared \
              storage is untouched."
            .to_owned(),
        action: Action::DeletePv { pv: name.clone() },
    });

    let (source_advice, restore) = advice(request);
    Ok(Plan {
        share: name,
        steps,
        source_advice,
        restore,
    })
}

fn advice(request: &Request<'_>) -> (String, Option<String>) {
    let recorded = request
        .share
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_SOURCE));
    let Some(source) = request.source else {
        let named = recorded.map_or(String::new(), |s| format!(" ({s})"));
        return (
            format!(
                "The source{named} is not in the input: check what else uses its storage \
                 before changing its reclaim policy."
            ),
            None,
        );
    };
    let source_name = source.metadata.name.clone().unwrap_or_default();
    if !request.others.is_empty() {
        return (
            format!(
                "Keep the source {source_name} on Retain: {} still use its storage.",
                request.others.join(", ")
            ),
            None,
        );
    }
    let was_delete = source
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_ORIGINAL_POLICY))
        .is_some_and(|p| p == "Delete");
    let policy = source
        .spec
        .as_ref()
        .and_then(|s| s.persistent_volume_reclaim_policy.as_deref());
    if was_delete && policy == Some("Retain") {
        let command = format!(
            "kubectl patch pv {source_name} -p \
             '{{\"spec\":{{\"persistentVolumeReclaimPolicy\":\"Delete\"}},\
             \"metadata\":{{\"annotations\":{{\"{ANN_ORIGINAL_POLICY}\":null}}}}}}'"
        );
        return (
            format!(
                "Once these steps are done, no other PV uses the storage of {source_name}: it \
                 was on Delete before it was shared, and may go back to Delete."
            ),
            Some(command),
        );
    }
    (
        format!(
            "Once these steps are done, no other PV uses the storage of {source_name}; it \
             keeps its policy ({}), as nothing records another one from before the share.",
            policy.unwrap_or("Retain")
        ),
        None,
    )
}

/// Writes the plan as a shell script with a comment before every command.
pub fn render(plan: &Plan) -> String {
    let mut out = String::from("#!/bin/sh\n");
    crate::document::comment(
        &mut out,
        &format!(
            "Removes the share {} without touching the storage it shares. Run the commands in \
             order, each after the one before has finished.",
            plan.share
        ),
    );
    out.push_str("set -e\n");
    for step in &plan.steps {
        out.push('\n');
        crate::document::comment(&mut out, &step.why);
        out.push_str(&step.action.command());
        out.push('\n');
    }
    out.push('\n');
    crate::document::comment(&mut out, &plan.source_advice);
    if let Some(restore) = &plan.restore {
        out.push_str("# ");
        out.push_str(restore);
        out.push('\n');
    }
    out
}
