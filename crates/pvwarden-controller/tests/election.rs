//! Leader election against the test API server: two replicas never both lead.
//!
//! Two controllers campaign for one Lease with short timings while the server
//! answers some requests with errors and conflicts. Every change of either
//! replica's leadership is recorded as it happens; the periods of leadership
//! must never overlap. When the leader shuts down, the other takes over.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use pvwarden_controller::{Config, LeaseConfig, Running};
use pvwarden_testkit::server::{Config as ServerConfig, Server};
use tokio::sync::watch;
use tokio::time::Instant;

/// One change of a replica's leadership.
#[derive(Debug, Clone, Copy)]
struct Change {
    at: Instant,
    replica: usize,
    leading: bool,
}

fn replica_config(identity: &str) -> Config {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "test", identity);
    config.debounce = Duration::from_millis(50);
    let mut lease = LeaseConfig::new("default", "pvwarden-controller", identity);
    lease.duration = Duration::from_millis(1500);
    lease.renew_deadline = Duration::from_millis(900);
    lease.retry = Duration::from_millis(100);
    config.lease = Some(lease);
    config
}

/// Records every change of `leader` into `log`.
fn record(replica: usize, mut leader: watch::Receiver<bool>, log: Arc<Mutex<Vec<Change>>>) {
    tokio::spawn(async move {
        loop {
            let leading = *leader.borrow_and_update();
            log.lock().unwrap().push(Change {
                at: Instant::now(),
                replica,
                leading,
            });
            if leader.changed().await.is_err() {
                return;
            }
        }
    });
}

/// The periods each replica led, from the log, as (start, end).
fn periods(log: &[Change], replica: usize, end: Instant) -> Vec<(Instant, Instant)> {
    let mut out = Vec::new();
    let mut since = None;
    for change in log.iter().filter(|c| c.replica == replica) {
        match (change.leading, since) {
            (true, None) => since = Some(change.at),
            (false, Some(start)) => {
                out.push((start, change.at));
                since = None;
            }
            _ => {}
        }
    }
    if let Some(start) = since {
        out.push((start, end));
    }
    out
}

async fn put_faults(client: &kube::Client, faults: serde_json::Value) {
    let request = http::Request::put("/pvwarden-test/faults")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&faults).unwrap())
        .unwrap();
    client.request_text(request).await.unwrap();
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_never_both_lead_and_the_standby_takes_over() {
    let server = Server::start(ServerConfig::default()).await.unwrap();
    let client = || {
        pvwarden_testkit::actor::client(&server.url, &server.ca_pem, &server.admin_token).unwrap()
    };
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut replicas: Vec<Option<Running>> = Vec::new();
    for (i, identity) in ["replica-a", "replica-b"].into_iter().enumerate() {
        let running = pvwarden_controller::start(client(), replica_config(identity))
            .await
            .unwrap();
        record(i, running.leader.clone(), log.clone());
        replicas.push(Some(running));
    }
    let leading = |replicas: &[Option<Running>]| -> Vec<usize> {
        (0..replicas.len())
            .filter(|&i| replicas[i].as_ref().is_some_and(|r| *r.leader.borrow()))
            .collect()
    };
    wait_for("a leader", || !leading(&replicas).is_empty()).await;

    // Errors and conflicts on every request, the Lease's included, for a while.
    let admin = client();
    put_faults(
        &admin,
        serde_json::json!({"error_rate": 0.3, "conflict_rate": 0.3, "latency_ms": 20}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    // No Lease request succeeds for longer than the Lease is valid: the leader
    // must step down before the standby may take over once the API recovers.
    put_faults(
        &admin,
        serde_json::json!({"error_rate": 1.0, "paths": ["leases"]}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        leading(&replicas).is_empty(),
        "a replica kept leading although it could not renew the Lease"
    );
    put_faults(&admin, serde_json::json!({})).await;
    wait_for("a leader after the faults", || {
        !leading(&replicas).is_empty()
    })
    .await;

    // The Lease names the leader.
    let leader = leading(&replicas)[0];
    let leases: Api<Lease> = Api::namespaced(admin.clone(), "default");
    let lease = leases.get("pvwarden-controller").await.unwrap();
    let holder = lease.spec.unwrap().holder_identity.unwrap();
    assert_eq!(holder, ["replica-a", "replica-b"][leader]);

    // The leader stops; it releases the Lease and the other replica takes over.
    replicas[leader].take().unwrap().shutdown().await;
    let other = 1 - leader;
    wait_for("the standby to lead", || leading(&replicas) == [other]).await;

    let end = Instant::now();
    let log = log.lock().unwrap().clone();
    let a = periods(&log, 0, end);
    let b = periods(&log, 1, end);
    assert!(!a.is_empty() || !b.is_empty());
    for (a_start, a_end) in &a {
        for (b_start, b_end) in &b {
            let overlap = a_start < b_end && b_start < a_end;
            assert!(
                !overlap,
                "both led at once: a {a_start:?}..{a_end:?}, b {b_start:?}..{b_end:?}"
            );
        }
    }
    for running in replicas.into_iter().flatten() {
        running.shutdown().await;
    }
    server.shutdown().await;
}
