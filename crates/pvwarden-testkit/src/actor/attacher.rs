//! The CSI external-attacher's detach side, and the attach/detach controller's cleanup.
//!
//! - The attach/detach controller of kube-controller-manager deletes the VolumeAttachment of
//!   a PV whose claim is gone: no pod can use the volume any more.
//! - The external-attacher of a driver detaches a VolumeAttachment being deleted
//!   (`ControllerUnpublishVolume`) and then drops its finalizer from it; a failed detach is
//!   recorded in `status.detachError` and retried.
//! - It drops its finalizer `external-attacher/<driver>` from a PV being deleted once no
//!   VolumeAttachment, of any attacher, names the PV.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::storage::v1::VolumeAttachment;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::cache::{
    has_finalizer, is_deleting, meta_name, volume_claim_ref, volume_csi, volume_phase, without,
    Snapshot,
};
use super::csi;
use super::write::{apply_all, Change};
use super::{Config, Shared, Sidecar};

/// The finalizer an external-attacher puts on PVs and VolumeAttachments of its driver.
///
/// Every byte other than an ASCII letter, digit or `-` becomes `-`, and a trailing `-` gets
/// an `X` after it, as the attacher sanitises driver names.
#[must_use]
pub fn finalizer(driver: &str) -> String {
    let mut name: String = driver
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    if name.ends_with('-') {
        name.push('X');
    }
    format!("external-attacher/{name}")
}

/// Lists the drivers whose attacher runs: those a CSIDriver, a PV or a VolumeAttachment
/// names, minus the stopped ones.
#[must_use]
pub fn running(snapshot: &Snapshot, config: &Config) -> Vec<String> {
    let mut drivers = BTreeSet::new();
    drivers.extend(
        snapshot
            .drivers
            .iter()
            .map(|driver| meta_name(&driver.metadata).to_owned()),
    );
    drivers.extend(
        snapshot
            .volumes
            .iter()
            .filter_map(|pv| volume_csi(pv))
            .map(|csi| csi.driver.clone()),
    );
    drivers.extend(
        snapshot
            .attachments
            .iter()
            .map(|va| va.spec.attacher.clone()),
    );
    drivers
        .into_iter()
        .filter(|driver| !driver.is_empty())
        .filter(|driver| !config.stopped.contains(&Sidecar::Attacher(driver.clone())))
        .collect()
}

/// Decides which PVs lose an attacher finalizer in this pass.
#[must_use]
pub fn release_volumes(snapshot: &Snapshot, drivers: &[String]) -> Vec<Change> {
    let mut changes = Vec::new();
    for pv in &snapshot.volumes {
        let meta = &pv.metadata;
        if !is_deleting(meta) || snapshot.attachments_of(meta_name(meta)).next().is_some() {
            continue;
        }
        let mut finalizers = meta.finalizers.clone().unwrap_or_default();
        for driver in drivers {
            let own = finalizer(driver);
            finalizers.retain(|present| *present != own);
        }
        if finalizers.len() != meta.finalizers.as_ref().map_or(0, Vec::len) {
            changes.push(Change::VolumeFinalizers {
                name: meta_name(meta).to_owned(),
                version: meta.resource_version.clone().unwrap_or_default(),
                finalizers,
            });
        }
    }
    changes
}

/// Decides which VolumeAttachments the attach/detach controller deletes: those of PVs that
/// are gone or no longer bound to an existing claim.
#[must_use]
pub fn unneeded_attachments(snapshot: &Snapshot) -> Vec<Change> {
    snapshot
        .attachments
        .iter()
        .filter(|va| !is_deleting(&va.metadata))
        .filter(|va| {
            let Some(name) = va.spec.source.persistent_volume_name.as_deref() else {
                return false;
            };
            let Some(pv) = snapshot.volume(name) else {
                return true;
            };
            let claim = volume_claim_ref(pv).and_then(|claim_ref| {
                let namespace = claim_ref.namespace.as_deref().unwrap_or_default();
                let claim_name = claim_ref.name.as_deref().unwrap_or_default();
                snapshot.claim(namespace, claim_name).filter(|claim| {
                    claim.metadata.uid.is_some() && claim.metadata.uid == claim_ref.uid
                })
            });
            volume_phase(pv) != "Bound" || claim.is_none()
        })
        .map(|va| Change::DeleteAttachment {
            name: meta_name(&va.metadata).to_owned(),
        })
        .collect()
}

/// Lists the VolumeAttachments being deleted that an attacher still has to detach.
pub fn pending_detaches<'a>(
    snapshot: &'a Snapshot,
    drivers: &'a [String],
) -> impl Iterator<Item = &'a VolumeAttachment> + 'a {
    snapshot
        .attachments
        .iter()
        .map(AsRef::as_ref)
        .filter(move |va| {
            is_deleting(&va.metadata)
                && drivers.contains(&va.spec.attacher)
                && has_finalizer(&va.metadata, &finalizer(&va.spec.attacher))
        })
}

/// The attachers' actor state: the retry schedule of failing detaches.
#[derive(Debug, Default)]
pub struct Actor {
    retries: HashMap<String, Backoff>,
}

impl Actor {
    /// Runs one pass; returns when the earliest retry is due.
    pub async fn pass(&mut self, snapshot: &Snapshot, shared: &Shared) -> Option<Instant> {
        let drivers = running(snapshot, &shared.config);
        apply_all(&shared.client, &release_volumes(snapshot, &drivers)).await;

        let pending: Vec<&VolumeAttachment> = pending_detaches(snapshot, &drivers).collect();
        self.retries
            .retain(|name, _| pending.iter().any(|va| meta_name(&va.metadata) == name));
        for va in pending {
            self.detach(va, snapshot, shared).await;
        }
        self.retries.values().map(Backoff::due).min()
    }

    async fn detach(&mut self, va: &VolumeAttachment, snapshot: &Snapshot, shared: &Shared) {
        let name = meta_name(&va.metadata).to_owned();
        if self
            .retries
            .get(&name)
            .is_some_and(|backoff| backoff.due() > Instant::now())
        {
            return;
        }

        let driver = &va.spec.attacher;
        let handle = va
            .spec
            .source
            .persistent_volume_name
            .as_deref()
            .and_then(|pv| snapshot.volume(pv))
            .and_then(|pv| volume_csi(pv))
            .map(|source| source.volume_handle.clone())
            .unwrap_or_default();
        let outcome = match shared.backend.read().await {
            Ok(inventory) => {
                csi::unpublish_volume(&inventory, driver, &handle).map_err(|s| s.to_string())
            }
            Err(err) => Err(format!("rpc error: code = Unavailable desc = {err}")),
        };

        let change = match outcome {
            Ok(()) => {
                self.retries.remove(&name);
                Change::AttachmentDetached {
                    name,
                    version: va.metadata.resource_version.clone().unwrap_or_default(),
                    finalizers: without(&va.metadata, &finalizer(driver)),
                }
            }
            Err(message) => {
                tracing::debug!(name = %name, driver = %driver, error = %message, "detach failed");
                let retry = &shared.config.retry;
                self.retries
                    .entry(name.clone())
                    .or_insert_with(|| Backoff::new(retry))
                    .fail();
                let recorded = va
                    .status
                    .as_ref()
                    .and_then(|status| status.detach_error.as_ref());
                if recorded.and_then(|error| error.message.as_deref()) == Some(message.as_str()) {
                    return;
                }
                Change::AttachmentDetachError { name, message }
            }
        };
        apply_all(&shared.client, std::slice::from_ref(&change)).await;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
