//! Go's `encoding/hex` decoding and the text of its `InvalidByteError`.
//!
//! ceph-csi hands the numeric fields of an id to `hex.DecodeString` and returns its error
//! unchanged, so the event a user sees reads `encoding/hex: invalid byte: U+002D '-'`. Go
//! checks digit pairs from the left, the high digit of a pair first, so the byte it reports
//! is the first non-digit of the slice; only an all-digit slice of odd length gets
//! `ErrLength`. The byte is printed with `%#U` as if it were a rune, so bytes of 0x80 and up
//! print as U+0080 to U+00FF, with the quoted character only when `strconv.IsPrint` says so.

/// Why Go's `hex.DecodeString` rejects its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HexError {
    /// A byte that is not a hex digit, at `index` within the decoded slice.
    InvalidByte { index: usize, byte: u8 },
    /// All bytes are digits, but there is an odd number of them.
    OddLength,
}

/// The text of Go's `hex.ErrLength`.
pub(crate) const ODD_LENGTH_MESSAGE: &str = "encoding/hex: odd length hex string";

/// Returns the value of a hex digit of either case, as Go's `reverseHexTable` does.
fn digit(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

/// Returns the index and value of the byte Go would report as invalid, if any.
pub(crate) fn first_invalid(src: &[u8]) -> Option<(usize, u8)> {
    src.iter()
        .position(|&b| digit(b).is_none())
        .map(|index| (index, src[index]))
}

/// Reads up to 16 hex digits as one big-endian number, ignoring bytes that are not digits.
///
/// Callers check [`first_invalid`] first; this is Go's `hex.DecodeString` followed by
/// `binary.BigEndian.Uint16` or `Uint64`.
pub(crate) fn value_be(src: &[u8]) -> u64 {
    src.iter()
        .fold(0, |acc, &b| acc << 4 | u64::from(digit(b).unwrap_or(0)))
}

/// Decodes hex digits into bytes with Go's `hex.DecodeString` rules.
pub(crate) fn decode(src: &[u8]) -> Result<Vec<u8>, HexError> {
    if let Some((index, byte)) = first_invalid(src) {
        return Err(HexError::InvalidByte { index, byte });
    }
    if src.len() % 2 == 1 {
        return Err(HexError::OddLength);
    }
    Ok(src
        .chunks_exact(2)
        .map(|pair| (value_be(pair) & 0xff) as u8)
        .collect())
}

/// Returns the text of Go's `hex.InvalidByteError` for `byte`.
pub(crate) fn invalid_byte_message(byte: u8) -> String {
    format!("encoding/hex: invalid byte: {}", go_unicode(byte))
}

/// Formats a byte as Go's `fmt` formats `rune(byte)` with `%#U`, e.g. `U+002D '-'`.
pub(crate) fn go_unicode(byte: u8) -> String {
    if is_print(byte) {
        format!("U+{byte:04X} '{}'", char::from(byte))
    } else {
        format!("U+{byte:04X}")
    }
}

/// Returns Go's `strconv.IsPrint` for the runes U+0000 to U+00FF.
///
/// Go's Latin-1 fast path: ASCII from space to `~`, and U+00A1 to U+00FF except the soft
/// hyphen U+00AD. U+00A0, a space that is not ASCII space, is not printable.
fn is_print(byte: u8) -> bool {
    matches!(byte, 0x20..=0x7e) || (matches!(byte, 0xa1..=0xff) && byte != 0xad)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    /// Go's `%#U` text for every byte, derived from the ranges in Go's `strconv.IsPrint`.
    fn expected_go_unicode(byte: u8) -> String {
        let code = format!("U+00{byte:02X}");
        let printable = (0x20..0x7f).contains(&byte) || (0xa1..=0xff).contains(&byte);
        if printable && byte != 0xad {
            format!("{code} '{}'", char::from_u32(u32::from(byte)).unwrap())
        } else {
            code
        }
    }

    #[test]
    fn invalid_byte_message_matches_go_for_all_bytes() {
        for byte in 0..=u8::MAX {
            assert_eq!(
                invalid_byte_message(byte),
                format!("encoding/hex: invalid byte: {}", expected_go_unicode(byte)),
                "byte {byte:#04x}"
            );
        }
    }

    #[test]
    fn invalid_byte_message_samples_read_like_go() {
        let cases: &[(u8, &str)] = &[
            (b'-', "encoding/hex: invalid byte: U+002D '-'"),
            (b' ', "encoding/hex: invalid byte: U+0020 ' '"),
            (b'\'', "encoding/hex: invalid byte: U+0027 '''"),
            (b'g', "encoding/hex: invalid byte: U+0067 'g'"),
            (0x00, "encoding/hex: invalid byte: U+0000"),
            (b'\n', "encoding/hex: invalid byte: U+000A"),
            (0x7f, "encoding/hex: invalid byte: U+007F"),
            (0x80, "encoding/hex: invalid byte: U+0080"),
            (0xa0, "encoding/hex: invalid byte: U+00A0"),
            (0xa1, "encoding/hex: invalid byte: U+00A1 '¡'"),
            (0xad, "encoding/hex: invalid byte: U+00AD"),
            (0xc3, "encoding/hex: invalid byte: U+00C3 'Ã'"),
            (0xff, "encoding/hex: invalid byte: U+00FF 'ÿ'"),
        ];
        for (byte, text) in cases {
            assert_eq!(invalid_byte_message(*byte), *text);
        }
    }

    #[test]
    fn digits_are_exactly_go_hex_digits() {
        for byte in 0..=u8::MAX {
            let is_digit = byte.is_ascii_hexdigit();
            assert_eq!(
                first_invalid(&[byte]).is_none(),
                is_digit,
                "byte {byte:#04x}"
            );
        }
    }

    #[test]
    fn decode_reports_first_bad_byte_before_odd_length() {
        assert_eq!(
            decode(b"0g1"),
            Err(HexError::InvalidByte {
                index: 1,
                byte: b'g'
            })
        );
        assert_eq!(
            decode(b"01z"),
            Err(HexError::InvalidByte {
                index: 2,
                byte: b'z'
            })
        );
        assert_eq!(decode(b"012"), Err(HexError::OddLength));
        assert_eq!(decode(b""), Ok(vec![]));
        assert_eq!(decode(b"00fFA5"), Ok(vec![0x00, 0xff, 0xa5]));
    }

    #[test]
    fn value_be_reads_big_endian_numbers() {
        assert_eq!(value_be(b"0001"), 1);
        assert_eq!(value_be(b"FFFF"), 0xffff);
        assert_eq!(value_be(b"ffffffffffffffff"), u64::MAX);
        assert_eq!(value_be(b"0000000000000047"), 0x47);
    }
}
