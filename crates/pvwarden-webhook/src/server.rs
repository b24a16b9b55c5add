//! The HTTPS server: TLS handshakes, HTTP/1.1, and the routes.
//!
//! | route | answer |
//! |---|---|
//! | `POST /mutate` | AdmissionReview of the mutating stage |
//! | `POST /validate` | AdmissionReview of the validating stage |
//! | `GET /healthz` | 200 while the process serves |
//! | `GET /readyz` | 200 once the view of the cluster is complete, else 503 |

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use crate::decide::{Decider, Stage};
use crate::review::{self, Reply, MAX_BODY};

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A request as the handlers see it: method, path and the whole body.
#[derive(Debug)]
pub struct Call {
    /// The HTTP method.
    pub method: Method,
    /// The path, without the query.
    pub path: String,
    /// The body, at most [`MAX_BODY`] bytes.
    pub body: Bytes,
}

/// Serves HTTPS on `listener` until the process ends, answering with `handler`.
///
/// Each connection runs in its own task; a failed handshake or connection is
/// logged and costs only that connection.
pub async fn serve<H, F>(listener: TcpListener, tls: Arc<ServerConfig>, handler: H)
where
    H: Fn(Call) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(tls);
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(error) => {
                // Out of file descriptors and the like: wait, then go on.
                tracing::warn!(error = %error, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        tokio::spawn(connection(acceptor.clone(), tcp, peer, handler.clone()));
    }
}

async fn connection<H, F>(
    acceptor: TlsAcceptor,
    tcp: tokio::net::TcpStream,
    peer: SocketAddr,
    handler: H,
) where
    H: Fn(Call) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Reply> + Send + 'static,
{
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(peer = %peer, error = %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %peer, "TLS handshake timed out");
            return;
        }
    };
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let handler = handler.clone();
        async move { Ok::<_, std::convert::Infallible>(respond(req, handler).await) }
    });
    let served = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await;
    if let Err(error) = served {
        tracing::debug!(peer = %peer, error = %error, "connection ended with an error");
    }
}

async fn respond<H, F>(req: Request<Incoming>, handler: H) -> Response<Full<Bytes>>
where
    H: Fn(Call) -> F,
    F: Future<Output = Reply>,
{
    let (parts, body) = req.into_parts();
    let reply = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => {
            let call = Call {
                method: parts.method,
                path: parts.uri.path().to_owned(),
                body: body.to_bytes(),
            };
            handler(call).await
        }
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Reply::error(
            413,
            "RequestEntityTooLarge",
            &format!("the request body is larger than {MAX_BODY} bytes"),
        ),
        Err(error) => Reply::error(400, "BadRequest", &format!("cannot read the body: {error}")),
    };
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = Response::new(Full::new(Bytes::from(reply.body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Answers one call of the webhook's routes.
pub fn route(decider: &Decider, call: &Call) -> Reply {
    let stage = match (&call.method, call.path.as_str()) {
        (&Method::POST, "/mutate") => Stage::Mutate,
        (&Method::POST, "/validate") => Stage::Validate,
        (&Method::GET, "/healthz") => return text(200, "ok"),
        (&Method::GET, "/readyz") if decider.view().is_ready() => return text(200, "ok"),
        (&Method::GET, "/readyz") => return text(503, "the view of the cluster is not complete"),
        (_, "/mutate" | "/validate") => {
            return Reply::error(405, "MethodNotAllowed", "admission reviews are POSTed");
        }
        _ => return Reply::error(404, "NotFound", "no such path"),
    };
    let span = tracing::info_span!(
        "admission",
        uid = tracing::field::Empty,
        kind = tracing::field::Empty,
        ns = tracing::field::Empty,
        name = tracing::field::Empty,
        operation = tracing::field::Empty,
        allowed = tracing::field::Empty,
    );
    let _entered = span.enter();
    let (reply, summary) = review::answer(decider, stage, &call.body);
    span.record("uid", summary.uid.as_str());
    span.record("kind", summary.kind.as_str());
    span.record("ns", summary.ns.as_str());
    span.record("name", summary.name.as_str());
    span.record("operation", summary.operation);
    span.record("allowed", summary.allowed);
    if reply.status != 200 {
        tracing::warn!(status = reply.status, "malformed admission request");
    } else if !summary.rules.is_empty() {
        let rules = summary.rules.join(",");
        let stage = if stage == Stage::Mutate {
            "mutate"
        } else {
            "validate"
        };
        tracing::info!(
            rules,
            stage,
            dry_run = summary.dry_run,
            "admission decision"
        );
    } else {
        tracing::debug!("admitted");
    }
    reply
}

fn text(status: u16, body: &str) -> Reply {
    Reply {
        status,
        body: serde_json::json!({ "status": body })
            .to_string()
            .into_bytes(),
    }
}
