//! Characters for the YAML parser, one document at a time.
//!
//! The parser cannot go on after a syntax error, so each document gets a
//! parser of its own and [`Feed`] ends the characters at the next document
//! boundary. A line that starts with `---` or `...` followed by a space or the
//! end of the line is a boundary wherever it appears: YAML forbids such lines
//! inside content, so cutting there never splits a well-formed document.

use std::cell::RefCell;
use std::io;
use std::ops::ControlFlow;
use std::rc::Rc;

use granit_parser::ErrorKind;

use crate::input::{Input, LookAheadError};

/// The input, cut into documents.
pub(crate) struct Feed<'r> {
    input: Input<'r>,
    /// The next byte starts a line.
    at_line_start: bool,
    /// The current line is the first of the document.
    first_line: bool,
    /// The current line is `...`, which ends the document after it.
    last_line: bool,
    /// The document's characters have all been handed out.
    ended: bool,
    /// A read error, kept here because the parser only carries its kind.
    io_error: Option<io::Error>,
    /// Where the first byte that is not UTF-8 is: the parser's own position
    /// lags behind what it has read ahead.
    bad_utf8: Option<(u64, u64)>,
}

/// A bad byte sequence: where it starts.
const BAD_UTF8: &str = "invalid UTF-8";

impl<'r> Feed<'r> {
    pub(crate) fn new(input: Input<'r>) -> Self {
        Feed {
            input,
            at_line_start: true,
            first_line: true,
            last_line: false,
            ended: true,
            io_error: None,
            bad_utf8: None,
        }
    }

    /// Starts the next document; returns false at the end of the input.
    pub(crate) fn start_document(&mut self) -> io::Result<bool> {
        if self.input.fill(1)?.is_empty() {
            return Ok(false);
        }
        self.at_line_start = true;
        self.first_line = true;
        self.last_line = false;
        self.ended = false;
        Ok(true)
    }

    /// The 1-based line of the next character.
    pub(crate) fn line(&self) -> u64 {
        self.input.line()
    }

    /// Takes the read error that ended the characters, if one did.
    pub(crate) fn take_io_error(&mut self) -> Option<io::Error> {
        self.io_error.take()
    }

    /// Takes the line and column of the bad byte that ended the characters, if one did.
    pub(crate) fn take_bad_utf8(&mut self) -> Option<(u64, u64)> {
        self.bad_utf8.take()
    }

    /// Hands out the next character of the current document.
    fn next_char(&mut self) -> Option<Result<char, ErrorKind>> {
        match self.decode() {
            Ok(next) => next,
            Err(err) => {
                self.io_error = Some(err);
                Some(Err(ErrorKind::InputDecoding {
                    message: "read error".to_owned(),
                }))
            }
        }
    }

    fn decode(&mut self) -> io::Result<Option<Result<char, ErrorKind>>> {
        if self.ended {
            return Ok(None);
        }
        // Most characters are ASCII in the middle of a line: nothing to check.
        if !self.at_line_start {
            if let Some(b) = self.input.next_plain_ascii() {
                return Ok(Some(Ok(b as char)));
            }
        }
        if self.at_line_start {
            self.at_line_start = false;
            let head = self.input.fill(4)?;
            if !self.first_line && is_marker(head, b"---") {
                self.ended = true;
                return Ok(None);
            }
            self.last_line = is_marker(head, b"...");
        }

        let bytes = self.input.fill(4)?;
        let Some(&first) = bytes.first() else {
            self.ended = true;
            return Ok(None);
        };
        let (c, len) = if first.is_ascii() {
            (first as char, 1)
        } else {
            let len = utf8_len(first);
            match bytes.get(..len).map(std::str::from_utf8) {
                Some(Ok(s)) => (s.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER), len),
                _ => {
                    self.bad_utf8 = Some((self.input.line(), self.input.column()));
                    return Ok(Some(Err(ErrorKind::InputDecoding {
                        message: BAD_UTF8.to_owned(),
                    })));
                }
            }
        };
        self.input.consume(len);
        if c == '\n' {
            self.at_line_start = true;
            self.first_line = false;
            self.ended = self.last_line;
        }
        Ok(Some(Ok(c)))
    }

    /// Skips what the parser left of the current document.
    pub(crate) fn skip_document(&mut self) {
        while !self.ended {
            let skipped = self.skip_line();
            if !matches!(skipped, Ok(true)) {
                self.ended = true;
            }
        }
    }

    /// Skips to the start of the next line; returns false at the end of the input.
    fn skip_line(&mut self) -> io::Result<bool> {
        if self.at_line_start && !self.first_line && is_marker(self.input.fill(4)?, b"---") {
            self.ended = true;
            return Ok(true);
        }
        let last_line = self.at_line_start && is_marker(self.input.fill(4)?, b"...");
        loop {
            let bytes = self.input.fill(1)?;
            if bytes.is_empty() {
                return Ok(false);
            }
            match bytes.iter().position(|&b| b == b'\n') {
                Some(i) => {
                    self.input.consume(i + 1);
                    break;
                }
                None => {
                    let n = bytes.len();
                    self.input.consume(n);
                }
            }
        }
        self.at_line_start = true;
        self.first_line = false;
        self.ended = last_line;
        Ok(true)
    }

    /// Finds the value of a top-level `kind:` line before the next document.
    ///
    /// This is a line-level scan, not a parse: it serves lists whose `kind`
    /// comes after items without their own, which kubectl prints in block
    /// style with `kind:` at the start of a line.
    pub(crate) fn find_kind_ahead(&mut self) -> Result<Option<String>, LookAheadError> {
        let mut line = Vec::new();
        // The current line is partly consumed already, so it is not a candidate.
        let mut skip_first = !self.at_line_start;
        let found = self.input.look_ahead(|bytes| {
            for &b in bytes {
                if b != b'\n' {
                    if line.len() < 256 {
                        line.push(b);
                    }
                    continue;
                }
                if std::mem::take(&mut skip_first) {
                    line.clear();
                    continue;
                }
                if is_marker(&line, b"---") || is_marker(&line, b"...") {
                    return ControlFlow::Break(None);
                }
                if let Some(kind) = kind_line(&line) {
                    return ControlFlow::Break(Some(kind));
                }
                line.clear();
            }
            ControlFlow::Continue(())
        })?;
        Ok(found.flatten().or_else(|| kind_line(&line)))
    }
}

