//! The bytes of one input: buffering, line counting, format sniffing, look-ahead.
//!
//! Both parsers read through an [`Input`], which keeps a window of at most a
//! few chunks in memory and counts lines as bytes are consumed. The one place
//! that may read further ahead is [`Input::look_ahead`], used to find a list's
//! `kind` when it comes after items that lack their own: a regular file is
//! opened a second time for that, other inputs are buffered up to a limit.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::path::PathBuf;

/// How many bytes are read from the source at a time.
const CHUNK: usize = 64 * 1024;

/// How much of the start of a file is checked for NUL bytes.
const SNIFF: usize = 8 * 1024;

/// What the start of an input looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// The first non-space byte is `{` or `[`.
    Json,
    /// Anything else that is text.
    Yaml,
    /// Nothing but white space.
    Blank,
    /// A NUL byte within the first few kilobytes.
    Binary,
}

/// Why a look-ahead failed.
#[derive(Debug)]
pub(crate) enum LookAheadError {
    Io(io::Error),
    /// More than the limit would have had to be buffered.
    TooFar(u64),
}

/// A buffered, line-counting byte source.
pub(crate) struct Input<'r> {
    /// Set for regular files, which look-ahead may open again.
    path: Option<PathBuf>,
    inner: Box<dyn Read + 'r>,
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// Absolute offset of `buf[pos]`.
    offset: u64,
    /// The 1-based line of `buf[pos]`.
    line: u64,
    /// Absolute offset of the first byte of the current line.
    line_start: u64,
    max_look_ahead: u64,
}

impl<'r> Input<'r> {
    /// Wraps a reader; `path` is given only for regular files.
    pub(crate) fn new(
        inner: Box<dyn Read + 'r>,
        path: Option<PathBuf>,
        max_look_ahead: u64,
    ) -> Self {
        Input {
            path,
            inner,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            offset: 0,
            line: 1,
            line_start: 0,
            max_look_ahead,
        }
    }

    /// The 1-based line of the next byte.
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The 1-based column of the next byte, counted in bytes.
    pub(crate) fn column(&self) -> u64 {
        self.offset - self.line_start + 1
    }

    /// Returns the buffered bytes, reading until at least `want` are there or the input ends.
    pub(crate) fn fill(&mut self, want: usize) -> io::Result<&[u8]> {
        if self.end - self.pos < want && !self.eof {
            self.refill(want)?;
        }
        Ok(&self.buf[self.pos..self.end])
    }

    fn refill(&mut self, want: usize) -> io::Result<()> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        let size = want.max(CHUNK);
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
        while self.end < want && !self.eof {
            if self.end == self.buf.len() {
                let len = self.buf.len() + CHUNK;
                self.buf.resize(len, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(err),
            }
        }
        Ok(())
    }

    /// Consumes the next buffered byte if it is ASCII other than a line feed.
    #[inline]
    pub(crate) fn next_plain_ascii(&mut self) -> Option<u8> {
        let b = *self.buf[..self.end].get(self.pos)?;
        if !b.is_ascii() || b == b'\n' {
            return None;
        }
        self.pos += 1;
        self.offset += 1;
        Some(b)
    }

