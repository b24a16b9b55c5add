//! JSON: one or more values, each an object, a list of objects, or an array of objects.
//!
//! ```text
//!   scanning thread                          rayon pool
//!   Input --> Scanner --batch of objects--> serde_json --> dispatch --> map
//!                ^                                                       |
//!                `-- cuts the next batch      sink <-- in input order <--'
//! ```
//!
//! A structural [`Scanner`] walks the top of each value and cuts out one
//! object (a list item, or a whole value that is not a list) at a time into a
//! [`Batch`]; only those bytes are held, up to a limit. serde_json then reads
//! each object from its slice, which is several times faster than from a
//! reader, and a bad item costs nothing but itself: the scanner has already
//! found where it ends. When an item fails, it is read a second time with
//! path tracking to name the field; the success path pays nothing for that.
//!
//! # Batches
//!
//! While rayon's pool decodes a full batch, and runs the caller's hook on
//! each result, this thread hands the results of the batch before it to the
//! sink, in input order, and cuts the batch after it. So the bytes of at most
//! two batches are held, with the results of a third, and nothing changes
//! places: an error the scanner finds between objects rides in its batch as a
//! job of its own.
//!
//! A list's items get batches of their own, all handed on before the list's
//! closing bracket is read. While the list's kind is unknown (kubectl prints
//! it after the items), the scanner notes whether each item has a `kind` key
//! of its own; an item that may not is decoded on this thread as soon as it
//! is cut, since it may need the input read ahead from there for the list's
//! kind, and the items after it need to know what was found.

mod batch;
mod decode;
mod scan;

use std::sync::Arc;

use self::batch::{settle, Batch, Decoding, Job, Slot};
use self::decode::decode;
use self::scan::{Capture, Fail, Problem, Scanner};
use crate::dispatch::Seen;
use crate::error::{Cause, Error, Format};
use crate::input::{Input, LookAheadError};
use crate::kind::{self, Hint};
use crate::report::{location, look_ahead_error, Report};

/// Bounds for one JSON input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Bytes of one object.
    pub object_bytes: usize,
    /// Nesting depth.
    pub depth: usize,
}

/// Reads every value of a JSON input; stops at the first value it cannot find the end of.
pub(crate) fn read<T: Send>(input: Input<'_>, report: &mut Report<'_, T>, limits: Limits) {
    let mut json = Json {
        scan: Scanner::new(input, limits.depth),
        file: Arc::clone(&report.file),
        limits,
        spare: Vec::new(),
    };
    if let Err(fail) = json.values(report) {
        let error = failure(fail, &report.file);
        report.error(error);
    }
}

/// What is known of the list whose items are being read.
#[derive(Debug, Default)]
struct List {
    api_version: Option<String>,
    kind: Option<String>,
    looked_ahead: bool,
}

impl List {
    /// The kind of items that lack one, from what is known so far.
    fn hint(&self) -> Option<Hint> {
        Hint::for_list(self.api_version.as_deref(), self.kind.as_deref()?)
    }

    /// Returns whether [`List::hint`] names a kind, without building it.
    fn names_items(&self) -> bool {
        self.kind.as_deref().and_then(kind::item_kind).is_some()
    }
}

/// Why cutting stopped, when it was not a full batch.
enum Stop {
    /// The input, or the list's items, ended.
    End,
    /// A top-level array of objects starts.
    Array,
    /// A top-level object is a list; the scanner is at the start of its items.
    List(List),
}

/// Where the entries of a top-level object stopped.
enum Entries {
    /// At the object's closing bracket.
    Closed,
    /// At the start of the items of a list.
    Items,
}

/// The reader of one JSON input.
struct Json<'r> {
    scan: Scanner<'r>,
    file: Arc<str>,
    limits: Limits,
    /// Batches handed on, kept for their buffers.
    spare: Vec<Batch>,
}

