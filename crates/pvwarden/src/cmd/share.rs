//! `pvwarden share` and `pvwarden unshare`: a safe share of a PV for another
//! namespace, and its removal.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use pvwarden_ceph::subvolume_path::subvolume_path;
use pvwarden_domain::inventory::Inventory;
use pvwarden_domain::object::{Located, Object};
use pvwarden_domain::rule::ShareIndex;
use pvwarden_generate::{document, share, unshare, Existing, ANN_SOURCE};

use crate::cli::{ClusterArgs, ShareArgs, UnshareArgs};
use crate::load;

mod apply;

/// The PVs and claims of the input, whole, and their facts for the model.
struct Input {
    pvs: BTreeMap<String, PersistentVolume>,
    claims: BTreeMap<(String, String), PersistentVolumeClaim>,
    inventory: Inventory,
}

impl Input {
    /// Reads the paths, or the cluster; refuses an input with errors, since a
    /// PV or claim it failed to read could be one a generated name collides with.
    fn read(paths: &[PathBuf], cluster: &ClusterArgs) -> anyhow::Result<Input> {
        let mut input = Input {
            pvs: BTreeMap::new(),
            claims: BTreeMap::new(),
            inventory: Inventory::new(),
        };
        let mut rejected = Vec::new();
        let (mut errors, warnings) =
            load::objects(paths, cluster, &mut |located: Located<Object>| {
                match &located.object {
                    Object::PersistentVolume(pv) => {
                        let name = pv.metadata.name.clone().unwrap_or_default();
                        input.pvs.insert(name, (**pv).clone());
                    }
                    Object::PersistentVolumeClaim(pvc) => {
                        let key = (
                            pvc.metadata.namespace.clone().unwrap_or_default(),
                            pvc.metadata.name.clone().unwrap_or_default(),
                        );
                        input.claims.insert(key, (**pvc).clone());
                    }
                    _ => return,
                }
                if let Err(err) = input.inventory.add(located) {
                    rejected.push(err.to_string());
                }
            })?;
        errors.extend(rejected);
        // A claim list left out (no permission) means a claim name in use may go
        // unseen; the create then fails rather than reuse it, so this is a warning.
        for warning in &warnings {
            eprintln!("pvwarden: warning: {warning}");
        }
        if !errors.is_empty() {
            for error in &errors {
                eprintln!("pvwarden: {error}");
            }
            bail!(
                "the input has {} error(s): nothing was written, since an object that could \
                 not be read may hold a name or handle the new objects would reuse",
                errors.len()
            );
        }
        Ok(input)
    }

    fn pv(&self, name: &str) -> anyhow::Result<&PersistentVolume> {
        if let Some(pv) = self.pvs.get(name) {
            return Ok(pv);
        }
        let close: Vec<&str> = self
            .pvs
            .keys()
            .filter(|n| n.contains(name) || name.contains(n.as_str()))
            .take(3)
            .map(String::as_str)
            .collect();
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!("; did you mean {}?", close.join(", "))
        };
        bail!("no PV {name} in the input{hint}")
    }
}

/// The path Ceph reports for the source's subvolume, when Ceph access was given and the
/// source is a dynamic CephFS volume; `None` leaves the source's attribute unchecked.
fn ceph_root_path(args: &ShareArgs, input: &Input) -> anyhow::Result<Option<String>> {
    let access = &args.ceph;
    // A build without the `ceph` feature cannot reach a cluster; CEPH_CONF in the
    // environment must not make `share` fail there, so only a dump counts as access.
    let live =
        cfg!(feature = "ceph") && (access.ceph_conf.is_some() || access.rook_namespace.is_some());
    if access.inventory.is_none() && !live {
        return Ok(None);
    }
    let Some(facts) = input.inventory.pv(&args.pv) else {
        return Ok(None);
    };
    let (ceph, source) = crate::cmd::ceph::read_inventory(access, &args.cluster)?;
    let report = pvwarden_ceph::join(&ceph, std::slice::from_ref(facts), Timestamp::now());
    let path = subvolume_path(&ceph, &report, &args.pv).with_context(|| {
        format!(
            "cannot read the subvolume path of PV {} from {source}",
            args.pv
        )
    })?;
    tracing::info!(pv = %args.pv, ceph = %source, path = ?path, "subvolume path read from Ceph");
    Ok(path)
}

