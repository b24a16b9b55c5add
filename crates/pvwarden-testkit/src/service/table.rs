//! Server-side `Table` output, for `kubectl get` without `-o`.
//!
//! PersistentVolumes and PersistentVolumeClaims get the columns the real
//! server prints for them; every other kind gets `Name` and `Age`. Each row
//! carries the object as `PartialObjectMetadata` (or the whole object, or
//! nothing, following `includeObject`), which kubectl reads for `-A` and
//! `--show-labels`.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::resource::Kind;

/// What each row carries, from the `includeObject` parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub(super) fn from_query(value: Option<&str>) -> Include {
        match value {
            Some("None") => Include::None,
            Some("Object") => Include::Object,
            _ => Include::Metadata,
        }
    }
}

/// A `Table` of objects, with list metadata.
pub(super) fn table(
    kind: &Kind,
    items: &[Arc<Value>],
    list_meta: Value,
    include: Include,
) -> Value {
    let columns: Vec<Value> = columns(kind)
        .iter()
        .map(|(name, kind, priority, description)| {
            let mut column = json!({"name": name, "type": kind, "format": "",
                "description": description, "priority": priority});
            if *name == "Name" {
                column["format"] = "name".into();
            }
            column
        })
        .collect();
    let rows: Vec<Value> = items.iter().map(|item| row(kind, item, include)).collect();
    json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta,
        "columnDefinitions": columns,
        "rows": rows
    })
}

type Column = (&'static str, &'static str, u8, &'static str);

fn columns(kind: &Kind) -> &'static [Column] {
    const NAME: Column = (
        "Name",
        "string",
        0,
        "Name must be unique within a namespace.",
    );
    const AGE: Column = (
        "Age",
        "string",
        0,
        "CreationTimestamp is a timestamp representing the \
        server time when this object was created.",
    );
    match (kind.group, kind.plural) {
        ("", "persistentvolumes") => &[
            NAME,
            ("Capacity", "string", 0, "The volume's capacity."),
            (
                "Access Modes",
                "string",
                0,
                "The ways the volume can be mounted.",
            ),
            (
                "Reclaim Policy",
                "string",
                0,
                "What happens to the volume once released.",
            ),
            ("Status", "string", 0, "The phase of the volume."),
            ("Claim", "string", 0, "The claim the volume is bound to."),
            (
                "StorageClass",
                "string",
                0,
                "The StorageClass of the volume.",
            ),
            (
                "VolumeAttributesClass",
                "string",
                0,
                "The VolumeAttributesClass of the volume.",
            ),
            ("Reason", "string", 0, "Why the volume is in its phase."),
            AGE,
            ("VolumeMode", "string", 1, "Filesystem or Block."),
        ],
        ("", "persistentvolumeclaims") => &[
            NAME,
            ("Status", "string", 0, "The phase of the claim."),
            ("Volume", "string", 0, "The volume bound to the claim."),
            ("Capacity", "string", 0, "The capacity of the bound volume."),
            (
                "Access Modes",
                "string",
                0,
                "The access modes of the bound volume.",
            ),
            (
                "StorageClass",
                "string",
                0,
                "The StorageClass the claim asks for.",
            ),
            (
                "VolumeAttributesClass",
                "string",
                0,
                "The VolumeAttributesClass of the claim.",
            ),
            AGE,
            ("VolumeMode", "string", 1, "Filesystem or Block."),
        ],
        _ => &[NAME, AGE],
    }
}

