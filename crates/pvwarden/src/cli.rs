//! The command line: one subcommand per verb, with shared argument groups.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pvwarden_domain::rule::Severity;
use pvwarden_domain::version::Version;

mod ceph;
pub use self::ceph::*;
mod repair;
pub use self::repair::*;
mod generate;
pub use self::generate::*;

/// Predicts what deleting each Kubernetes volume will do, explains stuck ones,
/// and says how to get out safely.
#[derive(Debug, Parser)]
#[command(name = "pvwarden", version, about, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub logging: Logging,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Predicts, for every PV and claim of the cluster or the files, what deleting it will do.
    Audit(AuditArgs),
    /// Tells the step-by-step story of one PV or claim (`namespace/name`), with remedies.
    Explain(ExplainArgs),
    /// Writes the cluster objects the model uses as a YAML stream, for offline runs.
    Snapshot(SnapshotArgs),
    /// Prints the read-only ClusterRole (and a binding) that reading a cluster needs.
    Rbac(RbacArgs),
    /// Decodes ceph-csi volume handles as ceph-csi does; one JSON object per line.
    Decode(DecodeArgs),
    /// Lists the rules with their ids, severities and summaries.
    Rules,
    /// The Ceph storage behind ceph-csi volumes: audit, inventory, clean.
    Ceph(CephArgs),
    /// Plans the safe repair of stuck PVs and claims; `--apply --confirm DIGEST` carries it out.
    Fix(FixArgs),
    /// Deletes Released static PV objects, never their storage (`--released-static`).
    Prune(PruneArgs),
    /// Lists repair runs, or shows one.
    Journal(JournalArgs),
    /// Takes back what a repair run changed.
    Undo(UndoArgs),
    /// Writes a safe static share of a PV for another namespace, as a YAML stream.
    Share(ShareArgs),
    /// Says how to remove a share without touching its storage, as a shell script.
    Unshare(UnshareArgs),
    /// Writes a static PV and claim for an existing CephFS directory or RBD image.
    Static(StaticArgs),
    /// Runs a long-lived server in the cluster (see docs/controller.md).
    #[command(subcommand)]
    Serve(serve::ServeCommand),
    /// Prints a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Prints the man page (roff), or writes one page per subcommand into a directory.
    Man(ManArgs),
}

pub mod serve;

/// Arguments of `man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Writes pvwarden.1 and a pvwarden-<subcommand>.1 page per subcommand here instead.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Arguments of `completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Where the objects come from, and the assumptions about the cluster's software.
#[derive(Debug, Args)]
pub struct ModelArgs {
    /// Files or directories (recursive: .yaml, .yml, .json); `-` reads standard input; none
    /// reads the cluster of the kubeconfig context.
    #[arg(value_name = "PATH")]
    pub paths: Vec<PathBuf>,
    #[command(flatten)]
    pub cluster: ClusterArgs,
    #[command(flatten)]
    pub releases: Releases,
    /// The time the input is judged at (RFC 3339); default: now, or when a snapshot was taken.
    #[arg(long, value_name = "TIME")]
    pub now: Option<jiff::Timestamp>,
    /// How long a deletion may be pending before it counts as stuck (e.g. 1h, 30m).
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    pub stuck_after: jiff::SignedDuration,
}

/// The releases of the cluster's software, when the user knows better than the input.
#[derive(Debug, Clone, Default, Args)]
pub struct Releases {
    /// The Kubernetes release of kube-controller-manager (e.g. 1.30); default: the API
    /// server's, else the one a snapshot records.
    #[arg(long, value_name = "VERSION", env = "PVWARDEN_KUBE_VERSION")]
    pub kube_version: Option<Version>,
    /// The external-provisioner (csi-provisioner) release (e.g. 5.0.1).
    #[arg(long, value_name = "VERSION", env = "PVWARDEN_PROVISIONER_VERSION")]
    pub provisioner_version: Option<Version>,
    /// The provisioner's HonorPVReclaimPolicy feature gate (ignored from v6.2 on).
    #[arg(long, value_name = "BOOL")]
    pub honor_reclaim_policy: Option<bool>,
    /// The ceph-csi release (e.g. 3.12.0).
    #[arg(long, value_name = "VERSION", env = "PVWARDEN_CEPH_CSI_VERSION")]
    pub ceph_csi_version: Option<Version>,
}

impl Releases {
    /// The releases given, as the model's overrides.
    pub fn overrides(&self) -> pvwarden_domain::version::Overrides {
        pvwarden_domain::version::Overrides {
            kubernetes: self.kube_version,
            provisioner: self.provisioner_version,
            honor_reclaim_policy_gate: self.honor_reclaim_policy,
            ceph_csi: self.ceph_csi_version,
        }
    }
}

