//! Arguments of the verbs that write volumes: `share`, `unshare` and `static`.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use pvwarden_generate::secret::SecretRef;

use super::{CephAccess, ClusterArgs};

/// Arguments of `share`.
#[derive(Debug, Args)]
pub struct ShareArgs {
    /// The PV whose storage is shared.
    pub pv: String,
    /// Files or directories holding the PV (and the cluster's other PVs and claims, so that
    /// no name or handle is reused); `-` reads standard input; none reads the cluster.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The namespace that gets a claim on the storage.
    #[arg(long, value_name = "NAMESPACE")]
    pub to_namespace: String,
    /// The claim's name; default: the name of the source's claim.
    #[arg(long, value_name = "NAME")]
    pub claim_name: Option<String>,
    /// The share PV's name; default: share-<namespace>-<claim>.
    #[arg(long, value_name = "NAME")]
    pub pv_name: Option<String>,
    /// Mounts the share read-only (ReadOnlyMany); required for RBD.
    #[arg(long)]
    pub read_only: bool,
    /// The secret nodes mount the share with; default: as Rook's recipe names it.
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_secret)]
    pub node_stage_secret: Option<SecretRef>,
    /// Creates the objects through the API instead of printing them (needs no PATH: the
    /// cluster is read and written); every change is journaled before it is made.
    #[arg(long)]
    pub apply: bool,
    /// The journal file of `--apply`; default: $XDG_STATE_HOME/pvwarden/journal.db, else
    /// ~/.local/state/pvwarden/journal.db.
    #[arg(long, value_name = "FILE", env = "PVWARDEN_JOURNAL")]
    pub journal: Option<PathBuf>,
    /// Ceph access: with it, a dynamic CephFS source's rootPath is the path Ceph reports
    /// for its subvolume, and a source whose subvolumePath disagrees is refused.
    #[command(flatten)]
    pub ceph: CephAccess,
}

/// Arguments of `unshare`.
#[derive(Debug, Args)]
pub struct UnshareArgs {
    /// The share PV, or `namespace/name` of its claim.
    pub name: String,
    /// Files or directories holding the share, its source and the PVs that use the same
    /// storage; `-` reads standard input; none reads the cluster.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Makes the changes through the API instead of printing them (needs no PATH); every
    /// change is journaled before it is made. The source's policy is left as it is.
    #[arg(long)]
    pub apply: bool,
    /// The journal file of `--apply` (default as for `share`).
    #[arg(long, value_name = "FILE", env = "PVWARDEN_JOURNAL")]
    pub journal: Option<PathBuf>,
}

/// Arguments of `static`.
#[derive(Debug, Args)]
pub struct StaticArgs {
    #[command(subcommand)]
    pub kind: StaticKind,
}

/// The kinds of existing storage `static` writes a PV for.
#[derive(Debug, Subcommand)]
pub enum StaticKind {
    /// A CephFS directory or subvolume.
    Cephfs(StaticCephfsArgs),
    /// An RBD image.
    Rbd(StaticRbdArgs),
}

/// What every static volume needs.
#[derive(Debug, Args)]
pub struct StaticCommon {
    /// The PV's name.
    #[arg(long = "name", value_name = "NAME")]
    pub pv_name: String,
    /// The namespace of the claim.
    #[arg(long, short = 'n', value_name = "NAMESPACE")]
    pub namespace: String,
    /// The claim's name; default: the PV's name.
    #[arg(long, value_name = "NAME")]
    pub claim_name: Option<String>,
    /// ceph-csi's clusterID (under Rook: the namespace of the CephCluster).
    #[arg(long, value_name = "ID")]
    pub cluster_id: String,
    /// The size, e.g. 10Gi.
    #[arg(long, value_name = "QUANTITY")]
    pub size: String,
    /// Mounts the volume read-only (ReadOnlyMany).
    #[arg(long)]
    pub read_only: bool,
    /// The secret nodes mount with; default for Rook's drivers: as Rook names it.
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_secret)]
    pub node_stage_secret: Option<SecretRef>,
    /// The storage class written on the PV and the claim; default: none ("").
    #[arg(long, value_name = "NAME")]
    pub storage_class: Option<String>,
}

