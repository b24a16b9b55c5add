//! `pvwarden fix`, `prune`, `journal` and `undo`: the repair engine's front end.
//!
//! Every verb reads the live cluster; planning and carrying out are
//! `pvwarden-repair`'s, the journal is a `pvwarden-journal` SQLite file.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context};
use pvwarden_domain::audit::Auditor;
use pvwarden_journal::{Entry, Journal, Run, RunId, SqliteJournal};
use pvwarden_kube::Cluster;
use pvwarden_repair::plan::{self, Mode, Plan, Request};
use pvwarden_repair::{Operator, Report, Settings, UndoOptions, UndoReport};
use serde_json::json;

use crate::cli::{
    ClusterArgs, FixArgs, JournalArgs, JournalCommand, JournalPath, PruneArgs, RepairArgs,
    RepairFormat, UndoArgs,
};
use crate::load::{load, runtime};

/// `pvwarden fix`.
pub fn fix(args: &FixArgs) -> anyhow::Result<ExitCode> {
    if let Some(run) = &args.resume {
        return resume(&args.repair, &RunId::parse(run));
    }
    if args.names.is_empty() && !args.all_stuck {
        bail!("name the PVs (or namespace/name of claims) to fix, or pass --all-stuck");
    }
    let request = Request {
        mode: Mode::Fix,
        names: args.names.clone(),
        all_stuck: args.all_stuck,
        orphan_backend: args.orphan_backend.clone(),
        detach_stale: args.detach_stale,
        // A partial read stops planning, so the Node list is always whole.
        nodes_listed: true,
        rebind: args.rebind,
        max_changes: args.repair.max_changes,
    };
    repair(&args.repair, &request, &command_line("fix"))
}

/// `pvwarden prune --released-static`.
pub fn prune(args: &PruneArgs) -> anyhow::Result<ExitCode> {
    let request = Request {
        mode: Mode::PruneReleasedStatic,
        names: args.names.clone(),
        max_changes: args.repair.max_changes,
        ..Request::default()
    };
    repair(&args.repair, &request, &command_line("prune"))
}

/// The command as journaled: the verb and its arguments, which hold no secrets
/// (credentials come from the kubeconfig, never from flags).
pub(crate) fn command_line(verb: &str) -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let start = args.iter().position(|a| a == verb).unwrap_or(0);
    args[start..].join(" ")
}

