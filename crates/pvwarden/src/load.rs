//! Reading the input into an inventory, and the assumptions it implies.

use std::path::PathBuf;

use pvwarden_domain::evidence::Settings;
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::version::{Assumed, Assumptions, Basis};
use pvwarden_manifest::{Reader, Summary};
use serde::Serialize;

use crate::cli::ModelArgs;

/// The input, read.
pub struct Loaded {
    /// The facts.
    pub inventory: Inventory,
    /// The assumptions, after the input and the flags.
    pub assumptions: Assumptions,
    /// How evidence is weighed.
    pub settings: Settings,
    /// What was read.
    pub report: InputReport,
}

/// What was read, for the report.
#[derive(Debug, Default, Serialize)]
pub struct InputReport {
    /// Documents read.
    pub documents: u64,
    /// Objects the model used.
    pub objects: u64,
    /// Objects skipped, by kind.
    pub skipped: std::collections::BTreeMap<String, u64>,
    /// Errors, each naming the file, line, object and field where known.
    pub errors: Vec<String>,
}

/// Reads every path (standard input when none is given).
pub fn load(args: &ModelArgs) -> anyhow::Result<Loaded> {
    let paths: Vec<PathBuf> = if args.paths.is_empty() {
        vec![PathBuf::from("-")]
    } else {
        args.paths.clone()
    };
    let mut inventory = Inventory::new();
    let mut errors = Vec::new();
    let summary: Summary = Reader::new().read_paths(&paths, &mut |item| match item {
        Ok(located) => {
            if let Err(err) = inventory.add(located) {
                tracing::debug!(error = %err, "object rejected");
                errors.push(chain(&err));
            }
        }
        Err(err) => {
            tracing::debug!(error = %err, "input error");
            errors.push(chain(&err));
        }
    });
    let report = InputReport {
        documents: summary.documents,
        objects: summary.objects,
        skipped: summary.skipped,
        errors,
    };
    let assumptions = assumptions(args, &inventory);
    let now = args.now.unwrap_or_else(jiff::Timestamp::now);
    let settings = Settings {
        now,
        stuck_after: args.stuck_after,
    };
    Ok(Loaded {
        inventory,
        assumptions,
        settings,
        report,
    })
}

/// An error with its causes, `outer: inner: innermost`.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

fn assumptions(args: &ModelArgs, inventory: &Inventory) -> Assumptions {
    let mut a = Assumptions::from_components(inventory.components());
    fn flag<T>(value: T) -> Assumed<T> {
        Assumed {
            value,
            basis: Basis::Flag,
        }
    }
    if let Some(v) = args.kube_version {
        a.kubernetes = flag(v);
    }
    if let Some(v) = args.provisioner_version {
        a.provisioner = flag(v);
    }
    if let Some(v) = args.ceph_csi_version {
        a.ceph_csi = flag(v);
    }
    if let Some(gate) = args.honor_reclaim_policy {
        a.honor_reclaim_policy_gate = Some(flag(gate));
    }
    a
}
