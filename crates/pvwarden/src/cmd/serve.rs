//! `pvwarden serve`: the long-lived services, each run until the process is stopped.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use pvwarden_controller::{Config, LeaseConfig};

use crate::cli::serve::{ControllerArgs, ServeCommand, WebhookArgs};

/// How often the webhook's certificate files are checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Runs a service until the process is stopped.
pub fn run(command: ServeCommand) -> anyhow::Result<ExitCode> {
    match command {
        ServeCommand::Webhook(args) => webhook(args),
        ServeCommand::Controller(args) => controller(&args),
    }
}

fn webhook(args: WebhookArgs) -> anyhow::Result<ExitCode> {
    if let Err(error) = args.check() {
        error.exit();
    }
    let WebhookArgs {
        listen,
        tls_cert,
        tls_key,
        self_signed,
        patch_ca_bundle,
        config,
        cluster,
    } = args;
    let config = match &config {
        Some(path) => pvwarden_webhook::Config::load(path)?,
        None => pvwarden_webhook::Config::default(),
    };
    let certificate = match (tls_cert, tls_key) {
        (Some(cert), Some(key)) => pvwarden_webhook::Certificate::Files { cert, key },
        _ => pvwarden_webhook::Certificate::SelfSigned {
            names: self_signed,
            patch: patch_ca_bundle,
        },
    };
    let options = pvwarden_webhook::Options {
        listen,
        certificate,
        config,
        cluster: cluster.options(),
        reload_every: RELOAD_EVERY,
    };
    // Requests are answered on every core; the decision itself is short CPU work.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(pvwarden_webhook::run(options))?;
    Ok(ExitCode::SUCCESS)
}

fn controller(args: &ControllerArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let cluster = pvwarden_kube::Cluster::connect(&args.cluster.options()).await?;
        let config = config(args, cluster.context())?;
        tracing::info!(
            listen = %config.listen,
            identity = %config.identity,
            leader_elect = config.lease.is_some(),
            "controller starting"
        );
        let mut running = pvwarden_controller::start(cluster.client().clone(), config).await?;
        tokio::select! {
            signal = shutdown_signal() => signal?,
            () = running.wait() => anyhow::bail!("the controller stopped by itself"),
        }
        tracing::info!("controller stopping");
        running.shutdown().await;
        Ok(ExitCode::SUCCESS)
    })
}

fn config(args: &ControllerArgs, context: &str) -> anyhow::Result<Config> {
    let identity = args
        .identity
        .clone()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .filter(|id| !id.is_empty())
        .context("--identity is needed: neither POD_NAME nor HOSTNAME is set")?;
    let mut config = Config::new(args.listen, context, &identity);
    config.overrides = args.releases.overrides();
    config.stuck_after = args.stuck_after;
    config.resync = positive(args.resync, "--resync")?;
    config.debounce =
        Duration::try_from(args.debounce).context("--debounce must not be negative")?;
    config.remediate = args.remediate.iter().cloned().collect();
    if args.leader_elect {
        config.lease = Some(LeaseConfig::new(
            &args.lease_namespace,
            &args.lease_name,
            &identity,
        ));
    }
    Ok(config)
}

fn positive(duration: jiff::SignedDuration, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from(duration)
        .ok()
        .filter(|d| !d.is_zero())
        .with_context(|| format!("{flag} must be longer than zero"))
}

/// Waits for SIGTERM (how Kubernetes stops a pod) or Ctrl-C.
async fn shutdown_signal() -> anyhow::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).context("cannot watch for SIGTERM")?;
        tokio::select! {
            _ = term.recv() => Ok(()),
            result = tokio::signal::ctrl_c() => result.context("cannot watch for Ctrl-C"),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c()
            .await
            .context("cannot watch for Ctrl-C")
    }
}
