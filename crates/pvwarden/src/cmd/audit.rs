//! `pvwarden audit`: a verdict for every volume and claim of the input.

use std::collections::{BTreeMap, HashSet};
use std::process::ExitCode;

use anyhow::bail;
use pvwarden_domain::audit::Auditor;
use pvwarden_domain::rule::{self, Finding, Severity};
use pvwarden_domain::storage::StorageFacts;
use pvwarden_domain::verdict::OnDelete;
use rayon::prelude::*;
use serde::Serialize;

use crate::baseline::{Baseline, Entry};
use crate::cli::{AuditArgs, Format};
use crate::load::{load, Loaded};
use crate::output::{self, Header, Section};

/// How many PVs are evaluated together before their verdicts are written.
const CHUNK: usize = 1024;

/// One evaluated PV, with its findings for the baseline and its JSON, if rendered.
struct Done {
    verdict: pvwarden_domain::verdict::VolumeVerdict,
    entries: Vec<Entry>,
    rendered: Option<Vec<u8>>,
}

/// The counts at the end of a report.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    /// PVs audited.
    pub volumes: u64,
    /// Claims audited.
    pub claims: u64,
    /// PVs by `on_delete`.
    pub on_delete: BTreeMap<&'static str, u64>,
    /// PVs stuck as given.
    pub stuck_volumes: u64,
    /// Claims stuck as given.
    pub stuck_claims: u64,
    /// Findings kept, by severity.
    pub findings: BTreeMap<&'static str, u64>,
}

/// What a storage backend adds to an audit: facts for the model, and a section of its own.
pub trait Storage {
    /// What the storage read found behind each PV.
    fn facts(&self) -> &StorageFacts;
    /// The section, given each PV's `on_delete` by name.
    fn section(&self, on_delete: &dyn Fn(&str) -> Option<OnDelete>, wide: bool) -> Section;
}

pub fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    check_ignores(&args.ignore, &[])?;
    let started = std::time::Instant::now();
    let loaded = load(&args.model)?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        rss_kib = crate::load::rss_kib(),
        "input read"
    );
    report(args, &loaded, None)
}

/// Refuses an `--ignore` that names no rule of `pvwarden rules` nor of `extra`.
pub fn check_ignores(ignore: &[String], extra: &[rule::Rule]) -> anyhow::Result<()> {
    for id in ignore {
        if rule::find(id).is_none() && !extra.iter().any(|r| r.id == id) {
            bail!("--ignore {id}: no such rule (run `pvwarden rules` for the list)");
        }
    }
    Ok(())
}

