//! The audit of a live cluster, checked against the audit of the same objects in a file.
//!
//! Each case of `testdata/cases/` is loaded into the test API server (pvwarden-testkit) and
//! audited through a kubeconfig, as `pvwarden audit` with no PATH reads a cluster; the same
//! case is audited offline from its file. The verdicts must agree in everything that does not
//! depend on where an object was read (`origin`). A live run would take the Kubernetes
//! release from the server, so both runs are given it with `--kube-version`.
//!
//! With the cluster actors running, the provisioner's `VolumeFailedDelete` event must reach
//! the verdict as evidence, without changing it.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use pvwarden_testkit::actor;
use pvwarden_testkit::server::{Config, Running, Server};
use serde_json::{json, Value};

/// The time every audit is judged at, so that ages of timestamps are fixed.
const NOW: &str = "2026-12-04T12:00:00Z";
/// The Kubernetes release both runs assume: live, it would be the server's.
const KUBE_VERSION: &str = "1.37";
/// The fields of a PV verdict that do not depend on where the PV was read.
const VOLUME_FIELDS: [&str; 5] = [
    "provisioning",
    "on_delete",
    "stuck",
    "blocking_finalizers",
    "next_deletion",
];
/// The same for a claim.
const CLAIM_FIELDS: [&str; 2] = ["on_delete", "stuck"];

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases")
}

/// Runs `pvwarden audit -o json` on `input`: a file, or `--kubeconfig FILE`.
fn audit(input: &[&OsStr], extra: &[String]) -> Value {
    let output = Command::new(env!("CARGO_BIN_EXE_pvwarden"))
        .args(["audit", "-o", "json", "--now", NOW])
        .args(extra)
        .args(input)
        // A context chosen in the environment would not exist in the test kubeconfig.
        .env_remove("PVWARDEN_CONTEXT")
        .output()
        .expect("pvwarden must run");
    let code = output.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "audit {input:?}: exit {code:?}, stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("audit -o json must print JSON")
}

/// The test API server, on a runtime of its own so that tests may block on the CLI.
struct Cluster {
    runtime: tokio::runtime::Runtime,
    server: Option<Running>,
    dir: PathBuf,
    kubeconfig: PathBuf,
}

