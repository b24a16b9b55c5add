//! The kubectl fidelity suite: the real kubectl against the test API server.
//!
//! Each test starts a server, writes its kubeconfig into a fresh directory
//! (also used as `HOME`, so kubectl's discovery cache stays there), and runs
//! kubectl as a user would. The tests are skipped, with a message, only when
//! no kubectl is installed.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use pvwarden_testkit::server::{Config, Running, Server};
use serde_json::{json, Value};

/// A server on its own runtime, a scratch directory, and kubectl pointed at both.
struct Kubectl {
    runtime: tokio::runtime::Runtime,
    server: Option<Running>,
    dir: PathBuf,
}

impl Kubectl {
    /// Starts a server; `None` (after saying why) when kubectl is not installed.
    fn start() -> Option<Kubectl> {
        let installed = Command::new("kubectl")
            .args(["version", "--client"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !installed {
            eprintln!("SKIPPED: kubectl is not installed; the kubectl fidelity suite needs it");
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "pvwarden-kubectl-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("scratch directory must be creatable");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime must start");
        let server = runtime
            .block_on(Server::start(Config::default()))
            .expect("server must start");
        server
            .write_kubeconfig(dir.join("kubeconfig"))
            .expect("kubeconfig must be writable");
        Some(Kubectl {
            runtime,
            server: Some(server),
            dir,
        })
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new("kubectl");
        command
            .args(args)
            .env("KUBECONFIG", self.dir.join("kubeconfig"))
            .env("HOME", &self.dir)
            .env_remove("KUBECTL_EXTERNAL_DIFF")
            .current_dir(&self.dir)
            .stdin(Stdio::null());
        command
    }

    /// Runs kubectl to the end.
    fn run(&self, args: &[&str]) -> Run {
        let output = self.command(args).output().expect("kubectl must run");
        Run::from(output, args)
    }

    /// Runs kubectl and asserts it succeeded; returns stdout.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(
            run.code,
            Some(0),
            "kubectl {args:?} failed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
        run.stdout
    }

    /// Runs kubectl and reads stdout as JSON.
    fn json(&self, args: &[&str]) -> Value {
        let out = self.ok(args);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("kubectl {args:?} gave no JSON ({e}):\n{out}"))
    }

    /// Writes a manifest into the scratch directory.
    fn file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, text).expect("manifest must be writable");
        path
    }

    fn server(&self) -> &Running {
        self.server.as_ref().expect("server runs until drop")
    }
}

impl Drop for Kubectl {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn from(output: Output, _args: &[&str]) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

const PV: &str = "apiVersion: v1
kind: PersistentVolume
metadata:
  name: static-share
  labels:
    app: share
spec:
  capacity:
    storage: 1Gi
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Delete
  storageClassName: rook-cephfs
  csi:
    driver: rook-ceph.cephfs.csi.ceph.com
    volumeHandle: 0001-0009-rook-ceph-0000000000000001-11111111-2222-3333-4444-555555555555-other
    volumeAttributes:
      staticVolume: \"true\"
";

fn path_str(path: &Path) -> &str {
    path.to_str().expect("scratch paths are UTF-8")
}

#[test]
fn get_prints_tables_yaml_and_json() {
    let Some(k) = Kubectl::start() else { return };
    let pv = k.file("pv.yaml", PV);
    k.ok(&["create", "-f", path_str(&pv)]);
    k.ok(&["create", "namespace", "apps"]);
    k.ok(&[
        "create",
        "configmap",
        "settings",
        "-n",
        "apps",
        "--from-literal=a=b",
    ]);

    let table = k.ok(&["get", "pv"]);
    assert!(table.starts_with("NAME "), "{table}");
    assert!(
        table.contains("CAPACITY") && table.contains("RECLAIM POLICY"),
        "{table}"
    );
    assert!(
        table.contains("static-share") && table.contains("RWX"),
        "{table}"
    );

    let yaml = k.ok(&["get", "pv", "static-share", "-o", "yaml"]);
    assert!(yaml.contains("kind: PersistentVolume"), "{yaml}");
    assert!(yaml.contains("staticVolume: \"true\""), "{yaml}");

    let list = k.json(&["get", "pv", "-o", "json"]);
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"][0]["metadata"]["name"], "static-share");
    assert_eq!(list["items"][0]["kind"], "PersistentVolume");

    let selected = k.json(&["get", "pv", "-l", "app=share", "-o", "json"]);
    assert_eq!(selected["items"].as_array().map(Vec::len), Some(1));
    let none = k.json(&["get", "pv", "-l", "app!=share", "-o", "json"]);
    assert_eq!(none["items"].as_array().map(Vec::len), Some(0));

    let all = k.ok(&["get", "configmaps", "-A"]);
    assert!(all.starts_with("NAMESPACE "), "{all}");
    assert!(all.contains("apps") && all.contains("settings"), "{all}");

    let missing = k.run(&["get", "pv", "nope"]);
    assert_eq!(missing.code, Some(1));
    assert!(
        missing
            .stderr
            .contains("Error from server (NotFound): persistentvolumes \"nope\" not found"),
        "{}",
        missing.stderr
    );
}

#[test]
fn watch_prints_changes_until_killed() {
    let Some(k) = Kubectl::start() else { return };
    let first = k.file("first.yaml", &PV.replace("static-share", "first"));
    k.ok(&["create", "-f", path_str(&first)]);
    let mut child = k
        .command(&["get", "pv", "--watch", "-o", "name"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kubectl must start");
    let output = Arc::new(Mutex::new(String::new()));
    let stdout = child.stdout.take().expect("stdout is piped");
    let sink = Arc::clone(&output);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let mut text = sink.lock().unwrap();
            text.push_str(&line);
            text.push('\n');
        }
    });
    let seen = |what: &str| wait_until(|| output.lock().unwrap().contains(what));

