//! End to end against the test API server (pvwarden-testkit): HTTPS on 127.0.0.1,
//! a kubeconfig, bearer tokens with permission lists, and request counts.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::version::{Assumed, Assumptions, Basis};
use pvwarden_kube::progress::Silent;
use pvwarden_kube::{Cluster, Error, Options, ReadReport};
use pvwarden_testkit::server::{Config, Rule, Running, Server, TokenSpec};
use serde_json::Value;

use common::{first_difference, verdicts};

/// A directory of its own for one test, under the system's temporary directory.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!(
        "pvwarden-kube-e2e-{}-{n}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A fixture of testdata/cases.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/cases")
        .join(name)
}

/// A copy of a fixture without its uids.
///
/// NOTE: the test server gives preloaded objects new uids, so a claimRef's
/// uid no longer names its claim there; without uids both sides bind by name.
fn fixture_without_uids(dir: &Path, name: &str) -> PathBuf {
    let text: String = std::fs::read_to_string(fixture(name))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with("uid:"))
        .flat_map(|l| [l, "\n"])
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// `count` PersistentVolumes as one YAML stream.
fn many_pvs(dir: &Path, count: usize) -> PathBuf {
    let mut text = String::new();
    for i in 0..count {
        text.push_str(&format!(
            "---\napiVersion: v1\nkind: PersistentVolume\nmetadata:\n  name: pv-{i:05}\n\
             spec:\n  persistentVolumeReclaimPolicy: Retain\n  capacity: {{storage: 1Gi}}\n  \
             accessModes: [ReadWriteOnce]\n  csi: {{driver: example.csi.io, volumeHandle: h-{i}}}\n"
        ));
    }
    let path = dir.join("pvs.yaml");
    std::fs::write(&path, text).unwrap();
    path
}

async fn start(load: Vec<PathBuf>, tokens: Vec<TokenSpec>) -> Running {
    let config = Config {
        load,
        tokens,
        ..Config::default()
    };
    Server::start(config).await.unwrap()
}

/// A kubeconfig for the server, with the admin token or another one.
fn kubeconfig(server: &Running, dir: &Path, token: Option<&str>) -> PathBuf {
    let text = match token {
        Some(token) => server.kubeconfig.replace(&server.admin_token, token),
        None => server.kubeconfig.clone(),
    };
    let path = dir.join("kubeconfig");
    std::fs::write(&path, text).unwrap();
    path
}

async fn connect(config: PathBuf) -> Cluster {
    let options = Options {
        kubeconfig: Some(config),
        context: None,
    };
    Cluster::connect(&options).await.unwrap()
}

async fn read(cluster: &Cluster) -> (Inventory, ReadReport) {
    let mut inventory = Inventory::new();
    let report = cluster
        .read(&mut |o| inventory.add(o).unwrap(), &Silent)
        .await
        .unwrap();
    (inventory, report)
}

/// The server's request counts: `{"total": n, "by": {"<verb> <path>": n}}`.
async fn requests(server: &Running, dir: &Path) -> Value {
    let path = kubeconfig(server, dir, None);
    let kubeconfig = kube::config::Kubeconfig::read_from(path).unwrap();
    let options = kube::config::KubeConfigOptions::default();
    let config = kube::Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .unwrap();
    let client = kube::Client::try_from(config).unwrap();
    let request = http::Request::get("/pvwarden-test/requests")
        .body(Vec::new())
        .unwrap();
    client.request::<Value>(request).await.unwrap()
}

const CASE: &str = "01-rook-cephfs-static-share-newnamespace.yaml";

#[tokio::test]
async fn loaded_fixture_reads_like_its_file() {
    let dir = scratch("fixture");
    reads_like_its_file(&dir, fixture_without_uids(&dir, CASE)).await;
}

#[tokio::test]
#[ignore = "the test server replaces the uids of preloaded objects, so claimRef.uid no longer \
            matches its claim; run again once preloading keeps uids"]
async fn loaded_fixture_with_uids_reads_like_its_file() {
    let dir = scratch("fixture-uids");
    reads_like_its_file(&dir, fixture(CASE)).await;
}

