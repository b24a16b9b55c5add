//! Simulated cluster actors: the controllers and sidecars that delete volumes.
//!
//! They run as tokio tasks against the test API server, through kube-rs watches, and are an
//! implementation of the Kubernetes machinery independent of pvwarden's own model, so that a
//! case on which both agree is a real cross-check.
//!
//! ```text
//!             watches (cache) ─────────────► Snapshot
//!                                               │ each actor decides on it, writes via API
//!  kube-controller-manager   pv-controller      binds, releases, fails unreclaimable PVs
//!                            pv-protection      kubernetes.io/pv-protection
//!                            pvc-protection     kubernetes.io/pvc-protection
//!                            attach-detach      deletes VolumeAttachments no claim needs
//!  CSI sidecars              external-provisioner   its finalizer, DeleteVolume, events
//!                            external-attacher      detach, external-attacher/<driver>
//!  CSI drivers (csi)         ceph-csi CephFS/RBD, generic ── GET/PUT /pvwarden-test/backend
//! ```
//!
//! Every actor is a loop: take a [`Snapshot`](cache::Snapshot), decide the changes with a
//! pure function, apply them, sleep until a watch event, a retry or a resync. Sidecars run
//! for every driver the cluster's objects name, unless [`Config::stopped`] says otherwise.

pub mod attacher;
pub mod backend;
pub mod backoff;
pub mod cache;
pub mod csi;
pub mod event;
#[cfg(test)]
mod fixture;
pub mod protection;
pub mod provisioner;
pub mod pv_controller;
pub mod version;
pub mod write;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use kube::Client;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::Instrument;

pub use backoff::Retry;
pub use version::Version;

use backend::Backend;
use cache::{Cache, Snapshot};
use write::{apply_all, Change};

/// How often every actor looks at the whole cluster again without a watch event.
const RESYNC: Duration = Duration::from_secs(1);

/// Releases and behaviour of the simulated cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The kube-controller-manager release.
    pub kubernetes: Version,
    /// The external-provisioner release of every provisioner not in `provisioner_versions`.
    pub provisioner: Version,
    /// External-provisioner releases by provisioner name.
    pub provisioner_versions: BTreeMap<String, Version>,
    /// HonorPVReclaimPolicy, when set; otherwise the provisioner release's default.
    pub honor_reclaim_policy: Option<bool>,
    /// The ceph-csi release.
    pub ceph_csi: Version,
    /// Retry delays of failing `DeleteVolume` and detach calls.
    pub retry: Retry,
    /// Sidecars that do not run, e.g. an uninstalled driver's attacher.
    pub stopped: Vec<Sidecar>,
}

impl Default for Config {
    /// Current releases: Kubernetes 1.33, external-provisioner 6.2, ceph-csi 3.14.
    fn default() -> Self {
        Self {
            kubernetes: Version::new(1, 33, 0),
            provisioner: Version::new(6, 2, 0),
            provisioner_versions: BTreeMap::new(),
            honor_reclaim_policy: None,
            ceph_csi: Version::new(3, 14, 0),
            retry: Retry::default(),
            stopped: Vec::new(),
        }
    }
}

impl Config {
    /// Sets the Kubernetes release.
    #[must_use]
    pub fn kubernetes(mut self, version: Version) -> Self {
        self.kubernetes = version;
        self
    }

    /// Sets the external-provisioner release of every provisioner.
    #[must_use]
    pub fn provisioner(mut self, version: Version) -> Self {
        self.provisioner = version;
        self
    }

    /// Sets the external-provisioner release of one provisioner.
    #[must_use]
    pub fn provisioner_for(mut self, name: &str, version: Version) -> Self {
        self.provisioner_versions.insert(name.to_owned(), version);
        self
    }

    /// Sets the ceph-csi release.
    #[must_use]
    pub fn ceph_csi(mut self, version: Version) -> Self {
        self.ceph_csi = version;
        self
    }

    /// Stops one sidecar.
    #[must_use]
    pub fn stop(mut self, sidecar: Sidecar) -> Self {
        self.stopped.push(sidecar);
        self
    }
}

/// A sidecar of one driver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sidecar {
    /// The external-provisioner with this provisioner name.
    Provisioner(String),
    /// The external-attacher of this driver.
    Attacher(String),
}

