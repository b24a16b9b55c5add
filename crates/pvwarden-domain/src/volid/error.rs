//! Why a handle does not decode, or an id does not encode, with ceph-csi's own wording.
//!
//! Each error has two texts. `Display` is ours: lowercase, and says what is wrong. The
//! `ceph_csi_message` methods return the exact text ceph-csi's error carries, which is what
//! a user finds in the provisioner's `VolumeFailedDelete` event and can search for.

use std::fmt;

use serde::Serialize;

use super::gohex;

/// Why [`decode`](super::decode) rejects a handle, as ceph-csi's `DecomposeCSIID` would.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
#[error("{kind}")]
pub struct DecodeError {
    #[serde(flatten)]
    kind: DecodeErrorKind,
}

/// The reason behind a [`DecodeError`], one variant per way `DecomposeCSIID` can fail.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Fewer bytes than the fixed fields need, or than the clusterID length field promises.
    Underflow,
    /// Everything up to the location field decoded, but not exactly 36 bytes are left.
    SizeMismatch {
        /// The bytes left for the object uuid, counted like ceph-csi (modulo 65536).
        uuid_bytes: usize,
    },
    /// A numeric field holds a byte that is not a hex digit.
    InvalidHex {
        /// The field being decoded.
        field: HexField,
        /// The offset of the bad byte in the handle, in bytes.
        offset: usize,
        /// The first bad byte, the one Go's `encoding/hex` reports.
        byte: u8,
    },
    /// ceph-csi's decoder panics; its gRPC interceptor answers `Internal` with `panic …`.
    Crash {
        /// The Go runtime error the panic carries.
        reason: String,
    },
}

/// A numeric field of a version-1 id, decoded from hex.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HexField {
    /// The encoding version, bytes 0 to 3.
    Version,
    /// The clusterID length, bytes 5 to 8.
    ClusterIdLength,
    /// The pool or filesystem id, the 16 bytes after the clusterID and one separator.
    Location,
}

/// Why [`encode`](super::encode) refuses an id, as ceph-csi's `ComposeCSIID` would.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum EncodeError {
    /// The clusterID is longer than 64 bytes, so the id would pass 128 bytes.
    #[error("a cluster id of {cluster_id_bytes} bytes makes the volume id longer than 128 bytes")]
    LengthOverflow {
        /// The length of the clusterID in bytes.
        cluster_id_bytes: usize,
    },
    /// The object uuid is not exactly 36 bytes long.
    #[error("the object uuid has {uuid_bytes} bytes instead of 36")]
    InvalidUuid {
        /// The length of the object uuid in bytes.
        uuid_bytes: usize,
    },
}

// === impl DecodeError ===

impl DecodeError {
    pub(super) fn new(kind: DecodeErrorKind) -> DecodeError {
        DecodeError { kind }
    }

    /// Returns the reason, for callers that act on it.
    pub fn kind(&self) -> &DecodeErrorKind {
        &self.kind
    }

    /// Returns the exact text of the error ceph-csi's decoder produces.
    ///
    /// For [`DecodeErrorKind::Crash`] it is the message of the gRPC status that ceph-csi's
    /// panic interceptor returns (`internal/csi-common/utils.go`, `panicHandler`).
    pub fn ceph_csi_message(&self) -> String {
        match &self.kind {
            DecodeErrorKind::Underflow => {
                "failed to decode CSI identifier, string underflow".into()
            }
            DecodeErrorKind::SizeMismatch { .. } => {
                "failed to decode CSI identifier, string size mismatch".into()
            }
            DecodeErrorKind::InvalidHex { byte, .. } => gohex::invalid_byte_message(*byte),
            DecodeErrorKind::Crash { reason } => format!("panic {reason}"),
        }
    }
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeErrorKind::Underflow => {
                f.write_str("too few bytes for a ceph-csi volume id (string underflow)")
            }
            DecodeErrorKind::SizeMismatch { uuid_bytes } => write!(
                f,
                "the object uuid would have {uuid_bytes} bytes instead of 36 \
                 (string size mismatch)"
            ),
            DecodeErrorKind::InvalidHex {
                field,
                offset,
                byte,
            } => write!(
                f,
                "the {field} field has a byte that is not a hex digit, {}, at offset {offset}",
                gohex::go_unicode(*byte)
            ),
            DecodeErrorKind::Crash { reason } => {
                write!(f, "ceph-csi's decoder panics on this id: {reason}")
            }
        }
    }
}

impl fmt::Display for HexField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HexField::Version => "version",
            HexField::ClusterIdLength => "cluster id length",
            HexField::Location => "location id",
        })
    }
}

// === impl EncodeError ===

impl EncodeError {
    /// Returns the exact text of the error ceph-csi's `ComposeCSIID` returns.
    pub fn ceph_csi_message(&self) -> &'static str {
        match self {
            EncodeError::LengthOverflow { .. } => "CSI ID encoding length overflow",
            EncodeError::InvalidUuid { .. } => "CSI ID invalid object uuid",
        }
    }
}
