//! ceph-csi volume identifiers: what ceph-csi makes of a PV's `volumeHandle`.
//!
//! `DeleteVolume` carries nothing but the volume id, so whether ceph-csi can delete a volume,
//! refuses forever, or treats it as a migrated in-tree image depends only on this string. The
//! model therefore needs ceph-csi's own answer, not a stricter or kinder one:
//!
//! ```text
//! volumeHandle ─► classify ─┬─► Migration / BadMigration  (RBD: `mig…` substring test)
//!                           ├─► V1(CsiId)                 (DecomposeCSIID accepts it)
//!                           ├─► LegacyRbd / LegacyCephfs  (ceph-csi v1.0 ids)
//!                           └─► Undecodable(DecodeError)  (DeleteVolume fails forever)
//! ```
//!
//! [`decode`] and [`encode`] reproduce `DecomposeCSIID` and `ComposeCSIID` from ceph-csi's
//! `internal/util/volid.go`, including the parts that look like accidents: the decoder works
//! on bytes, counts them in a `uint16` that wraps, never checks the separators or the version,
//! and panics on a clusterID length of `ffff`. The `codec` submodule walks through every path.
//!
//! Decoded text fields are Go strings, which may hold any bytes. They are stored here with
//! Go's own lossy conversion (each byte of an invalid UTF-8 sequence becomes one U+FFFD),
//! which is also what Go's JSON encoder prints for them. A field can only be cut inside a
//! character when a non-ASCII byte sits where a separator belongs, or when the handle has
//! 65536 bytes or more; ceph-csi never writes such ids.

use serde::Serialize;

mod codec;
mod error;
mod gohex;
mod gostring;
mod legacy;
mod migration;

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;

pub use self::codec::{decode, encode};
pub use self::error::{DecodeError, DecodeErrorKind, EncodeError, HexField};
pub use self::legacy::{
    is_legacy_cephfs_shape, is_legacy_rbd_shape, LEGACY_CEPHFS_PREFIX, LEGACY_RBD_PREFIX,
};
pub use self::migration::{is_migration_handle, parse_migration, MigrationError, MigrationHandle};

/// A decoded version-1 ceph-csi identifier.
///
/// Field for field what `DecomposeCSIID` fills in; see the module docs for how bytes that are
/// not UTF-8 are stored.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct CsiId {
    /// The first field; ceph-csi writes 1 and never checks it when decoding.
    pub encoding_version: u16,
    /// The clusterID that selects the entry in ceph-csi's cluster config.
    pub cluster_id: String,
    /// The pool id (RBD) or filesystem id (CephFS); Go's `int64(uint64)`, so may be negative.
    pub location_id: i64,
    /// The 36 bytes after the location field, the uuid of the journal entry.
    pub object_uuid: String,
}

/// What kind of handle this is, as ceph-csi would see it.
///
/// The order of [`classify`] follows ceph-csi's RBD controller, which tests for migration
/// handles before decoding. ceph-csi's CephFS controller has no migration path: for a CephFS
/// driver, call [`decode`] directly instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "family", content = "detail", rename_all = "snake_case")]
pub enum HandleFamily {
    /// A version-1 id that `DecomposeCSIID` accepts.
    V1(CsiId),
    /// A ceph-csi v1.0 RBD id, `csi-rbd-vol-<uuid>`, recognised by ceph-csi v1.1 to v2.1.
    LegacyRbd {
        /// The 36-byte uuid after the prefix, as written in the handle.
        uuid: String,
        /// What current ceph-csi says when it tries to decode the handle.
        error: DecodeError,
    },
    /// A ceph-csi v1.0 CephFS id, `csi-cephfs-<CSI request name>`.
    LegacyCephfs {
        /// The CSI request name after the prefix, usually `pvc-<claim uid>`.
        request_name: String,
        /// Where ceph-csi v1.0 kept the volume's data in the filesystem.
        root_path: String,
        /// What current ceph-csi says when it tries to decode the handle.
        error: DecodeError,
    },
    /// A handle RBD treats as a migrated in-tree volume, and parses without error.
    Migration(MigrationHandle),
    /// A handle RBD treats as a migrated in-tree volume, but rejects with `InvalidArgument`.
    BadMigration(MigrationError),
    /// A handle no current ceph-csi can decode: `DeleteVolume` fails on every retry.
    Undecodable(DecodeError),
}

/// Classifies a `volumeHandle` the way ceph-csi's RBD controller would.
///
/// Migration handles come first because RBD tests for them before decoding; legacy shapes
/// are only looked for once decoding has failed, as ceph-csi v1.1 to v2.1 did.
pub fn classify(handle: &str) -> HandleFamily {
    if is_migration_handle(handle) {
        return match parse_migration(handle) {
            Ok(parsed) => HandleFamily::Migration(parsed),
            Err(error) => HandleFamily::BadMigration(error),
        };
    }

    let error = match decode(handle) {
        Ok(id) => return HandleFamily::V1(id),
        Err(error) => error,
    };

    if is_legacy_rbd_shape(handle) {
        let uuid = handle[LEGACY_RBD_PREFIX.len()..].to_owned();
        return HandleFamily::LegacyRbd { uuid, error };
    }
    if is_legacy_cephfs_shape(handle) {
        let request_name = handle[LEGACY_CEPHFS_PREFIX.len()..].to_owned();
        let root_path = legacy::cephfs_root_path(handle);
        return HandleFamily::LegacyCephfs {
            request_name,
            root_path,
            error,
        };
    }
    HandleFamily::Undecodable(error)
}
