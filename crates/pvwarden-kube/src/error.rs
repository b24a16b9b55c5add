//! The errors of connecting to and reading from a cluster.

use kube::config::{InClusterError, KubeconfigError};

use crate::report::{Permission, Reason};

/// A failure to connect to a cluster or to read what the model needs from it.
///
/// Missing permissions on optional kinds are not errors; see
/// [`ReadReport::degraded`](crate::ReadReport::degraded).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A kubeconfig file could not be read, parsed or merged.
    #[error("failed to load kubeconfig {path}")]
    Kubeconfig {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: KubeconfigError,
    },
    /// The kubeconfig names no current context and none was given.
    #[error("the kubeconfig has no current context; name one with --context")]
    NoContext,
    /// A context was asked for but there is no kubeconfig to find it in.
    #[error(
        "context {context} was asked for, but there is no kubeconfig \
             (KUBECONFIG or ~/.kube/config)"
    )]
    NoKubeconfigForContext {
        /// The context asked for.
        context: String,
    },
    /// The context is missing from the kubeconfig or incomplete (no cluster, bad credentials).
    #[error("failed to load context {context} from the kubeconfig")]
    Context {
        /// The context.
        context: String,
        /// Why.
        #[source]
        source: KubeconfigError,
    },
    /// There is no kubeconfig, and this process does not run in a pod with a service account.
    #[error(
        "found no kubeconfig (KUBECONFIG or ~/.kube/config) and no in-cluster service account"
    )]
    NoConfig {
        /// Why the in-cluster configuration failed.
        #[source]
        source: InClusterError,
    },
    /// The HTTP client could not be built from the configuration (TLS, proxy, credentials).
    #[error("failed to build the API client")]
    Client(#[source] kube::Error),
    /// `GET /version` failed.
    #[error("failed to read the API server's version")]
    Version(#[source] kube::Error),
    /// A required permission is missing.
    #[error("not allowed to {permission} (`pvwarden rbac` prints the role it needs): {message}")]
    Forbidden {
        /// The permission.
        permission: Permission,
        /// What the server said, which names the user it took the request to come from.
        message: String,
    },
    /// The API server answered a request with an error status (401, 500, ...).
    #[error("{request}: the API server answered {}", answer(*.code, .reason, .message))]
    Status {
        /// The request, e.g. `list persistentvolumes` or `get /version`.
        request: String,
        /// The HTTP status code.
        code: u16,
        /// The Status reason, e.g. `Unauthorized`.
        reason: String,
        /// The Status message.
        message: String,
    },
    /// A LIST request failed for a reason other than a missing permission.
    #[error("failed to list {resource}")]
    List {
        /// The resource (plural, with its group when it has one).
        resource: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// A paged list kept expiring (`410 Gone`) and was given up.
    #[error("the list of {resource} expired {restarts} times while paging; try again")]
    Expired {
        /// The resource.
        resource: String,
        /// How many times the list was restarted.
        restarts: u32,
    },
    /// The discovery of an API group failed.
    #[error("failed to discover API group {group_version}")]
    Discovery {
        /// The group and version, e.g. `snapshot.storage.k8s.io/v1`.
        group_version: &'static str,
        /// Why.
        #[source]
        source: kube::Error,
    },
}

impl Error {
    /// Turns an error status into [`Error::Status`], and any other failure into `other`.
    pub(crate) fn from_kube(
        request: impl FnOnce() -> String,
        err: kube::Error,
        other: impl FnOnce(kube::Error) -> Error,
    ) -> Error {
        match err {
            kube::Error::Api(status) => Error::Status {
                request: request(),
                code: status.code,
                reason: status.reason,
                message: status.message,
            },
            err => other(err),
        }
    }

    /// `403` or `404` when this is an error status saying so.
    pub(crate) fn refusal(&self) -> Option<Reason> {
        match self {
            Error::Status { code, reason, .. } => Reason::of(*code, reason),
            _ => None,
        }
    }
}

/// `401 Unauthorized: <message>`, leaving out a message that only repeats the reason.
fn answer(code: u16, reason: &str, message: &str) -> String {
    if message.is_empty() || message == reason {
        format!("{code} {reason}")
    } else {
        format!("{code} {reason}: {message}")
    }
}
