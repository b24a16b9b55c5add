//! Writing a generated CA into the webhook configurations that call us.
//!
//! Without cert-manager nothing else fills `clientConfig.caBundle`, and the
//! API server refuses to call a webhook whose certificate it cannot verify.

use base64::Engine as _;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::ByteString;
use kube::api::PostParams;
use kube::{Api, Client};

/// A configuration whose `caBundle` could not be set.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or replacing the configuration failed.
    #[error("cannot update {kind} {name}")]
    Update {
        /// The kind.
        kind: &'static str,
        /// The configuration's name.
        name: String,
        /// Why.
        #[source]
        source: kube::Error,
    },
    /// Neither kind of configuration has that name.
    #[error("no Validating- or MutatingWebhookConfiguration is named {name}")]
    NotFound {
        /// The name looked for.
        name: String,
    },
}

/// The CA bundle as the `caBundle` field holds it in YAML: base64 of the PEM.
pub fn encode(ca_pem: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(ca_pem)
}

/// Sets the `caBundle` of every webhook in the configurations named `name`.
///
/// # Errors
///
/// Returns an [`Error`] when neither configuration exists, or one cannot be
/// read or replaced.
pub async fn patch(client: &Client, name: &str, ca_pem: &str) -> Result<(), Error> {
    let bundle = ByteString(ca_pem.as_bytes().to_vec());
    let mut found = false;

    let validating: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let failed = |kind, source| Error::Update {
        kind,
        name: name.to_owned(),
        source,
    };
    let kind = "ValidatingWebhookConfiguration";
    if let Some(mut config) = validating
        .get_opt(name)
        .await
        .map_err(|e| failed(kind, e))?
    {
        for webhook in config.webhooks.iter_mut().flatten() {
            webhook.client_config.ca_bundle = Some(bundle.clone());
        }
        let params = PostParams::default();
        validating
            .replace(name, &params, &config)
            .await
            .map_err(|e| failed(kind, e))?;
        found = true;
    }

    let mutating: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let kind = "MutatingWebhookConfiguration";
    if let Some(mut config) = mutating.get_opt(name).await.map_err(|e| failed(kind, e))? {
        for webhook in config.webhooks.iter_mut().flatten() {
            webhook.client_config.ca_bundle = Some(bundle.clone());
        }
        let params = PostParams::default();
        mutating
            .replace(name, &params, &config)
            .await
            .map_err(|e| failed(kind, e))?;
        found = true;
    }

    if !found {
        return Err(Error::NotFound {
            name: name.to_owned(),
        });
    }
    tracing::info!(name, "caBundle set");
    Ok(())
}
