//! Helpers shared by the webhook's integration tests.

#![allow(dead_code, reason = "each test binary uses a different part")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::api::storage::v1::StorageClass;
use pvwarden_domain::object::Object;
use serde_json::{json, Value};

/// The shared real-world cases.
pub fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases")
}

/// The PVs and StorageClasses of one manifest file, in file order.
pub fn read_case(path: &Path) -> (Vec<PersistentVolume>, Vec<StorageClass>) {
    let mut pvs = Vec::new();
    let mut classes = Vec::new();
    pvwarden_manifest::Reader::new().read_paths(&[path.to_owned()], &mut |read| match read
        .expect("the shared cases must read")
        .object
    {
        Object::PersistentVolume(pv) => pvs.push(*pv),
        Object::StorageClass(class) => classes.push(*class),
        _ => {}
    });
    (pvs, classes)
}

/// An AdmissionReview of a PV write, as the API server sends it.
pub fn pv_review(uid: &str, operation: &str, pv: &Value, old: Option<&Value>) -> Value {
    json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": uid,
            "kind": {"group": "", "version": "v1", "kind": "PersistentVolume"},
            "resource": {"group": "", "version": "v1", "resource": "persistentvolumes"},
            "name": pv["metadata"]["name"].as_str().unwrap_or(""),
            "operation": operation,
            "userInfo": {"username": "admin"},
            "object": pv,
            "oldObject": old,
            "dryRun": false
        }
    })
}

/// An HTTP/1.1 connection over TLS to `addr`, trusting only the given CAs (PEM).
///
/// Returns the leaf certificate the server presented and the request sender.
pub async fn tls_connect(
    addr: SocketAddr,
    cas: &[&str],
) -> (
    CertificateDer<'static>,
    hyper::client::conn::http1::SendRequest<Full<Bytes>>,
) {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for cert in CertificateDer::pem_slice_iter(ca.as_bytes()) {
            roots.add(cert.expect("CA")).expect("root");
        }
    }
    let config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let stream = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::from(addr.ip()), tcp)
        .await
        .expect("handshake");
    let leaf = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first().cloned())
        .expect("a certificate");
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .expect("http handshake");
    tokio::spawn(connection);
    (leaf, sender)
}

/// The JSON body of a response.
pub async fn json_body(response: hyper::Response<hyper::body::Incoming>) -> Value {
    use http_body_util::BodyExt as _;
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    serde_json::from_slice(&bytes).expect("JSON body")
}