/// How to reach a cluster when no PATH is given.
#[derive(Debug, Clone, Default, Args)]
pub struct ClusterArgs {
    /// The kubeconfig file (several joined by `:` are merged); default: ~/.kube/config, else
    /// the in-cluster service account.
    #[arg(long, value_name = "FILE", env = "KUBECONFIG", value_parser = any_path)]
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to read; default: the current context.
    #[arg(long, value_name = "NAME", env = "PVWARDEN_CONTEXT")]
    pub context: Option<String>,
}

/// Any path, the empty one included: `KUBECONFIG=` is common and means "unset".
fn any_path(s: &str) -> Result<PathBuf, String> {
    Ok(PathBuf::from(s))
}

impl ClusterArgs {
    /// The connection options, with empty values taken as unset.
    pub fn options(&self) -> pvwarden_kube::Options {
        pvwarden_kube::Options {
            kubeconfig: self
                .kubeconfig
                .clone()
                .filter(|p| !p.as_os_str().is_empty()),
            context: self.context.clone().filter(|c| !c.is_empty()),
        }
    }
}

fn parse_duration(s: &str) -> Result<jiff::SignedDuration, String> {
    let (number, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = number
        .parse()
        .map_err(|_| format!("expected e.g. 30m, 1h or 2d, got {s:?}"))?;
    let scale = match unit {
        "s" => 1,
        "m" | "" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("expected a unit of s, m, h or d, got {s:?}")),
    };
    let secs = n
        .checked_mul(scale)
        .ok_or_else(|| format!("{s:?} is too long a duration"))?;
    Ok(jiff::SignedDuration::from_secs(secs))
}

/// The output formats of `audit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A kubectl-style table.
    Table,
    /// The table with more columns.
    Wide,
    /// The versioned JSON report (docs/json-output.md).
    Json,
    /// The same report as YAML.
    Yaml,
    /// SARIF 2.1.0, for code-scanning tools.
    Sarif,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// Only on a terminal, and not when NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Arguments of `audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub model: ModelArgs,
    /// The output format.
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Format,
    /// Exit 1 when a finding at or above this severity remains.
    #[arg(long, value_name = "SEVERITY", default_value = "warning", value_parser = parse_severity)]
    pub fail_on: Severity,
    /// Exits 0 even when findings remain (input errors still exit 2).
    #[arg(long)]
    pub exit_zero: bool,
    /// Silences a rule for this run (repeatable).
    #[arg(long, value_name = "RULE")]
    pub ignore: Vec<String>,
    /// Drops the findings recorded in this baseline file.
    #[arg(long, value_name = "FILE")]
    pub baseline: Option<PathBuf>,
    /// Records today's findings as a baseline file.
    #[arg(long, value_name = "FILE")]
    pub write_baseline: Option<PathBuf>,
    /// Includes each volume's step-by-step story in JSON and YAML output.
    #[arg(long)]
    pub story: bool,
    /// When to colour the table.
    #[arg(long, value_enum, default_value = "auto")]
    pub color: ColorChoice,
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::parse(s).ok_or_else(|| format!("expected info, warning or error, got {s:?}"))
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The PV name, or `namespace/name` of a claim.
    pub name: String,
    #[command(flatten)]
    pub model: ModelArgs,
    /// Prints the explanation as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// A Ceph inventory (`pvwarden ceph inventory`): the story follows what the storage
    /// holds instead of assuming every volume and journal entry exists.
    #[arg(long, value_name = "FILE")]
    pub ceph_inventory: Option<PathBuf>,
}

/// Arguments of `snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// Where to write the snapshot; `-` is standard output.
    #[arg(short, long, value_name = "FILE", default_value = "-")]
    pub output: PathBuf,
}

/// Arguments of `rbac`.
#[derive(Debug, Args)]
pub struct RbacArgs {
    /// The name of the ClusterRole and of its binding.
    #[arg(long, value_name = "NAME", default_value = "pvwarden-reader")]
    pub name: String,
    /// The service account to bind the role to.
    #[arg(
        long,
        value_name = "NAMESPACE/NAME",
        default_value = "pvwarden/pvwarden",
        value_parser = parse_subject
    )]
    pub service_account: pvwarden_kube::rbac::Subject,
}

fn parse_subject(s: &str) -> Result<pvwarden_kube::rbac::Subject, String> {
    match s.split_once('/') {
        Some((namespace, name)) if !namespace.is_empty() && !name.is_empty() => {
            Ok(pvwarden_kube::rbac::Subject {
                namespace: namespace.to_owned(),
                name: name.to_owned(),
            })
        }
        _ => Err(format!(
            "expected NAMESPACE/NAME, e.g. pvwarden/pvwarden, got {s:?}"
        )),
    }
}

