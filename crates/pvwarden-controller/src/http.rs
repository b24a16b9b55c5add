//! `/healthz`, `/readyz` and `/metrics` over plain HTTP/1.
//!
//! - `/healthz`: 200 while the process serves requests.
//! - `/readyz`: 200 once every watched kind has been listed and one audit pass
//!   has completed, 503 before.
//! - `/metrics`: the OpenMetrics text of [`Metrics`].
//!
//! The listener is meant for the pod network (kubelet probes, Prometheus);
//! nothing it serves is secret, and it accepts no input but the path.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::metrics::Metrics;

/// The media type of OpenMetrics text.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// What the endpoints read.
#[derive(Debug)]
pub(crate) struct Health {
    pub(crate) metrics: Arc<Metrics>,
    pub(crate) ready: AtomicBool,
}

/// Serves the endpoints on `listener` until `stop` turns true.
pub(crate) async fn serve(
    listener: TcpListener,
    health: Arc<Health>,
    mut stop: watch::Receiver<bool>,
) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(err) => {
                tracing::warn!(error = %err, "cannot accept a connection");
                continue;
            }
        };
        let health = health.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                let health = health.clone();
                async move { Ok::<_, Infallible>(answer(&req, &health)) }
            });
            let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, "connection ended with an error");
            }
        });
    }
}

fn answer(req: &Request<Incoming>, health: &Health) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return text(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD\n");
    }
    match req.uri().path() {
        "/healthz" => text(StatusCode::OK, "ok\n"),
        "/readyz" if health.ready.load(Ordering::Acquire) => text(StatusCode::OK, "ok\n"),
        "/readyz" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: the first list or audit pass is not done\n",
        ),
        "/metrics" => {
            let mut response = Response::new(Full::new(Bytes::from(health.metrics.render())));
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static(OPENMETRICS),
            );
            response
        }
        _ => text(StatusCode::NOT_FOUND, "not found\n"),
    }
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}
