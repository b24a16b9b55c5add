//! Faults: conflicts, server errors, a finalizer put back mid-run, a run killed half way,
//! and running `fix` twice.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use pvwarden_journal::{
    Entry, EntryState, Journal, Result as JournalResult, Run, RunId, RunState, SqliteJournal,
};
use pvwarden_repair::plan::Plan;
use pvwarden_repair::{Operator, Settings};
use pvwarden_testkit::actor::Sidecar;
use serde_json::{json, Value};

use crate::common::{case, Live};
use crate::undo::comparable;

const LEGACY: &str = "15-cephcsi-legacy-v1-volume-id";
const LEGACY_PV: &str = "pvc-47b24768-eff6-11f1-aa7a-350b1edd1bda";

/// Where a simulated kill strikes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kill {
    /// After the entry is journaled, before the request is sent.
    BeforeCall,
    /// After the API server accepted the change, before it is marked applied.
    AfterCall,
}

/// A journal whose process "dies" at one entry: from then on every write fails, as if
/// the process were gone, and the run stops where a kill would have stopped it.
struct Killed {
    inner: SqliteJournal,
    at: u32,
    kill: Kill,
    dead: AtomicU32,
}

impl Killed {
    fn gone() -> pvwarden_journal::Error {
        pvwarden_journal::Error::Open {
            path: "killed".into(),
            source: "the process was killed".into(),
        }
    }

    fn is_dead(&self) -> bool {
        self.dead.load(Ordering::SeqCst) > 0
    }
}

impl Journal for Killed {
    async fn begin(&self, run: &Run) -> JournalResult<()> {
        self.inner.begin(run).await
    }

    async fn record(&self, entry: &Entry) -> JournalResult<()> {
        if self.is_dead() {
            return Err(Killed::gone());
        }
        self.inner.record(entry).await?;
        if self.kill == Kill::BeforeCall && entry.seq == self.at {
            self.dead.store(1, Ordering::SeqCst);
            return Err(Killed::gone());
        }
        Ok(())
    }

    async fn mark(
        &self,
        run: &RunId,
        seq: u32,
        state: EntryState,
        error: Option<&str>,
    ) -> JournalResult<()> {
        if self.is_dead() || (self.kill == Kill::AfterCall && seq == self.at) {
            self.dead.store(1, Ordering::SeqCst);
            return Err(Killed::gone());
        }
        self.inner.mark(run, seq, state, error).await
    }

    async fn finish(&self, run: &RunId, state: RunState) -> JournalResult<()> {
        if self.is_dead() {
            return Err(Killed::gone());
        }
        self.inner.finish(run, state).await
    }

    async fn runs(&self) -> JournalResult<Vec<Run>> {
        self.inner.runs().await
    }

    async fn run(&self, id: &RunId) -> JournalResult<Option<(Run, Vec<Entry>)>> {
        self.inner.run(id).await
    }
}

fn operator() -> Operator {
    Operator {
        name: "test-admin".into(),
        context: "pvwarden-test".into(),
        command: "fix (in-process)".into(),
    }
}

fn quick() -> Settings {
    Settings {
        timeout: Duration::from_secs(8),
        attempts: 40,
        ..Settings::default()
    }
}

/// The plan `pvwarden fix ARGS` prints.
fn plan(live: &Live, args: &[&str]) -> Plan {
    let (code, doc) = live.json(args);
    assert_eq!(code, Some(0), "{doc:#}");
    serde_json::from_value(doc["plan"].clone()).unwrap()
}

/// Applies `plan` in-process, confirmed with its own digest.
fn apply<J: Journal>(
    live: &Live,
    journal: &J,
    plan: &Plan,
    settings: &Settings,
) -> Result<pvwarden_repair::Report, pvwarden_repair::Error> {
    live.runtime.block_on(pvwarden_repair::apply(
        &live.client,
        journal,
        plan,
        &plan.digest(),
        &operator(),
        settings,
    ))
}

/// Applies `plan` in-process, with a kill at entry `at`; returns the run id.
fn killed_run(live: &Live, plan: &Plan, at: u32, kill: Kill) -> RunId {
    let journal = Killed {
        inner: SqliteJournal::open(&live.journal).unwrap(),
        at,
        kill,
        dead: AtomicU32::new(0),
    };
    let result = apply(live, &journal, plan, &quick());
    assert!(
        matches!(result, Err(pvwarden_repair::Error::Journal(_))),
        "{result:?}"
    );
    let runs = live.runtime.block_on(journal.runs()).unwrap();
    runs.last().unwrap().id.clone()
}

fn entries(live: &Live, run: &RunId) -> Vec<Entry> {
    let journal = SqliteJournal::open(&live.journal).unwrap();
    live.runtime.block_on(journal.run(run)).unwrap().unwrap().1
}

