//! Streams Kubernetes objects out of YAML and JSON manifests.
//!
//! A [`Reader`] reads files, directories and stdin, and hands each object of
//! a kind the model uses to a sink as a [`Located`] [`Object`], with the file
//! and line it starts on. Objects of other kinds are counted and dropped.
//! Errors go to the same sink, in input order, and reading goes on after
//! them: with the next list item, the next YAML document, or the next file.
//!
//! ```text
//!   paths ──> files ──> Input (buffer, lines, sniff) ─┬─> yaml ─┐
//!                                                     └─> json ─┴─> dispatch ──> sink
//! ```
//!
//! # What it reads
//!
//! - `kubectl get -o yaml|json`, single objects or `kind: List`;
//! - API server LIST responses (`PersistentVolumeList`, ...), whose items may
//!   lack `kind` and `apiVersion`: they are taken from the list's kind, even
//!   when `kind` comes after `items`;
//! - `helm template` and `kustomize build` streams: many documents, comments,
//!   empty documents, no `status`;
//! - JSON as one value, several concatenated values, or NDJSON; a file is
//!   JSON when its first non-space byte is `{` or `[`.
//!
//! # Memory
//!
//! Memory does not grow with the size of the input. No document is ever
//! built as a tree: each object, or each list item, is deserialized straight
//! into its k8s-openapi type from the bytes of that object alone, so a `List`
//! of 100,000 PersistentVolumes is read in a few megabytes. What is buffered
//! at most is, for JSON, the bytes of two batches of objects (a batch is cut
//! at 256 objects or 8 MiB; one object is bounded by
//! [`Reader::max_object_bytes`]) and the results of a third, on their way to
//! the sink; for YAML, one document's entries that precede a late `kind`,
//! and anchors (bounded); and, for a list whose `kind` comes after items that
//! lack their own, the input up to that `kind` when it cannot be read twice
//! (stdin; bounded by [`Reader::max_look_ahead`]).
//!
//! # Threads
//!
//! [`Reader::read_paths_map`] runs a hook on each object or error before the
//! sink gets its result. JSON objects are decoded, and the hook run, on
//! rayon's global pool a batch at a time, while the calling thread cuts the
//! next batch and hands on the results of the previous one, in input order.
//! JSON lends itself to that: a structural scanner finds where each object
//! ends several times faster than serde_json parses it, and the objects then
//! parse on their own.
//!
//! YAML is read on the calling thread, hook included. Its cost is in the
//! parser, whose events have to be produced in order from the start of a
//! document: where an item ends is only known once it is parsed, since
//! indentation, block scalars, flow collections and anchors decide it, and
//! an item's aliases may point at anchors in items before it. Parsing items
//! apart would take a second, line-based YAML cutter whose every shortcut
//! is a way to read a document differently from the parser.
//!
//! # The YAML parser
//!
//! YAML goes through a serde deserializer written here over the pull events
//! of `granit-parser`, rather than through `serde-saphyr`. Both parse from a
//! reader and both guard against alias bombs, but this crate needs three
//! things that serde-saphyr 2.2 does not offer: a `DeserializeSeed` for each
//! document of a stream (its multi-document reader takes only
//! `DeserializeOwned` types, and the type of an object is known only once its
//! `kind` has been read); the line of each list item (serde-saphyr gives
//! positions only through its `Spanned<T>` wrapper, which needs a
//! `Deserialize` type); and going on after a syntax error (its reader stops
//! there). It is also slower here: on a `List` of 100,000 PersistentVolumes
//! its plain `from_reader` path (`parse-floor` in pvwarden-synth) takes about
//! twice as long as this reader. granit-parser is the panic-free, fuzzed
//! descendant of saphyr-parser that serde-saphyr itself is built on; its
//! events carry line and column, it reads from a character iterator that may
//! fail (for invalid UTF-8), and it bounds nesting.
//!
//! Documents are cut at `---` and `...` lines before parsing, and each gets
//! its own parser, so that a syntax error costs only its document. Aliases
//! are expanded by replaying the events recorded for their anchor, within the
//! budgets set by [`Reader::max_alias_events`] and a fixed cap on recorded
//! anchor events.
//!
//! # The JSON parser
//!
//! JSON is cut into objects by a structural scanner that only follows
//! brackets and strings, eight bytes at a time, and each object is read by
//! serde_json from a slice, on any thread. A bad object is reported and
//! skipped, since the scanner has found where it ends; only a value whose
//! end cannot be found (unbalanced brackets, a cut file) ends the file.
//! Results and errors reach the sink in the order of the input, whatever
//! thread decoded them.
//!
//! # Limitations
//!
//! - A list whose `kind` comes after items that lack their own is resolved by
//!   reading ahead: a regular file is read a second time for it, other input
//!   is buffered up to [`Reader::max_look_ahead`]. The YAML look-ahead looks
//!   for a `kind:` line at column 0, which is how kubectl prints it.
//! - Merge keys (`<<`) are not expanded, unlike in kubectl: an object that
//!   uses them gets a `<<` key, which its type ignores.