impl Json<'_> {
    /// Reads every value; fails at the first one whose end cannot be found.
    fn values<T: Send>(&mut self, report: &mut Report<'_, T>) -> Result<(), Fail> {
        loop {
            match self.pipeline(report, None, Self::cut_values)? {
                Stop::End => return Ok(()),
                Stop::Array => {
                    report.summary.documents += 1;
                    self.items(report, &mut List::default())?;
                }
                Stop::List(list) => self.list(report, list)?,
            }
        }
    }

    /// Cuts batches with `cut` and hands on what they give, in input order.
    ///
    /// While rayon's pool decodes and maps one batch, this thread hands on
    /// the results of the batch before it and cuts the batch after it. `list`
    /// is set when the batches hold its items. Returns why cutting stopped,
    /// once everything cut before has been handed on.
    fn pipeline<T: Send>(
        &mut self,
        report: &mut Report<'_, T>,
        mut list: Option<&mut List>,
        mut cut: impl FnMut(&mut Self, &mut Batch, Option<&mut List>) -> Result<Option<Stop>, Fail>,
    ) -> Result<Stop, Fail> {
        let file = Arc::clone(&report.file);
        let mut current = self.spare.pop().unwrap_or_default();
        let mut cutting = cut(self, &mut current, list.as_deref_mut());
        // Results of the batch decoded last, and room for the next ones: both
        // are allocated here once, not by the pool's threads for each batch.
        let (mut decoded, mut slots) = (Vec::new(), Vec::new());
        loop {
            let decoding = Decoding {
                map: report.map,
                file: &file,
                hint: list.as_deref().and_then(List::hint),
            };
            if let Some(stopped) = cutting.transpose() {
                Self::deliver(&mut decoded, report);
                current.decode(&decoding, &mut slots);
                Self::deliver(&mut slots, report);
                self.recycle(current, report);
                return stopped;
            }

            let mut next = self.spare.pop().unwrap_or_default();
            cutting = rayon::in_place_scope(|scope| {
                scope.spawn(|_| current.decode(&decoding, &mut slots));
                Self::deliver(&mut decoded, report);
                cut(self, &mut next, list.as_deref_mut())
            });
            std::mem::swap(&mut decoded, &mut slots);
            self.recycle(std::mem::replace(&mut current, next), report);
        }
    }

    /// Hands on what a batch gave, in input order.
    fn deliver<T>(slots: &mut Vec<Slot<T>>, report: &mut Report<'_, T>) {
        for slot in slots.drain(..) {
            match slot {
                Slot::Mapped(mapped, is_object) => report.mapped(mapped, is_object),
                Slot::Skipped(key, line) => report.skipped(key, line),
            }
        }
    }

    /// Counts a decoded batch's values and keeps its buffers.
    fn recycle<T>(&mut self, mut batch: Batch, report: &mut Report<'_, T>) {
        report.summary.documents += batch.documents;
        batch.clear();
        self.spare.push(batch);
    }

    /// Cuts top-level objects into `batch`; stops early for lists, arrays and the end.
    fn cut_values(
        &mut self,
        batch: &mut Batch,
        _: Option<&mut List>,
    ) -> Result<Option<Stop>, Fail> {
        while !batch.is_full() {
            match self.scan.peek(&mut Capture::off())? {
                None => return Ok(Some(Stop::End)),
                Some(b'[') => return Ok(Some(Stop::Array)),
                Some(b'{') => {
                    if let Some(list) = self.cut_object(batch)? {
                        return Ok(Some(Stop::List(list)));
                    }
                }
                Some(_) => {
                    let problem = Problem::Syntax("expected an object or an array");
                    return Err(self.scan.fail(problem));
                }
            }
        }
        Ok(None)
    }

    /// Cuts one top-level object into `batch`, unless it is a list, which is returned.
    fn cut_object(&mut self, batch: &mut Batch) -> Result<Option<List>, Fail> {
        batch.documents += 1;
        let (line, column) = self.position();
        let start = batch.bytes.len();
        let mut capture = Capture::to(&mut batch.bytes, self.limits.object_bytes);
        self.scan.expect(b'{', &mut capture, "expected an object")?;
        let mut list = None;
        let entries = self.entries(&mut capture, &mut list, &mut Seen::default(), true);
        let truncated = capture.truncated;
        match entries {
            Ok(Entries::Closed) => {}
            Ok(Entries::Items) => return Ok(list),
            // A malformed entry: the object ends at its closing bracket, found by the scanner.
            Err(fail) if matches!(fail.problem, Problem::Syntax(_)) => {
                batch.bytes.truncate(start);
                let error = failure(fail, &self.file);
                self.scan.skip_object_rest()?;
                batch.jobs.push(Job::error(error));
                return Ok(None);
            }
            Err(fail) => return Err(fail),
        }

        let job = if truncated {
            Job::error(self.too_large(line))
        } else {
            let range = start..batch.bytes.len();
            Job::Object {
                range,
                line,
                column,
                hinted: false,
            }
        };
        batch.jobs.push(job);
        Ok(None)
    }

    /// Reads the entries of a top-level object, up to and including its
    /// closing bracket, or up to the items of a list, then set in `list`.
    fn entries(
        &mut self,
        capture: &mut Capture<'_>,
        list: &mut Option<List>,
        seen: &mut Seen,
        mut first: bool,
    ) -> Result<Entries, Fail> {
        let scan = &mut self.scan;
        loop {
            if scan.peek(capture)? == Some(b'}') {
                scan.expect(b'}', capture, "expected `}`")?;
                return Ok(Entries::Closed);
            }
            if !std::mem::take(&mut first) {
                scan.expect(b',', capture, "expected `,` or `}` after an object entry")?;
            }
            let key = short_string(scan, capture)?;
            let key = serde_json::from_slice::<String>(&key).unwrap_or_default();
            scan.expect(b':', capture, "expected `:` after an object key")?;
            let next = scan.peek(capture)?;

            let kind = seen.kind.as_deref();
            let items_of_list = key == "items" && next == Some(b'[') && list.is_none();
            if items_of_list && kind.is_none_or(kind::is_list) {
                // A list: its items are objects of their own, and the list itself is not kept.
                capture.stop();
                *list = Some(List {
                    api_version: seen.api_version.take(),
                    kind: seen.kind.take(),
                    looked_ahead: false,
                });
                return Ok(Entries::Items);
            }

            let header = key == "apiVersion" || key == "kind";
            if header && next == Some(b'"') {
                let value = short_string(scan, capture)?;
                let slot = match list {
                    Some(list) if key == "kind" => &mut list.kind,
                    Some(list) => &mut list.api_version,
                    None if key == "kind" => &mut seen.kind,
                    None => &mut seen.api_version,
                };
                *slot = serde_json::from_slice::<String>(&value).ok();
            } else {
                scan.value(capture)?;
            }
        }
    }

    /// Reads a list's items, then the rest of the object that holds them.
    fn list<T: Send>(&mut self, report: &mut Report<'_, T>, mut list: List) -> Result<(), Fail> {
        let mut result = self.items(report, &mut list);
        if result.is_ok() {
            let seen = &mut Seen::default();
            let rest = self.entries(&mut Capture::off(), &mut Some(list), seen, false);
            result = rest.map(|_| ());
        }
        match result {
            // A malformed entry or item: the object ends at its closing bracket.
            Err(fail) if matches!(fail.problem, Problem::Syntax(_)) => {
                let error = failure(fail, &self.file);
                self.scan.skip_object_rest()?;
                report.error(error);
                Ok(())
            }
            other => other,
        }
    }

    /// Reads an array of objects, through its closing bracket.
    fn items<T: Send>(&mut self, report: &mut Report<'_, T>, list: &mut List) -> Result<(), Fail> {
        self.scan
            .expect(b'[', &mut Capture::off(), "expected an array")?;
        let mut first = true;
        self.pipeline(report, Some(list), |json, batch, list| {
            json.cut_items(batch, &mut first, list)
        })?;
        self.scan.expect(b']', &mut Capture::off(), "expected `]`")
    }

    /// Cuts list items into `batch`; stops early before the closing bracket.
    fn cut_items(
        &mut self,
        batch: &mut Batch,
        first: &mut bool,
        mut list: Option<&mut List>,
    ) -> Result<Option<Stop>, Fail> {
        while !batch.is_full() {
            if self.scan.peek(&mut Capture::off())? == Some(b']') {
                return Ok(Some(Stop::End));
            }
            if !std::mem::take(first) {
                let problem = "expected `,` or `]` after a list item";
                self.scan.expect(b',', &mut Capture::off(), problem)?;
            }

            let next = self.scan.peek(&mut Capture::off())?;
            let (line, column) = self.position();
            if next == Some(b'{') {
                let list = list.as_deref_mut();
                self.cut_item(batch, (line, column), list)?;
                continue;
            }
            self.scan.value(&mut Capture::off())?;
            let found = match next {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                _ => "a scalar",
            };
            let at = location(&self.file, line, Some(column));
            let error = Error::NotAnObject { at, found };
            batch.jobs.push(Job::error(error));
        }
        Ok(None)
    }

    /// Cuts one list item, an object starting at `at`, into `batch`.
    ///
    /// An item that may lack a kind, in a list whose kind is not known yet, is
    /// decoded here and now: the input may have to be read ahead from here
    /// for the list's kind, and items after it may depend on what is found.
    fn cut_item(
        &mut self,
        batch: &mut Batch,
        at: (u64, u64),
        list: Option<&mut List>,
    ) -> Result<(), Fail> {
        let start = batch.bytes.len();
        let mut capture = Capture::to(&mut batch.bytes, self.limits.object_bytes);
        let unknown = list
            .as_deref()
            .is_some_and(|l| l.kind.is_none() && !l.looked_ahead);
        let has_kind = self.scan.object(&mut capture, unknown)?;
        if capture.truncated {
            batch.jobs.push(Job::error(self.too_large(at.0)));
            return Ok(());
        }

        let list = match list {
            Some(list) if unknown && !has_kind => list,
            list => {
                let hinted = list.is_some_and(|l| l.names_items());
                let range = start..batch.bytes.len();
                let (line, column) = at;
                batch.jobs.push(Job::Object {
                    range,
                    line,
                    column,
                    hinted,
                });
                return Ok(());
            }
        };
        let bytes = &batch.bytes[start..];
        let mut failed_ahead = None;
        let scan = &mut self.scan;
        let mut hint = |ahead| item_hint(list, scan, ahead, &mut failed_ahead);
        let decoded = decode(bytes, at, &mut hint, &self.file);
        batch
            .jobs
            .push(Job::Done(settle(decoded, bytes, at, &self.file)));
        if let Some(err) = failed_ahead {
            let line = u32::try_from(at.0).unwrap_or(u32::MAX);
            let error = look_ahead_error(&self.file, err, line);
            batch.jobs.push(Job::error(error));
        }
        batch.bytes.truncate(start);
        Ok(())
    }

    /// The line and column of the next byte.
    fn position(&self) -> (u64, u64) {
        (self.scan.input.line(), self.scan.input.column())
    }

    fn too_large(&self, line: u64) -> Error {
        Error::Limit {
            what: "object size",
            limit: self.limits.object_bytes as u64,
            at: location(&self.file, line, None),
        }
    }
}

