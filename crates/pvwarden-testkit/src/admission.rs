//! Admission webhooks: calling the webhooks that stored
//! Mutating/ValidatingWebhookConfigurations register, as the real server does.
//!
//! ```text
//!   create / update / patch / delete
//!        │
//!        ├─ mutating webhooks (by configuration name): AdmissionReview ─▶ patch
//!        ├─ the store's rules, as a dry run (defaults, system metadata)
//!        ├─ validating webhooks, on the object as it would be stored
//!        └─ the write; warnings go back as `Warning` headers
//! ```
//!
//! What is honoured: `rules` (operations, groups, versions, resources with
//! `*` and subresources, scope), `clientConfig.url` with its `caBundle`,
//! `failurePolicy` (`Fail` by default), `timeoutSeconds` (10 by default),
//! `sideEffects` on dry runs, JSON patches of mutating webhooks, `warnings`,
//! and the refusal's `status` (code and message).
//!
//! What is not: `clientConfig.service` (nothing here resolves Services; such
//! a webhook fails as unreachable), `namespaceSelector`, `objectSelector`,
//! `matchConditions`, `matchPolicy: Equivalent`, `reinvocationPolicy`,
//! parallel calls of validating webhooks, and `deletecollection` (its items
//! are deleted without webhooks). Only webhooks on loopback
//! addresses are called; any other host fails as unreachable.

mod call;
mod rules;

use std::sync::Arc;

use serde_json::{json, Value};

use crate::auth::User;
use crate::resource::Kind;
use crate::status::ApiError;
use crate::store::{ListAt, ListQuery, Store};

/// The operation under admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Operation {
    Create,
    Update,
    Delete,
}

impl Operation {
    fn as_str(self) -> &'static str {
        match self {
            Operation::Create => "CREATE",
            Operation::Update => "UPDATE",
            Operation::Delete => "DELETE",
        }
    }
}

/// One request under admission.
pub(crate) struct Attributes<'a> {
    pub operation: Operation,
    pub kind: &'static Kind,
    pub subresource: Option<&'a str>,
    pub namespace: &'a str,
    pub name: &'a str,
    pub user: &'a User,
    pub dry_run: bool,
    /// The options object of the request (`CreateOptions`, ...).
    pub options: Value,
}

/// Which configurations to call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Mutating,
    Validating,
}

/// The warnings webhooks returned, for `Warning` headers.
#[derive(Debug, Default)]
pub(crate) struct Warnings(pub Vec<String>);

/// Returns true when some webhook configuration is stored (the fast path).
pub(crate) fn any(store: &Store) -> bool {
    [
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
    ]
    .iter()
    .filter_map(|plural| Kind::find("admissionregistration.k8s.io", "v1", plural))
    .any(|kind| !configurations(store, kind).is_empty())
}

/// Runs the mutating webhooks; returns the object they leave.
pub(crate) async fn mutate(
    store: &Store,
    attrs: &Attributes<'_>,
    object: Option<Value>,
    old: Option<&Value>,
    warnings: &mut Warnings,
) -> Result<Option<Value>, ApiError> {
    let mut object = object;
    for webhook in webhooks(store, Phase::Mutating, attrs) {
        let response = webhook.call(attrs, object.as_ref(), old).await?;
        let Some(response) = response else { continue };
        warnings.0.extend(response.warnings);
        if let (Some(patch), Some(current)) = (response.patch, object.as_mut()) {
            let patched = crate::patch::apply(current, crate::patch::PatchType::Json, &patch)
                .map_err(|e| {
                    ApiError::internal(
                        500,
                        format!(
                            "admission webhook {:?} returned a patch that does not apply: {}",
                            webhook.name, e.message
                        ),
                    )
                })?;
            *current = patched;
        }
    }
    Ok(object)
}

/// Runs the validating webhooks on the object as it would be stored.
pub(crate) async fn validate(
    store: &Store,
    attrs: &Attributes<'_>,
    object: Option<&Value>,
    old: Option<&Value>,
    warnings: &mut Warnings,
) -> Result<(), ApiError> {
    for webhook in webhooks(store, Phase::Validating, attrs) {
        if let Some(response) = webhook.call(attrs, object, old).await? {
            warnings.0.extend(response.warnings);
        }
    }
    Ok(())
}

/// One webhook of a configuration.
pub(crate) struct Webhook {
    name: String,
    spec: Value,
}

/// Every stored configuration of a kind, ordered by name as the real server orders them.
fn configurations(store: &Store, kind: &'static Kind) -> Vec<Arc<Value>> {
    let query = ListQuery {
        at: ListAt::Latest,
        labels: Default::default(),
        fields: Default::default(),
        limit: None,
        continue_token: None,
    };
    let mut items = store
        .list(kind, "", &query)
        .map(|p| p.items)
        .unwrap_or_default();
    items.sort_by(|a, b| {
        let name = |v: &Value| v["metadata"]["name"].as_str().unwrap_or("").to_owned();
        name(a).cmp(&name(b))
    });
    items
}

