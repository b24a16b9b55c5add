//! The arguments of the repair verbs: `fix`, `prune`, `journal`, `undo`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use pvwarden_domain::version::Version;

use super::{parse_duration, ClusterArgs, ModelArgs, Releases};

/// The cluster to repair, and the assumptions its plan is made with.
#[derive(Debug, Args)]
pub struct RepairArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// The Kubernetes release of kube-controller-manager; default: the API server's.
    #[arg(long, value_name = "VERSION", env = "PVWARDEN_KUBE_VERSION")]
    pub kube_version: Option<Version>,
    /// The external-provisioner (csi-provisioner) release (e.g. 5.0.1).
    #[arg(long, value_name = "VERSION", env = "PVWARDEN_PROVISIONER_VERSION")]
    pub provisioner_version: Option<Version>,
    /// The ceph-csi release (e.g. 3.12.0).
    #[arg(long, value_name = "VERSION", env = "PVWARDEN_CEPH_CSI_VERSION")]
    pub ceph_csi_version: Option<Version>,
    /// How long a deletion may be pending before it counts as stuck (e.g. 1h, 30m).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub stuck_after: jiff::SignedDuration,
    /// Carries out the plan; needs --confirm with the digest the dry run printed.
    #[arg(long)]
    pub apply: bool,
    /// The digest of the plan being confirmed.
    #[arg(long, value_name = "DIGEST", requires = "apply")]
    pub confirm: Option<String>,
    /// How long to wait for a PV to go once it is let go (e.g. 90s, 2m).
    #[arg(long, value_name = "DURATION", default_value = "2m", value_parser = parse_duration)]
    pub timeout: jiff::SignedDuration,
    /// At most this many changes in one run; the rest waits for a later run.
    #[arg(long, value_name = "N")]
    pub max_changes: Option<usize>,
    #[command(flatten)]
    pub journal: JournalPath,
    /// The output format.
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: RepairFormat,
}

impl RepairArgs {
    /// The model's input: the cluster, never files.
    pub fn model(&self) -> ModelArgs {
        ModelArgs {
            paths: Vec::new(),
            cluster: self.cluster.clone(),
            releases: Releases {
                kube_version: self.kube_version,
                provisioner_version: self.provisioner_version,
                honor_reclaim_policy: None,
                ceph_csi_version: self.ceph_csi_version,
            },
            now: None,
            stuck_after: self.stuck_after,
        }
    }
}

/// Where the journal is.
#[derive(Debug, Clone, Args)]
pub struct JournalPath {
    /// The journal file; default: $XDG_STATE_HOME/pvwarden/journal.db
    /// (~/.local/state/pvwarden/journal.db).
    #[arg(
        long = "journal",
        value_name = "PATH",
        env = "PVWARDEN_JOURNAL",
        global = true
    )]
    pub path: Option<PathBuf>,
}

/// The output formats of the repair verbs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RepairFormat {
    /// Text for people.
    Text,
    /// One JSON document.
    Json,
}

/// Arguments of `fix`.
#[derive(Debug, Args)]
pub struct FixArgs {
    /// PVs by name, and claims as namespace/name.
    #[arg(value_name = "PV")]
    pub names: Vec<String>,
    /// Every stuck PV and claim as well.
    #[arg(long)]
    pub all_stuck: bool,
    /// Allows repairing this dynamic PV although its storage may hold data; the storage is
    /// kept and its id journaled (repeatable).
    #[arg(long, value_name = "PV")]
    pub orphan_backend: Vec<String>,
    /// Releases VolumeAttachments whose node no longer exists.
    #[arg(long)]
    pub detach_stale: bool,
    /// Clears the stale claim uid of a Released PV so that a new claim of that name binds.
    #[arg(long)]
    pub rebind: bool,
    /// Resumes a run that was killed half way, from the journal.
    #[arg(long, value_name = "RUN", conflicts_with_all = ["names", "all_stuck"])]
    pub resume: Option<String>,
    #[command(flatten)]
    pub repair: RepairArgs,
}

