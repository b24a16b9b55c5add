//! `pvwarden share` against the test API server with its simulated controllers:
//! what it writes, applied as `kubectl apply` would, binds, and the audit of the
//! live cluster then finds the source and its share safe.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, Patch, PatchParams, PostParams};
use pvwarden_domain::object::Object;
use pvwarden_testkit::actor;
use pvwarden_testkit::server::{Config, Running, Server};
use serde_json::Value;

/// How long the simulated controllers may take to bind, before the test fails.
const BIND_TIMEOUT: Duration = Duration::from_secs(60);

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// Runs the built binary; returns stdout, failing on a non-zero exit.
fn pvwarden(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args(args)
        .env_remove("PVWARDEN_CONTEXT")
        .output()
        .unwrap();
    let code = output.status.code().unwrap_or(-1);
    assert!(
        matches!(code, 0 | 1),
        "pvwarden {args:?}: exit {code}, stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    (code, String::from_utf8(output.stdout).unwrap())
}

struct Cluster {
    runtime: tokio::runtime::Runtime,
    server: Option<Running>,
    client: kube::Client,
    kubeconfig: PathBuf,
}

impl Cluster {
    fn start(load: &Path, name: &str) -> Cluster {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            load: vec![load.to_owned()],
            actors: true,
            ..Config::default()
        };
        let server = runtime.block_on(Server::start(config)).unwrap();
        let kubeconfig =
            std::env::temp_dir().join(format!("pvwarden-share-{name}-{}", std::process::id()));
        server.write_kubeconfig(&kubeconfig).unwrap();
        let client = runtime.block_on(async {
            actor::client(&server.url, &server.ca_pem, &server.admin_token).unwrap()
        });
        Cluster {
            runtime,
            server: Some(server),
            client,
            kubeconfig,
        }
    }

    /// Creates a namespace, as the user does before sharing into it.
    fn namespace(&self, name: &str) {
        let api: Api<Namespace> = Api::all(self.client.clone());
        let namespace = Namespace {
            metadata: ObjectMeta {
                name: Some(name.to_owned()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        self.runtime
            .block_on(api.create(&PostParams::default(), &namespace))
            .unwrap();
    }

    /// Shares `source` into `namespace` as a user would: `pvwarden share` on the
    /// cluster, the namespace created, the stream applied; then waits until the
    /// claim `media` and its PV are bound.
    fn share(&self, source: &str, namespace: &str) {
        let args = [
            "share",
            source,
            "--kubeconfig",
            self.kubeconfig(),
            "--to-namespace",
            namespace,
        ];
        let (_, stream) = pvwarden(&args);
        self.namespace(namespace);
        self.apply(&stream);
        self.wait_bound(namespace, "media", &format!("share-{namespace}-media"));
    }

    /// `pvwarden audit -o json` of the cluster: the exit code and the report.
    fn audit(&self) -> (i32, Value) {
        let (code, report) = pvwarden(&["audit", "-o", "json", "--kubeconfig", self.kubeconfig()]);
        (code, serde_json::from_str(&report).unwrap())
    }

    fn kubeconfig(&self) -> &str {
        self.kubeconfig.to_str().unwrap()
    }

    /// Applies a YAML stream as a first `kubectl apply` does: creates what is new and
    /// merges the given fields into what exists.
    fn apply(&self, stream: &str) {
        let mut objects = Vec::new();
        pvwarden_manifest::Reader::new().read_bytes("share", stream.as_bytes(), &mut |item| {
            objects.push(item.unwrap().object);
        });
        assert!(!objects.is_empty(), "nothing to apply in:\n{stream}");
        self.runtime.block_on(async {
            for object in objects {
                match object {
                    Object::PersistentVolume(pv) => {
                        let api: Api<PersistentVolume> = Api::all(self.client.clone());
                        upsert(&api, &pv.metadata.name.clone().unwrap(), &*pv).await;
                    }
                    Object::PersistentVolumeClaim(pvc) => {
                        let ns = pvc.metadata.namespace.clone().unwrap();
                        let api: Api<PersistentVolumeClaim> =
                            Api::namespaced(self.client.clone(), &ns);
                        upsert(&api, &pvc.metadata.name.clone().unwrap(), &*pvc).await;
                    }
                    other => panic!("share wrote a {}", other.kind()),
                }
            }
        });
    }

    /// Waits until the claim and its PV are both `Bound`.
    fn wait_bound(&self, namespace: &str, claim: &str, pv: &str) {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let pvs: Api<PersistentVolume> = Api::all(self.client.clone());
        let start = Instant::now();
        loop {
            let (c, p) = self.runtime.block_on(async {
                let c = claims.get(claim).await.unwrap();
                let p = pvs.get(pv).await.unwrap();
                (c, p)
            });
            let phase_c = c.status.and_then(|s| s.phase);
            let phase_p = p.status.and_then(|s| s.phase);
            if phase_c.as_deref() == Some("Bound") && phase_p.as_deref() == Some("Bound") {
                return;
            }
            assert!(
                start.elapsed() < BIND_TIMEOUT,
                "{namespace}/{claim} is {phase_c:?} and {pv} is {phase_p:?}"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Waits until the PV no longer exists.
    fn wait_gone(&self, pv: &str) {
        let pvs: Api<PersistentVolume> = Api::all(self.client.clone());
        let start = Instant::now();
        while self.runtime.block_on(pvs.get_opt(pv)).unwrap().is_some() {
            assert!(start.elapsed() < BIND_TIMEOUT, "{pv} is still there");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn policy(&self, pv: &str) -> String {
        let pvs: Api<PersistentVolume> = Api::all(self.client.clone());
        let pv = self.runtime.block_on(pvs.get(pv)).unwrap();
        pv.spec.unwrap().persistent_volume_reclaim_policy.unwrap()
    }
}

async fn upsert<K>(api: &Api<K>, name: &str, object: &K)
where
    K: kube::Resource + Clone + serde::Serialize + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if api.get_opt(name).await.unwrap().is_some() {
        api.patch(name, &PatchParams::default(), &Patch::Merge(object))
            .await
            .unwrap();
    } else {
        api.create(&PostParams::default(), object).await.unwrap();
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
        let _ = std::fs::remove_file(&self.kubeconfig);
    }
}

/// The verdict of PV `name` in a JSON audit.
fn volume<'a>(report: &'a Value, name: &str) -> &'a Value {
    let volumes = report["volumes"].as_array().unwrap();
    volumes.iter().find(|v| v["name"] == name).unwrap()
}

fn rules(verdict: &Value) -> Vec<&str> {
    let findings = verdict["findings"].as_array().unwrap();
    findings.iter().filter_map(|f| f["rule"].as_str()).collect()
}

/// The new user's path: the Rook example's source, read from the cluster.
#[test]
fn a_share_of_the_rook_example_binds_and_audits_as_a_safe_share() {
    let cluster = Cluster::start(&repo("examples/rook-cephfs-share/correct.yaml"), "rook");
    let source = "pvc-7c1d2a55-0b7e-4d0f-9a51-3f0e8b2c4d11";
    cluster.share(source, "team-x");

    let (_, report) = cluster.audit();
    for pv in [source, "media-correct-b", "share-team-x-media"] {
        assert_eq!(
            rules(volume(&report, pv)),
            ["shared-volume"],
            "{pv}: {report}"
        );
        assert_eq!(volume(&report, pv)["on_delete"], "kept");
    }
}

/// A source on Delete is switched to Retain by the applied stream, before its share binds.
#[test]
fn a_share_of_a_source_on_delete_protects_the_source_live() {
    let fixture = repo("crates/pvwarden/tests/data/share-source.yaml");
    let cluster = Cluster::start(&fixture, "delete");
    let source = "pvc-5a1f3c20-7d4e-4b8a-9c61-2e0f8d7b6a01";
    assert_eq!(cluster.policy(source), "Delete");
    cluster.share(source, "team-b");
    assert_eq!(cluster.policy(source), "Retain");

    let (code, report) = cluster.audit();
    assert_eq!(code, 0, "nothing at warning or above: {report}");
    for pv in [source, "share-team-b-media"] {
        assert_eq!(
            rules(volume(&report, pv)),
            ["shared-volume"],
            "{pv}: {report}"
        );
    }
}

/// `--apply` creates the objects itself, journaling each change before it is made; and
/// `unshare --apply` removes them the same way.
#[test]
fn apply_journals_every_change_and_the_share_binds_and_goes() {
    use pvwarden_journal::{EntryState, Journal, RunState, SqliteJournal};

    let fixture = repo("crates/pvwarden/tests/data/share-source.yaml");
    let cluster = Cluster::start(&fixture, "apply");
    cluster.namespace("team-b");
    let source = "pvc-5a1f3c20-7d4e-4b8a-9c61-2e0f8d7b6a01";
    let journal_path =
        std::env::temp_dir().join(format!("pvwarden-share-journal-{}.db", std::process::id()));
    let journal_arg = journal_path.to_str().unwrap();
    let args = [
        "share",
        source,
        "--kubeconfig",
        cluster.kubeconfig(),
        "--to-namespace",
        "team-b",
        "--apply",
        "--journal",
        journal_arg,
    ];
    let (_, out) = pvwarden(&args);
    assert!(
        out.contains("applied PersistentVolume/share-team-b-media"),
        "{out}"
    );
    assert!(out.contains("rook-csi-cephfs-node-user"), "{out}");
    cluster.wait_bound("team-b", "media", "share-team-b-media");
    assert_eq!(cluster.policy(source), "Retain");

    let journal = SqliteJournal::open(&journal_path).unwrap();
    let runs = cluster.runtime.block_on(journal.runs()).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(runs[0].state, RunState::Done);
    let (_, entries) = cluster
        .runtime
        .block_on(journal.run(&runs[0].id))
        .unwrap()
        .unwrap();
    let done: Vec<(String, String, EntryState)> = entries
        .iter()
        .map(|e| (e.action.clone(), e.target.name.clone(), e.state))
        .collect();
    assert_eq!(
        done,
        [
            (
                "set-retain".to_owned(),
                source.to_owned(),
                EntryState::Applied
            ),
            (
                "create".to_owned(),
                "share-team-b-media".to_owned(),
                EntryState::Applied
            ),
            ("create".to_owned(), "media".to_owned(), EntryState::Applied),
        ]
    );
    // The source as it was before the change is kept, to undo it.
    let before = entries[0].before.as_ref().unwrap();
    assert_eq!(before["spec"]["persistentVolumeReclaimPolicy"], "Delete");

    // A second apply of the same share is refused before anything is written.
    let output = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args(args)
        .env_remove("PVWARDEN_CONTEXT")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("already exists"));
    assert_eq!(cluster.runtime.block_on(journal.runs()).unwrap().len(), 1);

    // `unshare --apply` removes the claim, then the PV, journaled, and leaves the source.
    let args = [
        "unshare",
        "share-team-b-media",
        "--kubeconfig",
        cluster.kubeconfig(),
        "--apply",
        "--journal",
        journal_arg,
    ];
    let (_, out) = pvwarden(&args);
    assert!(out.contains("may go back to Delete"), "{out}");
    assert!(out.contains("not done (your decision)"), "{out}");
    let runs = cluster.runtime.block_on(journal.runs()).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[1].state, RunState::Done);
    let (_, entries) = cluster
        .runtime
        .block_on(journal.run(&runs[1].id))
        .unwrap()
        .unwrap();
    let done: Vec<(&str, &str, Option<&str>)> = entries
        .iter()
        .map(|e| {
            (
                e.action.as_str(),
                e.target.kind.as_str(),
                e.target.namespace.as_deref(),
            )
        })
        .collect();
    assert_eq!(
        done,
        [
            ("delete", "PersistentVolumeClaim", Some("team-b")),
            ("delete", "PersistentVolume", None),
        ]
    );
    cluster.wait_gone("share-team-b-media");
    assert_eq!(cluster.policy(source), "Retain");
    drop(journal);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{journal_arg}{suffix}"));
    }
}

/// The simulated ceph-csi agrees with the audit: a share switched to Delete afterwards
/// hangs when its claim goes, and the shared subvolume stays.
#[test]
fn a_share_flipped_to_delete_hangs_live_and_the_data_stays() {
    use k8s_openapi::api::core::v1::Event;
    use kube::api::{DeleteParams, ListParams};
    use pvwarden_domain::facts::PROVISIONER_FINALIZER;
    use pvwarden_testkit::actor::backend::{Backend, Inventory};

    let fixture = repo("crates/pvwarden/tests/data/share-source.yaml");
    let cluster = Cluster::start(&fixture, "flip");
    let source = "pvc-5a1f3c20-7d4e-4b8a-9c61-2e0f8d7b6a01";
    let handle = "0001-0009-rook-ceph-0000000000000001-3c8e1d52-6f0a-4e27-b9d4-8a2c5e7f1b03";
    let backend = Backend::new(cluster.client.clone());
    let seeded: Inventory = serde_json::from_value(serde_json::json!({
        "volumes": [{
            "driver": "rook-ceph.cephfs.csi.ceph.com", "id": handle,
            "kind": "cephfs-subvolume", "cluster": "rook-ceph", "pool": "myfs",
            "path": concat!(
                "/volumes/csi/csi-vol-3c8e1d52-6f0a-4e27-b9d4-8a2c5e7f1b03/",
                "7e2b9a14-0c5d-4f86-a3e1-6d9b2c8f4a57"
            ),
            "journal": true, "exists": true
        }],
        "pools": [{"cluster": "rook-ceph", "name": "myfs", "id": 1, "exists": true}]
    }))
    .unwrap();
    cluster
        .runtime
        .block_on(backend.update(|inventory| *inventory = seeded))
        .unwrap();

    cluster.share(source, "team-b");

    // Someone switches the share to Delete, then deletes its claim.
    let pvs: Api<PersistentVolume> = Api::all(cluster.client.clone());
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client.clone(), "team-b");
    let flip = serde_json::json!({"spec": {"persistentVolumeReclaimPolicy": "Delete"}});
    cluster
        .runtime
        .block_on(pvs.patch(
            "share-team-b-media",
            &PatchParams::default(),
            &Patch::Merge(&flip),
        ))
        .unwrap();
    // Time passes: the provisioner takes the bound Delete PV as its own (its finalizer)
    // before the claim goes, as it would in a cluster.
    let start = Instant::now();
    loop {
        let share = cluster
            .runtime
            .block_on(pvs.get("share-team-b-media"))
            .unwrap();
        let finalizers = share.metadata.finalizers.unwrap_or_default();
        if finalizers.iter().any(|f| f == PROVISIONER_FINALIZER) {
            break;
        }
        assert!(
            start.elapsed() < BIND_TIMEOUT,
            "no provisioner finalizer: {finalizers:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster
        .runtime
        .block_on(claims.delete("media", &DeleteParams::default()))
        .unwrap();

    // The provisioner's delete call fails, over and over; the PV stays.
    let events: Api<Event> = Api::namespaced(cluster.client.clone(), "default");
    let start = Instant::now();
    loop {
        let failed = cluster
            .runtime
            .block_on(events.list(&ListParams::default()))
            .unwrap()
            .items
            .into_iter()
            .any(|e| {
                e.reason.as_deref() == Some("VolumeFailedDelete")
                    && e.involved_object.name.as_deref() == Some("share-team-b-media")
            });
        if failed {
            break;
        }
        assert!(
            start.elapsed() < BIND_TIMEOUT,
            "no failed delete of the share"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let share = cluster
        .runtime
        .block_on(pvs.get("share-team-b-media"))
        .unwrap();
    assert_eq!(share.status.unwrap().phase.as_deref(), Some("Released"));
    let inventory = cluster.runtime.block_on(backend.read()).unwrap();
    let subvolume = inventory.volumes.iter().find(|v| v.id == handle).unwrap();
    assert!(
        subvolume.exists && subvolume.deleted_by.is_none(),
        "{subvolume:?}"
    );

    // And the audit of the live cluster said so.
    let (_, report) = cluster.audit();
    let verdict = volume(&report, "share-team-b-media");
    assert_eq!(verdict["on_delete"], "hangs", "{verdict}");
    assert_eq!(volume(&report, source)["on_delete"], "kept");
}

/// A journal file of its own for one test, removed when dropped.
struct JournalFile(PathBuf);

impl JournalFile {
    fn new(name: &str) -> JournalFile {
        let file = format!("pvwarden-share-{name}-{}.db", std::process::id());
        JournalFile(std::env::temp_dir().join(file))
    }

    fn arg(&self) -> &str {
        self.0.to_str().unwrap()
    }

    /// The id of the last run journaled.
    fn last_run(&self, cluster: &Cluster) -> String {
        use pvwarden_journal::{Journal, SqliteJournal};
        let journal = SqliteJournal::open(&self.0).unwrap();
        let runs = cluster.runtime.block_on(journal.runs()).unwrap();
        runs.last().unwrap().id.to_string()
    }
}

impl Drop for JournalFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", self.arg()));
        }
    }
}

const SHARE_SOURCE: &str = "pvc-5a1f3c20-7d4e-4b8a-9c61-2e0f8d7b6a01";

/// `share --apply` of the test source into `team-b`, journaled in `journal`; waits
/// until the share is bound and returns the run's id.
fn share_applied(cluster: &Cluster, journal: &JournalFile) -> String {
    cluster.namespace("team-b");
    let kubeconfig = cluster.kubeconfig();
    let args = [
        "share",
        SHARE_SOURCE,
        "--kubeconfig",
        kubeconfig,
        "--to-namespace",
        "team-b",
        "--apply",
        "--journal",
        journal.arg(),
    ];
    pvwarden(&args);
    cluster.wait_bound("team-b", "media", "share-team-b-media");
    assert_eq!(cluster.policy(SHARE_SOURCE), "Retain");
    journal.last_run(cluster)
}

/// `pvwarden undo RUN -o json`: the exit code and the report.
fn undo(cluster: &Cluster, journal: &JournalFile, run: &str, extra: &[&str]) -> (i32, Value) {
    let mut args = vec![
        "undo",
        run,
        "--kubeconfig",
        cluster.kubeconfig(),
        "--journal",
        journal.arg(),
        "-o",
        "json",
    ];
    args.extend(extra);
    let output = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args(&args)
        .env_remove("PVWARDEN_CONTEXT")
        .output()
        .unwrap();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("undo: no JSON: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code().unwrap_or(-1), report)
}

fn claim_exists(cluster: &Cluster, namespace: &str, name: &str) -> bool {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(cluster.client.clone(), namespace);
    cluster
        .runtime
        .block_on(claims.get_opt(name))
        .unwrap()
        .is_some()
}

fn pv_exists(cluster: &Cluster, name: &str) -> bool {
    let pvs: Api<PersistentVolume> = Api::all(cluster.client.clone());
    cluster
        .runtime
        .block_on(pvs.get_opt(name))
        .unwrap()
        .is_some()
}

/// Undoing a share removes the share's claim, then its PV, and only then gives the
/// source its `Delete` back.
#[test]
fn undo_of_a_share_removes_it_before_the_source_gets_delete_back() {
    let cluster = Cluster::start(
        &repo("crates/pvwarden/tests/data/share-source.yaml"),
        "undo",
    );
    let journal = JournalFile::new("undo");
    let run = share_applied(&cluster, &journal);

    let (code, report) = undo(&cluster, &journal, &run, &[]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["state"], "done", "{report:#}");
    assert!(!claim_exists(&cluster, "team-b", "media"), "{report:#}");
    assert!(!pv_exists(&cluster, "share-team-b-media"), "{report:#}");
    assert_eq!(cluster.policy(SHARE_SOURCE), "Delete");
    let notes = report["notes"].to_string();
    assert!(notes.contains("its storage stays"), "{notes}");
}

/// While a pod mounts the share's claim, undo removes nothing and keeps the source on
/// `Retain`, saying why and what to do; it is not reported done.
#[test]
fn undo_of_a_share_in_use_keeps_the_source_on_retain() {
    use k8s_openapi::api::core::v1::Pod;

    let cluster = Cluster::start(
        &repo("crates/pvwarden/tests/data/share-source.yaml"),
        "inuse",
    );
    let journal = JournalFile::new("inuse");
    let run = share_applied(&cluster, &journal);
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "reader", "namespace": "team-b"},
        "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "media"}}]
        }
    }))
    .unwrap();
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), "team-b");
    cluster
        .runtime
        .block_on(pods.create(&PostParams::default(), &pod))
        .unwrap();

    let (code, report) = undo(&cluster, &journal, &run, &[]);
    assert_ne!(code, 0, "{report:#}");
    assert_eq!(report["state"], "failed", "{report:#}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("pod reader mounts it"), "{notes}");
    assert!(
        notes.contains("pvwarden unshare share-team-b-media"),
        "{notes}"
    );
    assert!(claim_exists(&cluster, "team-b", "media"));
    assert!(pv_exists(&cluster, "share-team-b-media"));
    assert_eq!(cluster.policy(SHARE_SOURCE), "Retain");
}

