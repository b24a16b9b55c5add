//! Batches of objects cut by the scanner, decoded and mapped on every core.
//!
//! A [`Batch`] holds the bytes of up to [`MAX_JOBS`] objects in one buffer,
//! and in input order what to hand on for each: an object to decode, or an
//! error the scanner found. [`Batch::decode`] turns every job into a
//! [`Slot`] with rayon, running the caller's hook there too, and keeps the
//! order; the scanning thread then hands the slots on. Buffers are reused,
//! so the bytes of each object are copied once, from the input buffer into
//! the batch.

use std::ops::Range;
use std::sync::Arc;

use pvwarden_domain::object::{Located, Object, Origin};
use rayon::iter::{IndexedParallelIterator, ParallelDrainRange, ParallelIterator};

use super::decode::{decode, missing_kind, Decoded};
use crate::error::Error;
use crate::kind::Hint;
use crate::report::Map;

/// A batch is decoded once it holds this many objects...
///
/// Batches of 256 objects keep the pool busy as well as larger ones do, and
/// hold less in memory while their results wait for the sink.
const MAX_JOBS: usize = 256;

/// ...or this many bytes, whichever comes first. One object may go beyond.
const MAX_BYTES: usize = 8 << 20;

/// One thing to hand on, in input order.
#[derive(Debug)]
pub(super) enum Job {
    /// An object's bytes, `bytes[range]` of the batch, which start at `line` and `column`.
    Object {
        range: Range<usize>,
        line: u64,
        column: u64,
        /// Whether the list's kind was known when the object was cut, so that
        /// it names the object's kind if the object lacks one.
        hinted: bool,
    },
    /// What an object gave, or an error, with nothing left to decode.
    Done(Done),
}

impl Job {
    /// An error to hand on in its place.
    pub(super) fn error(err: Error) -> Job {
        Job::Done(Done::Item(Err(err)))
    }
}

/// An object or an error to hand on, or an object of another kind to count.
#[derive(Debug)]
pub(super) enum Done {
    /// An object, or an error, for the caller's hook.
    Item(Result<Located<Object>, Error>),
    /// An object of another kind starting on a line; the key to count it under.
    Skipped(String, u32),
}

/// What a job gave once decoded and mapped.
pub(super) enum Slot<T> {
    /// What the hook made of an object (`true`) or of an error (`false`).
    Mapped(T, bool),
    /// An object of another kind starting on a line; the key to count it under.
    Skipped(String, u32),
}

/// The bytes of a run of objects, and what to hand on for each.
#[derive(Debug, Default)]
pub(super) struct Batch {
    pub bytes: Vec<u8>,
    pub jobs: Vec<Job>,
    /// How many values started in this batch, for [`crate::Summary::documents`].
    pub documents: u64,
}

impl Batch {
    /// Returns whether the batch should be decoded before more is cut.
    pub(super) fn is_full(&self) -> bool {
        self.jobs.len() >= MAX_JOBS || self.bytes.len() >= MAX_BYTES
    }

    /// Empties the batch for reuse; a buffer grown by a huge object is let go.
    pub(super) fn clear(&mut self) {
        self.jobs.clear();
        self.documents = 0;
        if self.bytes.capacity() > 2 * MAX_BYTES {
            self.bytes = Vec::new();
        } else {
            self.bytes.clear();
        }
    }

    /// Decodes and maps every job into `slots`, on every core when there are several.
    pub(super) fn decode<T: Send>(&mut self, how: &Decoding<'_, T>, slots: &mut Vec<Slot<T>>) {
        let bytes = &self.bytes;
        // A file holding one object is common; it is not worth a trip to the pool.
        if self.jobs.len() < 2 {
            slots.clear();
            slots.extend(self.jobs.drain(..).map(|job| how.slot(job, bytes)));
            return;
        }
        self.jobs
            .par_drain(..)
            .map(|job| how.slot(job, bytes))
            .collect_into_vec(slots);
    }
}

/// What decoding a batch needs besides its bytes.
pub(super) struct Decoding<'a, T> {
    pub map: &'a Map<'a, T>,
    pub file: &'a Arc<str>,
    /// The kind of list items that lack one, for the objects cut once it was known.
    pub hint: Option<Hint>,
}

impl<T> Decoding<'_, T> {
    /// Decodes and maps one job.
    fn slot(&self, job: Job, bytes: &[u8]) -> Slot<T> {
        let done = match job {
            Job::Done(done) => done,
            Job::Object {
                range,
                line,
                column,
                hinted,
            } => {
                let hint = if hinted { self.hint.as_ref() } else { None };
                let bytes = &bytes[range];
                let decoded = decode(bytes, (line, column), &mut |_| hint.cloned(), self.file);
                settle(decoded, bytes, (line, column), self.file)
            }
        };
        match done {
            Done::Item(item) => {
                let is_object = item.is_ok();
                Slot::Mapped((self.map)(item), is_object)
            }
            Done::Skipped(key, line) => Slot::Skipped(key, line),
        }
    }
}

/// Turns what decoding an object's bytes gave into what to hand on.
pub(super) fn settle(decoded: Decoded, bytes: &[u8], at: (u64, u64), file: &Arc<str>) -> Done {
    let line = u32::try_from(at.0).unwrap_or(u32::MAX);
    Done::Item(match decoded {
        Decoded::Object(object) => Ok(Located {
            object,
            origin: Origin::new(Arc::clone(file), line),
        }),
        Decoded::Failed(err) => Err(err),
        Decoded::NoKind => Err(missing_kind(bytes, at, file)),
        Decoded::Skipped(key) => return Done::Skipped(key, line),
    })
}
