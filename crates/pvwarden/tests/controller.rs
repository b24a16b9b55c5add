//! The controller against the test API server, checked against `pvwarden audit` of the same files.
//!
//! For every case of `testdata/cases/`, the case is loaded into the test API
//! server, the controller watches it until its first audit pass, and then:
//! - `/metrics` counts the PVs by provisioning and outcome, the stuck PVs and
//!   the findings by rule exactly as `pvwarden audit -o json` of the file does;
//! - one Event was written per PV finding, and further passes write no more.
//!
//! A second test runs the controller while the server drops its watches and
//! fails a share of its requests, changes the cluster meanwhile, and expects
//! the metrics to catch up with the change.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod endpoint;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::core::v1::PersistentVolume;
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, ListParams, PostParams};
use pvwarden_controller::{reason_of_rule, Config, Running, REPORTING_CONTROLLER};
use pvwarden_domain::version::Version;
use pvwarden_testkit::server::{Config as ServerConfig, Server};
use serde_json::Value;
use tokio::time::Instant;

/// The Kubernetes release both sides assume (the test server's).
const KUBE_VERSION: &str = "1.37";

fn cases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    cases.sort();
    assert!(!cases.is_empty());
    cases
}

/// `pvwarden audit -o json` of a file.
fn audit(file: &Path) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args([
            "audit",
            "-o",
            "json",
            "--exit-zero",
            "--kube-version",
            KUBE_VERSION,
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// What `/metrics` should say after one pass, computed from an audit report.
fn expected_metrics(report: &Value) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    let mut stuck = 0.0;
    let mut count = |key: String| *out.entry(key).or_insert(0.0) += 1.0;
    for v in report["volumes"].as_array().unwrap() {
        count(format!(
            "pvwarden_volumes{{provisioning=\"{}\",on_delete=\"{}\"}}",
            v["provisioning"].as_str().unwrap(),
            v["on_delete"].as_str().unwrap()
        ));
        if v["stuck"] == true {
            stuck += 1.0;
        }
        for f in v["findings"].as_array().unwrap() {
            count(finding_key(f, "PersistentVolume"));
        }
    }
    for c in report["claims"].as_array().unwrap() {
        for f in c["findings"].as_array().unwrap() {
            count(finding_key(f, "PersistentVolumeClaim"));
        }
    }
    out.insert("pvwarden_volumes_stuck".into(), stuck);
    out
}

fn finding_key(finding: &Value, kind: &str) -> String {
    format!(
        "pvwarden_findings{{rule=\"{}\",severity=\"{}\",kind=\"{kind}\"}}",
        finding["rule"].as_str().unwrap(),
        finding["severity"].as_str().unwrap()
    )
}

/// The samples of an OpenMetrics text whose names `keep` accepts.
fn samples(text: &str, keep: impl Fn(&str) -> bool) -> BTreeMap<String, f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (key, value) = l.rsplit_once(' ')?;
            keep(key).then(|| (key.to_owned(), value.parse().unwrap()))
        })
        .collect()
}

/// The samples that describe verdicts (volumes, stuck count, findings).
fn verdict_samples(text: &str) -> BTreeMap<String, f64> {
    samples(text, |key| {
        key.starts_with("pvwarden_volumes{")
            || key == "pvwarden_volumes_stuck"
            || key.starts_with("pvwarden_findings{")
    })
}

/// `GET path` on the controller's endpoint.
async fn get(running: &Running, path: &str) -> (u16, String) {
    endpoint::get(running.addr, path).await
}

fn controller_config() -> Config {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "pvwarden-test", "test-0");
    config.overrides.kubernetes = Some(KUBE_VERSION.parse::<Version>().unwrap());
    config.debounce = Duration::from_millis(50);
    config.resync = Duration::from_millis(200);
    config
}

/// Waits until the controller has completed `n` passes in all.
async fn passes(running: &mut Running, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while *running.passes.borrow_and_update() < n {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no audit pass {n} within 60 s");
        let _ = tokio::time::timeout(left, running.passes.changed()).await;
    }
}