/// `undo --recreate-deleted` of an `unshare --apply` run re-creates the share's PV
/// (on `Retain`) and its claim, and says how the claim binds again.
#[test]
fn undo_of_an_unshare_recreates_the_pv_and_the_claim() {
    let cluster = Cluster::start(
        &repo("crates/pvwarden/tests/data/share-source.yaml"),
        "redo",
    );
    let journal = JournalFile::new("redo");
    share_applied(&cluster, &journal);
    let args = [
        "unshare",
        "share-team-b-media",
        "--kubeconfig",
        cluster.kubeconfig(),
        "--apply",
        "--journal",
        journal.arg(),
    ];
    pvwarden(&args);
    cluster.wait_gone("share-team-b-media");
    let run = journal.last_run(&cluster);

    let (code, report) = undo(&cluster, &journal, &run, &["--recreate-deleted"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["state"], "done", "{report:#}");
    assert!(pv_exists(&cluster, "share-team-b-media"), "{report:#}");
    assert_eq!(cluster.policy("share-team-b-media"), "Retain");
    assert!(claim_exists(&cluster, "team-b", "media"), "{report:#}");
    let notes = report["notes"].to_string();
    assert!(notes.contains("fix team-b/media --rebind"), "{notes}");
}

/// `share --apply` into a namespace that does not exist writes nothing and says so
/// plainly; the YAML printed without `--apply` says the namespace must exist.
#[test]
fn share_apply_into_a_missing_namespace_writes_nothing() {
    let cluster = Cluster::start(
        &repo("crates/pvwarden/tests/data/share-source.yaml"),
        "nons",
    );
    let journal = JournalFile::new("nons");
    let args = [
        "share",
        SHARE_SOURCE,
        "--kubeconfig",
        cluster.kubeconfig(),
        "--to-namespace",
        "nowhere",
        "--apply",
        "--journal",
        journal.arg(),
    ];
    let output = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args(args)
        .env_remove("PVWARDEN_CONTEXT")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_ne!(output.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("namespace nowhere (metadata.namespace of claim media) does not exist"),
        "{stderr}"
    );
    assert!(!stderr.contains("Status {"), "{stderr}");
    assert!(!pv_exists(&cluster, "share-nowhere-media"));
    assert_eq!(cluster.policy(SHARE_SOURCE), "Delete");

    let (_, yaml) = pvwarden(&[
        "share",
        SHARE_SOURCE,
        "--kubeconfig",
        cluster.kubeconfig(),
        "--to-namespace",
        "nowhere",
    ]);
    assert!(
        yaml.contains("# The namespace nowhere must exist"),
        "{yaml}"
    );
}

/// The journal records the kubeconfig context's user as the operator of a share run.
#[test]
fn share_apply_records_the_context_user() {
    use pvwarden_journal::{Journal, SqliteJournal};

    let cluster = Cluster::start(
        &repo("crates/pvwarden/tests/data/share-source.yaml"),
        "user",
    );
    let journal = JournalFile::new("user");
    share_applied(&cluster, &journal);
    let opened = SqliteJournal::open(&journal.0).unwrap();
    let runs = cluster.runtime.block_on(opened.runs()).unwrap();
    let kubeconfig = std::fs::read_to_string(&cluster.kubeconfig).unwrap();
    let user = &runs[0].operator;
    assert_ne!(user, "unknown");
    assert!(kubeconfig.contains(&format!("user: {user}")), "{user}\n");
}
