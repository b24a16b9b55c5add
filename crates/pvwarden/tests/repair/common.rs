//! A test server with actors, and the CLI run against it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::Api;
use kube::Client;
use pvwarden_testkit::actor::{self, Actors, Sidecar, Version};
use pvwarden_testkit::server::{Config, Running, Server};
use serde_json::Value;

/// How long the actors get to finish what a repair let them do.
pub const SETTLE: Duration = Duration::from_secs(30);

pub fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata")
}

/// A test API server with a seeded backend and running actors.
pub struct Live {
    pub runtime: tokio::runtime::Runtime,
    pub server: Option<Running>,
    pub actors: Option<Actors>,
    pub client: Client,
    pub dir: PathBuf,
    pub kubeconfig: PathBuf,
    pub journal: PathBuf,
    pub seed: Value,
    /// The releases the model is told about, the same as the actors'.
    pub model_args: Vec<String>,
}

impl Live {
    /// Starts a server loaded with `manifest` and seeded with `seed`; the actors run at
    /// the releases `audit_args` name (else the current ones).
    pub fn start(manifest: &Path, seed: Value, audit_args: &[String]) -> Live {
        Live::start_without(manifest, seed, audit_args, &[])
    }

    /// As [`Live::start`], with some sidecars not running.
    pub fn start_without(
        manifest: &Path,
        seed: Value,
        audit_args: &[String],
        stopped: &[Sidecar],
    ) -> Live {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("pvwarden-repair-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = Config {
            load: vec![manifest.to_owned()],
            ..Config::default()
        };
        let server = runtime.block_on(Server::start(config)).unwrap();
        let client = runtime
            .block_on(async { actor::client(&server.url, &server.ca_pem, &server.admin_token) })
            .unwrap();
        let kubeconfig = dir.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();

        let (mut actor_config, model_args) = releases(audit_args);
        actor_config.stopped = stopped.to_vec();
        let mut live = Live {
            runtime,
            actors: None,
            client,
            journal: dir.join("journal.db"),
            dir,
            kubeconfig,
            seed: seed.clone(),
            model_args,
            server: Some(server),
        };
        live.put("/pvwarden-test/backend", &seed);
        let server = live.server.as_ref().unwrap();
        let actors = live.runtime.block_on(async {
            actor::try_spawn(
                &server.url,
                &server.ca_pem,
                &server.admin_token,
                actor_config,
            )
        });
        live.actors = Some(actors.unwrap());
        live
    }