fn entry<'a>(entries: &'a [Entry], action: &str) -> &'a Entry {
    entries.iter().find(|e| e.action == action).unwrap()
}

#[test]
fn killed_before_the_call_then_resumed_ends_repaired() {
    let (manifest, seed, _, args) = case(LEGACY);
    let live = Live::start(&manifest, seed, &args);
    let plan = plan(&live, &["fix", LEGACY_PV]);
    // Entry 1 takes the lease, entry 2 sets Retain: killed before that call.
    let run = killed_run(&live, &plan, 2, Kill::BeforeCall);
    let pv = live.pv(LEGACY_PV).unwrap();
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Delete");
    assert_eq!(
        entry(&entries(&live, &run), "set-retain").state,
        EntryState::Planned
    );

    let (code, report) = live.json(&["fix", "--resume", run.as_str(), "--timeout", "8s"]);
    assert_eq!(code, Some(0), "{report:#}");
    assert_eq!(report["state"], "done");
    assert!(live.pv(LEGACY_PV).is_none());
    let after = entries(&live, &run);
    assert_eq!(
        after[1].state,
        EntryState::Failed,
        "the unsent change is settled as not made"
    );
    assert!(after.iter().all(|e| e.state != EntryState::Planned));
    live.assert_backend_kept("resume");
}

#[test]
fn killed_before_the_call_then_undone_leaves_the_pv_as_it_was() {
    let (manifest, seed, _, args) = case(LEGACY);
    let live = Live::start_without(&manifest, seed, &args, &[]);
    let before = comparable(live.pv(LEGACY_PV).unwrap());
    let plan = plan(&live, &["fix", LEGACY_PV]);
    let run = killed_run(&live, &plan, 2, Kill::BeforeCall);
    assert!(!live.pv(LEGACY_PV).unwrap()["metadata"]["annotations"]["pvwarden.io/lease"].is_null());

    let (code, undone) = live.json(&["undo", run.as_str()]);
    assert_eq!(code, Some(0), "{undone:#}");
    assert_eq!(comparable(live.pv(LEGACY_PV).unwrap()), before);
    live.assert_backend_kept("undo after kill");
}

#[test]
fn killed_after_the_call_then_resumed_or_undone() {
    // The Rook share's copy while still Bound: Retain is its whole plan.
    let manifest = crate::common::testdata().join("../examples/rook-cephfs-share/broken.yaml");
    let live = Live::start(&manifest, json!({"volumes": [], "pools": []}), &[]);
    let copy = "media-broken-b";
    let before = comparable(live.pv(copy).unwrap());
    let plan = plan(&live, &["fix", copy]);
    let run = killed_run(&live, &plan, 2, Kill::AfterCall);
    assert_eq!(
        live.pv(copy).unwrap()["spec"]["persistentVolumeReclaimPolicy"],
        "Retain"
    );
    assert_eq!(
        entry(&entries(&live, &run), "set-retain").state,
        EntryState::Planned
    );

    // Resume settles the change as made and does not make it twice.
    let (code, report) = live.json(&["fix", "--resume", run.as_str()]);
    assert_eq!(code, Some(0), "{report:#}");
    let after = entries(&live, &run);
    assert_eq!(entry(&after, "set-retain").state, EntryState::Applied);
    assert_eq!(after.iter().filter(|e| e.action == "set-retain").count(), 1);

    // Undo brings the earlier object back, field by field, once nothing else shares
    // the copy's storage.
    live.remove_rook_original();
    let (code, undone) = live.json(&["undo", run.as_str()]);
    assert_eq!(code, Some(0), "{undone:#}");
    live.wait_until(|live| comparable(live.pv(copy).unwrap()) == before);
    assert_eq!(comparable(live.pv(copy).unwrap()), before);
}

#[test]
fn fix_twice_changes_nothing_the_second_time() {
    let (manifest, seed, _, args) = case(LEGACY);
    let live = Live::start(&manifest, seed, &args);
    let (_, first) = live.fix(&["fix", "--all-stuck"]);
    assert_eq!(first["state"], "done", "{first:#}");
    let (again, second) = live.fix(&["fix", "--all-stuck"]);
    assert_eq!(again["changes"], 0, "{again:#}");
    assert_eq!(second["targets"], json!([]), "{second:#}");
    live.assert_backend_kept("twice");
}

