//! The CSI external-provisioner's deletion side, one instance per provisioner name.
//!
//! Each PV update runs the provisioner library's steps in order:
//!
//! 1. **Ownership.** With `provisioned-by` (or `migrated-to`) the annotation must name the
//!    provisioner; without it, a CSI PV of its driver is its own (from release 3.5 on).
//! 2. **Finalizer.** With HonorPVReclaimPolicy (default from 5.0, no switch from 6.2) it
//!    adds [`FINALIZER`] to `Bound` `Delete` PVs not being deleted, and removes it from
//!    `Retain`/`Recycle` PVs, whatever their phase.
//! 3. **Delete.** A `Released` `Delete` PV that still has the finalizer, or is not being
//!    deleted yet, is deleted: deletion secrets are resolved, a VolumeAttachment naming the
//!    PV refuses it, then `DeleteVolume` goes to the driver. An error records a
//!    `VolumeFailedDelete` event and is retried with backoff, forever. Success deletes the
//!    PV object, then removes the finalizer from the newest copy of it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use k8s_openapi::api::core::v1::{ObjectReference, PersistentVolume, Secret};
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::json;
use tokio::time::Instant;

use super::backoff::Backoff;
use super::cache::{
    annotation, has_finalizer, is_deleting, meta_name, volume_claim_ref, volume_class, volume_csi,
    volume_phase, without, Snapshot,
};
use super::csi::{self, DeleteRequest, Secrets};
use super::event::warn_volume;
use super::pv_controller::{policy, ANN_MIGRATED_TO, ANN_PROVISIONED_BY};
use super::version::Version;
use super::write::{is_conflict, is_not_found, Change};
use super::{Config, Shared, Sidecar};

/// The finalizer the provisioner keeps on PVs whose storage it must delete.
pub const FINALIZER: &str = "external-provisioner.volume.kubernetes.io/finalizer";
/// PV annotation naming the deletion secret.
pub const ANN_SECRET_NAME: &str = "volume.kubernetes.io/provisioner-deletion-secret-name";
/// PV annotation naming the deletion secret's namespace.
pub const ANN_SECRET_NAMESPACE: &str = "volume.kubernetes.io/provisioner-deletion-secret-namespace";

const CLASS_SECRET_NAME: &str = "csi.storage.k8s.io/provisioner-secret-name";
const CLASS_SECRET_NAMESPACE: &str = "csi.storage.k8s.io/provisioner-secret-namespace";
const CLASS_DEFAULT_SECRET_NAME: &str = "csi.storage.k8s.io/secret-name";
const CLASS_DEFAULT_SECRET_NAMESPACE: &str = "csi.storage.k8s.io/secret-namespace";

/// Static CSI PVs of the provisioner's driver are its own from this release on.
pub const OWNS_STATIC_FROM: Version = Version::new(3, 5, 0);
/// HonorPVReclaimPolicy is on by default from this release on.
pub const FINALIZER_DEFAULT_FROM: Version = Version::new(5, 0, 0);
/// The HonorPVReclaimPolicy switch is gone (always on) from this release on.
pub const FINALIZER_ALWAYS_FROM: Version = Version::new(6, 2, 0);

/// One external-provisioner: its name, release and feature gate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioner {
    /// The provisioner name (usually the driver name).
    pub name: String,
    /// The external-provisioner release.
    pub version: Version,
    /// Whether HonorPVReclaimPolicy is on, i.e. whether it uses [`FINALIZER`].
    pub honor_reclaim_policy: bool,
}

impl Provisioner {
    /// Builds a provisioner of a release, with the feature gate as that release defaults it
    /// unless `honor` says otherwise.
    #[must_use]
    pub fn new(name: &str, version: Version, honor: Option<bool>) -> Self {
        let honor = if version >= FINALIZER_ALWAYS_FROM {
            true
        } else {
            honor.unwrap_or(version >= FINALIZER_DEFAULT_FROM)
        };
        Self {
            name: name.to_owned(),
            version,
            honor_reclaim_policy: honor,
        }
    }

    /// Returns whether the PV is this provisioner's to handle.
    #[must_use]
    pub fn owns(&self, pv: &PersistentVolume) -> bool {
        let migrated = annotation(&pv.metadata, ANN_MIGRATED_TO) == Some(self.name.as_str());
        if let Some(by) = annotation(&pv.metadata, ANN_PROVISIONED_BY) {
            return by == self.name || migrated;
        }
        if self.version < OWNS_STATIC_FROM {
            return false;
        }
        match volume_csi(pv) {
            Some(source) => source.driver == self.name,
            None => migrated,
        }
    }

