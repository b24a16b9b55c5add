//! Go strings, which hold bytes, turned into Rust strings the way Go itself prints them.

/// Converts bytes to a string, replacing each byte of an invalid UTF-8 sequence by U+FFFD.
///
/// This is what Go's `encoding/json` and `for range` do: `utf8.DecodeRune` answers
/// `(RuneError, 1)` for a bad sequence, so a character cut after two of its three bytes
/// gives two U+FFFD. `String::from_utf8_lossy` would give one.
pub(crate) fn lossy(mut bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    loop {
        match std::str::from_utf8(bytes) {
            Ok(valid) => {
                out.push_str(valid);
                return out;
            }
            Err(error) => {
                let (valid, rest) = bytes.split_at(error.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());

                // `error_len` is `None` when the input ends inside a sequence: then every
                // remaining byte is one bad sequence of length 1 for Go.
                let bad = error.error_len().unwrap_or(rest.len());
                out.extend(std::iter::repeat_n(char::REPLACEMENT_CHARACTER, bad));
                bytes = &rest[bad..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::lossy;

    #[test]
    fn valid_utf8_is_kept() {
        assert_eq!(lossy("rook-céph-☃".as_bytes()), "rook-céph-☃");
    }

    #[test]
    fn each_byte_of_a_cut_character_becomes_one_replacement() {
        // U+2603 is E2 98 83; cut after two bytes, Go prints two U+FFFD.
        assert_eq!(lossy(b"ab\xe2\x98"), "ab\u{fffd}\u{fffd}");
        assert_eq!(lossy(b"\xe2\x98-x"), "\u{fffd}\u{fffd}-x");
    }

    #[test]
    fn stray_continuation_and_invalid_bytes_are_replaced_one_by_one() {
        assert_eq!(lossy(b"\x83\x83z"), "\u{fffd}\u{fffd}z");
        assert_eq!(lossy(b"\xff\xc0\xaf"), "\u{fffd}\u{fffd}\u{fffd}");
        assert_eq!(lossy(b"\xed\xa0\x80"), "\u{fffd}\u{fffd}\u{fffd}");
    }
}
