//! The pure model of what deleting a Kubernetes volume does.
//!
//! This crate has no I/O and no async code. Front ends (manifest files, a live
//! cluster, an admission webhook) turn what they read into
//! [`object::Object`]s, add them to an [`inventory::Inventory`], and ask an
//! [`audit::Auditor`] for verdicts:
//!
//! ```text
//!   Object ─▶ Inventory ─▶ Auditor ─┬─ classify   static / dynamic, with evidence
//!                                   ├─ evidence   events, ages, storage facts
//!                                   ├─ sim        PV controller, provisioner,
//!                                   │             attacher, driver profile
//!                                   ├─ rule       findings
//!                                   └─ remedy     ways out, safest first
//! ```

pub mod audit;
pub mod classify;
pub mod driver;
pub mod evidence;
pub mod facts;
pub mod handle;
mod index;
pub mod inventory;
pub mod object;
mod remedy;
pub mod rule;
pub mod sim;
pub mod storage;
pub mod verdict;
pub mod version;
pub mod volid;
