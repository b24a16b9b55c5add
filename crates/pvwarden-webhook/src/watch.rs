//! Keeps the [`View`] current: kube-runtime watches over PVs and StorageClasses.
//!
//! kube-runtime's `reflector` keeps a store keyed by object; the view needs a
//! second key (the backend keys of each PV), so it applies the watcher's events
//! itself, with the same semantics: a (re)list replaces the whole set at
//! `InitDone`, and in between single objects are added and removed. The
//! watcher re-lists after a dropped watch or a `410 Gone`, with backoff.

use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::api::storage::v1::StorageClass;
use kube::runtime::watcher::{self, watcher, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client, Resource};
use tokio::sync::watch as signal;
use tracing::Instrument;

use crate::view::View;

/// Watches PVs and StorageClasses until the process ends; marks the view
/// ready once both have been listed.
pub async fn run(client: Client, view: View) {
    let (pvs_ready, mut pvs_listed) = signal::channel(false);
    let (classes_ready, mut classes_listed) = signal::channel(false);

    let pv_view = view.clone();
    let pvs = watcher(
        Api::<PersistentVolume>::all(client.clone()),
        watcher::Config::default(),
    )
    .default_backoff();
    let pvs = follow(pvs, pvs_ready, move |change| match change {
        Change::Apply(pv) => pv_view.apply_pv(pv),
        Change::Delete(name) => pv_view.delete_pv(&name),
        Change::Replace(all) => pv_view.replace_pvs(all),
    })
    .instrument(tracing::info_span!("persistentvolumes"));

    let class_view = view.clone();
    let classes =
        watcher(Api::<StorageClass>::all(client), watcher::Config::default()).default_backoff();
    let classes = follow(classes, classes_ready, move |change| match change {
        Change::Apply(class) => class_view.apply_class(class),
        Change::Delete(name) => class_view.delete_class(&name),
        Change::Replace(all) => class_view.replace_classes(all),
    })
    .instrument(tracing::info_span!("storageclasses"));

    let ready = async move {
        // An error means the sender is gone, which only happens at shutdown.
        let _ = pvs_listed.wait_for(|listed| *listed).await;
        let _ = classes_listed.wait_for(|listed| *listed).await;
        view.set_ready();
        tracing::info!(pvs = view.len(), "view of the cluster complete");
    };
    tokio::join!(pvs, classes, ready);
}

/// One change to apply to the view.
enum Change<K> {
    Apply(K),
    Delete(String),
    Replace(Vec<K>),
}

/// Turns watcher events into changes; signals `listed` after the first list.
async fn follow<K, S, F>(stream: S, listed: signal::Sender<bool>, mut apply: F)
where
    K: Resource,
    S: Stream<Item = Result<Event<K>, watcher::Error>>,
    F: FnMut(Change<K>),
{
    let mut stream = std::pin::pin!(stream);
    let mut listing: Vec<K> = Vec::new();
    while let Some(event) = stream.next().await {
        match event {
            Ok(Event::Init) => listing.clear(),
            Ok(Event::InitApply(object)) => listing.push(object),
            Ok(Event::InitDone) => {
                tracing::debug!(objects = listing.len(), "listed");
                apply(Change::Replace(std::mem::take(&mut listing)));
                listed.send_replace(true);
            }
            Ok(Event::Apply(object)) => apply(Change::Apply(object)),
            Ok(Event::Delete(object)) => {
                if let Some(name) = object.meta().name.clone() {
                    apply(Change::Delete(name));
                }
            }
            Err(error) => tracing::warn!(error = %error, "watch failed; retrying"),
        }
    }
}
