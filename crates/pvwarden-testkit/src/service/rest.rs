//! The REST verbs on resources: get, list, watch, create, update, patch, delete.

use std::sync::Arc;

use hyper::{Method, Response};
use serde_json::{json, Map, Value};

use super::route::Target;
use super::table::{self, Include};
use super::{admit, body, watch, App, Body, Req};
use crate::auth::User;
use crate::fault::Faults;
use crate::patch::{self, PatchType};
use crate::protobuf;
use crate::resource::Kind;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{self, ApiError};
use crate::store::{ListAt, ListQuery, Page, Preconditions, WriteOptions};

pub(super) async fn serve(
    app: &Arc<App>,
    user: &User,
    req: &Req,
    target: &Target,
    faults: &Faults,
) -> Result<Response<Body>, ApiError> {
    let kind = target.kind;
    let ns = target.namespace.as_deref().unwrap_or("");
    let name = target.name.as_deref().unwrap_or("");
    let verb = verb_of(req, target)?;
    admit(app, user, req, target, verb, faults)?;

    let opts = WriteOptions {
        dry_run: dry_run(req)?,
        preload: false,
    };
    match verb {
        "get" => get(app, req, kind, ns, name),
        "list" => list(app, req, kind, ns),
        "watch" => watch::serve(app, req, kind, ns, name),
        "create" => {
            let object = decode_body(req, kind)?;
            let (object, warnings) = admit::create(app, user, target, object, opts).await?;
            let created = app.store.create(kind, ns, object, opts)?;
            let created_name = created["metadata"]["name"].as_str().unwrap_or("");
            tracing::debug!(kind = kind.kind, ns, name = created_name, "created");
            Ok(admit::attach(body::json(201, &created), warnings))
        }
        "update" => {
            let object = decode_body(req, kind)?;
            let (updated, warnings) =
                admit::update(app, user, target, opts, |_| Ok(object.clone())).await?;
            Ok(admit::attach(body::json(200, &updated), warnings))
        }
        "patch" => {
            let patch_type = PatchType::from_content_type(req.header("content-type"), kind)?;
            let (patched, warnings) = admit::update(app, user, target, opts, |current| {
                patch::apply(current, patch_type, &req.body)
            })
            .await?;
            tracing::debug!(
                kind = kind.kind,
                ns,
                name,
                patch = patch_type.name(),
                "patched"
            );
            Ok(admit::attach(body::json(200, &patched), warnings))
        }
        "delete" => {
            let dry_run = opts.dry_run || delete_request(req)?.dry_run;
            let warnings = admit::delete(app, user, target, dry_run).await?;
            Ok(admit::attach(
                delete(app, req, kind, ns, name, opts)?,
                warnings,
            ))
        }
        "deletecollection" => delete_collection(app, req, kind, ns, opts),
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Checks the user's permission, counts the request, and draws injected conflicts.
fn admit(
    app: &App,
    user: &User,
    req: &Req,
    target: &Target,
    verb: &str,
    faults: &Faults,
) -> Result<(), ApiError> {
    let kind = target.kind;
    let sub = target.subresource.as_deref();
    let resource = match sub {
        Some(sub) => format!("{}/{sub}", kind.plural),
        None => kind.plural.to_owned(),
    };
    if !user.may(verb, kind.group, &resource) {
        let at = status::Target {
            kind,
            subresource: sub,
            namespace: target.namespace.as_deref(),
            name: target.name.as_deref(),
        };
        tracing::warn!(user = %user.name, verb, resource = %resource, "request forbidden");
        return Err(ApiError::forbidden(&user.name, verb, &at));
    }
    let suffix = sub.map(|s| format!("/{s}")).unwrap_or_default();
    app.count(format!("{verb} {}{suffix}", kind.key()));
    let write = matches!(verb, "update" | "patch");
    if write && faults.applies_to(&req.path) && faults.draw_conflict() {
        let name = target.name.as_deref().unwrap_or("");
        return Err(ApiError::stale(kind, name));
    }
    Ok(())
}

fn get(
    app: &App,
    req: &Req,
    kind: &'static Kind,
    ns: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let object = app.store.get(kind, ns, name)?;
    if req.wants_table() {
        let include = Include::from_query(req.query.get("includeObject"));
        let meta = json!({"resourceVersion": object["metadata"]["resourceVersion"]});
        return Ok(body::json(
            200,
            &table::table(kind, &[object], meta, include),
        ));
    }
    Ok(body::json(200, &object))
}

/// The Kubernetes verb of a request, or `405` for a method the path does not serve.
fn verb_of(req: &Req, target: &Target) -> Result<&'static str, ApiError> {
    let named = target.name.is_some();
    let sub = target.subresource.is_some();
    let verb = match (&req.method, named) {
        (&Method::GET, true) if req.query.flag("watch") && !sub => "watch",
        (&Method::GET, true) => "get",
        (&Method::GET, false) if req.query.flag("watch") => "watch",
        (&Method::GET, false) => "list",
        (&Method::POST, false) => "create",
        (&Method::PUT, true) => "update",
        (&Method::PATCH, true) => "patch",
        (&Method::DELETE, true) if !sub => "delete",
        (&Method::DELETE, false) => "deletecollection",
        _ => return Err(ApiError::method_not_allowed()),
    };
    Ok(verb)
}

fn dry_run(req: &Req) -> Result<bool, ApiError> {
    match req.query.get("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "dryRun: Unsupported value: {}: supported values: \"All\"",
            status::quote(other)
        ))),
    }
}

