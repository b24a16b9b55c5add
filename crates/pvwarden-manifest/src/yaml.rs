//! YAML: a stream of documents, each an object, a list of objects, or empty.
//!
//! ```text
//!   Input --bytes--> Feed --chars, one document--> granit Parser --events-->
//!   Events (aliases, depth, names) --serde--> dispatch --> Object
//! ```
//!
//! The walker here reads the top of each document by events, because it has
//! to tell a list from an object before it knows the object's type. List
//! items, and objects once their first keys are read, go through serde.

mod de;
mod events;
mod feed;

use std::borrow::Cow;
use std::cell::RefCell;
use std::rc::Rc;

use granit_parser::Event;
use serde::de::DeserializeSeed;
use serde::Deserialize;

pub(crate) use self::events::Limits;

use self::de::{DeError, DeKind, Map};
use self::events::{Events, Pos};
use self::feed::Feed;
use crate::dispatch::{self, Next, ObjectSeed, Outcome, Seen};
use crate::error::{Cause, Error, FieldPath, Format, ObjectRef};
use crate::input::{Input, LookAheadError};
use crate::kind::{self, Hint};
use crate::report::Report;

/// Reads every document of a YAML input.
pub(crate) fn read<T>(input: Input<'_>, report: &mut Report<'_, T>, limits: Limits) {
    let feed = Rc::new(RefCell::new(Feed::new(input)));
    loop {
        let started = feed.borrow_mut().start_document();
        match started {
            Ok(true) => {}
            Ok(false) => return,
            Err(source) => {
                let line = feed.borrow().line();
                report.error(Error::Read {
                    at: report.at(line, None),
                    source,
                });
                return;
            }
        }

        let mut events = Events::new(&feed, limits);
        let result = read_stream(&mut events, &feed, report);
        drop(events);
        if let Err(err) = result {
            let stop = matches!(err.kind(), DeKind::Io(_));
            report.error(convert(err, report, ObjectRef::default(), Pos::default()));
            if stop {
                return;
            }
        }
        feed.borrow_mut().skip_document();
    }
}

/// Reads the events of one parser, which sees one document.
fn read_stream<T>(
    events: &mut Events<'_>,
    feed: &RefCell<Feed<'_>>,
    report: &mut Report<'_, T>,
) -> Result<(), DeError> {
    loop {
        match events.next()?.0 {
            Event::StreamEnd => return Ok(()),
            Event::DocumentStart(..) => read_document(events, feed, report)?,
            _ => {}
        }
    }
}

/// Reads the root node of a document; fails only when the document cannot go on.
fn read_document<T>(
    events: &mut Events<'_>,
    feed: &RefCell<Feed<'_>>,
    report: &mut Report<'_, T>,
) -> Result<(), DeError> {
    if events.is_null()? {
        // Empty documents are common in `helm template` output.
        events.next()?;
        return Ok(());
    }
    report.summary.documents += 1;
    let (event, pos) = events.peek()?;
    let pos = *pos;
    let result = match event {
        Event::MappingStart(..) => read_root(events, feed, report, pos),
        Event::SequenceStart(..) => {
            let mut list = List::default();
            read_items(events, feed, report, &mut list)
        }
        _ => {
            events.skip_node()?;
            report.error(Error::NotAnObject {
                at: report.at_pos(pos),
                found: "a scalar",
            });
            Ok(())
        }
    };
    match result {
        Err(err) if !err.is_fatal() => {
            report.error(convert(err, report, ObjectRef::default(), pos));
            events.skip_to(0)
        }
        other => other,
    }
}

/// Reads a document's root mapping, an object or a list.
fn read_root<T>(
    events: &mut Events<'_>,
    feed: &RefCell<Feed<'_>>,
    report: &mut Report<'_, T>,
    pos: Pos,
) -> Result<(), DeError> {
    events.next()?;
    let mut seen = Seen::default();
    let next = loop {
        let Some(key) = next_key(events)? else {
            break None;
        };
        match key.as_ref() {
            "apiVersion" => seen.api_version = Some(String::deserialize(&mut *events)?),
            "kind" => seen.kind = Some(String::deserialize(&mut *events)?),
            _ => break Some(key),
        }
    };

    let is_list = match (seen.kind.as_deref(), next.as_deref()) {
        (Some(kind), _) => kind::is_list(kind),
        (None, Some(key)) => key == "items",
        (None, None) => false,
    };
    if is_list {
        let mut list = List {
            api_version: seen.api_version,
            kind: seen.kind,
            looked_ahead: false,
        };
        return read_list(events, feed, report, &mut list, next);
    }

    events.names.arm(events.depth(), next.as_deref());
    let rest = match &next {
        Some(key) => Next::Key(key.to_string()),
        None => Next::End,
    };
    let result = dispatch::read_rest(Map::resume(events, next), rest, &mut seen, &mut |_| None);
    let names = events.names.disarm();
    finish(result, seen, names, pos, report)?;
    events.skip_to(0)
}

