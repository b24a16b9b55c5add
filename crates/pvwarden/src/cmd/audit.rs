//! `pvwarden audit`: a verdict for every volume and claim of the input.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::process::ExitCode;

use anyhow::bail;
use pvwarden_domain::audit::Auditor;
use pvwarden_domain::rule::{self, Finding, Severity};
use pvwarden_domain::verdict::OnDelete;
use serde::Serialize;

use crate::baseline::{Baseline, Entry};
use crate::cli::{AuditArgs, Format};
use crate::load::load;
use crate::output::{self, Header};

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

pub fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    for id in &args.ignore {
        if rule::find(id).is_none() {
            bail!("--ignore {id}: no such rule (run `pvwarden rules` for the list)");
        }
    }
    let baseline = args.baseline.as_deref().map(Baseline::read).transpose()?;
    let loaded = load(&args.model)?;
    let auditor = Auditor::new(
        &loaded.inventory,
        loaded.assumptions.clone(),
        loaded.settings,
    );
    let filter = Filter {
        ignore: args.ignore.iter().map(String::as_str).collect(),
        baseline: baseline.as_ref(),
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
    let mut outcomes: HashMap<String, OnDelete> = HashMap::new();
    for pv in loaded.inventory.pvs() {
        let mut verdict = auditor.volume(pv);
        if !(args.story && matches!(args.output, Format::Json | Format::Yaml)) {
            verdict.story.clear();
        }
        let name = verdict.name.clone();
        filter.apply(&mut verdict.findings, "PersistentVolume", &name, &mut recorded);
        tally(&verdict.findings, &mut summary);
        worst = worst.max(verdict.findings.iter().map(|f| f.severity).max());
        summary.volumes += 1;
        summary.stuck_volumes += u64::from(verdict.stuck);
        *summary
            .on_delete
            .entry(verdict.on_delete.as_str())
            .or_default() += 1;
        outcomes.insert(verdict.name.clone(), verdict.on_delete);
        sink.volume(&verdict)?;
    }
    for claim in loaded.inventory.claims() {
        let mut verdict = auditor.claim(claim, &outcomes);
        let object = format!("{}/{}", verdict.namespace, verdict.name);
        filter.apply(&mut verdict.findings, "PersistentVolumeClaim", &object, &mut recorded);
        tally(&verdict.findings, &mut summary);
        worst = worst.max(verdict.findings.iter().map(|f| f.severity).max());
        summary.claims += 1;
        summary.stuck_claims += u64::from(verdict.stuck);
        sink.claim(&verdict)?;
    }
    sink.finish(&summary)?;

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
        *summary.findings.entry(finding.severity.as_str()).or_default() += 1;
    }
}

/// The run-wide filters: `--ignore` and `--baseline`.
struct Filter<'a> {
    ignore: HashSet<&'a str>,
    baseline: Option<&'a Baseline>,
}

impl Filter<'_> {
    /// Drops `--ignore`d findings, records the rest for `--write-baseline`, then
    /// drops those the baseline already knows.
    fn apply(&self, findings: &mut Vec<Finding>, kind: &str, object: &str, record: &mut Baseline) {
        findings.retain(|f| !self.ignore.contains(f.rule));
        findings.retain(|f| {
            let entry = Entry {
                rule: f.rule.to_owned(),
                kind: kind.to_owned(),
                object: object.to_owned(),
            };
            let known = self.baseline.is_some_and(|b| b.contains(&entry));
            record.findings.insert(entry);
            !known
        });
    }
}
