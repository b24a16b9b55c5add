//! The kubeconfig that points kubectl and kube-rs at the server.

use base64::Engine as _;

/// The name of the cluster, context and user in the kubeconfig.
pub(crate) const CONTEXT: &str = "pvwarden-test";

/// A kubeconfig (YAML) for a server URL, its CA and a bearer token.
pub(crate) fn render(url: &str, ca_pem: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: {CONTEXT}
  cluster:
    server: {url}
    certificate-authority-data: {ca}
users:
- name: {CONTEXT}
  user:
    token: {token}
contexts:
- name: {CONTEXT}
  context:
    cluster: {CONTEXT}
    user: {CONTEXT}
    namespace: default
current-context: {CONTEXT}
preferences: {{}}
"
    )
}
