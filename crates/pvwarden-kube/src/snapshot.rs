//! Writing the objects of a read as a YAML stream that offline runs read back.
//!
//! A snapshot is a stream of `---` documents. The first is a header of
//! pvwarden's own kind, carrying what the objects cannot: the context, the
//! server's version and when the snapshot was taken. Every other document
//! is one object, typed with `apiVersion` and `kind`, exactly as the sink of
//! [`Cluster::read`](crate::Cluster::read) got it: already trimmed, so there
//! are no `managedFields` and no container `env`, and secrets are never read.
//! Any manifest reader takes it and skips the header as a kind it does not
//! know; pvwarden reads the header too.
//!
//! ```text
//!   apiVersion: pvwarden.io/v1
//!   kind: Snapshot
//!   context: "prod-eu"
//!   server: "v1.31.2-eks-7f9249a"
//!   taken: "2026-12-04T12:00:00Z"
//!   ---
//!   apiVersion: v1
//!   kind: PersistentVolume
//!   ...
//! ```
//!
//! The header is a document rather than YAML comments so that it survives
//! tools that drop comments, and so that no reader has to see comments.

use std::io::Write;

use pvwarden_domain::object::Object;
use pvwarden_domain::version::Version;
use serde::{Deserialize, Serialize};

use crate::report::ServerVersion;

/// How every snapshot starts.
pub const MARKER: &str = "apiVersion: pvwarden.io/v1\nkind: Snapshot\n";

/// A failure to write a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The output could not be written.
    #[error("failed to write the snapshot")]
    Write(#[source] std::io::Error),
    /// An object could not be turned into YAML.
    #[error("failed to write {kind} {name} as YAML")]
    Serialize {
        /// The object's kind.
        kind: &'static str,
        /// Its `namespace/name` or `name`.
        name: String,
        /// Why.
        #[source]
        source: serde_saphyr::SerializeError,
    },
}

/// What a snapshot's header says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The kubeconfig context it was read from.
    pub context: String,
    /// The API server's version, when `/version` could be read.
    pub server: Option<ServerVersion>,
    /// When it was read.
    pub taken: jiff::Timestamp,
}

/// The header document as written and read.
#[derive(Serialize, Deserialize)]
struct HeaderDoc {
    context: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server: Option<String>,
    taken: String,
}

impl Header {
    /// The header document, ending in a newline, without a `---` line.
    pub fn render(&self) -> String {
        let mut text = String::from(MARKER);
        text.push_str(&format!("context: {}\n", quote(&self.context)));
        if let Some(server) = &self.server {
            text.push_str(&format!("server: {}\n", quote(&server.git_version)));
        }
        text.push_str(&format!("taken: {}\n", quote(&self.taken.to_string())));
        text
    }

    /// Reads the header from the start of a file; `None` when it is not a snapshot.
    ///
    /// `start` needs to hold only the first document; a header that cannot
    /// be read whole counts as none.
    pub fn parse(start: &str) -> Option<Header> {
        let rest = start.strip_prefix(MARKER)?;
        let body = match rest.find("\n---") {
            Some(end) => &rest[..end],
            None => rest,
        };
        let doc: HeaderDoc = serde_saphyr::from_str(body).ok()?;
        Some(Header {
            context: doc.context,
            server: doc.server.map(|git_version| ServerVersion {
                version: Version::from_tag(&git_version),
                git_version,
            }),
            taken: doc.taken.parse().ok()?,
        })
    }
}

/// A YAML double-quoted scalar; JSON string escaping is valid YAML.
fn quote(s: &str) -> String {
    serde_json::Value::String(s.to_owned()).to_string()
}

/// Writes a snapshot one object at a time.
#[derive(Debug)]
pub struct Writer<W: Write> {
    out: W,
    documents: u64,
}

impl<W: Write> Writer<W> {
    /// Starts a snapshot by writing its header.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Write`] when the output fails.
    pub fn new(mut out: W, header: &Header) -> Result<Writer<W>, Error> {
        out.write_all(header.render().as_bytes())
            .map_err(Error::Write)?;
        Ok(Writer { out, documents: 0 })
    }

    /// Writes one object as a `---` document.
    ///
    /// # Errors
    ///
    /// Returns an [`Error`] when the object cannot be serialized or written.
    pub fn write(&mut self, object: &Object) -> Result<(), Error> {
        let text = yaml(object).map_err(|source| Error::Serialize {
            kind: object.kind(),
            name: name_of(object),
            source,
        })?;
        self.out.write_all(b"---\n").map_err(Error::Write)?;
        self.out.write_all(text.as_bytes()).map_err(Error::Write)?;
        if !text.ends_with('\n') {
            self.out.write_all(b"\n").map_err(Error::Write)?;
        }
        self.documents += 1;
        Ok(())
    }

