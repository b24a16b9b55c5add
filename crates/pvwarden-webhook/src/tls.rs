//! The serving certificate: read from files and reloaded when they change, or
//! generated at start.
//!
//! ```text
//!   --tls-cert / --tls-key ──poll──▶ Certificates (rustls ResolvesServerCert)
//!   --self-signed NAME...  ──once──▶       │          ──▶ every new handshake
//!                                         CA bundle ──▶ printed / patched into
//!                                                       the webhook configurations
//! ```
//!
//! The files are polled rather than watched with inotify: a Secret mounted in
//! a pod is updated by swapping a symlink, which file watches miss unless they
//! watch the directory, and a poll every few seconds costs nothing. A pair
//! that does not load (a half-written file, a key that does not match) is
//! logged and the previous pair keeps serving.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;

/// A certificate or key that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The certificate file holds no PEM certificate.
    #[error("{path}: no PEM certificate in the file")]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The key file holds no usable PEM private key.
    #[error("{path}: no usable PEM private key (PKCS#8, PKCS#1 or SEC1) in the file")]
    NoKey {
        /// The file.
        path: PathBuf,
    },
    /// The key does not belong to the certificate, or rustls refuses it.
    #[error("{key}: the key does not match the certificate {cert}")]
    Mismatch {
        /// The certificate file.
        cert: PathBuf,
        /// The key file.
        key: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// Generating the self-signed certificate failed.
    #[error("cannot generate the self-signed certificate")]
    Generate(#[source] rcgen::Error),
    /// rustls refused the server configuration.
    #[error("cannot set up TLS")]
    Config(#[source] rustls::Error),
}

/// The certificate served, replaceable while the server runs.
pub struct Certificates {
    current: RwLock<Arc<CertifiedKey>>,
}

impl fmt::Debug for Certificates {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificates").finish_non_exhaustive()
    }
}

impl Certificates {
    /// Serves one certificate and key.
    pub fn new(key: CertifiedKey) -> Arc<Certificates> {
        Arc::new(Certificates {
            current: RwLock::new(Arc::new(key)),
        })
    }

    /// Replaces the certificate for handshakes from now on.
    pub fn replace(&self, key: CertifiedKey) {
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        *current = Arc::new(key);
    }

    /// The leaf certificate served now (DER).
    pub fn leaf(&self) -> Option<CertificateDer<'static>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        current.cert.first().cloned()
    }

    /// A rustls configuration that asks this store on every handshake.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Config`] when rustls refuses the protocol versions.
    pub fn server_config(self: &Arc<Self>) -> Result<Arc<ServerConfig>, Error> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(Error::Config)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        Some(Arc::clone(&current))
    }
}

/// Reads a PEM certificate chain and key, and checks that they belong together.
///
/// # Errors
///
/// Returns an [`Error`] naming the file that could not be used.
pub fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, Error> {
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    from_pem(&cert_pem, &key_pem, cert, key)
}

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })
}

fn from_pem(
    cert_pem: &[u8],
    key_pem: &[u8],
    cert: &Path,
    key: &Path,
) -> Result<CertifiedKey, Error> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(Error::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| Error::NoKey {
        path: key.to_owned(),
    })?;
    let signing = any_supported_type(&private).map_err(|_| Error::NoKey {
        path: key.to_owned(),
    })?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|source| Error::Mismatch {
        cert: cert.to_owned(),
        key: key.to_owned(),
        source,
    })?;
    Ok(certified)
}

/// Polls a certificate and key file pair and serves each new pair that loads.
///
/// Runs until the task is dropped. `interval` is how often the files are read.
pub async fn reload(store: Arc<Certificates>, cert: PathBuf, key: PathBuf, interval: Duration) {
    let mut last = (read(&cert).ok(), read(&key).ok());
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let now = (read(&cert).ok(), read(&key).ok());
        if now == last {
            continue;
        }
        if let (Some(cert_pem), Some(key_pem)) = (&now.0, &now.1) {
            match from_pem(cert_pem, key_pem, &cert, &key) {
                Ok(certified) => {
                    store.replace(certified);
                    tracing::info!(cert = %cert.display(), "serving certificate reloaded");
                }
                Err(error) => {
                    tracing::warn!(
                        error = %error,
                        "new certificate not loaded; the previous one keeps serving"
                    );
                }
            }
        }
        last = now;
    }
}

/// A CA and a serving certificate it signed, generated at start.
pub struct SelfSigned {
    /// The CA certificate, PEM: the `caBundle` of the webhook configurations.
    pub ca_pem: String,
    /// The serving certificate and key.
    pub key: CertifiedKey,
}

impl fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SelfSigned")
            .field("ca_pem", &self.ca_pem)
            .finish_non_exhaustive()
    }
}

impl SelfSigned {
    /// Generates a CA and a certificate for `names` (DNS names or IP addresses).
    ///
    /// The keys live only in memory: a restart makes a new pair, and the new
    /// CA bundle has to reach the webhook configurations again.
    ///
    /// # Errors
    ///
    /// Returns [`Error::Generate`] for a name rcgen cannot put in a certificate.
    pub fn generate(names: &[String]) -> Result<SelfSigned, Error> {
        let ca_key = KeyPair::generate().map_err(Error::Generate)?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(Error::Generate)?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        ca.distinguished_name
            .push(DnType::CommonName, "pvwarden-webhook-ca");
        ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca_cert = ca.self_signed(&ca_key).map_err(Error::Generate)?;
        let issuer = Issuer::new(ca, ca_key);

        let key = KeyPair::generate().map_err(Error::Generate)?;
        let mut leaf = CertificateParams::new(names.to_vec()).map_err(Error::Generate)?;
        leaf.distinguished_name
            .push(DnType::CommonName, "pvwarden-webhook");
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = leaf.signed_by(&key, &issuer).map_err(Error::Generate)?;

        let cert_pem = cert.pem();
        let key_pem = key.serialize_pem();
        let here = Path::new("(generated)");
        let certified = from_pem(cert_pem.as_bytes(), key_pem.as_bytes(), here, here)?;
        Ok(SelfSigned {
            ca_pem: ca_cert.pem(),
            key: certified,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_certificate_loads_and_names_its_hosts() {
        let pki = SelfSigned::generate(&["pvwarden.pvwarden.svc".into(), "127.0.0.1".into()])
            .expect("generates");
        assert!(pki.ca_pem.starts_with("-----BEGIN CERTIFICATE-----"));
        assert_eq!(pki.key.cert.len(), 1);
    }

    #[test]
    fn rejects_files_without_pem_and_mismatched_keys() {
        let dir = std::env::temp_dir().join(format!("pvwarden-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&cert, "not pem").expect("write");
        std::fs::write(&key, "not pem").expect("write");
        let err = load(&cert, &key).expect_err("no certificate");
        assert!(matches!(err, Error::NoCertificate { .. }), "{err}");

        let a = rcgen::generate_simple_self_signed(vec!["a".into()]).expect("a");
        let b = rcgen::generate_simple_self_signed(vec!["b".into()]).expect("b");
        std::fs::write(&cert, a.cert.pem()).expect("write");
        std::fs::write(&key, b.signing_key.serialize_pem()).expect("write");
        let err = load(&cert, &key).expect_err("mismatch");
        assert!(matches!(err, Error::Mismatch { .. }), "{err}");

        std::fs::write(&key, a.signing_key.serialize_pem()).expect("write");
        load(&cert, &key).expect("matching pair loads");
        std::fs::remove_dir_all(&dir).ok();
    }
}
