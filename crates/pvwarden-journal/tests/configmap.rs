//! The in-cluster journal against the test API server.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::Api;
use pvwarden_journal::{
    ConfigMapJournal, Entry, EntryState, Error, Journal, ObjectRef, Run, RunId, RunState,
};
use pvwarden_testkit::actor;
use pvwarden_testkit::server::{Config, Server};
use serde_json::json;

fn run(id: &str, started: &str) -> Run {
    Run {
        id: RunId::parse(id),
        started: started.parse().unwrap(),
        operator: "admin".into(),
        context: "pvwarden-test".into(),
        command: "fix pv-1".into(),
        digest: "0123456789ab".into(),
        plan: Some(json!({"targets": []})),
        state: RunState::Open,
    }
}

fn entry(id: &str, seq: u32) -> Entry {
    Entry {
        run: RunId::parse(id),
        seq,
        target: ObjectRef::pv("pv-1"),
        action: "set-retain".into(),
        patch: Some(json!([{"op": "replace", "path": "/spec/x", "value": "Retain"}])),
        before: Some(json!({"metadata": {"name": "pv-1"}})),
        resource_version: Some("12".into()),
        backend_id: Some("csi-vol-1".into()),
        state: EntryState::Planned,
        error: None,
        at: Timestamp::UNIX_EPOCH,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_round_trip_through_configmaps() {
    let server = Server::start(Config::default()).await.unwrap();
    let client = actor::client(&server.url, &server.ca_pem, &server.admin_token).unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some("pvwarden".into()),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    };
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap();
    let journal = ConfigMapJournal::new(client, "pvwarden");

    journal
        .begin(&run("r-2", "2026-12-04T20:00:00Z"))
        .await
        .unwrap();
    journal
        .begin(&run("r-1", "2026-12-04T19:00:00Z"))
        .await
        .unwrap();
    let again = journal.begin(&run("r-1", "2026-12-04T19:00:00Z")).await;
    assert!(matches!(again, Err(Error::RunExists(_))), "{again:?}");

    // Two writers at once: the conflict of one must not lose the other's entry.
    let (first, second) = (entry("r-1", 1), entry("r-1", 2));
    let (a, b) = tokio::join!(journal.record(&first), journal.record(&second));
    a.unwrap();
    b.unwrap();
    let id = RunId::parse("r-1");
    journal
        .mark(&id, 2, EntryState::Failed, Some("409"))
        .await
        .unwrap();
    journal.finish(&id, RunState::Failed).await.unwrap();

    let (got, mut entries) = journal.run(&id).await.unwrap().unwrap();
    entries.sort_by_key(|e| e.seq);
    assert_eq!(got.state, RunState::Failed);
    assert_eq!(entries[0], entry("r-1", 1));
    assert_eq!(entries[1].state, EntryState::Failed);
    assert_eq!(entries[1].error.as_deref(), Some("409"));

    let ids: Vec<_> = journal
        .runs()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, [RunId::parse("r-1"), RunId::parse("r-2")]);
    assert!(journal.run(&RunId::parse("r-9")).await.unwrap().is_none());
    server.shutdown().await;
}
