//! `pvwarden share --apply`: the share's objects created through the API, each
//! change journaled before it is made.
//!
//! The order is the one that never leaves the storage exposed: the source is
//! switched to `Retain` first, then the share PV is created, then its claim.
//! Before every write the object is read again: a PV or claim that appeared
//! since the plan was made, or a source that changed (another uid, a new
//! resource version between the read and the write), stops the run there, and
//! the journal says how far it got.

use std::path::PathBuf;

use anyhow::Context;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, Patch, PatchParams, PostParams};
use kube::Client;
use pvwarden_generate::document::Manifest;
use pvwarden_generate::{Plan, ANN_ORIGINAL_POLICY};
use pvwarden_journal::{
    Entry, EntryState, Journal, ObjectRef, Run, RunId, RunState, SqliteJournal,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Who applies, and where.
pub struct Target<'a> {
    /// The journal file, if given.
    pub journal: Option<PathBuf>,
    /// The cluster's client.
    pub client: &'a Client,
    /// The kubeconfig context.
    pub context: &'a str,
    /// The command line, for the journal.
    pub command: String,
    /// The source PV's uid when the plan was made.
    pub source_uid: Option<String>,
}

/// One write of the run.
enum Write<'a> {
    /// Switch the source to `Retain`, remembering its old policy.
    Retain(&'a PersistentVolume),
    /// Create the share PV.
    CreatePv(&'a PersistentVolume),
    /// Create the share's claim.
    CreateClaim(&'a PersistentVolumeClaim),
}

/// Opens the journal and carries out the plan; returns the run's id and the journal path.
pub async fn apply(plan: &Plan, target: &Target<'_>) -> anyhow::Result<(RunId, PathBuf)> {
    let path = target
        .journal
        .clone()
        .or_else(pvwarden_journal::default_path)
        .context("--apply needs a journal: give --journal FILE (or set XDG_STATE_HOME or HOME)")?;
    let journal = SqliteJournal::open(&path)?;
    let writes = writes(plan);
    let rendered: Vec<Value> = writes.iter().map(Write::body).collect();
    let now = jiff::Timestamp::now();
    let run = Run {
        id: RunId::new(now),
        started: now,
        operator: std::env::var("USER").unwrap_or_else(|_| "unknown".to_owned()),
        context: target.context.to_owned(),
        command: target.command.clone(),
        digest: digest(&rendered),
        plan: Some(Value::Array(rendered)),
        state: RunState::Open,
    };
    journal.begin(&run).await?;
    tracing::info!(run = %run.id, journal = %path.display(), "share run started");
    for (i, write) in writes.iter().enumerate() {
        let seq = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if let Err(err) = step(&journal, &run.id, seq, write, target).await {
            journal.finish(&run.id, RunState::Failed).await?;
            return Err(err.context(format!(
                "run {} stopped at change {seq}; the journal {} records how far it got",
                run.id,
                path.display()
            )));
        }
    }
    journal.finish(&run.id, RunState::Done).await?;
    Ok((run.id, path))
}

/// The writes of a plan, in the order that keeps the storage safe.
fn writes(plan: &Plan) -> Vec<Write<'_>> {
    let mut retain = Vec::new();
    let mut create = Vec::new();
    for document in &plan.documents {
        match &document.manifest {
            Manifest::Volume(pv) if pv.metadata.name.as_deref() != Some(&plan.pv_name) => {
                retain.push(Write::Retain(pv));
            }
            Manifest::Volume(pv) => create.push(Write::CreatePv(pv)),
            Manifest::Claim(pvc) => create.push(Write::CreateClaim(pvc)),
        }
    }
    retain.extend(create);
    retain
}

impl Write<'_> {
    fn target(&self) -> ObjectRef {
        match self {
            Write::Retain(pv) | Write::CreatePv(pv) => {
                ObjectRef::pv(pv.metadata.name.as_deref().unwrap_or(""))
            }
            Write::CreateClaim(pvc) => ObjectRef {
                kind: "PersistentVolumeClaim".into(),
                namespace: pvc.metadata.namespace.clone(),
                name: pvc.metadata.name.clone().unwrap_or_default(),
            },
        }
    }

    fn action(&self) -> &'static str {
        match self {
            Write::Retain(_) => "set-retain",
            Write::CreatePv(_) | Write::CreateClaim(_) => "create",
        }
    }

    /// The request body: the merge patch, or the object created.
    fn body(&self) -> Value {
        match self {
            Write::Retain(_) => retain_patch(None),
            Write::CreatePv(pv) => serde_json::to_value(pv).unwrap_or(Value::Null),
            Write::CreateClaim(pvc) => serde_json::to_value(pvc).unwrap_or(Value::Null),
        }
    }
}

