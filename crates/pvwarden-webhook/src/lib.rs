//! An admission webhook that refuses, or corrects, PersistentVolumes whose
//! deletion would go wrong, with the same model and rules as `pvwarden audit`.
//!
//! ```text
//!  API server ──HTTPS──▶ server (hyper, rustls; cert reloaded from files)
//!                           │ /mutate, /validate
//!                        review: AdmissionReview v1 ─▶ decide ─▶ Decision
//!                                                        │  verdict of the PV among
//!                                                        │  the PVs on its storage
//!                                                      view ◀── watch (PVs, classes)
//! ```
//!
//! - [`config`]: the action per rule (`deny`, `mutate`, `warn`, `off`).
//! - [`view`]: every PV, indexed by the backend keys `audit` uses.
//! - [`decide`]: the decision for a PV write, or a PV or claim deletion.
//! - [`review`]: reading and answering AdmissionReviews, malformed ones included.
//! - [`server`]: the HTTPS server and its routes.
//! - [`tls`]: certificates from files (reloaded) or generated at start.
//! - [`watch`]: the watches that keep the view current.

#![warn(missing_docs)]

pub mod cabundle;
pub mod config;
pub mod decide;
pub mod review;
pub mod server;
pub mod tls;
pub mod view;
pub mod watch;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;

pub use crate::config::{Action, Config};
pub use crate::decide::{Decider, Decision, Stage};
pub use crate::view::View;

/// Where the serving certificate comes from.
#[derive(Debug, Clone)]
pub enum Certificate {
    /// PEM files, reloaded when they change.
    Files {
        /// The certificate chain.
        cert: PathBuf,
        /// The private key.
        key: PathBuf,
    },
    /// A CA and certificate generated at start for these DNS names or IPs.
    SelfSigned {
        /// The names the certificate is valid for.
        names: Vec<String>,
        /// Webhook configurations whose `caBundle` is set to the new CA.
        patch: Vec<String>,
    },
}

/// Everything `pvwarden serve webhook` needs.
#[derive(Debug, Clone)]
pub struct Options {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// The serving certificate.
    pub certificate: Certificate,
    /// The actions per rule and the assumed releases.
    pub config: Config,
    /// How to reach the cluster the view watches.
    pub cluster: pvwarden_kube::Options,
    /// How often certificate files are checked for changes.
    pub reload_every: Duration,
}

/// Why the webhook could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No client for the cluster could be made.
    #[error("cannot connect to the cluster")]
    Connect(#[source] pvwarden_kube::Error),
    /// The certificate could not be loaded or generated.
    #[error("cannot set up the serving certificate")]
    Tls(#[source] tls::Error),
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The CA bundle could not be written into a webhook configuration.
    #[error("cannot set the caBundle")]
    CaBundle(#[source] cabundle::Error),
}

/// Runs the webhook until the process ends.
///
/// # Errors
///
/// Returns an [`Error`] when it cannot start; once serving, failures of
/// single requests or watches are logged and retried, never returned.
pub async fn run(options: Options) -> Result<(), Error> {
    let cluster = pvwarden_kube::Cluster::connect(&options.cluster)
        .await
        .map_err(Error::Connect)?;
    let client = cluster.client().clone();
    let view = View::new();
    tokio::spawn(watch::run(client.clone(), view.clone()));

    let certificates = match &options.certificate {
        Certificate::Files { cert, key } => {
            let loaded = tls::load(cert, key).map_err(Error::Tls)?;
            let store = tls::Certificates::new(loaded);
            let reload = tls::reload(
                Arc::clone(&store),
                cert.clone(),
                key.clone(),
                options.reload_every,
            );
            tokio::spawn(reload);
            store
        }
        Certificate::SelfSigned { names, patch } => {
            let generated = tls::SelfSigned::generate(names).map_err(Error::Tls)?;
            let bundle = cabundle::encode(&generated.ca_pem);
            // The bundle is public (a CA certificate); printing it lets an
            // installer without cert-manager paste it into its manifests.
            println!("caBundle: {bundle}");
            for name in patch {
                cabundle::patch(&client, name, &generated.ca_pem)
                    .await
                    .map_err(Error::CaBundle)?;
            }
            tls::Certificates::new(generated.key)
        }
    };
    let tls = certificates.server_config().map_err(Error::Tls)?;

    let listener = TcpListener::bind(options.listen)
        .await
        .map_err(|source| Error::Bind {
            addr: options.listen,
            source,
        })?;
    tracing::info!(listen = %options.listen, "webhook serving");
    let decider = Arc::new(Decider::new(view, options.config));
    server::serve(listener, tls, move |call| {
        let decider = Arc::clone(&decider);
        async move { server::route(&decider, &call) }
    })
    .await;
    Ok(())
}
