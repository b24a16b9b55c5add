//! `read-manifests FILE...`: streams manifests through `pvwarden_manifest::Reader` and counts.
//!
//! This measures the reader alone, with its kind dispatch, origins and error
//! handling, for comparison with `parse-floor` and the full audit. Like the
//! audit, it reads through `read_paths_map`, whose hook runs where each object
//! was decoded (on rayon's pool, for JSON): here the hook only drops it.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        eprintln!("usage: read-manifests FILE...");
        return ExitCode::from(2);
    }
    let mut first_error = None;
    let summary = pvwarden_manifest::Reader::new().read_paths_map(
        &paths,
        &|item| item.err().map(|err| err.to_string()),
        &mut |error| {
            if let Some(error) = error {
                first_error.get_or_insert(error);
            }
        },
    );
    println!(
        "objects={} documents={} skipped={} errors={}",
        summary.objects,
        summary.documents,
        summary.skipped.values().sum::<u64>(),
        summary.errors
    );
    if let Some(err) = first_error {
        eprintln!("read-manifests: first error: {err}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