/// Errors of starting the actors.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server URL is not a URI.
    #[error("invalid API server URL {url:?}")]
    Url {
        /// The URL given.
        url: String,
        /// The parse error.
        #[source]
        source: http::uri::InvalidUri,
    },
    /// The CA is not PEM.
    #[error("invalid CA certificate PEM")]
    Certificate(#[source] rustls::pki_types::pem::Error),
    /// The token cannot be sent in a header.
    #[error("invalid bearer token")]
    Token(#[source] http::header::InvalidHeaderValue),
    /// kube-rs could not build a client.
    #[error("failed to build the API client")]
    Client(#[source] kube::Error),
}

/// What every actor shares: the client, the backend, the configuration.
pub struct Shared {
    /// The API client.
    pub client: Client,
    /// The backend inventory endpoints.
    pub backend: Backend,
    /// The simulated releases.
    pub config: Config,
}

/// The running actors.
#[derive(Debug)]
pub struct Actors {
    tasks: Vec<JoinHandle<()>>,
}

impl Actors {
    /// Stops every actor and waits until their tasks are gone.
    pub async fn shutdown(self) {
        self.abort();
        for task in self.tasks {
            // Aborted tasks end with a cancellation error; nothing else is expected.
            let _ = task.await;
        }
    }

    /// Stops every actor without waiting, e.g. where no `.await` is possible.
    pub fn abort(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Starts every actor with the current releases.
///
/// Must be called inside a tokio runtime.
///
/// # Panics
///
/// When the URL, CA or token cannot make a client, which the test server's own values
/// always can; use [`try_spawn`] to get the error instead.
#[must_use]
pub fn spawn(url: impl AsRef<str>, ca_pem: impl AsRef<str>, token: impl AsRef<str>) -> Actors {
    try_spawn(
        url.as_ref(),
        ca_pem.as_ref(),
        token.as_ref(),
        Config::default(),
    )
    .expect("the test server's URL, CA and token must make an API client")
}

/// Starts every actor with the given releases.
///
/// # Errors
///
/// [`Error`] when no client can be made.
pub fn try_spawn(url: &str, ca_pem: &str, token: &str, config: Config) -> Result<Actors, Error> {
    let client = client(url, ca_pem, token)?;
    let (cache, mut tasks) = Cache::start(&client);
    let shared = Arc::new(Shared {
        backend: Backend::new(client.clone()),
        client,
        config,
    });

    let kubernetes = shared.config.kubernetes;
    let controller = Decide(move |snapshot: &Snapshot| pv_controller::decide(snapshot, kubernetes));
    tasks.extend([
        run(&cache, &shared, "pv-controller", controller),
        run(
            &cache,
            &shared,
            "pv-protection",
            Decide(protection::decide_volumes),
        ),
        run(
            &cache,
            &shared,
            "pvc-protection",
            Decide(protection::decide_claims),
        ),
        run(
            &cache,
            &shared,
            "attach-detach",
            Decide(attacher::unneeded_attachments),
        ),
        run(
            &cache,
            &shared,
            "external-provisioner",
            provisioner::Actor::default(),
        ),
        run(
            &cache,
            &shared,
            "external-attacher",
            attacher::Actor::default(),
        ),
    ]);
    tracing::info!(url, "cluster actors started");
    Ok(Actors { tasks })
}

/// Builds a kube-rs client of the test server.
///
/// # Errors
///
/// [`Error`] when the URL, the CA PEM or the token is unusable.
pub fn client(url: &str, ca_pem: &str, token: &str) -> Result<Client, Error> {
    let uri = url.parse().map_err(|source| Error::Url {
        url: url.to_owned(),
        source,
    })?;
    let roots = CertificateDer::pem_slice_iter(ca_pem.as_bytes())
        .map(|cert| cert.map(|der| der.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(Error::Certificate)?;
    let mut bearer =
        http::HeaderValue::from_str(&format!("Bearer {token}")).map_err(Error::Token)?;
    bearer.set_sensitive(true);

    let mut config = kube::Config::new(uri);
    config.root_cert = Some(roots);
    config.headers.push((http::header::AUTHORIZATION, bearer));
    Client::try_from(config).map_err(Error::Client)
}

/// One pass of an actor: decide on a snapshot, act, say when a retry is due.
trait Pass: Send + 'static {
    fn pass<'a>(
        &'a mut self,
        snapshot: &'a Snapshot,
        shared: &'a Shared,
    ) -> impl Future<Output = Option<Instant>> + Send + 'a;
}

/// An actor without state: a pure decision whose changes are applied.
struct Decide<F>(F);

impl<F> Pass for Decide<F>
where
    F: Fn(&Snapshot) -> Vec<Change> + Send + 'static,
{
    async fn pass(&mut self, snapshot: &Snapshot, shared: &Shared) -> Option<Instant> {
        let changes = (self.0)(snapshot);
        apply_all(&shared.client, &changes).await;
        None
    }
}

impl Pass for provisioner::Actor {
    fn pass<'a>(
        &'a mut self,
        snapshot: &'a Snapshot,
        shared: &'a Shared,
    ) -> impl Future<Output = Option<Instant>> + Send + 'a {
        provisioner::Actor::pass(self, snapshot, shared)
    }
}

impl Pass for attacher::Actor {
    fn pass<'a>(
        &'a mut self,
        snapshot: &'a Snapshot,
        shared: &'a Shared,
    ) -> impl Future<Output = Option<Instant>> + Send + 'a {
        attacher::Actor::pass(self, snapshot, shared)
    }
}

fn run<P: Pass>(
    cache: &Cache,
    shared: &Arc<Shared>,
    name: &'static str,
    mut actor: P,
) -> JoinHandle<()> {
    let cache = cache.clone();
    let shared = Arc::clone(shared);
    let work = async move {
        cache.ready().await;
        tracing::debug!("caches synced");
        let mut changed = cache.subscribe();
        loop {
            changed.borrow_and_update();
            let snapshot = cache.snapshot();
            tracing::trace!(
                volumes = snapshot.volumes.len(),
                claims = snapshot.claims.len(),
                attachments = snapshot.attachments.len(),
                "pass"
            );
            let retry = actor.pass(&snapshot, &shared).await;

            let resync = Instant::now() + RESYNC;
            let wake = retry.map_or(resync, |due| due.min(resync));
            tokio::select! {
                changed = changed.changed() => if changed.is_err() { return },
                () = tokio::time::sleep_until(wake) => {}
            }
        }
    };
    tokio::spawn(work.instrument(tracing::info_span!("actor", actor = name)))
}
