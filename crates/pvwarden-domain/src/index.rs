//! Lookup tables that store positions into a vector, not copies of the keys.
//!
//! The inventory keeps its objects in vectors; an index maps a key (a PV
//! name, a claim's namespace and name) to a position. Keeping only a `u32`
//! per entry, rather than another copy of every name, is what keeps a
//! 100,000-volume inventory small. Callers hash keys with [`Index::hash`]
//! and say how to compare and re-hash the items at positions.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;

/// Positions of items, found by a key each item has.
#[derive(Debug, Default)]
pub(crate) struct Index {
    table: HashTable<u32>,
    state: foldhash::fast::RandomState,
}

impl Index {
    /// Hashes a key the way this index does.
    pub(crate) fn hash<K: Hash + ?Sized>(&self, key: &K) -> u64 {
        self.state.hash_one(key)
    }

    /// The position whose item `matches`, among those with this hash.
    pub(crate) fn get(&self, hash: u64, matches: impl Fn(usize) -> bool) -> Option<usize> {
        self.table
            .find(hash, |&i| matches(i as usize))
            .map(|&i| i as usize)
    }

    /// Records a new position; `key_of` gives the key of the item at a position,
    /// to re-hash when the table grows. The item must already be in its vector.
    pub(crate) fn insert<K: Hash>(
        &mut self,
        hash: u64,
        position: usize,
        key_of: impl Fn(usize) -> K,
    ) {
        // Inventories beyond four billion objects are not indexed; they could
        // not be read into memory anyway.
        let Ok(position) = u32::try_from(position) else {
            return;
        };
        let state = &self.state;
        self.table
            .insert_unique(hash, position, |&i| state.hash_one(key_of(i as usize)));
    }
}
