//! The packaging, tried as a user would: Kustomize overlays, RBAC, the krew archive.
//!
//! - Every overlay of `deploy/overlays` builds with `kubectl kustomize` and applies to the
//!   test API server; every object it renders is then there.
//! - The controller runs with exactly the rules the controller overlay grants (as a token
//!   of the test server) and reaches its metrics and Events without a refused request.
//! - With the remediation component, it repairs the Rook share copy under exactly the rules
//!   that overlay grants, its journal in its own namespace.
//! - `packaging/release.sh` builds an archive whose sha256 and files are the ones its krew
//!   manifest names, and `kubectl pvwarden` runs from it.
//!
//! kubectl is needed (as `kubectl kustomize` is part of what is tested); the tests fail
//! with a message saying so when it is missing.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod endpoint;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use pvwarden_controller::{Config, LeaseConfig, RepairConfig, Repairer, REPORTING_CONTROLLER};
use pvwarden_testkit::server::{Config as ServerConfig, Rule, Server, TokenSpec};
use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn scratch(what: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("pvwarden-{what}-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Runs a command to the end; panics with its output unless it succeeds.
fn run(command: &mut Command) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{command:?} cannot run ({e}); is it installed?"));
    assert!(
        output.status.success(),
        "{command:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `kubectl kustomize deploy/overlays/<overlay>`, as YAML text.
fn kustomize(overlay: &str) -> String {
    let dir = root().join("deploy/overlays").join(overlay);
    run(Command::new("kubectl").arg("kustomize").arg(dir))
}

/// The rendered objects, as JSON values.
fn objects(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple::<Value>(yaml)
        .unwrap()
        .into_iter()
        .filter(|v| !v.is_null())
        .collect()
}

/// kubectl against a kubeconfig, with a private HOME for its discovery cache.
fn kubectl(dir: &Path) -> Command {
    let mut command = Command::new("kubectl");
    command
        .env("KUBECONFIG", dir.join("kubeconfig"))
        .env("HOME", dir)
        .current_dir(dir);
    command
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_overlay_builds_and_applies_to_the_test_server() {
    for overlay in ["controller", "webhook", "both", "controller-remediate"] {
        let yaml = kustomize(overlay);
        let rendered = objects(&yaml);
        assert!(!rendered.is_empty(), "{overlay}: nothing rendered");

        let server = Server::start(ServerConfig::default()).await.unwrap();
        let dir = scratch("deploy");
        server.write_kubeconfig(dir.join("kubeconfig")).unwrap();
        let file = dir.join("rendered.yaml");
        std::fs::write(&file, &yaml).unwrap();
        let dir2 = dir.clone();
        let applied = tokio::task::spawn_blocking(move || {
            run(kubectl(&dir2).args(["apply", "-f"]).arg(&file));
            run(kubectl(&dir2).args(["get", "-o", "json", "-f"]).arg(&file))
        })
        .await
        .unwrap();
        let applied: Value = serde_json::from_str(&applied).unwrap();
        let names = |items: &[Value]| -> Vec<String> {
            let mut names: Vec<String> = items
                .iter()
                .map(|o| {
                    format!(
                        "{}/{}/{}",
                        o["kind"].as_str().unwrap(),
                        o["metadata"]["namespace"].as_str().unwrap_or(""),
                        o["metadata"]["name"].as_str().unwrap()
                    )
                })
                .collect();
            names.sort();
            names
        };
        let items = applied["items"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| vec![applied]);
        assert_eq!(
            names(&items),
            names(&rendered),
            "{overlay}: not everything was applied"
        );
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// The rules of every ClusterRole and Role in `objects`, as one token's permissions.
///
/// The test server's tokens are not namespaced, so a Role's rules count cluster-wide here;
/// what this checks is that no verb or resource the controller uses is missing.
fn granted(objects: &[Value]) -> Vec<Rule> {
    objects
        .iter()
        .filter(|o| matches!(o["kind"].as_str(), Some("ClusterRole" | "Role")))
        .flat_map(|o| o["rules"].as_array().cloned().unwrap_or_default())
        .filter(|r| r.get("resources").is_some())
        .map(|r| serde_json::from_value(r).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_controller_needs_no_more_than_its_overlay_grants() {
    let rendered = objects(&kustomize("controller"));
    let rules = granted(&rendered);
    assert!(!rules.is_empty());
    let case = root().join("testdata/cases/01-rook-cephfs-static-share-newnamespace.yaml");
    let token = "controller-token".to_owned();
    let server = Server::start(ServerConfig {
        load: vec![case],
        tokens: vec![TokenSpec {
            token: token.clone(),
            user: "system:serviceaccount:pvwarden:pvwarden".into(),
            rules,
        }],
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    // The overlay's namespace, where the Lease lives, as `kubectl apply` would have made it.
    let admin =
        pvwarden_testkit::actor::client(&server.url, &server.ca_pem, &server.admin_token).unwrap();
    create_namespace(&admin, &rendered).await;

    let client = pvwarden_testkit::actor::client(&server.url, &server.ca_pem, &token).unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "test", "pvwarden-0");
    config.debounce = Duration::from_millis(50);
    let mut lease = LeaseConfig::new("pvwarden", "pvwarden-controller", "pvwarden-0");
    lease.retry = Duration::from_millis(100);
    config.lease = Some(lease);
    let mut running = pvwarden_controller::start(client, config).await.unwrap();

    // Leading, one pass done and Events written, all as the service account.
    let events: kube::Api<k8s_openapi::api::events::v1::Event> =
        kube::Api::namespaced(admin, "default");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let written = events
            .list(&Default::default())
            .await
            .unwrap()
            .items
            .iter()
            .filter(|e| e.reporting_controller.as_deref() == Some(REPORTING_CONTROLLER))
            .count();
        if *running.leader.borrow() && *running.passes.borrow_and_update() > 0 && written == 4 {
            break;
        }
        if tokio::time::Instant::now() > deadline {
            panic!(
                "no leader, pass or events:\n{}",
                metrics(running.addr).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_no_errors(running.addr).await;
    running.shutdown().await;
    server.shutdown().await;
}

/// With the remediation component, the controller repairs the Rook share copy under
/// exactly the rules its overlay grants: PVs patched, the journal in its own namespace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remediation_needs_no_more_than_its_overlay_grants() {
    let rendered = objects(&kustomize("controller-remediate"));
    let name = "01-rook-cephfs-static-share-newnamespace";
    let token = "controller-token".to_owned();
    let server = Server::start(ServerConfig {
        load: vec![root().join(format!("testdata/cases/{name}.yaml"))],
        tokens: vec![TokenSpec {
            token: token.clone(),
            user: "system:serviceaccount:pvwarden:pvwarden".into(),
            rules: granted(&rendered),
        }],
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let admin =
        pvwarden_testkit::actor::client(&server.url, &server.ca_pem, &server.admin_token).unwrap();
    create_namespace(&admin, &rendered).await;
    let seed = std::fs::read(root().join(format!("testdata/backend/{name}.json"))).unwrap();
    let put = http::Request::put("/pvwarden-test/backend")
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(seed)
        .unwrap();
    admin.request_text(put).await.unwrap();
    let actors = pvwarden_testkit::actor::try_spawn(
        &server.url,
        &server.ca_pem,
        &server.admin_token,
        pvwarden_testkit::actor::Config::default(),
    )
    .unwrap();

    // The rule comes from the overlay's own `--remediate` argument.
    let deployment = rendered.iter().find(|o| o["kind"] == "Deployment").unwrap();
    let args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    let rules: Vec<&str> = args
        .iter()
        .filter_map(|a| a.as_str()?.strip_prefix("--remediate="))
        .collect();
    assert_eq!(rules, ["static-delete-never-deletes"]);

    let client = pvwarden_testkit::actor::client(&server.url, &server.ca_pem, &token).unwrap();
    let mut config = Config::new("127.0.0.1:0".parse().unwrap(), "test", "pvwarden-0");
    config.debounce = Duration::from_millis(50);
    config.remediate = rules.iter().map(|r| (*r).to_owned()).collect();
    let repair = RepairConfig::new("pvwarden", 10);
    config.remediator = Some(Arc::new(Repairer::new(client.clone(), &config, repair)));
    let running = pvwarden_controller::start(client, config).await.unwrap();

    let copy = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer";
    let pvs: kube::Api<k8s_openapi::api::core::v1::PersistentVolume> =
        kube::Api::all(admin.clone());
    let maps: kube::Api<k8s_openapi::api::core::v1::ConfigMap> =
        kube::Api::namespaced(admin, "pvwarden");
    let runs = kube::api::ListParams::default().labels("pvwarden.io/journal=run");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while pvs.get_opt(copy).await.unwrap().is_some()
        || maps.list(&runs).await.unwrap().items.is_empty()
    {
        if tokio::time::Instant::now() > deadline {
            panic!(
                "the copy was never repaired:\n{}",
                metrics(running.addr).await
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_no_errors(running.addr).await;
    running.shutdown().await;
    actors.shutdown().await;
    server.shutdown().await;
}

/// Creates the overlay's namespace, as `kubectl apply` would have made it.
async fn create_namespace(admin: &kube::Client, rendered: &[Value]) {
    let namespace = rendered.iter().find(|o| o["kind"] == "Namespace").unwrap();
    let namespace: k8s_openapi::api::core::v1::Namespace =
        serde_json::from_value(namespace.clone()).unwrap();
    let namespaces: kube::Api<k8s_openapi::api::core::v1::Namespace> =
        kube::Api::all(admin.clone());
    namespaces
        .create(&Default::default(), &namespace)
        .await
        .unwrap();
}

/// Asserts that the controller counted no error: no request was refused by its RBAC.
async fn assert_no_errors(addr: std::net::SocketAddr) {
    let metrics = metrics(addr).await;
    let refused: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("pvwarden_errors_total{"))
        .collect();
    assert!(
        refused.is_empty(),
        "requests failed under the overlay's RBAC: {refused:?}"
    );
}

async fn metrics(addr: std::net::SocketAddr) -> String {
    endpoint::get(addr, "/metrics").await.1
}

/// sha256 of a file, by coreutils.
fn sha256(path: &Path) -> String {
    let out = run(Command::new("sha256sum").arg(path));
    out.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn the_release_archive_matches_its_krew_manifest() {
    let out = scratch("release");
    run(Command::new(root().join("packaging/release.sh"))
        .arg(&out)
        .env("PVWARDEN_BIN", env!("CARGO_BIN_EXE_pvwarden"))
        .env("VERSION", "v0.1.0"));
    let archive = out.join("pvwarden-v0.1.0-linux-amd64.tar.gz");
    let manifest: Value =
        serde_saphyr::from_str(&std::fs::read_to_string(out.join("pvwarden.yaml")).unwrap())
            .unwrap();
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(manifest["spec"]["version"], "v0.1.0");
    let platform = &manifest["spec"]["platforms"][0];
    assert_eq!(platform["sha256"].as_str().unwrap(), sha256(&archive));
    assert!(platform["uri"]
        .as_str()
        .unwrap()
        .ends_with("/pvwarden-v0.1.0-linux-amd64.tar.gz"));

    // Every file the manifest takes is in the archive, and the binary is among them.
    let listed = run(Command::new("tar").arg("-tzf").arg(&archive));
    let entries: Vec<&str> = listed.lines().collect();
    for file in platform["files"].as_array().unwrap() {
        let from = file["from"].as_str().unwrap();
        let matches = |entry: &&str| match from.strip_suffix('*') {
            Some(prefix) => entry.starts_with(prefix) && entry.len() > prefix.len(),
            None => *entry == from,
        };
        assert!(
            entries.iter().any(matches),
            "{from} is not in the archive: {entries:?}"
        );
    }
    let bin = platform["bin"].as_str().unwrap();
    assert!(entries.contains(&bin));
    assert!(entries.contains(&"man/pvwarden.1") && entries.contains(&"completions/pvwarden.bash"));

    // Installed as krew does (a kubectl-pvwarden link on PATH), `kubectl pvwarden` runs it.
    let install = out.join("install");
    std::fs::create_dir_all(&install).unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&install));
    let bin_dir = out.join("bin");
    std::fs::create_dir_all(&bin_dir).unwrap();
    std::os::unix::fs::symlink(install.join(bin), bin_dir.join("kubectl-pvwarden")).unwrap();
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let rules = run(Command::new("kubectl")
        .args(["pvwarden", "rules"])
        .env("PATH", path));
    assert!(rules.contains("static-delete-never-deletes"), "{rules}");
    let _ = std::fs::remove_dir_all(&out);
}

#[test]
fn the_release_script_takes_its_build_from_cargo_target_dir() {
    let dir = scratch("target-dir");
    let target = dir.join("target");
    let release = target.join("x86_64-unknown-linux-musl/release");
    std::fs::create_dir_all(&release).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_pvwarden"), release.join("pvwarden")).unwrap();
    // A stand-in for cargo: the musl build is not what is tested, where it is taken from is.
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("cargo"), "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(bin.join("cargo"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    run(Command::new(root().join("packaging/release.sh"))
        .env_remove("PVWARDEN_BIN")
        .env("CARGO_TARGET_DIR", &target)
        .env("VERSION", "v0.1.0")
        .env("PATH", path));

    // The archive lands under the target dir, with the binary built there.
    let archive = target.join("release-archive/pvwarden-v0.1.0-linux-amd64.tar.gz");
    let unpacked = dir.join("unpacked");
    std::fs::create_dir_all(&unpacked).unwrap();
    run(Command::new("tar")
        .arg("-xzf")
        .arg(&archive)
        .arg("-C")
        .arg(&unpacked));
    assert_eq!(
        sha256(&unpacked.join("pvwarden")),
        sha256(&release.join("pvwarden"))
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The failure policy the Kustomize manifests and the Helm chart ship is the one
/// docs/webhook.md shows and calls the default.
#[test]
fn manifests_chart_and_docs_agree_on_the_failure_policy() {
    let mut shipped = std::collections::BTreeSet::new();
    for object in objects(&kustomize("full")) {
        if object["kind"]
            .as_str()
            .is_some_and(|k| k.ends_with("WebhookConfiguration"))
        {
            for webhook in object["webhooks"].as_array().unwrap() {
                shipped.insert(webhook["failurePolicy"].as_str().unwrap().to_owned());
            }
        }
    }
    let values = std::fs::read_to_string(root().join("deploy/helm/pvwarden/values.yaml")).unwrap();
    let values: Value = serde_saphyr::from_str(&values).unwrap();
    shipped.insert(
        values["webhook"]["failurePolicy"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    assert_eq!(values["webhook"]["mutatingFailurePolicy"], "");
    assert_eq!(
        shipped.len(),
        1,
        "the manifests and the chart differ: {shipped:?}"
    );
    let shipped = shipped.pop_first().unwrap();

    let docs = std::fs::read_to_string(root().join("docs/webhook.md")).unwrap();
    let shown: Vec<&str> = docs
        .lines()
        .filter_map(|l| l.trim().strip_prefix("failurePolicy: "))
        .filter_map(|rest| rest.split_whitespace().next())
        .collect();
    assert!(!shown.is_empty());
    assert!(
        shown.iter().all(|p| *p == shipped),
        "{shown:?} vs {shipped}"
    );
    assert!(
        docs.contains(&format!("- `{shipped}` (what the example")),
        "{docs}"
    );
}

#[test]
fn completions_and_the_man_page_come_from_the_cli() {
    let bash = run(Command::new(env!("CARGO_BIN_EXE_pvwarden")).args(["completions", "bash"]));
    assert!(bash.contains("pvwarden__serve__controller") || bash.contains("serve"));
    assert!(bash.contains("--stuck-after"));
    let man = run(Command::new(env!("CARGO_BIN_EXE_pvwarden")).arg("man"));
    assert!(
        man.starts_with(".ie") || man.contains(".TH pvwarden"),
        "{man}"
    );
    assert!(man.contains("audit"));
}

/// The Helm chart cannot be rendered here (no helm); what is checked is that it holds the
/// same objects as the Kustomize install: every object of `overlays/full` is a document of
/// some template, with the same kind and name.
#[test]
fn the_helm_chart_holds_every_object_of_the_kustomize_install() {
    let templates = root().join("deploy/helm/pvwarden/templates");
    let mut documents = Vec::new();
    for entry in std::fs::read_dir(&templates).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let text = std::fs::read_to_string(&path).unwrap();
            documents.extend(text.split("\n---\n").map(str::to_owned));
        }
    }
    for object in objects(&kustomize("full")) {
        let kind = object["kind"].as_str().unwrap();
        let name = object["metadata"]["name"].as_str().unwrap();
        if kind == "Namespace" {
            // Helm installs into the release's namespace instead.
            continue;
        }
        let found = documents.iter().any(|d| {
            d.lines().any(|l| l == format!("kind: {kind}"))
                && d.lines().any(|l| l == format!("  name: {name}"))
        });
        assert!(found, "the chart has no {kind} {name}");
    }
}
