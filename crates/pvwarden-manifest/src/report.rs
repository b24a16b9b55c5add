//! Handing objects and errors of one input to the caller's sink, and counting them.

use std::sync::Arc;

use pvwarden_domain::object::{Located, Object, Origin};

use crate::error::{Error, Location};
use crate::input::LookAheadError;
use crate::Summary;

/// The caller's sink.
pub(crate) type Sink<'s> = dyn FnMut(Result<Located<Object>, Error>) + 's;

/// The sink, the file being read and the counts so far.
pub(crate) struct Report<'s> {
    pub file: Arc<str>,
    pub summary: Summary,
    sink: &'s mut Sink<'s>,
}

impl<'s> Report<'s> {
    pub(crate) fn new(file: Arc<str>, sink: &'s mut Sink<'s>) -> Self {
        Report {
            file,
            summary: Summary::default(),
            sink,
        }
    }

    /// Switches to the next file, keeping the counts.
    pub(crate) fn set_file(&mut self, file: Arc<str>) {
        self.file = file;
    }

    /// A location in the current file; a zero column means unknown.
    pub(crate) fn at(&self, line: u64, column: Option<u64>) -> Location {
        let line = u32::try_from(line).unwrap_or(u32::MAX);
        let column = column
            .filter(|&c| c > 0)
            .map(|c| u32::try_from(c).unwrap_or(u32::MAX));
        Location::new(Arc::clone(&self.file), line, column)
    }

    pub(crate) fn object(&mut self, object: Object, line: u32) {
        self.summary.objects += 1;
        let origin = Origin::new(Arc::clone(&self.file), line);
        (self.sink)(Ok(Located { object, origin }));
    }

    pub(crate) fn skipped(&mut self, key: String, line: u32) {
        tracing::debug!(kind = %key, file = %self.file, line, "skipped object of another kind");
        *self.summary.skipped.entry(key).or_default() += 1;
    }

    pub(crate) fn error(&mut self, err: Error) {
        self.summary.errors += 1;
        (self.sink)(Err(err));
    }

    /// Reports why the kind of a list could not be found further on.
    pub(crate) fn look_ahead_error(&mut self, err: LookAheadError, line: u32) {
        let at = self.at(u64::from(line), None);
        self.error(match err {
            LookAheadError::Io(source) => Error::Read { at, source },
            LookAheadError::TooFar(limit) => Error::Limit {
                what: "look-ahead for the list kind",
                limit,
                at,
            },
        });
    }
}
