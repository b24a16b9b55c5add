//! The `/pvwarden-test/` endpoints: backend document, request counts, faults.
//!
//! | path | verbs | what |
//! |---|---|---|
//! | `/pvwarden-test/backend` | GET, PUT | the storage backend document the CSI actor works on |
//! | `/pvwarden-test/requests` | GET, DELETE | request counts; DELETE resets them |
//! | `/pvwarden-test/faults` | GET, PUT, DELETE | faults in force; DELETE clears them |
//! | `/pvwarden-test/compact` | POST | drops all watch history, so older versions get 410 |

use std::sync::Arc;

use hyper::{Method, Response};
use serde_json::{json, Value};

use super::{body, lock, App, Body, Req};
use crate::fault::Faults;
use crate::status::ApiError;

/// The backend document a new server starts with.
pub(crate) fn initial_backend() -> Value {
    json!({"volumes": [], "pools": [], "faults": {}})
}

pub(super) fn serve(app: &Arc<App>, req: &Req) -> Result<Response<Body>, ApiError> {
    let endpoint = req
        .path
        .trim_start_matches("/pvwarden-test/")
        .trim_end_matches('/');
    match (endpoint, &req.method) {
        ("backend", &Method::GET) => Ok(body::json(200, &lock(&app.backend))),
        ("backend", &Method::PUT) => {
            let document: Value = decode(req)?;
            if !document.is_object() {
                return Err(ApiError::bad_request(
                    "the backend document must be a JSON object",
                ));
            }
            *lock(&app.backend) = document.clone();
            tracing::debug!("backend document replaced");
            Ok(body::json(200, &document))
        }
        ("requests", &Method::GET) => {
            let counts = serde_json::to_value(&*lock(&app.counts)).unwrap_or_default();
            Ok(body::json(200, &counts))
        }
        ("requests", &Method::DELETE) => {
            *lock(&app.counts) = super::Counts::default();
            Ok(body::json(200, &json!({"total": 0, "by": {}})))
        }
        ("faults", &Method::GET) => Ok(faults_json(&lock(&app.faults))),
        ("faults", &Method::PUT) => {
            let faults: Faults = decode(req)?;
            faults.validate().map_err(ApiError::bad_request)?;
            tracing::info!(faults = ?faults, "faults set");
            *lock(&app.faults) = faults.clone();
            Ok(faults_json(&faults))
        }
        ("faults", &Method::DELETE) => {
            *lock(&app.faults) = Faults::default();
            Ok(faults_json(&Faults::default()))
        }
        ("compact", &Method::POST) => {
            app.store.compact();
            let rv = app.store.current_rv().to_string();
            Ok(body::json(200, &json!({"compacted": rv})))
        }
        ("backend" | "requests" | "faults" | "compact", method) => {
            let message = format!("{method} is not supported on {}", req.path);
            Err(ApiError {
                code: 405,
                reason: "MethodNotAllowed",
                message,
                details: None,
            })
        }
        _ => Err(ApiError::no_route()),
    }
}

fn faults_json(faults: &Faults) -> Response<Body> {
    body::json(200, &serde_json::to_value(faults).unwrap_or_default())
}

fn decode<T: serde::de::DeserializeOwned>(req: &Req) -> Result<T, ApiError> {
    serde_json::from_slice(&req.body).map_err(|e| {
        ApiError::bad_request(format!("the body is not valid JSON for {}: {e}", req.path))
    })
}
