//! A structural JSON scanner: finds where values start and end without building them.
//!
//! It checks brackets and strings, which is all it takes to find the end of
//! a value and so to go on after a bad one; serde_json checks the rest when
//! it reads the bytes that were captured.

use std::io;
use std::ops::ControlFlow;

use crate::input::{Input, LookAheadError};

/// Bytes of the value being scanned, kept up to a limit.
pub(crate) struct Capture {
    pub bytes: Vec<u8>,
    on: bool,
    limit: usize,
    /// The value was longer than the limit, and its bytes were dropped.
    pub truncated: bool,
}

impl Capture {
    /// Keeps up to `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Capture {
            bytes: Vec::new(),
            on: true,
            limit,
            truncated: false,
        }
    }

    /// Keeps nothing.
    pub(crate) fn off() -> Self {
        Capture {
            bytes: Vec::new(),
            on: false,
            limit: 0,
            truncated: false,
        }
    }

    /// Stops keeping bytes and frees those kept.
    pub(crate) fn stop(&mut self) {
        self.on = false;
        self.bytes = Vec::new();
    }

    /// Keeps `bytes`, unless the limit is reached.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        if !self.on {
            return;
        }
        if self.bytes.len() + bytes.len() > self.limit {
            self.truncated = true;
            self.stop();
            return;
        }
        self.bytes.extend_from_slice(bytes);
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
    pub(crate) fn peek(&mut self, capture: &mut Capture) -> Result<Option<u8>, Fail> {
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
        capture: &mut Capture,
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
    pub(crate) fn value(&mut self, capture: &mut Capture) -> Result<(), Fail> {
        match self.peek(capture)? {
            None => Err(self.fail(Problem::Syntax("unexpected end of input"))),
            Some(b'{' | b'[') => self.composite(capture),
            Some(b'"') => self.string(capture),
            Some(_) => self.scalar(capture),
        }
    }

    /// Scans a string, starting at its opening quote.
    pub(crate) fn string(&mut self, capture: &mut Capture) -> Result<(), Fail> {
        let mut opened = false;
        let mut escape = false;
        self.run(capture, |bytes| {
            for (i, &b) in bytes.iter().enumerate() {
                if !opened {
                    opened = true;
                } else if escape {
                    escape = false;
                } else if b == b'\\' {
                    escape = true;
                } else if b == b'"' {
                    return Step::Done(i + 1);
                }
            }
            Step::More
        })
    }

    /// Scans an object or array, starting at its opening bracket.
    fn composite(&mut self, capture: &mut Capture) -> Result<(), Fail> {
        self.close(capture, Vec::new())
    }

    /// Skips to the end of the object the scan is in, one level down, after a
    /// malformed entry. Bytes already consumed cannot be re-read, so this goes
    /// by brackets and strings only; a string cut in the middle misleads it.
    pub(crate) fn skip_object_rest(&mut self) -> Result<(), Fail> {
        self.close(&mut Capture::off(), vec![b'}'])
    }

    /// Scans until every bracket in `closers`, and every one opened on the way, is closed.
    fn close(&mut self, capture: &mut Capture, mut closers: Vec<u8>) -> Result<(), Fail> {
        let max_depth = self.max_depth;
        let mut in_string = false;
        let mut escape = false;
        self.run(capture, |bytes| {
            for (i, &b) in bytes.iter().enumerate() {
                if in_string {
                    if escape {
                        escape = false;
                    } else if b == b'\\' {
                        escape = true;
                    } else if b == b'"' {
                        in_string = false;
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' | b'[' => {
                        if closers.len() >= max_depth {
                            let limit = max_depth as u64;
                            return Step::Bad(
                                i,
                                Problem::Limit {
                                    what: "nesting depth",
                                    limit,
                                },
                            );
                        }
                        closers.push(if b == b'{' { b'}' } else { b']' });
                    }
                    b'}' | b']' => {
                        if closers.pop() != Some(b) {
                            return Step::Bad(i, Problem::Syntax("mismatched bracket"));
                        }
                        if closers.is_empty() {
                            return Step::Done(i + 1);
                        }
                    }
                    _ => {}
                }
            }
            Step::More
        })
    }

    /// Scans a number, `true`, `false` or `null`, up to the next delimiter.
    fn scalar(&mut self, capture: &mut Capture) -> Result<(), Fail> {
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
        capture: &mut Capture,
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
        let mut capture = Capture::new(1024);
        scan.value(&mut capture).unwrap();
        assert_eq!(capture.bytes, br#" {"a": "}\"", "b": [1, {"c": null}]}"#);
        let mut capture = Capture::new(1024);
        scan.value(&mut capture).unwrap();
        assert_eq!(capture.bytes, b" 12");
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
