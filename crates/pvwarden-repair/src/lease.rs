//! The per-PV lease: an annotation that keeps two runs off one PV.
//!
//! Before a run changes a PV it writes the annotation [`LEASE_ANNOTATION`]
//! with its holder and expiry, in a JSON patch that tests the resource
//! version it read. Another run (or the controller) that finds an unexpired
//! lease of another holder leaves the PV alone. A lease of a run that was
//! killed expires by itself; the same run takes it back on resume.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The annotation that holds a lease.
pub const LEASE_ANNOTATION: &str = "pvwarden.io/lease";

/// Who holds a PV, until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The run id.
    pub run: String,
    /// The operator of the run.
    pub holder: String,
    /// When the lease ends unless renewed.
    pub expires: Timestamp,
}

impl Lease {
    /// Reads the lease of an object, if it carries a readable one.
    pub fn of(object: &Value) -> Option<Lease> {
        let text = object["metadata"]["annotations"][LEASE_ANNOTATION].as_str()?;
        serde_json::from_str(text).ok()
    }

    /// Whether another run may take the PV at `now`.
    pub fn blocks(&self, run: &str, now: Timestamp) -> bool {
        self.run != run && self.expires > now
    }

    /// The JSON patch that writes this lease, tested against `resource_version`.
    pub fn take_patch(&self, object: &Value, resource_version: &str) -> Value {
        let value = serde_json::to_string(self).unwrap_or_default();
        let mut ops = vec![test_version(resource_version)];
        if object["metadata"]["annotations"].is_object() {
            ops.push(json!({"op": "add", "path": pointer(), "value": value}));
        } else {
            ops.push(json!({
                "op": "add",
                "path": "/metadata/annotations",
                "value": {LEASE_ANNOTATION: value},
            }));
        }
        Value::Array(ops)
    }

    /// The JSON patch that removes the lease from `object`, whose lease text is `current`.
    ///
    /// When the lease is the only annotation, the map goes too, so that the
    /// object ends exactly as it was before the lease was taken.
    pub fn release_patch(object: &Value, current: &str, resource_version: &str) -> Value {
        let alone = object["metadata"]["annotations"]
            .as_object()
            .is_some_and(|a| a.len() == 1);
        let (path, value) = if alone {
            (
                "/metadata/annotations".to_owned(),
                json!({LEASE_ANNOTATION: current}),
            )
        } else {
            (pointer(), json!(current))
        };
        json!([
            test_version(resource_version),
            {"op": "test", "path": path, "value": value},
            {"op": "remove", "path": path},
        ])
    }
}

/// The `test` of a resource version every write carries.
pub(crate) fn test_version(resource_version: &str) -> Value {
    json!({"op": "test", "path": "/metadata/resourceVersion", "value": resource_version})
}

fn pointer() -> String {
    format!(
        "/metadata/annotations/{}",
        LEASE_ANNOTATION.replace('/', "~1")
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn a_lease_blocks_other_runs_until_it_expires() {
        let lease = Lease {
            run: "r-1".into(),
            holder: "alice".into(),
            expires: "2026-12-04T20:00:00Z".parse().unwrap(),
        };
        let before = "2026-12-04T19:59:00Z".parse().unwrap();
        let after = "2026-12-04T20:00:01Z".parse().unwrap();
        assert!(lease.blocks("r-2", before));
        assert!(!lease.blocks("r-1", before), "its own run may take it back");
        assert!(!lease.blocks("r-2", after));
    }

    #[test]
    fn the_lease_reads_back_from_the_patched_object() {
        let lease = Lease {
            run: "r-1".into(),
            holder: "alice".into(),
            expires: Timestamp::UNIX_EPOCH,
        };
        let mut object = json!({"metadata": {"resourceVersion": "5"}});
        let patch = lease.take_patch(&object, "5");
        assert_eq!(patch[0]["value"], "5");
        object["metadata"]["annotations"] = patch[1]["value"].clone();
        assert_eq!(Lease::of(&object), Some(lease));
    }
}