    /// Returns the PV's new finalizers when this provisioner adds or removes its own.
    #[must_use]
    pub fn finalizer_change(&self, pv: &PersistentVolume) -> Option<Vec<String>> {
        let meta = &pv.metadata;
        let has = has_finalizer(meta, FINALIZER);
        let policy = policy(pv);
        if !self.honor_reclaim_policy || matches!(policy, "Retain" | "Recycle") {
            return has.then(|| without(meta, FINALIZER));
        }
        let wants = policy == "Delete" && !is_deleting(meta) && volume_phase(pv) == "Bound";
        (wants && !has).then(|| super::cache::with(meta, FINALIZER))
    }

    /// Returns whether the provisioner would delete the PV's storage now.
    #[must_use]
    pub fn should_delete(&self, pv: &PersistentVolume) -> bool {
        let meta = &pv.metadata;
        if is_deleting(meta) && (!self.honor_reclaim_policy || !has_finalizer(meta, FINALIZER)) {
            return false;
        }
        volume_phase(pv) == "Released" && policy(pv) == "Delete"
    }
}

/// Lists the provisioners a cluster like this one runs, minus the stopped ones.
///
/// A provisioner runs for every name a StorageClass, a CSIDriver, a PV's `provisioned-by`
/// or `migrated-to` annotation or a PV's CSI driver mentions, except in-tree
/// `kubernetes.io/` plugins.
#[must_use]
pub fn running(snapshot: &Snapshot, config: &Config) -> Vec<Provisioner> {
    let mut names = BTreeSet::new();
    names.extend(
        snapshot
            .classes
            .iter()
            .map(|class| class.provisioner.clone()),
    );
    names.extend(
        snapshot
            .drivers
            .iter()
            .map(|driver| meta_name(&driver.metadata).to_owned()),
    );
    for pv in &snapshot.volumes {
        names.extend(annotation(&pv.metadata, ANN_PROVISIONED_BY).map(str::to_owned));
        names.extend(annotation(&pv.metadata, ANN_MIGRATED_TO).map(str::to_owned));
        names.extend(volume_csi(pv).map(|source| source.driver.clone()));
    }

    names
        .into_iter()
        .filter(|name| !name.is_empty() && !name.starts_with("kubernetes.io/"))
        .filter(|name| !config.stopped.contains(&Sidecar::Provisioner(name.clone())))
        .map(|name| {
            let version = config.provisioner_versions.get(&name).copied();
            let version = version.unwrap_or(config.provisioner);
            Provisioner::new(&name, version, config.honor_reclaim_policy)
        })
        .collect()
}

/// What the provisioners do with one PV in a pass.
#[derive(Debug, Clone)]
pub enum Step {
    /// Add or remove the finalizer.
    Finalizers(Change),
    /// Delete the storage of this PV.
    Delete {
        /// The PV as decided on.
        pv: Arc<PersistentVolume>,
        /// The provisioner that owns it.
        provisioner: String,
    },
}

/// Decides the provisioners' steps for one pass.
#[must_use]
pub fn decide(snapshot: &Snapshot, provisioners: &[Provisioner]) -> Vec<Step> {
    let mut steps = Vec::new();
    for pv in &snapshot.volumes {
        let Some(owner) = provisioners.iter().find(|provisioner| provisioner.owns(pv)) else {
            continue;
        };
        if let Some(finalizers) = owner.finalizer_change(pv) {
            steps.push(Step::Finalizers(Change::VolumeFinalizers {
                name: meta_name(&pv.metadata).to_owned(),
                version: pv.metadata.resource_version.clone().unwrap_or_default(),
                finalizers,
            }));
        } else if owner.should_delete(pv) {
            steps.push(Step::Delete {
                pv: Arc::clone(pv),
                provisioner: owner.name.clone(),
            });
        }
    }
    steps
}

/// A deletion secret as named by the PV or its StorageClass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName {
    /// The secret's namespace.
    pub namespace: String,
    /// The secret's name.
    pub name: String,
}

/// Finds which secret `DeleteVolume` gets: the PV's annotations, else the StorageClass's
/// provisioner secret (with `${pv.name}`, `${pvc.namespace}` and `${pvc.name}` resolved).
///
/// # Errors
///
/// The message the provisioner fails with when the class's secret parameters are wrong.
pub fn secret_name(
    pv: &PersistentVolume,
    snapshot: &Snapshot,
) -> Result<Option<SecretName>, String> {
    let meta = &pv.metadata;
    let annotated = (
        annotation(meta, ANN_SECRET_NAME),
        annotation(meta, ANN_SECRET_NAMESPACE),
    );
    if let (Some(name), Some(namespace)) = annotated {
        // Both empty says "no secret needed"; one empty names nothing usable.
        if name.is_empty() || namespace.is_empty() {
            return Ok(None);
        }
        let (namespace, name) = (namespace.to_owned(), name.to_owned());
        return Ok(Some(SecretName { namespace, name }));
    }

    let class_name = volume_class(pv);
    let class = snapshot
        .class(class_name)
        .filter(|_| !class_name.is_empty());
    match (class, volume_claim_ref(pv)) {
        (Some(class), Some(claim)) => class_secret(pv, class.parameters.as_ref(), claim),
        _ => Ok(None),
    }
}