/// Scans a string into `capture` and returns its bytes; none when it is over 4 KiB.
fn short_string(scan: &mut Scanner<'_>, capture: &mut Capture<'_>) -> Result<Vec<u8>, Fail> {
    if scan.peek(capture)? != Some(b'"') {
        return Err(scan.fail(Problem::Syntax("expected a string key")));
    }
    let mut bytes = Vec::new();
    scan.string(&mut Capture::to(&mut bytes, 4096))?;
    capture.push(&bytes);
    Ok(bytes)
}

/// The kind of items that lack one; looks ahead for the list's kind once if needed.
fn item_hint(
    list: &mut List,
    scan: &mut Scanner<'_>,
    look_ahead: bool,
    error: &mut Option<LookAheadError>,
) -> Option<Hint> {
    if look_ahead && list.kind.is_none() && !list.looked_ahead {
        list.looked_ahead = true;
        match scan.find_kind_ahead() {
            Ok(kind) => list.kind = kind,
            Err(err) => *error = Some(err),
        }
    }
    list.hint()
}

/// Turns a scanning failure into a reader error.
fn failure(fail: Fail, file: &Arc<str>) -> Error {
    let at = location(file, fail.line, Some(fail.column));
    match fail.problem {
        Problem::Io(source) => Error::Read { at, source },
        Problem::Syntax(text) => Error::Syntax {
            format: Format::Json,
            at,
            source: Cause(text.to_owned()),
        },
        Problem::Limit { what, limit } => Error::Limit { what, limit, at },
    }
}
