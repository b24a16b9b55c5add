//! `pvwarden explain`: the step-by-step story of one PV or claim.

use std::io::Write;
use std::process::ExitCode;

use anyhow::bail;
use pvwarden_domain::audit::Auditor;
use pvwarden_domain::rule::Finding;
use pvwarden_domain::verdict::{ClaimVerdict, VolumeVerdict};
use pvwarden_domain::version::{Assumed, Assumptions, Basis, Version};
use serde_json::json;

use crate::cli::ExplainArgs;
use crate::load::load;

pub fn run(args: &ExplainArgs) -> anyhow::Result<ExitCode> {
    let loaded = load(&args.model)?;
    for warning in &loaded.report.warnings {
        eprintln!("pvwarden: warning: {warning}");
    }
    for error in &loaded.report.errors {
        eprintln!("pvwarden: {error}");
    }
    let inventory = &loaded.inventory;
    // With a Ceph inventory, the story follows what the storage holds, not the assumption.
    let storage = match &args.ceph_inventory {
        Some(path) => {
            let ceph = pvwarden_ceph::CephInventory::read(path)?;
            Some(pvwarden_ceph::join(&ceph, inventory.pvs(), loaded.settings.now).storage_facts())
        }
        None => None,
    };
    let mut auditor = Auditor::new(inventory, loaded.assumptions.clone(), loaded.settings);
    if let Some(facts) = &storage {
        auditor = auditor.with_storage(facts);
    }

    let (claim, pv) = match args.name.split_once('/') {
        Some((ns, name)) => {
            let Some(claim) = inventory.claim(ns, name) else {
                bail!("no claim {ns}/{name} in the input");
            };
            let pv = claim.volume_name.as_deref().and_then(|v| inventory.pv(v));
            (Some(claim), pv)
        }
        None => match inventory.pv(&args.name) {
            Some(pv) => (None, Some(pv)),
            None => bail!(
                "no PV {} in the input (name a claim as namespace/name){}",
                args.name,
                suggestion(&args.name, inventory.pvs().iter().map(|p| p.name.as_str()))
            ),
        },
    };
    let volume = pv.map(|pv| auditor.volume(pv));
    let claim = claim.map(|c| {
        let outcome = |name: &str| {
            volume
                .as_ref()
                .filter(|v| v.name == name)
                .map(|v| v.on_delete)
        };
        auditor.claim(c, &outcome)
    });

    let mut out = std::io::stdout().lock();
    if args.json {
        let doc = json!({
            "apiVersion": "pvwarden.io/v1",
            "kind": "Explanation",
            "assumptions": auditor.assumptions(),
            "claim": claim,
            "volume": volume,
        });
        serde_json::to_writer_pretty(&mut out, &doc)?;
        writeln!(out)?;
    } else {
        if let Some(claim) = &claim {
            write_claim(&mut out, claim)?;
        }
        if let Some(volume) = &volume {
            write_volume(&mut out, volume, auditor.assumptions())?;
        }
    }
    out.flush()?;
    let code = if loaded.report.errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    };
    Ok(code)
}

