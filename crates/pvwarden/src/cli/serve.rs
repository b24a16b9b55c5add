//! `pvwarden serve ...`: the long-lived servers.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::{parse_duration, ClusterArgs, Releases};
use clap::error::ErrorKind;
use clap::{Args, CommandFactory as _, Subcommand};

/// The servers.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
    /// Serves the admission webhook over HTTPS (see docs/webhook.md).
    Webhook(WebhookArgs),
    /// Watches the cluster's volumes, re-audits what changes, serves /metrics and writes
    /// Events about PVs with findings.
    Controller(ControllerArgs),
}

/// Arguments of `serve controller`.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Where /healthz, /readyz and /metrics are served.
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8080")]
    pub listen: SocketAddr,
    /// Campaigns for a Lease, so that only one of several replicas writes Events.
    #[arg(long)]
    pub leader_elect: bool,
    /// The Lease's namespace; default: the pod's (POD_NAMESPACE).
    #[arg(
        long,
        value_name = "NAMESPACE",
        env = "POD_NAMESPACE",
        default_value = "default"
    )]
    pub lease_namespace: String,
    /// The Lease's name.
    #[arg(long, value_name = "NAME", default_value = "pvwarden-controller")]
    pub lease_name: String,
    /// This replica's name in the Lease and in Events; default: POD_NAME, else HOSTNAME, else
    /// (only without --leader-elect) pvwarden-controller.
    #[arg(long, value_name = "NAME", env = "POD_NAME")]
    pub identity: Option<String>,
    #[command(flatten)]
    pub releases: Releases,
    /// How long a deletion may be pending before it counts as stuck (e.g. 1h, 30m).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub stuck_after: jiff::SignedDuration,
    /// The longest time between two audit passes, changes or not.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub resync: jiff::SignedDuration,
    /// How long after the first change of a burst an audit pass starts.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_duration)]
    pub debounce: jiff::SignedDuration,
    /// Repairs new findings of this rule automatically, as `pvwarden fix` would, journaled
    /// in ConfigMaps of --journal-namespace (repeatable; off by default).
    #[arg(long, value_name = "RULE")]
    pub remediate: Vec<String>,
    /// With --remediate: at most this many changes per audit pass; the rest wait.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub remediate_max_changes: usize,
    /// With --remediate: the namespace of the repair journal's ConfigMaps; default: the
    /// pod's (POD_NAMESPACE).
    #[arg(
        long,
        value_name = "NAMESPACE",
        env = "POD_NAMESPACE",
        default_value = "default"
    )]
    pub journal_namespace: String,
}

/// The admission webhook's flags.
#[derive(Debug, Args)]
pub struct WebhookArgs {
    /// The address to listen on.
    #[arg(
        long,
        value_name = "ADDR",
        default_value = "0.0.0.0:8443",
        env = "PVWARDEN_WEBHOOK_LISTEN"
    )]
    pub listen: SocketAddr,
    /// The serving certificate (PEM chain); reloaded when the file changes.
    #[arg(
        long,
        value_name = "FILE",
        env = "PVWARDEN_TLS_CERT",
        requires = "tls_key",
        required_unless_present = "self_signed"
    )]
    pub tls_cert: Option<PathBuf>,
    /// The serving key (PEM); reloaded when the file changes.
    #[arg(
        long,
        value_name = "FILE",
        env = "PVWARDEN_TLS_KEY",
        requires = "tls_cert"
    )]
    pub tls_key: Option<PathBuf>,
    /// Generates a CA and a certificate for these DNS names or IPs at start (comma-separated),
    /// instead of --tls-cert/--tls-key, and prints the CA bundle.
    #[arg(
        long,
        value_name = "NAME",
        value_delimiter = ',',
        conflicts_with_all = ["tls_cert", "tls_key"]
    )]
    pub self_signed: Vec<String>,
    /// With --self-signed: the Validating/MutatingWebhookConfiguration names whose caBundle
    /// is set to the generated CA (repeatable). See [`WebhookArgs::check`].
    #[arg(long, value_name = "NAME", requires = "self_signed")]
    pub patch_ca_bundle: Vec<String>,
    /// The YAML file with the action per rule (deny, mutate, warn, off) and the assumed
    /// releases; default: mutate static-delete-never-deletes, deny the other data-loss rules,
    /// warn for the rest.
    #[arg(long, value_name = "FILE", env = "PVWARDEN_WEBHOOK_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

impl WebhookArgs {
    /// Refuses the flag combinations the declarations above cannot.
    ///
    /// clap skips a `requires` whose target conflicts with a flag that is given, so
    /// `--patch-ca-bundle` with `--tls-cert` would pass its `requires = "self_signed"`.
    ///
    /// # Errors
    ///
    /// A clap usage error, reported as clap reports its own (exit status 2).
    pub fn check(&self) -> Result<(), clap::Error> {
        if !self.patch_ca_bundle.is_empty() && self.self_signed.is_empty() {
            let mut command = super::Cli::command();
            return Err(command.error(
                ErrorKind::MissingRequiredArgument,
                "--patch-ca-bundle needs --self-signed: only a generated CA is patched into \
                 the webhook configurations; with --tls-cert/--tls-key, set their caBundle \
                 yourself (or let cert-manager inject it)",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn webhook(argv: &[&str]) -> WebhookArgs {
        let argv = ["pvwarden", "serve", "webhook"].iter().chain(argv);
        match Cli::try_parse_from(argv).map(|cli| cli.command) {
            Ok(Command::Serve(ServeCommand::Webhook(args))) => args,
            other => panic!("not serve webhook: {other:?}"),
        }
    }

    #[test]
    fn patch_ca_bundle_needs_self_signed() {
        let args = webhook(&[
            "--patch-ca-bundle",
            "x",
            "--tls-cert",
            "a",
            "--tls-key",
            "b",
        ]);
        let error = args.check().expect_err("refused");
        assert_eq!(error.kind(), ErrorKind::MissingRequiredArgument);
        assert!(
            error
                .to_string()
                .contains("--patch-ca-bundle needs --self-signed"),
            "{error}"
        );

        let args = webhook(&["--patch-ca-bundle", "x", "--self-signed", "pvwarden.svc"]);
        assert!(args.check().is_ok());
        assert!(webhook(&["--tls-cert", "a", "--tls-key", "b"])
            .check()
            .is_ok());
    }
}
