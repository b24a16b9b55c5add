//! Auto-remediation against the test API server with its actors running.
//!
//! The Rook share copy (case 01) is a static PV with `Delete` whose deletion
//! hangs: ceph-csi can never decode its handle. With its rule enabled, the
//! controller repairs it as `pvwarden fix` does (set to `Retain`, then the
//! provisioner lets it go), the backend keeps every volume, and the run is
//! journaled in a ConfigMap. Without the rule enabled, nothing is changed.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolume};
use kube::api::ListParams;
use kube::{Api, Client};
use pvwarden_controller::{Config, RepairConfig, Repairer, Running};
use pvwarden_journal::{ConfigMapJournal, Journal, RunState};
use pvwarden_testkit::actor::{self, Actors};
use pvwarden_testkit::server::{Config as ServerConfig, Server};
use serde_json::Value;
use tokio::time::Instant;

const CASE: &str = "01-rook-cephfs-static-share-newnamespace";
const COPY: &str = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer";
const ORIGINAL: &str = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27";
const RULE: &str = "static-delete-never-deletes";
const JOURNAL_NAMESPACE: &str = "default";

fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// The test server loaded with the case, its backend seeded, the actors running.
struct Live {
    server: pvwarden_testkit::server::Running,
    actors: Actors,
    client: Client,
    seed: Value,
}

impl Live {
    async fn start() -> Live {
        let config = ServerConfig {
            load: vec![testdata().join(format!("cases/{CASE}.yaml"))],
            ..ServerConfig::default()
        };
        let server = Server::start(config).await.unwrap();
        let client = actor::client(&server.url, &server.ca_pem, &server.admin_token).unwrap();
        let seed_file = testdata().join(format!("backend/{CASE}.json"));
        let seed: Value =
            serde_json::from_str(&std::fs::read_to_string(seed_file).unwrap()).unwrap();
        let put = http::Request::put("/pvwarden-test/backend")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&seed).unwrap())
            .unwrap();
        client.request_text(put).await.unwrap();
        let actors = actor::try_spawn(
            &server.url,
            &server.ca_pem,
            &server.admin_token,
            actor::Config::default(),
        )
        .unwrap();
        Live {
            server,
            actors,
            client,
            seed,
        }
    }

    async fn pv(&self, name: &str) -> Option<PersistentVolume> {
        let pvs: Api<PersistentVolume> = Api::all(self.client.clone());
        pvs.get_opt(name).await.unwrap()
    }

    async fn backend(&self) -> Value {
        let get = http::Request::get("/pvwarden-test/backend")
            .body(Vec::new())
            .unwrap();
        self.client.request(get).await.unwrap()
    }

    async fn journal_maps(&self) -> Vec<ConfigMap> {
        let maps: Api<ConfigMap> = Api::namespaced(self.client.clone(), JOURNAL_NAMESPACE);
        let params = ListParams::default().labels("pvwarden.io/journal=run");
        maps.list(&params).await.unwrap().items
    }

    async fn stop(self, controller: Running) {
        controller.shutdown().await;
        self.actors.shutdown().await;
        self.server.shutdown().await;
    }
}

/// A single-replica controller with quick passes, judging at the actors' releases.
fn config() -> Config {
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "test", "controller-0");
    config.debounce = Duration::from_millis(100);
    config.resync = Duration::from_millis(500);
    config
}

/// Waits until `passes` passes have completed.
async fn passes(controller: &Running, passes: u64) {
    let mut seen = controller.passes.clone();
    tokio::time::timeout(Duration::from_secs(60), seen.wait_for(|n| *n >= passes))
        .await
        .expect("the controller never completed its passes")
        .unwrap();
}

fn policy(pv: &PersistentVolume) -> Option<&str> {
    pv.spec
        .as_ref()?
        .persistent_volume_reclaim_policy
        .as_deref()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enabled_rule_repairs_the_share_copy_as_fix_does() {
    let live = Live::start().await;
    let mut config = config();
    config.remediate.insert(RULE.to_owned());
    let mut repair = RepairConfig::new(JOURNAL_NAMESPACE, 10);
    repair.settings.timeout = Duration::from_secs(20);
    let repairer = Repairer::new(live.client.clone(), &config, repair);
    config.remediator = Some(Arc::new(repairer));
    let controller = pvwarden_controller::start(live.client.clone(), config)
        .await
        .unwrap();

    let deadline = Instant::now() + Duration::from_secs(60);
    while live.pv(COPY).await.is_some() {
        assert!(
            Instant::now() < deadline,
            "the share copy was never repaired"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The copy went as `fix` lets it go: its storage, shared with the original, stays.
    let original = live.pv(ORIGINAL).await.expect("the original PV must stay");
    assert_eq!(policy(&original), Some("Retain"));
    assert_eq!(live.backend().await, live.seed, "the backend changed");

    // The run is journaled in the controller's namespace, done, with the copy's change.
    let journal = ConfigMapJournal::new(live.client.clone(), JOURNAL_NAMESPACE);
    // The PV may go before the engine has seen it go and closed the run.
    let runs = loop {
        let runs = journal.runs().await.unwrap();
        if runs.iter().all(|r| r.state != RunState::Open) || Instant::now() >= deadline {
            break runs;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(runs.len(), 1, "one run expected: {runs:?}");
    let run = &runs[0];
    assert_eq!(run.state, RunState::Done);
    assert!(run.command.contains(RULE), "{}", run.command);
    let (_, entries) = journal.run(&run.id).await.unwrap().unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.target.name == COPY && e.action == "set-retain"),
        "no entry for the copy: {entries:?}"
    );
    assert_eq!(live.journal_maps().await.len(), 1);
    live.stop(controller).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_enabled_rule_nothing_is_changed() {
    let live = Live::start().await;
    let controller = pvwarden_controller::start(live.client.clone(), config())
        .await
        .unwrap();
    passes(&controller, 3).await;

    let after = live.pv(COPY).await.expect("the copy must stay");
    assert_eq!(policy(&after), Some("Delete"));
    // The actors may let `pv-protection` go by themselves; the provisioner's finalizer,
    // which only a repair lets go, stays.
    let finalizers = after.metadata.finalizers.unwrap_or_default();
    assert!(
        finalizers
            .iter()
            .any(|f| f.starts_with("external-provisioner")),
        "{finalizers:?}"
    );
    let annotations = after.metadata.annotations.unwrap_or_default();
    assert!(!annotations.contains_key("pvwarden.io/lease"));
    assert!(live.journal_maps().await.is_empty());
    assert_eq!(live.backend().await, live.seed, "the backend changed");
    live.stop(controller).await;
}
