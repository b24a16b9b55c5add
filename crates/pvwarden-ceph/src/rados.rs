//! Reading a live cluster through librados (cargo feature `rados`).
//!
//! The read makes as few round trips as Ceph's interfaces allow:
//!
//! | what | calls |
//! |---|---|
//! | fsid, filesystems, pools | 3 monitor commands |
//! | subvolume groups, subvolumes | 1 directory listing per filesystem, 1 per group |
//! | a subvolume's path, state, size, age; its snapshots | 4 libcephfs requests per subvolume |
//! | ceph-csi's reservations | 1 omap read of up to 1,000 keys per instance and namespace |
//! | each journal entry's volume object | 1 omap read per entry |
//! | RADOS namespaces, image names | 1 omap read per pool, 1 per namespace |
//! | an image's size, age, snapshots | 1 omap read of its header per image |
//!
//! The subvolumes are read from the CephFS tree through libcephfs (the volumes module's own
//! `.meta` records, the `ceph.dir.rbytes` of each data path, its birth time, the `.snap`
//! listing), not through the manager: its volumes module has no bulk form of `subvolume
//! info` or `snapshot ls` and answers one command at a time. Where the mount is refused
//! (a user without MDS caps), the read falls back to 2 manager commands per subvolume.
//! Neither a subvolume's record nor a volume object nor an image header can be read in bulk,
//! so those requests run `concurrency` at a time on scoped threads sharing one connection
//! and one mount.

mod cephfs;
mod ffi;
pub mod fixture;
mod read;
mod remove;

pub use self::ffi::RadosError;
pub use self::read::{read, Connect, Key, ReadError, ReadOptions};
pub use self::remove::{remove, RemoveError, Removed, Remover};