/// The class's provisioner secret, else its default secret, with templates resolved.
fn class_secret(
    pv: &PersistentVolume,
    parameters: Option<&BTreeMap<String, String>>,
    claim: &ObjectReference,
) -> Result<Option<SecretName>, String> {
    let empty = BTreeMap::new();
    let parameters = parameters.unwrap_or(&empty);
    let mut templates = secret_templates(parameters, CLASS_SECRET_NAME, CLASS_SECRET_NAMESPACE)?;
    if templates.is_none() {
        let (name, namespace) = (CLASS_DEFAULT_SECRET_NAME, CLASS_DEFAULT_SECRET_NAMESPACE);
        templates = secret_templates(parameters, name, namespace)?;
    }
    let Some((name, namespace)) = templates else {
        return Ok(None);
    };

    let pv_name = meta_name(&pv.metadata);
    let claim_namespace = claim.namespace.as_deref().unwrap_or_default();
    let claim_name = claim.name.as_deref().unwrap_or_default();
    let namespace_params = [("pv.name", pv_name), ("pvc.namespace", claim_namespace)];
    let name_params = [
        namespace_params[0],
        namespace_params[1],
        ("pvc.name", claim_name),
    ];
    let err = |err| format!("failed to get secretreference for volume {pv_name}: {err}");
    Ok(Some(SecretName {
        namespace: resolve(namespace, &namespace_params).map_err(err)?,
        name: resolve(name, &name_params).map_err(err)?,
    }))
}

fn secret_templates<'a>(
    parameters: &'a BTreeMap<String, String>,
    name_key: &str,
    namespace_key: &str,
) -> Result<Option<(&'a str, &'a str)>, String> {
    match (parameters.get(name_key), parameters.get(namespace_key)) {
        (Some(name), Some(namespace)) => Ok(Some((name, namespace))),
        (None, None) => Ok(None),
        _ => Err(format!(
            "either {name_key} or {namespace_key} is missing, both must be given"
        )),
    }
}

/// Expands `${key}` the way Go's `os.Expand` does, failing on keys it cannot resolve.
fn resolve(template: &str, params: &[(&str, &str)]) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("error resolving value {template:?}"))?;
        let key = &after[..end];
        let value = params
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| *value);
        out.push_str(value.ok_or_else(|| format!("error resolving value {template:?}"))?);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    if out.is_empty() {
        return Err(format!("{template:?} resolved to an empty name"));
    }
    Ok(out)
}

/// The provisioners' actor state: the retry schedule and the deletions already done.
#[derive(Debug, Default)]
pub struct Actor {
    retries: HashMap<String, Backoff>,
    done: HashMap<String, String>,
}

impl Actor {
    /// Runs one pass; returns when the earliest retry is due.
    pub async fn pass(&mut self, snapshot: &Snapshot, shared: &Shared) -> Option<Instant> {
        let provisioners = running(snapshot, &shared.config);
        let steps = decide(snapshot, &provisioners);
        let deleting: BTreeSet<&str> = steps
            .iter()
            .filter_map(|step| match step {
                Step::Delete { pv, .. } => Some(meta_name(&pv.metadata)),
                Step::Finalizers(_) => None,
            })
            .collect();
        self.retries
            .retain(|name, _| deleting.contains(name.as_str()));
        self.done.retain(|name, _| snapshot.volume(name).is_some());

        for step in steps {
            match step {
                Step::Finalizers(change) => {
                    super::write::apply_all(&shared.client, std::slice::from_ref(&change)).await;
                }
                Step::Delete { pv, provisioner } => {
                    self.delete(&pv, &provisioner, snapshot, shared).await;
                }
            }
        }
        self.retries.values().map(Backoff::due).min()
    }

