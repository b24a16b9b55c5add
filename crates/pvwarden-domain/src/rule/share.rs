//! Which PVs use the same backend volume.
//!
//! Every PV gets a few backend keys: its (driver, handle); for CephFS the
//! (cluster, filesystem, path) it mounts (`rootPath` of a static PV,
//! `subvolumePath` of a dynamic one); for RBD the (cluster, pool, image). Two
//! PVs that share any key share storage. Keys are kept as 64-bit hashes so the
//! index stays small for 100,000 volumes; members of a group are re-checked
//! against their real keys, so a hash collision can never invent a share.

use std::hash::BuildHasher;

use foldhash::HashMap;

use crate::driver::CephKind;
use crate::facts::{PvFacts, Source};
use crate::inventory::Inventory;

/// The index of backend keys to PVs.
///
/// Only keys that two or more PVs hold are kept: `groups` maps such a key's
/// hash to its run of PV positions in `members`.
#[derive(Debug, Default)]
pub struct ShareIndex {
    groups: HashMap<u64, (u32, u32)>,
    members: Vec<u32>,
}

/// What one PV shares, and with whom.
#[derive(Debug, Clone, Default)]
pub struct Sharing<'a> {
    /// PVs with the same driver and handle.
    pub same_handle: Vec<&'a PvFacts>,
    /// PVs that reach the same storage by another key.
    pub same_storage: Vec<&'a PvFacts>,
}

impl Sharing<'_> {
    /// Returns true when no other PV uses this PV's storage.
    pub fn is_alone(&self) -> bool {
        self.same_handle.is_empty() && self.same_storage.is_empty()
    }

    /// All other PVs on the same storage.
    pub fn all(&self) -> impl Iterator<Item = &PvFacts> {
        self.same_handle
            .iter()
            .chain(self.same_storage.iter())
            .copied()
    }
}

/// The backend keys of a PV; the first one is its (driver, handle) key.
///
/// Two PVs share storage when they have a key in common; front ends that keep
/// their own index of PVs (the admission webhook) use the same keys.
pub fn keys(pv: &PvFacts) -> Vec<String> {
    match &pv.source {
        Source::Csi(csi) => {
            let mut keys = vec![format!("handle\0{}\0{}", csi.driver, csi.handle)];
            let cluster = csi.attribute("clusterID").unwrap_or("");
            match CephKind::from_driver(&csi.driver) {
                Some(CephKind::Cephfs | CephKind::Nfs) => {
                    if let Some(key) = csi.path_key {
                        keys.push(format!("cephfs\0{key:016x}"));
                    }
                }
                Some(CephKind::Rbd) => {
                    let image = csi
                        .attribute("imageName")
                        .or_else(|| csi.is_static_volume().then_some(csi.handle.as_str()));
                    if let (Some(image), Some(pool)) = (image, csi.attribute("pool")) {
                        let ns = csi.attribute("radosNamespace").unwrap_or("");
                        keys.push(format!("rbd\0{cluster}\0{pool}\0{ns}\0{image}"));
                    }
                }
                None => {}
            }
            keys
        }
        Source::InTree { plugin, id } => vec![format!("intree\0{plugin}\0{id}")],
        Source::None => Vec::new(),
    }
}

fn hash(key: &str) -> u64 {
    // A fixed seed: the same key must hash the same when the index is built
    // and when it is queried.
    foldhash::fast::FixedState::with_seed(0x7076_7761_7264_656e).hash_one(key)
}

impl ShareIndex {
    /// Indexes every PV of an inventory.
    pub fn build(inventory: &Inventory) -> ShareIndex {
        // Almost every key belongs to one PV only. Sorting (hash, position)
        // pairs finds the shared ones without a table entry per key: on
        // 100,000 PVs this is 3 MB where a map of all keys was 15 MB.
        let mut pairs: Vec<(u64, u32)> = Vec::with_capacity(inventory.pvs().len() * 2);
        for (i, pv) in inventory.pvs().iter().enumerate() {
            let Ok(i) = u32::try_from(i) else { break };
            pairs.extend(keys(pv).iter().map(|key| (hash(key), i)));
        }
        pairs.sort_unstable();
        let mut index = ShareIndex::default();
        for run in pairs
            .chunk_by(|a, b| a.0 == b.0)
            .filter(|run| run.len() > 1)
        {
            let (Ok(start), Ok(len)) =
                (u32::try_from(index.members.len()), u32::try_from(run.len()))
            else {
                break;
            };
            index.members.extend(run.iter().map(|&(_, i)| i));
            index.groups.insert(run[0].0, (start, len));
        }
        index
    }

    /// What `pv` shares with other PVs.
    pub fn sharing<'a>(&self, pv: &PvFacts, inventory: &'a Inventory) -> Sharing<'a> {
        let mut sharing = Sharing::default();
        if self.groups.is_empty() {
            return sharing;
        }
        let own = keys(pv);
        for (k, key) in own.iter().enumerate() {
            let Some(&(start, len)) = self.groups.get(&hash(key)) else {
                continue;
            };
            let members = &self.members[start as usize..][..len as usize];
            for &m in members {
                let other = &inventory.pvs()[m as usize];
                let known = other.name == pv.name || sharing.all().any(|p| p.name == other.name);
                if known || !keys(other).contains(key) {
                    continue;
                }
                if k == 0 {
                    sharing.same_handle.push(other);
                } else {
                    sharing.same_storage.push(other);
                }
            }
        }
        sharing
    }
}