    // The watch is running once it printed the existing PV; then a new one must show.
    let listed = seen("persistentvolume/first");
    let pv = k.file("pv.yaml", PV);
    k.ok(&["create", "-f", path_str(&pv)]);
    let watched = seen("persistentvolume/static-share");
    std::thread::sleep(Duration::from_secs(1));
    // Stop the watch by its own PID.
    let pid = i32::try_from(child.id()).unwrap();
    let killed = Command::new("kill").arg(pid.to_string()).status().unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    reader.join().unwrap();
    let text = output.lock().unwrap().clone();
    assert!(listed && watched, "kubectl printed:\n{text}");
}

/// Polls a condition for up to 30 seconds.
fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

#[test]
fn patch_takes_all_three_types() {
    let Some(k) = Kubectl::start() else { return };
    let pv = k.file("pv.yaml", PV);
    k.ok(&["create", "-f", path_str(&pv)]);

    let out = k.ok(&[
        "patch",
        "pv",
        "static-share",
        "--type=json",
        "-p",
        r#"[{"op":"replace","path":"/spec/persistentVolumeReclaimPolicy","value":"Retain"}]"#,
    ]);
    assert_eq!(out.trim(), "persistentvolume/static-share patched");
    k.ok(&[
        "patch",
        "pv",
        "static-share",
        "--type=merge",
        "-p",
        r#"{"metadata":{"labels":{"merged":"yes"}}}"#,
    ]);
    k.ok(&[
        "patch",
        "pv",
        "static-share",
        "-p",
        r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
    ]);

    let pv = k.json(&["get", "pv", "static-share", "-o", "json"]);
    assert_eq!(pv["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    assert_eq!(pv["metadata"]["labels"]["merged"], "yes");
    assert_eq!(pv["metadata"]["finalizers"], json!(["example.com/hold"]));

    let failed = k.run(&[
        "patch",
        "pv",
        "static-share",
        "--type=json",
        "-p",
        r#"[{"op":"test","path":"/spec/persistentVolumeReclaimPolicy","value":"Delete"}]"#,
    ]);
    assert_eq!(failed.code, Some(1));
    assert!(
        failed
            .stderr
            .contains("the server rejected our request due to an error in our request"),
        "{}",
        failed.stderr
    );
}

#[test]
fn delete_without_waiting_leaves_a_finalized_pv_until_patched() {
    let Some(k) = Kubectl::start() else { return };
    let pv = k.file("pv.yaml", PV);
    k.ok(&["create", "-f", path_str(&pv)]);
    k.ok(&[
        "patch",
        "pv",
        "static-share",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":["external-provisioner.volume.kubernetes.io/finalizer"]}}"#,
    ]);

    let out = k.ok(&["delete", "pv", "static-share", "--wait=false"]);
    assert_eq!(out.trim(), "persistentvolume \"static-share\" deleted");
    let pv = k.json(&["get", "pv", "static-share", "-o", "json"]);
    assert!(pv["metadata"]["deletionTimestamp"].is_string(), "{pv}");
    let table = k.ok(&["get", "pv", "static-share"]);
    assert!(table.contains("static-share"), "{table}");

    k.ok(&[
        "patch",
        "pv",
        "static-share",
        "--type=merge",
        "-p",
        r#"{"metadata":{"finalizers":null}}"#,
    ]);
    let gone = k.run(&["get", "pv", "static-share"]);
    assert_eq!(gone.code, Some(1), "{}", gone.stdout);
    assert!(gone.stderr.contains("NotFound"), "{}", gone.stderr);
}

#[test]
fn apply_creates_then_configures_with_validation_on() {
    let Some(k) = Kubectl::start() else { return };
    let pv = k.file("pv.yaml", PV);
    let out = k.ok(&["apply", "-f", path_str(&pv)]);
    assert_eq!(out.trim(), "persistentvolume/static-share created");
    let out = k.ok(&["apply", "-f", path_str(&pv)]);
    assert_eq!(out.trim(), "persistentvolume/static-share unchanged");

    let changed = PV
        .replace("app: share", "app: shared")
        .replace("Delete", "Retain");
    let pv = k.file("pv.yaml", &changed);
    let run = k.run(&["apply", "-f", path_str(&pv)]);
    assert_eq!(run.code, Some(0), "{}", run.stderr);
    assert_eq!(
        run.stdout.trim(),
        "persistentvolume/static-share configured"
    );
    assert!(!run.stderr.contains("warning"), "{}", run.stderr);

    let applied = k.json(&["get", "pv", "static-share", "-o", "json"]);
    assert_eq!(applied["metadata"]["labels"]["app"], "shared");
    assert_eq!(applied["spec"]["persistentVolumeReclaimPolicy"], "Retain");
    let last = applied["metadata"]["annotations"]
        ["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .unwrap_or("");
    assert!(last.contains("\"Retain\""), "{last}");
    assert!(k.server().kubeconfig.contains("certificate-authority-data"));
}
