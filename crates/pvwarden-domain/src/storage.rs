//! What a read of the storage itself says about the volume behind each PV.
//!
//! Without access to the backend the model assumes the endangering default
//! ([`Backend::Present`]) and only events can say otherwise. A backend reader
//! (for Ceph: the ceph-csi journal, the subvolumes and the images) knows
//! better, and gives its answer per PV here; the audit then predicts from it.

use std::collections::HashMap;

use crate::driver::Backend;

/// The backend state of each PV, as a storage read found it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageFacts {
    by_pv: HashMap<String, Backend>,
}

impl StorageFacts {
    /// No facts yet.
    pub fn new() -> StorageFacts {
        StorageFacts::default()
    }

    /// Records what the storage read found for one PV (a later record replaces an earlier one).
    pub fn insert(&mut self, pv: impl Into<String>, backend: Backend) {
        self.by_pv.insert(pv.into(), backend);
    }

    /// What the storage read found for a PV, if it looked.
    pub fn get(&self, pv: &str) -> Option<&Backend> {
        self.by_pv.get(pv)
    }

    /// How many PVs the read has facts for.
    pub fn len(&self) -> usize {
        self.by_pv.len()
    }

    /// Returns true when the read has no facts about any PV.
    pub fn is_empty(&self) -> bool {
        self.by_pv.is_empty()
    }
}
