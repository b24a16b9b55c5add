//! `pvwarden static cephfs|rbd`: a static PV and claim for existing storage.

use std::io::Write;
use std::process::ExitCode;

use pvwarden_generate::{document, static_volume, Existing};

use crate::cli::{StaticArgs, StaticCommon, StaticKind};

/// Runs `pvwarden static`.
///
/// It reads no input: nothing is known about the cluster's other PVs, so the
/// names given must be free (kubectl refuses to create over a PV that exists,
/// but a claim of the same name in another namespace is no conflict).
pub fn run(args: &StaticArgs) -> anyhow::Result<ExitCode> {
    let existing = Existing::default();
    let (plan, what) = match &args.kind {
        StaticKind::Cephfs(a) => {
            let request = static_volume::Cephfs {
                common: common(&a.common, &a.driver),
                fs_name: a.fs_name.clone(),
                root_path: a.root_path.clone(),
            };
            (
                static_volume::cephfs(&request, &existing)?,
                "CephFS directory",
            )
        }
        StaticKind::Rbd(a) => {
            let request = static_volume::Rbd {
                common: common(&a.common, &a.driver),
                pool: a.pool.clone(),
                image: a.image.clone(),
                rados_namespace: a.rados_namespace.clone(),
                image_features: a.image_features.clone(),
                fs_type: a.fs_type.clone(),
                block: a.block,
            };
            (static_volume::rbd(&request, &existing)?, "RBD image")
        }
    };
    let header = vec![format!(
        "A static volume for an existing {what}, written by `pvwarden static`. Apply it with \
         `kubectl apply -f -`."
    )];
    let text = document::render(&header, &plan.documents)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn common(c: &StaticCommon, driver: &str) -> static_volume::Common {
    static_volume::Common {
        pv_name: c.pv_name.clone(),
        namespace: c.namespace.clone(),
        claim_name: c.claim_name.clone(),
        driver: driver.to_owned(),
        cluster_id: c.cluster_id.clone(),
        size: c.size.clone(),
        read_only: c.read_only,
        node_stage_secret: c.node_stage_secret.clone(),
        storage_class: c.storage_class.clone(),
    }
}
