//! A snapshot read back offline gives the verdicts of the live read it was taken from.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::path::{Path, PathBuf};

use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::version::{Assumed, Assumptions, Basis};
use pvwarden_kube::progress::Silent;
use pvwarden_kube::snapshot::{Header, Writer, MARKER};
use pvwarden_kube::ServerVersion;
use serde_json::Value;

use common::{first_difference, verdicts, Fake};

/// The assumptions a run makes from its objects and the server's version.
fn assumptions(inventory: &Inventory, server: Option<&ServerVersion>) -> Assumptions {
    let mut a = Assumptions::from_components(inventory.components());
    if let Some(version) = server.and_then(|s| s.version) {
        a.kubernetes = Assumed {
            value: version,
            basis: Basis::Server,
        };
    }
    a
}

/// Reads a fixture through the fake server; returns the live verdicts and the snapshot.
async fn live(manifest: &str) -> (Vec<Value>, Vec<u8>) {
    let fake = Fake::new();
    fake.with(|s| s.snapshots = true);
    fake.load(manifest);
    let cluster = fake.cluster();
    let header = Header {
        context: cluster.context().to_owned(),
        server: Some(cluster.version().await.unwrap().clone()),
        taken: "2026-12-04T12:00:00Z".parse().unwrap(),
    };

    let mut inventory = Inventory::new();
    let mut writer = Writer::new(Vec::new(), &header).unwrap();
    let report = cluster
        .read(
            &mut |located| {
                writer.write(&located.object).unwrap();
                inventory.add(located).unwrap();
            },
            &Silent,
        )
        .await
        .unwrap();
    assert!(
        report.degraded.is_empty() && report.errors.is_empty(),
        "{report:?}"
    );
    let snapshot = writer.finish().unwrap();
    (
        verdicts(&inventory, &assumptions(&inventory, report.server.as_ref())),
        snapshot,
    )
}

/// Reads a snapshot the way offline `audit` does.
fn offline(snapshot: &[u8]) -> Vec<Value> {
    let text = std::str::from_utf8(snapshot).unwrap();
    let header = Header::parse(text).expect("a snapshot starts with its header");
    let mut inventory = Inventory::new();
    pvwarden_manifest::Reader::new().read_bytes("snapshot.yaml", snapshot, &mut |item| {
        let located = item.unwrap_or_else(|e| panic!("snapshot must read back: {e}\n{text}"));
        inventory.add(located).unwrap();
    });
    verdicts(&inventory, &assumptions(&inventory, header.server.as_ref()))
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cases");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.contains(".expect.") && (name.ends_with(".yaml") || name.ends_with(".json"))
        })
        .collect();
    files.sort();
    assert!(files.len() >= 10, "fixtures found: {files:?}");
    files
}

#[tokio::test]
async fn snapshot_audits_like_the_live_cluster() {
    for file in fixtures() {
        let manifest = std::fs::read_to_string(&file).unwrap();
        let (live, snapshot) = live(&manifest).await;
        let offline = offline(&snapshot);
        let name = file.file_name().unwrap().to_string_lossy().into_owned();

        assert!(!live.is_empty(), "{name}: no verdicts");
        assert_eq!(live.len(), offline.len(), "{name}: verdict count");
        for (a, b) in live.iter().zip(&offline) {
            // Origins say where each object was read, so they differ by design.
            if let Some(diff) = first_difference(a, b, "", "origin") {
                panic!("{name}: {diff}");
            }
        }
    }
}

#[tokio::test]
async fn snapshot_is_typed_yaml_without_bookkeeping() {
    let manifest = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/cases/01-rook-cephfs-static-share-newnamespace.yaml"),
    )
    .unwrap();
    let with_bookkeeping = manifest.replace(
        "kind: PersistentVolume\nmetadata:\n",
        "kind: PersistentVolume\nmetadata:\n  managedFields:\n  - manager: kubectl\n",
    );
    assert_ne!(
        manifest, with_bookkeeping,
        "the fixture must get managedFields"
    );
    let (_, snapshot) = live(&with_bookkeeping).await;
    let text = String::from_utf8(snapshot).unwrap();

    let header = format!("{MARKER}context: \"test\"\nserver: \"v1.30.4-fake.1\"\n");
    assert!(text.starts_with(&header), "{text}");
    assert!(!text.contains("managedFields"), "{text}");
    let documents: Vec<&str> = text.split("\n---\n").skip(1).collect();
    assert!(documents.len() >= 5, "{text}");
    for document in documents {
        assert!(document.contains("apiVersion: "), "{document}");
        assert!(document.contains("kind: "), "{document}");
    }
}