    /// Runs `pvwarden ARGS` against the server with the test's journal.
    pub fn pvwarden(&self, args: &[&str]) -> std::process::Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_pvwarden"));
        command.args(args);
        if args.first() != Some(&"journal") {
            command.arg("--kubeconfig").arg(&self.kubeconfig);
        }
        command
            .arg("--journal")
            .arg(&self.journal)
            .env_remove("PVWARDEN_CONTEXT")
            .env_remove("PVWARDEN_JOURNAL")
            .output()
            .expect("pvwarden must run")
    }

    /// Runs a repair verb with `-o json` and the model's releases; returns its document.
    pub fn json(&self, args: &[&str]) -> (Option<i32>, Value) {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["-o", "json"]);
        if matches!(args.first(), Some(&"fix") | Some(&"prune")) && !args.contains(&"--resume") {
            all.extend(self.model_args.iter().map(String::as_str));
        }
        let output = self.pvwarden(&all);
        let doc = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            panic!(
                "pvwarden {args:?}: no JSON (exit {:?}): {}{}",
                output.status.code(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code(), doc)
    }

    /// Plans, then applies exactly that plan; returns the plan and the run report.
    ///
    /// The actors may still be moving the cluster on when the test starts; then the
    /// apply refuses the stale digest, and the plan is made again, as a user would.
    pub fn fix(&self, args: &[&str]) -> (Value, Value) {
        for _ in 0..10 {
            let (code, plan) = self.json(args);
            assert_eq!(code, Some(0), "dry run {args:?}: {plan:#}");
            let digest = plan["digest"].as_str().unwrap().to_owned();
            let mut apply = args.to_vec();
            apply.extend([
                "--apply",
                "--confirm",
                &digest,
                "--timeout",
                "8s",
                "-o",
                "json",
            ]);
            apply.extend(self.model_args.iter().map(String::as_str));
            let output = self.pvwarden(&apply);
            let stderr = String::from_utf8_lossy(&output.stderr);
            if stderr.contains("no longer the one confirmed") {
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
            let report = serde_json::from_slice(&output.stdout)
                .unwrap_or_else(|_| panic!("apply {args:?}: no JSON: {stderr}"));
            return (plan, report);
        }
        panic!("the plan of {args:?} never held still long enough to apply");
    }

    pub fn pvs(&self) -> Api<PersistentVolume> {
        Api::all(self.client.clone())
    }

    /// A PV as JSON, or `None` when it is gone.
    pub fn pv(&self, name: &str) -> Option<Value> {
        let pv = self.runtime.block_on(self.pvs().get_opt(name)).unwrap();
        pv.map(|pv| serde_json::to_value(pv).unwrap())
    }

    /// A claim's phase.
    pub fn claim_phase(&self, namespace: &str, name: &str) -> Option<String> {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let claim = self.runtime.block_on(claims.get_opt(name)).unwrap()?;
        claim.status.and_then(|s| s.phase)
    }

    /// The backend inventory as the CSI driver actors keep it.
    pub fn backend(&self) -> Value {
        let get = http::Request::get("/pvwarden-test/backend")
            .body(Vec::new())
            .unwrap();
        self.runtime.block_on(self.client.request(get)).unwrap()
    }

    /// Sends a test-only document (backend seed, faults).
    pub fn put(&self, path: &str, doc: &Value) {
        let put = http::Request::put(path)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(doc).unwrap())
            .unwrap();
        self.runtime
            .block_on(self.client.request_text(put))
            .unwrap();
    }

    /// Waits until `done` holds, at most [`SETTLE`]; the actors work on their own clock.
    pub fn wait_for(&self, what: &str, done: impl Fn(&Live) -> bool) {
        assert!(self.wait_until(&done), "gave up waiting for {what}");
    }

    /// As [`Live::wait_for`], saying whether `done` came to hold.
    pub fn wait_until(&self, done: impl Fn(&Live) -> bool) -> bool {
        let deadline = std::time::Instant::now() + SETTLE;
        while !done(self) {
            if std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        true
    }

    /// Removes the Rook share example's original PV object (it is on Retain, so its
    /// storage stays) and its claim: then nothing shares the copy's storage, and
    /// undo may give the copy its `Delete` back.
    pub fn remove_rook_original(&self) {
        let original = "pvc-7c1d2a55-0b7e-4d0f-9a51-3f0e8b2c4d01";
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), "broken-a");
        self.runtime
            .block_on(claims.delete("media", &Default::default()))
            .unwrap();
        self.runtime
            .block_on(self.pvs().delete(original, &Default::default()))
            .unwrap();
        self.wait_for("the original PV to go", |live| live.pv(original).is_none());
    }

    /// Asserts that no backend volume was deleted (or otherwise changed).
    pub fn assert_backend_kept(&self, context: &str) {
        assert_eq!(self.backend(), self.seed, "{context}: the backend changed");
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        if let Some(actors) = self.actors.take() {
            self.runtime.block_on(actors.shutdown());
        }
        if let Some(server) = self.server.take() {
            self.runtime.block_on(server.shutdown());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The actors' releases and the same releases as model flags, from a case's `audit_args`.
fn releases(audit_args: &[String]) -> (actor::Config, Vec<String>) {
    let mut config = actor::Config::default();
    let mut flags = vec![
        ("--kube-version", "1.33.0".to_owned()),
        ("--provisioner-version", "6.2.0".to_owned()),
        ("--ceph-csi-version", "3.14.0".to_owned()),
    ];
    for pair in audit_args.windows(2) {
        let version: Version = pair[1].parse().unwrap();
        match pair[0].as_str() {
            "--ceph-csi-version" => config = config.ceph_csi(version),
            "--kube-version" => config = config.kubernetes(version),
            "--provisioner-version" => config = config.provisioner(version),
            _ => continue,
        }
        if let Some(flag) = flags.iter_mut().find(|(f, _)| *f == pair[0]) {
            flag.1 = pair[1].clone();
        }
    }
    let args = flags
        .into_iter()
        .flat_map(|(flag, value)| [flag.to_owned(), value])
        .collect();
    (config, args)
}

/// A case's manifest, backend seed and audit arguments.
pub fn case(name: &str) -> (PathBuf, Value, Value, Vec<String>) {
    let dir = testdata();
    let read = |path: PathBuf| -> Value {
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
    };
    let expect = read(dir.join(format!("cases/{name}.expect.json")));
    let seed = read(dir.join(format!("backend/{name}.json")));
    let args = serde_json::from_value(expect["audit_args"].clone()).unwrap_or_default();
    (dir.join(format!("cases/{name}.yaml")), seed, expect, args)
}
