//! `pvwarden-synth`: writes a synthetic cluster to stdout.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, ValueEnum};
use pvwarden_synth::{Config, Format, Layout};

/// Writes a synthetic cluster of PersistentVolumes, claims, classes and drivers.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// How many PersistentVolumes to write.
    #[arg(long)]
    pvs: u64,
    /// The output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Yaml)]
    format: FormatArg,
    /// One `kind: List`, or a stream of objects.
    #[arg(long, value_enum, default_value_t = LayoutArg::List)]
    layout: LayoutArg,
    /// The seed; the same seed gives the same output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum FormatArg {
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LayoutArg {
    List,
    Stream,
}

fn main() -> ExitCode {
    let Args {
        pvs,
        format,
        layout,
        seed,
    } = Args::parse();
    let config = Config {
        pvs,
        format: match format {
            FormatArg::Yaml => Format::Yaml,
            FormatArg::Json => Format::Json,
        },
        layout: match layout {
            LayoutArg::List => Layout::List,
            LayoutArg::Stream => Layout::Stream,
        },
        seed,
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match pvwarden_synth::write(&config, &mut out).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`| head`) is not a failure.
        Err(err) if err.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("pvwarden-synth: {err}");
            ExitCode::from(2)
        }
    }
}
