//! The `pvwarden-apiserver` program: `--backend FILE` seeds the backend inventory.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use pvwarden_testkit::actor::backend::{Backend, Inventory};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(path)
}

/// The program, killed when dropped.
struct Program(Child);

impl Drop for Program {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn backend_file_seeds_the_inventory() {
    let seed = repo("testdata/backend/01-rook-cephfs-static-share-newnamespace.json");
    let kubeconfig =
        std::env::temp_dir().join(format!("pvwarden-apiserver-bin-{}", std::process::id()));
    let mut child = Command::new(env!("CARGO_BIN_EXE_pvwarden-apiserver"))
        .arg("--kubeconfig-out")
        .arg(&kubeconfig)
        .arg("--backend")
        .arg(&seed)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let program = Program(child);
    // The URL is printed once the server serves and the backend is seeded.
    let mut url = String::new();
    BufReader::new(stdout).read_line(&mut url).unwrap();
    assert!(url.starts_with("https://127.0.0.1:"), "{url}");

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let inventory = runtime.block_on(async {
        let config = kube::Config::from_custom_kubeconfig(
            kube::config::Kubeconfig::read_from(&kubeconfig).unwrap(),
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .unwrap();
        let client = kube::Client::try_from(config).unwrap();
        Backend::new(client).read().await.unwrap()
    });
    let expected: Inventory = serde_json::from_slice(&std::fs::read(&seed).unwrap()).unwrap();
    assert!(!expected.volumes.is_empty());
    assert_eq!(inventory, expected);
    drop(program);
    let _ = std::fs::remove_file(&kubeconfig);
}

#[test]
fn a_bad_backend_file_is_named() {
    let bad = repo("testdata/backend");
    let output = Command::new(env!("CARGO_BIN_EXE_pvwarden-apiserver"))
        .arg("--backend")
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--backend"), "{stderr}");
    assert!(stderr.contains("testdata/backend"), "{stderr}");
}
