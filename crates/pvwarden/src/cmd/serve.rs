//! `pvwarden serve`: the long-lived services, each run until the process is stopped.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use pvwarden_controller::{Config, LeaseConfig, RepairConfig, Repairer};

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
    // The flags are checked before the cluster is reached, so that a mistake in them is
    // the first thing reported.
    let mut config = config(args)?;
    runtime.block_on(async {
        let cluster = pvwarden_kube::Cluster::connect(&args.cluster.options()).await?;
        cluster.context().clone_into(&mut config.context);
        if !config.remediate.is_empty() {
            anyhow::ensure!(
                args.remediate_max_changes > 0,
                "--remediate-max-changes must be at least 1"
            );
            let repair = RepairConfig::new(&args.journal_namespace, args.remediate_max_changes);
            let repairer = Repairer::new(cluster.client().clone(), &config, repair);
            config.remediator = Some(Arc::new(repairer));
        }
        tracing::info!(
            listen = %config.listen,
            identity = %config.identity,
            leader_elect = config.lease.is_some(),
            remediate = ?config.remediate,
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

/// The identity of a replica that does not campaign for the Lease and was given none: it
/// only names the reporting instance of its Events, where one fixed name is enough.
const SINGLE_REPLICA: &str = "pvwarden-controller";

/// The controller's configuration from its flags; the cluster context is filled in once
/// connected.
fn config(args: &ControllerArgs) -> anyhow::Result<Config> {
    // Rule names first: they are wrong the same way wherever the controller runs.
    if let Some(unknown) = args.remediate.iter().find(|id| {
        !pvwarden_domain::rule::RULES
            .iter()
            .any(|r| r.id == id.as_str())
    }) {
        return Err(pvwarden_controller::Error::UnknownRule(unknown.clone()).into());
    }
    let hostname = std::env::var("HOSTNAME").ok();
    let identity = identity(args.identity.clone(), hostname, args.leader_elect)?;
    let mut config = Config::new(args.listen, "", &identity);
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

/// The replica's name: `--identity` (or POD_NAME), else HOSTNAME; only the Lease needs a
/// name unique among replicas, so without it a fixed one does.
fn identity(
    given: Option<String>,
    hostname: Option<String>,
    leader_elect: bool,
) -> anyhow::Result<String> {
    match given.or(hostname).filter(|id| !id.is_empty()) {
        Some(identity) => Ok(identity),
        None if leader_elect => anyhow::bail!(
            "--identity is needed with --leader-elect: neither POD_NAME nor HOSTNAME is set"
        ),
        None => Ok(SINGLE_REPLICA.to_owned()),
    }
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

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn controller(argv: &[&str]) -> ControllerArgs {
        let argv = ["pvwarden", "serve", "controller"].iter().chain(argv);
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Serve(ServeCommand::Controller(args))) => args,
            other => panic!("not serve controller: {other:?}"),
        }
    }

    #[test]
    fn unknown_remediate_rule_is_reported_before_any_identity() {
        let error = config(&controller(&["--remediate", "no-such-rule"])).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "--remediate no-such-rule: no such rule (see `pvwarden rules`)"
        );
    }

    #[test]
    fn only_the_lease_needs_an_identity() {
        assert_eq!(identity(None, None, false).expect("named"), SINGLE_REPLICA);
        assert_eq!(
            identity(None, Some(String::new()), false).expect("named"),
            SINGLE_REPLICA
        );
        let error = identity(None, None, true).expect_err("refused");
        assert!(error.to_string().contains("--leader-elect"), "{error}");
        assert_eq!(
            identity(None, Some("pod-1".into()), true).expect("named"),
            "pod-1"
        );
        assert_eq!(
            identity(Some("given".into()), Some("pod-1".into()), true).expect("named"),
            "given"
        );
    }
}
