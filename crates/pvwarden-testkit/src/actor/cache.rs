//! The watches the actors share: one reflector per kind, one change signal.
//!
//! ```text
//! API server ──watch──► reflector stores ──► Snapshot ──► actor passes
//!                              │
//!                              └── generation counter (tokio watch) wakes every actor
//! ```
//!
//! Actors never read the API server for objects they decide on; they decide on a
//! [`Snapshot`] of the stores and write through the API. A write that raced with another
//! actor fails on its `resourceVersion` and is decided again on the next pass.

use std::collections::BTreeMap;
use std::sync::Arc;

use futures::StreamExt;
use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass, VolumeAttachment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client, Resource};
use serde::de::DeserializeOwned;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument;

/// The stores of every kind the actors read, and the signal that one of them changed.
#[derive(Clone)]
pub struct Cache {
    volumes: Store<PersistentVolume>,
    claims: Store<PersistentVolumeClaim>,
    pods: Store<Pod>,
    attachments: Store<VolumeAttachment>,
    classes: Store<StorageClass>,
    drivers: Store<CSIDriver>,
    generation: watch::Receiver<u64>,
    synced: watch::Receiver<bool>,
}

impl Cache {
    /// Starts one watch per kind; the returned tasks drive them.
    #[must_use]
    pub fn start(client: &Client) -> (Self, Vec<JoinHandle<()>>) {
        let (signal, generation) = watch::channel(0u64);
        let (synced_tx, synced) = watch::channel(false);
        let mut tasks = Vec::new();
        let cache = Self {
            volumes: reflect(Api::all(client.clone()), &signal, &mut tasks),
            claims: reflect(Api::all(client.clone()), &signal, &mut tasks),
            pods: reflect(Api::all(client.clone()), &signal, &mut tasks),
            attachments: reflect(Api::all(client.clone()), &signal, &mut tasks),
            classes: reflect(Api::all(client.clone()), &signal, &mut tasks),
            drivers: reflect(Api::all(client.clone()), &signal, &mut tasks),
            generation,
            synced,
        };

        // NOTE: a store's readiness wakes only one waiter at a time, so one task waits for all
        // stores and tells every actor through a watch channel.
        let stores = cache.clone();
        tasks.push(tokio::spawn(async move {
            stores.all_stores_ready().await;
            let _ = synced_tx.send(true);
        }));
        (cache, tasks)
    }

    /// Waits until every store has had its first full list.
    pub async fn ready(&self) {
        let mut synced = self.synced.clone();
        // An error means the cache is being shut down; the actor then works on what it has.
        let _ = synced.wait_for(|synced| *synced).await;
    }

    async fn all_stores_ready(&self) {
        // An error means a watch task is gone; the actors then work on empty stores until
        // they are shut down, which is what a cluster without that watch would show.
        let _ = tokio::join!(
            self.volumes.wait_until_ready(),
            self.claims.wait_until_ready(),
            self.pods.wait_until_ready(),
            self.attachments.wait_until_ready(),
            self.classes.wait_until_ready(),
            self.drivers.wait_until_ready(),
        );
    }

    /// Returns a receiver that changes whenever any store changes.
    #[must_use]
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.clone()
    }

    /// Copies the stores' current contents.
    #[must_use]
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            volumes: self.volumes.state(),
            claims: self.claims.state(),
            pods: self.pods.state(),
            attachments: self.attachments.state(),
            classes: self.classes.state(),
            drivers: self.drivers.state(),
        }
    }
}

fn reflect<K>(api: Api<K>, signal: &watch::Sender<u64>, tasks: &mut Vec<JoinHandle<()>>) -> Store<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + Sync,
    K: 'static,
{
    let (reader, writer) = reflector::store();
    let signal = signal.clone();
    let stream = watcher(api, watcher::Config::default())
        .default_backoff()
        .reflect(writer);
    let drive = stream.for_each(move |event| {
        match event {
            Ok(_) => signal.send_modify(|generation| *generation = generation.wrapping_add(1)),
            Err(err) => tracing::warn!(error = %err, "watch failed, retrying"),
        }
        std::future::ready(())
    });
    let span = tracing::info_span!("watch", kind = %K::kind(&()));
    tasks.push(tokio::spawn(drive.instrument(span)));
    reader
}

/// A consistent-enough copy of the cluster the actors decide on.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// PersistentVolumes.
    pub volumes: Vec<Arc<PersistentVolume>>,
    /// PersistentVolumeClaims.
    pub claims: Vec<Arc<PersistentVolumeClaim>>,
    /// Pods.
    pub pods: Vec<Arc<Pod>>,
    /// VolumeAttachments.
    pub attachments: Vec<Arc<VolumeAttachment>>,
    /// StorageClasses.
    pub classes: Vec<Arc<StorageClass>>,
    /// CSIDrivers.
    pub drivers: Vec<Arc<CSIDriver>>,
}

