//! Helpers shared by the reader's integration tests.

#![allow(dead_code, reason = "each test binary uses a different subset")]

use pvwarden_domain::object::{Located, Object};
use pvwarden_manifest::{Error, Reader, Summary};

/// Everything one read handed to its sink, in order.
pub struct Read {
    pub objects: Vec<Located<Object>>,
    pub errors: Vec<Error>,
    /// `object kind/name@line` or `error message`, in the order the sink saw them.
    pub events: Vec<String>,
    pub summary: Summary,
}

impl Read {
    /// `(kind, name, line)` of every object.
    pub fn objects(&self) -> Vec<(&'static str, String, u32)> {
        self.objects
            .iter()
            .map(|o| (o.object.kind(), name(&o.object), o.origin.line))
            .collect()
    }

    /// The messages of every error.
    pub fn messages(&self) -> Vec<String> {
        self.errors.iter().map(ToString::to_string).collect()
    }
}

/// Reads `text` as a file called `name`.
pub fn read(name: &str, text: impl AsRef<[u8]>) -> Read {
    read_with(Reader::new(), name, text)
}

/// Reads `text` with a configured reader.
pub fn read_with(reader: Reader, name: &str, text: impl AsRef<[u8]>) -> Read {
    let mut read = Read {
        objects: Vec::new(),
        errors: Vec::new(),
        events: Vec::new(),
        summary: Summary::default(),
    };
    let summary = reader.read_bytes(name, text.as_ref(), &mut |item| collect(&mut read, item));
    read.summary = summary;
    read
}

/// Adds one sink call to a read.
pub fn collect(read: &mut Read, item: Result<Located<Object>, Error>) {
    match item {
        Ok(located) => {
            read.events.push(format!(
                "object {}/{}@{}",
                located.object.kind(),
                name(&located.object),
                located.origin.line
            ));
            read.objects.push(located);
        }
        Err(err) => {
            read.events.push(format!("error {err}"));
            read.errors.push(err);
        }
    }
}

/// The object's `metadata.name`.
pub fn name(object: &Object) -> String {
    let name = match object {
        Object::PersistentVolume(o) => &o.metadata.name,
        Object::PersistentVolumeClaim(o) => &o.metadata.name,
        Object::StorageClass(o) => &o.metadata.name,
        Object::CsiDriver(o) => &o.metadata.name,
        Object::VolumeAttachment(o) => &o.metadata.name,
        Object::Node(o) => &o.metadata.name,
        Object::Pod(o) => &o.metadata.name,
        Object::Event(o) => &o.metadata.name,
        Object::EventV1(o) => &o.metadata.name,
        Object::Deployment(o) => &o.metadata.name,
        Object::StatefulSet(o) => &o.metadata.name,
        Object::DaemonSet(o) => &o.metadata.name,
        Object::VolumeSnapshot(o) => &o.metadata.name,
        Object::VolumeSnapshotContent(o) => &o.metadata.name,
        _ => &None,
    };
    name.clone().unwrap_or_default()
}
