//! `pvwarden decode`: ceph-csi handles, decoded exactly as ceph-csi does.
//!
//! Each output line is `{"input","ok","error","encoding_version","cluster_id",
//! "location_id","object_uuid"}` (the last four only when `ok`, `error` only
//! when not) plus `family` when the handle belongs to another family ceph-csi
//! knows (legacy v1.0 ids, migration handles).

use std::io::{BufRead, Write};
use std::process::ExitCode;

use anyhow::Context;

use pvwarden_domain::volid::{self, HandleFamily};
use serde_json::{json, Map, Value};

use crate::cli::DecodeArgs;

pub fn run(args: &DecodeArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut all_ok = true;
    let mut emit = |handle: &str| -> anyhow::Result<()> {
        let line = decode_line(handle);
        all_ok &= line["ok"] == Value::Bool(true);
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
        Ok(())
    };
    // No handle, or `-`, reads one handle per line from standard input; blank
    // lines are skipped.
    let stdin = args.handles.is_empty() || args.handles.iter().any(|h| h == "-");
    for handle in args.handles.iter().filter(|h| *h != "-") {
        emit(handle)?;
    }
    if stdin {
        for (number, line) in std::io::stdin().lock().lines().enumerate() {
            let line = line.with_context(|| format!("cannot read line {} of stdin", number + 1))?;
            let handle = line.strip_suffix('\r').unwrap_or(&line);
            if !handle.trim().is_empty() {
                emit(handle)?;
            }
        }
    }
    out.flush()?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// The JSON object for one handle.
pub fn decode_line(handle: &str) -> Value {
    let mut line = Map::new();
    line.insert("input".into(), json!(handle));
    match volid::decode(handle) {
        Ok(id) => {
            line.insert("ok".into(), json!(true));
            line.insert("encoding_version".into(), json!(id.encoding_version));
            line.insert("cluster_id".into(), json!(id.cluster_id));
            line.insert("location_id".into(), json!(id.location_id));
            line.insert("object_uuid".into(), json!(id.object_uuid));
            // ceph-csi RBD (v3.5 and later) sends such a handle down its migration path
            // before it ever decodes it.
            if volid::is_migration_handle(handle) {
                line.insert("family".into(), json!("migration"));
            }
        }
        Err(err) => {
            line.insert("ok".into(), json!(false));
            line.insert("error".into(), json!(err.ceph_csi_message()));
            let family = match volid::classify(handle) {
                HandleFamily::LegacyRbd { .. } => Some("legacy-rbd"),
                HandleFamily::LegacyCephfs { .. } => Some("legacy-cephfs"),
                HandleFamily::Migration(_) => Some("migration"),
                HandleFamily::BadMigration(_) => Some("bad-migration"),
                _ => None,
            };
            if let Some(family) = family {
                line.insert("family".into(), json!(family));
            }
        }
    }
    Value::Object(line)
}
