//! The webhook's picture of the cluster: every PV, indexed by backend key.
//!
//! ```text
//!   watcher (PVs) ──events──▶ View ──▶ pvs: name → object and its backend keys
//!   watcher (classes) ──────▶        ─▶ by_key: backend key → PV names
//!                                    ─▶ classes
//! ```
//!
//! A decision needs only the PVs that share storage with the one under review,
//! so instead of auditing the whole cluster per request the view hands the
//! decision a small [`Inventory`] of those PVs and the StorageClasses. The keys
//! are the ones `audit` uses ([`pvwarden_domain::rule::backend_keys`]), so the
//! webhook and `audit` agree on who shares what.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, RwLock};

use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::api::storage::v1::StorageClass;
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::object::{Located, Object, Origin};
use pvwarden_domain::rule::backend_keys;

/// The origin of every object the view holds.
const ORIGIN: &str = "cluster";

#[derive(Debug)]
struct Entry {
    object: Arc<PersistentVolume>,
    keys: Vec<String>,
}

#[derive(Debug, Default)]
struct Inner {
    pvs: HashMap<String, Entry>,
    by_key: HashMap<String, BTreeSet<String>>,
    classes: HashMap<String, Arc<StorageClass>>,
    ready: bool,
}

/// The PVs and StorageClasses of the cluster, kept current by watches.
///
/// Cloning shares the view.
#[derive(Debug, Clone, Default)]
pub struct View {
    inner: Arc<RwLock<Inner>>,
}

/// The backend keys of a PV, or none when its facts cannot be read.
///
/// A PV the model cannot read shares nothing as far as the view knows; the
/// request that brings it in gets the reading error as its answer instead.
pub fn keys_of(pv: &PersistentVolume) -> Vec<String> {
    let mut one = Inventory::new();
    let object = Object::PersistentVolume(Box::new(pv.clone()));
    match one.add(located(object)) {
        Ok(()) => one.pvs().first().map(backend_keys).unwrap_or_default(),
        Err(_) => Vec::new(),
    }
}

fn located(object: Object) -> Located<Object> {
    Located {
        object,
        origin: Origin::new(ORIGIN, 0),
    }
}

impl View {
    /// An empty view, not yet ready.
    pub fn new() -> View {
        View::default()
    }

    /// Adds or replaces a PV.
    pub fn apply_pv(&self, pv: PersistentVolume) {
        let Some(name) = pv.metadata.name.clone() else {
            return;
        };
        let keys = keys_of(&pv);
        let mut inner = self.write();
        inner.remove_pv(&name);
        for key in &keys {
            inner
                .by_key
                .entry(key.clone())
                .or_default()
                .insert(name.clone());
        }
        let object = Arc::new(pv);
        inner.pvs.insert(name, Entry { object, keys });
    }

    /// Removes a PV.
    pub fn delete_pv(&self, name: &str) {
        self.write().remove_pv(name);
    }

    /// Replaces every PV at once, after a (re)list.
    pub fn replace_pvs(&self, pvs: Vec<PersistentVolume>) {
        let fresh = View::new();
        for pv in pvs {
            fresh.apply_pv(pv);
        }
        let fresh = std::mem::take(&mut *fresh.write());
        let mut inner = self.write();
        inner.pvs = fresh.pvs;
        inner.by_key = fresh.by_key;
    }

    /// Adds or replaces a StorageClass.
    pub fn apply_class(&self, class: StorageClass) {
        if let Some(name) = class.metadata.name.clone() {
            self.write().classes.insert(name, Arc::new(class));
        }
    }

    /// Removes a StorageClass.
    pub fn delete_class(&self, name: &str) {
        self.write().classes.remove(name);
    }

    /// Replaces every StorageClass at once, after a (re)list.
    pub fn replace_classes(&self, classes: Vec<StorageClass>) {
        let classes = classes
            .into_iter()
            .filter_map(|c| Some((c.metadata.name.clone()?, Arc::new(c))))
            .collect();
        self.write().classes = classes;
    }

    /// Marks the view as complete: the first list of every watch has arrived.
    pub fn set_ready(&self) {
        self.write().ready = true;
    }

    /// Returns true once the first lists have arrived.
    pub fn is_ready(&self) -> bool {
        self.read().ready
    }

