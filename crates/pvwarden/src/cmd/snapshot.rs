//! `pvwarden snapshot`: the cluster objects the model uses, as a YAML stream.
//!
//! The snapshot is what a live `audit` reads, trimmed the same way, so an
//! offline `audit` or `explain` of it gives the same verdicts (see
//! [`pvwarden_kube::snapshot`]). A file is written next to its final name
//! and renamed once complete, so a failed read never leaves half a snapshot.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use pvwarden_kube::snapshot::{Header, Writer};
use pvwarden_kube::Cluster;

use crate::cli::SnapshotArgs;
use crate::load::runtime;

pub fn run(args: &SnapshotArgs) -> anyhow::Result<ExitCode> {
    let to_stdout = args.output.as_os_str() == "-";
    let temporary = (!to_stdout).then(|| partial_name(&args.output));
    let out: Box<dyn Write> = match &temporary {
        None => Box::new(std::io::stdout().lock()),
        Some(path) => Box::new(
            File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        ),
    };

    let written = runtime()?.block_on(write(args, BufWriter::new(out)));
    let (documents, read) = match (written, &temporary) {
        (Ok(done), _) => done,
        (Err(err), Some(path)) => {
            // The partial file is useless; its removal failing changes nothing.
            let _ = std::fs::remove_file(path);
            return Err(err);
        }
        (Err(err), None) => return Err(err),
    };
    if let Some(path) = &temporary {
        std::fs::rename(path, &args.output)
            .with_context(|| format!("cannot rename {} to its final name", path.display()))?;
        eprintln!(
            "pvwarden: wrote {documents} objects of context {} to {}",
            read.context,
            args.output.display()
        );
    }

    for error in &read.errors {
        eprintln!("pvwarden: {error}");
    }
    Ok(if read.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Reads the cluster into `out`; returns the number of objects written and the read's report.
async fn write(
    args: &SnapshotArgs,
    out: impl Write,
) -> anyhow::Result<(u64, pvwarden_kube::ReadReport)> {
    let cluster = Cluster::connect(&args.cluster.options()).await?;
    // A refused or failed /version is handled, and reported, by the read.
    let server = cluster.version().await.ok().cloned();
    let header = Header {
        context: cluster.context().to_owned(),
        server,
        taken: jiff::Timestamp::now(),
    };
    let mut writer = Writer::new(out, &header)?;

    // The sink cannot fail, so the first write error is kept and the rest
    // of the read writes nothing.
    let mut failure = None;
    let progress = pvwarden_kube::progress::stderr();
    let read = cluster
        .read(
            &mut |located| {
                if failure.is_none() {
                    failure = writer.write(&located.object).err();
                }
            },
            &*progress,
        )
        .await
        .with_context(|| format!("cannot read the cluster of context {}", cluster.context()))?;
    if let Some(err) = failure {
        return Err(err.into());
    }
    let documents = writer.documents();
    writer.finish()?;
    Ok((documents, read))
}

/// `dir/.name.partial`, beside the final file so that the rename stays on one filesystem.
fn partial_name(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "snapshot".to_owned());
    path.with_file_name(format!(".{name}.partial"))
}

/// End to end against the test API server, through the built binary.
#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    use pvwarden_testkit::server::{Config, Running, Server};
    use serde_json::Value;

    const NOW: &str = "2026-12-04T12:00:00Z";
    const CASE: &str = "01-rook-cephfs-static-share-newnamespace.yaml";

    /// The `pvwarden` binary that `cargo test` built next to this test.
    fn binary() -> PathBuf {
        let exe = std::env::current_exe().unwrap();
        let dir = exe.parent().and_then(Path::parent).unwrap();
        let bin = dir.join(format!("pvwarden{}", std::env::consts::EXE_SUFFIX));
        assert!(
            bin.exists(),
            "{} is missing: build it with `cargo build -p pvwarden`",
            bin.display()
        );
        bin
    }

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("pvwarden-cli-e2e-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The fixture without its uids.
    ///
    /// NOTE: the test server gives preloaded objects new uids, so a claimRef's
    /// uid no longer names its claim there; without uids both sides bind by name.
    fn fixture(dir: &Path) -> PathBuf {
        let source = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/cases")
            .join(CASE);
        let text: String = std::fs::read_to_string(source)
            .unwrap()
            .lines()
            .filter(|l| !l.trim_start().starts_with("uid:"))
            .flat_map(|l| [l, "\n"])
            .collect();
        let path = dir.join(CASE);
        std::fs::write(&path, text).unwrap();
        path
    }

    async fn start(file: &Path, dir: &Path) -> (Running, PathBuf) {
        let config = Config {
            load: vec![file.to_owned()],
            ..Config::default()
        };
        let server = Server::start(config).await.unwrap();
        let kubeconfig = dir.join("kubeconfig");
        server.write_kubeconfig(&kubeconfig).unwrap();
        (server, kubeconfig)
    }

    /// Runs the binary with the kubeconfig and returns its JSON output.
    fn run(kubeconfig: &Path, args: &[&str]) -> Value {
        let output = Command::new(binary())
            .args(args)
            .env("KUBECONFIG", kubeconfig)
            .env_remove("PVWARDEN_CONTEXT")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.code().is_some_and(|c| c < 2),
            "{args:?}: {stderr}"
        );
        serde_json::from_slice(&output.stdout).unwrap()
    }

    /// `volumes` and `claims` of two reports agree field by field, origins aside.
    fn assert_same_verdicts(live: &Value, offline: &Value) {
        for key in ["volumes", "claims"] {
            let (a, b) = (&live[key], &offline[key]);
            assert_eq!(
                a.as_array().map(Vec::len),
                b.as_array().map(Vec::len),
                "{key}"
            );
            for (x, y) in a.as_array().unwrap().iter().zip(b.as_array().unwrap()) {
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    v.as_object_mut().unwrap().remove("origin");
                    v
                };
                assert_eq!(strip(x), strip(y), "{key}");
            }
        }
        assert!(!live["volumes"].as_array().unwrap().is_empty());
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn live_audit_matches_offline_audit_of_the_file() {
        let dir = scratch("audit");
        let file = fixture(&dir);
        let (server, kubeconfig) = start(&file, &dir).await;

        let live = run(&kubeconfig, &["audit", "-o", "json", "--now", NOW]);
        assert_eq!(live["assumptions"]["kubernetes"]["basis"]["kind"], "server");
        let version = live["assumptions"]["kubernetes"]["value"]
            .as_str()
            .unwrap()
            .to_owned();
        let file = file.to_string_lossy();
        let offline = run(
            &kubeconfig,
            &[
                "audit",
                "-o",
                "json",
                "--now",
                NOW,
                "--kube-version",
                &version,
                &file,
            ],
        );
        assert_same_verdicts(&live, &offline);
        assert_eq!(live["input"]["cluster"]["context"], "pvwarden-test");
        server.shutdown().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn snapshot_audits_like_the_live_cluster() {
        let dir = scratch("snapshot");
        let file = fixture(&dir);
        let (server, kubeconfig) = start(&file, &dir).await;

        let live = run(&kubeconfig, &["audit", "-o", "json", "--now", NOW]);
        let snapshot = dir.join("snapshot.yaml");
        let written = Command::new(binary())
            .args(["snapshot", "-o"])
            .arg(&snapshot)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .unwrap();
        assert!(
            written.status.success(),
            "{}",
            String::from_utf8_lossy(&written.stderr)
        );
        server.shutdown().await;

        // Offline, with the server gone: the snapshot's header supplies the version.
        let text = std::fs::read_to_string(&snapshot).unwrap();
        assert!(!text.contains("managedFields") && !text.contains("kind: Secret"));
        let path = snapshot.to_string_lossy();
        let offline = run(&kubeconfig, &["audit", "-o", "json", "--now", NOW, &path]);
        assert_same_verdicts(&live, &offline);
        assert_eq!(live["assumptions"], offline["assumptions"]);
        let _ = std::fs::remove_dir_all(dir);
    }
}
