//! The controller behind `pvwarden serve controller`: watches, re-audits, reports.
//!
//! ```text
//!   watches (PVs, claims, classes, CSI drivers, attachments, nodes, pods,
//!            events, CSI workloads) ─▶ Mirror ──changed──▶ audit pass ─┬─▶ /metrics
//!                                                     (every `resync`) ├─▶ Events (leader)
//!   Lease ─▶ leader? ───────────────────────────────────────────────────┴─▶ Remediator
//! ```
//!
//! Every replica watches the cluster and audits it, so a standby is warm and
//! its metrics are current; only the replica holding the Lease writes
//! Events. A pass runs `debounce` after the first change of a burst (later
//! changes of the burst join it), and every `resync` even without one,
//! because whether a PV is stuck also depends on how long it has been waiting.
//!
//! A pass judges the whole cluster with the same model as `pvwarden audit`
//! ([`pvwarden_domain::audit::Auditor`]), not only the objects that changed:
//! a change to one PV can change the verdicts of every PV sharing its
//! storage, and the model's cross-object indexes are built per inventory. The
//! cost is a full pass per burst of changes (see BENCHMARKS.md for the
//! figures at 10,000 and 100,000 PVs).
//!
//! Auto-remediation is off by default. With rules enabled, the leader hands
//! the PVs with a new finding of those rules to a [`Remediator`] once per
//! pass; [`Repairer`] is the one that ships, planning and applying with the
//! repair engine exactly as `pvwarden fix` does (see [`remedy`]).

#![warn(missing_docs)]

mod events;
mod http;
mod lease;
mod metrics;
mod mirror;
mod pass;
pub mod remedy;

use std::collections::BTreeSet;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use futures::{FutureExt, Stream};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    Event as CoreEvent, Node, PersistentVolume, PersistentVolumeClaim, Pod,
};
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass, VolumeAttachment};
use kube::core::PartialObjectMeta;
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use pvwarden_domain::object::Object;
use pvwarden_domain::version::Overrides;
use pvwarden_kube::trim;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

pub use crate::events::{reason_of_rule, REPORTING_CONTROLLER};
pub use crate::lease::LeaseConfig;
pub use crate::remedy::{RepairConfig, Repairer};

use crate::http::Health;
use crate::metrics::Metrics;
use crate::mirror::Mirror;
use crate::pass::{Judge, StuckSince};

/// How the controller runs.
#[derive(Clone)]
pub struct Config {
    /// Where `/healthz`, `/readyz` and `/metrics` are served.
    pub listen: SocketAddr,
    /// The cluster's name in objects' origins (the kubeconfig context, or `in-cluster`).
    pub context: String,
    /// This replica's identity in Events and the Lease (its pod name).
    pub identity: String,
    /// Releases given by the operator, over what the cluster says.
    pub overrides: Overrides,
    /// How long a deletion may be pending before it counts as stuck.
    pub stuck_after: jiff::SignedDuration,
    /// How long after the first change of a burst a pass starts.
    pub debounce: Duration,
    /// The longest time between two passes, changes or not.
    pub resync: Duration,
    /// The Lease to campaign for; `None`: a single replica that always leads.
    pub lease: Option<LeaseConfig>,
    /// Rules whose new findings are handed to `remediator` (none by default).
    pub remediate: BTreeSet<String>,
    /// What repairs a finding; `None`: nothing is repaired.
    pub remediator: Option<Arc<dyn Remediator>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("context", &self.context)
            .field("identity", &self.identity)
            .field("stuck_after", &self.stuck_after)
            .field("debounce", &self.debounce)
            .field("resync", &self.resync)
            .field("lease", &self.lease)
            .field("remediate", &self.remediate)
            .field("remediator", &self.remediator.is_some())
            .finish_non_exhaustive()
    }
}

impl Config {
    /// A single-replica configuration with the usual timings.
    pub fn new(listen: SocketAddr, context: &str, identity: &str) -> Config {
        Config {
            listen,
            context: context.into(),
            identity: identity.into(),
            overrides: Overrides::default(),
            stuck_after: jiff::SignedDuration::from_hours(1),
            debounce: Duration::from_secs(1),
            resync: Duration::from_secs(60),
            lease: None,
            remediate: BTreeSet::new(),
            remediator: None,
        }
    }
}

