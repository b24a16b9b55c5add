//! Kubernetes Events about PVs with findings: one per finding, when it appears.
//!
//! An Event is written when a rule starts to fire on a PV, not on every pass
//! while it keeps firing: the publisher remembers which rules it has reported
//! per PV. A rule that stops firing is forgotten, so it is reported again if
//! it comes back. A replica that becomes leader first reads the Events
//! earlier leaders wrote (they are still in the API for the cluster's event
//! TTL, an hour by default), so a failover does not repeat them.
//!
//! Events are `events.k8s.io/v1`, written through kube-runtime's
//! [`Recorder`]; a PV is cluster-scoped, so they land in `default`.

use std::collections::{BTreeSet, HashMap};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::Event as K8sEvent;
use kube::api::{Api, ListParams};
use kube::runtime::events::{Event, EventType, Recorder, Reporter};
use kube::Client;
use pvwarden_domain::rule::RULES;

use crate::metrics::Metrics;
use crate::pass::{Found, Volume};

/// The `reportingController` of every Event written.
pub const REPORTING_CONTROLLER: &str = "pvwarden.io/controller";

/// The namespace Events about cluster-scoped objects are written in.
const EVENT_NAMESPACE: &str = "default";

/// The most an Event's note may hold, in bytes (the API's limit is 1 kB).
const NOTE_LIMIT: usize = 1024;

/// Writes Events for new findings and remembers what it wrote.
pub(crate) struct Publisher {
    client: Client,
    recorder: Recorder,
    /// Per PV, the rules already reported while they keep firing.
    reported: HashMap<String, BTreeSet<&'static str>>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("reported", &self.reported.len())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// A publisher reporting as `instance` (the pod's name).
    pub(crate) fn new(client: Client, instance: &str) -> Publisher {
        let reporter = Reporter {
            controller: REPORTING_CONTROLLER.into(),
            instance: Some(instance.into()),
        };
        Publisher {
            recorder: Recorder::new(client.clone(), reporter),
            client,
            reported: HashMap::new(),
        }
    }

    /// Learns which findings earlier leaders already reported.
    ///
    /// # Errors
    ///
    /// Returns kube's error when the Events cannot be listed.
    pub(crate) async fn seed(&mut self) -> Result<usize, kube::Error> {
        let api: Api<K8sEvent> = Api::namespaced(self.client.clone(), EVENT_NAMESPACE);
        let events = api.list(&ListParams::default()).await?;
        self.reported.clear();
        let mut seen = 0;
        for event in events.items {
            if event.reporting_controller.as_deref() != Some(REPORTING_CONTROLLER) {
                continue;
            }
            let regarding = event.regarding.as_ref();
            let is_pv = regarding.and_then(|r| r.kind.as_deref()) == Some("PersistentVolume");
            let name = regarding.and_then(|r| r.name.clone());
            let rule = event.reason.as_deref().and_then(rule_of_reason);
            if let (true, Some(name), Some(rule)) = (is_pv, name, rule) {
                self.reported.entry(name).or_default().insert(rule);
                seen += 1;
            }
        }
        Ok(seen)
    }

    /// Writes an Event for every finding that was not firing at the last pass.
    ///
    /// A failed write is counted and retried at the next pass. Returns the
    /// findings written about, as PV name and rule id.
    pub(crate) async fn publish(
        &mut self,
        volumes: &[Volume],
        metrics: &Metrics,
    ) -> Vec<(String, &'static str)> {
        let mut new = Vec::new();
        let mut firing: HashMap<&str, BTreeSet<&'static str>> = HashMap::new();
        for volume in volumes.iter().filter(|v| !v.findings.is_empty()) {
            let before = self.reported.get(&volume.name);
            let mut now = BTreeSet::new();
            for finding in &volume.findings {
                let known = before.is_some_and(|rules| rules.contains(finding.rule));
                if known {
                    now.insert(finding.rule);
                } else if self.write(volume, finding, metrics).await {
                    now.insert(finding.rule);
                    new.push((volume.name.clone(), finding.rule));
                }
            }
            firing.insert(volume.name.as_str(), now);
        }
        self.reported = firing
            .into_iter()
            .filter(|(_, rules)| !rules.is_empty())
            .map(|(name, rules)| (name.to_owned(), rules))
            .collect();
        new
    }

    async fn write(&self, volume: &Volume, finding: &Found, metrics: &Metrics) -> bool {
        let reference = ObjectReference {
            api_version: Some("v1".into()),
            kind: Some("PersistentVolume".into()),
            name: Some(volume.name.clone()),
            uid: volume.uid.clone(),
            ..ObjectReference::default()
        };
        let event = Event {
            type_: match finding.severity {
                "info" => EventType::Normal,
                _ => EventType::Warning,
            },
            reason: reason_of_rule(finding.rule),
            note: Some(truncate(&finding.message, NOTE_LIMIT)),
            action: "Audit".into(),
            secondary: None,
        };
        match self.recorder.publish(&event, &reference).await {
            Ok(()) => {
                tracing::info!(volume = %volume.name, rule = finding.rule, "event written");
                metrics.event_published();
                true
            }
            Err(err) => {
                tracing::warn!(
                    volume = %volume.name,
                    rule = finding.rule,
                    error = %err,
                    "cannot write event; retrying at the next pass"
                );
                metrics.error("events", "Event");
                false
            }
        }
    }
}

/// A rule id as an Event reason: `static-delete-never-deletes` → `StaticDeleteNeverDeletes`.
pub fn reason_of_rule(rule: &str) -> String {
    rule.split('-')
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect()
}

/// The rule an Event reason names, if it names one.
fn rule_of_reason(reason: &str) -> Option<&'static str> {
    RULES
        .iter()
        .map(|rule| rule.id)
        .find(|id| reason_of_rule(id) == reason)
}

/// At most `limit` bytes of `text`, cut at a character boundary.
fn truncate(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_owned();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rule_round_trips_through_its_reason() {
        for rule in RULES {
            let reason = reason_of_rule(rule.id);
            assert!(reason.len() <= 128, "{reason} is too long for a reason");
            assert!(!reason.contains('-'));
            assert_eq!(rule_of_reason(&reason), Some(rule.id));
        }
    }

    #[test]
    fn notes_are_cut_at_a_character_boundary() {
        let text = "é".repeat(600);
        let cut = truncate(&text, NOTE_LIMIT);
        assert!(cut.len() <= NOTE_LIMIT);
        assert!(text.starts_with(&cut));
    }
}
