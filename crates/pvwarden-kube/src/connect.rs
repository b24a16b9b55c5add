//! Finding the client configuration: a kubeconfig context, or the pod's service account.

use std::path::{Path, PathBuf};

use kube::config::{Config, KubeConfigOptions, Kubeconfig};

use crate::{Error, Options};

/// The context name used in origins when running with the pod's service account.
pub(crate) const IN_CLUSTER: &str = "in-cluster";

/// Loads the configuration and names the context it came from and its user.
///
/// The user is the kubeconfig context's user name (never a credential), or
/// `service account of namespace <ns>` in a pod. An explicit `kubeconfig` (or
/// `KUBECONFIG`) must load; only when neither is given and `~/.kube/config`
/// does not exist is the in-cluster configuration tried, the order kubectl
/// follows.
pub(crate) async fn config(options: &Options) -> Result<(Config, String, String), Error> {
    install_crypto();
    let kubeconfig = match &options.kubeconfig {
        Some(paths) => Some(read_paths(paths)?),
        None => read_default()?,
    };
    let Some(kubeconfig) = kubeconfig else {
        if let Some(context) = &options.context {
            return Err(Error::NoKubeconfigForContext {
                context: context.clone(),
            });
        }
        let config = Config::incluster().map_err(|source| Error::NoConfig { source })?;
        let user = format!("service account of namespace {}", config.default_namespace);
        return Ok((config, IN_CLUSTER.to_owned(), user));
    };

    let context = options
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone())
        .filter(|c| !c.is_empty())
        .ok_or(Error::NoContext)?;
    let user = kubeconfig
        .contexts
        .iter()
        .find(|c| c.name == context)
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.user.clone())
        .unwrap_or_else(|| "unknown user".to_owned());
    let kube_options = KubeConfigOptions {
        context: Some(context.clone()),
        cluster: None,
        user: None,
    };
    let config = Config::from_custom_kubeconfig(kubeconfig, &kube_options)
        .await
        .map_err(|source| Error::Context {
            context: context.clone(),
            source,
        })?;
    tracing::debug!(context, server = %config.cluster_url, "client configuration loaded");
    Ok((config, context, user))
}

/// Reads one kubeconfig file, or merges several joined with the path separator.
fn read_paths(paths: &Path) -> Result<Kubeconfig, Error> {
    let files: Vec<PathBuf> = std::env::split_paths(paths)
        .filter(|p| !p.as_os_str().is_empty())
        .collect();
    let mut merged = Kubeconfig::default();
    for file in &files {
        let one = read_file(file)?;
        merged = merged.merge(one).map_err(|source| Error::Kubeconfig {
            path: file.display().to_string(),
            source,
        })?;
    }
    if files.is_empty() {
        return Err(Error::NoContext);
    }
    Ok(merged)
}

fn read_file(file: &Path) -> Result<Kubeconfig, Error> {
    Kubeconfig::read_from(file).map_err(|source| Error::Kubeconfig {
        path: file.display().to_string(),
        source,
    })
}

/// Reads `KUBECONFIG`, else `~/.kube/config`; `None` when neither exists.
fn read_default() -> Result<Option<Kubeconfig>, Error> {
    if let Some(value) = std::env::var_os("KUBECONFIG").filter(|v| !v.is_empty()) {
        return read_paths(Path::new(&value)).map(Some);
    }
    let Some(home) = home_dir() else {
        return Ok(None);
    };
    let path = home.join(".kube").join("config");
    if !path.exists() {
        return Ok(None);
    }
    read_file(&path).map(Some)
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .or_else(|| std::env::var_os("USERPROFILE"))
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// Installs ring as rustls's process-wide crypto provider, unless one is set.
///
/// kube is built without a provider feature so that the binary chooses one;
/// installing it here keeps every caller of this crate from having to.
fn install_crypto() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // A concurrent install may win the race; either provider is fine.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use kube::config::KubeconfigError;

    use super::*;

    const KUBECONFIG: &str = "\
apiVersion: v1
kind: Config
current-context: one
clusters:
- name: c1
  cluster:
    server: https://127.0.0.1:6443
- name: c2
  cluster:
    server: https://127.0.0.1:7443
contexts:
- name: one
  context: {cluster: c1, user: u}
- name: two
  context: {cluster: c2, user: u}
users:
- name: u
  user: {token: abc}
";

    fn write_config(dir: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("pvwarden-kube-{dir}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        path
    }

    fn remove(options: &Options) {
        if let Some(dir) = options.kubeconfig.as_deref().and_then(Path::parent) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    #[tokio::test]
    async fn explicit_kubeconfig_uses_current_context() {
        let path = write_config("current");
        let options = Options {
            kubeconfig: Some(path),
            context: None,
        };
        let (config, context, _) = config(&options).await.unwrap();
        remove(&options);
        assert_eq!(context, "one");
        assert_eq!(config.cluster_url.port_u16(), Some(6443));
    }

    #[tokio::test]
    async fn context_flag_overrides_current_context() {
        let path = write_config("flag");
        let options = Options {
            kubeconfig: Some(path),
            context: Some("two".into()),
        };
        let (config, context, _) = config(&options).await.unwrap();
        remove(&options);
        assert_eq!(context, "two");
        assert_eq!(config.cluster_url.port_u16(), Some(7443));
    }

    #[tokio::test]
    async fn unknown_context_is_named_in_the_error() {
        let path = write_config("unknown");
        let options = Options {
            kubeconfig: Some(path),
            context: Some("three".into()),
        };
        let err = config(&options).await.unwrap_err();
        remove(&options);
        assert!(err.to_string().contains("three"), "{err}");
    }

    #[tokio::test]
    async fn missing_kubeconfig_file_is_named_in_the_error() {
        let options = Options {
            kubeconfig: Some(PathBuf::from("/nonexistent/pvwarden/config")),
            context: None,
        };
        let err = config(&options).await.unwrap_err();
        assert!(
            err.to_string().contains("/nonexistent/pvwarden/config"),
            "{err}"
        );
        let Error::Kubeconfig { source, .. } = err else {
            panic!("expected a kubeconfig error")
        };
        assert!(matches!(source, KubeconfigError::ReadConfig(..)));
    }
}
