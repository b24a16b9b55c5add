//! The arguments of `pvwarden ceph`: the storage behind ceph-csi volumes.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::{AuditArgs, ClusterArgs};

/// Arguments of `ceph`.
#[derive(Debug, Args)]
pub struct CephArgs {
    #[command(subcommand)]
    pub command: CephCommand,
}

/// The verbs of `ceph`.
#[derive(Debug, Subcommand)]
pub enum CephCommand {
    /// Joins the Ceph inventory with the PVs: every subvolume, image and journal entry, and
    /// every PV whose storage is missing; the audit's verdicts use what was found.
    Audit(CephAuditArgs),
    /// Reads the Ceph cluster and writes its inventory as JSON, for offline audits.
    Inventory(CephInventoryArgs),
    /// Removes stale subvolumes and images and their journal entries: a plan first, then
    /// `--apply --confirm DIGEST`, journaled.
    Clean(CephCleanArgs),
}

/// Where the Ceph inventory comes from.
#[derive(Debug, Clone, Default, Args)]
pub struct CephAccess {
    /// A JSON inventory written by `pvwarden ceph inventory`; without it, the cluster of
    /// --ceph-conf is read (needs a build with the `ceph` feature).
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<PathBuf>,
    /// The ceph.conf of the cluster to read (mon addresses).
    #[arg(long, value_name = "FILE", env = "CEPH_CONF")]
    pub ceph_conf: Option<PathBuf>,
    /// The keyring with the key of --id; default: the one ceph.conf names.
    #[arg(long, value_name = "FILE", env = "PVWARDEN_CEPH_KEYRING")]
    pub keyring: Option<PathBuf>,
    /// Reads the monitor addresses and the admin key from Rook's ConfigMap
    /// `rook-ceph-mon-endpoints` and Secret `rook-ceph-mon` in this namespace of the
    /// kubeconfig's cluster, instead of a ceph.conf (the key is never printed).
    #[arg(long, value_name = "NAMESPACE", conflicts_with = "ceph_conf")]
    pub rook_namespace: Option<String>,
    /// The cephx user, without `client.` (e.g. admin, csi-cephfs-provisioner).
    #[arg(
        long,
        value_name = "NAME",
        default_value = "admin",
        env = "PVWARDEN_CEPH_ID"
    )]
    pub id: String,
    /// The ceph-csi clusterID that names this Ceph cluster (repeatable); default: every PV's
    /// clusterID is taken to name it.
    #[arg(long, value_name = "ID")]
    pub cluster_id: Vec<String>,
    /// ceph-csi's instance id, whose journal `csi.volumes.<instance>` is read (repeatable).
    #[arg(long, value_name = "NAME", default_value = "default")]
    pub journal_instance: Vec<String>,
    /// How many calls the live read keeps in flight where Ceph has no bulk answer.
    #[arg(long, value_name = "N", default_value_t = 16)]
    pub concurrency: usize,
}

/// Arguments of `ceph audit`.
#[derive(Debug, Args)]
pub struct CephAuditArgs {
    #[command(flatten)]
    pub audit: AuditArgs,
    #[command(flatten)]
    pub access: CephAccess,
}

/// Arguments of `ceph inventory`.
#[derive(Debug, Args)]
pub struct CephInventoryArgs {
    #[command(flatten)]
    pub access: CephAccess,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Where to write the inventory; `-` is standard output.
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
}

/// Arguments of `ceph clean`.
#[derive(Debug, Args)]
pub struct CephCleanArgs {
    /// Files or directories with the PVs (as for `audit`); none reads the cluster of the
    /// kubeconfig context. Every PV must be in the input: a PV left out makes its storage
    /// look stale.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub access: CephAccess,
    /// Carries out the plan whose digest --confirm repeats (reads the cluster afresh; needs
    /// --ceph-conf, not --inventory).
    #[arg(long, requires = "confirm")]
    pub apply: bool,
    /// The digest the plan printed.
    #[arg(long, value_name = "DIGEST")]
    pub confirm: Option<String>,
    #[command(flatten)]
    pub journal: super::JournalPath,
    /// Removes RBD images for good instead of moving them to the RBD trash.
    #[arg(long)]
    pub purge: bool,
    /// Also removes stale objects that have snapshots, with their snapshots.
    #[arg(long)]
    pub with_snapshots: bool,
    /// Prints the plan as JSON.
    #[arg(long)]
    pub json: bool,
}
