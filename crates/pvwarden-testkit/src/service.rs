//! The HTTP side: authentication, faults, counting, routing and the handlers.
//!
//! [`handle`] serves one request. It authenticates the bearer token, routes
//! `/pvwarden-test/` to [`control`], applies the faults in force, counts the
//! request, and dispatches to discovery, OpenAPI or the REST handlers, which
//! turn the store's answers and [`ApiError`]s into responses.

mod admit;
mod body;
mod control;
mod discovery;
mod rest;
mod route;
mod table;
mod watch;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::{HeaderMap, Method, Request, Response};
use serde_json::Value;

pub(crate) use self::body::Body;
pub(crate) use self::control::initial_backend;

use crate::auth::{Auth, User};
use crate::fault::Faults;
use crate::status::ApiError;
use crate::store::Store;

use self::route::Route;

/// The largest request body accepted (the real server's limit is 3 MiB of object).
const MAX_BODY: usize = 16 << 20;

/// Everything the handlers share.
pub(crate) struct App {
    pub store: Store,
    pub auth: Auth,
    pub faults: Mutex<Faults>,
    pub counts: Mutex<Counts>,
    pub backend: Mutex<Value>,
    pub bookmark_interval: Duration,
    /// Turns `true` when the server shuts down; open watches end.
    pub closing: tokio::sync::watch::Receiver<bool>,
    /// `host:port`, for discovery's `serverAddressByClientCIDRs`.
    pub address: String,
}

/// Request counts, as `GET /pvwarden-test/requests` reports them.
#[derive(Debug, Default, serde::Serialize)]
pub(crate) struct Counts {
    pub total: u64,
    pub by: BTreeMap<String, u64>,
}

impl App {
    fn count(&self, key: String) {
        let mut counts = lock(&self.counts);
        counts.total += 1;
        *counts.by.entry(key).or_default() += 1;
    }

    fn faults(&self) -> Faults {
        lock(&self.faults).clone()
    }
}

/// Locks a mutex, going on with the data if a panicking holder poisoned it.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One parsed request.
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub query: Query,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Req {
    /// A header as text, empty when missing.
    pub(crate) fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// Whether the client asked for a server-side `Table`.
    pub(crate) fn wants_table(&self) -> bool {
        let accept = self.header("accept");
        let first = accept.split(',').next().unwrap_or("");
        first.contains("as=Table") && first.contains("g=meta.k8s.io")
    }
}

/// The decoded query string.
#[derive(Debug, Default, Clone)]
pub(crate) struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|pair| {
                let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(k), decode(v))
            })
            .collect();
        Query(pairs)
    }

    /// The first value of a parameter.
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Whether a boolean parameter is set (`true` or `1`).
    pub(crate) fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// Percent-decodes a query component (`+` is a space).
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Serves one request.
pub(crate) async fn handle(
    app: Arc<App>,
    request: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    let (parts, body) = request.into_parts();
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let span = tracing::debug_span!("request", method = %method, path = %path);
    let _entered = span.enter();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => {
            let err = ApiError::bad_request("the request body could not be read or is too large");
            return Ok(body::error(&err));
        }
    };
    let req = Req {
        method,
        query: Query::parse(parts.uri.query()),
        path,
        headers: parts.headers,
        body,
    };
    let response = serve(&app, req)
        .await
        .unwrap_or_else(|err| body::error(&err));
    tracing::debug!(status = response.status().as_u16(), "served");
    Ok(response)
}

async fn serve(app: &Arc<App>, req: Req) -> Result<Response<Body>, ApiError> {
    let user = app
        .auth
        .authenticate(
            req.headers
                .get("authorization")
                .and_then(|v| v.to_str().ok()),
        )
        .ok_or_else(ApiError::unauthorized)?;
    if req.path.starts_with("/pvwarden-test/") || req.path == "/pvwarden-test" {
        if !user.admin {
            let verb = req.method.as_str().to_ascii_lowercase();
            return Err(ApiError::forbidden_path(&user.name, &verb, &req.path));
        }
        return control::serve(app, &req);
    }

    let faults = app.faults();
    if faults.applies_to(&req.path) {
        if faults.latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(faults.latency_ms)).await;
        }
        if faults.draw_error() {
            app.count(format!(
                "{} {}",
                req.method.as_str().to_ascii_lowercase(),
                req.path
            ));
            tracing::debug!(status = faults.error_status, "injected error");
            return Err(ApiError::injected(faults.error_status));
        }
    }

    match route::parse(&req.path) {
        Route::Resource(target) => rest::serve(app, &user, &req, &target, &faults).await,
        Route::Unknown => {
            count_path(app, &req);
            Err(ApiError::no_route())
        }
        other => {
            count_path(app, &req);
            non_resource(app, &user, &req, other)
        }
    }
}

fn count_path(app: &App, req: &Req) {
    app.count(format!(
        "{} {}",
        req.method.as_str().to_ascii_lowercase(),
        req.path
    ));
}

fn non_resource(
    app: &App,
    user: &User,
    req: &Req,
    route: Route,
) -> Result<Response<Body>, ApiError> {
    if req.method != Method::GET {
        let verb = req.method.as_str().to_ascii_lowercase();
        return Err(ApiError::forbidden_path(&user.name, &verb, &req.path));
    }
    let value = match route {
        Route::Health => return Ok(body::text(200, "ok")),
        Route::Version => discovery::version(),
        Route::Api => discovery::api(&app.address),
        Route::Apis => discovery::apis(),
        Route::Group(group) => discovery::group(&group).ok_or_else(ApiError::no_route)?,
        Route::Resources(group, version) => {
            discovery::resources(&group, &version).ok_or_else(ApiError::no_route)?
        }
        Route::OpenApiV2 => return Err(ApiError::no_route()),
        Route::OpenApiV3 => discovery::openapi_root(),
        Route::OpenApiV3Doc(group, version) => {
            discovery::openapi_doc(&group, &version).ok_or_else(ApiError::no_route)?
        }
        Route::Resource(_) | Route::Unknown => return Err(ApiError::no_route()),
    };
    Ok(body::json(200, &value))
}
