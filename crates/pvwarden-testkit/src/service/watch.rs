//! Watches: chunked, newline-delimited `{"type", "object"}` events.
//!
//! A watch without `resourceVersion` (or with `0`) starts with synthetic
//! `ADDED` events for the current objects; with a version it replays the
//! history after it, or sends one `ERROR` event with a `410 Expired` status
//! when that version is compacted. `sendInitialEvents=true` sends the current
//! objects and then a `BOOKMARK` annotated `k8s.io/initial-events-end`.
//! Bookmarks come every bookmark interval when `allowWatchBookmarks` is set.
//! With selectors, an object that stops matching is sent as `DELETED` and one
//! that starts matching as `ADDED`, as the watch cache does.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hyper::Response;
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;

use super::body::ChannelBody;
use super::table::{self, Include};
use super::{App, Body, Req};
use crate::resource::Kind;
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;
use crate::store::{event_json, Event, EventType, WatchFrom};

/// Which objects a watch sends.
struct Filter {
    ns: String,
    labels: LabelSelector,
    fields: FieldSelector,
}

impl Filter {
    fn matches(&self, object: &Value) -> bool {
        let ns = object["metadata"]["namespace"].as_str().unwrap_or("");
        (self.ns.is_empty() || ns == self.ns)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }
}

/// How a watch runs, from its query.
struct Options {
    bookmarks: bool,
    initial_events: bool,
    end_after: Option<Duration>,
    table: Option<Include>,
}

pub(super) fn serve(
    app: &Arc<App>,
    req: &Req,
    kind: &'static Kind,
    ns: &str,
    name: &str,
) -> Result<Response<Body>, ApiError> {
    let mut fields = req.query.get("fieldSelector").unwrap_or("").to_owned();
    if !name.is_empty() {
        fields = [fields.as_str(), &format!("metadata.name={name}")].join(",");
    }
    let filter = Filter {
        ns: ns.to_owned(),
        labels: LabelSelector::parse(req.query.get("labelSelector").unwrap_or(""))?,
        fields: FieldSelector::parse(&fields, kind)?,
    };
    let rv = req.query.get("resourceVersion").unwrap_or("");
    let initial_events = req.query.flag("sendInitialEvents");
    let from = if initial_events || rv.is_empty() || rv == "0" {
        WatchFrom::Current
    } else {
        let rv = rv
            .parse()
            .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
        WatchFrom::After(rv)
    };
    let options = Options {
        bookmarks: req.query.flag("allowWatchBookmarks"),
        initial_events,
        end_after: end_after(app, req),
        table: req
            .wants_table()
            .then(|| Include::from_query(req.query.get("includeObject"))),
    };
    let (tx, body) = ChannelBody::new(64);
    match app.store.watch(kind, from) {
        Ok(start) => {
            let app = Arc::clone(app);
            let span = tracing::debug_span!("watch", kind = kind.kind, ns = %filter.ns);
            tokio::spawn(tracing::Instrument::instrument(
                run(app, kind, start, filter, options, tx),
                span,
            ));
        }
        Err(err) if err.code == 410 => {
            // The real watch cache answers 200 and sends the error as an event.
            let event = event_json("ERROR", &err.to_status());
            let _ = tx.try_send(line(&event));
        }
        Err(err) => return Err(err),
    }
    Ok(body.into_response())
}

/// When the watch must end: `timeoutSeconds`, or a dropped-watch fault.
fn end_after(app: &App, req: &Req) -> Option<Duration> {
    let timeout = req
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map(Duration::from_secs);
    let faults = app.faults();
    let drop = (faults.drop_watches_after_ms > 0 && faults.applies_to(&req.path))
        .then(|| Duration::from_millis(faults.drop_watches_after_ms));
    match (timeout, drop) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

async fn run(
    app: Arc<App>,
    kind: &'static Kind,
    start: crate::store::WatchStart,
    filter: Filter,
    options: Options,
    tx: mpsc::Sender<Bytes>,
) {
    let send = |event: Value| {
        let tx = tx.clone();
        async move { tx.send(line(&event)).await.is_ok() }
    };
    let object = |object: &Value| match options.table {
        Some(include) => table::table(kind, &[Arc::new(object.clone())], json!({}), include),
        None => object.clone(),
    };

    for item in start.initial.iter().filter(|o| filter.matches(o)) {
        if !send(event_json("ADDED", &object(item))).await {
            return;
        }
    }
    if options.initial_events && options.bookmarks && !send(bookmark(kind, start.rv, true)).await {
        return;
    }
    for event in &start.backlog {
        if let Some((kind_name, obj)) = translate(event, &filter) {
            if !send(event_json(kind_name, &object(obj))).await {
                return;
            }
        }
    }

    let mut live = start.live;
    let mut closing = app.closing.clone();
    let mut ticks = tokio::time::interval(app.bookmark_interval);
    ticks.tick().await;
    let deadline = options.end_after.map(|d| tokio::time::Instant::now() + d);
    let ended = async {
        match deadline {
            Some(at) => tokio::time::sleep_until(at).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(ended);
    loop {
        tokio::select! {
            received = live.recv() => match received {
                Ok(event) => {
                    if let Some((kind_name, obj)) = translate(&event, &filter) {
                        if !send(event_json(kind_name, &object(obj))).await {
                            return;
                        }
                    }
                }
                Err(RecvError::Lagged(missed)) => {
                    tracing::warn!(missed, "watcher fell behind, closing the watch");
                    return;
                }
                Err(RecvError::Closed) => return,
            },
            _ = ticks.tick(), if options.bookmarks => {
                let rv = app.store.current_rv();
                if !send(bookmark(kind, rv, false)).await {
                    return;
                }
            }
            () = &mut ended => {
                tracing::debug!("watch ended by timeout or fault");
                return;
            }
            _ = closing.changed() => return,
            () = tx.closed() => return,
        }
    }
}

/// The event a filtered watcher sees for a change, if any.
fn translate<'a>(event: &'a Event, filter: &Filter) -> Option<(&'static str, &'a Value)> {
    let now = filter.matches(&event.object);
    let before = event.prev.as_deref().is_some_and(|p| filter.matches(p));
    let kind = match (event.kind, before, now) {
        (EventType::Added, _, true) => EventType::Added,
        (EventType::Modified, true, true) => EventType::Modified,
        (EventType::Modified, false, true) => EventType::Added,
        (EventType::Modified, true, false) => EventType::Deleted,
        (EventType::Deleted, b, n) if b || n => EventType::Deleted,
        _ => return None,
    };
    Some((kind.as_str(), &event.object))
}

fn bookmark(kind: &Kind, rv: u64, initial_end: bool) -> Value {
    let mut meta = json!({"resourceVersion": rv.to_string(), "creationTimestamp": null});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    let object = json!({"kind": kind.kind, "apiVersion": kind.api_version(), "metadata": meta});
    event_json("BOOKMARK", &object)
}

fn line(event: &Value) -> Bytes {
    let mut bytes = serde_json::to_vec(event).unwrap_or_default();
    bytes.push(b'\n');
    Bytes::from(bytes)
}