fn decode_body(req: &Req, kind: &Kind) -> Result<Value, ApiError> {
    if req.header("content-type").starts_with(protobuf::MEDIA_TYPE) {
        return protobuf::decode(kind, &req.body);
    }
    let value: Value = serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request could not be decoded as JSON: {e}"
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(value)
}

/// Parses the list parameters shared by list and deletecollection.
pub(super) fn list_query(req: &Req, kind: &Kind) -> Result<ListQuery, ApiError> {
    let rv = req.query.get("resourceVersion").unwrap_or("");
    let continue_token = req
        .query
        .get("continue")
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    if continue_token.is_some() && !rv.is_empty() && rv != "0" {
        return Err(ApiError::bad_request(
            "specifying resource version is not allowed when using continue",
        ));
    }
    let at = match (rv, req.query.get("resourceVersionMatch").unwrap_or("")) {
        ("" | "0", _) => ListAt::Latest,
        (rv, exact) => {
            let rv: u64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            if exact == "Exact" {
                ListAt::Exact(rv)
            } else {
                ListAt::NotOlderThan(rv)
            }
        }
    };
    let limit = match req.query.get("limit").filter(|l| !l.is_empty()) {
        Some(l) => Some(
            l.parse::<usize>()
                .map_err(|_| ApiError::bad_request(format!("invalid limit: {l}")))?,
        ),
        None => None,
    };
    Ok(ListQuery {
        at,
        labels: LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(req.query.get("fieldSelector").unwrap_or(""), kind)?,
        limit,
        continue_token,
    })
}

fn list(app: &App, req: &Req, kind: &'static Kind, ns: &str) -> Result<Response<Body>, ApiError> {
    let query = list_query(req, kind)?;
    let page = app.store.list(kind, ns, &query)?;
    let meta = list_meta(&page);
    if req.wants_table() {
        let include = Include::from_query(req.query.get("includeObject"));
        return Ok(body::json(
            200,
            &table::table(kind, &page.items, meta, include),
        ));
    }
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|item| list_item(kind, item))
        .collect();
    Ok(body::json(200, &list_json(kind, meta, items)))
}

fn list_meta(page: &Page) -> Value {
    let mut meta = Map::new();
    meta.insert("resourceVersion".into(), page.rv.to_string().into());
    if let Some(token) = &page.continue_token {
        meta.insert("continue".into(), token.clone().into());
    }
    if let Some(remaining) = page.remaining {
        meta.insert("remainingItemCount".into(), remaining.into());
    }
    Value::Object(meta)
}