    /// The number of PVs in the view.
    pub fn len(&self) -> usize {
        self.read().pvs.len()
    }

    /// Returns true when the view holds no PV.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A PV by name.
    pub fn pv(&self, name: &str) -> Option<Arc<PersistentVolume>> {
        self.read().pvs.get(name).map(|e| Arc::clone(&e.object))
    }

    /// The PVs other than `name` that share one of `keys`, and the StorageClasses.
    pub fn neighbours(&self, name: &str, keys: &[String]) -> Neighbours {
        let inner = self.read();
        let mut names = BTreeSet::new();
        for key in keys {
            if let Some(members) = inner.by_key.get(key) {
                names.extend(members.iter().filter(|m| *m != name));
            }
        }
        let pvs = names
            .into_iter()
            .filter_map(|n| inner.pvs.get(n).map(|e| Arc::clone(&e.object)))
            .collect();
        let classes = inner.classes.values().cloned().collect();
        Neighbours { pvs, classes }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        // A writer that panicked left whole entries behind (each update is a
        // few inserts), so the data is still usable.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn remove_pv(&mut self, name: &str) {
        let Some(old) = self.pvs.remove(name) else {
            return;
        };
        for key in old.keys {
            if let Some(members) = self.by_key.get_mut(&key) {
                members.remove(name);
                if members.is_empty() {
                    self.by_key.remove(&key);
                }
            }
        }
    }
}

/// What a decision about one PV needs from the view.
#[derive(Debug, Default)]
pub struct Neighbours {
    /// The other PVs on the same storage.
    pub pvs: Vec<Arc<PersistentVolume>>,
    /// Every StorageClass.
    pub classes: Vec<Arc<StorageClass>>,
}

impl Neighbours {
    /// An inventory of these objects and `pv`.
    ///
    /// # Errors
    ///
    /// Returns the model's reading error for `pv`; neighbours that cannot be
    /// read are left out (they were admitted before the webhook ran).
    pub fn inventory(&self, pv: PersistentVolume) -> Result<Inventory, Box<ReadError>> {
        let mut inventory = Inventory::new();
        let object = Object::PersistentVolume(Box::new(pv));
        inventory.add(located(object)).map_err(Box::new)?;
        self.add_to(&mut inventory);
        Ok(inventory)
    }

    /// Adds these objects to an inventory.
    pub fn add_to(&self, inventory: &mut Inventory) {
        for class in &self.classes {
            let object = Object::StorageClass(Box::new((**class).clone()));
            // A class the model cannot read only costs that class's facts.
            let _ = inventory.add(located(object));
        }
        for other in &self.pvs {
            let object = Object::PersistentVolume(Box::new((**other).clone()));
            let _ = inventory.add(located(object));
        }
    }
}

/// The model's error for an object it cannot read.
pub type ReadError = pvwarden_domain::inventory::Error;

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{CSIPersistentVolumeSource, PersistentVolumeSpec};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn pv(name: &str, handle: &str) -> PersistentVolume {
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                csi: Some(CSIPersistentVolumeSource {
                    driver: "example.csi.k8s.io".into(),
                    volume_handle: handle.into(),
                    ..CSIPersistentVolumeSource::default()
                }),
                ..PersistentVolumeSpec::default()
            }),
            status: None,
        }
    }

    #[test]
    fn finds_neighbours_by_handle_and_forgets_deleted_ones() {
        let view = View::new();
        view.apply_pv(pv("a", "vol-1"));
        view.apply_pv(pv("b", "vol-1"));
        view.apply_pv(pv("c", "vol-2"));
        let keys = keys_of(&pv("new", "vol-1"));
        let names = |n: &Neighbours| -> Vec<String> {
            n.pvs
                .iter()
                .filter_map(|p| p.metadata.name.clone())
                .collect()
        };
        assert_eq!(names(&view.neighbours("new", &keys)), ["a", "b"]);
        assert_eq!(names(&view.neighbours("a", &keys)), ["b"]);

        view.delete_pv("b");
        assert_eq!(names(&view.neighbours("new", &keys)), ["a"]);
        // A changed handle moves the PV to its new key.
        view.apply_pv(pv("a", "vol-2"));
        assert!(view.neighbours("new", &keys).pvs.is_empty());
        assert_eq!(view.len(), 2);
    }
}