/// A finding of an enabled rule, handed to a [`Remediator`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted {
    /// The PV's name.
    pub volume: String,
    /// The rule id.
    pub rule: &'static str,
}

/// What a [`Remediator`] did with one pass's findings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Remedied {
    /// PVs left for a later pass (the pass's budget of changes was spent).
    pub deferred: Vec<String>,
}

/// A future returned by a [`Remediator`].
pub type RemedyFuture<'a> = Pin<Box<dyn Future<Output = Result<Remedied, String>> + Send + 'a>>;

/// What the controller hands new findings of the enabled rules to.
///
/// It is called by the leader only, once per pass that has any, with the
/// findings that appeared in that pass (not those still firing from earlier
/// ones) and those deferred by the previous call that still fire. An
/// implementation is expected to journal, lease and re-check as the repair
/// engine does; the controller only reports its error. A finding whose repair
/// failed is not handed over again while it keeps firing: repeating a failing
/// change on every pass would only hammer the API server.
pub trait Remediator: Send + Sync {
    /// Repairs the PVs of `wanted`, at most one pass's budget of changes.
    fn remediate<'a>(&'a self, wanted: &'a [Wanted]) -> RemedyFuture<'a>;
}

/// What can stop the controller from starting.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}")]
    Listen {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Rules are enabled for remediation but nothing can repair them.
    #[error("auto-remediation of {rules} is asked for, but no remediator is configured")]
    NoRemediator {
        /// The rules asked for, comma-separated.
        rules: String,
    },
    /// A rule id enabled for remediation is not a rule.
    #[error("--remediate {0}: no such rule (see `pvwarden rules`)")]
    UnknownRule(String),
}

/// A started controller.
#[derive(Debug)]
pub struct Running {
    /// The address the endpoints are served on (the port chosen, when 0 was asked).
    pub addr: SocketAddr,
    /// Whether this replica leads.
    pub leader: watch::Receiver<bool>,
    /// The number of audit passes completed.
    pub passes: watch::Receiver<u64>,
    stop: watch::Sender<bool>,
    lease: Option<tokio::task::JoinHandle<()>>,
    tasks: JoinSet<()>,
}

impl Running {
    /// Stops the controller; the Lease, if held, is released first.
    pub async fn shutdown(mut self) {
        self.stop.send_replace(true);
        if let Some(lease) = self.lease.take() {
            // The election loop releases the Lease and returns.
            let _ = lease.await;
        }
        self.tasks.shutdown().await;
    }

    /// Waits until one of the controller's tasks ends by itself (none does, short of a panic).
    pub async fn wait(&mut self) {
        if let Some(Err(err)) = self.tasks.join_next().await {
            tracing::error!(error = %err, "a controller task failed");
        }
    }
}