fn list_json(kind: &Kind, meta: Value, items: Vec<Value>) -> Value {
    json!({
        "kind": format!("{}List", kind.kind),
        "apiVersion": kind.api_version(),
        "metadata": meta,
        "items": items
    })
}

/// A list item: built-in kinds' items carry no `kind` and `apiVersion`.
fn list_item(kind: &Kind, item: &Value) -> Value {
    let mut item = item.clone();
    if let (false, Value::Object(map)) = (kind.custom, &mut item) {
        map.remove("kind");
        map.remove("apiVersion");
    }
    item
}

/// What a DELETE asks for, from its `DeleteOptions` body and query.
struct DeleteRequest {
    pre: Preconditions,
    dry_run: bool,
    cascading: bool,
}

fn delete_request(req: &Req) -> Result<DeleteRequest, ApiError> {
    let options: Value = if req.body.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        serde_json::from_slice(&req.body).map_err(|e| {
            ApiError::bad_request(format!("the DeleteOptions body is not valid: {e}"))
        })?
    };
    let policy = options["propagationPolicy"]
        .as_str()
        .or(req.query.get("propagationPolicy"))
        .unwrap_or("");
    if !["", "Orphan", "Background", "Foreground"].contains(&policy) {
        return Err(ApiError {
            code: 422,
            reason: "Invalid",
            message: format!(
                "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \
                 {}: supported values: \"Foreground\", \"Background\", \"Orphan\"",
                status::quote(policy)
            ),
            details: Some(
                json!({"group": "meta.k8s.io", "kind": "DeleteOptions", "causes": [{
                "reason": "FieldValueNotSupported", "field": "propagationPolicy",
                "message": format!("Unsupported value: {}: supported values: \"Foreground\", \
                    \"Background\", \"Orphan\"", status::quote(policy))}]}),
            ),
        });
    }
    let dry = options["dryRun"]
        .as_array()
        .is_some_and(|d| d.iter().any(|v| v == "All"));
    let pre = Preconditions {
        uid: options["preconditions"]["uid"].as_str().map(str::to_owned),
        resource_version: options["preconditions"]["resourceVersion"]
            .as_str()
            .map(str::to_owned),
    };
    Ok(DeleteRequest {
        pre,
        dry_run: dry,
        cascading: options["orphanDependents"] == json!(false),
    })
}

fn delete(
    app: &App,
    req: &Req,
    kind: &'static Kind,
    ns: &str,
    name: &str,
    mut opts: WriteOptions,
) -> Result<Response<Body>, ApiError> {
    let request = delete_request(req)?;
    opts.dry_run |= request.dry_run;
    let object = app.store.delete(kind, ns, name, &request.pre, opts)?;
    let pending = object["metadata"].get("deletionTimestamp").is_some()
        && !object["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
    tracing::debug!(kind = kind.kind, ns, name, pending, "deleted");
    // The real server answers 202 only when deletion waits and the client
    // asked for cascading deletion the old way (`orphanDependents: false`).
    let code = if pending && request.cascading {
        202
    } else {
        200
    };
    Ok(body::json(code, &object))
}

fn delete_collection(
    app: &App,
    req: &Req,
    kind: &'static Kind,
    ns: &str,
    mut opts: WriteOptions,
) -> Result<Response<Body>, ApiError> {
    let request = delete_request(req)?;
    opts.dry_run |= request.dry_run;
    let mut query = list_query(req, kind)?;
    query.limit = None;
    let page = app.store.list(kind, ns, &query)?;
    let mut items = Vec::new();
    for item in &page.items {
        let ns = item["metadata"]["namespace"].as_str().unwrap_or("");
        let name = item["metadata"]["name"].as_str().unwrap_or("");
        match app
            .store
            .delete(kind, ns, name, &Preconditions::default(), opts)
        {
            Ok(object) => items.push(list_item(kind, &object)),
            // Gone in the meantime: someone else deleted it.
            Err(err) if err.code == 404 => {}
            Err(err) => return Err(err),
        }
    }
    let meta = json!({"resourceVersion": app.store.current_rv().to_string()});
    Ok(body::json(200, &list_json(kind, meta, items)))
}
