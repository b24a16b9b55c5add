//! `read-manifests FILE...`: streams manifests through `pvwarden_manifest::Reader` and counts.
//!
//! This measures the reader alone, with its kind dispatch, origins and error
//! handling, for comparison with `parse-floor` and the full audit.

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let paths: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if paths.is_empty() {
        eprintln!("usage: read-manifests FILE...");
        return ExitCode::from(2);
    }
    let mut first_error = None;
    let summary = pvwarden_manifest::Reader::new().read_paths(&paths, &mut |item| {
        if let Err(err) = item {
            first_error.get_or_insert_with(|| err.to_string());
        }
    });
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
