//! WATCH: events, history, bookmarks, selectors and expiry.

use std::time::Duration;

use pvwarden_testkit::server::Config;
use serde_json::json;

use crate::common::{self, pv, PVS};

#[tokio::test]
async fn a_watch_sees_current_objects_then_changes() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let mut watch = h.admin.watch(&format!("{PVS}?watch=1")).await;
    assert_eq!(watch.next_named().await, Some(("ADDED".into(), "a".into())));

    h.admin.post(PVS, &pv("b")).await;
    assert_eq!(watch.next_named().await, Some(("ADDED".into(), "b".into())));
    h.admin
        .patch(
            &format!("{PVS}/b"),
            "application/merge-patch+json",
            &json!({"metadata": {"labels": {"x": "y"}}}),
        )
        .await;
    let event = watch.next().await.unwrap();
    assert_eq!(event["type"], "MODIFIED");
    assert_eq!(event["object"]["metadata"]["labels"]["x"], "y");
    h.admin.delete(&format!("{PVS}/b")).await;
    assert_eq!(
        watch.next_named().await,
        Some(("DELETED".into(), "b".into()))
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_watch_from_a_version_replays_what_came_after() {
    let h = common::start().await;
    let (_, a) = h.admin.post(PVS, &pv("a")).await;
    let rv = a["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_owned();
    h.admin.post(PVS, &pv("b")).await;
    h.admin.delete(&format!("{PVS}/a")).await;
    let mut watch = h
        .admin
        .watch(&format!("{PVS}?watch=true&resourceVersion={rv}"))
        .await;
    assert_eq!(watch.next_named().await, Some(("ADDED".into(), "b".into())));
    assert_eq!(
        watch.next_named().await,
        Some(("DELETED".into(), "a".into()))
    );
    assert!(watch
        .next_within(Duration::from_millis(200))
        .await
        .is_none());
    h.server.shutdown().await;
}

#[tokio::test]
async fn a_watch_from_a_compacted_version_gets_an_expired_error_event() {
    let h = common::start_with(Config {
        history: 2,
        ..Config::default()
    })
    .await;
    let (_, a) = h.admin.post(PVS, &pv("a")).await;
    let rv: u64 = a["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    for name in ["b", "c", "d"] {
        h.admin.post(PVS, &pv(name)).await;
    }
    let mut watch = h
        .admin
        .watch(&format!("{PVS}?watch=1&resourceVersion={rv}"))
        .await;
    let event = watch.next().await.unwrap();
    assert_eq!(event["type"], "ERROR");
    assert_eq!(
        event["object"],
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
        "status": "Failure", "reason": "Expired", "code": 410,
        "message": format!("too old resource version: {rv} ({})", rv + 1)})
    );
    assert!(
        watch.next().await.is_none(),
        "the watch ends after the error"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn bookmarks_come_when_allowed() {
    let config = Config {
        bookmark_interval: Duration::from_millis(100),
        ..Config::default()
    };
    let h = common::start_with(config).await;
    h.admin.post(PVS, &pv("a")).await;
    let (_, list) = h.admin.get(PVS).await;
    let rv = list["metadata"]["resourceVersion"].as_str().unwrap();
    let path = format!("{PVS}?watch=1&resourceVersion={rv}&allowWatchBookmarks=true");
    let mut watch = h.admin.watch(&path).await;
    let event = watch.next().await.unwrap();
    assert_eq!(event["type"], "BOOKMARK");
    assert_eq!(event["object"]["kind"], "PersistentVolume");
    assert_eq!(event["object"]["metadata"]["resourceVersion"], rv);
    h.server.shutdown().await;
}

#[tokio::test]
async fn initial_events_end_with_an_annotated_bookmark() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let path = format!(
        "{PVS}?watch=1&sendInitialEvents=true&resourceVersionMatch=NotOlderThan\
        &allowWatchBookmarks=true"
    );
    let mut watch = h.admin.watch(&path).await;
    assert_eq!(watch.next_named().await, Some(("ADDED".into(), "a".into())));
    let event = watch.next().await.unwrap();
    assert_eq!(event["type"], "BOOKMARK");
    assert_eq!(
        event["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
    h.server.shutdown().await;
}

#[tokio::test]
async fn selected_watches_see_objects_enter_and_leave() {
    let h = common::start().await;
    h.admin.post(PVS, &pv("a")).await;
    let mut watch = h
        .admin
        .watch(&format!("{PVS}?watch=1&labelSelector=app%3Ddemo"))
        .await;
    assert_eq!(watch.next_named().await, Some(("ADDED".into(), "a".into())));
    let relabel = |app: &str| json!({"metadata": {"labels": {"app": app}}});
    let path = format!("{PVS}/a");
    h.admin
        .patch(&path, "application/merge-patch+json", &relabel("other"))
        .await;
    assert_eq!(
        watch.next_named().await,
        Some(("DELETED".into(), "a".into()))
    );
    h.admin
        .patch(&path, "application/merge-patch+json", &relabel("demo"))
        .await;
    assert_eq!(watch.next_named().await, Some(("ADDED".into(), "a".into())));
    h.server.shutdown().await;
}

#[tokio::test]
async fn timeout_seconds_ends_a_watch() {
    let h = common::start().await;
    let mut watch = h
        .admin
        .watch(&format!("{PVS}?watch=1&timeoutSeconds=1"))
        .await;
    let started = std::time::Instant::now();
    assert!(watch.next_within(Duration::from_secs(5)).await.is_none());
    assert!(started.elapsed() < Duration::from_secs(4));
    h.server.shutdown().await;
}
