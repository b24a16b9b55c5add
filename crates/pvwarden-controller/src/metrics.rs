//! The controller's Prometheus metrics, in the OpenMetrics text format.
//!
//! The gauges describe the last completed audit pass and are replaced whole
//! by each one, under a lock that scrapes also take, so a scrape never sees
//! half of one pass and half of another.
//!
//! | metric | labels | what |
//! |---|---|---|
//! | `pvwarden_volumes` | `provisioning`, `on_delete` | PVs by maker and by what deleting does |
//! | `pvwarden_volumes_stuck` | | PVs that will not move on by themselves |
//! | `pvwarden_volume_stuck_seconds` | `volume` | how long each stuck PV has been stuck |
//! | `pvwarden_findings` | `rule`, `severity`, `kind` | findings of the last pass, by rule |
//! | `pvwarden_volume_findings` | `volume`, `rule`, `severity` | 1 per PV finding at warning+ |
//! | `pvwarden_objects` | `kind` | objects held by the watches |
//! | `pvwarden_reconcile_duration_seconds` | | time of one audit pass |
//! | `pvwarden_reconciles_total` | | audit passes completed |
//! | `pvwarden_errors_total` | `stage`, `kind` | watch, event, audit and remediation errors |
//! | `pvwarden_events_published_total` | | Kubernetes Events written |
//! | `pvwarden_leader` | | 1 on the replica holding the Lease |

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Mutex, MutexGuard, PoisonError};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use pvwarden_domain::rule::Severity;

use crate::pass::Pass;

/// PVs by provisioning and predicted outcome.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VolumeLabels {
    provisioning: &'static str,
    on_delete: &'static str,
}

/// One stuck PV.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StuckLabels {
    volume: String,
}

/// Findings of one rule; `kind` is `PersistentVolume` or `PersistentVolumeClaim`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FindingLabels {
    rule: &'static str,
    severity: &'static str,
    kind: &'static str,
}

/// One finding on one PV: what ties a stuck volume to the rule that explains it.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct VolumeFindingLabels {
    volume: String,
    rule: &'static str,
    severity: &'static str,
}

/// Objects of one watched kind.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: &'static str,
}

/// Where an error happened: `watch`, `events`, `audit`, `lease`.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    stage: &'static str,
    kind: &'static str,
}

/// Every metric, and the registry that renders them.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: Registry,
    /// Held while a pass replaces the gauges and while a scrape renders them.
    pass: Mutex<()>,
    volumes: Family<VolumeLabels, Gauge>,
    stuck: Gauge,
    stuck_seconds: Family<StuckLabels, Gauge<f64, AtomicU64>>,
    findings: Family<FindingLabels, Gauge>,
    volume_findings: Family<VolumeFindingLabels, Gauge>,
    objects: Family<KindLabels, Gauge>,
    duration: Histogram,
    reconciles: Counter,
    errors: Family<ErrorLabels, Counter>,
    events: Counter,
    leader: Gauge,
}

impl Metrics {
    /// Registers every metric, at zero.
    pub(crate) fn new() -> Metrics {
        let mut registry = Registry::default();
        let volumes = Family::<VolumeLabels, Gauge>::default();
        let stuck = Gauge::default();
        let stuck_seconds = Family::<StuckLabels, Gauge<f64, AtomicU64>>::default();
        let findings = Family::<FindingLabels, Gauge>::default();
        let volume_findings = Family::<VolumeFindingLabels, Gauge>::default();
        let objects = Family::<KindLabels, Gauge>::default();
        // 1 ms to about 65 s: a pass over a few PVs to one over 100,000.
        let duration = Histogram::new(exponential_buckets(0.001, 2.0, 17));
        let reconciles = Counter::default();
        let errors = Family::<ErrorLabels, Counter>::default();
        let events = Counter::default();
        let leader = Gauge::default();
        registry.register(
            "pvwarden_volumes",
            "PersistentVolumes by provisioning and by what deleting them does",
            volumes.clone(),
        );
        registry.register(
            "pvwarden_volumes_stuck",
            "PersistentVolumes that will not move on by themselves",
            stuck.clone(),
        );
        registry.register(
            "pvwarden_volume_stuck_seconds",
            "How long each stuck PersistentVolume has been stuck",
            stuck_seconds.clone(),
        );
        registry.register(
            "pvwarden_findings",
            "Findings of the last audit pass, by rule",
            findings.clone(),
        );
        registry.register(
            "pvwarden_volume_findings",
            "1 for each finding of severity warning or error on a PersistentVolume",
            volume_findings.clone(),
        );
        registry.register(
            "pvwarden_objects",
            "Objects held by the watches, by kind",
            objects.clone(),
        );
        registry.register(
            "pvwarden_reconcile_duration_seconds",
            "Time of one audit pass over the whole cluster",
            duration.clone(),
        );
        registry.register(
            "pvwarden_reconciles",
            "Audit passes completed",
            reconciles.clone(),
        );
        registry.register(
            "pvwarden_errors",
            "Errors, by stage (watch, events, audit, lease) and kind",
            errors.clone(),
        );
        registry.register(
            "pvwarden_events_published",
            "Kubernetes Events written about PersistentVolumes",
            events.clone(),
        );
        registry.register(
            "pvwarden_leader",
            "1 on the replica that holds the leader Lease, else 0",
            leader.clone(),
        );
        Metrics {
            registry,
            pass: Mutex::new(()),
            volumes,
            stuck,
            stuck_seconds,
            findings,
            volume_findings,
            objects,
            duration,
            reconciles,
            errors,
            events,
            leader,
        }
    }

