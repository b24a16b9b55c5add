//! `pvwarden serve ...`: the long-lived servers.

use std::net::SocketAddr;

use super::{parse_duration, ClusterArgs, Releases};
use clap::{Args, Subcommand};

/// The servers.
#[derive(Debug, Subcommand)]
pub enum ServeCommand {
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
    /// This replica's name in the Lease and in Events; default: POD_NAME, else HOSTNAME.
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
    /// Repairs new findings of this rule automatically (repeatable; off by default). Refused
    /// while no repair engine is wired into the controller.
    #[arg(long, value_name = "RULE")]
    pub remediate: Vec<String>,
}