/// The merge patch that switches a PV to `Retain`; with a resource version, the
/// server refuses it when the PV changed since it was read.
fn retain_patch(resource_version: Option<&str>) -> Value {
    let mut patch = json!({
        "metadata": {"annotations": {ANN_ORIGINAL_POLICY: "Delete"}},
        "spec": {"persistentVolumeReclaimPolicy": "Retain"},
    });
    if let Some(rv) = resource_version {
        patch["metadata"]["resourceVersion"] = json!(rv);
    }
    patch
}

fn digest(writes: &[Value]) -> String {
    let canonical = serde_json::to_vec(writes).unwrap_or_default();
    Sha256::digest(&canonical)
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the object again, journals the change, makes it, and marks the entry.
async fn step(
    journal: &SqliteJournal,
    run: &RunId,
    seq: u32,
    write: &Write<'_>,
    target: &Target<'_>,
) -> anyhow::Result<()> {
    let object = write.target();
    let pvs: Api<PersistentVolume> = Api::all(target.client.clone());
    let (before, resource_version, patch) = match write {
        Write::Retain(pv) => {
            let name = pv.metadata.name.as_deref().unwrap_or("");
            let live = pvs
                .get_opt(name)
                .await
                .with_context(|| format!("cannot read {object}"))?
                .with_context(|| format!("{object} is gone since the cluster was read"))?;
            if live.metadata.uid != target.source_uid {
                anyhow::bail!("{object} was replaced since the cluster was read (another uid)");
            }
            let rv = live.metadata.resource_version.clone();
            (
                Some(trimmed(&live)),
                rv.clone(),
                retain_patch(rv.as_deref()),
            )
        }
        Write::CreatePv(pv) => {
            let name = pv.metadata.name.as_deref().unwrap_or("");
            if pvs.get_opt(name).await?.is_some() {
                anyhow::bail!("{object} appeared since the cluster was read");
            }
            (None, None, write.body())
        }
        Write::CreateClaim(pvc) => {
            let namespace = pvc.metadata.namespace.as_deref().unwrap_or("");
            let claims: Api<PersistentVolumeClaim> =
                Api::namespaced(target.client.clone(), namespace);
            let name = pvc.metadata.name.as_deref().unwrap_or("");
            if claims.get_opt(name).await?.is_some() {
                anyhow::bail!("{object} appeared since the cluster was read");
            }
            (None, None, write.body())
        }
    };
    let entry = Entry {
        run: run.clone(),
        seq,
        target: object.clone(),
        action: write.action().to_owned(),
        patch: Some(patch.clone()),
        before,
        resource_version,
        backend_id: None,
        state: EntryState::Planned,
        error: None,
        at: jiff::Timestamp::now(),
    };
    // The entry is durable before the request is sent.
    journal.record(&entry).await?;
    let sent = send(write, &patch, target.client).await;
    match &sent {
        Ok(()) => journal.mark(run, seq, EntryState::Applied, None).await?,
        Err(err) => {
            let text = format!("{err:#}");
            journal
                .mark(run, seq, EntryState::Failed, Some(&text))
                .await?;
        }
    }
    tracing::info!(run = %run, seq, target = %object, action = write.action(),
        ok = sent.is_ok(), "change made");
    sent.with_context(|| format!("cannot {} {object}", write.action()))
}

async fn send(write: &Write<'_>, patch: &Value, client: &Client) -> Result<(), kube::Error> {
    let post = PostParams::default();
    match write {
        Write::Retain(pv) => {
            let api: Api<PersistentVolume> = Api::all(client.clone());
            let name = pv.metadata.name.as_deref().unwrap_or("");
            api.patch(name, &PatchParams::default(), &Patch::Merge(patch))
                .await
                .map(drop)
        }
        Write::CreatePv(pv) => {
            let api: Api<PersistentVolume> = Api::all(client.clone());
            api.create(&post, pv).await.map(drop)
        }
        Write::CreateClaim(pvc) => {
            let namespace = pvc.metadata.namespace.as_deref().unwrap_or("");
            let api: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
            api.create(&post, pvc).await.map(drop)
        }
    }
}

/// The object as the journal keeps it: without `managedFields`.
fn trimmed(pv: &PersistentVolume) -> Value {
    let mut pv = pv.clone();
    pv.metadata.managed_fields = None;
    serde_json::to_value(&pv).unwrap_or(Value::Null)
}
