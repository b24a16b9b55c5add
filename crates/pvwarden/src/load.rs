//! Reading the input into an inventory, and the assumptions it implies.
//!
//! The input is either the files named on the command line (`-` for standard
//! input) or, when none is named, the cluster of the kubeconfig context. A
//! snapshot file written by `pvwarden snapshot` is read like any manifest;
//! its header also gives the server's version and the time it was taken, so
//! that an offline run judges it as the live run did.

use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};

use anyhow::Context;
use pvwarden_domain::evidence::Settings;
use pvwarden_domain::inventory::{Inventory, Prepared};
use pvwarden_domain::object::{Located, Object};
use pvwarden_domain::version::{Assumptions, Version};
use pvwarden_kube::snapshot::Header;
use pvwarden_kube::{Cluster, ReadReport};
use pvwarden_manifest::{Reader, Summary};
use serde::Serialize;

use crate::cli::{ClusterArgs, ModelArgs};

/// The input, read.
pub struct Loaded {
    /// The facts.
    pub inventory: Inventory,
    /// The assumptions, after the input and the flags.
    pub assumptions: Assumptions,
    /// How evidence is weighed.
    pub settings: Settings,
    /// What was read.
    pub report: InputReport,
}

/// What was read, for the report.
#[derive(Debug, Default, Serialize)]
pub struct InputReport {
    /// Documents read.
    pub documents: u64,
    /// Objects the model used.
    pub objects: u64,
    /// Objects skipped, by kind.
    pub skipped: BTreeMap<String, u64>,
    /// Errors, each naming the file, line, object and field where known.
    pub errors: Vec<String>,
    /// Warnings: input that was read, but may not say what was meant (an empty
    /// file, an object that replaces an earlier one of the same name).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What reading the cluster found, when the input was a cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterInput>,
}

/// What reading a cluster found.
#[derive(Debug, Default, Serialize)]
pub struct ClusterInput {
    /// The kubeconfig context, or `in-cluster`.
    pub context: String,
    /// The API server's `gitVersion`, when it could be read.
    pub server: Option<String>,
    /// Parts left out for want of a permission, each naming it.
    pub degraded: Vec<String>,
    /// API requests sent.
    pub requests: u64,
}

/// What the input says about itself, beyond its objects.
#[derive(Debug, Default)]
struct Source {
    report: InputReport,
    /// The server's release, from the cluster or a snapshot header.
    server: Option<Version>,
    /// When a snapshot was taken.
    taken: Option<jiff::Timestamp>,
}

/// Reads the named paths, or the cluster when none is named.
pub fn load(args: &ModelArgs) -> anyhow::Result<Loaded> {
    let mut inventory = Inventory::new();
    let mut errors = Vec::new();
    let mut add = |located: Located<Object>| {
        if let Err(err) = inventory.add(located) {
            tracing::debug!(error = %err, "object rejected");
            errors.push(chain(&err));
        }
    };
    let mut source = if args.paths.is_empty() {
        read_cluster(&args.cluster, &mut add)?
    } else {
        read_files(&args.paths, &mut inventory, &mut errors)
    };
    source.report.errors.extend(errors);
    source
        .report
        .warnings
        .extend(inventory.replaced().iter().cloned());

    let assumptions = assumptions(args, &inventory, source.server);
    let now = args
        .now
        .or(source.taken)
        .unwrap_or_else(jiff::Timestamp::now);
    let settings = Settings {
        now,
        stuck_after: args.stuck_after,
    };
    Ok(Loaded {
        inventory,
        assumptions,
        settings,
        report: source.report,
    })
}

/// Reads the named paths, or the cluster when none is named, handing every
/// object to `sink` whole (not as facts), for the verbs that write objects.
///
/// Returns the input errors, each naming the file, line, object and field, and
/// the warnings (for a cluster: the kinds left out for want of a permission).
pub fn objects(
    paths: &[PathBuf],
    cluster: &ClusterArgs,
    sink: &mut dyn FnMut(Located<Object>),
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    if paths.is_empty() {
        let read = runtime()?.block_on(read_cluster_into(cluster, sink))?;
        let warnings = read.degraded.iter().map(|d| format!("partial read: {d}"));
        return Ok((read.errors.clone(), warnings.collect()));
    }
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    Reader::new().read_paths(paths, &mut |item| match item {
        Ok(located) => sink(located),
        Err(err @ pvwarden_manifest::Error::Empty { .. }) => warnings.push(err.to_string()),
        Err(err) => errors.push(chain(&err)),
    });
    Ok((errors, warnings))
}

/// A runtime for the cluster client, on this thread only.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

/// Connects to the cluster of the flags and reads it into `sink`.
async fn read_cluster_into(
    cluster: &ClusterArgs,
    sink: &mut dyn FnMut(Located<Object>),
) -> anyhow::Result<ReadReport> {
    let cluster = Cluster::connect(&cluster.options()).await?;
    let progress = pvwarden_kube::progress::stderr();
    cluster
        .read(sink, &*progress)
        .await
        .with_context(|| format!("cannot read the cluster of context {}", cluster.context()))
}