#[test]
fn conflicts_are_retried_and_never_force_a_change() {
    let (manifest, seed, _, args) = case(LEGACY);
    let live = Live::start(&manifest, seed, &args);
    let before = comparable(live.pv(LEGACY_PV).unwrap());
    let plan = plan(&live, &["fix", LEGACY_PV]);
    let journal = SqliteJournal::open(&live.journal).unwrap();

    // Every write conflicts: the run gives up and the PV is exactly as it was.
    let faults = |rate: f64| json!({"conflict_rate": rate, "paths": ["persistentvolumes"]});
    live.put("/pvwarden-test/faults", &faults(1.0));
    let settings = Settings {
        attempts: 3,
        ..quick()
    };
    let report = apply(&live, &journal, &plan, &settings).unwrap();
    assert_eq!(report.state, RunState::Failed);
    assert!(
        report.targets[0]
            .notes
            .iter()
            .any(|n| n.contains("gave up")),
        "{report:?}"
    );
    assert_eq!(comparable(live.pv(LEGACY_PV).unwrap()), before);

    // Half of them conflict: each write is read and tried again until it goes through.
    live.put("/pvwarden-test/faults", &faults(0.5));
    let report = apply(&live, &journal, &plan, &quick()).unwrap();
    live.put("/pvwarden-test/faults", &json!({}));
    assert_eq!(report.state, RunState::Done, "{report:?}");
    assert!(live.pv(LEGACY_PV).is_none());
    live.assert_backend_kept("conflicts");
}

#[test]
fn server_errors_and_latency_are_retried() {
    let (manifest, seed, _, args) = case(LEGACY);
    let live = Live::start(&manifest, seed, &args);
    let plan = plan(&live, &["fix", LEGACY_PV]);
    let journal = SqliteJournal::open(&live.journal).unwrap();
    let faults = json!({"error_rate": 0.3, "error_status": 503, "latency_ms": 20,
        "paths": ["persistentvolumes"]});
    live.put("/pvwarden-test/faults", &faults);
    let report = apply(&live, &journal, &plan, &quick()).unwrap();
    live.put("/pvwarden-test/faults", &json!({}));
    assert_eq!(report.state, RunState::Done, "{report:?}");
    live.wait_for("the PV to go", |live| live.pv(LEGACY_PV).is_none());
    live.assert_backend_kept("server errors");
}

#[test]
fn a_finalizer_put_back_mid_run_is_removed_alone() {
    // No healthy provisioner runs; a stale one keeps putting its finalizer back first in
    // the list while the PV is not being deleted, and keeps reordering the list after.
    let (manifest, seed, _, args) = case(LEGACY);
    let provisioner = Sidecar::Provisioner("rbd.csi.ceph.com".into());
    let live = Live::start_without(&manifest, seed, &args, &[provisioner]);
    let plan = plan(&live, &["fix", LEGACY_PV]);
    let finalizer = "external-provisioner.volume.kubernetes.io/finalizer";

    let pvs = live.pvs();
    let stale = live.runtime.spawn(async move {
        loop {
            if let Ok(Some(pv)) = pvs.get_opt(LEGACY_PV).await {
                let mut list = pv.metadata.finalizers.clone().unwrap_or_default();
                if !list.iter().any(|f| f == finalizer) && pv.metadata.deletion_timestamp.is_none()
                {
                    list.insert(0, finalizer.to_owned());
                } else {
                    list.reverse();
                }
                let patch = json!({"metadata": {"finalizers": list}});
                let _ = pvs
                    .patch(LEGACY_PV, &PatchParams::default(), &Patch::Merge(patch))
                    .await;
            }
            tokio::time::sleep(Duration::from_millis(30)).await;
        }
    });
    let journal = SqliteJournal::open(&live.journal).unwrap();
    let settings = Settings {
        timeout: Duration::from_secs(2),
        ..quick()
    };
    let report = apply(&live, &journal, &plan, &settings);
    stale.abort();
    let report = report.unwrap();
    assert_eq!(report.state, RunState::Done, "{report:?}");
    assert!(live.pv(LEGACY_PV).is_none());

    // Every removal removed exactly one finalizer, tested by value at its index.
    let removals: Vec<Value> = entries(&live, &report.run)
        .into_iter()
        .filter(|e| e.action == "remove-finalizer")
        .map(|e| e.patch.unwrap())
        .collect();
    assert!(!removals.is_empty());
    for patch in removals {
        let ops = patch.as_array().unwrap();
        assert_eq!(
            ops.iter().filter(|op| op["op"] == "remove").count(),
            1,
            "{patch}"
        );
        assert_eq!(ops[1]["op"], "test");
        assert_eq!(ops[1]["value"], finalizer);
    }
    live.assert_backend_kept("stale provisioner");
}