/// A handle on the feed that the parser pulls characters from.
pub(crate) struct Chars<'r>(Rc<RefCell<Feed<'r>>>);

impl<'r> Chars<'r> {
    pub(crate) fn new(feed: Rc<RefCell<Feed<'r>>>) -> Self {
        Chars(feed)
    }
}

impl Iterator for Chars<'_> {
    type Item = Result<char, ErrorKind>;

    fn next(&mut self) -> Option<Self::Item> {
        self.0.borrow_mut().next_char()
    }
}

/// Returns whether a line starts with a document marker.
fn is_marker(line: &[u8], marker: &[u8; 3]) -> bool {
    line.starts_with(marker) && matches!(line.get(3), None | Some(b' ' | b'\t' | b'\r' | b'\n'))
}

/// Reads `kind: Value` from a line that starts at column 0.
fn kind_line(line: &[u8]) -> Option<String> {
    let rest = line.strip_prefix(b"kind:")?;
    let text = std::str::from_utf8(rest).ok()?;
    let text = text.split(" #").next().unwrap_or_default().trim();
    let text = text.trim_matches(|c| c == '"' || c == '\'');
    (!text.is_empty()).then(|| text.to_owned())
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        0xf0..=0xf7 => 4,
        _ => 1,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn feed(text: &'static str) -> Feed<'static> {
        Feed::new(Input::new(Box::new(text.as_bytes()), None, 1 << 20))
    }

    fn document(feed: &mut Feed<'_>) -> Option<String> {
        if !feed.start_document().unwrap() {
            return None;
        }
        let mut out = String::new();
        while let Some(c) = feed.next_char() {
            out.push(c.unwrap());
        }
        Some(out)
    }

    #[test]
    fn documents_are_cut_at_markers() {
        let mut feed = feed("a: 1\n---\nb: 2\n...\n--- c\n---x: 3\n");
        assert_eq!(document(&mut feed).as_deref(), Some("a: 1\n"));
        assert_eq!(document(&mut feed).as_deref(), Some("---\nb: 2\n...\n"));
        assert_eq!(document(&mut feed).as_deref(), Some("--- c\n---x: 3\n"));
        assert_eq!(document(&mut feed), None);
    }

    #[test]
    fn skipping_stops_at_the_next_document() {
        let mut feed = feed("a: [\n  b\n---\nc: 1\n");
        assert!(feed.start_document().unwrap());
        feed.next_char();
        feed.skip_document();
        assert_eq!(document(&mut feed).as_deref(), Some("---\nc: 1\n"));
    }

    #[test]
    fn kind_is_found_ahead() {
        let mut feed = feed("items:\n- a: 1\nkind: \"PersistentVolumeList\" # x\n---\nkind: B\n");
        assert!(feed.start_document().unwrap());
        assert_eq!(
            feed.find_kind_ahead().unwrap().as_deref(),
            Some("PersistentVolumeList")
        );
    }
}