    async fn delete(
        &mut self,
        pv: &PersistentVolume,
        provisioner: &str,
        snapshot: &Snapshot,
        shared: &Shared,
    ) {
        let name = meta_name(&pv.metadata).to_owned();
        let version = pv.metadata.resource_version.clone().unwrap_or_default();
        if self.done.get(&name) == Some(&version) {
            return;
        }
        if self
            .retries
            .get(&name)
            .is_some_and(|backoff| backoff.due() > Instant::now())
        {
            return;
        }

        match delete_storage(pv, snapshot, shared).await {
            Ok(()) => {
                tracing::info!(name = %name, provisioner, "volume deleted");
                self.retries.remove(&name);
                self.done.insert(name.clone(), version);
                finish(&shared.client, pv).await;
            }
            Err(message) => {
                tracing::debug!(name = %name, provisioner, error = %message, "deletion failed");
                let component = format!("{provisioner}_csi-provisioner-sim");
                let recorded = warn_volume(
                    &shared.client,
                    pv,
                    "VolumeFailedDelete",
                    &message,
                    &component,
                )
                .await;
                if let Err(err) = recorded {
                    tracing::warn!(name = %name, error = %err, "failed to record event");
                }
                let retry = &shared.config.retry;
                self.retries
                    .entry(name)
                    .or_insert_with(|| Backoff::new(retry))
                    .fail();
            }
        }
    }
}

/// Resolves secrets, refuses attached PVs, and calls the driver's `DeleteVolume`.
async fn delete_storage(
    pv: &PersistentVolume,
    snapshot: &Snapshot,
    shared: &Shared,
) -> Result<(), String> {
    let name = meta_name(&pv.metadata);
    let Some(source) = volume_csi(pv) else {
        return Err("invalid CSI PV".to_owned());
    };
    let secrets = match secret_name(pv, snapshot)? {
        Some(secret) => read_secret(&shared.client, secret).await,
        None => Secrets::None,
    };
    if let Some(attachment) = snapshot.attachments_of(name).next() {
        return Err(format!(
            "persistentvolume {name} is still attached to node {}",
            attachment.spec.node_name
        ));
    }

    let request = DeleteRequest {
        driver: &source.driver,
        volume_id: &source.volume_handle,
        secrets: &secrets,
    };
    let ceph_csi = shared.config.ceph_csi;
    let outcome = shared
        .backend
        .update(|inventory| csi::delete_volume(inventory, &request, ceph_csi))
        .await;
    match outcome {
        Ok(Ok(())) => Ok(()),
        Ok(Err(status)) => Err(status.to_string()),
        Err(err) => Err(format!("rpc error: code = Unavailable desc = {err}")),
    }
}

/// Reads a deletion secret; a secret the API server does not hold counts as named only.
async fn read_secret(client: &Client, secret: SecretName) -> Secrets {
    let api: Api<Secret> = Api::namespaced(client.clone(), &secret.namespace);
    match api.get_opt(&secret.name).await {
        Ok(Some(found)) => {
            let mut data: BTreeMap<String, String> = found
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(key, value)| (key, String::from_utf8_lossy(&value.0).into_owned()))
                .collect();
            data.extend(found.string_data.unwrap_or_default());
            Secrets::Data(data)
        }
        Ok(None) => Secrets::Named {
            namespace: secret.namespace,
            name: secret.name,
        },
        Err(err) => {
            let (namespace, name) = (&secret.namespace, &secret.name);
            tracing::debug!(%namespace, %name, error = %err, "secret not readable");
            Secrets::Named {
                namespace: secret.namespace,
                name: secret.name,
            }
        }
    }
}

/// Deletes the PV object, then removes the finalizer from its newest copy.
async fn finish(client: &Client, pv: &PersistentVolume) {
    let api: Api<PersistentVolume> = Api::all(client.clone());
    let name = meta_name(&pv.metadata);
    if let Err(err) = api.delete(name, &DeleteParams::default()).await {
        if !is_not_found(&err) {
            tracing::warn!(name, error = %err, "failed to delete persistentvolume");
            return;
        }
    }

    // A conflict means another controller changed the PV meanwhile: read it again.
    for _ in 0..5 {
        let fresh = match api.get_opt(name).await {
            Ok(Some(fresh)) => fresh,
            Ok(None) => return,
            Err(err) => {
                tracing::warn!(name, error = %err, "failed to read persistentvolume");
                return;
            }
        };
        if !has_finalizer(&fresh.metadata, FINALIZER) {
            return;
        }
        let version = fresh.metadata.resource_version.clone().unwrap_or_default();
        let patch = json!({"metadata": {
            "resourceVersion": version,
            "finalizers": without(&fresh.metadata, FINALIZER),
        }});
        match api
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
        {
            Ok(_) => return,
            Err(err) if is_not_found(&err) => return,
            Err(err) if is_conflict(&err) => continue,
            Err(err) => {
                tracing::warn!(name, error = %err, "failed to remove finalizer");
                return;
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
