//! The real-world cases, played out by the cluster actors on the test API server.
//!
//! For each case in `testdata/cases/`, every PV and every claim of its `.expect.json` gets a
//! fresh server loaded with the case's manifests and its backend seed
//! (`testdata/backend/<case>.json`), and the actors at the releases the case assumes
//! (`audit_args`). The test lets the actors settle, makes the subject's next deletion, lets
//! them settle again, and compares what happened with the expected verdict:
//!
//! | `on_delete` | what must be seen |
//! |---|---|
//! | `deleted`  | the PV is gone and its backend volume has `exists: false` |
//! | `kept`     | the backend is untouched; the PV, once deleted too, goes |
//! | `hangs`    | the PV stays, being deleted, with exactly the blocking finalizers |
//! | `orphaned` | the PV is gone, its volume still exists and no PV points at it |
//!
//! Where the actors, with every sidecar healthy, disagree with a verdict, the case lists
//! the disagreement (and the test checks the actors' outcome and that the verdict is still
//! the one disagreed with), and a second run with the sidecar the verdict assumes broken
//! must give the verdict.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use k8s_openapi::api::core::v1::{Event, PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, Client};
use pvwarden_testkit::actor::{self, Actors, Config, Sidecar, Version};
use pvwarden_testkit::server::{self, Running, Server};
use serde_json::{json, Value};
use tokio::time::Instant;

/// How long a settled cluster must stay unchanged.
const QUIET: Duration = Duration::from_millis(1200);
/// How long the actors get to settle after a step.
const BOUND: Duration = Duration::from_secs(10);

