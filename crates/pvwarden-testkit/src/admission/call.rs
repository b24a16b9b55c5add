//! One HTTPS POST of an AdmissionReview to a webhook's `clientConfig.url`.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use serde_json::Value;
use tokio::net::TcpStream;

/// The timeout when the webhook sets none (the real server's default).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest response read from a webhook.
const MAX_RESPONSE: usize = 8 << 20;

/// Posts a review to the webhook and returns its answer as JSON.
///
/// The error is the text the real server puts after "failed calling webhook".
pub(super) async fn post(webhook: &Value, review: &Value) -> Result<Value, String> {
    let seconds = webhook["timeoutSeconds"].as_u64().unwrap_or(0);
    let timeout = if seconds == 0 {
        DEFAULT_TIMEOUT
    } else {
        Duration::from_secs(seconds.min(30))
    };
    match tokio::time::timeout(timeout, exchange(&webhook["clientConfig"], review)).await {
        Ok(answer) => answer,
        Err(_) => Err(format!(
            "failed to call webhook: context deadline exceeded ({}s)",
            timeout.as_secs()
        )),
    }
}

async fn exchange(client_config: &Value, review: &Value) -> Result<Value, String> {
    let Some(url) = client_config["url"].as_str() else {
        return Err("failed to call webhook: only clientConfig.url is supported here".into());
    };
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("failed to call webhook: invalid url {url:?}: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("failed to call webhook: {url:?} is not https"));
    }
    let host = uri
        .host()
        .unwrap_or("")
        .trim_matches(|c| c == '[' || c == ']');
    let ip: std::net::IpAddr = host
        .parse()
        .map_err(|_| format!("failed to call webhook: {host:?} is not a loopback address"))?;
    if !ip.is_loopback() {
        return Err(format!(
            "failed to call webhook: {ip} is not a loopback address"
        ));
    }
    let port = uri.port_u16().unwrap_or(443);

    let tls = client_tls(client_config)?;
    let tcp = TcpStream::connect((ip, port))
        .await
        .map_err(|e| format!("failed to call webhook: dial tcp {ip}:{port}: {e}"))?;
    let name = ServerName::from(ip);
    let stream = tokio_rustls::TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(|e| format!("failed to call webhook: tls: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("failed to call webhook: {e}"))?;
    tokio::spawn(connection);

    let path = uri.path_and_query().map_or("/", |p| p.as_str());
    let body = serde_json::to_vec(review).unwrap_or_default();
    let request = Request::post(path)
        .header("host", format!("{ip}:{port}"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("failed to call webhook: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("failed to call webhook: {e}"))?;
    let status = response.status();
    let bytes = http_body_util::Limited::new(response.into_body(), MAX_RESPONSE)
        .collect()
        .await
        .map_err(|e| format!("failed to call webhook: reading the response: {e}"))?
        .to_bytes();
    if !status.is_success() {
        let text = String::from_utf8_lossy(&bytes);
        return Err(format!("the server responded with status {status}: {text}"));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| format!("failed to call webhook: the response is not JSON: {e}"))
}

/// A client TLS configuration trusting only the webhook's `caBundle`.
fn client_tls(client_config: &Value) -> Result<Arc<rustls::ClientConfig>, String> {
    let bundle = client_config["caBundle"].as_str().unwrap_or("");
    let pem = base64::engine::general_purpose::STANDARD
        .decode(bundle)
        .map_err(|e| format!("failed to call webhook: caBundle is not base64: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(&pem).filter_map(Result::ok) {
        roots
            .add(cert)
            .map_err(|e| format!("failed to call webhook: caBundle: {e}"))?;
    }
    if roots.is_empty() {
        return Err("failed to call webhook: x509: no certificate in caBundle".into());
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("failed to call webhook: tls: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// A response's patch: base64 text (the API's form) or an array of bytes.
pub(super) fn decode_patch(patch: &Value) -> Option<Vec<u8>> {
    match patch {
        Value::String(text) => base64::engine::general_purpose::STANDARD.decode(text).ok(),
        Value::Array(bytes) => bytes
            .iter()
            .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
            .collect(),
        _ => None,
    }
}