/// Reads the next key of a mapping whose start was consumed by hand.
fn next_key(events: &mut Events<'_>) -> Result<Option<Cow<'static, str>>, DeError> {
    match events.next()? {
        (Event::MappingEnd, _) => Ok(None),
        (Event::Scalar(key, ..), _) => Ok(Some(key)),
        (_, pos) => {
            events.skip_to(events.depth().saturating_sub(1))?;
            Err(DeError::data("mapping keys must be scalars", pos))
        }
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
    /// The kind of items that lack one; may look ahead for the list's kind, once.
    fn item_hint(
        &mut self,
        feed: &RefCell<Feed<'_>>,
        look_ahead: bool,
    ) -> Result<Option<Hint>, LookAheadError> {
        if look_ahead && self.kind.is_none() && !self.looked_ahead {
            self.looked_ahead = true;
            self.kind = feed.borrow_mut().find_kind_ahead()?;
        }
        let kind = self.kind.as_deref();
        Ok(kind.and_then(|kind| Hint::for_list(self.api_version.as_deref(), kind)))
    }
}

/// Reads the rest of a list's root mapping, starting with the value of `key`.
fn read_list<T>(
    events: &mut Events<'_>,
    feed: &RefCell<Feed<'_>>,
    report: &mut Report<'_, T>,
    list: &mut List,
    mut key: Option<Cow<'static, str>>,
) -> Result<(), DeError> {
    while let Some(current) = key {
        match current.as_ref() {
            "items" => read_items(events, feed, report, list)?,
            "apiVersion" => list.api_version = Some(String::deserialize(&mut *events)?),
            "kind" => list.kind = Some(String::deserialize(&mut *events)?),
            _ => events.skip_node()?,
        }
        key = next_key(events)?;
    }
    Ok(())
}

/// Reads a sequence of objects, reporting each one and going on after bad ones.
fn read_items<T>(
    events: &mut Events<'_>,
    feed: &RefCell<Feed<'_>>,
    report: &mut Report<'_, T>,
    list: &mut List,
) -> Result<(), DeError> {
    if events.is_null()? {
        events.next()?;
        return Ok(());
    }
    let (event, pos) = events.next()?;
    if !matches!(event, Event::SequenceStart(..)) {
        events.skip_to(events.depth().saturating_sub(1))?;
        report.error(Error::NotAnObject {
            at: report.at_pos(pos),
            found: "something other than a list of items",
        });
        return Ok(());
    }

    loop {
        let (event, pos) = events.peek()?;
        let pos = *pos;
        match event {
            Event::SequenceEnd => {
                events.next()?;
                return Ok(());
            }
            Event::MappingStart(..) => read_item(events, feed, report, list, pos)?,
            other => {
                let found = match other {
                    Event::SequenceStart(..) => "a sequence",
                    _ => "a scalar",
                };
                events.skip_node()?;
                report.error(Error::NotAnObject {
                    at: report.at_pos(pos),
                    found,
                });
            }
        }
    }
}

/// Reads one list item through serde; a bad item is reported and skipped.
fn read_item<T>(
    events: &mut Events<'_>,
    feed: &RefCell<Feed<'_>>,
    report: &mut Report<'_, T>,
    list: &mut List,
    pos: Pos,
) -> Result<(), DeError> {
    let depth = events.depth();
    events.names.arm(depth + 1, None);
    let mut seen = Seen::default();
    let mut look_ahead_error = None;
    let mut hint = |look_ahead| match list.item_hint(feed, look_ahead) {
        Ok(hint) => hint,
        Err(err) => {
            look_ahead_error = Some(err);
            None
        }
    };
    let result = ObjectSeed {
        seen: &mut seen,
        hint: &mut hint,
    }
    .deserialize(&mut *events);
    let names = events.names.disarm();
    if let Some(err) = look_ahead_error {
        report.look_ahead_error(err, pos.line);
    }
    finish(result, seen, names, pos, report)?;
    events.skip_to(depth)
}

/// Reports what reading one object gave; passes on errors that end the document.
fn finish<T>(
    result: Result<Outcome, DeError>,
    seen: Seen,
    (name, namespace): (Option<String>, Option<String>),
    pos: Pos,
    report: &mut Report<'_, T>,
) -> Result<(), DeError> {
    let object = ObjectRef {
        kind: seen.kind,
        namespace,
        name,
    };
    match result {
        Ok(Outcome::Object(found)) => report.object(found, pos.line),
        Ok(Outcome::Skipped(key)) => report.skipped(key, pos.line),
        Ok(Outcome::NoKind) => report.error(Error::MissingKind {
            at: report.at_pos(pos),
            object,
        }),
        Err(err) if err.is_fatal() => return Err(err),
        Err(err) => report.error(convert(err, report, object, pos)),
    }
    Ok(())
}

/// Turns a deserializer error into a reader error; `fallback` places errors without a position.
fn convert<T>(err: DeError, report: &Report<'_, T>, object: ObjectRef, fallback: Pos) -> Error {
    let (kind, message, pos, path) = err.into_parts();
    let at = report.at_pos(pos.filter(|p| p.line > 0).unwrap_or(fallback));
    match kind {
        DeKind::Data => Error::Decode {
            at,
            object,
            field: (!path.is_empty()).then_some(FieldPath(path)),
            source: Cause(message),
        },
        DeKind::Syntax => Error::Syntax {
            format: Format::Yaml,
            at,
            source: Cause(message),
        },
        DeKind::Encoding => Error::Encoding { at },
        DeKind::Limit { what, limit } => Error::Limit { what, limit, at },
        DeKind::Io(source) => Error::Read { at, source },
    }
}

impl<T> Report<'_, T> {
    fn at_pos(&self, pos: Pos) -> crate::error::Location {
        self.at(u64::from(pos.line), Some(u64::from(pos.column)))
    }
}
