//! The report formats of `audit`.
//!
//! Every format is a [`Sink`] fed one verdict at a time, so that JSON, the
//! format used on large clusters, is written while the audit runs and never
//! held whole in memory.

use pvwarden_domain::verdict::{ClaimVerdict, VolumeVerdict};
use pvwarden_domain::version::Assumptions;
use serde::Serialize;

use crate::cli::{ColorChoice, Format};
use crate::cmd::audit_summary::Summary;
use crate::load::InputReport;

mod json;
mod sarif;
mod table;

/// The schema version of the JSON and YAML reports (docs/json-output.md).
pub const SCHEMA_VERSION: u32 = 1;

/// What a report says before its verdicts.
#[derive(Debug, Serialize)]
pub struct Header<'a> {
    /// The assumptions every verdict rests on.
    pub assumptions: &'a Assumptions,
    /// The time the input was judged at.
    pub now: jiff::Timestamp,
    /// The stuck threshold.
    #[serde(serialize_with = "duration_secs")]
    pub stuck_after: jiff::SignedDuration,
    /// What was read.
    pub input: &'a InputReport,
}

fn duration_secs<S: serde::Serializer>(d: &jiff::SignedDuration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{}s", d.as_secs()))
}

/// A part of the report about the storage behind the volumes (`pvwarden ceph audit`),
/// written after the claims.
#[derive(Debug, Clone)]
pub struct Section {
    /// Its key in the JSON and YAML reports.
    pub key: &'static str,
    /// Where it was read (a dump file, or `ceph:<fsid>`), for locations in SARIF.
    pub source: String,
    /// Its tables for the table formats.
    pub tables: Vec<SectionTable>,
    /// Its JSON form.
    pub value: serde_json::Value,
    /// Its findings, each with the kind and name of the object, after `--ignore` and the
    /// baseline.
    pub findings: Vec<SectionFinding>,
}

/// A table of a [`Section`].
#[derive(Debug, Clone)]
pub struct SectionTable {
    /// The line above it.
    pub title: &'static str,
    /// The column headers.
    pub headers: Vec<&'static str>,
    /// The rows, one cell per header.
    pub rows: Vec<Vec<String>>,
}

/// A finding about an object of a [`Section`].
#[derive(Debug, Clone)]
pub struct SectionFinding {
    /// The object's kind, as the baseline records it.
    pub kind: &'static str,
    /// The object's name.
    pub object: String,
    /// The finding.
    pub finding: pvwarden_domain::rule::Finding,
}

/// A report being written.
pub trait Sink {
    /// Starts the report.
    fn begin(&mut self, header: &Header<'_>) -> anyhow::Result<()>;
    /// Adds one volume.
    fn volume(&mut self, verdict: &VolumeVerdict) -> anyhow::Result<()>;
    /// Adds one volume already rendered as JSON (only the JSON sink is given these).
    fn volume_json(&mut self, json: &[u8]) -> anyhow::Result<()> {
        anyhow::bail!(
            "this report format cannot take a volume rendered as JSON ({} bytes)",
            json.len()
        )
    }
    /// Adds one claim (all volumes come first).
    fn claim(&mut self, verdict: &ClaimVerdict) -> anyhow::Result<()>;
    /// Adds a section about the storage (after the claims, before the end).
    fn section(&mut self, section: &Section) -> anyhow::Result<()>;
    /// Ends the report.
    fn finish(&mut self, summary: &Summary) -> anyhow::Result<()>;
}

/// The sink for a format, writing to standard output.
pub fn sink(format: Format, color: ColorChoice) -> Box<dyn Sink> {
    let out = std::io::stdout();
    match format {
        Format::Table => Box::new(table::Table::new(out, false, color)),
        Format::Wide => Box::new(table::Table::new(out, true, color)),
        Format::Json => Box::new(json::Json::new(out)),
        Format::Yaml => Box::new(json::Yaml::default()),
        Format::Sarif => Box::new(sarif::Sarif::default()),
    }
}
