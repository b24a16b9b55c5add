//! The subcommands.

use std::process::ExitCode;

use crate::cli::Command;

pub mod audit;
pub use self::audit as audit_summary;
mod decode;
mod explain;
mod generate;
mod rbac;
mod serve;
mod snapshot;

/// Runs one subcommand.
pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Audit(args) => audit::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Decode(args) => decode::run(&args),
        Command::Snapshot(args) => snapshot::run(&args),
        Command::Rbac(args) => rbac::run(&args),
        Command::Serve(command) => serve::run(command),
        Command::Completions(args) => generate::completions(args.shell),
        Command::Man(args) => generate::man(args.dir.as_deref()),
        Command::Rules => {
            use std::io::Write;
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<30} {:<8} SUMMARY", "RULE", "SEVERITY")?;
            for rule in pvwarden_domain::rule::RULES {
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
