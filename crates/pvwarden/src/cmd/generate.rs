//! `pvwarden completions SHELL` and `pvwarden man`: generated from the CLI's definition.
//!
//! Both read the same clap definition that parses the arguments, so they
//! cannot fall behind it; `packaging/release.sh` runs them for the release
//! archive.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::Cli;

/// Prints the completion script for `shell`.
pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<ExitCode> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "pvwarden", &mut out);
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the top-level man page, or writes every page into `dir`.
pub fn man(dir: Option<&Path>) -> anyhow::Result<ExitCode> {
    let command = Cli::command();
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(command).render(&mut out)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
