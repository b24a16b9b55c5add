//! Kubernetes `Status` error bodies, worded as the real API server words them.
//!
//! Every failure a handler can answer is an [`ApiError`]; it renders to the
//! `meta.k8s.io` `Status` object that client-go and kube-rs decode. Messages
//! follow `k8s.io/apimachinery/pkg/api/errors` and the API server's filters.

use serde_json::{json, Map, Value};

use crate::resource::Kind;

/// One failed API request: an HTTP code and the `Status` body to send.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The HTTP status code, repeated as `code` in the body.
    pub code: u16,
    /// The machine-readable `reason` (`NotFound`, `Conflict`, ...).
    pub reason: &'static str,
    /// The human-readable `message`.
    pub message: String,
    /// The `details` object, when the real server sends one.
    pub details: Option<Value>,
}

/// One `causes` entry of an `Invalid` error: a field and what is wrong with it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Cause {
    /// The cause type: `FieldValueRequired`, `FieldValueInvalid`, `FieldValueForbidden`.
    pub kind: &'static str,
    /// The field path, e.g. `metadata.name`.
    pub field: String,
    /// The message without the field, e.g. `Required value: name is required`.
    pub body: String,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: String, details: Option<Value>) -> Self {
        ApiError {
            code,
            reason,
            message,
            details,
        }
    }

    /// `404 NotFound` for a named object.
    pub(crate) fn not_found(kind: &Kind, name: &str) -> Self {
        let gr = kind.group_resource();
        let message = format!("{gr} {} not found", quote(name));
        Self::new(404, "NotFound", message, Some(details(kind, name)))
    }

    /// `404 NotFound` for a namespace that a namespaced object would live in.
    pub(crate) fn namespace_not_found(namespace: &str) -> Self {
        let details = json!({"name": namespace, "kind": "namespaces"});
        let message = format!("namespaces {} not found", quote(namespace));
        Self::new(404, "NotFound", message, Some(details))
    }

    /// `404 NotFound` for a path that names no resource, as the mux answers it.
    pub(crate) fn no_route() -> Self {
        let message = "the server could not find the requested resource".to_owned();
        Self::new(404, "NotFound", message, Some(json!({})))
    }

    /// `409 AlreadyExists` on create.
    pub(crate) fn already_exists(kind: &Kind, name: &str) -> Self {
        let gr = kind.group_resource();
        let message = format!("{gr} {} already exists", quote(name));
        Self::new(409, "AlreadyExists", message, Some(details(kind, name)))
    }

    /// `409 Conflict` for a stale `resourceVersion` or a failed precondition.
    pub(crate) fn conflict(kind: &Kind, name: &str, why: &str) -> Self {
        let gr = kind.group_resource();
        let message = format!(
            "Operation cannot be fulfilled on {gr} {}: {why}",
            quote(name)
        );
        Self::new(409, "Conflict", message, Some(details(kind, name)))
    }

    /// The standard `409 Conflict` for a stale `resourceVersion`.
    pub(crate) fn stale(kind: &Kind, name: &str) -> Self {
        let why = "the object has been modified; please apply your changes to the latest \
                   version and try again";
        Self::conflict(kind, name, why)
    }

    /// `422 Invalid` with field causes.
    pub(crate) fn invalid(kind: &Kind, name: &str, causes: &[Cause]) -> Self {
        let errors: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.body))
            .collect();
        let all = match errors.as_slice() {
            [one] => one.clone(),
            many => format!("[{}]", many.join(", ")),
        };
        let message = format!("{} {} is invalid: {all}", kind.group_kind(), quote(name));
        let causes: Vec<Value> = causes
            .iter()
            .map(|c| json!({"reason": c.kind, "message": c.body, "field": c.field}))
            .collect();
        let mut details = Map::new();
        details.insert("name".into(), name.into());
        if !kind.group.is_empty() {
            details.insert("group".into(), kind.group.into());
        }
        details.insert("kind".into(), kind.kind.into());
        details.insert("causes".into(), causes.into());
        Self::new(422, "Invalid", message, Some(Value::Object(details)))
    }

    /// `422 Invalid` for a JSON patch that cannot be applied (a failed `test`,
    /// a missing path): the real server drops the patch library's message.
    pub(crate) fn patch_not_applicable() -> Self {
        let message = "the server rejected our request due to an error in our request";
        Self::new(422, "Invalid", message.to_owned(), Some(json!({})))
    }

    /// `410 Expired`, for too old resource versions and continue tokens.
    pub(crate) fn expired(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message.into(), None)
    }

    /// `400 BadRequest`.
    pub(crate) fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message.into(), None)
    }

    /// `401 Unauthorized`, as the authentication filter answers it.
    pub(crate) fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized".to_owned(), None)
    }

    /// `403 Forbidden` for a resource request, as RBAC's denial reads.
    pub(crate) fn forbidden(user: &str, verb: &str, target: &Target<'_>) -> Self {
        let Target {
            kind,
            subresource,
            namespace,
            name,
        } = *target;
        let resource = match subresource {
            Some(sub) => format!("{}/{sub}", kind.plural),
            None => kind.plural.to_owned(),
        };
        let scope = match namespace {
            Some(ns) => format!("in the namespace {}", quote(ns)),
            None => "at the cluster scope".to_owned(),
        };
        let why = format!(
            "User {} cannot {verb} resource {} in API group {} {scope}",
            quote(user),
            quote(&resource),
            quote(kind.group)
        );
        let gr = kind.group_resource();
        let message = match name {
            Some(name) if !name.is_empty() => format!("{gr} {} is forbidden: {why}", quote(name)),
            _ => format!("{gr} is forbidden: {why}"),
        };
        let mut details = Map::new();
        if let Some(name) = name.filter(|n| !n.is_empty()) {
            details.insert("name".into(), name.into());
        }
        if !kind.group.is_empty() {
            details.insert("group".into(), kind.group.into());
        }
        details.insert("kind".into(), kind.plural.into());
        Self::new(403, "Forbidden", message, Some(Value::Object(details)))
    }

    /// `403 Forbidden` for a path that is not a resource (discovery, test endpoints).
    pub(crate) fn forbidden_path(user: &str, verb: &str, path: &str) -> Self {
        let message = format!(
            "forbidden: User {} cannot {verb} path {}",
            quote(user),
            quote(path)
        );
        Self::new(403, "Forbidden", message, Some(json!({})))
    }

    /// `405 MethodNotAllowed`, as the router answers a method a path does not serve.
    pub(crate) fn method_not_allowed() -> Self {
        let message = "the server does not allow this method on the requested resource";
        Self::new(405, "MethodNotAllowed", message.to_owned(), Some(json!({})))
    }

    /// `415 UnsupportedMediaType` for a patch or body type the resource does not take.
    pub(crate) fn unsupported_media_type(accepted: &[&str]) -> Self {
        let message = format!(
            "the body of the request was in an unknown format - accepted media types include: {}",
            accepted.join(", ")
        );
        Self::new(415, "UnsupportedMediaType", message, None)
    }

    /// `504 Timeout` for a list at a resource version the server has not reached.
    pub(crate) fn too_large_resource_version(asked: u64, current: u64) -> Self {
        let message = format!("Too large resource version: {asked}, current: {current}");
        let details = json!({
            "causes": [{
                "reason": "ResourceVersionTooLarge",
                "message": "Too large resource version"
            }],
            "retryAfterSeconds": 1
        });
        Self::new(504, "Timeout", message, Some(details))
    }

    /// A failure the real server reports without a reason (a plain storage error).
    pub(crate) fn unknown(code: u16, message: impl Into<String>) -> Self {
        Self::new(code, "", message.into(), None)
    }

    /// `403 Forbidden` by an admission rule, e.g. creating in a terminating namespace.
    pub(crate) fn forbidden_by(kind: &Kind, name: &str, why: &str) -> Self {
        let gr = kind.group_resource();
        let message = if name.is_empty() {
            format!("{gr} is forbidden: {why}")
        } else {
            format!("{gr} {} is forbidden: {why}", quote(name))
        };
        Self::new(403, "Forbidden", message, Some(details(kind, name)))
    }

    /// An injected or internal failure with any code of 500 and above.
    pub(crate) fn internal(code: u16, message: impl Into<String>) -> Self {
        let message = format!("Internal error occurred: {}", message.into());
        Self::new(code, "InternalError", message, Some(json!({})))
    }

    /// `429 TooManyRequests`, for injected throttling.
    pub(crate) fn too_many_requests() -> Self {
        let message = "Too many requests, please try again later.".to_owned();
        let details = json!({"retryAfterSeconds": 1});
        Self::new(429, "TooManyRequests", message, Some(details))
    }

    /// An injected failure with the given HTTP code, worded by its class.
    pub(crate) fn injected(code: u16) -> Self {
        match code {
            429 => Self::too_many_requests(),
            409 => {
                let message = "the server reported a conflict (injected fault)".to_owned();
                Self::new(409, "Conflict", message, Some(json!({})))
            }
            503 => {
                let message = "the server is currently unable to handle the request".to_owned();
                Self::new(503, "ServiceUnavailable", message, Some(json!({})))
            }
            code => Self::internal(code, "injected fault"),
        }
    }

    /// The `Status` object of this error.
    pub fn to_status(&self) -> Value {
        let mut status = Map::new();
        status.insert("kind".into(), "Status".into());
        status.insert("apiVersion".into(), "v1".into());
        status.insert("metadata".into(), json!({}));
        status.insert("status".into(), "Failure".into());
        status.insert("message".into(), self.message.clone().into());
        if !self.reason.is_empty() {
            status.insert("reason".into(), self.reason.into());
        }
        if let Some(details) = &self.details {
            status.insert("details".into(), details.clone());
        }
        status.insert("code".into(), self.code.into());
        Value::Object(status)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.reason, self.message)
    }
}

impl std::error::Error for ApiError {}

/// What a forbidden request aimed at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    pub kind: &'a Kind,
    pub subresource: Option<&'a str>,
    pub namespace: Option<&'a str>,
    pub name: Option<&'a str>,
}

fn details(kind: &Kind, name: &str) -> Value {
    let mut details = Map::new();
    details.insert("name".into(), name.into());
    if !kind.group.is_empty() {
        details.insert("group".into(), kind.group.into());
    }
    details.insert("kind".into(), kind.plural.into());
    Value::Object(details)
}

/// Go's `%q` for the strings the messages quote.
pub(crate) fn quote(text: &str) -> String {
    // serde_json escapes like Go's %q for every printable string we put in messages.
    Value::from(text).to_string()
}
