//! Decoding one object's bytes with serde_json, and naming what went wrong.
//!
//! This runs on any thread: it sees only the bytes, where they start, and
//! the kind an enclosing list gives its items.

use std::sync::Arc;

use pvwarden_domain::object::Object;
use serde::de::DeserializeSeed;
use serde::Deserialize;

use crate::dispatch::{HintFn, ObjectSeed, Outcome, Seen};
use crate::error::{Cause, Error, FieldPath, Format, ObjectRef, Segment};
use crate::report::location;

/// What decoding one object gave.
#[derive(Debug)]
pub(crate) enum Decoded {
    /// An object of a supported kind.
    Object(Object),
    /// An object of another kind; the key to count it under.
    Skipped(String),
    /// An object without a kind, which the hint did not name either.
    NoKind,
    /// The bytes are not valid JSON, or do not fit the object's type.
    Failed(Error),
}

/// Decodes one object, whose bytes start at `(line, column)` of `file`.
pub(crate) fn decode(
    bytes: &[u8],
    (line, column): (u64, u64),
    hint: &mut HintFn<'_>,
    file: &Arc<str>,
) -> Decoded {
    let mut seen = Seen::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let result = ObjectSeed {
        seen: &mut seen,
        hint: &mut *hint,
    }
    .deserialize(&mut de)
    .and_then(|outcome| de.end().map(|()| outcome));

    match result {
        Ok(Outcome::Object(object)) => Decoded::Object(object),
        Ok(Outcome::Skipped(key)) => Decoded::Skipped(key),
        Ok(Outcome::NoKind) => Decoded::NoKind,
        Err(err) => {
            let error = decode_error(err, bytes, (line, column), hint, seen, file);
            Decoded::Failed(error)
        }
    }
}

/// The error for an object that has no kind, naming it as far as possible.
pub(crate) fn missing_kind(bytes: &[u8], (line, column): (u64, u64), file: &Arc<str>) -> Error {
    Error::MissingKind {
        at: location(file, line, Some(column)),
        object: probe(bytes, None),
    }
}

/// Places a serde_json error in the file and names its object and field.
fn decode_error(
    err: serde_json::Error,
    bytes: &[u8],
    (line, column): (u64, u64),
    hint: &mut HintFn<'_>,
    seen: Seen,
    file: &Arc<str>,
) -> Error {
    // serde_json counts lines and columns from the start of the slice.
    let err_line = line + (err.line() as u64).saturating_sub(1);
    let err_column = match err.line() {
        0 => None,
        1 => Some(column + (err.column() as u64).saturating_sub(1)),
        _ => Some(err.column() as u64),
    };
    let at = location(file, err_line.max(line), err_column);
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
