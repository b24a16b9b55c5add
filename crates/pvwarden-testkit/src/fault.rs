//! Fault injection: latency, errors, conflicts and dropped watches.
//!
//! Tests set [`Faults`] with `PUT /pvwarden-test/faults`. Faults apply to API
//! paths that contain one of [`Faults::paths`] (all paths when empty), never
//! to the `/pvwarden-test/` endpoints.

use serde::{Deserialize, Serialize};

/// The faults in force.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Delay before every matching request is served, in milliseconds.
    pub latency_ms: u64,
    /// Share of matching requests answered with `error_status` (0.0 to 1.0).
    pub error_rate: f64,
    /// The HTTP status of injected errors (500 unless set).
    pub error_status: u16,
    /// Close matching watches this long after they start; 0 keeps them open.
    pub drop_watches_after_ms: u64,
    /// Share of matching updates and patches answered `409 Conflict`.
    pub conflict_rate: f64,
    /// Path substrings that faults apply to; empty means every API path.
    pub paths: Vec<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            latency_ms: 0,
            error_rate: 0.0,
            error_status: 500,
            drop_watches_after_ms: 0,
            conflict_rate: 0.0,
            paths: Vec::new(),
        }
    }
}

impl Faults {
    /// Whether faults apply to a request path.
    pub(crate) fn applies_to(&self, path: &str) -> bool {
        !path.starts_with("/pvwarden-test")
            && (self.paths.is_empty() || self.paths.iter().any(|p| path.contains(p.as_str())))
    }

    /// Draws whether an injected error happens now.
    pub(crate) fn draw_error(&self) -> bool {
        self.error_rate > 0.0 && fastrand::f64() < self.error_rate
    }

    /// Draws whether an injected conflict happens now.
    pub(crate) fn draw_conflict(&self) -> bool {
        self.conflict_rate > 0.0 && fastrand::f64() < self.conflict_rate
    }

    /// Checks the values a test sent.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let rate = |r: f64| (0.0..=1.0).contains(&r);
        if !rate(self.error_rate) || !rate(self.conflict_rate) {
            return Err("error_rate and conflict_rate must be between 0.0 and 1.0".to_owned());
        }
        if !(400..=599).contains(&self.error_status) {
            return Err("error_status must be an HTTP error status (400 to 599)".to_owned());
        }
        Ok(())
    }
}