fn suggestion<'a>(wanted: &str, names: impl Iterator<Item = &'a str>) -> String {
    let close: Vec<&str> = names
        .filter(|n| n.contains(wanted) || wanted.contains(*n))
        .take(3)
        .collect();
    if close.is_empty() {
        String::new()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}

fn assumed(name: &str, a: &Assumed<Version>) -> String {
    let basis = match &a.basis {
        Basis::Default => "default".to_owned(),
        Basis::Flag => "from the command line".to_owned(),
        Basis::Workload(w) => format!("from {w}"),
        Basis::Server => "reported by the API server".to_owned(),
    };
    format!("{name} {} ({basis})", a.value)
}

fn write_claim(out: &mut impl Write, c: &ClaimVerdict) -> std::io::Result<()> {
    writeln!(
        out,
        "PersistentVolumeClaim {}/{}  ({})",
        c.namespace, c.name, c.origin
    )?;
    match &c.volume {
        Some(v) => writeln!(out, "  bound to PV {v}")?,
        None => writeln!(out, "  not bound to any PV in the input")?,
    }
    writeln!(out, "  deleting it: storage {}", c.on_delete.as_str())?;
    match &c.stuck_reason {
        Some(why) => writeln!(out, "  stuck: {why}")?,
        None => writeln!(out, "  not stuck")?,
    }
    write_findings(out, &c.findings)?;
    writeln!(out)
}

fn write_findings(out: &mut impl Write, findings: &[Finding]) -> std::io::Result<()> {
    for f in findings {
        let severity = f.severity.as_str();
        writeln!(
            out,
            "  {severity:<7} {}: {}\n          fix: {}",
            f.rule, f.message, f.remedy
        )?;
    }
    Ok(())
}

fn write_volume(out: &mut impl Write, v: &VolumeVerdict, a: &Assumptions) -> std::io::Result<()> {
    writeln!(out, "PersistentVolume {}  ({})", v.name, v.origin)?;
    let terminating = if v.terminating { ", terminating" } else { "" };
    writeln!(
        out,
        "  driver {} (profile {}), policy {}, phase {}{terminating}",
        v.driver, v.profile, v.policy, v.phase
    )?;
    writeln!(
        out,
        "  assuming {}, {}, {}",
        assumed("Kubernetes", &a.kubernetes),
        assumed("external-provisioner", &a.provisioner),
        assumed("ceph-csi", &a.ceph_csi)
    )?;

    let c = &v.classification;
    writeln!(
        out,
        "\nWho made it: {} (decided by: {})",
        v.provisioning.as_str(),
        c.rule
    )?;
    let mut marks = Vec::new();
    match &c.provisioned_by {
        Some(p) => marks.push(format!(
            "provisioned-by {p} ({})",
            if c.annotation_matches {
                "names its provisioner"
            } else {
                "names another provisioner"
            }
        )),
        None => marks.push("no provisioned-by annotation".into()),
    }
    marks.push(format!(
        "name {} pvc-<claim uid>",
        if c.name_matches_claim { "is" } else { "is not" }
    ));
    marks.push(format!(
        "provisioner identity attribute {}",
        if c.has_identity { "present" } else { "absent" }
    ));
    if c.provisioned_by.is_some() {
        marks.push(format!(
            "its StorageClass's provisioner {} the annotation",
            if c.class_matches {
                "matches"
            } else {
                "does not match"
            }
        ));
    }
    if c.static_volume {
        marks.push("staticVolume: \"true\"".into());
    }
    if c.root_path {
        marks.push("rootPath set".into());
    }
    if let Some(decodes) = c.handle_decodes {
        marks.push(format!(
            "handle {}",
            if decodes {
                "decodes"
            } else {
                "does not decode"
            }
        ));
    }
    writeln!(out, "  evidence: {}", marks.join("; "))?;
    if !c.copied_markers.is_empty() {
        writeln!(
            out,
            "  copied dynamic markers: {}",
            c.copied_markers.join("; ")
        )?;
    }
    match &v.owner {
        Some(o) => writeln!(out, "  owned by provisioner {}: {}", o.name, o.why)?,
        None => writeln!(out, "  no provisioner considers it its own")?,
    }
    if let Some(h) = &v.handle {
        write!(out, "  handle family {}", h.family)?;
        if let (Some(cluster), Some(loc), Some(uuid)) =
            (&h.cluster_id, h.location_id, &h.object_uuid)
        {
            write!(
                out,
                ": clusterID {cluster}, pool/filesystem id {loc}, uuid {uuid}"
            )?;
        }
        if let Some(e) = &h.error {
            write!(out, ": ceph-csi says \"{e}\"")?;
        }
        writeln!(out)?;
        for i in &h.inconsistencies {
            writeln!(out, "  inconsistent: {i}")?;
        }
    }

    writeln!(out, "\nWhat happens, step by step:")?;
    for chapter in &v.story {
        writeln!(out, "  {}:", chapter.title)?;
        if chapter.steps.is_empty() {
            writeln!(out, "    (nothing changes)")?;
        }
        for (i, step) in chapter.steps.iter().enumerate() {
            writeln!(
                out,
                "    {}. {}: {}",
                i + 1,
                step.actor.as_str(),
                step.action
            )?;
        }
    }

    writeln!(out, "\nVerdict:")?;
    writeln!(
        out,
        "  on delete ({}): {} — {}",
        v.next_deletion.describe(),
        v.on_delete.as_str(),
        v.on_delete_reason
    )?;
    match &v.stuck_reason {
        Some(why) => writeln!(out, "  stuck now: yes — {why}")?,
        None => writeln!(out, "  stuck now: no")?,
    }
    if !v.blocking_finalizers.is_empty() {
        writeln!(out, "  held by: {}", v.blocking_finalizers.join(", "))?;
    }
    for e in &v.evidence {
        writeln!(out, "  evidence: {e}")?;
    }
    if let Some(d) = &v.disagreement {
        writeln!(out, "  model and evidence disagree: {d}")?;
    }

    if !v.findings.is_empty() {
        writeln!(out, "\nFindings:")?;
        write_findings(out, &v.findings)?;
    }
    if !v.remedies.is_empty() {
        writeln!(out, "\nWays out, safest first:")?;
        for (i, r) in v.remedies.iter().enumerate() {
            writeln!(out, "  {}. {}", i + 1, r.action)?;
            if let Some(cmd) = &r.command {
                writeln!(out, "     $ {cmd}")?;
            }
            if !r.why.is_empty() {
                writeln!(out, "     ({})", r.why)?;
            }
        }
    }
    if !v.must_not.is_empty() {
        writeln!(out, "\nMust not:")?;
        for m in &v.must_not {
            writeln!(out, "  - {m}")?;
        }
    }
    Ok(())
}
