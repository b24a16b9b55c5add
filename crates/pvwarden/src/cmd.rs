//! The subcommands.

use std::process::ExitCode;

use crate::cli::Command;

pub mod audit;
pub use self::audit as audit_summary;
mod ceph;
mod decode;
mod explain;
mod generate;
mod rbac;
pub(crate) mod repair;
mod serve;
mod share;
mod snapshot;
mod static_volume;

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Audit(args) => audit::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Decode(args) => decode::run(&args),
        Command::Snapshot(args) => snapshot::run(&args),
        Command::Rbac(args) => rbac::run(&args),
        Command::Ceph(args) => ceph::run(args),
        Command::Fix(args) => repair::fix(&args),
        Command::Prune(args) => repair::prune(&args),
        Command::Journal(args) => repair::journal(&args),
        Command::Undo(args) => repair::undo(&args),
        Command::Share(args) => share::run(&args),
        Command::Unshare(args) => share::unshare(&args),
        Command::Static(args) => static_volume::run(&args),
        Command::Serve(service) => serve::run(service),
        Command::Completions(args) => generate::completions(args.shell),
        Command::Man(args) => generate::man(args.dir.as_deref()),
        Command::Rules => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<30} {:<8} SUMMARY", "RULE", "SEVERITY")?;
            let rules = pvwarden_domain::rule::RULES.iter();
            for rule in rules.chain(pvwarden_ceph::report::RULES) {
                writeln!(
                    out,
                    "{:<30} {:<8} {}",
                    rule.id,
                    rule.severity.as_str(),
                    rule.summary
                )?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
