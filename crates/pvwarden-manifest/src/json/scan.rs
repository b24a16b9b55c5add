//! A structural JSON scanner: finds where values start and end without building them.
//!
//! It checks brackets and strings, which is all it takes to find the end of
//! a value and so to go on after a bad one; serde_json checks the rest when
//! it reads the bytes that were captured.
//!
//! The scan jumps rather than walks: it looks at eight bytes at a time for
//! the next quote or backslash inside a string, or the next quote or bracket
//! outside one, with a few word-wide operations (and `memchr2` through long
//! strings), and it keeps lines counted by [`Input::consume`] over whole
//! runs of bytes. The bytes of a value are copied once, into the buffer its
//! [`Capture`] appends to.

use std::io;
use std::ops::ControlFlow;

use crate::input::{Input, LookAheadError};

/// Bytes of the value being scanned, appended to a buffer up to a limit.
pub(crate) struct Capture<'b> {
    /// Where the bytes go; `None` when nothing is kept.
    out: Option<&'b mut Vec<u8>>,
    /// The length of `out` when the capture started.
    start: usize,
    limit: usize,
    /// The value was longer than the limit, and its bytes were dropped.
    pub truncated: bool,
}

impl<'b> Capture<'b> {
    /// Appends up to `limit` bytes to `out`.
    pub(crate) fn to(out: &'b mut Vec<u8>, limit: usize) -> Self {
        Capture {
            start: out.len(),
            out: Some(out),
            limit,
            truncated: false,
        }
    }

    /// Keeps nothing.
    pub(crate) fn off() -> Self {
        Capture {
            out: None,
            start: 0,
            limit: 0,
            truncated: false,
        }
    }

    /// Stops keeping bytes and removes those kept from the buffer.
    pub(crate) fn stop(&mut self) {
        if let Some(out) = self.out.take() {
            out.truncate(self.start);
        }
    }

    /// Keeps `bytes`, unless the limit is reached.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        let Some(out) = self.out.as_deref_mut() else {
            return;
        };
        if out.len() - self.start + bytes.len() > self.limit {
            self.truncated = true;
            self.stop();
            return;
        }
        out.extend_from_slice(bytes);
    }
}