impl Snapshot {
    /// Finds a PV by name.
    #[must_use]
    pub fn volume(&self, name: &str) -> Option<&PersistentVolume> {
        self.volumes
            .iter()
            .map(AsRef::as_ref)
            .find(|pv| meta_name(&pv.metadata) == name)
    }

    /// Finds a claim by namespace and name.
    #[must_use]
    pub fn claim(&self, namespace: &str, name: &str) -> Option<&PersistentVolumeClaim> {
        self.claims.iter().map(AsRef::as_ref).find(|claim| {
            meta_name(&claim.metadata) == name && meta_namespace(&claim.metadata) == namespace
        })
    }

    /// Finds a StorageClass by name.
    #[must_use]
    pub fn class(&self, name: &str) -> Option<&StorageClass> {
        self.classes
            .iter()
            .map(AsRef::as_ref)
            .find(|class| meta_name(&class.metadata) == name)
    }

    /// Lists the VolumeAttachments that name a PV, whatever their attacher.
    pub fn attachments_of<'a>(
        &'a self,
        volume: &'a str,
    ) -> impl Iterator<Item = &'a VolumeAttachment> + 'a {
        self.attachments
            .iter()
            .map(AsRef::as_ref)
            .filter(move |attachment| {
                attachment.spec.source.persistent_volume_name.as_deref() == Some(volume)
            })
    }
}

/// Returns an object's name, or `""`.
#[must_use]
pub fn meta_name(meta: &ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// Returns an object's namespace, or `""`.
#[must_use]
pub fn meta_namespace(meta: &ObjectMeta) -> &str {
    meta.namespace.as_deref().unwrap_or_default()
}

/// Returns an object's finalizers.
#[must_use]
pub fn finalizers(meta: &ObjectMeta) -> &[String] {
    meta.finalizers.as_deref().unwrap_or_default()
}

/// Returns whether an object carries a finalizer.
#[must_use]
pub fn has_finalizer(meta: &ObjectMeta, finalizer: &str) -> bool {
    finalizers(meta).iter().any(|present| present == finalizer)
}

/// Returns the finalizers without one of them.
#[must_use]
pub fn without(meta: &ObjectMeta, finalizer: &str) -> Vec<String> {
    finalizers(meta)
        .iter()
        .filter(|present| *present != finalizer)
        .cloned()
        .collect()
}

/// Returns the finalizers with one more at the end.
#[must_use]
pub fn with(meta: &ObjectMeta, finalizer: &str) -> Vec<String> {
    let mut all = finalizers(meta).to_vec();
    all.push(finalizer.to_owned());
    all
}

/// Returns an annotation's value.
#[must_use]
pub fn annotation<'a>(meta: &'a ObjectMeta, key: &str) -> Option<&'a str> {
    meta.annotations
        .as_ref()
        .and_then(|all: &BTreeMap<String, String>| all.get(key))
        .map(String::as_str)
}

/// Returns whether an object is being deleted.
#[must_use]
pub fn is_deleting(meta: &ObjectMeta) -> bool {
    meta.deletion_timestamp.is_some()
}

/// Returns a PV's phase, or `""`.
#[must_use]
pub fn volume_phase(pv: &PersistentVolume) -> &str {
    pv.status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or_default()
}

/// Returns a claim's phase, or `""`.
#[must_use]
pub fn claim_phase(claim: &PersistentVolumeClaim) -> &str {
    claim
        .status
        .as_ref()
        .and_then(|status| status.phase.as_deref())
        .unwrap_or_default()
}

/// Returns a PV's CSI source.
#[must_use]
pub fn volume_csi(pv: &PersistentVolume) -> Option<&CSIPersistentVolumeSource> {
    pv.spec.as_ref().and_then(|spec| spec.csi.as_ref())
}

/// Returns the claim a PV points at.
#[must_use]
pub fn volume_claim_ref(pv: &PersistentVolume) -> Option<&ObjectReference> {
    pv.spec.as_ref().and_then(|spec| spec.claim_ref.as_ref())
}

/// Returns a PV's StorageClass name, or `""`.
#[must_use]
pub fn volume_class(pv: &PersistentVolume) -> &str {
    pv.spec
        .as_ref()
        .and_then(|spec| spec.storage_class_name.as_deref())
        .unwrap_or_default()
}
