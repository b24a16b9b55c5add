//! Helpers shared by the test suites: a started server and an HTTPS client for it.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the helpers"
)]

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use pvwarden_testkit::server::{Config, Running, Server};
use serde_json::Value;

/// An HTTPS client that trusts the server's CA and sends a bearer token.
#[derive(Clone)]
pub struct Client {
    base: String,
    token: Option<String>,
    http: HyperClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
}

/// A started server and an admin client for it.
pub struct Harness {
    pub server: Running,
    pub admin: Client,
}

/// Starts a server with a config.
pub async fn start_with(config: Config) -> Harness {
    let server = Server::start(config).await.expect("server must start");
    let admin = Client::new(&server, Some(&server.admin_token));
    Harness { server, admin }
}

/// Starts a server with the default config.
pub async fn start() -> Harness {
    start_with(Config::default()).await
}

/// The DER bytes of the first certificate in a PEM text.
pub fn pem_to_der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .expect("PEM must hold base64")
}

impl Client {
    /// A client for a server, with a token or none.
    pub fn new(server: &Running, token: Option<&str>) -> Client {
        pvwarden_testkit::server::install_crypto_provider();
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(rustls::pki_types::CertificateDer::from(pem_to_der(
                &server.ca_pem,
            )))
            .expect("the CA must be a valid certificate");
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("ring must support the default versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_only()
            .enable_http1()
            .build();
        Client {
            base: server.url.clone(),
            token: token.map(str::to_owned),
            http: HyperClient::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Sends a request and returns the status and the response as JSON
    /// (`Value::String` when the body is not JSON).
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        content_type: &str,
        accept: Option<&str>,
    ) -> (u16, Value) {
        let response = self
            .raw(
                method,
                path,
                body.map(Value::to_string),
                content_type,
                accept,
            )
            .await;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body must arrive")
            .to_bytes();
        let value = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, value)
    }

    /// Sends a request and returns the response with its body unread.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
        content_type: &str,
        accept: Option<&str>,
    ) -> hyper::Response<Incoming> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .header("accept", accept.unwrap_or("application/json"));
        if let Some(token) = &self.token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("request must build");
        self.http
            .request(request)
            .await
            .expect("request must be answered")
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.send(Method::GET, path, None, "application/json", None)
            .await
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(Method::POST, path, Some(body), "application/json", None)
            .await
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(Method::PUT, path, Some(body), "application/json", None)
            .await
    }

    pub async fn patch(&self, path: &str, content_type: &str, body: &Value) -> (u16, Value) {
        self.send(Method::PATCH, path, Some(body), content_type, None)
            .await
    }

    pub async fn delete(&self, path: &str) -> (u16, Value) {
        self.send(Method::DELETE, path, None, "application/json", None)
            .await
    }

    /// Opens a watch and returns its event stream.
    pub async fn watch(&self, path: &str) -> Watch {
        let response = self
            .raw(Method::GET, path, None, "application/json", None)
            .await;
        assert_eq!(
            response.status().as_u16(),
            200,
            "watch {path} must be accepted"
        );
        Watch {
            body: response.into_body(),
            buffer: Vec::new(),
        }
    }
}

/// The events of one watch.
pub struct Watch {
    body: Incoming,
    buffer: Vec<u8>,
}

impl Watch {
    /// The next event, or `None` when the stream ends or nothing comes in 5 s.
    pub async fn next(&mut self) -> Option<Value> {
        self.next_within(Duration::from_secs(5)).await
    }

    /// The next event, or `None` when the stream ends or nothing comes in time.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Value> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).collect();
                return Some(serde_json::from_slice(&line).expect("each line must be JSON"));
            }
            let frame = tokio::time::timeout(wait, self.body.frame()).await.ok()??;
            if let Ok(data) = frame.expect("frame must arrive").into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }

    /// The next event's type and object name.
    pub async fn next_named(&mut self) -> Option<(String, String)> {
        let event = self.next().await?;
        let name = event["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        Some((event["type"].as_str().unwrap_or("").to_owned(), name))
    }
}

/// A PersistentVolume body.
pub fn pv(name: &str) -> Value {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {"name": name, "labels": {"app": "demo"}},
        "spec": {
            "capacity": {"storage": "1Gi"},
            "accessModes": ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": "Delete",
            "storageClassName": "standard",
            "csi": {
                "driver": "rook-ceph.cephfs.csi.ceph.com",
                "volumeHandle": format!("handle-{name}")
            }
        }
    })
}

/// The path of the PersistentVolume collection.
pub const PVS: &str = "/api/v1/persistentvolumes";