/// The webhooks of one phase whose rules match the request.
fn webhooks(store: &Store, phase: Phase, attrs: &Attributes<'_>) -> Vec<Webhook> {
    // Webhook configurations are never sent to webhooks: a bad webhook could
    // otherwise lock everyone out of fixing it.
    if attrs.kind.group == "admissionregistration.k8s.io" {
        return Vec::new();
    }
    let plural = match phase {
        Phase::Mutating => "mutatingwebhookconfigurations",
        Phase::Validating => "validatingwebhookconfigurations",
    };
    let Some(kind) = Kind::find("admissionregistration.k8s.io", "v1", plural) else {
        return Vec::new();
    };
    let mut matched = Vec::new();
    for configuration in configurations(store, kind) {
        for spec in configuration["webhooks"].as_array().into_iter().flatten() {
            if rules::matches(spec, attrs) {
                let name = spec["name"].as_str().unwrap_or("").to_owned();
                matched.push(Webhook {
                    name,
                    spec: spec.clone(),
                });
            }
        }
    }
    matched
}

/// What a webhook answered, once allowed.
pub(crate) struct Allowed {
    pub warnings: Vec<String>,
    pub patch: Option<Vec<u8>>,
}

impl Webhook {
    /// Calls the webhook; `None` when it failed and its failure policy ignores that.
    async fn call(
        &self,
        attrs: &Attributes<'_>,
        object: Option<&Value>,
        old: Option<&Value>,
    ) -> Result<Option<Allowed>, ApiError> {
        let side_effects = self.spec["sideEffects"].as_str().unwrap_or("Unknown");
        if attrs.dry_run && !matches!(side_effects, "None" | "NoneOnDryRun") {
            return Err(ApiError::bad_request(format!(
                "admission webhook {:?} does not support dry run",
                self.name
            )));
        }
        let uid = format!("{:032x}", fastrand::u128(..));
        let review = review(&uid, attrs, object, old);
        match call::post(&self.spec, &review).await {
            Ok(answer) => self.judge(&uid, &answer),
            Err(error) => self.failed(&error),
        }
    }

    /// Reads the AdmissionReview a webhook answered with.
    fn judge(&self, uid: &str, answer: &Value) -> Result<Option<Allowed>, ApiError> {
        let response = &answer["response"];
        if answer["apiVersion"] != "admission.k8s.io/v1" || answer["kind"] != "AdmissionReview" {
            return self.failed("expected an admission.k8s.io/v1 AdmissionReview in the response");
        }
        if response["uid"] != uid {
            return self.failed("the response uid does not match the request uid");
        }
        let warnings: Vec<String> = response["warnings"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|w| w.as_str().map(str::to_owned))
            .collect();
        if response["allowed"] != true {
            let status = &response["status"];
            let code = status["code"]
                .as_u64()
                .and_then(|c| u16::try_from(c).ok())
                .filter(|c| (400..600).contains(c))
                .unwrap_or(403);
            let mut message = format!("admission webhook {:?} denied the request", self.name);
            if let Some(text) = status["message"].as_str().filter(|m| !m.is_empty()) {
                message = format!("{message}: {text}");
            }
            let mut error = ApiError::unknown(code, message);
            error.reason = match code {
                400 => "BadRequest",
                403 => "Forbidden",
                422 => "Invalid",
                _ => "",
            };
            return Err(error);
        }
        let patch = match (&response["patch"], response["patchType"].as_str()) {
            (Value::Null, _) => None,
            (patch, Some("JSONPatch")) => match call::decode_patch(patch) {
                Some(patch) => Some(patch),
                None => return self.failed("the patch is not a base64 JSON patch"),
            },
            (_, other) => {
                let why = format!("unsupported patchType {other:?}");
                return self.failed(&why);
            }
        };
        Ok(Some(Allowed { warnings, patch }))
    }

    /// A call that failed: an error under `Fail`, nothing under `Ignore`.
    fn failed(&self, why: &str) -> Result<Option<Allowed>, ApiError> {
        if self.spec["failurePolicy"] == "Ignore" {
            tracing::warn!(webhook = %self.name, error = why, "webhook failed; ignored by policy");
            return Ok(None);
        }
        Err(ApiError::internal(
            500,
            format!("failed calling webhook {:?}: {why}", self.name),
        ))
    }
}

/// The AdmissionReview sent for a request.
fn review(uid: &str, attrs: &Attributes<'_>, object: Option<&Value>, old: Option<&Value>) -> Value {
    let kind = attrs.kind;
    let gvk = json!({"group": kind.group, "version": kind.version, "kind": kind.kind});
    let gvr = json!({"group": kind.group, "version": kind.version, "resource": kind.plural});
    let namespace = (!attrs.namespace.is_empty()).then_some(attrs.namespace);
    let mut request = json!({
        "uid": uid,
        "kind": gvk,
        "resource": gvr,
        "requestKind": gvk,
        "requestResource": gvr,
        "name": attrs.name,
        "namespace": namespace,
        "operation": attrs.operation.as_str(),
        "userInfo": {"username": attrs.user.name, "groups": ["system:authenticated"]},
        "object": object,
        "oldObject": old,
        "dryRun": attrs.dry_run,
        "options": attrs.options,
    });
    if let Some(sub) = attrs.subresource {
        request["subResource"] = sub.into();
        request["requestSubResource"] = sub.into();
    }
    json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
}