impl Cluster {
    /// Starts a server preloaded with `manifest`, with or without the cluster actors.
    fn start(manifest: &Path, actors: bool) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("pvwarden-live-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();

        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            load: vec![manifest.to_owned()],
            actors,
            ..Config::default()
        };
        let server = runtime.block_on(Server::start(config)).unwrap();
        let kubeconfig = dir.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        Self {
            runtime,
            server: Some(server),
            dir,
            kubeconfig,
        }
    }

    /// Audits the cluster through the kubeconfig.
    fn audit(&self, extra: &[String]) -> Value {
        let report = audit(&["--kubeconfig".as_ref(), self.kubeconfig.as_ref()], extra);
        let cluster = &report["input"]["cluster"];
        assert_eq!(cluster["context"], "pvwarden-test", "read live: {cluster}");
        assert_eq!(cluster["degraded"], json!([]), "the admin reads everything");
        report
    }

    /// The `VolumeFailedDelete` events about a PV.
    fn failed_deletes(&self, pv: &str) -> Vec<Event> {
        let server = self.server.as_ref().unwrap();
        let listed = self.runtime.block_on(async {
            let client = actor::client(&server.url, &server.ca_pem, &server.admin_token)?;
            // Events about cluster-scoped objects live in the default namespace.
            let events: Api<Event> = Api::namespaced(client, "default");
            Ok::<_, Box<dyn std::error::Error>>(events.list(&ListParams::default()).await?)
        });
        listed
            .unwrap()
            .items
            .into_iter()
            .filter(|e| e.reason.as_deref() == Some("VolumeFailedDelete"))
            .filter(|e| e.involved_object.name.as_deref() == Some(pv))
            .collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A case's manifest and the flags its `.expect.json` passes to the audit.
fn read_case(name: &str) -> (PathBuf, Value, Vec<String>) {
    let dir = cases_dir();
    let text = std::fs::read_to_string(dir.join(format!("{name}.expect.json"))).unwrap();
    let expect: Value = serde_json::from_str(&text).unwrap();
    let args = serde_json::from_value(expect["audit_args"].clone()).unwrap_or_default();
    (dir.join(format!("{name}.yaml")), expect, args)
}

/// The parts of a report's verdicts that must not depend on where objects were read, by PV
/// name and by `namespace/name` of claim.
fn verdicts(report: &Value) -> BTreeMap<String, Value> {
    let findings = |verdict: &Value| -> Value {
        let findings = verdict["findings"].as_array().unwrap();
        findings
            .iter()
            .map(|f| json!([f["rule"], f["severity"], f["message"]]))
            .collect()
    };
    let pick = |verdict: &Value, fields: &[&str]| -> Value {
        let mut picked: serde_json::Map<String, Value> = fields
            .iter()
            .map(|&field| (field.to_owned(), verdict[field].clone()))
            .collect();
        picked.insert("findings".to_owned(), findings(verdict));
        Value::Object(picked)
    };

    let mut verdicts = BTreeMap::new();
    for pv in report["volumes"].as_array().unwrap() {
        let key = format!("PV {}", pv["name"].as_str().unwrap());
        verdicts.insert(key, pick(pv, &VOLUME_FIELDS));
    }
    for claim in report["claims"].as_array().unwrap() {
        let (namespace, name) = (&claim["namespace"], &claim["name"]);
        let key = format!(
            "claim {}/{}",
            namespace.as_str().unwrap(),
            name.as_str().unwrap()
        );
        verdicts.insert(key, pick(claim, &CLAIM_FIELDS));
    }
    verdicts
}

fn check_case(name: &str) {
    let (manifest, expect, mut args) = read_case(name);
    if !args.iter().any(|a| a == "--kube-version") {
        args.extend(["--kube-version".to_owned(), KUBE_VERSION.to_owned()]);
    }
    let offline = verdicts(&audit(&[manifest.as_ref()], &args));
    let cluster = Cluster::start(&manifest, false);
    let live = verdicts(&cluster.audit(&args));

    let subjects = |v: &Value| v.as_object().map_or(0, serde_json::Map::len);
    let expected = subjects(&expect["volumes"]) + subjects(&expect["claims"]);
    assert!(
        offline.len() >= expected,
        "{name}: offline audit lacks subjects: {offline:#?}"
    );
    assert_eq!(
        live.keys().collect::<Vec<_>>(),
        offline.keys().collect::<Vec<_>>(),
        "{name}: the objects audited"
    );
    for (subject, offline) in &offline {
        let live = &live[subject];
        for (field, want) in offline.as_object().unwrap() {
            assert_eq!(
                &live[field], want,
                "{name}: {subject}: {field}, live vs offline"
            );
        }
    }
}

macro_rules! cases {
    ($($test:ident => $file:literal;)*) => {
        $(
            #[test]
            fn $test() {
                check_case($file);
            }
        )*

        #[test]
        fn every_case_file_has_a_live_test() {
            let known = [$($file),*];
            for entry in std::fs::read_dir(cases_dir()).unwrap() {
                let name = entry.unwrap().file_name().into_string().unwrap();
                if let Some(stem) = name.strip_suffix(".expect.json") {
                    assert!(known.contains(&stem), "case {stem} has no live test");
                }
            }
        }
    };
}

cases! {
    case_01_live_audit_matches_offline => "01-rook-cephfs-static-share-newnamespace";
    case_03_live_audit_matches_offline => "03-infoscale-static-failed-phase-finalizer";
    case_05_live_audit_matches_offline => "05-rook-rbd-static-retain-underflow";
    case_07_live_audit_matches_offline => "07-rook-rbd-pvc-terminating-pod-still-running";
    case_09_live_audit_matches_offline => "09-vsphere-released-attacher-finalizer-cns-gone";
    case_11_live_audit_matches_offline => "11-azuredisk-finalizer-race-backend-deleted";
    case_13_live_audit_matches_offline => "13-longhorn-pv-terminating-attacher-finalizer";
    case_15_live_audit_matches_offline => "15-cephcsi-legacy-v1-volume-id";
    case_17_live_audit_matches_offline => "17-vsphere-duplicate-volumehandle-file-share";
    case_19_live_audit_matches_offline => "19-cephcsi-rbd-released-cephx-disabled";
    case_21_live_audit_matches_offline => "21-cephcsi-rbd-handcrafted-encoded-handle-adoption";
    case_23_live_audit_matches_offline => "23-smb-released-pv-stale-claimref-uid";
    case_25_live_audit_matches_offline => "25-rook-doc-example-clusterid-length-mismatch";
    case_27_live_audit_matches_offline => "27-cephcsi-rbd-pool-deleted-before-pv";
}

// === with the cluster actors ===

/// Case 01's static copy of the share: terminating, and its handle never decodes.
const COPY: &str = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer";
/// The finalizer the provisioner keeps on PVs whose storage it must delete.
const PROVISIONER_FINALIZER: &str = "external-provisioner.volume.kubernetes.io/finalizer";

#[test]
fn provisioner_failure_event_becomes_evidence() {
    let case = "01-rook-cephfs-static-share-newnamespace";
    let (manifest, _, args) = read_case(case);
    let cluster = Cluster::start(&manifest, true);

    // The provisioner retries DeleteVolume of the terminating copy and records its failure.
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        if let Some(event) = cluster.failed_deletes(COPY).pop() {
            break event;
        }
        assert!(
            Instant::now() < deadline,
            "no VolumeFailedDelete event about {COPY}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let message = event.message.unwrap();
    assert!(message.contains("invalid VolumeID"), "{message}");

    let report = cluster.audit(&args);
    let copy = report["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|pv| pv["name"] == COPY)
        .unwrap();
    let evidence: Vec<&str> = copy["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        evidence
            .iter()
            .any(|e| e.contains("VolumeFailedDelete") && e.contains(&message)),
        "the event is evidence: {evidence:#?}"
    );

    // The event confirms the verdict; it does not change it.
    assert_eq!(copy["on_delete"], "hangs", "{copy}");
    assert_eq!(copy["stuck"], true, "{copy}");
    assert_eq!(
        copy["blocking_finalizers"],
        json!([PROVISIONER_FINALIZER]),
        "{copy}"
    );
}
