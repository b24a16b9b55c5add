//! The HTTPS server: a renewed certificate is served without a restart, and
//! an oversized body is refused cleanly.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use pvwarden_webhook::tls::{self, Certificates};
use pvwarden_webhook::{server, Config, Decider, View};
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

/// A CA, and a certificate for 127.0.0.1 it signed: (CA PEM, cert PEM, key PEM).
fn issue() -> (String, String, String) {
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().expect("key");
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned()]).expect("params");
    let cert = leaf.signed_by(&key, &issuer).expect("leaf");
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

fn write(dir: &Path, cert: &str, key: &str) {
    std::fs::write(dir.join("tls.crt"), cert).expect("write cert");
    std::fs::write(dir.join("tls.key"), key).expect("write key");
}

async fn start(dir: &Path) -> SocketAddr {
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    let store = Certificates::new(tls::load(&cert, &key).expect("first pair loads"));
    let reload = tls::reload(Arc::clone(&store), cert, key, Duration::from_millis(20));
    tokio::spawn(reload);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let decider = Arc::new(Decider::new(View::new(), Config::default()));
    let config = store.server_config().expect("tls config");
    tokio::spawn(server::serve(listener, config, move |call| {
        let decider = Arc::clone(&decider);
        async move { server::route(&decider, &call) }
    }));
    addr
}

async fn connect(
    addr: SocketAddr,
    cas: &[&str],
) -> (
    CertificateDer<'static>,
    hyper::client::conn::http1::SendRequest<Full<Bytes>>,
) {
    common::tls_connect(addr, cas).await
}

fn der(pem: &str) -> CertificateDer<'static> {
    CertificateDer::from_pem_slice(pem.as_bytes()).expect("PEM")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_certificate_is_served_without_a_restart() {
    pvwarden_testkit::server::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("pvwarden-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ca_a, cert_a, key_a) = issue();
    let (ca_b, cert_b, key_b) = issue();
    write(&dir, &cert_a, &key_a);
    let addr = start(&dir).await;

    let (leaf, _) = connect(addr, &[&ca_a, &ca_b]).await;
    assert_eq!(leaf, der(&cert_a));

    // A half-written pair (key of A with certificate B) is not taken.
    std::fs::write(dir.join("tls.crt"), &cert_b).expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (leaf, _) = connect(addr, &[&ca_a, &ca_b]).await;
    assert_eq!(leaf, der(&cert_a), "a mismatched pair must not be served");

    write(&dir, &cert_b, &key_b);
    // Poll until the new certificate is served, bounded so that a reload that
    // never happens fails the test instead of hanging it.
    let mut served = None;
    for _ in 0..250 {
        let (leaf, _) = connect(addr, &[&ca_a, &ca_b]).await;
        if leaf == der(&cert_b) {
            served = Some(leaf);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(served.is_some(), "the renewed certificate was never served");
    // A client that trusts only the new CA now connects.
    let _ = connect(addr, &[&ca_b]).await;
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_bodies_are_refused_with_413() {
    pvwarden_testkit::server::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("pvwarden-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let (ca, cert, key) = issue();
    write(&dir, &cert, &key);
    let addr = start(&dir).await;
    let (_, mut sender) = connect(addr, &[&ca]).await;
    let body = vec![b' '; pvwarden_webhook::review::MAX_BODY + 1];
    let request = hyper::Request::post("/validate")
        .header("host", addr.to_string())
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status().as_u16(), 413);
    let value = common::json_body(response).await;
    assert_eq!(value["reason"], "RequestEntityTooLarge");
    std::fs::remove_dir_all(&dir).ok();
}
