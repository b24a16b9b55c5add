//! The kinds the model reads, and how a list's kind names its items' kind.

use pvwarden_domain::object::Object;
use serde::{Deserialize, Deserializer};

/// A kind that maps to an [`Object`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Known {
    PersistentVolume,
    PersistentVolumeClaim,
    Pod,
    Node,
    CoreEvent,
    StorageClass,
    CsiDriver,
    VolumeAttachment,
    EventsEvent,
    Deployment,
    StatefulSet,
    DaemonSet,
    VolumeSnapshot,
    VolumeSnapshotContent,
}

/// `(apiVersion, kind)` of every supported kind. When an object has no
/// `apiVersion`, the first entry with its kind wins, so the core Event comes
/// before the `events.k8s.io` one.
const TABLE: &[(&str, &str, Known)] = &[
    ("v1", "PersistentVolume", Known::PersistentVolume),
    ("v1", "PersistentVolumeClaim", Known::PersistentVolumeClaim),
    ("v1", "Pod", Known::Pod),
    ("v1", "Node", Known::Node),
    ("v1", "Event", Known::CoreEvent),
    ("storage.k8s.io/v1", "StorageClass", Known::StorageClass),
    ("storage.k8s.io/v1", "CSIDriver", Known::CsiDriver),
    (
        "storage.k8s.io/v1",
        "VolumeAttachment",
        Known::VolumeAttachment,
    ),
    ("events.k8s.io/v1", "Event", Known::EventsEvent),
    ("apps/v1", "Deployment", Known::Deployment),
    ("apps/v1", "StatefulSet", Known::StatefulSet),
    ("apps/v1", "DaemonSet", Known::DaemonSet),
    (
        "snapshot.storage.k8s.io/v1",
        "VolumeSnapshot",
        Known::VolumeSnapshot,
    ),
    (
        "snapshot.storage.k8s.io/v1",
        "VolumeSnapshotContent",
        Known::VolumeSnapshotContent,
    ),
];

impl Known {
    /// Finds the supported kind for an `apiVersion` (when the object has one) and a kind.
    pub(crate) fn lookup(api_version: Option<&str>, kind: &str) -> Option<Known> {
        TABLE
            .iter()
            .find(|(api, k, _)| *k == kind && api_version.is_none_or(|v| v == *api))
            .map(|(_, _, known)| *known)
    }

    /// Deserializes an object of this kind.
    pub(crate) fn decode<'de, D: Deserializer<'de>>(self, de: D) -> Result<Object, D::Error> {
        Ok(match self {
            Known::PersistentVolume => Object::PersistentVolume(boxed(de)?),
            Known::PersistentVolumeClaim => Object::PersistentVolumeClaim(boxed(de)?),
            Known::Pod => Object::Pod(boxed(de)?),
            Known::Node => Object::Node(boxed(de)?),
            Known::CoreEvent => Object::Event(boxed(de)?),
            Known::StorageClass => Object::StorageClass(boxed(de)?),
            Known::CsiDriver => Object::CsiDriver(boxed(de)?),
            Known::VolumeAttachment => Object::VolumeAttachment(boxed(de)?),
            Known::EventsEvent => Object::EventV1(boxed(de)?),
            Known::Deployment => Object::Deployment(boxed(de)?),
            Known::StatefulSet => Object::StatefulSet(boxed(de)?),
            Known::DaemonSet => Object::DaemonSet(boxed(de)?),
            Known::VolumeSnapshot => Object::VolumeSnapshot(boxed(de)?),
            Known::VolumeSnapshotContent => Object::VolumeSnapshotContent(boxed(de)?),
        })
    }
}

fn boxed<'de, T: Deserialize<'de>, D: Deserializer<'de>>(de: D) -> Result<Box<T>, D::Error> {
    T::deserialize(de).map(Box::new)
}

/// The `apiVersion` and `kind` that items of a list have when they omit theirs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hint {
    /// The list's `apiVersion`, which typed lists share with their items.
    pub api_version: Option<String>,
    /// The item kind.
    pub kind: String,
}

impl Hint {
    /// Derives the item hint from a list's `apiVersion` and kind.
    ///
    /// `PersistentVolumeList` gives `PersistentVolume`; the untyped `List`
    /// gives nothing, since its items may be of any kind.
    pub(crate) fn for_list(api_version: Option<&str>, list_kind: &str) -> Option<Hint> {
        let kind = item_kind(list_kind)?;
        Some(Hint {
            api_version: api_version.map(str::to_owned),
            kind: kind.to_owned(),
        })
    }
}

/// The kind of a list's items: `PersistentVolume` for `PersistentVolumeList`, none for `List`.
pub(crate) fn item_kind(list_kind: &str) -> Option<&str> {
    list_kind.strip_suffix("List").filter(|k| !k.is_empty())
}

/// Returns whether a kind names a list (`List`, `PersistentVolumeList`, ...).
pub(crate) fn is_list(kind: &str) -> bool {
    kind.ends_with("List")
}

/// The key under which a skipped object is counted in [`crate::Summary::skipped`].
///
/// A supported kind at an unsupported version is counted with its version, so
/// that the summary says why it was left out.
pub(crate) fn skip_key(api_version: Option<&str>, kind: &str) -> String {
    match api_version {
        Some(api) if TABLE.iter().any(|(_, k, _)| *k == kind) => format!("{kind} ({api})"),
        _ => kind.to_owned(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn lookup_tells_events_apart_by_group() {
        assert_eq!(Known::lookup(Some("v1"), "Event"), Some(Known::CoreEvent));
        assert_eq!(
            Known::lookup(Some("events.k8s.io/v1"), "Event"),
            Some(Known::EventsEvent)
        );
        assert_eq!(Known::lookup(None, "Event"), Some(Known::CoreEvent));
        assert_eq!(
            Known::lookup(Some("storage.k8s.io/v1beta1"), "CSIDriver"),
            None
        );
    }

    #[test]
    fn typed_lists_hint_their_item_kind() {
        let hint = Hint::for_list(Some("v1"), "PersistentVolumeList");
        assert_eq!(
            hint,
            Some(Hint {
                api_version: Some("v1".into()),
                kind: "PersistentVolume".into()
            })
        );
        assert_eq!(Hint::for_list(Some("v1"), "List"), None);
    }
}
