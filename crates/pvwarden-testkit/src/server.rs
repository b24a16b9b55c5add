//! Starting and stopping the server.
//!
//! [`Server::start`] generates the PKI, preloads manifests, binds
//! `127.0.0.1:<port>` and serves HTTPS connections until
//! [`Running::shutdown`]. Each connection is one tokio task running hyper's
//! HTTP/1.1 server over a rustls stream.

mod kubeconfig;
mod tls;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

pub use self::tls::install_crypto_provider;
pub use crate::auth::{Rule, TokenSpec};

use crate::auth::{random_token, Auth};
use crate::fault::Faults;
use crate::service::{self, App, Counts};
use crate::status::ApiError;
use crate::store::Store;

/// What the server starts with.
#[derive(Debug, Clone)]
pub struct Config {
    /// The port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Manifests preloaded through `pvwarden-manifest`, as if created, but
    /// keeping their status, finalizers, `deletionTimestamp` and uids.
    pub load: Vec<PathBuf>,
    /// Extra bearer tokens with their permissions (for 403 tests).
    pub tokens: Vec<TokenSpec>,
    /// Start the cluster actors ([`crate::actor::spawn`]) once serving.
    pub actors: bool,
    /// The admin token; a random one when `None`.
    pub admin_token: Option<String>,
    /// How many events each kind keeps for watches and old lists; older
    /// resource versions get `410 Expired`.
    pub history: usize,
    /// How often watches that allow bookmarks get one.
    pub bookmark_interval: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            load: Vec::new(),
            tokens: Vec::new(),
            actors: false,
            admin_token: None,
            history: 1000,
            bookmark_interval: Duration::from_secs(10),
        }
    }
}

/// Failures to start the server or write its kubeconfig.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The port could not be bound on 127.0.0.1.
    #[error("failed to listen on 127.0.0.1:{port}")]
    Bind {
        /// The port asked for.
        port: u16,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
    /// The CA or serving certificate could not be generated.
    #[error("failed to generate the server certificates")]
    Certificate(#[source] rcgen::Error),
    /// The TLS configuration was refused.
    #[error("failed to configure TLS")]
    Tls(#[source] rustls::Error),
    /// A manifest given to `load` could not be read.
    #[error("failed to read a manifest to preload")]
    Manifest(#[source] Box<pvwarden_manifest::Error>),
    /// A manifest's object was refused by the store.
    #[error("failed to preload {kind} {name:?} from {origin}")]
    Preload {
        /// Where the object was read.
        origin: String,
        /// Its kind.
        kind: String,
        /// Its name.
        name: String,
        /// What the store answered.
        #[source]
        source: Box<ApiError>,
    },
    /// The kubeconfig could not be written.
    #[error("failed to write the kubeconfig to {path}")]
    WriteKubeconfig {
        /// The file.
        path: PathBuf,
        /// Why writing failed.
        #[source]
        source: std::io::Error,
    },
}

/// The server; see [`Server::start`].
#[derive(Debug)]
pub struct Server;

/// A running server and how to reach it.
#[derive(Debug)]
pub struct Running {
    /// `https://127.0.0.1:<port>`.
    pub url: String,
    /// The address it listens on.
    pub addr: SocketAddr,
    /// The CA certificate (PEM) that signed the serving certificate.
    pub ca_pem: String,
    /// The bearer token that may do everything.
    pub admin_token: String,
    /// A kubeconfig (YAML) for the admin token.
    pub kubeconfig: String,
    closing: tokio::sync::watch::Sender<bool>,
    accept: JoinHandle<()>,
    actors: Option<crate::actor::Actors>,
}

impl Server {
    /// Starts a server; it serves until [`Running::shutdown`] (or the runtime ends).
    ///
    /// # Errors
    ///
    /// When the PKI cannot be generated, a manifest cannot be read or
    /// preloaded, or the port cannot be bound.
    pub async fn start(config: Config) -> Result<Running, Error> {
        install_crypto_provider();
        let pki = tls::Pki::generate().map_err(Error::Certificate)?;
        let acceptor = TlsAcceptor::from(pki.server_config().map_err(Error::Tls)?);

        let store = Store::new(config.history);
        let loaded = crate::load::preload(&store, &config.load)?;

        let listener = TcpListener::bind(("127.0.0.1", config.port))
            .await
            .map_err(|source| Error::Bind {
                port: config.port,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            port: config.port,
            source,
        })?;
        let url = format!("https://{addr}");
        let admin_token = config.admin_token.clone().unwrap_or_else(random_token);
        let (closing, closing_rx) = tokio::sync::watch::channel(false);

        let app = Arc::new(App {
            store,
            auth: Auth::new(admin_token.clone(), config.tokens.clone()),
            faults: Mutex::new(Faults::default()),
            counts: Mutex::new(Counts::default()),
            backend: Mutex::new(service::initial_backend()),
            bookmark_interval: config.bookmark_interval.max(Duration::from_millis(10)),
            closing: closing_rx.clone(),
            address: addr.to_string(),
        });
        let accept = tokio::spawn(accept_loop(listener, acceptor, app, closing_rx));
        tracing::info!(url = %url, loaded, "test API server listening");

        let actors = config
            .actors
            .then(|| crate::actor::spawn(&url, &pki.ca_pem, &admin_token));
        Ok(Running {
            kubeconfig: kubeconfig::render(&url, &pki.ca_pem, &admin_token),
            url,
            addr,
            ca_pem: pki.ca_pem,
            admin_token,
            closing,
            accept,
            actors,
        })
    }
}

impl Running {
    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Writes [`Running::kubeconfig`] to a file.
    ///
    /// # Errors
    ///
    /// When the file cannot be written.
    pub fn write_kubeconfig(&self, path: impl AsRef<Path>) -> Result<(), Error> {
        let path = path.as_ref();
        std::fs::write(path, &self.kubeconfig).map_err(|source| Error::WriteKubeconfig {
            path: path.to_owned(),
            source,
        })
    }

    /// Stops serving: ends open watches, closes connections and stops the actors.
    pub async fn shutdown(self) {
        // Nobody listening means the accept loop already ended.
        let _ = self.closing.send(true);
        if let Some(actors) = self.actors {
            actors.shutdown().await;
        }
        if let Err(error) = self.accept.await {
            tracing::warn!(error = %error, "accept loop ended abnormally");
        }
        tracing::info!(url = %self.url, "test API server stopped");
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    app: Arc<App>,
    mut closing: tokio::sync::watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                while connections.try_join_next().is_some() {}
                match accepted {
                    Ok((stream, peer)) => {
                        let served =
                            serve_connection(stream, peer, acceptor.clone(), Arc::clone(&app));
                        connections.spawn(served);
                    }
                    Err(error) => {
                        tracing::warn!(error = %error, "failed to accept a connection");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                }
            }
            _ = closing.changed() => break,
        }
    }
    connections.abort_all();
    while connections.join_next().await.is_some() {}
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: TlsAcceptor,
    app: Arc<App>,
) {
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(error) => {
            tracing::debug!(peer = %peer, error = %error, "TLS handshake failed");
            return;
        }
    };
    let service = service_fn(move |request| service::handle(Arc::clone(&app), request));
    let served = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
    if let Err(error) = served {
        tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
    }
}