/// Why scanning stopped.
#[derive(Debug)]
pub(crate) enum Problem {
    Io(io::Error),
    Syntax(&'static str),
    Limit { what: &'static str, limit: u64 },
}

/// A scanning failure and where it happened (1-based line and column).
#[derive(Debug)]
pub(crate) struct Fail {
    pub problem: Problem,
    pub line: u64,
    pub column: u64,
}

/// Where one step of a scan over a buffer ended.
enum Step {
    /// The whole buffer belongs to the value; go on with the next one.
    More,
    /// The value ends after this many bytes.
    Done(usize),
    /// The value is malformed at this offset.
    Bad(usize, Problem),
}

/// A byte repeated over a word.
const fn splat(byte: u8) -> u64 {
    u64::from_ne_bytes([byte; 8])
}

/// Sets the high bit of the lowest byte of `word` that equals `byte`.
///
/// Bytes above the lowest match may be marked too, by the borrow, so only
/// the lowest mark counts.
#[inline]
fn equal(word: u64, byte: u8) -> u64 {
    let x = word ^ splat(byte);
    x.wrapping_sub(splat(0x01)) & !x & splat(0x80)
}

/// Marks the quotes and backslashes of a word, for the inside of strings.
#[inline]
fn in_string(word: u64) -> u64 {
    equal(word, b'"') | equal(word, b'\\')
}

/// Marks the quotes and brackets of a word, for the outside of strings.
#[inline]
fn structural(word: u64) -> u64 {
    // `[` and `]` differ from `{` and `}` only in bit 5.
    let folded = word | splat(0x20);
    equal(word, b'"') | equal(folded, b'{') | equal(folded, b'}')
}

/// Finds the first quote or backslash: most strings are short, some are
/// long, such as an annotation that holds a whole manifest.
#[inline]
fn find_in_string(bytes: &[u8]) -> Option<usize> {
    let head = bytes.len().min(32);
    if let Some(i) = find(&bytes[..head], in_string) {
        return Some(i);
    }
    memchr::memchr2(b'"', b'\\', &bytes[head..]).map(|i| head + i)
}

/// Finds the first byte that `marks` marks, eight bytes at a time.
#[inline]
fn find(bytes: &[u8], marks: fn(u64) -> u64) -> Option<usize> {
    let mut words = bytes.chunks_exact(8);
    let mut offset = 0;
    for word in &mut words {
        let word = u64::from_le_bytes(<[u8; 8]>::try_from(word).unwrap_or_default());
        let marked = marks(word);
        if marked != 0 {
            return Some(offset + marked.trailing_zeros() as usize / 8);
        }
        offset += 8;
    }
    let mut last = [b' '; 8];
    let rest = words.remainder();
    last[..rest.len()].copy_from_slice(rest);
    let marked = marks(u64::from_le_bytes(last));
    (marked != 0).then(|| offset + marked.trailing_zeros() as usize / 8)
}

/// The state of a scan for the end of a string, object or array.
struct Nest {
    /// The closing brackets still expected, innermost last.
    closers: Vec<u8>,
    max_depth: usize,
    in_string: bool,
    /// The previous buffer ended with a backslash inside a string.
    escape: bool,
    /// Look for a top-level `kind` key in the object being scanned.
    watch_kind: bool,
    /// A top-level key was `kind`, spelled without escapes.
    has_kind: bool,
}

impl Nest {
    /// Follows strings and brackets through `bytes`.
    ///
    /// The value ends when a string closes, or a bracket, with no bracket
    /// left open.
    fn step(&mut self, bytes: &[u8]) -> Step {
        // The byte after a backslash that ended the previous buffer is escaped.
        let mut i = usize::from(std::mem::take(&mut self.escape));
        while i < bytes.len() {
            if self.in_string {
                let Some(j) = find_in_string(&bytes[i..]) else {
                    return Step::More;
                };
                i += j;
                if bytes[i] == b'\\' {
                    i += 2;
                    self.escape = i > bytes.len();
                    continue;
                }
                self.in_string = false;
                i += 1;
                if self.closers.is_empty() {
                    return Step::Done(i);
                }
                continue;
            }

            let Some(j) = find(&bytes[i..], structural) else {
                return Step::More;
            };
            i += j;
            match bytes[i] {
                b'"' => {
                    if self.watch_kind && self.closers.len() == 1 && is_kind_key(&bytes[i..]) {
                        self.has_kind = true;
                    }
                    self.in_string = true;
                }
                open @ (b'{' | b'[') => {
                    if self.closers.len() >= self.max_depth {
                        let limit = self.max_depth as u64;
                        let what = "nesting depth";
                        return Step::Bad(i, Problem::Limit { what, limit });
                    }
                    self.closers.push(if open == b'{' { b'}' } else { b']' });
                }
                close => {
                    if self.closers.pop() != Some(close) {
                        return Step::Bad(i, Problem::Syntax("mismatched bracket"));
                    }
                    if self.closers.is_empty() {
                        return Step::Done(i + 1);
                    }
                }
            }
            i += 1;
        }
        Step::More
    }
}

/// Returns whether `bytes` start with the key `"kind"` and its colon.
///
/// A key cut by the end of the buffer, or spelled with escapes, is not
/// recognised; callers take that as a key that may be missing.
fn is_kind_key(bytes: &[u8]) -> bool {
    let Some(rest) = bytes.strip_prefix(b"\"kind\"".as_slice()) else {
        return false;
    };
    rest.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b':')
}

/// The scanner over one input.
pub(crate) struct Scanner<'r> {
    pub input: Input<'r>,
    max_depth: usize,
}

impl<'r> Scanner<'r> {
    pub(crate) fn new(input: Input<'r>, max_depth: usize) -> Self {
        Scanner { input, max_depth }
    }

    /// Fails at the current position.
    pub(crate) fn fail(&self, problem: Problem) -> Fail {
        Fail {
            problem,
            line: self.input.line(),
            column: self.input.column(),
        }
    }

    /// Returns the buffered bytes, reading more when none are left.
    fn fill(&mut self) -> Result<&[u8], Fail> {
        let (line, column) = (self.input.line(), self.input.column());
        self.input.fill(1).map_err(|err| Fail {
            problem: Problem::Io(err),
            line,
            column,
        })
    }

    /// Skips white space and returns the next byte without consuming it.
    pub(crate) fn peek(&mut self, capture: &mut Capture<'_>) -> Result<Option<u8>, Fail> {
        loop {
            let bytes = self.fill()?;
            if bytes.is_empty() {
                return Ok(None);
            }
            match bytes.iter().position(|b| !b.is_ascii_whitespace()) {
                Some(i) => {
                    let next = bytes[i];
                    capture.push(&bytes[..i]);
                    self.input.consume(i);
                    return Ok(Some(next));
                }
                None => {
                    let n = bytes.len();
                    capture.push(bytes);
                    self.input.consume(n);
                }
            }
        }
    }

    /// Skips white space and consumes `expected`, or fails with `problem`.
    pub(crate) fn expect(
        &mut self,
        expected: u8,
        capture: &mut Capture<'_>,
        problem: &'static str,
    ) -> Result<(), Fail> {
        match self.peek(capture)? {
            Some(b) if b == expected => {
                capture.push(&[b]);
                self.input.consume(1);
                Ok(())
            }
            _ => Err(self.fail(Problem::Syntax(problem))),
        }
    }

