//! `pvwarden-apiserver`: the test Kubernetes API server as a program.
//!
//! Prints the URL, serves until SIGINT or SIGTERM. See the library docs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Parser;
use pvwarden_testkit::actor::{
    self,
    backend::{Backend, Inventory},
};
use pvwarden_testkit::server::{Config, Server, TokenSpec};

/// A test Kubernetes API server on 127.0.0.1, in memory, over HTTPS.
#[derive(Debug, Parser)]
#[command(name = "pvwarden-apiserver", version)]
struct Args {
    /// The port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 0, env = "PVWARDEN_APISERVER_PORT")]
    port: u16,
    /// Write a kubeconfig for the admin token to this file.
    #[arg(long, value_name = "PATH")]
    kubeconfig_out: Option<PathBuf>,
    /// Preload manifests (files or directories), keeping status and deletion state.
    #[arg(long, value_name = "PATH", num_args = 1..)]
    load: Vec<PathBuf>,
    /// A JSON file with extra tokens: [{"token", "user", "rules": [{"verbs",
    /// "apiGroups", "resources"}]}].
    #[arg(long, value_name = "FILE")]
    tokens: Option<PathBuf>,
    /// Start the cluster actors (CSI provisioner, attacher, driver).
    #[arg(long)]
    actors: bool,
    /// Seed the storage backend inventory (`/pvwarden-test/backend`) from this JSON file,
    /// the document `PUT /pvwarden-test/backend` takes (testdata/backend/*.json).
    #[arg(long, value_name = "FILE")]
    backend: Option<PathBuf>,
    /// Log filter, in tracing's EnvFilter syntax.
    #[arg(long, default_value = "info", env = "PVWARDEN_LOG")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => return fail(&error),
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => fail(error.as_ref()),
    }
}

async fn run(args: Args) -> Result<(), Box<dyn std::error::Error>> {
    let Args {
        port,
        kubeconfig_out,
        load,
        tokens,
        actors,
        backend,
        log_level: _,
    } = args;
    // Read before the server starts, so a bad file stops it with nothing served.
    let seed = match &backend {
        Some(path) => Some(read_backend(path)?),
        None => None,
    };
    let tokens: Vec<TokenSpec> = match tokens {
        Some(path) => serde_json::from_slice(&std::fs::read(&path)?)?,
        None => Vec::new(),
    };
    let config = Config {
        port,
        load,
        tokens,
        actors,
        ..Config::default()
    };
    let running = Server::start(config).await?;
    if let Some(seed) = seed {
        let client = actor::client(&running.url, &running.ca_pem, &running.admin_token)?;
        Backend::new(client)
            .update(|inventory| *inventory = seed)
            .await?;
    }
    if let Some(path) = &kubeconfig_out {
        running.write_kubeconfig(path)?;
    }
    println!("{}", running.url);
    wait_for_signal().await?;
    running.shutdown().await;
    Ok(())
}

/// The backend inventory in `path`, or an error naming the file.
fn read_backend(path: &Path) -> Result<Inventory, String> {
    let text = std::fs::read(path)
        .map_err(|error| format!("--backend {}: cannot read: {error}", path.display()))?;
    serde_json::from_slice(&text).map_err(|error| {
        format!(
            "--backend {}: not a backend inventory ({{\"volumes\": [...], \"pools\": [...]}}): \
             {error}",
            path.display()
        )
    })
}

async fn wait_for_signal() -> std::io::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = term.recv() => Ok(()),
    }
}

/// Prints an error and its causes on stderr, once.
fn fail(error: &dyn std::error::Error) -> ExitCode {
    let mut message = format!("pvwarden-apiserver: {error}");
    let mut source = error.source();
    while let Some(cause) = source {
        message.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{message}");
    ExitCode::FAILURE
}
