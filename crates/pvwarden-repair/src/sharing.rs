//! Which live PVs share a PV's storage.
//!
//! `undo` must not give a PV back its `Delete` policy while another PV points
//! at the same storage: deleting the first claim would then destroy data the
//! other PV still serves. A PV shares when it names the PV as its source
//! (`pvwarden share` marks its PVs with a label and an annotation) or when it
//! has a backend key in common with it, the keys `audit` uses.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PersistentVolume;
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::object::{Located, Object, Origin};
use pvwarden_domain::rule::backend_keys;
use pvwarden_generate::{ANN_SOURCE, LABEL_SOURCE};

/// The names of the PVs among `pvs`, other than `name`, that share its storage.
///
/// A PV the model cannot read still counts when it names `name` as its source;
/// its backend keys are then unknown.
pub fn sharers(pvs: &[PersistentVolume], name: &str) -> BTreeSet<String> {
    let names = |map: &Option<BTreeMap<String, String>>, key: &str| {
        map.as_ref().and_then(|m| m.get(key)).map(String::as_str) == Some(name)
    };
    let mut found = BTreeSet::new();
    // A PV the model cannot read is left out of the inventory: it shares by its
    // label or annotation only.
    let mut inventory = Inventory::new();
    for pv in pvs {
        let Some(other) = pv.metadata.name.as_deref() else {
            continue;
        };
        if other != name
            && (names(&pv.metadata.labels, LABEL_SOURCE)
                || names(&pv.metadata.annotations, ANN_SOURCE))
        {
            found.insert(other.to_owned());
        }
        let object = Object::PersistentVolume(Box::new(pv.clone()));
        let _ = inventory.add(Located {
            object,
            origin: Origin::new("cluster", 0),
        });
    }
    let facts = inventory.pvs();
    let Some(keys) = facts.iter().find(|pv| pv.name == name).map(backend_keys) else {
        return found;
    };
    for pv in facts.iter().filter(|pv| pv.name != name) {
        if backend_keys(pv).iter().any(|k| keys.contains(k)) {
            found.insert(pv.name.clone());
        }
    }
    found
}
