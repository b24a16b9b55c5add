//! Writing a generated CA into the webhook configurations that call us.
//!
//! Without cert-manager nothing else fills `clientConfig.caBundle`, and the
//! API server refuses to call a webhook whose certificate it cannot verify.

use base64::Engine as _;
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration, WebhookClientConfig,
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
        kind: String,
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
    let validating = set::<ValidatingWebhookConfiguration>(client, name, &bundle, |c| {
        let webhooks = c.webhooks.iter_mut().flatten();
        webhooks.map(|w| &mut w.client_config).collect()
    });
    let found_validating = validating.await?;
    let mutating = set::<MutatingWebhookConfiguration>(client, name, &bundle, |c| {
        let webhooks = c.webhooks.iter_mut().flatten();
        webhooks.map(|w| &mut w.client_config).collect()
    });
    let found_mutating = mutating.await?;
    if !(found_validating || found_mutating) {
        return Err(Error::NotFound {
            name: name.to_owned(),
        });
    }
    tracing::info!(name, "caBundle set");
    Ok(())
}

/// Sets the bundle in one configuration; false when it does not exist.
async fn set<K>(
    client: &Client,
    name: &str,
    bundle: &ByteString,
    configs: fn(&mut K) -> Vec<&mut WebhookClientConfig>,
) -> Result<bool, Error>
where
    K: kube::Resource<Scope = k8s_openapi::ClusterResourceScope, DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::Serialize
        + serde::de::DeserializeOwned,
{
    let api: Api<K> = Api::all(client.clone());
    let failed = |source| Error::Update {
        kind: K::kind(&()).to_string(),
        name: name.to_owned(),
        source,
    };
    let Some(mut config) = api.get_opt(name).await.map_err(failed)? else {
        return Ok(false);
    };
    for client_config in configs(&mut config) {
        client_config.ca_bundle = Some(bundle.clone());
    }
    api.replace(name, &PostParams::default(), &config)
        .await
        .map_err(failed)?;
    Ok(true)
}
