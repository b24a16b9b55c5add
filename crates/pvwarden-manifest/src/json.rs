//! JSON: one or more values, each an object, a list of objects, or an array of objects.
//!
//! ```text
//!   Input --bytes--> Scanner --one object's bytes--> serde_json --> dispatch --> Object
//! ```
//!
//! A structural [`Scanner`] walks the top of each value and cuts out one
//! object (a list item, or a whole value that is not a list) at a time; only
//! those bytes are held, up to a limit. serde_json then reads them from the
//! slice, which is several times faster than from a reader, and a bad item
//! costs nothing but itself: the scanner has already found where it ends.
//! When an item fails, it is read a second time with path tracking to name
//! the field; the success path pays nothing for that.

mod scan;

use serde::de::DeserializeSeed;
use serde::Deserialize;

use self::scan::{Capture, Fail, Problem, Scanner};
use crate::dispatch::{HintFn, ObjectSeed, Outcome, Seen};
use crate::error::{Cause, Error, FieldPath, Format, ObjectRef, Segment};
use crate::input::Input;
use crate::kind::{self, Hint};
use crate::report::Report;

/// Bounds for one JSON input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Bytes of one object.
    pub object_bytes: usize,
    /// Nesting depth.
    pub depth: usize,
}

/// Reads every value of a JSON input; stops at the first value it cannot find the end of.
pub(crate) fn read(input: Input<'_>, report: &mut Report<'_>, limits: Limits) {
    let mut scan = Scanner::new(input, limits.depth);
    loop {
        let result = match scan.peek(&mut Capture::off()) {
            Ok(None) => return,
            Ok(Some(b'{')) => read_object(&mut scan, report, limits),
            Ok(Some(b'[')) => {
                report.summary.documents += 1;
                read_items(&mut scan, report, limits, &mut List::default())
            }
            Ok(Some(_)) => Err(scan.fail(Problem::Syntax("expected an object or an array"))),
            Err(fail) => Err(fail),
        };
        if let Err(fail) = result {
            report.error(failure(fail, report));
            return;
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

/// Reads a top-level object: either a list, whose items are read one by one,
/// or an object, whose bytes are kept and decoded whole.
fn read_object(
    scan: &mut Scanner<'_>,
    report: &mut Report<'_>,
    limits: Limits,
) -> Result<(), Fail> {
    report.summary.documents += 1;
    let (line, column) = (scan.input.line(), scan.input.column());
    let mut capture = Capture::new(limits.object_bytes);
    scan.expect(b'{', &mut capture, "expected an object")?;
    let mut list: Option<List> = None;
    let mut seen = Seen::default();
    match read_entries(scan, report, limits, &mut capture, &mut list, &mut seen) {
        Ok(()) => {}
        // A malformed entry: the object ends at its closing bracket, found by the scanner.
        Err(fail) if matches!(fail.problem, Problem::Syntax(_)) => {
            let error = failure(fail, report);
            scan.skip_object_rest()?;
            report.error(error);
            return Ok(());
        }
        Err(fail) => return Err(fail),
    }

    if list.is_some() {
        return Ok(());
    }
    if capture.truncated {
        report.error(too_large(report, line, limits));
        return Ok(());
    }
    decode(&capture.bytes, line, column, &mut |_| None, report);
    Ok(())
}

/// Reads the entries of a top-level object, up to and including its closing bracket.
fn read_entries(
    scan: &mut Scanner<'_>,
    report: &mut Report<'_>,
    limits: Limits,
    capture: &mut Capture,
    list: &mut Option<List>,
    seen: &mut Seen,
) -> Result<(), Fail> {
    let mut first = true;
    loop {
        if scan.peek(capture)? == Some(b'}') {
            return scan.expect(b'}', capture, "expected `}`");
        }
        if !std::mem::take(&mut first) {
            scan.expect(b',', capture, "expected `,` or `}` after an object entry")?;
        }
        let key = read_key(scan, capture)?;
        scan.expect(b':', capture, "expected `:` after an object key")?;
        let next = scan.peek(capture)?;

        let kind = seen.kind.as_deref();
        let items_of_list = key == "items" && next == Some(b'[') && list.is_none();
        if items_of_list && kind.is_none_or(kind::is_list) {
            // A list: its items are objects of their own, and the list itself is not kept.
            capture.stop();
            let list = list.insert(List {
                api_version: seen.api_version.take(),
                kind: seen.kind.take(),
                looked_ahead: false,
            });
            read_items(scan, report, limits, list)?;
            continue;
        }

        let header = key == "apiVersion" || key == "kind";
        if header && next == Some(b'"') {
            let mut value = Capture::new(4096);
            scan.string(&mut value)?;
            capture.push(&value.bytes);
            let text = serde_json::from_slice::<String>(&value.bytes).ok();
            let slot = match list {
                Some(list) if key == "kind" => &mut list.kind,
                Some(list) => &mut list.api_version,
                None if key == "kind" => &mut seen.kind,
                None => &mut seen.api_version,
            };
            *slot = text;
        } else {
            scan.value(capture)?;
        }
    }
}

/// Reads a key string and decodes it.
fn read_key(scan: &mut Scanner<'_>, capture: &mut Capture) -> Result<String, Fail> {
    if scan.peek(capture)? != Some(b'"') {
        return Err(scan.fail(Problem::Syntax("expected a string key")));
    }
    let mut key = Capture::new(4096);
    scan.string(&mut key)?;
    capture.push(&key.bytes);
    Ok(serde_json::from_slice::<String>(&key.bytes).unwrap_or_default())
}

/// Reads an array of objects, decoding each one on its own.
fn read_items(
    scan: &mut Scanner<'_>,
    report: &mut Report<'_>,
    limits: Limits,
    list: &mut List,
) -> Result<(), Fail> {
    scan.expect(b'[', &mut Capture::off(), "expected an array")?;
    let mut first = true;
    loop {
        if scan.peek(&mut Capture::off())? == Some(b']') {
            return scan.expect(b']', &mut Capture::off(), "expected `]`");
        }
        if !std::mem::take(&mut first) {
            scan.expect(
                b',',
                &mut Capture::off(),
                "expected `,` or `]` after a list item",
            )?;
        }

        let next = scan.peek(&mut Capture::off())?;
        let (line, column) = (scan.input.line(), scan.input.column());
        if next != Some(b'{') {
            scan.value(&mut Capture::off())?;
            let found = match next {
                Some(b'[') => "an array",
                Some(b'"') => "a string",
                _ => "a scalar",
            };
            let at = report.at(line, Some(column));
            report.error(Error::NotAnObject { at, found });
            continue;
        }

        let mut capture = Capture::new(limits.object_bytes);
        scan.value(&mut capture)?;
        if capture.truncated {
            report.error(too_large(report, line, limits));
            continue;
        }
        let mut look_ahead_error = None;
        let mut hint = |ahead| item_hint(list, scan, ahead, &mut look_ahead_error);
        decode(&capture.bytes, line, column, &mut hint, report);
        if let Some(err) = look_ahead_error {
            report.look_ahead_error(err, u32::try_from(line).unwrap_or(u32::MAX));
        }
    }
}

/// The kind of items that lack one; looks ahead for the list's kind once if needed.
fn item_hint(
    list: &mut List,
    scan: &mut Scanner<'_>,
    look_ahead: bool,
    error: &mut Option<crate::input::LookAheadError>,
) -> Option<Hint> {
    if look_ahead && list.kind.is_none() && !list.looked_ahead {
        list.looked_ahead = true;
        match scan.find_kind_ahead() {
            Ok(kind) => list.kind = kind,
            Err(err) => *error = Some(err),
        }
    }
    Hint::for_list(list.api_version.as_deref(), list.kind.as_deref()?)
}

/// Decodes one object's bytes and reports the outcome.
fn decode(bytes: &[u8], line: u64, column: u64, hint: &mut HintFn<'_>, report: &mut Report<'_>) {
    let line32 = u32::try_from(line).unwrap_or(u32::MAX);
    let mut seen = Seen::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = ObjectSeed {
        seen: &mut seen,
        hint: &mut *hint,
    }
    .deserialize(&mut de)
    .and_then(|outcome| de.end().map(|()| outcome));

    let err = match result {
        Ok(Outcome::Object(object)) => return report.object(object, line32),
        Ok(Outcome::Skipped(key)) => return report.skipped(key, line32),
        Ok(Outcome::NoKind) => {
            let object = probe(bytes, None);
            let at = report.at(line, Some(column));
            return report.error(Error::MissingKind { at, object });
        }
        Err(err) => err,
    };

    let error = decode_error(err, bytes, (line, column), hint, seen, report);
    report.error(error);
}

/// Places a serde_json error in the file and names its object and field.
fn decode_error(
    err: serde_json::Error,
    bytes: &[u8],
    (line, column): (u64, u64),
    hint: &mut HintFn<'_>,
    seen: Seen,
    report: &Report<'_>,
) -> Error {
    // serde_json counts lines and columns from the start of the slice.
    let err_line = line + (err.line() as u64).saturating_sub(1);
    let err_column = match err.line() {
        0 => None,
        1 => Some(column + (err.column() as u64).saturating_sub(1)),
        _ => Some(err.column() as u64),
    };
    let at = report.at(err_line.max(line), err_column);
    let source = Cause(message(&err));
    if err.is_syntax() || err.is_eof() {
        return Error::Syntax {
            format: Format::Json,
            at,
            source,
        };
    }
    Error::Decode {
        at,
        object: probe(bytes, seen.kind),
        field: field_path(bytes, hint),
        source,
    }
}

/// Reads the object again, tracking the path to the field that fails.
fn field_path(bytes: &[u8], hint: &mut HintFn<'_>) -> Option<FieldPath> {
    let mut seen = Seen::default();
    let mut track = serde_path_to_error::Track::new();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let tracked = serde_path_to_error::Deserializer::new(&mut de, &mut track);
    let result = ObjectSeed {
        seen: &mut seen,
        hint,
    }
    .deserialize(tracked);
    result.err()?;
    let segments: Vec<Segment> = track
        .path()
        .iter()
        .filter_map(|segment| match segment {
            serde_path_to_error::Segment::Seq { index } => Some(Segment::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Segment::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => Some(Segment::Key(variant.clone())),
            _ => None,
        })
        .collect();
    (!segments.is_empty()).then_some(FieldPath(segments))
}

/// Reads the kind and name of an object that failed to decode, as far as possible.
fn probe(bytes: &[u8], kind: Option<String>) -> ObjectRef {
    #[derive(Deserialize, Default)]
    struct Probe {
        #[serde(default)]
        kind: Option<serde_json::Value>,
        #[serde(default)]
        metadata: Option<Meta>,
    }
    #[derive(Deserialize, Default)]
    struct Meta {
        #[serde(default)]
        name: Option<serde_json::Value>,
        #[serde(default)]
        namespace: Option<serde_json::Value>,
    }
    let probe: Probe = serde_json::from_slice(bytes).unwrap_or_default();
    let text = |value: Option<serde_json::Value>| match value {
        Some(serde_json::Value::String(text)) => Some(text),
        _ => None,
    };
    let meta = probe.metadata.unwrap_or_default();
    ObjectRef {
        kind: kind.or_else(|| text(probe.kind)),
        namespace: text(meta.namespace),
        name: text(meta.name),
    }
}

/// serde_json's message without the position it appends, which is relative to the slice.
fn message(err: &serde_json::Error) -> String {
    let mut text = err.to_string();
    if err.line() > 0 {
        let suffix = format!(" at line {} column {}", err.line(), err.column());
        if text.ends_with(&suffix) {
            text.truncate(text.len() - suffix.len());
        }
    }
    text
}

fn too_large(report: &Report<'_>, line: u64, limits: Limits) -> Error {
    Error::Limit {
        what: "object size",
        limit: limits.object_bytes as u64,
        at: report.at(line, None),
    }
}

/// Turns a scanning failure into a reader error.
fn failure(fail: Fail, report: &Report<'_>) -> Error {
    let at = report.at(fail.line, Some(fail.column));
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