/// Runs `pvwarden share`.
pub fn run(args: &ShareArgs) -> anyhow::Result<ExitCode> {
    if args.apply && !args.paths.is_empty() {
        bail!("--apply reads and writes the cluster itself: give no PATH");
    }
    let input = Input::read(&args.paths, &args.cluster)?;
    let source = input.pv(&args.pv)?;
    let pvs: Vec<PersistentVolume> = input.pvs.values().cloned().collect();
    let claims: Vec<PersistentVolumeClaim> = input.claims.values().cloned().collect();
    let request = share::Request {
        source,
        namespace: args.to_namespace.clone(),
        claim_name: args.claim_name.clone(),
        pv_name: args.pv_name.clone(),
        read_only: args.read_only,
        node_stage_secret: args.node_stage_secret.clone(),
        // Without Ceph access the path comes from the source's own attributes,
        // and the output says it was not checked against Ceph.
        ceph_root_path: ceph_root_path(args, &input)?,
    };
    let existing = Existing {
        pvs: &pvs,
        claims: &claims,
    };
    let plan = share::plan(&request, &existing)?;
    tracing::info!(source = %args.pv, pv = %plan.pv_name, claim = %plan.claim,
        source_switched = plan.source_switched, "share planned");
    let mut out = std::io::stdout().lock();
    if args.apply {
        let source_uid = source.metadata.uid.clone();
        let command = format!("share {} --to-namespace {}", args.pv, args.to_namespace);
        let writes = apply::share_writes(&plan, source_uid);
        let (run, journal) = apply::run(&args.cluster, args.journal.clone(), command, &writes)?;
        for document in &plan.documents {
            writeln!(out, "applied {}", document.manifest.describe())?;
        }
        for requirement in &plan.requirements {
            writeln!(out, "needed: {requirement}")?;
        }
        writeln!(out, "journal: run {run} in {}", journal.display())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let header = vec![
        format!(
            "A share of PV {} for namespace {}, written by `pvwarden share`. Apply it with \
             `kubectl apply -f -` (in this order); then `pvwarden audit` reports the source \
             and its shares as one shared backend, at info.",
            args.pv, args.to_namespace
        ),
        format!(
            "The namespace {0} must exist before this is applied (`kubectl create namespace \
             {0}`): otherwise the PV is created and its claim is refused.",
            args.to_namespace
        ),
    ];
    let text = document::render(&header, &plan.documents)?;
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// Runs `pvwarden unshare`.
pub fn unshare(args: &UnshareArgs) -> anyhow::Result<ExitCode> {
    if args.apply && !args.paths.is_empty() {
        bail!("--apply reads and writes the cluster itself: give no PATH");
    }
    let input = Input::read(&args.paths, &args.cluster)?;
    let share_name = match args.name.split_once('/') {
        Some((namespace, name)) => {
            let key = (namespace.to_owned(), name.to_owned());
            let Some(claim) = input.claims.get(&key) else {
                bail!("no claim {namespace}/{name} in the input");
            };
            let volume = claim.spec.as_ref().and_then(|s| s.volume_name.clone());
            let Some(volume) = volume else {
                bail!("claim {namespace}/{name} names no PV (spec.volumeName)");
            };
            volume
        }
        None => args.name.clone(),
    };
    let share = input.pv(&share_name)?;
    let claim = share
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.as_ref())
        .and_then(|r| {
            let key = (r.namespace.clone()?, r.name.clone()?);
            input.claims.get(&key)
        })
        .filter(|c| {
            c.spec.as_ref().and_then(|s| s.volume_name.as_deref()) == Some(share_name.as_str())
        });

    // Every other PV on the same storage, as the audit sees it; the source is the
    // one the share's annotation names, else the one that is not static.
    let index = ShareIndex::build(&input.inventory);
    let mut sharers: Vec<(String, bool)> = match input.inventory.pv(&share_name) {
        Some(facts) => index
            .sharing(facts, &input.inventory)
            .all()
            .map(|p| {
                (
                    p.name.clone(),
                    p.csi().is_some_and(|c| c.is_static_volume()),
                )
            })
            .collect(),
        None => Vec::new(),
    };
    let recorded = share
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(ANN_SOURCE))
        .cloned();
    let source_name = recorded
        .filter(|n| sharers.iter().any(|(s, _)| s == n))
        .or_else(|| sharers.iter().find(|(_, st)| !st).map(|(n, _)| n.clone()));
    sharers.retain(|(n, _)| Some(n) != source_name.as_ref());
    let request = unshare::Request {
        share,
        claim,
        source: source_name.as_ref().and_then(|n| input.pvs.get(n)),
        others: sharers.into_iter().map(|(n, _)| n).collect(),
    };
    let plan = unshare::plan(&request)?;
    let mut out = std::io::stdout().lock();
    if !args.apply {
        out.write_all(unshare::render(&plan).as_bytes())?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    let writes: Vec<apply::Write<'_>> = plan
        .steps
        .iter()
        .map(|step| match &step.action {
            unshare::Action::Retain { pv } => apply::Write::Retain {
                name: pv.clone(),
                uid: share.metadata.uid.clone(),
                remember: false,
            },
            unshare::Action::DeleteClaim { namespace, name } => apply::Write::DeleteClaim {
                namespace: namespace.clone(),
                name: name.clone(),
                uid: claim.and_then(|c| c.metadata.uid.clone()),
            },
            unshare::Action::DeletePv { pv } => apply::Write::DeletePv {
                name: pv.clone(),
                uid: share.metadata.uid.clone(),
            },
        })
        .collect();
    let command = format!("unshare {}", args.name);
    let (run, journal) = apply::run(&args.cluster, args.journal.clone(), command, &writes)?;
    for step in &plan.steps {
        writeln!(out, "done, the equivalent of: {}", step.action.command())?;
    }
    writeln!(out, "{}", plan.source_advice)?;
    if let Some(restore) = &plan.restore {
        writeln!(out, "not done (your decision): {restore}")?;
    }
    writeln!(out, "journal: run {run} in {}", journal.display())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
