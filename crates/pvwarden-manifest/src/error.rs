//! What can go wrong while reading manifests, and where it went wrong.
//!
//! Every [`Error`] names the file and, once reading has started, the line (and
//! the column when the parser knows it). Errors about one object also name it
//! and the field that did not fit, so that a user can fix the manifest without
//! a debugger.

use std::fmt;
use std::io;
use std::sync::Arc;

/// A position in an input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file path as given by the user, or `-` for stdin.
    pub file: Arc<str>,
    /// The 1-based line.
    pub line: u32,
    /// The 1-based column, when known.
    pub column: Option<u32>,
}

impl Location {
    /// Creates a location at a line and an optional column.
    pub fn new(file: Arc<str>, line: u32, column: Option<u32>) -> Location {
        Location { file, line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.file, self.line)?;
        if let Some(column) = self.column {
            write!(f, ":{column}")?;
        }
        Ok(())
    }
}

/// The object an error is about, as far as it was read before the error.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ObjectRef {
    /// The object's kind, when known.
    pub kind: Option<String>,
    /// The object's namespace, when known.
    pub namespace: Option<String>,
    /// The object's name, when known.
    pub name: Option<String>,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.as_deref().unwrap_or("object"))?;
        match (&self.namespace, &self.name) {
            (Some(namespace), Some(name)) => write!(f, " {namespace}/{name}"),
            (None, Some(name)) => write!(f, " {name}"),
            _ => Ok(()),
        }
    }
}

/// One step of a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Segment {
    /// A mapping key.
    Key(String),
    /// A sequence index, 0-based.
    Index(usize),
}

/// The path to a field inside an object, such as `spec.capacity.storage`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    /// Returns whether the path has no segment.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, segment) in self.0.iter().enumerate() {
            match segment {
                // Keys such as annotation names contain dots; quote them so the
                // path stays unambiguous.
                Segment::Key(key) if key.contains(['.', '/', ' ', '[', ']']) => {
                    write!(f, "[{key:?}]")?
                }
                Segment::Key(key) if i == 0 => f.write_str(key)?,
                Segment::Key(key) => write!(f, ".{key}")?,
                Segment::Index(index) => write!(f, "[{index}]")?,
            }
        }
        Ok(())
    }
}

/// The input format of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML, one or more documents.
    Yaml,
    /// JSON, one or more concatenated values.
    Json,
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Yaml => "YAML",
            Format::Json => "JSON",
        })
    }
}

/// The parser's own explanation of an error.
///
/// It is kept apart from [`Error`]'s message so that the cause is printed once,
/// when the error chain is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause(pub String);

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Cause {}

/// An error met while reading manifests; reading goes on after each one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A path given by the user could not be opened or inspected.
    #[error("failed to open {file}")]
    Open {
        /// The path.
        file: Arc<str>,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A directory could not be listed while looking for manifests.
    #[error("failed to list directory {dir}")]
    ListDir {
        /// The directory.
        dir: Arc<str>,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// Reading failed part way through a file; the rest of it is skipped.
    #[error("failed to read {at}")]
    Read {
        /// Where reading stopped.
        at: Location,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file holds NUL bytes, so it is neither YAML nor JSON.
    #[error("{file} looks like a binary file, not YAML or JSON")]
    Binary {
        /// The file.
        file: Arc<str>,
    },
    /// The file is empty or holds only white space.
    #[error("{file} is empty")]
    Empty {
        /// The file.
        file: Arc<str>,
    },
    /// The bytes are not UTF-8; the rest of the YAML document or JSON file is skipped.
    #[error("invalid UTF-8 at {at}")]
    Encoding {
        /// Where the first bad byte is.
        at: Location,
    },
    /// A YAML document or JSON value is malformed and is skipped.
    #[error("invalid {format} at {at}")]
    Syntax {
        /// The format being parsed.
        format: Format,
        /// Where the parser gave up.
        at: Location,
        /// The parser's explanation.
        #[source]
        source: Cause,
    },
    /// A limit that bounds memory or stack use was exceeded; the document is skipped.
    #[error("{what} at {at} exceeds the limit of {limit}")]
    Limit {
        /// What grew too large, such as `alias expansion`.
        what: &'static str,
        /// The limit, in the unit of `what`.
        limit: u64,
        /// Where the limit was hit.
        at: Location,
    },
    /// A document or list item is not a mapping, so it cannot be an object.
    #[error("expected a Kubernetes object at {at}, found {found}")]
    NotAnObject {
        /// Where the value starts.
        at: Location,
        /// What was found instead, such as `a sequence`.
        found: &'static str,
    },
    /// An object has no `kind` and none can be inferred from an enclosing list.
    #[error("object at {at} has no kind")]
    MissingKind {
        /// Where the object starts.
        at: Location,
        /// The object, as far as it is known.
        object: ObjectRef,
    },
    /// An object of a supported kind does not match its schema.
    #[error("failed to decode {object} at {at}{}", in_field(field))]
    Decode {
        /// Where the bad value is.
        at: Location,
        /// The object, as far as it was read.
        object: ObjectRef,
        /// The field holding the bad value, when known.
        field: Option<FieldPath>,
        /// The decoder's explanation.
        #[source]
        source: Cause,
    },
}

fn in_field(field: &Option<FieldPath>) -> String {
    match field {
        Some(path) if !path.is_empty() => format!(" in field {path}"),
        _ => String::new(),
    }
}

impl Error {
    /// The position the error is about, when it is about a place in a file.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Error::Read { at, .. }
            | Error::Encoding { at }
            | Error::Syntax { at, .. }
            | Error::Limit { at, .. }
            | Error::NotAnObject { at, .. }
            | Error::MissingKind { at, .. }
            | Error::Decode { at, .. } => Some(at),
            Error::Open { .. }
            | Error::ListDir { .. }
            | Error::Binary { .. }
            | Error::Empty { .. } => None,
        }
    }

    /// The file the error is about.
    pub fn file(&self) -> &str {
        match self {
            Error::Open { file, .. } | Error::Binary { file } | Error::Empty { file } => file,
            Error::ListDir { dir, .. } => dir,
            Error::Read { at, .. }
            | Error::Encoding { at }
            | Error::Syntax { at, .. }
            | Error::Limit { at, .. }
            | Error::NotAnObject { at, .. }
            | Error::MissingKind { at, .. }
            | Error::Decode { at, .. } => &at.file,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn field_paths_quote_keys_with_dots() {
        let path = FieldPath(vec![
            Segment::Key("metadata".into()),
            Segment::Key("annotations".into()),
            Segment::Key("pv.kubernetes.io/bound-by-controller".into()),
        ]);
        assert_eq!(
            path.to_string(),
            "metadata.annotations[\"pv.kubernetes.io/bound-by-controller\"]"
        );
    }

    #[test]
    fn decode_errors_name_object_place_and_field() {
        let err = Error::Decode {
            at: Location::new("a.yaml".into(), 7, Some(14)),
            object: ObjectRef {
                kind: Some("PersistentVolumeClaim".into()),
                namespace: Some("ns".into()),
                name: Some("data".into()),
            },
            field: Some(FieldPath(vec![
                Segment::Key("spec".into()),
                Segment::Key("accessModes".into()),
                Segment::Index(0),
            ])),
            source: Cause("invalid type".into()),
        };
        assert_eq!(
            err.to_string(),
            "failed to decode PersistentVolumeClaim ns/data at a.yaml:7:14 in field \
             spec.accessModes[0]"
        );
    }
}
