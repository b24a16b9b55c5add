//! `pvwarden rbac`: the ClusterRole that reading a cluster needs, and a binding.

use std::io::Write;
use std::process::ExitCode;

use crate::cli::RbacArgs;

pub fn run(args: &RbacArgs) -> anyhow::Result<ExitCode> {
    let yaml = pvwarden_kube::rbac::manifests(&args.name, &args.service_account);
    let mut out = std::io::stdout().lock();
    out.write_all(yaml.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