async fn reads_like_its_file(dir: &Path, file: PathBuf) {
    let server = start(vec![file.clone()], Vec::new()).await;
    let cluster = connect(kubeconfig(&server, dir, None)).await;
    let (live, report) = read(&cluster).await;
    assert!(report.degraded.is_empty(), "{report:?}");
    assert_eq!(cluster.context(), "pvwarden-test");

    // Both sides judged under the server's Kubernetes release.
    let server_version = report.server.as_ref().and_then(|s| s.version).unwrap();
    let assume = |inventory: &Inventory| {
        let mut a = Assumptions::from_components(inventory.components());
        a.kubernetes = Assumed {
            value: server_version,
            basis: Basis::Server,
        };
        a
    };
    let mut offline = Inventory::new();
    pvwarden_manifest::Reader::new().read_paths(&[file], &mut |item| {
        offline.add(item.unwrap()).unwrap();
    });
    let live = verdicts(&live, &assume(&live));
    let offline = verdicts(&offline, &assume(&offline));

    assert_eq!(live.len(), offline.len());
    assert!(live.len() >= 3, "two volumes and a claim");
    for (a, b) in live.iter().zip(&offline) {
        if let Some(diff) = first_difference(a, b, "", "origin") {
            panic!("{diff}");
        }
    }
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn server_sees_one_list_per_page() {
    let dir = scratch("paging");
    let server = start(vec![many_pvs(&dir, 1234)], Vec::new()).await;
    let cluster = connect(kubeconfig(&server, &dir, None)).await;
    let (inventory, report) = read(&cluster).await;
    assert_eq!(inventory.pvs().len(), 1234);

    let counts = requests(&server, &dir).await;
    let by = &counts["by"];
    let pv_lists: u64 = by
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.contains("persistentvolumes") && !k.contains("claims"))
        .map(|(_, n)| n.as_u64().unwrap())
        .sum();
    assert_eq!(pv_lists, 3, "ceil(1234 / 500) lists: {counts}");
    // Everything the read sent, and nothing else, reached the server.
    assert_eq!(
        counts["total"].as_u64().unwrap(),
        report.requests,
        "{counts}"
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A token that may list everything the reader lists, except claims.
fn without_claims() -> TokenSpec {
    let rule = |group: &str, resources: &[&str]| Rule {
        verbs: vec!["list".into(), "get".into()],
        api_groups: vec![group.into()],
        resources: resources.iter().map(|r| (*r).to_owned()).collect(),
    };
    TokenSpec {
        token: "no-claims-token".into(),
        user: "auditor".into(),
        rules: vec![
            rule("", &["persistentvolumes", "pods", "nodes", "events"]),
            rule("storage.k8s.io", &["*"]),
            rule("apps", &["*"]),
            rule("snapshot.storage.k8s.io", &["*"]),
        ],
    }
}

#[tokio::test]
async fn forbidden_claims_are_left_out_with_a_warning() {
    let dir = scratch("forbidden");
    let file = fixture(CASE);
    let server = start(vec![file], vec![without_claims()]).await;
    let cluster = connect(kubeconfig(&server, &dir, Some("no-claims-token"))).await;
    let (inventory, report) = read(&cluster).await;

    assert_eq!(inventory.pvs().len(), 2, "the audit goes on");
    assert!(inventory.claims().is_empty());
    let warnings: Vec<String> = report.degraded.iter().map(ToString::to_string).collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(
        warnings[0].starts_with(
            "missing permission: list persistentvolumeclaims in API group \"\"; audited without"
        ),
        "{warnings:?}"
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn forbidden_volumes_stop_the_read() {
    let dir = scratch("no-pvs");
    let token = TokenSpec {
        token: "nothing-token".into(),
        user: "nobody".into(),
        rules: Vec::new(),
    };
    let server = start(Vec::new(), vec![token]).await;
    let cluster = connect(kubeconfig(&server, &dir, Some("nothing-token"))).await;
    let err = cluster.read(&mut |_| {}, &Silent).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("not allowed to list persistentvolumes in API group \"\""),
        "{err}"
    );
    server.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