fn row(kind: &Kind, object: &Value, include: Include) -> Value {
    let text = |path: &[&str]| {
        let mut at = object;
        for p in path {
            at = &at[*p];
        }
        at.as_str().unwrap_or("").to_owned()
    };
    let name = text(&["metadata", "name"]);
    let age = age(object["metadata"]["creationTimestamp"].as_str());
    let cells: Vec<Value> = match (kind.group, kind.plural) {
        ("", "persistentvolumes") => {
            let claim = match (
                text(&["spec", "claimRef", "namespace"]),
                text(&["spec", "claimRef", "name"]),
            ) {
                (_, n) if n.is_empty() => String::new(),
                (ns, n) => format!("{ns}/{n}"),
            };
            vec![
                name.into(),
                text(&["spec", "capacity", "storage"]).into(),
                access_modes(&object["spec"]["accessModes"]).into(),
                text(&["spec", "persistentVolumeReclaimPolicy"]).into(),
                text(&["status", "phase"]).into(),
                claim.into(),
                text(&["spec", "storageClassName"]).into(),
                unset(text(&["spec", "volumeAttributesClassName"])).into(),
                text(&["status", "reason"]).into(),
                age.into(),
                text(&["spec", "volumeMode"]).into(),
            ]
        }
        ("", "persistentvolumeclaims") => {
            let bound = !text(&["spec", "volumeName"]).is_empty();
            let (capacity, modes) = if bound {
                (
                    text(&["status", "capacity", "storage"]),
                    access_modes(&object["status"]["accessModes"]),
                )
            } else {
                (String::new(), String::new())
            };
            vec![
                name.into(),
                text(&["status", "phase"]).into(),
                text(&["spec", "volumeName"]).into(),
                capacity.into(),
                modes.into(),
                text(&["spec", "storageClassName"]).into(),
                unset(text(&["spec", "volumeAttributesClassName"])).into(),
                age.into(),
                text(&["spec", "volumeMode"]).into(),
            ]
        }
        _ => vec![name.into(), age.into()],
    };
    let mut row = json!({"cells": cells});
    match include {
        Include::None => {}
        Include::Metadata => {
            row["object"] = json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
                "metadata": object["metadata"]});
        }
        Include::Object => row["object"] = object.clone(),
    }
    row
}

fn unset(text: String) -> String {
    if text.is_empty() {
        "<unset>".to_owned()
    } else {
        text
    }
}

/// Access modes in kubectl's short form: `RWO,ROX,RWX,RWOP`.
fn access_modes(modes: &Value) -> String {
    let modes: Vec<&str> = modes
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut out = Vec::new();
    for (long, short) in [
        ("ReadWriteOnce", "RWO"),
        ("ReadOnlyMany", "ROX"),
        ("ReadWriteMany", "RWX"),
        ("ReadWriteOncePod", "RWOP"),
    ] {
        if modes.contains(&long) {
            out.push(short);
        }
    }
    out.join(",")
}

/// The age of an object as kubectl prints it (`45s`, `3m12s`, `5h`, `12d`).
fn age(created: Option<&str>) -> String {
    let Some(created) = created.and_then(|c| c.parse::<jiff::Timestamp>().ok()) else {
        return "<unknown>".to_owned();
    };
    let seconds = jiff::Timestamp::now().as_second() - created.as_second();
    human_duration(seconds)
}

fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".to_owned();
    }
    let s = seconds.max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86_400);
    let with = |big: i64, big_unit: &str, small: i64, small_unit: &str| {
        if small == 0 {
            format!("{big}{big_unit}")
        } else {
            format!("{big}{big_unit}{small}{small_unit}")
        }
    };
    match () {
        _ if s < 120 => format!("{s}s"),
        _ if m < 10 => with(m, "m", s % 60, "s"),
        _ if m < 180 => format!("{m}m"),
        _ if h < 8 => with(h, "h", m % 60, "m"),
        _ if h < 48 => format!("{h}h"),
        _ if h < 24 * 8 => with(d, "d", h % 24, "h"),
        _ if h < 24 * 365 * 2 => format!("{d}d"),
        _ if h < 24 * 365 * 8 => with(d / 365, "y", d % 365, "d"),
        _ => format!("{}y", d / 365),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        for (secs, want) in [
            (5, "5s"),
            (119, "119s"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 + 60, "3h1m"),
            (20 * 3600, "20h"),
            (3 * 86_400 + 3600, "3d1h"),
            (30 * 86_400, "30d"),
        ] {
            assert_eq!(human_duration(secs), want);
        }
    }

    #[test]
    fn access_modes_are_short() {
        let modes = json!(["ReadWriteMany", "ReadWriteOnce"]);
        assert_eq!(access_modes(&modes), "RWO,RWX");
    }
}
