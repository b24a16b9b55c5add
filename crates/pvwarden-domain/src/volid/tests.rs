//! Tests of the version-1 codec and of `classify`.
//!
//! `cases` holds the handles named in DOMAIN.md and seen in real clusters; `props` checks
//! [`decode`](super::decode) against [`reference`], the decision table of the `codec` module
//! docs written as one closed formula, and checks that encoding and decoding round-trip.

mod cases;
mod props;

use super::{CsiId, DecodeErrorKind, HexField};

/// The outcome of decoding, compared without the error wrapper.
pub(super) type Outcome = Result<CsiId, DecodeErrorKind>;

/// Decodes `s` from the closed formula of the `codec` docs, with no wrapping arithmetic.
pub(super) fn reference(s: &[u8]) -> Outcome {
    let b = s.len() % 65536;
    if b < 64 {
        return Err(DecodeErrorKind::Underflow);
    }
    let version = hex(s, 0, 4, HexField::Version)?;
    let c = hex(s, 5, 4, HexField::ClusterIdLength)? as usize;
    if c == 0xffff {
        let reason = "runtime error: slice bounds out of range [10:9]".to_owned();
        return Err(DecodeErrorKind::Crash { reason });
    }
    if b < c + 28 {
        return Err(DecodeErrorKind::Underflow);
    }
    let location = hex(s, c + 11, 16, HexField::Location)?;
    if b != c + 64 {
        return Err(DecodeErrorKind::SizeMismatch {
            uuid_bytes: b - c - 28,
        });
    }
    Ok(CsiId {
        encoding_version: version as u16,
        cluster_id: super::gostring::lossy(&s[10..10 + c]),
        location_id: location as i64,
        object_uuid: super::gostring::lossy(&s[c + 28..c + 64]),
    })
}

/// Reads `len` hex digits at `start`, failing on the first byte that is not one.
fn hex(s: &[u8], start: usize, len: usize, field: HexField) -> Result<u64, DecodeErrorKind> {
    let digits = &s[start..start + len];
    if let Some(i) = digits.iter().position(|b| !b.is_ascii_hexdigit()) {
        return Err(DecodeErrorKind::InvalidHex {
            field,
            offset: start + i,
            byte: digits[i],
        });
    }
    let text = std::str::from_utf8(digits).expect("hex digits must be ASCII");
    Ok(u64::from_str_radix(text, 16).expect("16 hex digits must fit in a u64"))
}
