//! The cluster as the watches last saw it: every kind the model reads, trimmed.
//!
//! ```text
//!   watch per kind ─▶ trim (pvwarden_kube::trim) ─▶ Slot ─┐
//!                                                         ├─▶ Mirror::inventory
//!   "something changed" ◀───────────────────────────────┘
//! ```
//!
//! Each kind has a [`Slot`] fed by a kube-runtime watcher. A relist (after a
//! dropped watch or an expired resource version) is collected aside and
//! swapped in whole when it is complete, so an object deleted while the watch
//! was down disappears, and a half-finished relist is never audited.
//!
//! Objects are cut down by the same functions the one-off read uses, so the
//! controller's audit sees exactly what `pvwarden audit` of the cluster sees.
//! PVs and claims are kept as the model's facts ([`Inventory::prepare`]), not
//! as whole objects: a k8s-openapi PersistentVolume is several kilobytes, its
//! facts a fraction of that, and they are read once per change, not per pass.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::{Stream, StreamExt};
use kube::runtime::watcher::{self, Event};
use kube::{Resource, ResourceExt};
use pvwarden_domain::inventory::{Inventory, Prepared};
use pvwarden_domain::object::{Located, Object, Origin};
use tokio::sync::Notify;

use crate::metrics::Metrics;

/// One watched object, as the model reads it.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    /// Its facts (PVs, claims) or its trimmed form (other kinds).
    prepared: Prepared,
    /// A PV's uid, for the Events written about it.
    uid: Option<(String, String)>,
}

/// The objects of one kind, as the last complete list and the watch events since say.
#[derive(Debug, Default)]
struct State {
    /// `namespace/name` (or `name`) to the object.
    objects: BTreeMap<String, Stored>,
    /// A relist under way; swapped into `objects` when complete.
    relist: Option<BTreeMap<String, Stored>>,
    /// Whether one list has completed.
    synced: bool,
    /// Whether the kind is left out for want of a permission (or not served).
    refused: bool,
}

/// The objects of one watched kind.
#[derive(Debug)]
pub(crate) struct Slot {
    /// The kind, as in metrics and logs.
    pub(crate) kind: &'static str,
    state: Mutex<State>,
}