    /// Scans one value, after white space.
    pub(crate) fn value(&mut self, capture: &mut Capture<'_>) -> Result<(), Fail> {
        match self.peek(capture)? {
            None => Err(self.fail(Problem::Syntax("unexpected end of input"))),
            Some(b'{' | b'[' | b'"') => self.close(capture, Vec::new()),
            Some(_) => self.scalar(capture),
        }
    }

    /// Scans an object, starting at its opening bracket.
    ///
    /// With `watch_kind`, returns whether one of its top-level keys is
    /// `kind`; otherwise returns `false`.
    pub(crate) fn object(
        &mut self,
        capture: &mut Capture<'_>,
        watch_kind: bool,
    ) -> Result<bool, Fail> {
        let mut nest = self.nest(Vec::new());
        nest.watch_kind = watch_kind;
        self.run(capture, |bytes| nest.step(bytes))?;
        Ok(nest.has_kind)
    }

    /// Scans a string, starting at its opening quote.
    pub(crate) fn string(&mut self, capture: &mut Capture<'_>) -> Result<(), Fail> {
        self.close(capture, Vec::new())
    }

    /// Skips to the end of the object the scan is in, one level down, after a
    /// malformed entry. Bytes already consumed cannot be re-read, so this goes
    /// by brackets and strings only; a string cut in the middle misleads it.
    pub(crate) fn skip_object_rest(&mut self) -> Result<(), Fail> {
        self.close(&mut Capture::off(), vec![b'}'])
    }

    /// Scans until every bracket in `closers`, and every one opened on the
    /// way, is closed; or, with none open, to the end of the string or
    /// bracketed value that starts here.
    fn close(&mut self, capture: &mut Capture<'_>, closers: Vec<u8>) -> Result<(), Fail> {
        let mut nest = self.nest(closers);
        self.run(capture, |bytes| nest.step(bytes))
    }

    /// A bracket scan that starts out of strings, with `closers` open.
    fn nest(&self, closers: Vec<u8>) -> Nest {
        Nest {
            closers,
            max_depth: self.max_depth,
            in_string: false,
            escape: false,
            watch_kind: false,
            has_kind: false,
        }
    }

    /// Scans a number, `true`, `false` or `null`, up to the next delimiter.
    fn scalar(&mut self, capture: &mut Capture<'_>) -> Result<(), Fail> {
        let mut len = 0usize;
        let result = self.run(capture, |bytes| {
            for (i, &b) in bytes.iter().enumerate() {
                if b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.') {
                    len += 1;
                    continue;
                }
                if len > 0 && (b.is_ascii_whitespace() || matches!(b, b',' | b'}' | b']')) {
                    return Step::Done(i);
                }
                return Step::Bad(i, Problem::Syntax("expected a value"));
            }
            Step::More
        });
        match result {
            // A scalar may end with the input, as in a file holding only `1`.
            Err(Fail {
                problem: Problem::Syntax("unexpected end of input"),
                ..
            }) if len > 0 => Ok(()),
            other => other,
        }
    }

    /// Feeds buffered bytes to `step` until it finds the end of the value.
    fn run(
        &mut self,
        capture: &mut Capture<'_>,
        mut step: impl FnMut(&[u8]) -> Step,
    ) -> Result<(), Fail> {
        loop {
            let bytes = self.fill()?;
            if bytes.is_empty() {
                return Err(self.fail(Problem::Syntax("unexpected end of input")));
            }
            match step(bytes) {
                Step::More => {
                    let n = bytes.len();
                    capture.push(bytes);
                    self.input.consume(n);
                }
                Step::Done(n) => {
                    capture.push(&bytes[..n]);
                    self.input.consume(n);
                    return Ok(());
                }
                Step::Bad(n, problem) => {
                    self.input.consume(n);
                    return Err(self.fail(problem));
                }
            }
        }
    }

    /// Finds the `kind` of the object enclosing the current list of items.
    ///
    /// The scan starts inside the `items` array, two levels below the
    /// document, and reads no further than the document's end.
    pub(crate) fn find_kind_ahead(&mut self) -> Result<Option<String>, LookAheadError> {
        let mut kind = KindScan::default();
        let found = self.input.look_ahead(|bytes| kind.feed(bytes))?;
        Ok(found.flatten())
    }
}

/// The state of a look-ahead for the top-level `kind`.
struct KindScan {
    depth: usize,
    in_string: bool,
    escape: bool,
    /// A top-level string is being collected: a key, or the value of `kind`.
    text: Option<Vec<u8>>,
    after_colon: bool,
    key_is_kind: bool,
}

