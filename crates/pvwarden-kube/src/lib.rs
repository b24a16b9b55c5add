//! Reads the objects pvwarden's model uses from a live Kubernetes API server.
//!
//! A [`Cluster`] is a connection made from a kubeconfig context or from the
//! pod's service account. [`Cluster::read`] lists every kind the model uses,
//! one page of [`PAGE_SIZE`] objects at a time, and hands each object to a
//! sink as a [`Located`] [`Object`], exactly as `pvwarden-manifest` does for
//! files, so the same [`Inventory`](pvwarden_domain::inventory::Inventory)
//! and auditor serve both:
//!
//! ```text
//!   kubeconfig / in-cluster ─▶ Cluster ─▶ /version, discovery
//!                                 │
//!                                 └─ LIST (limit, continue) per kind ─▶ trim ─▶ sink
//!                                      403 / 404 on optional kinds ─▶ ReadReport.degraded
//! ```
//!
//! # What is read, and what is kept
//!
//! The kinds and verbs are in [`rbac::RULES`], which is also what
//! `pvwarden rbac` prints. Objects are trimmed before the sink sees
//! them: `managedFields` and `last-applied-configuration` are dropped, pods
//! keep only their claim use, workloads only their CSI containers (image,
//! command and arguments; never `env`), nodes only their metadata. Secrets
//! are never read. What the sink gets is therefore also what a
//! [`snapshot`] holds.
//!
//! # Degrading
//!
//! Only PersistentVolumes are required. A `403 Forbidden` (or a `404` for a
//! kind the server does not serve) on any other kind is logged as a warning,
//! recorded in [`ReadReport::degraded`] with the missing permission, and the
//! read goes on without that kind; the model then treats it as unknown, not
//! as empty.

#![warn(missing_docs)]

mod connect;
mod error;
pub mod progress;
pub mod rbac;
mod read;
mod report;
pub mod snapshot;

use std::path::PathBuf;

use pvwarden_domain::object::{Located, Object};
use tokio::sync::OnceCell;

pub use crate::error::Error;
pub use crate::progress::Progress;
pub use crate::read::trim;
pub use crate::report::{Degraded, Permission, ReadReport, Reason, ServerVersion};

/// A result whose error is this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The field selectors under which events about PVs and about claims are read.
///
/// A watch over the same events (a controller's) uses the same two, so that
/// it sees exactly what a read sees.
pub const EVENT_SELECTORS: [&str; 2] = [
    "involvedObject.kind=PersistentVolume",
    "involvedObject.kind=PersistentVolumeClaim",
];

/// The number of objects asked for in each LIST request.
pub const PAGE_SIZE: u32 = 500;

/// How a [`Cluster`] is reached.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// A kubeconfig file, or several joined as in `KUBECONFIG`; default:
    /// `KUBECONFIG`, else `~/.kube/config`, else the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context to use instead of the current one.
    pub context: Option<String>,
}

/// A connection to one Kubernetes API server.
#[derive(Clone)]
pub struct Cluster {
    client: kube::Client,
    context: String,
    user: String,
    page_size: u32,
    version: OnceCell<ServerVersion>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.context)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to the cluster of a kubeconfig context, or to the one this pod runs in.
    ///
    /// Nothing is sent to the server yet; an unreachable server shows up in
    /// the first request of [`Cluster::read`].
    ///
    /// # Errors
    ///
    /// Returns an [`Error`] naming the kubeconfig file or context that could
    /// not be loaded, or saying that there was none and no service account.
    pub async fn connect(options: &Options) -> Result<Cluster> {
        let (config, context, user) = connect::config(options).await?;
        let client = kube::Client::try_from(config).map_err(Error::Client)?;
        let mut cluster = Cluster::from_client(client, context);
        cluster.user = user;
        Ok(cluster)
    }

    /// Wraps a client that was built elsewhere (tests, a controller).
    ///
    /// `context` names the cluster in every object's origin (`cluster:<context>`).
    pub fn from_client(client: kube::Client, context: impl Into<String>) -> Cluster {
        Cluster {
            client,
            context: context.into(),
            user: "unknown user".to_owned(),
            page_size: PAGE_SIZE,
            version: OnceCell::new(),
        }
    }

    /// Sets how many objects each LIST request asks for ([`PAGE_SIZE`]).
    #[must_use]
    pub fn page_size(mut self, objects: u32) -> Cluster {
        self.page_size = objects.max(1);
        self
    }

    /// The API client, for front ends that watch (a controller) or write (repairs).
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// The name of the kubeconfig context, or `in-cluster`.
    pub fn context(&self) -> &str {
        &self.context
    }

    /// The user of the kubeconfig context (its name, never a credential), or
    /// the service account's namespace in a pod; what journals record as the operator.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The API server's version (`GET /version`), asked once and remembered.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Status`] when the server answers with an error, and
    /// [`Error::Version`] when the request fails otherwise.
    pub async fn version(&self) -> Result<&ServerVersion> {
        self.version
            .get_or_try_init(|| async {
                let info = self.client.apiserver_version().await;
                info.map(ServerVersion::from)
                    .map_err(|e| Error::from_kube(|| "get /version".into(), e, Error::Version))
            })
            .await
    }

    /// Reads every object the model uses, page by page, into `sink`.
    ///
    /// `progress` hears how many objects of each kind have been read so far.
    /// No list is ever held whole: each page is trimmed and handed over before
    /// the next one is asked for. A list whose `continue` token expires
    /// (`410 Gone`) starts again from the beginning, a few times at most, and
    /// objects the sink already had are not handed over twice.
    ///
    /// # Errors
    ///
    /// Returns an [`Error`] when PersistentVolumes cannot be listed, or when
    /// any list fails for a reason other than a missing permission or kind
    /// (see [`ReadReport::degraded`] for those).
    pub async fn read(
        &self,
        sink: &mut dyn FnMut(Located<Object>),
        progress: &dyn Progress,
    ) -> Result<ReadReport> {
        read::read(self, sink, progress).await
    }
}
