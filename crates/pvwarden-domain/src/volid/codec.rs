//! Version-1 ids, decoded and encoded exactly as ceph-csi's `internal/util/volid.go` does.
//!
//! [`decode`] follows `DecomposeCSIID` statement by statement, with Go's `uint16` arithmetic
//! as wrapping `u16` arithmetic and Go's slice expressions as [`go_slice`], which fails where
//! Go panics. Written out, with `L` the byte length of the handle, `b = L mod 65536` (Go's
//! `uint16(len(s))`) and `c` the clusterID length field, the decoder does this:
//!
//! | step | Go statement                          | outcome                                   |
//! |------|---------------------------------------|-------------------------------------------|
//! | 1    | `bytesToProcess < knownFieldSize`     | `b < 64`: underflow                       |
//! | 2    | `hex.DecodeString(s[0:4])`            | bad digit: hex error (version)            |
//! | 3    | `hex.DecodeString(s[5:9])`            | bad digit: hex error (length)             |
//! | 4    | `bytesToProcess < clusterIDLength+1`  | `c != ffff` and `b < c+11`: underflow     |
//! | 5    | `s[10 : 10+clusterIDLength]`          | `c = ffff`: panic, see below              |
//! | 6    | `bytesToProcess < minLenToDecode`     | `b < c+28`: underflow                     |
//! | 7    | `hex.DecodeString(s[c+11 : c+27])`    | bad digit: hex error (location)           |
//! | 8    | `bytesToProcess != uuidSize`          | `b != c+64`: size mismatch, `b-c-28` left |
//! | 9    | `s[c+28 : c+64]`                      | accepted                                  |
//!
//! For `c = ffff`, `clusterIDLength+1` wraps to 0, so step 4 passes whatever `b` is; then
//! `10+clusterIDLength` wraps to 9 and Go panics with `slice bounds out of range [10:9]`.
//!
//! Why nothing else can happen, in particular no other panic:
//! - Step 1 passing means `L >= b >= 64`, so the slices of steps 2 and 3 are in bounds.
//! - After step 4 with `c != ffff`, `c <= b-11 <= 65524`, so `10+c` does not wrap and
//!   `10+c < b <= L`: the clusterID slice is in bounds. The values `c` in `fff6..=fffe`,
//!   for which `10+c` would wrap too, need `b >= 65537` to pass step 4, which is impossible.
//! - After step 6, `c+28 <= b`, so `c+27` does not wrap and the location slice is in bounds.
//! - At step 9, `c+64 = b <= L`, so the uuid slice is in bounds.
//! - Hex digits are always read in even counts (4, 4 and 16), so `ErrLength` never occurs.
//!
//! So for handles of 65536 bytes or more only `b` counts: if the first `b` bytes form an id,
//! the handle is accepted with those fields and the rest is ignored. Separators (bytes 4 and
//! 9, `c+10` and `c+27`) are never looked at, nor is the version. The `tests` module checks
//! [`decode`] against this table written as a closed formula.

use super::error::{DecodeError, DecodeErrorKind, EncodeError, HexField};
use super::{gohex, gostring, CsiId};

/// Go's `knownFieldSize`: the bytes of a version-1 id outside the clusterID.
const KNOWN_FIELD_SIZE: u16 = 64;

/// Go's `uuidSize`: the bytes of the object uuid at the end of the id.
const UUID_SIZE: u16 = 36;

/// Go's `maxVolIDLen`, the CSI limit that only the encoder enforces.
const MAX_VOL_ID_LEN: usize = 128;

/// Go's `minLenToDecode`: the location field and the separator before the uuid.
const MIN_LEN_TO_DECODE: u16 = 17;