#![warn(missing_docs)]

mod dispatch;
mod error;
mod files;
mod input;
mod json;
mod kind;
mod report;
mod yaml;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use pvwarden_domain::object::{Located, Object};

pub use crate::error::{Cause, Error, FieldPath, Format, Location, ObjectRef, Segment};

use crate::input::{Input, Sniff};
use crate::report::Report;

/// Counts of what a read found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// YAML documents and JSON values that held something, empty ones excluded.
    pub documents: u64,
    /// Objects handed to the sink.
    pub objects: u64,
    /// Objects of other kinds, by kind; a supported kind at another version is
    /// counted as `Kind (apiVersion)`.
    pub skipped: BTreeMap<String, u64>,
    /// Errors handed to the sink.
    pub errors: u64,
}

impl Summary {
    /// Adds another summary's counts to this one.
    pub fn merge(&mut self, other: Summary) {
        self.documents += other.documents;
        self.objects += other.objects;
        self.errors += other.errors;
        for (kind, count) in other.skipped {
            *self.skipped.entry(kind).or_default() += count;
        }
    }
}

/// Reads manifests into objects; see the [crate] documentation.
#[derive(Debug, Clone)]
pub struct Reader {
    max_object_bytes: usize,
    max_look_ahead: u64,
    max_depth: usize,
    max_alias_events: usize,
    max_anchor_events: usize,
}

impl Default for Reader {
    fn default() -> Self {
        Reader {
            max_object_bytes: 64 << 20,
            max_look_ahead: 256 << 20,
            max_depth: 128,
            max_alias_events: 1_000_000,
            // Anchors are recorded as events of about 120 bytes each: 12 MiB at most.
            max_anchor_events: 100_000,
        }
    }
}

impl Reader {
    /// Creates a reader with default limits.
    pub fn new() -> Reader {
        Reader::default()
    }

    /// Sets the size above which one JSON object is reported instead of read (64 MiB).
    #[must_use]
    pub fn max_object_bytes(mut self, bytes: usize) -> Reader {
        self.max_object_bytes = bytes;
        self
    }

    /// Sets how much of a non-seekable input may be buffered to find a late list kind (256 MiB).
    #[must_use]
    pub fn max_look_ahead(mut self, bytes: u64) -> Reader {
        self.max_look_ahead = bytes;
        self
    }

    /// Sets how many events YAML aliases may expand to in one document (one million).
    #[must_use]
    pub fn max_alias_events(mut self, events: usize) -> Reader {
        self.max_alias_events = events;
        self
    }

    /// Reads every path in order, calling `sink` once per object or error.
    ///
    /// `-` is stdin. Directories are read recursively, taking `.yaml`, `.yml`
    /// and `.json` files sorted by name and skipping hidden entries; a file
    /// named directly is read whatever its name.
    pub fn read_paths(
        &self,
        paths: &[PathBuf],
        sink: &mut dyn FnMut(Result<Located<Object>, Error>),
    ) -> Summary {
        self.read_paths_map(paths, &std::convert::identity, sink)
    }