    /// The number of objects written so far.
    pub fn documents(&self) -> u64 {
        self.documents
    }

    /// Flushes the output and returns it.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Write`] when the flush fails.
    pub fn finish(mut self) -> Result<W, Error> {
        self.out.flush().map_err(Error::Write)?;
        Ok(self.out)
    }
}

/// A custom resource's fields under its `apiVersion` and `kind`.
#[derive(Serialize)]
struct Typed<'a, T> {
    #[serde(rename = "apiVersion")]
    api_version: &'static str,
    kind: &'static str,
    #[serde(flatten)]
    object: &'a T,
}

/// One object as a YAML document body (without the `---`).
fn yaml(object: &Object) -> Result<String, serde_saphyr::SerializeError> {
    // k8s-openapi types write their own apiVersion and kind; the snapshot
    // CRDs are the domain's own structs and need them added.
    match object {
        Object::PersistentVolume(o) => serde_saphyr::to_string(o),
        Object::PersistentVolumeClaim(o) => serde_saphyr::to_string(o),
        Object::StorageClass(o) => serde_saphyr::to_string(o),
        Object::CsiDriver(o) => serde_saphyr::to_string(o),
        Object::VolumeAttachment(o) => serde_saphyr::to_string(o),
        Object::Node(o) => serde_saphyr::to_string(o),
        Object::Pod(o) => serde_saphyr::to_string(o),
        Object::Event(o) => serde_saphyr::to_string(o),
        Object::EventV1(o) => serde_saphyr::to_string(o),
        Object::Deployment(o) => serde_saphyr::to_string(o),
        Object::StatefulSet(o) => serde_saphyr::to_string(o),
        Object::DaemonSet(o) => serde_saphyr::to_string(o),
        Object::VolumeSnapshot(o) => serde_saphyr::to_string(&Typed {
            api_version: crate::rbac::SNAPSHOT_GROUP_VERSION,
            kind: "VolumeSnapshot",
            object: &**o,
        }),
        Object::VolumeSnapshotContent(o) => serde_saphyr::to_string(&Typed {
            api_version: crate::rbac::SNAPSHOT_GROUP_VERSION,
            kind: "VolumeSnapshotContent",
            object: &**o,
        }),
        // `Object` is non-exhaustive; a kind added later is written as
        // nothing rather than guessed at.
        #[allow(unreachable_patterns)]
        _ => Ok(String::from("{}\n")),
    }
}

fn name_of(object: &Object) -> String {
    let meta = match object {
        Object::PersistentVolume(o) => &o.metadata,
        Object::PersistentVolumeClaim(o) => &o.metadata,
        Object::StorageClass(o) => &o.metadata,
        Object::CsiDriver(o) => &o.metadata,
        Object::VolumeAttachment(o) => &o.metadata,
        Object::Node(o) => &o.metadata,
        Object::Pod(o) => &o.metadata,
        Object::Event(o) => &o.metadata,
        Object::EventV1(o) => &o.metadata,
        Object::Deployment(o) => &o.metadata,
        Object::StatefulSet(o) => &o.metadata,
        Object::DaemonSet(o) => &o.metadata,
        Object::VolumeSnapshot(o) => &o.metadata,
        Object::VolumeSnapshotContent(o) => &o.metadata,
        #[allow(unreachable_patterns)]
        _ => return String::from("<unknown>"),
    };
    let name = meta.name.as_deref().unwrap_or("<unnamed>");
    match &meta.namespace {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips() {
        let header = Header {
            context: "prod \"eu\"\n".into(),
            server: Some(ServerVersion {
                git_version: "v1.30.4+k3s1".into(),
                version: Some(Version::new(1, 30, 4)),
            }),
            taken: "2026-12-04T12:00:00Z".parse().unwrap(),
        };
        let text = header.render();
        assert_eq!(text.lines().count(), 5, "{text}");
        let back = Header::parse(&format!("{text}---\napiVersion: v1\n")).unwrap();
        assert_eq!(back, header);
    }

    #[test]
    fn other_files_have_no_header() {
        assert_eq!(Header::parse("apiVersion: v1\nkind: List\n"), None);
        assert_eq!(Header::parse(MARKER), None, "a header without fields");
        assert_eq!(Header::parse(""), None);
    }
}
