//! The `pvwarden` command: predicts what deleting a Kubernetes volume will do.
//!
//! `main` only parses the arguments, sets up logging and maps the outcome to
//! an exit code: 0 nothing at or above `--fail-on`, 1 findings, 2 usage or
//! input errors. A broken pipe counts as success.

use std::process::ExitCode;

use clap::Parser;

mod baseline;
mod cli;
mod cmd;
mod load;
mod output;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    cli.logging.install();
    match cmd::run(cli.command) {
        Ok(code) => code,
        Err(err) if is_broken_pipe(&err) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pvwarden: {err:#}");
            ExitCode::from(2)
        }
    }
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    // serde_json wraps the writer's error in its own type, so look there too.
    err.chain().any(|cause| {
        let io = cause.downcast_ref::<std::io::Error>().map(std::io::Error::kind);
        let json = cause.downcast_ref::<serde_json::Error>().and_then(serde_json::Error::io_error_kind);
        io.or(json) == Some(std::io::ErrorKind::BrokenPipe)
    })
}
