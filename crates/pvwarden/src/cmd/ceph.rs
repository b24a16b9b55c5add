//! `pvwarden ceph`: the Ceph storage behind ceph-csi volumes.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{bail, Context};
use pvwarden_ceph::clean::{self, Options, Plan};
use pvwarden_ceph::inventory::CephInventory;
use pvwarden_ceph::join::StorageReport;
use pvwarden_ceph::report;
use pvwarden_domain::storage::StorageFacts;
use pvwarden_domain::verdict::OnDelete;

use crate::cli::{
    CephAccess, CephArgs, CephAuditArgs, CephCleanArgs, CephCommand, CephInventoryArgs,
    ClusterArgs, ModelArgs,
};
use crate::cmd::audit::{self, Storage};
use crate::load::load;
use crate::output::{Section, SectionFinding, SectionTable};

/// Runs one `ceph` verb.
pub fn run(args: CephArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        CephCommand::Audit(args) => run_audit(&args),
        CephCommand::Inventory(args) => run_inventory(&args),
        CephCommand::Clean(args) => run_clean(&args),
    }
}

/// Reads the inventory from the dump, or from the live cluster.
pub(crate) fn read_inventory(
    access: &CephAccess,
    cluster: &ClusterArgs,
) -> anyhow::Result<(CephInventory, String)> {
    let (mut inventory, source) = match &access.inventory {
        Some(path) => (CephInventory::read(path)?, path.display().to_string()),
        None => {
            let inventory = live::read(access, cluster)?;
            let source = format!("ceph:{}", inventory.fsid);
            (inventory, source)
        }
    };
    if !access.cluster_id.is_empty() {
        inventory.cluster_ids = access.cluster_id.clone();
    }
    Ok((inventory, source))
}

/// The join, as the audit takes it.
struct CephStorage {
    report: StorageReport,
    facts: StorageFacts,
    fsid: String,
    source: String,
}

impl Storage for CephStorage {
    fn facts(&self) -> &StorageFacts {
        &self.facts
    }

    fn section(&self, on_delete: &dyn Fn(&str) -> Option<OnDelete>, wide: bool) -> Section {
        let (headers, rows) = report::object_rows(&self.report, wide);
        let (mut missing_headers, mut missing) = report::missing_rows(&self.report);
        missing_headers.insert(2, "ON-DELETE");
        for row in &mut missing {
            let outcome = on_delete(&row[0]).map_or("-", |o| o.as_str());
            row.insert(2, outcome.to_owned());
        }
        let findings = report::findings(&self.report, on_delete)
            .into_iter()
            .map(|located| SectionFinding {
                kind: located.kind,
                object: located.object,
                finding: located.finding,
            })
            .collect();
        let mut value = serde_json::json!({
            "fsid": self.fsid,
            "source": self.source,
            "objects": self.report.objects,
            "volumes": self.report.volumes,
        });
        if let Some(volumes) = value["volumes"].as_array_mut() {
            for volume in volumes {
                let name = volume["pv"].as_str().unwrap_or_default().to_owned();
                volume["on_delete"] = on_delete(&name).map(|o| o.as_str()).into();
            }
        }
        Section {
            key: "storage",
            source: self.source.clone(),
            tables: vec![
                SectionTable {
                    title: "Ceph storage:",
                    headers,
                    rows,
                },
                SectionTable {
                    title: "PVs whose storage is missing:",
                    headers: missing_headers,
                    rows: missing,
                },
            ],
            value,
            findings,
        }
    }
}

fn run_audit(args: &CephAuditArgs) -> anyhow::Result<ExitCode> {
    audit::check_ignores(&args.audit.ignore, report::RULES)?;
    let loaded = load(&args.audit.model)?;
    let (inventory, source) = read_inventory(&args.access, &args.audit.model.cluster)?;
    let report = pvwarden_ceph::join(&inventory, loaded.inventory.pvs(), loaded.settings.now);
    tracing::debug!(
        objects = report.objects.len(),
        volumes = report.volumes.len(),
        calls = inventory.calls.total(),
        "storage joined"
    );
    let storage = CephStorage {
        facts: report.storage_facts(),
        report,
        fsid: inventory.fsid.clone(),
        source,
    };
    audit::report(&args.audit, &loaded, Some(&storage))
}

