//! The `pvwarden` command: predicts what deleting a Kubernetes volume will do.
//!
//! `main` only parses the arguments, sets up logging and maps the outcome to
//! an exit code: 0 nothing at or above `--fail-on`, 1 findings, 2 usage or
//! input errors. A broken pipe counts as success.

use std::process::ExitCode;

use clap::Parser;

// The audit allocates and frees many small strings per volume; mimalloc does
// that several times faster than the system allocator, and returns memory to
// the system more eagerly.
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
            eprintln!("pvwarden: {}", render(&err));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, `outer: inner`, leaving out a cause whose text
/// is already there (kube's errors print their cause in their own message).
fn render(err: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in err.chain() {
        let cause = cause.to_string();
        if text.contains(&cause) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause);
    }
    text
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    // serde_json wraps the writer's error in its own type, so look there too.
    err.chain().any(|cause| {
        let io = cause
            .downcast_ref::<std::io::Error>()
            .map(std::io::Error::kind);
        let json = cause
            .downcast_ref::<serde_json::Error>()
            .and_then(serde_json::Error::io_error_kind);
        io.or(json) == Some(std::io::ErrorKind::BrokenPipe)
    })
}