/// Arguments of `prune`.
#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Deletes Released static PV objects (Retain first; their storage is never touched).
    #[arg(long, required = true)]
    pub released_static: bool,
    /// Only these PVs; default: every Released static PV.
    #[arg(value_name = "PV")]
    pub names: Vec<String>,
    #[command(flatten)]
    pub repair: RepairArgs,
}

/// Arguments of `journal`.
#[derive(Debug, Args)]
pub struct JournalArgs {
    #[command(subcommand)]
    pub command: JournalCommand,
    #[command(flatten)]
    pub journal: JournalPath,
    /// The output format.
    #[arg(short, long, value_enum, default_value = "text", global = true)]
    pub output: RepairFormat,
}

/// What to read from the journal.
#[derive(Debug, Subcommand)]
pub enum JournalCommand {
    /// Lists the runs, oldest first.
    Ls,
    /// Shows one run and each of its changes.
    Show {
        /// The run id.
        run: String,
    },
}

/// Arguments of `undo`.
#[derive(Debug, Args)]
pub struct UndoArgs {
    /// The run to take back.
    pub run: String,
    /// Re-creates PV objects the run deleted, from the journal (with Retain).
    #[arg(long)]
    pub recreate_deleted: bool,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub journal: JournalPath,
    /// The output format.
    #[arg(short, long, value_enum, default_value = "text")]
    pub output: RepairFormat,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        let argv = std::iter::once("pvwarden").chain(args.iter().copied());
        Cli::try_parse_from(argv).map(|cli| cli.command)
    }

    #[test]
    fn fix_takes_names_and_repeatable_orphans() {
        let Ok(Command::Fix(args)) = parse(&[
            "fix",
            "pv-a",
            "pv-b",
            "--orphan-backend",
            "pv-a",
            "--orphan-backend",
            "pv-b",
            "--max-changes",
            "3",
            "--timeout",
            "90s",
            "--journal",
            "/j.db",
        ]) else {
            panic!("expected fix")
        };
        assert_eq!(args.names, ["pv-a", "pv-b"]);
        assert_eq!(args.orphan_backend, ["pv-a", "pv-b"]);
        assert_eq!(args.repair.max_changes, Some(3));
        assert_eq!(args.repair.timeout, jiff::SignedDuration::from_secs(90));
        assert_eq!(args.repair.journal.path, Some(PathBuf::from("/j.db")));
        assert!(!args.repair.apply);
    }

    #[test]
    fn confirm_needs_apply_and_resume_excludes_names() {
        assert!(parse(&["fix", "pv-a", "--confirm", "abc"]).is_err());
        assert!(parse(&["fix", "pv-a", "--apply", "--confirm", "abc"]).is_ok());
        assert!(parse(&["fix", "pv-a", "--resume", "r-1"]).is_err());
        assert!(parse(&["fix", "--resume", "r-1"]).is_ok());
    }

    #[test]
    fn prune_requires_released_static() {
        assert!(parse(&["prune"]).is_err());
        let Ok(Command::Prune(args)) = parse(&["prune", "--released-static", "pv-a"]) else {
            panic!("expected prune")
        };
        assert_eq!(args.names, ["pv-a"]);
    }

    #[test]
    fn journal_and_undo_take_the_journal_anywhere() {
        let Ok(Command::Journal(args)) = parse(&["journal", "show", "r-1", "--journal", "/j"])
        else {
            panic!("expected journal")
        };
        assert!(matches!(args.command, JournalCommand::Show { ref run } if run == "r-1"));
        assert_eq!(args.journal.path, Some(PathBuf::from("/j")));
        let Ok(Command::Undo(args)) = parse(&["undo", "r-1", "--recreate-deleted"]) else {
            panic!("expected undo")
        };
        assert!(args.recreate_deleted);
    }
}