// === cases ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_01_static_cephfs_share() {
    check_case("01-rook-cephfs-static-share-newnamespace", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_03_static_pv_failed_by_old_kcm() {
    check_case("03-infoscale-static-failed-phase-finalizer", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_05_static_rbd_retain() {
    check_case("05-rook-rbd-static-retain-underflow", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_07_claim_held_by_terminating_pod() {
    check_case("07-rook-rbd-pvc-terminating-pod-still-running", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_09_attachment_that_cannot_detach() {
    check_case("09-vsphere-released-attacher-finalizer-cns-gone", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_11_finalizer_race_after_backend_deleted() {
    // The PV was left behind by external-provisioner 5.0.x losing a race (issue 1217). A
    // healthy provisioner calls DeleteVolume again, Azure answers OK for the gone disk, and
    // the PV goes: the verdict "hangs" holds only while no healthy provisioner runs.
    let disagreement = Disagreement {
        subject: "pvc-21f1a5d5-e248-4fe3-ba99-9ffdb50a0e03",
        expected: "hangs",
        observed: "deleted",
        assumption: Sidecar::Provisioner("disk.csi.azure.com".into()),
    };
    check_case(
        "11-azuredisk-finalizer-race-backend-deleted",
        &[disagreement],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_13_attacher_finalizer_without_attachment() {
    // No VolumeAttachment names the PV, so a running attacher drops its finalizer at once;
    // the verdict "hangs" holds only while no attacher for io.rancher.longhorn runs.
    let disagreement = Disagreement {
        subject: "pvc-a2242020-8cf6-4e10-9203-8016bd429588",
        expected: "hangs",
        observed: "deleted",
        assumption: Sidecar::Attacher("io.rancher.longhorn".into()),
    };
    check_case(
        "13-longhorn-pv-terminating-attacher-finalizer",
        &[disagreement],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_15_legacy_rbd_id() {
    check_case("15-cephcsi-legacy-v1-volume-id", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_17_duplicate_volume_handle() {
    check_case("17-vsphere-duplicate-volumehandle-file-share", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_19_cephx_disabled() {
    check_case("19-cephcsi-rbd-released-cephx-disabled", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_21_adopted_image_with_hand_written_journal() {
    check_case("21-cephcsi-rbd-handcrafted-encoded-handle-adoption", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_23_released_pv_with_stale_claim_uid() {
    check_case("23-smb-released-pv-stale-claimref-uid", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_25_rook_doc_handles_do_not_decode() {
    check_case("25-rook-doc-example-clusterid-length-mismatch", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_27_pool_deleted_before_pv() {
    check_case("27-cephcsi-rbd-pool-deleted-before-pv", &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_27_current_ceph_csi_deletes_the_pv_by_itself() {
    // The verdict is for ceph-csi 2.0; from 2.1 a gone pool is success and nothing sticks.
    let case = Case::read("27-cephcsi-rbd-pool-deleted-before-pv");
    let config = test_config().ceph_csi(Version::new(3, 14, 0));
    let cluster = Cluster::start(&case, config).await;
    let state = cluster
        .settle("the provisioner deletes the PV", |s| s.volumes.is_empty())
        .await;
    assert_eq!(
        state.backend, case.seed,
        "the image was already gone with its pool"
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn case_03_only_kcm_before_1_31_fails_the_static_pv() {
    // The case's PV is Failed already. Put it back to Bound (its claim is gone) and let kcm
    // release it: before 1.31 it fails it and the provisioner never deletes; from 1.31 on
    // it is Released, and the provisioner deletes the pre-provisioned volume.
    let case = Case::read("03-infoscale-static-failed-phase-finalizer");
    let name = "infoscale-static-pv";
    for kubernetes in [Version::new(1, 30, 0), Version::new(1, 33, 0)] {
        let cluster = Cluster::start_stopped(&case).await;
        let status = json!({"status": {"phase": "Bound", "message": null}});
        let params = PatchParams::default();
        cluster
            .volumes()
            .patch_status(name, &params, &Patch::Merge(status))
            .await
            .unwrap();
        let cluster = cluster.with_actors(test_config().kubernetes(kubernetes));
        if kubernetes < Version::new(1, 31, 0) {
            let state = cluster
                .settle("kcm fails the PV", |s| s.volumes[name].phase == "Failed")
                .await;
            assert_eq!(state.volumes[name].finalizers, [PROVISIONER_FINALIZER]);
            assert_eq!(
                state.backend, case.seed,
                "DeleteVolume must not run on {kubernetes}"
            );
        } else {
            let state = cluster
                .settle("the PV goes", |s| !s.volumes.contains_key(name))
                .await;
            let volume = &state.backend["volumes"][0];
            assert_eq!(
                volume["exists"], false,
                "the static volume is deleted on {kubernetes}"
            );
        }
        cluster.stop().await;
    }
}

// === the check of one case ===

const PROVISIONER_FINALIZER: &str = "external-provisioner.volume.kubernetes.io/finalizer";

/// A verdict the actors, with healthy sidecars, do not reach.
struct Disagreement {
    /// The PV.
    subject: &'static str,
    /// The verdict of the case.
    expected: &'static str,
    /// What the actors do.
    observed: &'static str,
    /// The sidecar the verdict assumes is not working.
    assumption: Sidecar,
}

async fn check_case(name: &str, disagreements: &[Disagreement]) {
    let case = Case::read(name);
    for (subject, verdict) in &case.volumes {
        let disagreement = disagreements.iter().find(|d| d.subject == subject);
        match disagreement {
            None => check_volume(&case, subject, verdict, case.config()).await,
            Some(d) => {
                assert_eq!(
                    verdict["on_delete"], d.expected,
                    "{name}: the verdict changed"
                );
                let mut healthy = verdict.clone();
                healthy["on_delete"] = json!(d.observed);
                healthy["stuck"] = json!(false);
                healthy["blocking_finalizers"] = json!([]);
                check_volume(&case, subject, &healthy, case.config()).await;
                let broken = case.config().stop(d.assumption.clone());
                check_volume(&case, subject, verdict, broken).await;
            }
        }
    }
    for (subject, verdict) in &case.claims {
        check_claim(&case, subject, verdict).await;
    }
}

async fn check_volume(case: &Case, name: &str, verdict: &Value, config: Config) {
    let context = format!("{} PV {name} ({config:?})", case.name);
    let cluster = Cluster::start_stopped(case).await;
    let loaded = cluster.state().await;
    let pv = loaded
        .volumes
        .get(name)
        .unwrap_or_else(|| panic!("{context}: no such PV"))
        .clone();
    let cluster = cluster.with_actors(config);
    let before = cluster.settle("the actors start", |_| true).await;

    // Stuck: a PV being deleted, or released for deletion, that does not go by itself.
    let stuck = before.volumes.get(name).is_some_and(|pv| {
        pv.deleting || (matches!(pv.phase.as_str(), "Released" | "Failed") && pv.policy == "Delete")
    });
    assert_eq!(
        stuck,
        verdict["stuck"] == true,
        "{context}: stuck, in {before:#?}"
    );

    let after = if before.volumes.contains_key(name) {
        cluster.next_deletion_of(name, &before, &context).await
    } else {
        before
    };
    let blocking: Vec<String> =
        serde_json::from_value(verdict["blocking_finalizers"].clone()).unwrap();
    let on_delete = verdict["on_delete"].as_str().unwrap();
    match on_delete {
        "deleted" => {
            assert!(
                !after.volumes.contains_key(name),
                "{context}: PV stays in {after:#?}"
            );
            let volumes = backend_volumes(&after.backend, &pv);
            assert!(
                !volumes.is_empty(),
                "{context}: the seed has no volume with the PV's handle"
            );
            assert!(
                volumes.iter().all(|v| v["exists"] == false),
                "{context}: {volumes:#?}"
            );
        }
        "kept" => {
            assert_eq!(after.backend, case.seed, "{context}: the backend changed");
            let state = if after.volumes.contains_key(name) {
                cluster.delete_volume(name).await;
                cluster
                    .settle("the kept PV goes", |s| !s.volumes.contains_key(name))
                    .await
            } else {
                after
            };
            assert_eq!(
                state.backend, case.seed,
                "{context}: deleting the PV changed the backend"
            );
        }
        "hangs" => {
            let left = after
                .volumes
                .get(name)
                .unwrap_or_else(|| panic!("{context}: the PV went"));
            assert!(
                left.deleting,
                "{context}: the PV is not being deleted: {left:?}"
            );
            assert_eq!(
                left.finalizers, blocking,
                "{context}: the finalizers holding it"
            );
            assert_eq!(after.backend, case.seed, "{context}: the backend changed");
        }
        "orphaned" => {
            assert!(
                !after.volumes.contains_key(name),
                "{context}: PV stays in {after:#?}"
            );
            assert_eq!(after.backend, case.seed, "{context}: the backend changed");
            let volumes = backend_volumes(&after.backend, &pv);
            assert!(
                volumes.iter().all(|v| v["exists"] == true),
                "{context}: {volumes:#?}"
            );
            assert!(
                !volumes.is_empty(),
                "{context}: the seed has no volume with the PV's handle"
            );
            let pointing = after
                .volumes
                .values()
                .filter(|other| other.handle == pv.handle);
            assert_eq!(
                pointing.count(),
                0,
                "{context}: a PV still points at the volume"
            );
        }
        other => panic!("{context}: unknown verdict {other:?}"),
    }
    cluster.stop().await;
}

async fn check_claim(case: &Case, key: &str, verdict: &Value) {
    let context = format!("{} claim {key}", case.name);
    let cluster = Cluster::start(case, case.config()).await;
    let before = cluster.settle("the actors start", |_| true).await;
    let claim = before
        .claims
        .get(key)
        .unwrap_or_else(|| panic!("{context}: no such claim"));
    let bound = claim.volume.clone().filter(|volume| {
        before
            .volumes
            .get(volume)
            .is_some_and(|pv| pv.claim_uid.as_deref() == Some(&claim.uid))
    });

    // Stuck: already deleting and held, or never bound to the PV it names.
    let stuck = claim.deleting || (claim.phase == "Pending" && claim.volume.is_some());
    assert_eq!(
        stuck,
        verdict["stuck"] == true,
        "{context}: stuck, in {before:#?}"
    );

    let (namespace, name) = key.split_once('/').unwrap();
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client.clone(), namespace);
    claims.delete(name, &DeleteParams::default()).await.unwrap();
    let mut after = cluster.settle("the claim deletion", |_| true).await;
    if after.claims.contains_key(key) {
        assert!(
            stuck,
            "{context}: the claim stays though not stuck: {after:#?}"
        );
        cluster.end_pods_using(namespace, name).await;
        after = cluster
            .settle("the pods end", |s| !s.claims.contains_key(key))
            .await;
    }
    assert!(
        !after.claims.contains_key(key),
        "{context}: the claim stays in {after:#?}"
    );

    match (verdict["on_delete"].as_str().unwrap(), bound) {
        ("kept", _) => assert_eq!(after.backend, case.seed, "{context}: the backend changed"),
        ("deleted", Some(volume)) => {
            let pv = &before.volumes[&volume];
            let volumes = backend_volumes(&after.backend, pv);
            assert!(
                !volumes.is_empty() && volumes.iter().all(|v| v["exists"] == false),
                "{context}"
            );
        }
        (other, bound) => {
            panic!("{context}: cannot check {other:?} for a claim bound to {bound:?}")
        }
    }
    cluster.stop().await;
}

/// The backend volumes of a PV's driver with its handle as id.
fn backend_volumes<'a>(backend: &'a Value, pv: &VolumeState) -> Vec<&'a Value> {
    let volumes = backend["volumes"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    volumes
        .iter()
        .filter(|v| v["driver"] == pv.driver && v["id"] == pv.handle)
        .collect()
}

// === a case's files ===

struct Case {
    name: String,
    manifest: PathBuf,
    seed: Value,
    volumes: BTreeMap<String, Value>,
    claims: BTreeMap<String, Value>,
    audit_args: Vec<String>,
}

impl Case {
    fn read(name: &str) -> Self {
        let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata");
        let read_json = |path: PathBuf| -> Value {
            let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
            serde_json::from_str(&text).unwrap()
        };
        let expect = read_json(testdata.join(format!("cases/{name}.expect.json")));
        let object = |key: &str| -> BTreeMap<String, Value> {
            serde_json::from_value(expect[key].clone()).unwrap_or_default()
        };
        Self {
            name: name.to_owned(),
            manifest: testdata.join(format!("cases/{name}.yaml")),
            seed: read_json(testdata.join(format!("backend/{name}.json"))),
            volumes: object("volumes"),
            claims: object("claims"),
            audit_args: serde_json::from_value(expect["audit_args"].clone()).unwrap_or_default(),
        }
    }

    /// The actors' releases as the case's `audit_args` state them.
    fn config(&self) -> Config {
        let mut config = test_config();
        for pair in self.audit_args.windows(2) {
            let version = || pair[1].parse::<Version>().unwrap();
            match pair[0].as_str() {
                "--ceph-csi-version" => config = config.ceph_csi(version()),
                "--kube-version" => config = config.kubernetes(version()),
                "--provisioner-version" => config = config.provisioner(version()),
                _ => {}
            }
        }
        config
    }
}

fn test_config() -> Config {
    Config::default()
}

// === a server with actors ===

struct Cluster {
    server: Running,
    client: Client,
    actors: Option<Actors>,
}

impl Cluster {
    async fn start(case: &Case, config: Config) -> Self {
        Self::start_stopped(case).await.with_actors(config)
    }

    /// Starts the server with the case and its seed, without actors.
    async fn start_stopped(case: &Case) -> Self {
        init_logs();
        let config = server::Config {
            load: vec![case.manifest.clone()],
            ..Default::default()
        };
        let server = Server::start(config).await.unwrap();
        let client = actor::client(&server.url, &server.ca_pem, &server.admin_token).unwrap();
        let body = serde_json::to_vec(&case.seed).unwrap();
        let put = http::Request::put("/pvwarden-test/backend")
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .unwrap();
        client.request_text(put).await.unwrap();
        Self {
            server,
            client,
            actors: None,
        }
    }

    fn with_actors(mut self, config: Config) -> Self {
        let server = &self.server;
        let actors = actor::try_spawn(&server.url, &server.ca_pem, &server.admin_token, config);
        self.actors = Some(actors.unwrap());
        self
    }

    async fn stop(self) {
        if let Some(actors) = self.actors {
            actors.shutdown().await;
        }
        self.server.shutdown().await;
    }

    fn volumes(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    async fn delete_volume(&self, name: &str) {
        self.volumes()
            .delete(name, &DeleteParams::default())
            .await
            .unwrap();
    }

    /// Makes the PV's next deletion: its bound claim's, else its own; a claim held by pods
    /// gets them ended first, as the case's remedy says ("fix the pod first").
    async fn next_deletion_of(&self, name: &str, before: &State, context: &str) -> State {
        let pv = &before.volumes[name];
        let claim = pv
            .claim
            .as_ref()
            .and_then(|key| before.claims.get(key).map(|c| (key, c)));
        let claim = claim.filter(|(_, claim)| Some(&claim.uid) == pv.claim_uid.as_ref());
        match claim {
            _ if pv.deleting => {}
            Some((key, claim)) if pv.phase == "Bound" => {
                let (namespace, claim_name) = key.split_once('/').unwrap();
                if !claim.deleting {
                    let claims: Api<PersistentVolumeClaim> =
                        Api::namespaced(self.client.clone(), namespace);
                    claims
                        .delete(claim_name, &DeleteParams::default())
                        .await
                        .unwrap();
                    self.settle("the claim deletion", |_| true).await;
                }
                self.end_pods_using(namespace, claim_name).await;
            }
            _ => self.delete_volume(name).await,
        }
        let state = self.settle("the deletion", |_| true).await;
        debug_state(context, &state);
        state
    }

    /// Ends the pods that use a claim: a forced delete, and the terminated status the
    /// kubelet would report, for a server that keeps terminating pods.
    async fn end_pods_using(&self, namespace: &str, claim: &str) {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        for pod in pods.list(&ListParams::default()).await.unwrap() {
            let volumes = pod
                .spec
                .as_ref()
                .and_then(|s| s.volumes.clone())
                .unwrap_or_default();
            let uses = volumes.iter().any(|v| {
                v.persistent_volume_claim
                    .as_ref()
                    .is_some_and(|c| c.claim_name == claim)
            });
            if !uses {
                continue;
            }
            let name = pod.metadata.name.clone().unwrap();
            let force = DeleteParams {
                grace_period_seconds: Some(0),
                ..DeleteParams::default()
            };
            pods.delete(&name, &force).await.unwrap();
            if pods.get_opt(&name).await.unwrap().is_some() {
                let ended = json!({"status": {"phase": "Succeeded"}});
                let _ = pods
                    .patch_status(&name, &PatchParams::default(), &Patch::Merge(ended))
                    .await;
            }
        }
    }

    /// Waits until `done` holds and the state has not changed for [`QUIET`].
    async fn settle(&self, what: &str, done: impl Fn(&State) -> bool) -> State {
        let deadline = Instant::now() + BOUND;
        let mut last = self.state().await;
        let mut since = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = self.state().await;
            if now != last {
                last = now;
                since = Instant::now();
            } else if done(&now) && since.elapsed() >= QUIET {
                return now;
            }
            assert!(
                Instant::now() < deadline,
                "the actors did not settle after {what}: {last:#?}"
            );
        }
    }

    async fn state(&self) -> State {
        let volumes = self.volumes().list(&ListParams::default()).await.unwrap();
        let claims: Api<PersistentVolumeClaim> = Api::all(self.client.clone());
        let claims = claims.list(&ListParams::default()).await.unwrap();
        let attachments: Api<VolumeAttachment> = Api::all(self.client.clone());
        let attachments = attachments.list(&ListParams::default()).await.unwrap();
        let get = http::Request::get("/pvwarden-test/backend")
            .body(Vec::new())
            .unwrap();
        let backend: Value = self.client.request(get).await.unwrap();

        State {
            volumes: volumes
                .items
                .iter()
                .map(|pv| (name(&pv.metadata), VolumeState::of(pv)))
                .collect(),
            claims: claims
                .items
                .iter()
                .map(|c| (key(&c.metadata), ClaimState::of(c)))
                .collect(),
            attachments: attachments
                .items
                .iter()
                .map(|va| {
                    (
                        name(&va.metadata),
                        (
                            va.metadata.finalizers.clone().unwrap_or_default(),
                            va.metadata.deletion_timestamp.is_some(),
                        ),
                    )
                })
                .collect(),
            backend,
        }
    }
}

/// Logs to the test output when `ACTORS_LOG` holds a filter, e.g. `pvwarden_testkit=debug`.
fn init_logs() {
    if let Ok(filter) = std::env::var("ACTORS_LOG") {
        let _ = tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_test_writer()
            .try_init();
    }
}

fn debug_state(context: &str, state: &State) {
    if std::env::var_os("ACTORS_DEBUG").is_some() {
        eprintln!("{context}: {state:#?}");
    }
}

// === what the test looks at ===

#[derive(Debug, Clone, PartialEq)]
struct State {
    volumes: BTreeMap<String, VolumeState>,
    claims: BTreeMap<String, ClaimState>,
    attachments: BTreeMap<String, (Vec<String>, bool)>,
    backend: Value,
}

#[derive(Debug, Clone, PartialEq)]
struct VolumeState {
    phase: String,
    policy: String,
    finalizers: Vec<String>,
    deleting: bool,
    claim: Option<String>,
    claim_uid: Option<String>,
    driver: String,
    handle: String,
}

impl VolumeState {
    fn of(pv: &PersistentVolume) -> Self {
        let spec = pv.spec.clone().unwrap_or_default();
        let claim_ref = spec.claim_ref.as_ref();
        Self {
            phase: pv
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default(),
            policy: spec
                .persistent_volume_reclaim_policy
                .clone()
                .unwrap_or_default(),
            finalizers: pv.metadata.finalizers.clone().unwrap_or_default(),
            deleting: pv.metadata.deletion_timestamp.is_some(),
            claim: claim_ref.map(|c| {
                format!(
                    "{}/{}",
                    c.namespace.clone().unwrap_or_default(),
                    c.name.clone().unwrap_or_default()
                )
            }),
            claim_uid: claim_ref.and_then(|c| c.uid.clone()),
            driver: spec
                .csi
                .as_ref()
                .map(|c| c.driver.clone())
                .unwrap_or_default(),
            handle: spec
                .csi
                .as_ref()
                .map(|c| c.volume_handle.clone())
                .unwrap_or_default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
struct ClaimState {
    phase: String,
    uid: String,
    finalizers: Vec<String>,
    deleting: bool,
    volume: Option<String>,
}

impl ClaimState {
    fn of(claim: &PersistentVolumeClaim) -> Self {
        Self {
            phase: claim
                .status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default(),
            uid: claim.metadata.uid.clone().unwrap_or_default(),
            finalizers: claim.metadata.finalizers.clone().unwrap_or_default(),
            deleting: claim.metadata.deletion_timestamp.is_some(),
            volume: claim
                .spec
                .as_ref()
                .and_then(|s| s.volume_name.clone())
                .filter(|v| !v.is_empty()),
        }
    }
}

fn name(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

fn key(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    format!(
        "{}/{}",
        meta.namespace.clone().unwrap_or_default(),
        name(meta)
    )
}

// === events ===

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_deletes_count_up_the_cases_event() {
    // Case 27's manifest carries the provisioner's event with count 2841; ceph-csi 2.0 fails
    // with the same message, so the provisioner counts that event up instead of adding one.
    let case = Case::read("27-cephcsi-rbd-pool-deleted-before-pv");
    let cluster = Cluster::start(&case, case.config()).await;
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    let deadline = Instant::now() + BOUND;
    loop {
        let listed = events.list(&ListParams::default()).await.unwrap();
        let counted = listed
            .items
            .iter()
            .find(|e| e.reason.as_deref() == Some("VolumeFailedDelete"));
        let count = counted.and_then(|e| e.count).unwrap_or_default();
        if count > 2842 {
            assert_eq!(listed.items.len(), 1, "repeats must not make new events");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the event was not counted up: {listed:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cluster.stop().await;
}