/// Audits what was loaded and writes the report; `storage` adds a backend's facts and
/// section. Returns the exit code.
pub fn report(
    args: &AuditArgs,
    loaded: &Loaded,
    storage: Option<&dyn Storage>,
) -> anyhow::Result<ExitCode> {
    let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
    let started = std::time::Instant::now();
    let story = args.story && matches!(args.output, Format::Json | Format::Yaml);
    let mut auditor = Auditor::new(
        &loaded.inventory,
        loaded.assumptions.clone(),
        loaded.settings,
    )
    .with_story(story);
    if let Some(storage) = storage {
        auditor = auditor.with_storage(storage.facts());
    }
    let filter = Filter {
        ignore: args.ignore.iter().map(String::as_str).collect(),
        baseline: baseline.as_ref(),
        record: args.write_baseline.is_some(),
    };

    let header = Header {
        assumptions: auditor.assumptions(),
        now: loaded.settings.now,
        stuck_after: loaded.settings.stuck_after,
        input: &loaded.report,
    };
    let mut sink = output::sink(args.output, args.color);
    sink.begin(&header)?;

    let mut summary = Summary::default();
    let mut recorded = Baseline::new();
    let mut worst: Option<Severity> = None;
    let pvs = loaded.inventory.pvs();
    let mut outcomes: Vec<OnDelete> = Vec::with_capacity(pvs.len());
    let json = args.output == Format::Json;
    // Verdicts are independent of each other: evaluate (and for JSON, render) a
    // chunk on every core, then write it in input order. The chunk bounds the
    // memory held for verdicts waiting to be written.
    for chunk in pvs.chunks(CHUNK) {
        let done: Vec<Done> = chunk
            .par_iter()
            .map(|pv| {
                let mut verdict = auditor.volume(pv);
                let name = verdict.name.clone();
                let entries = filter.apply(&mut verdict.findings, "PersistentVolume", &name);
                let rendered = if json {
                    serde_json::to_vec(&verdict).ok()
                } else {
                    None
                };
                Done {
                    verdict,
                    entries,
                    rendered,
                }
            })
            .collect();
        for Done {
            verdict,
            entries,
            rendered,
        } in done
        {
            recorded.findings.extend(entries);
            tally(&verdict.findings, &mut summary);
            worst = worst.max(verdict.findings.iter().map(|f| f.severity).max());
            summary.volumes += 1;
            summary.stuck_volumes += u64::from(verdict.stuck);
            *summary
                .on_delete
                .entry(verdict.on_delete.as_str())
                .or_default() += 1;
            outcomes.push(verdict.on_delete);
            match rendered {
                Some(bytes) => sink.volume_json(&bytes)?,
                None => sink.volume(&verdict)?,
            }
        }
    }
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        rss_kib = crate::load::rss_kib(),
        "volumes audited"
    );
    let inventory = &loaded.inventory;
    let outcome_of = |name: &str| inventory.pv_position(name).map(|i| outcomes[i]);
    for claim in inventory.claims() {
        let mut verdict = auditor.claim(claim, &outcome_of);
        let object = format!("{}/{}", verdict.namespace, verdict.name);
        let entries = filter.apply(&mut verdict.findings, "PersistentVolumeClaim", &object);
        recorded.findings.extend(entries);
        tally(&verdict.findings, &mut summary);
        worst = worst.max(verdict.findings.iter().map(|f| f.severity).max());
        summary.claims += 1;
        summary.stuck_claims += u64::from(verdict.stuck);
        sink.claim(&verdict)?;
    }
    if let Some(storage) = storage {
        let mut section = storage.section(&outcome_of, args.output == Format::Wide);
        let mut kept = Vec::with_capacity(section.findings.len());
        for mut item in std::mem::take(&mut section.findings) {
            let mut findings = vec![item.finding];
            let entries = filter.apply(&mut findings, item.kind, &item.object);
            recorded.findings.extend(entries);
            tally(&findings, &mut summary);
            worst = worst.max(findings.iter().map(|f| f.severity).max());
            if let Some(finding) = findings.pop() {
                item.finding = finding;
                kept.push(item);
            }
        }
        section.findings = kept;
        sink.section(&section)?;
    }
    sink.finish(&summary)?;
    tracing::debug!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        "report written"
    );

    for warning in &loaded.report.warnings {
        eprintln!("pvwarden: warning: {warning}");
    }
    for error in &loaded.report.errors {
        eprintln!("pvwarden: {error}");
    }
    if let Some(path) = &args.write_baseline {
        recorded.write(path)?;
    }
    let worst = if args.exit_zero { None } else { worst };
    Ok(exit_code(
        !loaded.report.errors.is_empty(),
        worst,
        args.fail_on,
    ))
}

fn exit_code(input_errors: bool, worst: Option<Severity>, fail_on: Severity) -> ExitCode {
    if input_errors {
        ExitCode::from(2)
    } else if worst.is_some_and(|w| w >= fail_on) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn tally(findings: &[Finding], summary: &mut Summary) {
    for finding in findings {
        *summary
            .findings
            .entry(finding.severity.as_str())
            .or_default() += 1;
    }
}

/// The run-wide filters: `--ignore` and `--baseline`.
struct Filter<'a> {
    ignore: HashSet<&'a str>,
    baseline: Option<&'a Baseline>,
    /// Whether entries are wanted (`--write-baseline`); on 100,000 PVs they
    /// would otherwise hold megabytes for nothing.
    record: bool,
}

impl Filter<'_> {
    /// Drops `--ignore`d findings, then those the baseline already knows; returns
    /// the entries to record for `--write-baseline` (all but the ignored).
    fn apply(&self, findings: &mut Vec<Finding>, kind: &str, object: &str) -> Vec<Entry> {
        findings.retain(|f| !self.ignore.contains(f.rule));
        let mut entries = Vec::with_capacity(if self.record { findings.len() } else { 0 });
        findings.retain(|f| {
            let entry = Entry {
                rule: f.rule.to_owned(),
                kind: kind.to_owned(),
                object: object.to_owned(),
            };
            let known = self.baseline.is_some_and(|b| b.contains(&entry));
            if self.record {
                entries.push(entry);
            }
            !known
        });
        entries
    }
}
