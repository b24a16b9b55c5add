//! `pvwarden serve`: the long-lived services.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{Serve, WebhookArgs};

/// How often the webhook's certificate files are checked for changes.
const RELOAD_EVERY: Duration = Duration::from_secs(5);

/// Runs a service until the process is stopped.
pub fn run(service: Serve) -> anyhow::Result<ExitCode> {
    match service {
        Serve::Webhook(args) => webhook(args),
    }
}

fn webhook(args: WebhookArgs) -> anyhow::Result<ExitCode> {
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
