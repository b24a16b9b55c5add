//! SARIF 2.1.0, so that code-scanning tools show findings on the manifest lines.

use std::io::Write;

use pvwarden_domain::object::Origin;
use pvwarden_domain::rule::{Finding, Severity, RULES};
use pvwarden_domain::verdict::{ClaimVerdict, VolumeVerdict};
use serde_json::{json, Value};

use super::{Header, Section, Sink};
use crate::cmd::audit_summary::Summary;

/// Collects results and writes one SARIF log at the end.
#[derive(Default)]
pub struct Sarif {
    results: Vec<Value>,
    input_errors: Vec<String>,
}

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

impl Sarif {
    fn add(&mut self, findings: &[Finding], origin: &Origin, object: &str) {
        for finding in findings {
            let text = format!("{object}: {}. Remedy: {}", finding.message, finding.remedy);
            let mut location = json!({
                "physicalLocation": { "artifactLocation": { "uri": origin.file.as_ref() } },
                "logicalLocations": [{ "name": object }],
            });
            if origin.line > 0 {
                location["physicalLocation"]["region"] = json!({ "startLine": origin.line });
            }
            self.results.push(json!({
                "ruleId": finding.rule,
                "level": level(finding.severity),
                "message": { "text": text },
                "locations": [location],
                "partialFingerprints": { "pvwarden/v1": format!("{}:{object}", finding.rule) },
            }));
        }
    }
}

impl Sink for Sarif {
    fn begin(&mut self, header: &Header<'_>) -> anyhow::Result<()> {
        self.input_errors = header.input.errors.clone();
        Ok(())
    }

    fn volume(&mut self, verdict: &VolumeVerdict) -> anyhow::Result<()> {
        let object = format!("PersistentVolume {}", verdict.name);
        self.add(&verdict.findings, &verdict.origin, &object);
        Ok(())
    }

    fn claim(&mut self, verdict: &ClaimVerdict) -> anyhow::Result<()> {
        let object = format!(
            "PersistentVolumeClaim {}/{}",
            verdict.namespace, verdict.name
        );
        self.add(&verdict.findings, &verdict.origin, &object);
        Ok(())
    }

    fn section(&mut self, section: &Section) -> anyhow::Result<()> {
        let origin = Origin::new(section.source.as_str(), 0);
        for f in &section.findings {
            let object = format!("{} {}", f.kind, f.object);
            self.add(std::slice::from_ref(&f.finding), &origin, &object);
        }
        Ok(())
    }

    fn finish(&mut self, _summary: &Summary) -> anyhow::Result<()> {
        let rules: Vec<Value> = RULES
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "shortDescription": { "text": r.summary },
                    "help": { "text": format!("See docs/rules.md#{}.", r.id) },
                    "defaultConfiguration": { "level": level(r.severity) },
                })
            })
            .collect();
        let log = json!({
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": { "driver": {
                    "name": "pvwarden",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules,
                }},
                "results": std::mem::take(&mut self.results),
                "invocations": [{
                    "executionSuccessful": self.input_errors.is_empty(),
                    "toolExecutionNotifications": self.input_errors.iter().map(|e| json!({
                        "level": "error",
                        "message": { "text": e },
                    })).collect::<Vec<_>>(),
                }],
            }],
        });
        let mut out = std::io::stdout().lock();
        serde_json::to_writer_pretty(&mut out, &log)?;
        out.write_all(b"\n")?;
        out.flush()?;
        Ok(())
    }
}