/// Decodes a version-1 ceph-csi id, accepting and rejecting exactly what ceph-csi does.
///
/// # Errors
///
/// Returns the error `DecomposeCSIID` returns, or [`DecodeErrorKind::Crash`] where it panics.
pub fn decode(handle: &str) -> Result<CsiId, DecodeError> {
    let s = handle.as_bytes();

    // `uint16(len(composedCSIID))`: Go keeps the length modulo 65536, and every later test
    // compares against this wrapped count.
    let mut left = s.len() as u16;
    if left < KNOWN_FIELD_SIZE {
        return Err(underflow());
    }

    let encoding_version = hex_field(s, 0, 4, HexField::Version)? as u16;
    left = left.wrapping_sub(5);
    let cluster_len = hex_field(s, 5, 4, HexField::ClusterIdLength)? as u16;
    left = left.wrapping_sub(5);

    // For a length of ffff, `clusterIDLength+1` is 0: the test passes and the slice panics.
    if left < cluster_len.wrapping_add(1) {
        return Err(underflow());
    }
    let cluster = go_slice(s, 10, 10u16.wrapping_add(cluster_len))?;
    left = left.wrapping_sub(cluster_len.wrapping_add(1));
    let mut next = 10u16.wrapping_add(cluster_len).wrapping_add(1);

    if left < MIN_LEN_TO_DECODE {
        return Err(underflow());
    }
    let location = hex_field(s, next, 16, HexField::Location)?;
    left = left.wrapping_sub(17);
    next = next.wrapping_add(17);

    if left != UUID_SIZE {
        let uuid_bytes = usize::from(left);
        return Err(DecodeError::new(DecodeErrorKind::SizeMismatch {
            uuid_bytes,
        }));
    }
    let uuid = go_slice(s, next, next.wrapping_add(UUID_SIZE))?;

    Ok(CsiId {
        encoding_version,
        cluster_id: gostring::lossy(cluster),
        // `int64(binary.BigEndian.Uint64(buf64))`: the bits are kept, the sign may flip.
        location_id: location as i64,
        object_uuid: gostring::lossy(uuid),
    })
}

/// Encodes a version-1 ceph-csi id exactly as ceph-csi's `ComposeCSIID` does.
///
/// An `encoding_version` of 0 is written as 1, like ceph-csi, whose decoded ids are the
/// only ones that carry another version. Hex digits are lowercase.
///
/// # Errors
///
/// Fails, in ceph-csi's order, when the clusterID is longer than 64 bytes or the object
/// uuid is not 36 bytes long.
pub fn encode(id: &CsiId) -> Result<String, EncodeError> {
    let cluster_id_bytes = id.cluster_id.len();
    if usize::from(KNOWN_FIELD_SIZE) + cluster_id_bytes > MAX_VOL_ID_LEN {
        return Err(EncodeError::LengthOverflow { cluster_id_bytes });
    }
    if id.object_uuid.len() != usize::from(UUID_SIZE) {
        return Err(EncodeError::InvalidUuid {
            uuid_bytes: id.object_uuid.len(),
        });
    }

    let version = if id.encoding_version == 0 {
        1
    } else {
        id.encoding_version
    };
    Ok(format!(
        "{version:04x}-{cluster_id_bytes:04x}-{}-{:016x}-{}",
        id.cluster_id, id.location_id as u64, id.object_uuid
    ))
}

fn underflow() -> DecodeError {
    DecodeError::new(DecodeErrorKind::Underflow)
}

/// Reads `len` hex digits at `low` as `hex.DecodeString` and `binary.BigEndian` would.
fn hex_field(s: &[u8], low: u16, len: u16, field: HexField) -> Result<u64, DecodeError> {
    let digits = go_slice(s, low, low.wrapping_add(len))?;
    match gohex::first_invalid(digits) {
        Some((index, byte)) => {
            let offset = usize::from(low) + index;
            Err(DecodeError::new(DecodeErrorKind::InvalidHex {
                field,
                offset,
                byte,
            }))
        }
        None => Ok(gohex::value_be(digits)),
    }
}

/// Slices a string like Go's `s[low:high]`, failing with Go's panic text where Go panics.
///
/// The indices are `u16` because `DecomposeCSIID` computes them in `uint16`.
fn go_slice(s: &[u8], low: u16, high: u16) -> Result<&[u8], DecodeError> {
    let (low, high) = (usize::from(low), usize::from(high));

    // Go checks the upper bound against the length first, then the order of the bounds.
    let reason = if high > s.len() {
        format!(
            "runtime error: slice bounds out of range [:{high}] with length {}",
            s.len()
        )
    } else if low > high {
        format!("runtime error: slice bounds out of range [{low}:{high}]")
    } else {
        return Ok(&s[low..high]);
    };
    Err(DecodeError::new(DecodeErrorKind::Crash { reason }))
}
