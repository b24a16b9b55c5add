//! The Ceph side of pvwarden: what the cluster's storage holds, joined with the PVs.
//!
//! ```text
//!   librados (feature `rados`) ─┐
//!                               ├─▶ CephInventory ─▶ join ─┬─ StorageReport (objects, PVs)
//!   JSON dump ──────────────────┘        ▲                 ├─ StorageFacts  ─▶ the audit
//!                                        │                 └─ clean plan
//!                                 PvFacts (pvwarden-domain)
//! ```
//!
//! Everything but the `rados` module is pure and needs no C library, so an offline audit of
//! a dump builds and runs anywhere.

pub mod clean;
pub mod inventory;
pub mod join;
pub mod report;
pub mod subvolume_path;

#[cfg(feature = "rados")]
pub mod rados;

pub use self::inventory::CephInventory;
pub use self::join::{join, StorageReport};
