//! Reading a live cluster through librados (cargo feature `rados`).
//!
//! The read makes as few round trips as Ceph's interfaces allow:
//!
//! | what | calls |
//! |---|---|
//! | fsid, filesystems, pools | 3 monitor commands |
//! | subvolume groups, subvolumes | 1 manager command per filesystem, 1 per group |
//! | a subvolume's path, state, size, age; its snapshots | 2 manager commands per subvolume |
//! | ceph-csi's reservations | 1 omap read of up to 1,000 keys per instance and namespace |
//! | each journal entry's volume object | 1 omap read per entry |
//! | RADOS namespaces, image names | 1 omap read per pool, 1 per namespace |
//! | an image's size, age, snapshots | 1 omap read of its header per image |
//!
//! The volumes module has no bulk form of `subvolume info` or `snapshot ls`, and a volume
//! object or an image header can only be read one object at a time; those calls run
//! `concurrency` at a time on scoped threads sharing the one connection. Reading the CephFS
//! tree through libcephfs would replace the per-subvolume manager commands, but the
//! subvolume state and snapshots still come only from the volumes module.

mod ffi;
pub mod fixture;
mod read;
mod remove;

pub use self::ffi::RadosError;
pub use self::read::{read, Connect, ReadError, ReadOptions};
pub use self::remove::{remove, RemoveError, Removed, Remover};