    fn lock(&self) -> MutexGuard<'_, ()> {
        self.pass.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the gauges with what one pass found.
    pub(crate) fn record(&self, pass: &Pass, sizes: &BTreeMap<&'static str, usize>) {
        let _pass = self.lock();
        self.volumes.clear();
        self.stuck_seconds.clear();
        self.findings.clear();
        // Cleared with the rest, so a series goes when its finding goes.
        self.volume_findings.clear();
        let mut stuck = 0;
        for volume in &pass.volumes {
            let labels = VolumeLabels {
                provisioning: volume.provisioning,
                on_delete: volume.on_delete,
            };
            self.volumes.get_or_create(&labels).inc();
            if let Some(seconds) = volume.stuck_seconds {
                stuck += 1;
                let labels = StuckLabels {
                    volume: volume.name.clone(),
                };
                self.stuck_seconds.get_or_create(&labels).set(seconds);
            }
            for finding in &volume.findings {
                self.finding(finding.rule, finding.severity, "PersistentVolume");
                // Info findings say nothing is wrong; leaving them out keeps
                // the series to the volumes that need a look.
                let notable = Severity::parse(finding.severity)
                    .is_some_and(|severity| severity >= Severity::Warning);
                if notable {
                    let labels = VolumeFindingLabels {
                        volume: volume.name.clone(),
                        rule: finding.rule,
                        severity: finding.severity,
                    };
                    self.volume_findings.get_or_create(&labels).set(1);
                }
            }
        }
        for finding in &pass.claim_findings {
            self.finding(finding.rule, finding.severity, "PersistentVolumeClaim");
        }
        self.stuck.set(stuck);
        for (kind, n) in sizes {
            let n = i64::try_from(*n).unwrap_or(i64::MAX);
            self.objects.get_or_create(&KindLabels { kind }).set(n);
        }
        self.duration.observe(pass.seconds);
        self.reconciles.inc();
    }

    fn finding(&self, rule: &'static str, severity: &'static str, kind: &'static str) {
        let labels = FindingLabels {
            rule,
            severity,
            kind,
        };
        self.findings.get_or_create(&labels).inc();
    }

    /// Counts one error of a stage (`watch`, `events`, `audit`, `lease`) about a kind.
    pub(crate) fn error(&self, stage: &'static str, kind: &'static str) {
        self.errors
            .get_or_create(&ErrorLabels { stage, kind })
            .inc();
    }

    /// Counts one Event written.
    pub(crate) fn event_published(&self) {
        self.events.inc();
    }

    /// Whether this replica leads.
    pub(crate) fn set_leader(&self, leader: bool) {
        self.leader.set(i64::from(leader));
    }

    /// The metrics as OpenMetrics text.
    pub(crate) fn render(&self) -> String {
        let _pass = self.lock();
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pass::{Found, Volume};

    fn found(rule: &'static str, severity: &'static str) -> Found {
        Found {
            rule,
            severity,
            message: String::new(),
        }
    }

    fn volume(name: &str, findings: Vec<Found>) -> Volume {
        Volume {
            name: name.into(),
            uid: None,
            provisioning: "static",
            on_delete: "hangs",
            stuck_seconds: None,
            findings,
        }
    }

    fn pass(volumes: Vec<Volume>) -> Pass {
        Pass {
            volumes,
            claim_findings: Vec::new(),
            seconds: 0.01,
        }
    }

    fn line(volume: &str, rule: &str, severity: &str) -> String {
        format!(
            "pvwarden_volume_findings{{volume=\"{volume}\",rule=\"{rule}\",\
             severity=\"{severity}\"}} 1"
        )
    }

    /// The per-volume finding series, sorted (a family renders in hash order).
    fn series(text: &str) -> Vec<String> {
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| l.starts_with("pvwarden_volume_findings{"))
            .map(str::to_owned)
            .collect();
        lines.sort_unstable();
        lines
    }

    #[test]
    fn volume_findings_name_the_rule_and_go_with_the_finding() {
        let metrics = Metrics::new();
        let stuck = vec![
            found("pv-stuck", "error"),
            found("legacy-volume-id", "warning"),
            found("shared-volume", "info"),
        ];
        let first = pass(vec![
            volume("stuck-pv", stuck),
            volume("fine-pv", Vec::new()),
        ]);
        metrics.record(&first, &BTreeMap::new());
        assert_eq!(
            series(&metrics.render()),
            [
                line("stuck-pv", "legacy-volume-id", "warning"),
                line("stuck-pv", "pv-stuck", "error"),
            ]
        );

        // The warning went: so does its series.
        let second = pass(vec![volume("stuck-pv", vec![found("pv-stuck", "error")])]);
        metrics.record(&second, &BTreeMap::new());
        assert_eq!(
            series(&metrics.render()),
            [line("stuck-pv", "pv-stuck", "error")]
        );
    }
}