impl Slot {
    fn new(kind: &'static str) -> Slot {
        Slot {
            kind,
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves a map that is still whole.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether one list has completed, or the kind is refused and left out.
    pub(crate) fn synced(&self) -> bool {
        let state = self.lock();
        state.synced || state.refused
    }

    /// The number of objects held.
    pub(crate) fn len(&self) -> usize {
        self.lock().objects.len()
    }

    /// Applies one watcher event; returns whether the view changed.
    fn apply(&self, event: Event<(String, Option<Stored>)>) -> bool {
        let mut state = self.lock();
        match event {
            Event::Init => {
                state.relist = Some(BTreeMap::new());
                false
            }
            Event::InitApply((key, object)) => {
                if let (Some(relist), Some(object)) = (state.relist.as_mut(), object) {
                    relist.insert(key, object);
                }
                false
            }
            Event::InitDone => {
                let relist = state.relist.take().unwrap_or_default();
                state.objects = relist;
                state.synced = true;
                state.refused = false;
                true
            }
            Event::Apply((key, Some(object))) => {
                state.objects.insert(key, object);
                true
            }
            // An object the model has no use for (a pod without claims, a
            // workload without CSI containers) is the same as a deleted one.
            Event::Apply((key, None)) | Event::Delete((key, _)) => {
                state.objects.remove(&key).is_some()
            }
        }
    }

    fn refuse(&self) -> bool {
        let mut state = self.lock();
        let first = !state.refused;
        state.refused = true;
        first
    }
}

/// Every watched kind, and the signal that one of them changed.
#[derive(Debug)]
pub(crate) struct Mirror {
    slots: Vec<Arc<Slot>>,
    changed: Arc<Notify>,
    origin: Origin,
}

impl Mirror {
    /// An empty mirror; objects are marked as read from `cluster:<context>`.
    pub(crate) fn new(context: &str) -> Mirror {
        Mirror {
            slots: Vec::new(),
            changed: Arc::new(Notify::new()),
            origin: Origin::new(format!("cluster:{context}"), 0),
        }
    }

    /// Adds a kind; the returned slot is fed by [`feed`].
    pub(crate) fn slot(&mut self, kind: &'static str) -> Arc<Slot> {
        let slot = Arc::new(Slot::new(kind));
        self.slots.push(slot.clone());
        slot
    }

    /// The signal raised whenever a watched object changes.
    pub(crate) fn changed(&self) -> Arc<Notify> {
        self.changed.clone()
    }

    /// Whether every kind has been listed once (or refused).
    pub(crate) fn synced(&self) -> bool {
        self.slots.iter().all(|slot| slot.synced())
    }

    /// The number of objects held per kind (a kind watched twice, events, summed).
    pub(crate) fn sizes(&self) -> BTreeMap<&'static str, usize> {
        let mut sizes = BTreeMap::new();
        for slot in &self.slots {
            *sizes.entry(slot.kind).or_default() += slot.len();
        }
        sizes
    }

    /// Where the objects are read from, for their origins.
    pub(crate) fn origin(&self) -> &Origin {
        &self.origin
    }

    /// The objects as an inventory, kinds in the order of a one-off read.
    ///
    /// `uid` is told the name and uid of every PV, for the Events written about it.
    pub(crate) fn inventory(&self, uid: &mut dyn FnMut(&str, &str)) -> Inventory {
        let mut inventory = Inventory::new();
        for slot in &self.slots {
            let state = slot.lock();
            for stored in state.objects.values() {
                if let Some((name, id)) = &stored.uid {
                    uid(name, id);
                }
                inventory.insert(stored.prepared.clone());
            }
        }
        inventory
    }
}

/// Feeds one slot from a watch stream until the stream ends.
///
/// `trim` cuts each object down, or drops it (`None`); the model then reads
/// its facts. An object whose facts cannot be read is left out with a
/// warning naming the object and field, as a one-off read leaves it out. An error of the watch
/// is counted and logged; the stream retries with backoff by itself. A kind
/// the account may not watch (or the server does not serve) is marked
/// refused, so that readiness does not wait for it and the audit treats it as
/// unknown, as a one-off read does.
pub(crate) async fn feed<K, S>(
    stream: S,
    trim: fn(K) -> Option<Object>,
    origin: Origin,
    slot: Arc<Slot>,
    changed: Arc<Notify>,
    metrics: Arc<Metrics>,
) where
    K: Resource + Clone + Debug + Send + 'static,
    S: Stream<Item = Result<Event<K>, watcher::Error>> + Send,
{
    let mut stream = std::pin::pin!(stream);
    while let Some(event) = stream.next().await {
        match event {
            Ok(event) => {
                let read = |object: K| (key(&object), store(object, trim, &origin, &metrics));
                if slot.apply(map(event, read)) {
                    changed.notify_one();
                }
            }
            Err(err) => {
                metrics.error("watch", slot.kind);
                if refused(&err) {
                    if slot.refuse() {
                        tracing::warn!(kind = slot.kind, error = %err, "kind left out");
                        changed.notify_one();
                    }
                } else {
                    tracing::warn!(kind = slot.kind, error = %err, "watch failed; retrying");
                }
            }
        }
    }
}

/// The event with each object replaced by `f` of it.
fn map<K, T>(event: Event<K>, mut f: impl FnMut(K) -> T) -> Event<T> {
    match event {
        Event::Apply(object) => Event::Apply(f(object)),
        Event::Delete(object) => Event::Delete(f(object)),
        Event::Init => Event::Init,
        Event::InitApply(object) => Event::InitApply(f(object)),
        Event::InitDone => Event::InitDone,
    }
}

/// An object trimmed and read into the model's facts; `None` when the model has no use
/// for it or cannot read it (logged, naming the object and field).
fn store<K>(
    object: K,
    trim: fn(K) -> Option<Object>,
    origin: &Origin,
    metrics: &Metrics,
) -> Option<Stored> {
    let object = trim(object)?;
    let uid = match &object {
        Object::PersistentVolume(pv) => pv.metadata.name.clone().zip(pv.metadata.uid.clone()),
        _ => None,
    };
    let located = Located {
        object,
        origin: origin.clone(),
    };
    match Inventory::prepare(located) {
        Ok(prepared) => Some(Stored { prepared, uid }),
        Err(err) => {
            tracing::warn!(error = %err, "object not understood; left out");
            metrics.error("audit", err.kind);
            None
        }
    }
}

/// `namespace/name`, or `name` for a cluster-scoped object.
fn key<K: Resource>(object: &K) -> String {
    match object.namespace() {
        Some(namespace) => format!("{namespace}/{}", object.name_any()),
        None => object.name_any(),
    }
}

/// Whether a watch error is a refusal that retrying will not cure.
fn refused(err: &watcher::Error) -> bool {
    let status = match err {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s)) => s.code,
        watcher::Error::WatchError(s) => s.code,
        _ => return false,
    };
    status == 403 || status == 404
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use k8s_openapi::api::storage::v1::StorageClass;
    use kube::api::ObjectMeta;

    use super::*;

    fn class(name: &str) -> (String, Option<Stored>) {
        let sc = StorageClass {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            provisioner: "rook-ceph.cephfs.csi.ceph.com".into(),
            ..StorageClass::default()
        };
        let located = Located {
            object: Object::StorageClass(Box::new(sc)),
            origin: Origin::new("test", 0),
        };
        let prepared = Inventory::prepare(located).unwrap();
        let stored = Stored {
            prepared,
            uid: None,
        };
        (name.to_owned(), Some(stored))
    }

    #[test]
    fn a_relist_replaces_the_view_only_when_complete() {
        let slot = Slot::new("StorageClass");
        slot.apply(Event::Init);
        slot.apply(Event::InitApply(class("a")));
        slot.apply(Event::InitApply(class("b")));
        assert!(!slot.synced(), "not synced before the first list completes");
        slot.apply(Event::InitDone);
        assert_eq!(slot.len(), 2);

        // The watch drops; "b" is deleted meanwhile; the relist brings only "a".
        slot.apply(Event::Init);
        slot.apply(Event::InitApply(class("a")));
        assert_eq!(slot.len(), 2, "the old view stays until the relist is done");
        slot.apply(Event::InitDone);
        assert_eq!(
            slot.len(),
            1,
            "an object deleted while the watch was down is gone"
        );
    }

    #[test]
    fn an_object_the_model_drops_counts_as_deleted() {
        let slot = Slot::new("StorageClass");
        slot.apply(Event::Init);
        slot.apply(Event::InitApply(class("a")));
        slot.apply(Event::InitDone);
        assert!(slot.apply(Event::Apply(("a".into(), None))));
        assert_eq!(slot.len(), 0);
    }
}