/// Plans from the live cluster, then prints the plan or carries it out.
fn repair(args: &RepairArgs, request: &Request, command: &str) -> anyhow::Result<ExitCode> {
    let plan = plan_now(args, request)?;
    let digest = plan.digest();
    if !args.apply {
        print_plan(args.output, &plan, &digest, command)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(confirmed) = &args.confirm else {
        bail!("--apply needs --confirm DIGEST: run without --apply to see the plan and its digest");
    };
    let journal = open_journal(&args.journal)?;
    let settings = settings(args)?;
    let rt = runtime()?;
    let report = rt.block_on(async {
        let cluster = connect(&args.cluster).await?;
        let operator = Operator {
            name: cluster.user().to_owned(),
            context: cluster.context().to_owned(),
            command: command.to_owned(),
        };
        let client = cluster.client();
        pvwarden_repair::apply(client, &journal, &plan, confirmed, &operator, &settings)
            .await
            .context("the repair stopped")
    })?;
    print_report(args.output, &report)
}

fn plan_now(args: &RepairArgs, request: &Request) -> anyhow::Result<Plan> {
    let loaded = load(&args.model())?;
    for warning in &loaded.report.warnings {
        eprintln!("pvwarden: warning: {warning}");
    }
    if let Some(error) = loaded.report.errors.first() {
        bail!("cannot plan from a cluster that was not read whole: {error}");
    }
    // A kind left out (no permission) reads as unknown to the model, which is enough for
    // an audit but not for a repair: a missing VolumeAttachment list, say, would make a
    // finalizer look safe to remove.
    let degraded = loaded.report.cluster.as_ref().map(|c| &c.degraded);
    if let Some(missing) = degraded.filter(|d| !d.is_empty()) {
        bail!(
            "cannot plan a repair from a partial read (`pvwarden rbac` prints the role it \
             needs); missing: {}",
            missing.join("; ")
        );
    }
    let inventory = &loaded.inventory;
    let auditor = Auditor::new(inventory, loaded.assumptions, loaded.settings).with_story(false);
    let (volumes, claims) = plan::verdicts(&auditor, inventory);
    Ok(plan::plan(inventory, &volumes, &claims, request))
}

fn resume(args: &RepairArgs, run: &RunId) -> anyhow::Result<ExitCode> {
    let journal = open_journal(&args.journal)?;
    let settings = settings(args)?;
    let report = runtime()?.block_on(async {
        let cluster = connect(&args.cluster).await?;
        pvwarden_repair::resume(cluster.client(), &journal, run, &settings)
            .await
            .with_context(|| format!("cannot resume run {run}"))
    })?;
    print_report(args.output, &report)
}

fn settings(args: &RepairArgs) -> anyhow::Result<Settings> {
    let timeout = Duration::try_from(args.timeout)
        .ok()
        .filter(|t| !t.is_zero())
        .context("--timeout must be a positive duration")?;
    Ok(Settings {
        timeout,
        ..Settings::default()
    })
}

async fn connect(cluster: &ClusterArgs) -> anyhow::Result<Cluster> {
    Ok(Cluster::connect(&cluster.options()).await?)
}

pub(crate) fn open_journal(path: &JournalPath) -> anyhow::Result<SqliteJournal> {
    Ok(SqliteJournal::open(&journal_path(path)?)?)
}

fn journal_path(path: &JournalPath) -> anyhow::Result<std::path::PathBuf> {
    path.path
        .clone()
        .filter(|p| !p.as_os_str().is_empty())
        .or_else(pvwarden_journal::default_path)
        .context("no journal path: set --journal, XDG_STATE_HOME or HOME")
}

fn print_plan(
    format: RepairFormat,
    plan: &Plan,
    digest: &str,
    command: &str,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if format == RepairFormat::Json {
        let doc = json!({"digest": digest, "changes": plan.changes(), "plan": plan});
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
        return Ok(());
    }
    writeln!(out, "Plan {digest}: {} change(s)", plan.changes())?;
    for target in &plan.targets {
        let expect = &target.expect;
        writeln!(
            out,
            "\nPV {} (now: {}, finalizers [{}]{})",
            target.pv,
            expect.policy,
            expect.finalizers.join(", "),
            if expect.terminating {
                ", terminating"
            } else {
                ""
            }
        )?;
        for (i, step) in target.steps.iter().enumerate() {
            writeln!(out, "  {}. {}", i + 1, step.action.describe())?;
            writeln!(out, "     why: {}", step.why)?;
        }
        if let Some(id) = &target.orphans {
            writeln!(
                out,
                "  storage kept without a PV, journaled for clean-up: {id}"
            )?;
        }
    }
    if !plan.refused.is_empty() {
        writeln!(out, "\nNot done:")?;
        for refusal in &plan.refused {
            writeln!(out, "  {}: {}", refusal.subject, refusal.reason)?;
            writeln!(out, "    instead: {}", refusal.manual)?;
        }
    }
    if !plan.fine.is_empty() {
        writeln!(out, "\nNothing to fix: {}", plan.fine.join(", "))?;
    }
    if !plan.deferred.is_empty() {
        writeln!(
            out,
            "\nLeft for a later run (--max-changes): {}",
            plan.deferred.join(", ")
        )?;
    }
    if plan.is_empty() {
        writeln!(out, "\nNothing will be changed.")?;
    } else {
        writeln!(
            out,
            "\nDry run: nothing was changed. To carry out exactly this plan:\n  pvwarden {command} \
             --apply --confirm {digest}"
        )?;
    }
    Ok(())
}

fn print_report(format: RepairFormat, report: &Report) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    if format == RepairFormat::Json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else {
        writeln!(out, "Run {}: {}", report.run, report.state.as_str())?;
        for target in &report.targets {
            let mark = if target.ok { "ok" } else { "FAILED" };
            writeln!(out, "  PV {} {mark}", target.pv)?;
            for note in &target.notes {
                writeln!(out, "    {note}")?;
            }
        }
        writeln!(out, "Undo with: pvwarden undo {}", report.run)?;
    }
    Ok(if report.state == pvwarden_journal::RunState::Done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// `pvwarden journal ls|show`.
pub fn journal(args: &JournalArgs) -> anyhow::Result<ExitCode> {
    // Reading verbs never create the journal (nor its directory): a journal that
    // does not exist yet simply holds no runs.
    let path = journal_path(&args.journal)?;
    if !path.exists() {
        match &args.command {
            JournalCommand::Ls if args.output == RepairFormat::Json => println!("[]"),
            JournalCommand::Ls => {
                println!("no runs: the journal {} does not exist yet", path.display());
            }
            JournalCommand::Show { run } => bail!(
                "run {run} is not in the journal: the journal {} does not exist",
                path.display()
            ),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let journal = SqliteJournal::open(&path)?;
    let rt = runtime()?;
    let mut out = std::io::stdout().lock();
    match &args.command {
        JournalCommand::Ls => {
            let runs = rt.block_on(journal.runs())?;
            if args.output == RepairFormat::Json {
                serde_json::to_writer_pretty(&mut out, &runs)?;
                writeln!(out)?;
            } else {
                write_runs(&mut out, &runs)?;
            }
        }
        JournalCommand::Show { run } => {
            let id = RunId::parse(run);
            let Some((run, entries)) = rt.block_on(journal.run(&id))? else {
                bail!("run {id} is not in the journal (`pvwarden journal ls` lists runs)");
            };
            if args.output == RepairFormat::Json {
                serde_json::to_writer_pretty(&mut out, &json!({"run": run, "entries": entries}))?;
                writeln!(out)?;
            } else {
                write_run(&mut out, &run, &entries)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_runs(out: &mut impl Write, runs: &[Run]) -> std::io::Result<()> {
    let header = ("RUN", "STATE", "DIGEST", "OPERATOR");
    writeln!(
        out,
        "{:<21} {:<7} {:<12} {:<20} COMMAND",
        header.0, header.1, header.2, header.3
    )?;
    for run in runs {
        let state = run.state.as_str();
        let (id, digest, operator) = (&run.id, &run.digest, &run.operator);
        writeln!(
            out,
            "{id:<21} {state:<7} {digest:<12} {operator:<20} {}",
            run.command
        )?;
    }
    Ok(())
}

fn write_run(out: &mut impl Write, run: &Run, entries: &[Entry]) -> std::io::Result<()> {
    writeln!(out, "Run {} ({})", run.id, run.state.as_str())?;
    writeln!(out, "  started:  {}", run.started)?;
    writeln!(
        out,
        "  operator: {} (context {})",
        run.operator, run.context
    )?;
    writeln!(out, "  command:  {}", run.command)?;
    writeln!(out, "  digest:   {}", run.digest)?;
    for entry in entries {
        let version = entry.resource_version.as_deref().unwrap_or("-");
        writeln!(
            out,
            "  {:>3}. {:<8} {:<18} {} (resourceVersion {version})",
            entry.seq,
            entry.state.as_str(),
            entry.action,
            entry.target
        )?;
        if let Some(id) = &entry.backend_id {
            writeln!(out, "       storage left without a PV: {id}")?;
        }
        if let Some(error) = &entry.error {
            writeln!(out, "       error: {error}")?;
        }
    }
    Ok(())
}

/// `pvwarden undo RUN`.
pub fn undo(args: &UndoArgs) -> anyhow::Result<ExitCode> {
    let journal = open_journal(&args.journal)?;
    let id = RunId::parse(&args.run);
    let options = UndoOptions {
        recreate_deleted: args.recreate_deleted,
    };
    let report: UndoReport = runtime()?.block_on(async {
        let cluster = connect(&args.cluster).await?;
        let operator = Operator {
            name: cluster.user().to_owned(),
            context: cluster.context().to_owned(),
            command: command_line("undo"),
        };
        let settings = Settings::default();
        pvwarden_repair::undo(
            cluster.client(),
            &journal,
            &id,
            options,
            &operator,
            &settings,
        )
        .await
        .with_context(|| format!("cannot undo run {id}"))
    })?;
    let mut out = std::io::stdout().lock();
    if args.output == RepairFormat::Json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "Undo of run {} (run {}): {}",
            report.of,
            report.run,
            report.state.as_str()
        )?;
        for note in &report.notes {
            writeln!(out, "  {note}")?;
        }
    }
    Ok(if report.state == pvwarden_journal::RunState::Done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
