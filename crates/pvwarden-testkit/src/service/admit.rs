//! The REST verbs' side of admission: which objects the webhooks see, and when.

use hyper::header::{HeaderValue, WARNING};
use hyper::Response;
use serde_json::{json, Value};

use super::route::Target;
use super::{App, Body};
use crate::admission::{self, Attributes, Operation, Warnings};
use crate::auth::User;
use crate::status::ApiError;
use crate::store::WriteOptions;

fn attributes<'a>(
    user: &'a User,
    target: &'a Target,
    name: &'a str,
    operation: Operation,
    options: &str,
    dry_run: bool,
) -> Attributes<'a> {
    Attributes {
        operation,
        kind: target.kind,
        subresource: target.subresource.as_deref(),
        namespace: target.namespace.as_deref().unwrap_or(""),
        name,
        user,
        dry_run,
        options: json!({"kind": options, "apiVersion": "meta.k8s.io/v1"}),
    }
}

/// Admits a create: mutating webhooks, the store's dry run, validating webhooks.
pub(super) async fn create(
    app: &App,
    user: &User,
    target: &Target,
    object: Value,
    opts: WriteOptions,
) -> Result<(Value, Warnings), ApiError> {
    let mut warnings = Warnings::default();
    if !admission::any(&app.store) {
        return Ok((object, warnings));
    }
    let kind = target.kind;
    let ns = target.namespace.as_deref().unwrap_or("");
    let name = object["metadata"]["name"].as_str().unwrap_or("").to_owned();
    let attrs = attributes(
        user,
        target,
        &name,
        Operation::Create,
        "CreateOptions",
        opts.dry_run,
    );
    let object = admission::mutate(&app.store, &attrs, Some(object), None, &mut warnings)
        .await?
        .unwrap_or_default();
    let dry = WriteOptions {
        dry_run: true,
        ..opts
    };
    let stored = app.store.create(kind, ns, object.clone(), dry)?;
    admission::validate(&app.store, &attrs, Some(&stored), None, &mut warnings).await?;
    Ok((object, warnings))
}

/// Admits an update or patch; returns the object to store, with a guard that
/// the stored object did not change while the webhooks ran.
pub(super) async fn update(
    app: &App,
    user: &User,
    target: &Target,
    opts: WriteOptions,
    change: impl Fn(&Value) -> Result<Value, ApiError>,
) -> Result<(Value, Warnings), ApiError> {
    let kind = target.kind;
    let ns = target.namespace.as_deref().unwrap_or("");
    let name = target.name.as_deref().unwrap_or("");
    let status_only = target.subresource.as_deref() == Some("status");
    let mut warnings = Warnings::default();
    if !admission::any(&app.store) {
        let updated = app
            .store
            .update(kind, ns, name, status_only, opts, change)?;
        return Ok((updated, warnings));
    }
    let current = app.store.get(kind, ns, name)?;
    let requested = change(&current)?;
    let attrs = attributes(
        user,
        target,
        name,
        Operation::Update,
        "UpdateOptions",
        opts.dry_run,
    );
    let mutated = admission::mutate(
        &app.store,
        &attrs,
        Some(requested),
        Some(&current),
        &mut warnings,
    )
    .await?
    .unwrap_or_default();
    let unchanged = |now: &Value| {
        if now["metadata"]["resourceVersion"] == current["metadata"]["resourceVersion"] {
            Ok(mutated.clone())
        } else {
            let why = "the object has been modified; please apply your changes to the latest \
                       version and try again";
            Err(ApiError::conflict(kind, name, why))
        }
    };
    let dry = WriteOptions {
        dry_run: true,
        ..opts
    };
    let stored = app
        .store
        .update(kind, ns, name, status_only, dry, unchanged)?;
    admission::validate(
        &app.store,
        &attrs,
        Some(&stored),
        Some(&current),
        &mut warnings,
    )
    .await?;
    let updated = app
        .store
        .update(kind, ns, name, status_only, opts, unchanged)?;
    Ok((updated, warnings))
}

/// Admits a delete of the object as stored now.
pub(super) async fn delete(
    app: &App,
    user: &User,
    target: &Target,
    dry_run: bool,
) -> Result<Warnings, ApiError> {
    let mut warnings = Warnings::default();
    if !admission::any(&app.store) {
        return Ok(warnings);
    }
    let kind = target.kind;
    let ns = target.namespace.as_deref().unwrap_or("");
    let name = target.name.as_deref().unwrap_or("");
    let current = app.store.get(kind, ns, name)?;
    let attrs = attributes(
        user,
        target,
        name,
        Operation::Delete,
        "DeleteOptions",
        dry_run,
    );
    admission::mutate(&app.store, &attrs, None, Some(&current), &mut warnings).await?;
    admission::validate(&app.store, &attrs, None, Some(&current), &mut warnings).await?;
    Ok(warnings)
}

/// Adds the webhooks' warnings to a response, as `Warning: 299 - "text"` headers.
pub(super) fn attach(mut response: Response<Body>, warnings: Warnings) -> Response<Body> {
    for text in warnings.0 {
        // Header values are visible ASCII; the real server also drops what
        // cannot travel in a header.
        let clean: String = text
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        let quoted = clean.replace('\\', "\\\\").replace('"', "\\\"");
        if let Ok(value) = HeaderValue::from_str(&format!("299 - \"{quoted}\"")) {
            response.headers_mut().append(WARNING, value);
        }
    }
    response
}