fn run_inventory(args: &CephInventoryArgs) -> anyhow::Result<ExitCode> {
    if args.access.inventory.is_some() {
        bail!("--inventory: `ceph inventory` reads the cluster; give --ceph-conf instead");
    }
    let (inventory, _) = read_inventory(&args.access, &args.cluster)?;
    let text = serde_json::to_string_pretty(&inventory)?;
    if args.output.as_os_str() == "-" {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{text}")?;
    } else {
        std::fs::write(&args.output, format!("{text}\n"))
            .with_context(|| format!("cannot write {}", args.output.display()))?;
    }
    let calls = inventory.calls;
    eprintln!(
        "pvwarden: read {} filesystem(s), {} RBD pool(s) in {} calls ({} mon, {} mgr, {} omap, \
         {} cephfs)",
        inventory.filesystems.len(),
        inventory.rbd_pools.len(),
        calls.total(),
        calls.mon,
        calls.mgr,
        calls.omap,
        calls.cephfs
    );
    Ok(ExitCode::SUCCESS)
}

fn run_clean(args: &CephCleanArgs) -> anyhow::Result<ExitCode> {
    let model = ModelArgs {
        paths: args.paths.clone(),
        cluster: args.cluster.clone(),
        releases: crate::cli::Releases::default(),
        now: None,
        stuck_after: pvwarden_domain::evidence::DEFAULT_STUCK_AFTER,
    };
    let loaded = load(&model)?;
    // A PV the input misses makes its storage look stale: plan nothing from a partial read.
    if let Some(error) = loaded.report.errors.first() {
        bail!("the PVs were not all read, so nothing can be called stale: {error}");
    }
    if let Some(warning) = loaded
        .report
        .warnings
        .iter()
        .find(|w| w.starts_with("partial"))
    {
        bail!("the PVs were not all read, so nothing can be called stale: {warning}");
    }
    if loaded.inventory.pvs().is_empty() {
        bail!(
            "the input holds no PersistentVolume, so every volume would look stale: give the \
             files or the cluster that hold the PVs"
        );
    }
    let (inventory, _) = read_inventory(&args.access, &args.cluster)?;
    let report = pvwarden_ceph::join(&inventory, loaded.inventory.pvs(), loaded.settings.now);
    // The PVs that use this Ceph cluster's storage are not in the input: everything would
    // look stale.
    if let Some(why) = &report.unmatched {
        bail!("{why}, so nothing can be called stale: give the PVs that use this Ceph cluster");
    }
    let options = Options {
        purge: args.purge,
        with_snapshots: args.with_snapshots,
    };
    let plan = clean::plan(&report, options);
    if args.apply {
        // clap makes --apply require --confirm.
        let confirmed = args.confirm.as_deref().unwrap_or_default();
        if args.access.inventory.is_some() {
            bail!(
                "--apply re-reads the cluster right before removing: give --ceph-conf, not \
                 --inventory"
            );
        }
        if confirmed != plan.digest {
            // The digest is not printed here: it must be confirmed from a reviewed plan.
            bail!(
                "the plan is not the one confirmed (--confirm {confirmed}): run without --apply, \
                 review the plan, and confirm the digest it ends with"
            );
        }
        let journal = crate::cmd::repair::open_journal(&args.journal)?;
        return live::apply(
            &args.access,
            &args.cluster,
            &plan,
            &journal,
            &inventory.fsid,
        );
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &plan)?;
        writeln!(out)?;
    } else {
        write_plan(&mut out, &plan, inventory.fsid.as_str())?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The plan in plain words.
fn write_plan(out: &mut dyn Write, plan: &Plan, fsid: &str) -> std::io::Result<()> {
    if plan.actions.is_empty() {
        writeln!(
            out,
            "Nothing to clean in Ceph cluster {fsid}: no stale subvolume or image."
        )?;
    } else {
        writeln!(
            out,
            "Plan {} for Ceph cluster {fsid}: {} removal(s). No PV uses any of these.",
            plan.digest,
            plan.actions.len()
        )?;
        for (i, action) in plan.actions.iter().enumerate() {
            writeln!(out, "  {}. {}", i + 1, action.describe())?;
        }
    }
    if !plan.refused.is_empty() {
        writeln!(out, "Left alone:")?;
        for refusal in &plan.refused {
            writeln!(out, "  - {}: {}", refusal.object, refusal.why)?;
        }
    }
    if !plan.actions.is_empty() {
        writeln!(
            out,
            "This is a plan only: nothing was removed. Removing storage cannot be undone \
             (an image in the RBD trash can be restored until the trash is purged). To carry it \
             out (each object is checked again right before it goes, and every removal is \
             journaled first): add --apply --confirm {}. Whether a client still mounts a \
             subvolume or maps an image is not checked: one used outside the PVs given is \
             removed under its user.",
            plan.digest
        )?;
    }
    Ok(())
}

/// The live read, when this binary was built with the `ceph` feature.
#[cfg(feature = "ceph")]
mod live {
    use std::io::Write;
    use std::process::ExitCode;

    use anyhow::Context;
    use jiff::Timestamp;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use kube::Api;
    use pvwarden_ceph::clean::{Plan, Removal};
    use pvwarden_ceph::inventory::CephInventory;
    use pvwarden_ceph::rados::{self, Connect, Key, ReadOptions, RemoveError};
    use pvwarden_journal::SqliteJournal;
    use pvwarden_journal::{Entry, EntryState, Journal, ObjectRef, Run, RunId, RunState};

    use crate::cli::{CephAccess, ClusterArgs};

    pub fn read(access: &CephAccess, cluster: &ClusterArgs) -> anyhow::Result<CephInventory> {
        if access.ceph_conf.is_none() && access.rook_namespace.is_none() {
            anyhow::bail!(
                "give --inventory FILE, --ceph-conf FILE (or CEPH_CONF) or --rook-namespace NS \
                 to read a cluster"
            );
        }
        let options = ReadOptions {
            journal_instances: access.journal_instance.clone(),
            concurrency: access.concurrency.max(1),
        };
        Ok(rados::read(&connect(access, cluster)?, &options)?)
    }

    fn connect(access: &CephAccess, cluster: &ClusterArgs) -> anyhow::Result<Connect> {
        if let Some(namespace) = &access.rook_namespace {
            return crate::load::runtime()?.block_on(rook(namespace, cluster));
        }
        let Some(conf) = &access.ceph_conf else {
            anyhow::bail!("give --ceph-conf FILE (or CEPH_CONF) to reach the cluster");
        };
        Ok(Connect {
            conf: Some(conf.clone()),
            keyring: access.keyring.clone(),
            id: access.id.clone(),
            ..Connect::default()
        })
    }

    /// The ConfigMap where Rook keeps the monitor addresses (`data: a=IP:PORT,b=...`).
    const MON_ENDPOINTS: &str = "rook-ceph-mon-endpoints";
    /// The Secret where Rook keeps the admin user and key.
    const MON_SECRET: &str = "rook-ceph-mon";

    /// The connection Rook's own records give, read from the cluster.
    async fn rook(namespace: &str, cluster: &ClusterArgs) -> anyhow::Result<Connect> {
        let kube = pvwarden_kube::Cluster::connect(&cluster.options()).await?;
        let configmaps: Api<ConfigMap> = Api::namespaced(kube.client().clone(), namespace);
        let endpoints = configmaps
            .get(MON_ENDPOINTS)
            .await
            .with_context(|| format!("cannot read ConfigMap {namespace}/{MON_ENDPOINTS}"))?;
        let data = endpoints
            .data
            .as_ref()
            .and_then(|d| d.get("data"))
            .filter(|d| !d.is_empty())
            .with_context(|| format!("ConfigMap {namespace}/{MON_ENDPOINTS} has no field data"))?;
        let mon_host = data
            .split(',')
            .map(|entry| entry.split_once('=').map_or(entry, |(_, addr)| addr))
            .collect::<Vec<_>>()
            .join(",");
        let secrets: Api<Secret> = Api::namespaced(kube.client().clone(), namespace);
        let secret = secrets
            .get(MON_SECRET)
            .await
            .with_context(|| format!("cannot read Secret {namespace}/{MON_SECRET}"))?;
        let field = |name: &str| {
            secret
                .data
                .as_ref()
                .and_then(|d| d.get(name))
                .map(|v| String::from_utf8_lossy(&v.0).trim().to_owned())
        };
        let key = field("ceph-secret")
            .with_context(|| format!("Secret {namespace}/{MON_SECRET} has no field ceph-secret"))?;
        let user = field("ceph-username").unwrap_or_else(|| "client.admin".to_owned());
        Ok(Connect {
            mon_host: Some(mon_host),
            key: Some(Key(key)),
            id: user.trim_start_matches("client.").to_owned(),
            ..Connect::default()
        })
    }

    /// Carries out a confirmed plan: each removal is journaled, then the object is checked
    /// again, then removed; an object that changed is left alone and the run goes on, a
    /// removal that fails stops it.
    pub fn apply(
        access: &CephAccess,
        cluster: &ClusterArgs,
        plan: &Plan,
        journal: &SqliteJournal,
        fsid: &str,
    ) -> anyhow::Result<ExitCode> {
        let remover = rados::remove(&connect(access, cluster)?)?;
        let now = Timestamp::now();
        let run = Run {
            id: RunId::new(now),
            started: now,
            operator: format!("client.{}", access.id),
            context: format!("ceph:{fsid}"),
            command: crate::cmd::repair::command_line("ceph"),
            digest: plan.digest.clone(),
            plan: Some(serde_json::to_value(plan)?),
            state: RunState::Open,
        };
        let rt = crate::load::runtime()?;
        rt.block_on(journal.begin(&run))?;
        let mut out = std::io::stdout().lock();
        writeln!(out, "Run {} (journal), plan {}:", run.id, plan.digest)?;
        let mut state = RunState::Done;
        let mut left = 0;
        for (i, action) in plan.actions.iter().enumerate() {
            let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let entry = Entry {
                run: run.id.clone(),
                seq,
                target: ObjectRef {
                    kind: kind(action.removal).to_owned(),
                    namespace: None,
                    name: action.path(),
                },
                action: verb(action.removal).to_owned(),
                patch: None,
                before: Some(serde_json::to_value(action)?),
                resource_version: None,
                backend_id: None,
                state: EntryState::Planned,
                error: None,
                at: Timestamp::now(),
            };
            rt.block_on(journal.record(&entry))?;
            match remover
                .recheck(action)
                .and_then(|()| remover.remove(action))
            {
                Ok(_) => {
                    rt.block_on(journal.mark(&run.id, seq, EntryState::Applied, None))?;
                    writeln!(out, "  {seq}. done: {}", action.describe())?;
                }
                Err(err @ RemoveError::Changed { .. }) => {
                    let why = err.to_string();
                    rt.block_on(journal.mark(&run.id, seq, EntryState::Failed, Some(&why)))?;
                    writeln!(out, "  {seq}. {why}")?;
                    left += 1;
                }
                Err(err) => {
                    let why = err.to_string();
                    rt.block_on(journal.mark(&run.id, seq, EntryState::Failed, Some(&why)))?;
                    writeln!(out, "  {seq}. failed, the run stops: {why}")?;
                    state = RunState::Failed;
                    break;
                }
            }
        }
        rt.block_on(journal.finish(&run.id, state))?;
        if left > 0 {
            writeln!(
                out,
                "{left} object(s) changed since the plan and were left alone."
            )?;
        }
        Ok(if state == RunState::Done {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        })
    }

    /// The journal's kind of a removed object.
    fn kind(removal: Removal) -> &'static str {
        match removal {
            Removal::Subvolume => "CephSubvolume",
            Removal::ImageToTrash | Removal::ImagePurge => "RbdImage",
            Removal::JournalEntry => "CephCsiJournalEntry",
        }
    }

    /// The journal's action of a removal.
    fn verb(removal: Removal) -> &'static str {
        match removal {
            Removal::Subvolume => "remove-subvolume",
            Removal::ImageToTrash => "move-image-to-trash",
            Removal::ImagePurge => "purge-image",
            Removal::JournalEntry => "remove-journal-entry",
        }
    }
}

/// Without the `ceph` feature only dumps can be read.
#[cfg(not(feature = "ceph"))]
mod live {
    use std::process::ExitCode;

    use pvwarden_ceph::clean::Plan;
    use pvwarden_ceph::inventory::CephInventory;
    use pvwarden_journal::SqliteJournal;

    use crate::cli::{CephAccess, ClusterArgs};

    /// What to say where Ceph access is needed.
    const NO_ACCESS: &str = "this pvwarden was built without Ceph access (cargo feature \
        `ceph`, which needs librados)";

    pub fn read(_access: &CephAccess, _cluster: &ClusterArgs) -> anyhow::Result<CephInventory> {
        anyhow::bail!(
            "{NO_ACCESS}: give --inventory FILE, written by `pvwarden ceph inventory` where Ceph \
             is reachable"
        )
    }

    pub fn apply(
        _access: &CephAccess,
        _cluster: &ClusterArgs,
        _plan: &Plan,
        _journal: &SqliteJournal,
        _fsid: &str,
    ) -> anyhow::Result<ExitCode> {
        anyhow::bail!("{NO_ACCESS}: --apply removes storage, which needs it")
    }
}
