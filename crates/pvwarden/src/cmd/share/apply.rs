//! `--apply` of `share` and `unshare`: the changes made through the API, each
//! journaled before it is made.
//!
//! The orders are the ones that never leave the storage exposed. `share`
//! switches the source to `Retain` first, then creates the share PV, then its
//! claim. `unshare` switches the share to `Retain` (when it is not), then
//! deletes the claim, then the PV. Before every write the object is read
//! again: a PV or claim that appeared since the plan was made, or one that
//! changed (another uid, a new resource version between the read and the
//! write), stops the run there, and the journal says how far it got.

use std::path::PathBuf;

use anyhow::Context;
use k8s_openapi::api::core::v1::{Namespace, PersistentVolume, PersistentVolumeClaim};
use kube::api::{Api, DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::Client;
use pvwarden_generate::document::Manifest;
use pvwarden_generate::{Plan, ANN_ORIGINAL_POLICY};
use pvwarden_journal::{
    Entry, EntryState, Journal, ObjectRef, Run, RunId, RunState, SqliteJournal,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// Connects to the cluster of `cluster` and makes the writes, journaled in
/// `journal` (or the default file); returns the run's id and the journal path.
pub fn run(
    cluster: &crate::cli::ClusterArgs,
    journal: Option<PathBuf>,
    command: String,
    writes: &[Write<'_>],
) -> anyhow::Result<(RunId, PathBuf)> {
    crate::load::runtime()?.block_on(async {
        let cluster = pvwarden_kube::Cluster::connect(&cluster.options()).await?;
        let target = Target {
            journal,
            client: cluster.client(),
            context: cluster.context(),
            user: cluster.user(),
            command,
        };
        preflight(writes, target.client).await?;
        apply(writes, &target).await
    })
}

/// Who applies, and where.
struct Target<'a> {
    /// The journal file, if given.
    journal: Option<PathBuf>,
    /// The cluster's client.
    client: &'a Client,
    /// The kubeconfig context.
    context: &'a str,
    /// The kubeconfig context's user: the operator the journal records.
    user: &'a str,
    /// The command line, for the journal.
    command: String,
}

/// One write of a run.
pub enum Write<'a> {
    /// Switch a PV to `Retain`.
    Retain {
        /// The PV.
        name: String,
        /// Its uid when the plan was made.
        uid: Option<String>,
        /// Record `original-policy: Delete` on it (a shared source).
        remember: bool,
    },
    /// Create a PV.
    CreatePv(&'a PersistentVolume),
    /// Create a claim.
    CreateClaim(&'a PersistentVolumeClaim),
    /// Delete a claim.
    DeleteClaim {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// Its uid when the plan was made.
        uid: Option<String>,
    },
    /// Delete a PV that is on `Retain`.
    DeletePv {
        /// The PV.
        name: String,
        /// Its uid when the plan was made.
        uid: Option<String>,
    },
}

/// The writes of a share plan, in the order that keeps the storage safe.
pub fn share_writes(plan: &Plan, source_uid: Option<String>) -> Vec<Write<'_>> {
    let mut retain = Vec::new();
    let mut create = Vec::new();
    for document in &plan.documents {
        match &document.manifest {
            Manifest::Volume(pv) if pv.metadata.name.as_deref() != Some(&plan.pv_name) => {
                retain.push(Write::Retain {
                    name: pv.metadata.name.clone().unwrap_or_default(),
                    uid: source_uid.clone(),
                    remember: true,
                });
            }
            Manifest::Volume(pv) => create.push(Write::CreatePv(pv)),
            Manifest::Claim(pvc) => create.push(Write::CreateClaim(pvc)),
        }
    }
    retain.extend(create);
    retain
}

/// Checks, before anything is written, that every object to create has a free
/// name and a namespace that exists: a run that stops half way leaves objects
/// behind for the user to clean up.
async fn preflight(writes: &[Write<'_>], client: &Client) -> anyhow::Result<()> {
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let namespaces: Api<Namespace> = Api::all(client.clone());
    for write in writes {
        match write {
            Write::CreatePv(pv) => {
                let name = pv.metadata.name.as_deref().unwrap_or("");
                if pvs.get_opt(name).await.map_err(plain)?.is_some() {
                    anyhow::bail!("PV {name} already exists: nothing was written");
                }
            }
            Write::CreateClaim(pvc) => {
                let namespace = pvc.metadata.namespace.as_deref().unwrap_or("");
                let name = pvc.metadata.name.as_deref().unwrap_or("");
                if namespaces
                    .get_opt(namespace)
                    .await
                    .map_err(plain)?
                    .is_none()
                {
                    anyhow::bail!(
                        "namespace {namespace} (metadata.namespace of claim {name}) does not \
                         exist: nothing was written; create it first (`kubectl create \
                         namespace {namespace}`)"
                    );
                }
                let claims: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), namespace);
                if claims.get_opt(name).await.map_err(plain)?.is_some() {
                    anyhow::bail!("claim {namespace}/{name} already exists: nothing was written");
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// An API error as one plain sentence, without the server's whole status object.
fn plain(err: kube::Error) -> anyhow::Error {
    match err {
        kube::Error::Api(status) => anyhow::anyhow!(
            "the API server refused ({} {}): {}",
            status.code,
            status.reason,
            status.message
        ),
        other => anyhow::Error::new(other),
    }
}

/// Opens the journal and makes the writes in order; returns the run's id and the journal path.
async fn apply(writes: &[Write<'_>], target: &Target<'_>) -> anyhow::Result<(RunId, PathBuf)> {
    let path = target
        .journal
        .clone()
        .or_else(pvwarden_journal::default_path)
        .context("--apply needs a journal: give --journal FILE (or set XDG_STATE_HOME or HOME)")?;
    let journal = SqliteJournal::open(&path)?;
    let rendered: Vec<Value> = writes.iter().map(Write::body).collect();
    let now = jiff::Timestamp::now();
    let run = Run {
        id: RunId::new(now),
        started: now,
        operator: target.user.to_owned(),
        context: target.context.to_owned(),
        command: target.command.clone(),
        digest: digest(&rendered),
        plan: Some(Value::Array(rendered)),
        state: RunState::Open,
    };
    journal.begin(&run).await?;
    tracing::info!(run = %run.id, journal = %path.display(), "run started");
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

impl Write<'_> {
    fn target(&self) -> ObjectRef {
        match self {
            Write::Retain { name, .. } | Write::DeletePv { name, .. } => ObjectRef::pv(name),
            Write::CreatePv(pv) => ObjectRef::pv(pv.metadata.name.as_deref().unwrap_or("")),
            Write::CreateClaim(pvc) => claim_ref(
                pvc.metadata.namespace.as_deref().unwrap_or(""),
                pvc.metadata.name.as_deref().unwrap_or(""),
            ),
            Write::DeleteClaim {
                namespace, name, ..
            } => claim_ref(namespace, name),
        }
    }

    fn action(&self) -> &'static str {
        match self {
            Write::Retain { .. } => "set-retain",
            Write::CreatePv(_) | Write::CreateClaim(_) => "create",
            Write::DeleteClaim { .. } | Write::DeletePv { .. } => "delete",
        }
    }

    /// The request body: the merge patch, the object created, or the delete options.
    fn body(&self) -> Value {
        match self {
            Write::Retain { remember, .. } => retain_patch(*remember, None),
            Write::CreatePv(pv) => serde_json::to_value(pv).unwrap_or(Value::Null),
            Write::CreateClaim(pvc) => serde_json::to_value(pvc).unwrap_or(Value::Null),
            Write::DeleteClaim { uid, .. } | Write::DeletePv { uid, .. } => {
                json!({"preconditions": {"uid": uid}})
            }
        }
    }
}

fn claim_ref(namespace: &str, name: &str) -> ObjectRef {
    ObjectRef {
        kind: "PersistentVolumeClaim".into(),
        namespace: Some(namespace.to_owned()),
        name: name.to_owned(),
    }
}

/// The merge patch that switches a PV to `Retain`; with a resource version, the
/// server refuses it when the PV changed since it was read.
fn retain_patch(remember: bool, resource_version: Option<&str>) -> Value {
    let mut patch = json!({"spec": {"persistentVolumeReclaimPolicy": "Retain"}});
    if remember {
        patch["metadata"] = json!({"annotations": {ANN_ORIGINAL_POLICY: "Delete"}});
    }
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
    let gone = || format!("{object} is gone since the cluster was read");
    let replaced = || format!("{object} was replaced since the cluster was read (another uid)");
    let pvs: Api<PersistentVolume> = Api::all(target.client.clone());
    let (before, resource_version, patch) = match write {
        Write::Retain {
            name,
            uid,
            remember,
        } => {
            let live = pvs.get_opt(name).await.map_err(plain)?.with_context(gone)?;
            anyhow::ensure!(live.metadata.uid == *uid, replaced());
            let rv = live.metadata.resource_version.clone();
            let patch = retain_patch(*remember, rv.as_deref());
            (Some(trimmed(&live)), rv, patch)
        }
        Write::CreatePv(pv) => {
            let name = pv.metadata.name.as_deref().unwrap_or("");
            if pvs.get_opt(name).await.map_err(plain)?.is_some() {
                anyhow::bail!("{object} appeared since the cluster was read");
            }
            (None, None, write.body())
        }
        Write::CreateClaim(pvc) => {
            let namespace = pvc.metadata.namespace.as_deref().unwrap_or("");
            let claims: Api<PersistentVolumeClaim> =
                Api::namespaced(target.client.clone(), namespace);
            let name = pvc.metadata.name.as_deref().unwrap_or("");
            if claims.get_opt(name).await.map_err(plain)?.is_some() {
                anyhow::bail!("{object} appeared since the cluster was read");
            }
            (None, None, write.body())
        }
        Write::DeleteClaim {
            namespace,
            name,
            uid,
        } => {
            let claims: Api<PersistentVolumeClaim> =
                Api::namespaced(target.client.clone(), namespace);
            let mut live = claims
                .get_opt(name)
                .await
                .map_err(plain)?
                .with_context(gone)?;
            anyhow::ensure!(live.metadata.uid == *uid, replaced());
            live.metadata.managed_fields = None;
            let rv = live.metadata.resource_version.clone();
            let before = serde_json::to_value(&live).ok();
            (before, rv, write.body())
        }
        Write::DeletePv { name, uid } => {
            let live = pvs.get_opt(name).await.map_err(plain)?.with_context(gone)?;
            anyhow::ensure!(live.metadata.uid == *uid, replaced());
            // Deleting a released PV on Delete would make the provisioner delete its
            // storage: the policy is read again, right before the delete.
            let policy = live
                .spec
                .as_ref()
                .and_then(|s| s.persistent_volume_reclaim_policy.as_deref());
            anyhow::ensure!(
                policy == Some("Retain"),
                "{object} is no longer on Retain ({policy:?}): not deleting it"
            );
            let rv = live.metadata.resource_version.clone();
            (Some(trimmed(&live)), rv, write.body())
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
    let sent = send(write, &patch, target.client).await.map_err(plain);
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
    let pvs: Api<PersistentVolume> = Api::all(client.clone());
    let claims = |namespace: &str| -> Api<PersistentVolumeClaim> {
        Api::namespaced(client.clone(), namespace)
    };
    match write {
        Write::Retain { name, .. } => pvs
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map(drop),
        Write::CreatePv(pv) => pvs.create(&post, pv).await.map(drop),
        Write::CreateClaim(pvc) => {
            let namespace = pvc.metadata.namespace.as_deref().unwrap_or("");
            claims(namespace).create(&post, pvc).await.map(drop)
        }
        Write::DeleteClaim {
            namespace,
            name,
            uid,
        } => claims(namespace)
            .delete(name, &delete_params(uid))
            .await
            .map(drop),
        Write::DeletePv { name, uid } => pvs.delete(name, &delete_params(uid)).await.map(drop),
    }
}

/// Delete options that refuse to delete another object of the same name.
fn delete_params(uid: &Option<String>) -> DeleteParams {
    let mut params = DeleteParams::default();
    if let Some(uid) = uid {
        params = params.preconditions(Preconditions {
            uid: Some(uid.clone()),
            resource_version: None,
        });
    }
    params
}

/// The object as the journal keeps it: without `managedFields`.
fn trimmed(pv: &PersistentVolume) -> Value {
    let mut pv = pv.clone();
    pv.metadata.managed_fields = None;
    serde_json::to_value(&pv).unwrap_or(Value::Null)
}
