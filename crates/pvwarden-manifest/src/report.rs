//! Handing objects and errors of one input to the caller's hook and sink, and counting them.

use std::sync::Arc;

use pvwarden_domain::object::{Located, Object, Origin};

use crate::error::{Error, Location};
use crate::input::LookAheadError;
use crate::Summary;

/// The caller's hook, run on each object or error, on any thread.
pub(crate) type Map<'s, T> = dyn Fn(Result<Located<Object>, Error>) -> T + Sync + 's;

/// The caller's sink, which gets what the hook returned, in input order.
pub(crate) type Sink<'s, T> = dyn FnMut(T) + 's;

/// The hook and sink, the file being read and the counts so far.
pub(crate) struct Report<'s, T> {
    pub file: Arc<str>,
    pub summary: Summary,
    pub map: &'s Map<'s, T>,
    sink: &'s mut Sink<'s, T>,
}

impl<'s, T> Report<'s, T> {
    pub(crate) fn new(file: Arc<str>, map: &'s Map<'s, T>, sink: &'s mut Sink<'s, T>) -> Self {
        Report {
            file,
            summary: Summary::default(),
            map,
            sink,
        }
    }

    /// Switches to the next file, keeping the counts.
    pub(crate) fn set_file(&mut self, file: Arc<str>) {
        self.file = file;
    }

    /// A location in the current file; a zero column means unknown.
    pub(crate) fn at(&self, line: u64, column: Option<u64>) -> Location {
        location(&self.file, line, column)
    }

    pub(crate) fn object(&mut self, object: Object, line: u32) {
        let origin = Origin::new(Arc::clone(&self.file), line);
        let mapped = (self.map)(Ok(Located { object, origin }));
        self.mapped(mapped, true);
    }

    /// Hands on what the hook made of an object (`is_object`) or of an error.
    pub(crate) fn mapped(&mut self, mapped: T, is_object: bool) {
        if is_object {
            self.summary.objects += 1;
        } else {
            self.summary.errors += 1;
        }
        (self.sink)(mapped);
    }

    pub(crate) fn skipped(&mut self, key: String, line: u32) {
        tracing::debug!(kind = %key, file = %self.file, line, "skipped object of another kind");
        *self.summary.skipped.entry(key).or_default() += 1;
    }

    pub(crate) fn error(&mut self, err: Error) {
        let mapped = (self.map)(Err(err));
        self.mapped(mapped, false);
    }

    /// Reports why the kind of a list could not be found further on.
    pub(crate) fn look_ahead_error(&mut self, err: LookAheadError, line: u32) {
        let error = look_ahead_error(&self.file, err, line);
        self.error(error);
    }
}

/// A location in `file`; a zero column means unknown.
pub(crate) fn location(file: &Arc<str>, line: u64, column: Option<u64>) -> Location {
    let line = u32::try_from(line).unwrap_or(u32::MAX);
    let column = column
        .filter(|&c| c > 0)
        .map(|c| u32::try_from(c).unwrap_or(u32::MAX));
    Location::new(Arc::clone(file), line, column)
}

/// The error for a look-ahead for a list's kind that failed, from an item on `line`.
pub(crate) fn look_ahead_error(file: &Arc<str>, err: LookAheadError, line: u32) -> Error {
    let at = location(file, u64::from(line), None);
    match err {
        LookAheadError::Io(source) => Error::Read { at, source },
        LookAheadError::TooFar(limit) => Error::Limit {
            what: "look-ahead for the list kind",
            limit,
            at,
        },
    }
}