/// Arguments of `decode`.
#[derive(Debug, Args)]
pub struct DecodeArgs {
    /// Handles to decode; none, or `-`, reads one per line from standard input.
    pub handles: Vec<String>,
}

/// Logging, which goes to standard error and is never the user interface.
#[derive(Debug, Args)]
pub struct Logging {
    /// The log filter (EnvFilter syntax), e.g. `debug` or `pvwarden_manifest=trace`.
    #[arg(
        long,
        global = true,
        value_name = "FILTER",
        env = "PVWARDEN_LOG",
        default_value = "warn"
    )]
    pub log_level: String,
    /// The log format.
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "text",
        env = "PVWARDEN_LOG_FORMAT"
    )]
    pub log_format: LogFormat,
}

/// The log formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

impl Logging {
    /// Installs the global subscriber.
    pub fn install(&self) {
        let filter = tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
        let builder = tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .with_writer(std::io::stderr);
        match self.log_format {
            LogFormat::Text => builder.init(),
            LogFormat::Json => builder.json().init(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units() {
        assert_eq!(
            parse_duration("90s"),
            Ok(jiff::SignedDuration::from_secs(90))
        );
        assert_eq!(
            parse_duration("2h"),
            Ok(jiff::SignedDuration::from_hours(2))
        );
        assert!(parse_duration("2w").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn audit_flags_parse() {
        let cli = Cli::try_parse_from([
            "pvwarden",
            "audit",
            "-o",
            "json",
            "--fail-on",
            "error",
            "--ignore",
            "pv-stuck",
            "--kube-version",
            "1.30",
            "a.yaml",
        ])
        .expect("flags must parse");
        let Command::Audit(args) = cli.command else {
            panic!("expected audit")
        };
        assert_eq!(args.output, Format::Json);
        assert_eq!(args.fail_on, Severity::Error);
        assert_eq!(
            args.model.releases.kube_version,
            Some(Version::new(1, 30, 0))
        );
        assert_eq!(args.model.paths, vec![PathBuf::from("a.yaml")]);
    }

    fn parse(args: &[&str]) -> Command {
        let argv = std::iter::once("pvwarden").chain(args.iter().copied());
        Cli::try_parse_from(argv).expect("flags must parse").command
    }

    #[test]
    fn audit_without_paths_reads_the_named_context() {
        let Command::Audit(args) = parse(&["audit", "--context", "prod", "--kubeconfig", "/k"])
        else {
            panic!("expected audit")
        };
        assert!(args.model.paths.is_empty());
        let options = args.model.cluster.options();
        assert_eq!(options.context.as_deref(), Some("prod"));
        assert_eq!(options.kubeconfig, Some(PathBuf::from("/k")));
    }

    #[test]
    fn dash_still_reads_standard_input() {
        let Command::Audit(args) = parse(&["audit", "-"]) else {
            panic!("expected audit")
        };
        assert_eq!(args.model.paths, vec![PathBuf::from("-")]);
    }

    #[test]
    fn explain_takes_a_name_and_cluster_flags() {
        let Command::Explain(args) = parse(&["explain", "pv-1", "--context", "dev"]) else {
            panic!("expected explain")
        };
        assert_eq!(args.name, "pv-1");
        assert!(args.model.paths.is_empty());
        assert_eq!(args.model.cluster.context.as_deref(), Some("dev"));
    }

    #[test]
    fn empty_cluster_flags_count_as_unset() {
        let cluster = ClusterArgs {
            kubeconfig: Some(PathBuf::new()),
            context: Some(String::new()),
        };
        assert_eq!(cluster.options(), pvwarden_kube::Options::default());
    }

    #[test]
    fn snapshot_writes_to_standard_output_unless_told() {
        let Command::Snapshot(args) = parse(&["snapshot"]) else {
            panic!("expected snapshot")
        };
        assert_eq!(args.output, PathBuf::from("-"));
        let Command::Snapshot(args) = parse(&["snapshot", "-o", "s.yaml", "--context", "c"]) else {
            panic!("expected snapshot")
        };
        assert_eq!(args.output, PathBuf::from("s.yaml"));
        assert_eq!(args.cluster.context.as_deref(), Some("c"));
    }

    #[test]
    fn rbac_service_account_is_namespace_and_name() {
        let Command::Rbac(args) = parse(&["rbac", "--service-account", "tools/audit"]) else {
            panic!("expected rbac")
        };
        assert_eq!(args.service_account.namespace, "tools");
        assert_eq!(args.service_account.name, "audit");
        assert_eq!(args.name, "pvwarden-reader");
        let bad = Cli::try_parse_from(["pvwarden", "rbac", "--service-account", "audit"]);
        assert!(bad.is_err());
    }
}