    /// Consumes `n` buffered bytes, counting the lines they end.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.pos);
        let bytes = &self.buf[self.pos..self.pos + n];
        if let Some(last) = last_newline(bytes) {
            self.line += newlines(&bytes[..last]) as u64 + 1;
            self.line_start = self.offset + last as u64 + 1;
        }
        self.pos += n;
        self.offset += n as u64;
    }

    /// Tells JSON from YAML, and both from blank and binary input.
    pub(crate) fn sniff(&mut self) -> io::Result<Sniff> {
        if self.fill(SNIFF)?.contains(&0) {
            return Ok(Sniff::Binary);
        }
        // White space may run past the first chunk; look further, but not forever.
        let mut want = SNIFF;
        loop {
            let bytes = self.fill(want)?;
            let ended = bytes.len() < want;
            let text = bytes
                .strip_prefix(b"\xef\xbb\xbf".as_slice())
                .unwrap_or(bytes);
            match text.iter().find(|b| !b.is_ascii_whitespace()) {
                Some(b'{' | b'[') => return Ok(Sniff::Json),
                Some(_) => return Ok(Sniff::Yaml),
                None if ended => return Ok(Sniff::Blank),
                // The YAML reader streams through any amount of white space.
                None if want >= 16 * CHUNK => return Ok(Sniff::Yaml),
                None => want *= 2,
            }
        }
    }

    /// Shows `scan` the bytes after the current position until it breaks.
    ///
    /// The current position does not move. Returns `None` when the input ends
    /// before `scan` breaks.
    pub(crate) fn look_ahead<T>(
        &mut self,
        mut scan: impl FnMut(&[u8]) -> ControlFlow<T>,
    ) -> Result<Option<T>, LookAheadError> {
        if let Some(path) = &self.path {
            // A regular file is read again from here rather than buffered.
            let mut file = File::open(path).map_err(LookAheadError::Io)?;
            file.seek(SeekFrom::Start(self.offset))
                .map_err(LookAheadError::Io)?;
            let mut chunk = vec![0; CHUNK];
            loop {
                let n = match file.read(&mut chunk) {
                    Ok(0) => return Ok(None),
                    Ok(n) => n,
                    Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                    Err(err) => return Err(LookAheadError::Io(err)),
                };
                if let ControlFlow::Break(found) = scan(&chunk[..n]) {
                    return Ok(Some(found));
                }
            }
        }

        let mut scanned = self.pos;
        loop {
            if scanned < self.end {
                if let ControlFlow::Break(found) = scan(&self.buf[scanned..self.end]) {
                    return Ok(Some(found));
                }
                scanned = self.end;
            }
            if self.eof {
                return Ok(None);
            }
            if (self.end - self.pos) as u64 >= self.max_look_ahead {
                return Err(LookAheadError::TooFar(self.max_look_ahead));
            }
            if self.buf.len() < self.end + CHUNK {
                self.buf.resize(self.end + CHUNK, 0);
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.end += n,
                Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
                Err(err) => return Err(LookAheadError::Io(err)),
            }
        }
    }
}

/// Below this many bytes a plain loop beats a call into `memchr`; the YAML
/// reader consumes one character at a time at the start of each line.
const SHORT: usize = 32;

/// The offset of the last line feed in `bytes`.
fn last_newline(bytes: &[u8]) -> Option<usize> {
    if bytes.len() < SHORT {
        return bytes.iter().rposition(|&b| b == b'\n');
    }
    memchr::memrchr(b'\n', bytes)
}

/// The number of line feeds in `bytes`.
fn newlines(bytes: &[u8]) -> usize {
    if bytes.len() < SHORT {
        return bytes.iter().filter(|&&b| b == b'\n').count();
    }
    memchr::memchr_iter(b'\n', bytes).count()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn input(bytes: &'static [u8]) -> Input<'static> {
        Input::new(Box::new(bytes), None, 1 << 20)
    }

    #[test]
    fn sniff_tells_formats_apart() {
        assert_eq!(input(b"  \n{\"a\":1}").sniff().unwrap(), Sniff::Json);
        assert_eq!(input(b"\xef\xbb\xbf[1]").sniff().unwrap(), Sniff::Json);
        assert_eq!(input(b"# c\napiVersion: v1").sniff().unwrap(), Sniff::Yaml);
        assert_eq!(input(b" \n\t ").sniff().unwrap(), Sniff::Blank);
        assert_eq!(input(b"").sniff().unwrap(), Sniff::Blank);
        assert_eq!(input(b"a\0b").sniff().unwrap(), Sniff::Binary);
    }

    #[test]
    fn consume_counts_lines_and_columns() {
        let mut input = input(b"ab\ncd\nef");
        input.fill(8).unwrap();
        input.consume(4);
        assert_eq!((input.line(), input.column()), (2, 2));
        input.consume(3);
        assert_eq!((input.line(), input.column()), (3, 2));
    }

    #[test]
    fn long_runs_count_their_lines() {
        let text: &'static [u8] = b"a\nbb\n\nccc\ndddd\neeeee\nffffff\nggggggg\nhhhhhhhh\nlast";
        let mut input = input(text);
        input.fill(text.len()).unwrap();
        input.consume(text.len());
        assert_eq!((input.line(), input.column()), (10, 5));
    }

    #[test]
    fn look_ahead_keeps_the_position() {
        let mut input = input(b"one\ntwo\nkind: X\n");
        input.fill(1).unwrap();
        input.consume(4);
        let found = input
            .look_ahead(|bytes| match bytes.iter().position(|&b| b == b'X') {
                Some(i) => ControlFlow::Break(i),
                None => ControlFlow::Continue(()),
            })
            .unwrap();
        assert_eq!(found, Some(10));
        assert_eq!(input.fill(3).unwrap(), b"two\nkind: X\n");
    }
}