fn read_cluster(
    cluster: &ClusterArgs,
    sink: &mut dyn FnMut(Located<Object>),
) -> anyhow::Result<Source> {
    let read = runtime()?.block_on(read_cluster_into(cluster, sink))?;
    let server = read.server.as_ref().and_then(|s| s.version);
    let report = InputReport {
        documents: 0,
        objects: read.objects.values().sum(),
        skipped: read
            .dropped
            .iter()
            .map(|(kind, n)| ((*kind).to_owned(), *n))
            .collect(),
        errors: read.errors.clone(),
        // A part left out for want of a permission is said where users look.
        warnings: read
            .degraded
            .iter()
            .map(|d| format!("partial read: {d}"))
            .collect(),
        cluster: Some(ClusterInput {
            context: read.context.clone(),
            server: read.server.as_ref().map(|s| s.git_version.clone()),
            degraded: read.degraded.iter().map(ToString::to_string).collect(),
            requests: read.requests,
        }),
    };
    Ok(Source {
        report,
        server,
        taken: None,
    })
}

/// Reads manifest files into the inventory.
///
/// The reader decodes objects and `Inventory::prepare` reads their facts on
/// every core; the results are inserted in input order.
fn read_files(paths: &[PathBuf], inventory: &mut Inventory, rejected: &mut Vec<String>) -> Source {
    let reader = Reader::new();
    let mut summary = Summary::default();
    let mut errors = Vec::new();
    let mut warnings = Vec::new();
    let mut headers = Vec::new();
    #[allow(
        clippy::result_large_err,
        reason = "the error is the reader's, passed on as it is"
    )]
    let prepare = |item: Result<Located<Object>, pvwarden_manifest::Error>| {
        item.map(|located| Inventory::prepare(located).map_err(|err| chain(&err)))
    };
    let mut forward = |item: Result<Result<Prepared, String>, pvwarden_manifest::Error>| {
        match item {
            Ok(Ok(prepared)) => inventory.insert(prepared),
            Ok(Err(rejection)) => {
                tracing::debug!(error = %rejection, "object rejected");
                rejected.push(rejection);
            }
            // An empty file (an empty rendered template, say) holds nothing to
            // audit, and nothing wrong either.
            Err(err @ pvwarden_manifest::Error::Empty { .. }) => warnings.push(err.to_string()),
            Err(err) => {
                tracing::debug!(error = %err, "input error");
                errors.push(chain(&err));
            }
        }
    };
    for path in paths {
        if path.as_os_str() == "-" {
            let (header, stdin) = peek_header(std::io::stdin().lock());
            headers.extend(header);
            summary.merge(reader.read_bytes_map("-", stdin, &prepare, &mut forward));
        } else {
            headers.extend(file_header(path));
            let path = std::slice::from_ref(path);
            summary.merge(reader.read_paths_map(path, &prepare, &mut forward));
        }
    }
    // A snapshot's header is a document of pvwarden's own kind, not an
    // object the reader skipped.
    for _ in &headers {
        summary.documents = summary.documents.saturating_sub(1);
        if let Some(n) = summary.skipped.get_mut(SNAPSHOT_KIND) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                summary.skipped.remove(SNAPSHOT_KIND);
            }
        }
    }
    // Several snapshots: the oldest server and the latest time, the
    // cautious reading of a mixed input.
    let server = headers
        .iter()
        .filter_map(|h| h.server.as_ref()?.version)
        .min();
    let taken = headers.iter().map(|h| h.taken).max();
    Source {
        report: InputReport {
            documents: summary.documents,
            objects: summary.objects,
            skipped: summary.skipped,
            errors,
            warnings,
            cluster: None,
        },
        server,
        taken,
    }
}

/// The kind of a snapshot's header document.
const SNAPSHOT_KIND: &str = "Snapshot";

/// How much of a file is looked at for a snapshot header.
const HEADER_BYTES: u64 = 4096;

/// The snapshot header of a regular file, if it has one.
fn file_header(path: &Path) -> Option<Header> {
    let mut file = std::fs::File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut start = Vec::new();
    file.by_ref()
        .take(HEADER_BYTES)
        .read_to_end(&mut start)
        .ok()?;
    file.rewind().ok()?;
    Header::parse(&String::from_utf8_lossy(&start))
}

/// Reads the start of a stream for a snapshot header, and gives the whole stream back.
fn peek_header<R: Read>(mut input: R) -> (Option<Header>, impl Read) {
    let mut start = Vec::new();
    // A read error here shows again, and is reported, when the rest is read.
    let _ = input.by_ref().take(HEADER_BYTES).read_to_end(&mut start);
    let header = Header::parse(&String::from_utf8_lossy(&start));
    (header, std::io::Cursor::new(start).chain(input))
}

/// An error with its causes, `outer: inner: innermost`.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn assumptions(args: &ModelArgs, inventory: &Inventory, server: Option<Version>) -> Assumptions {
    Assumptions::from_components(inventory.components()).resolve(server, &args.releases.overrides())
}

/// The resident memory of this process in KiB, for debug logs (Linux only; 0 elsewhere).
pub fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}