/// Events written by the controller, as (PV, reason).
async fn written(client: &kube::Client) -> Vec<(String, String)> {
    let events: Api<Event> = Api::namespaced(client.clone(), "default");
    let mut out: Vec<_> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| e.reporting_controller.as_deref() == Some(REPORTING_CONTROLLER))
        .map(|e| (e.regarding.unwrap().name.unwrap(), e.reason.unwrap()))
        .collect();
    out.sort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_gets_the_audits_metrics_and_one_event_per_finding() {
    for case in cases() {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let report = audit(&case);
        let config = ServerConfig {
            load: vec![case.clone()],
            ..ServerConfig::default()
        };
        let server = Server::start(config).await.unwrap();
        let client =
            pvwarden_testkit::actor::client(&server.url, &server.ca_pem, &server.admin_token)
                .unwrap();
        let mut running = pvwarden_controller::start(client.clone(), controller_config())
            .await
            .unwrap();
        passes(&mut running, 1).await;

        assert_eq!(get(&running, "/healthz").await.0, 200, "{name}");
        assert_eq!(get(&running, "/readyz").await.0, 200, "{name}");
        let metrics = get(&running, "/metrics").await.1;
        assert_eq!(
            verdict_samples(&metrics),
            expected_metrics(&report),
            "{name}"
        );
        let stuck_rows = samples(&metrics, |k| {
            k.starts_with("pvwarden_volume_stuck_seconds{")
        });
        for v in report["volumes"].as_array().unwrap() {
            let key = format!(
                "pvwarden_volume_stuck_seconds{{volume=\"{}\"}}",
                v["name"].as_str().unwrap()
            );
            assert_eq!(
                stuck_rows.contains_key(&key),
                v["stuck"] == true,
                "{name}: {key}"
            );
        }

        let mut expected_events: Vec<(String, String)> = report["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|v| {
                let pv = v["name"].as_str().unwrap().to_owned();
                v["findings"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |f| (pv.clone(), reason_of_rule(f["rule"].as_str().unwrap())))
            })
            .collect();
        expected_events.sort();
        assert_eq!(
            written(&client).await,
            expected_events,
            "{name}: one event per finding"
        );

        // More passes (the resync forces them) write nothing new.
        let done = *running.passes.borrow();
        passes(&mut running, done + 3).await;
        assert_eq!(
            written(&client).await,
            expected_events,
            "{name}: not once per pass"
        );
        // A repeated Event would be the same object with a series count: count writes.
        let metrics = get(&running, "/metrics").await.1;
        let published = samples(&metrics, |k| k == "pvwarden_events_published_total");
        let published = published.values().sum::<f64>();
        assert_eq!(published, expected_events.len() as f64, "{name}: writes");

        running.shutdown().await;
        server.shutdown().await;
    }
}

async fn put_faults(client: &kube::Client, faults: Value) {
    let request = http::Request::put("/pvwarden-test/faults")
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&faults).unwrap())
        .unwrap();
    client.request_text(request).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_watches_and_api_errors_do_not_stop_the_controller() {
    let case = cases()
        .into_iter()
        .find(|c| c.to_string_lossy().contains("01-rook-cephfs"))
        .unwrap();
    let config = ServerConfig {
        load: vec![case.clone()],
        ..ServerConfig::default()
    };
    let server = Server::start(config).await.unwrap();
    let client =
        pvwarden_testkit::actor::client(&server.url, &server.ca_pem, &server.admin_token).unwrap();
    // Watches close every 300 ms and a quarter of all requests fail, from the start.
    put_faults(
        &client,
        serde_json::json!({"drop_watches_after_ms": 300, "error_rate": 0.25}),
    )
    .await;
    let mut running = pvwarden_controller::start(client.clone(), controller_config())
        .await
        .unwrap();
    passes(&mut running, 1).await;
    let stuck_copies = "pvwarden_volumes{provisioning=\"static\",on_delete=\"hangs\"}";
    let before = verdict_samples(&get(&running, "/metrics").await.1);
    assert_eq!(before.get(stuck_copies), Some(&1.0));

    // A second copy of the stuck share appears while the faults go on.
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let copy_name = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer";
    // Requests fail a quarter of the time; a person (or a tool) retries.
    let mut copy = loop {
        if let Ok(pv) = pvs.get(copy_name).await {
            break pv;
        }
    };
    copy.metadata = kube::api::ObjectMeta {
        name: Some(format!("{copy_name}-second")),
        annotations: copy.metadata.annotations.clone(),
        ..kube::api::ObjectMeta::default()
    };
    copy.status = None;
    while pvs.create(&PostParams::default(), &copy).await.is_err() {}

    let total = |metrics: &str| -> f64 {
        samples(metrics, |k| k.starts_with("pvwarden_volumes{"))
            .values()
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while total(&get(&running, "/metrics").await.1) != 3.0 {
        assert!(
            Instant::now() < deadline,
            "the new PV never reached the metrics"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = get(&running, "/metrics").await.1;
    let errors = samples(&metrics, |k| {
        k.starts_with("pvwarden_errors_total{stage=\"watch\"")
    });
    assert!(
        errors.values().sum::<f64>() > 0.0,
        "the faults were never seen: {metrics}"
    );
    assert_eq!(
        total(&metrics),
        3.0,
        "three PVs, each counted once: {metrics}"
    );

    put_faults(&client, serde_json::json!({})).await;
    running.shutdown().await;
    server.shutdown().await;
}