/// Arguments of `static cephfs`.
#[derive(Debug, Args)]
pub struct StaticCephfsArgs {
    #[command(flatten)]
    pub common: StaticCommon,
    /// The CSI driver.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "rook-ceph.cephfs.csi.ceph.com"
    )]
    pub driver: String,
    /// The CephFS filesystem (fsName); default: ceph-csi's.
    #[arg(long, value_name = "NAME")]
    pub fs_name: Option<String>,
    /// The directory to mount, e.g. from `ceph fs subvolume getpath FS SUBVOLUME GROUP`.
    #[arg(long, value_name = "PATH")]
    pub root_path: String,
}

/// Arguments of `static rbd`.
#[derive(Debug, Args)]
pub struct StaticRbdArgs {
    #[command(flatten)]
    pub common: StaticCommon,
    /// The CSI driver.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "rook-ceph.rbd.csi.ceph.com"
    )]
    pub driver: String,
    /// The pool holding the image.
    #[arg(long, value_name = "POOL")]
    pub pool: String,
    /// The image; it becomes the volume handle, as ceph-csi requires for static RBD.
    #[arg(long, value_name = "IMAGE")]
    pub image: String,
    /// The RADOS namespace of the image.
    #[arg(long, value_name = "NAMESPACE")]
    pub rados_namespace: Option<String>,
    /// The image features the node maps it with.
    #[arg(long, value_name = "FEATURES", default_value = "layering")]
    pub image_features: String,
    /// The filesystem on the image.
    #[arg(long, value_name = "TYPE", default_value = "ext4")]
    pub fs_type: String,
    /// Exposes the image as a raw block device (volumeMode: Block).
    #[arg(long)]
    pub block: bool,
}

fn parse_secret(s: &str) -> Result<SecretRef, String> {
    match s.split_once('/') {
        Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => Ok(SecretRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        }),
        _ => Err(format!(
            "expected NAMESPACE/NAME, e.g. rook-ceph/rook-csi-cephfs-node-user, got {s:?}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Command {
        let argv = std::iter::once("pvwarden").chain(args.iter().copied());
        Cli::try_parse_from(argv).expect("flags must parse").command
    }

    #[test]
    fn share_takes_a_pv_paths_and_a_namespace() {
        let Command::Share(args) = parse(&[
            "share",
            "pv-1",
            "a.yaml",
            "--to-namespace",
            "team-b",
            "--node-stage-secret",
            "rook-ceph/user",
            "--read-only",
        ]) else {
            panic!("expected share")
        };
        assert_eq!(args.pv, "pv-1");
        assert_eq!(args.paths, vec![PathBuf::from("a.yaml")]);
        assert_eq!(args.to_namespace, "team-b");
        assert!(args.read_only);
        assert!(!args.apply);
        let secret = args.node_stage_secret.expect("a secret");
        assert_eq!(
            (secret.namespace.as_str(), secret.name.as_str()),
            ("rook-ceph", "user")
        );
        let missing = Cli::try_parse_from(["pvwarden", "share", "pv-1"]);
        assert!(missing.is_err(), "--to-namespace is required");
        let bad = Cli::try_parse_from([
            "pvwarden",
            "share",
            "pv",
            "--to-namespace",
            "b",
            "--node-stage-secret",
            "user",
        ]);
        assert!(bad.is_err());
    }

    #[test]
    fn share_apply_takes_a_journal_file() {
        let Command::Share(args) = parse(&[
            "share",
            "pv-1",
            "--to-namespace",
            "b",
            "--apply",
            "--journal",
            "/j.db",
        ]) else {
            panic!("expected share")
        };
        assert!(args.apply);
        assert_eq!(args.journal, Some(PathBuf::from("/j.db")));
        assert!(args.paths.is_empty());
    }

    #[test]
    fn static_rbd_has_rook_defaults() {
        let Command::Static(args) = parse(&[
            "static",
            "rbd",
            "--name",
            "db",
            "-n",
            "apps",
            "--cluster-id",
            "rook-ceph",
            "--size",
            "10Gi",
            "--pool",
            "replicapool",
            "--image",
            "db-data",
        ]) else {
            panic!("expected static")
        };
        let StaticKind::Rbd(rbd) = args.kind else {
            panic!("expected rbd")
        };
        assert_eq!(rbd.driver, "rook-ceph.rbd.csi.ceph.com");
        assert_eq!(rbd.image_features, "layering");
        assert_eq!(rbd.fs_type, "ext4");
        assert_eq!(rbd.common.namespace, "apps");
    }
}