#[test]
fn a_pv_leased_by_another_run_is_left_alone() {
    let (manifest, seed, _, args) = case(LEGACY);
    let live = Live::start(&manifest, seed, &args);
    let plan = plan(&live, &["fix", LEGACY_PV]);

    // Another run (or the controller) holds the PV for the next hour.
    let until = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1);
    let lease = json!({"run": "other-run", "holder": "someone", "expires": until}).to_string();
    let patch = json!({"metadata": {"annotations": {"pvwarden.io/lease": lease}}});
    live.runtime
        .block_on(
            live.pvs()
                .patch(LEGACY_PV, &PatchParams::default(), &Patch::Merge(patch)),
        )
        .unwrap();
    let before = comparable(live.pv(LEGACY_PV).unwrap());

    let digest = plan.digest();
    let (_, report) = live.json(&["fix", LEGACY_PV, "--apply", "--confirm", &digest]);
    assert_eq!(report["state"], "failed", "{report:#}");
    assert!(
        report.to_string().contains("leased by run other-run"),
        "{report:#}"
    );
    assert_eq!(comparable(live.pv(LEGACY_PV).unwrap()), before);

    // A finished run cannot be resumed into doing its changes again.
    let run = report["run"].as_str().unwrap();
    // A failed run may be resumed; the lease still holds, so it fails again.
    let output = live.pvwarden(&["fix", "--resume", run]);
    assert_eq!(output.status.code(), Some(1));
    let output = live.pvwarden(&["undo", run]);
    assert_eq!(output.status.code(), Some(0));
    let output = live.pvwarden(&["fix", "--resume", run]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("nothing to resume"));
    live.assert_backend_kept("lease");
}

#[test]
fn a_partial_read_plans_no_repair() {
    use pvwarden_testkit::server::{Config, Rule, Server, TokenSpec};

    let (manifest, _, _, _) = case(LEGACY);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // A user who may read PVs and claims, but not VolumeAttachments or anything else.
    let token = TokenSpec {
        token: "pv-reader".into(),
        user: "pv-reader".into(),
        rules: vec![Rule {
            verbs: vec!["get".into(), "list".into()],
            api_groups: vec![String::new()],
            resources: vec!["persistentvolumes".into(), "persistentvolumeclaims".into()],
        }],
    };
    let config = Config {
        load: vec![manifest],
        tokens: vec![token],
        ..Config::default()
    };
    let server = runtime.block_on(Server::start(config)).unwrap();
    let kubeconfig = std::env::temp_dir().join(format!("pvwarden-partial-{}", std::process::id()));
    let text = server.kubeconfig.replace(&server.admin_token, "pv-reader");
    std::fs::write(&kubeconfig, text).unwrap();

    let output = std::process::Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args(["fix", "--all-stuck", "--kubeconfig"])
        .arg(&kubeconfig)
        .env_remove("PVWARDEN_CONTEXT")
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&kubeconfig);
    runtime.block_on(server.shutdown());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("partial read"), "{stderr}");
    assert!(stderr.contains("volumeattachments"), "{stderr}");
}

#[test]
fn the_in_cluster_journal_serves_apply_and_undo() {
    use k8s_openapi::api::core::v1::Namespace;
    use kube::api::PostParams;
    use pvwarden_journal::ConfigMapJournal;

    let manifest = crate::common::testdata().join("../examples/rook-cephfs-share/broken.yaml");
    let live = Live::start(&manifest, json!({"volumes": [], "pools": []}), &[]);
    let copy = "media-broken-b";
    let before = comparable(live.pv(copy).unwrap());
    let plan = plan(&live, &["fix", copy]);

    let namespace: Namespace =
        serde_json::from_value(json!({"metadata": {"name": "pvwarden"}})).unwrap();
    let namespaces: kube::Api<Namespace> = kube::Api::all(live.client.clone());
    live.runtime
        .block_on(namespaces.create(&PostParams::default(), &namespace))
        .unwrap();
    let journal = ConfigMapJournal::new(live.client.clone(), "pvwarden");
    let report = apply(&live, &journal, &plan, &quick()).unwrap();
    assert_eq!(report.state, RunState::Done, "{report:?}");
    assert_eq!(
        live.pv(copy).unwrap()["spec"]["persistentVolumeReclaimPolicy"],
        "Retain"
    );

    live.remove_rook_original();
    let undone = live
        .runtime
        .block_on(pvwarden_repair::undo(
            &live.client,
            &journal,
            &report.run,
            pvwarden_repair::UndoOptions::default(),
            &operator(),
            &quick(),
        ))
        .unwrap();
    assert_eq!(undone.state, RunState::Done, "{undone:?}");
    live.wait_until(|live| comparable(live.pv(copy).unwrap()) == before);
    assert_eq!(comparable(live.pv(copy).unwrap()), before);
    let (run, entries) = live
        .runtime
        .block_on(journal.run(&report.run))
        .unwrap()
        .unwrap();
    assert_eq!(run.state, RunState::Undone);
    assert!(entries
        .iter()
        .any(|e| e.action == "set-retain" && e.state == EntryState::Undone));
}