    /// Reads every path like [`Reader::read_paths`], running `map` on each
    /// object or error before `sink` gets what it returns.
    ///
    /// For JSON, objects are decoded and `map` is run on rayon's global pool,
    /// a batch of a few hundred objects at a time; `map` may thus run on any
    /// thread, and should do the caller's own work on each object there.
    /// YAML objects are decoded and mapped on the calling thread.
    ///
    /// # Guarantees
    ///
    /// - `map` is called exactly once per object and per error, and `sink`
    ///   once per result of `map`, in input order, on the calling thread;
    /// - at most two batches of JSON objects are held at a time.
    pub fn read_paths_map<T: Send>(
        &self,
        paths: &[PathBuf],
        map: &(dyn Fn(Result<Located<Object>, Error>) -> T + Sync),
        sink: &mut dyn FnMut(T),
    ) -> Summary {
        let mut report = Report::new(Arc::from("-"), map, sink);
        for path in paths {
            if path.as_os_str() == "-" {
                report.set_file(Arc::from("-"));
                self.read_input(
                    Input::new(Box::new(std::io::stdin().lock()), None, self.max_look_ahead),
                    &mut report,
                );
                continue;
            }
            match std::fs::metadata(path) {
                Ok(meta) if meta.is_dir() => files::walk(path, &mut |entry| match entry {
                    files::Entry::File(file) => self.read_file(&file, &mut report),
                    files::Entry::Unlisted(dir, source) => report.error(Error::ListDir {
                        dir: name(&dir),
                        source,
                    }),
                }),
                Ok(_) => self.read_file(path, &mut report),
                Err(source) => report.error(Error::Open {
                    file: name(path),
                    source,
                }),
            }
        }
        report.summary
    }

    /// Reads one input named `name` (used in origins and errors), calling `sink` as
    /// [`Reader::read_paths`] does.
    pub fn read_bytes(
        &self,
        name: &str,
        input: impl Read,
        sink: &mut dyn FnMut(Result<Located<Object>, Error>),
    ) -> Summary {
        self.read_bytes_map(name, input, &std::convert::identity, sink)
    }

    /// Reads one input named `name`, calling `map` and `sink` as
    /// [`Reader::read_paths_map`] does.
    pub fn read_bytes_map<T: Send>(
        &self,
        name: &str,
        input: impl Read,
        map: &(dyn Fn(Result<Located<Object>, Error>) -> T + Sync),
        sink: &mut dyn FnMut(T),
    ) -> Summary {
        let mut report = Report::new(Arc::from(name), map, sink);
        self.read_input(
            Input::new(Box::new(input), None, self.max_look_ahead),
            &mut report,
        );
        report.summary
    }

    fn read_file<T: Send>(&self, path: &Path, report: &mut Report<'_, T>) {
        report.set_file(name(path));
        let file = match File::open(path) {
            Ok(file) => file,
            Err(source) => {
                let file = name(path);
                return report.error(Error::Open { file, source });
            }
        };
        // Only a regular file can be opened again for look-ahead; a FIFO cannot.
        let seekable = file.metadata().is_ok_and(|m| m.is_file());
        let again = seekable.then(|| path.to_owned());
        self.read_input(
            Input::new(Box::new(file), again, self.max_look_ahead),
            report,
        );
    }

    fn read_input<T: Send>(&self, mut input: Input<'_>, report: &mut Report<'_, T>) {
        let sniff = match input.sniff() {
            Ok(sniff) => sniff,
            Err(source) => {
                let at = report.at(1, None);
                return report.error(Error::Read { at, source });
            }
        };
        tracing::debug!(file = %report.file, format = ?sniff, "reading manifest");
        match sniff {
            Sniff::Json => {
                let limits = json::Limits {
                    object_bytes: self.max_object_bytes,
                    depth: self.max_depth,
                };
                json::read(input, report, limits);
            }
            Sniff::Yaml => {
                let limits = yaml::Limits {
                    alias_events: self.max_alias_events,
                    anchor_events: self.max_anchor_events,
                    depth: self.max_depth,
                };
                yaml::read(input, report, limits);
            }
            Sniff::Blank => {
                let file = Arc::clone(&report.file);
                report.error(Error::Empty { file });
            }
            Sniff::Binary => {
                let file = Arc::clone(&report.file);
                report.error(Error::Binary { file });
            }
        }
    }
}

fn name(path: &Path) -> Arc<str> {
    Arc::from(path.display().to_string())
}