impl Default for KindScan {
    fn default() -> Self {
        KindScan {
            depth: 2,
            in_string: false,
            escape: false,
            text: None,
            after_colon: false,
            key_is_kind: false,
        }
    }
}

impl KindScan {
    fn feed(&mut self, bytes: &[u8]) -> ControlFlow<Option<String>> {
        for &b in bytes {
            if self.in_string {
                if let Some(text) = &mut self.text {
                    if text.len() < 1024 {
                        text.push(b);
                    }
                }
                if self.escape {
                    self.escape = false;
                } else if b == b'\\' {
                    self.escape = true;
                } else if b == b'"' {
                    self.in_string = false;
                    if let Some(text) = self.text.take() {
                        if self.after_colon {
                            let kind = serde_json::from_slice::<String>(&text).ok();
                            return ControlFlow::Break(kind);
                        }
                        self.key_is_kind = text == b"\"kind\"";
                    }
                }
                continue;
            }
            match b {
                b'"' => {
                    self.in_string = true;
                    let wanted = !self.after_colon || self.key_is_kind;
                    if self.depth == 1 && wanted {
                        self.text = Some(vec![b]);
                    }
                }
                b'{' | b'[' => self.depth += 1,
                b'}' | b']' => {
                    self.depth = self.depth.saturating_sub(1);
                    if self.depth == 0 {
                        return ControlFlow::Break(None);
                    }
                }
                b':' if self.depth == 1 => self.after_colon = true,
                b',' if self.depth == 1 => {
                    self.after_colon = false;
                    self.key_is_kind = false;
                }
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn scanner(text: &'static str) -> Scanner<'static> {
        Scanner::new(Input::new(Box::new(text.as_bytes()), None, 1 << 20), 64)
    }

    #[test]
    fn values_are_captured_whole() {
        let mut scan = scanner(r#" {"a": "}\"", "b": [1, {"c": null}]} 12 "#);
        let mut out = Vec::new();
        scan.value(&mut Capture::to(&mut out, 1024)).unwrap();
        assert_eq!(out, br#" {"a": "}\"", "b": [1, {"c": null}]}"#);
        out.clear();
        scan.value(&mut Capture::to(&mut out, 1024)).unwrap();
        assert_eq!(out, b" 12");
    }

    /// Gives out its bytes one at a time, so that every byte ends a buffer.
    struct Trickle(&'static [u8]);

    impl io::Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let Some((&first, rest)) = self.0.split_first() else {
                return Ok(0);
            };
            buf[0] = first;
            self.0 = rest;
            Ok(1)
        }
    }

    #[test]
    fn escapes_and_quotes_are_followed_across_buffer_ends() {
        let text = br#"{"a\"b": "c\\", "d": ["}\"]", "\\\""], "e": "x"} 7"#;
        let mut scan = Scanner::new(Input::new(Box::new(Trickle(text)), None, 1 << 20), 64);
        let mut out = Vec::new();
        scan.value(&mut Capture::to(&mut out, 1024)).unwrap();
        assert_eq!(out, &text[..text.len() - 2]);
    }

    #[test]
    fn top_level_kind_keys_are_seen() {
        let has_kind = |text: &'static str| {
            let mut scan = scanner(text);
            scan.peek(&mut Capture::off()).unwrap();
            scan.object(&mut Capture::off(), true).unwrap()
        };
        assert!(has_kind(r#"{"a": {"kind": 1}, "kind" : "Pod"}"#));
        assert!(has_kind(r#"{"kind":"Pod"}"#));
        assert!(!has_kind(
            r#"{"a": {"kind": "Pod"}, "b": "kind", "c": ["kind"]}"#
        ));
        // An escaped spelling is not recognised, which callers take as "maybe no kind".
        assert!(!has_kind(r#"{"ki\u006ed": "Pod"}"#));
    }

    #[test]
    fn mismatched_brackets_fail_where_they_are() {
        let mut scan = scanner("{\n  \"a\": [1}\n");
        let fail = scan.value(&mut Capture::off()).unwrap_err();
        assert!(matches!(
            fail.problem,
            Problem::Syntax("mismatched bracket")
        ));
        assert_eq!((fail.line, fail.column), (2, 10));
    }

    #[test]
    fn deep_nesting_hits_the_limit() {
        let mut scan =
            scanner("[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[");
        let fail = scan.value(&mut Capture::off()).unwrap_err();
        assert!(matches!(fail.problem, Problem::Limit { .. }));
    }

    #[test]
    fn kind_after_items_is_found_ahead() {
        let mut scan = scanner(r#"{"x": "kind"}, {"kind": "no"}], "kind": "PodList", "b": 1}"#);
        assert_eq!(scan.find_kind_ahead().unwrap().as_deref(), Some("PodList"));
    }
}