/// Starts the controller on `client`: watches, audit loop, endpoints, election.
///
/// # Errors
///
/// Returns an [`Error`] when the listen address cannot be bound or the
/// remediation settings cannot be honoured.
pub async fn start(client: Client, config: Config) -> Result<Running, Error> {
    check_remediation(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|source| Error::Listen {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| Error::Listen {
        addr: config.listen,
        source,
    })?;
    let metrics = Arc::new(Metrics::new());
    let health = Arc::new(Health {
        metrics: metrics.clone(),
        ready: false.into(),
    });
    let (stop, stopped) = watch::channel(false);
    let mut tasks = JoinSet::new();
    tasks.spawn(http::serve(listener, health.clone(), stopped.clone()));

    let mut mirror = Mirror::new(&config.context);
    watch_all(&client, &mut mirror, &metrics, &mut tasks);
    let mirror = Arc::new(mirror);

    let (leader_tx, leader) = watch::channel(config.lease.is_none());
    metrics.set_leader(config.lease.is_none());
    let lease = config.lease.clone().map(|lease| {
        tokio::spawn(lease::elect(
            client.clone(),
            lease,
            leader_tx,
            stopped.clone(),
            metrics.clone(),
        ))
    });

    let server = pvwarden_kube::Cluster::from_client(client.clone(), config.context.clone());
    let server = match server.version().await {
        Ok(version) => version.version,
        Err(err) => {
            tracing::warn!(error = %err, "server release unknown; the default is assumed");
            None
        }
    };
    let (passes_tx, passes) = watch::channel(0);
    let looper = Loop {
        judge: Judge {
            server,
            overrides: config.overrides,
            stuck_after: config.stuck_after,
        },
        publisher: events::Publisher::new(client, &config.identity),
        config,
        mirror,
        metrics,
        health,
        leader: leader.clone(),
        passes: passes_tx,
        pending: BTreeSet::new(),
    };
    tasks.spawn(looper.run(stopped));
    Ok(Running {
        addr,
        leader,
        passes,
        stop,
        lease,
        tasks,
    })
}

fn check_remediation(config: &Config) -> Result<(), Error> {
    if let Some(unknown) = config.remediate.iter().find(|id| {
        !pvwarden_domain::rule::RULES
            .iter()
            .any(|r| r.id == id.as_str())
    }) {
        return Err(Error::UnknownRule(unknown.clone()));
    }
    if !config.remediate.is_empty() && config.remediator.is_none() {
        let rules = config
            .remediate
            .iter()
            .cloned()
            .collect::<Vec<_>>()
            .join(",");
        return Err(Error::NoRemediator { rules });
    }
    Ok(())
}

/// Starts one watch per kind the model reads, in the order a one-off read lists them.
fn watch_all(
    client: &Client,
    mirror: &mut Mirror,
    metrics: &Arc<Metrics>,
    tasks: &mut JoinSet<()>,
) {
    let mut feed = Feeds {
        mirror,
        metrics,
        tasks,
    };
    feed.add(
        "PersistentVolume",
        all::<PersistentVolume>(client, None),
        trim::pv,
    );
    let claims = all::<PersistentVolumeClaim>(client, None);
    feed.add("PersistentVolumeClaim", claims, trim::claim);
    feed.add(
        "StorageClass",
        all::<StorageClass>(client, None),
        trim::class,
    );
    feed.add(
        "CSIDriver",
        all::<CSIDriver>(client, None),
        trim::csi_driver,
    );
    let attachments = all::<VolumeAttachment>(client, None);
    feed.add("VolumeAttachment", attachments, trim::attachment);
    // Nodes are read for their names only: their metadata is enough.
    feed.add(
        "Node",
        all::<PartialObjectMeta<Node>>(client, None),
        trim::node,
    );
    feed.add("Pod", all::<Pod>(client, None), trim::pod);
    for fields in pvwarden_kube::EVENT_SELECTORS {
        feed.add("Event", all::<CoreEvent>(client, Some(fields)), trim::event);
    }
    feed.add(
        "Deployment",
        all::<Deployment>(client, None),
        trim::deployment,
    );
    feed.add(
        "StatefulSet",
        all::<StatefulSet>(client, None),
        trim::stateful_set,
    );
    feed.add(
        "DaemonSet",
        all::<DaemonSet>(client, None),
        trim::daemon_set,
    );
}

/// A watch over every object of a kind, narrowed by a field selector, retrying with backoff.
fn all<K>(
    client: &Client,
    fields: Option<&str>,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static,
{
    let mut config = watcher::Config::default();
    if let Some(fields) = fields {
        config = config.fields(fields);
    }
    watcher(Api::<K>::all(client.clone()), config).default_backoff()
}

/// Where [`watch_all`] puts its watches.
struct Feeds<'a> {
    mirror: &'a mut Mirror,
    metrics: &'a Arc<Metrics>,
    tasks: &'a mut JoinSet<()>,
}

impl Feeds<'_> {
    fn add<K, S>(&mut self, kind: &'static str, stream: S, trim: fn(K) -> Option<Object>)
    where
        K: kube::Resource + Clone + Debug + Send + 'static,
        S: Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + 'static,
    {
        let slot = self.mirror.slot(kind);
        let changed = self.mirror.changed();
        let origin = self.mirror.origin().clone();
        let feed = mirror::feed(stream, trim, origin, slot, changed, self.metrics.clone());
        self.tasks.spawn(feed);
    }
}

/// The audit loop.
struct Loop {
    config: Config,
    judge: Judge,
    mirror: Arc<Mirror>,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
    publisher: events::Publisher,
    leader: watch::Receiver<bool>,
    passes: watch::Sender<u64>,
    /// Findings deferred by the remediator, handed over again while they fire.
    pending: BTreeSet<Wanted>,
}

impl Loop {
    async fn run(mut self, mut stop: watch::Receiver<bool>) {
        let changed = self.mirror.changed();
        let mut since = StuckSince::default();
        let mut seeded = false;
        loop {
            tokio::select! {
                () = changed.notified() => {}
                () = tokio::time::sleep(self.config.resync) => {}
                _ = stop.changed() => return,
            }
            // Let a burst of changes settle into one pass: what changes during the
            // wait is in the objects this pass reads, so its signal is taken too.
            tokio::time::sleep(self.config.debounce).await;
            let _ = changed.notified().now_or_never();
            if !self.mirror.synced() {
                continue;
            }
            let mirror = self.mirror.clone();
            let judge = self.judge.clone();
            let now = jiff::Timestamp::now();
            let joined = tokio::task::spawn_blocking(move || {
                let pass = pass::run(&mirror, &judge, now, &mut since);
                (pass, since)
            })
            .await;
            let pass = match joined {
                Ok((pass, kept)) => {
                    since = kept;
                    pass
                }
                Err(err) => {
                    tracing::error!(error = %err, "audit pass failed");
                    self.metrics.error("audit", "PersistentVolume");
                    since = StuckSince::default();
                    continue;
                }
            };
            self.metrics.record(&pass, &self.mirror.sizes());
            self.health.ready.store(true, Ordering::Release);
            tracing::info!(
                volumes = pass.volumes.len(),
                seconds = pass.seconds,
                "audit pass done"
            );

            let leading = *self.leader.borrow();
            if leading && !seeded {
                match self.publisher.seed().await {
                    Ok(found) => {
                        tracing::info!(events = found, "earlier events read");
                        seeded = true;
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "cannot read earlier events; not writing");
                        self.metrics.error("events", "Event");
                    }
                }
            }
            if leading && seeded {
                let new = self.publisher.publish(&pass.volumes, &self.metrics).await;
                self.remediate(&new, &pass.volumes).await;
            }
            seeded &= leading;
            self.passes.send_modify(|n| *n += 1);
        }
    }

    /// Hands new findings of the enabled rules, and those deferred that still
    /// fire, to the remediator.
    async fn remediate(&mut self, new: &[(String, &'static str)], volumes: &[pass::Volume]) {
        let Some(remediator) = &self.config.remediator else {
            return;
        };
        let firing = |wanted: &Wanted| {
            volumes.iter().any(|v| {
                v.name == wanted.volume && v.findings.iter().any(|f| f.rule == wanted.rule)
            })
        };
        let mut wanted: BTreeSet<Wanted> = std::mem::take(&mut self.pending)
            .into_iter()
            .filter(firing)
            .collect();
        wanted.extend(
            new.iter()
                .filter(|(_, rule)| self.config.remediate.contains(*rule))
                .map(|(volume, rule)| Wanted {
                    volume: volume.clone(),
                    rule,
                }),
        );
        if wanted.is_empty() {
            return;
        }
        let wanted: Vec<Wanted> = wanted.into_iter().collect();
        tracing::info!(volumes = wanted.len(), "remediating");
        match remediator.remediate(&wanted).await {
            Ok(done) => {
                self.pending = wanted
                    .into_iter()
                    .filter(|w| done.deferred.contains(&w.volume))
                    .collect();
            }
            Err(err) => {
                tracing::warn!(error = %err, "remediation failed");
                self.metrics.error("remediation", "PersistentVolume");
            }
        }
    }
}
