//! Taking a run back.
//!
//! `undo` walks a run's changes from the last to the first and restores, on
//! objects that still exist, what each change took away: the reclaim policy,
//! a finalizer, a claim uid. PV objects the run deleted are re-created from
//! their journaled copy only when asked, with `Retain`, and how their claim
//! binding will go is explained, not guessed; claims likewise. Objects a run
//! created (a share's claim and PV) are removed only while they are unchanged
//! and removing them loses nothing, claim first; and a PV gets `Delete` back
//! only when no other live PV shares its storage. What is not taken back is
//! said, with the reason, and the undo then ends `failed`. The undo is a run of
//! its own in the journal, and every change it makes is journaled first.

use std::collections::BTreeSet;

use kube::Client;
use pvwarden_journal::{Entry, EntryState, Journal, ObjectRef, RunId, RunState};
use serde::Serialize;
use serde_json::{json, Value};

use crate::client::{backoff, Request, Sent, Writer};
use crate::execute::{finalizers, journaled_run, new_run, version, Operator, Settings};
use crate::lease::{test_version, Lease, LEASE_ANNOTATION};
use crate::settle::visible;
use crate::sharing::sharers;
use crate::Error;

/// The kind name journals give claims.
const CLAIM: &str = "PersistentVolumeClaim";

/// How many times a removal is tried again after the object changed under it.
const CONFLICT_ATTEMPTS: usize = 5;

/// What `undo` may do beyond restoring fields.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UndoOptions {
    /// Re-create PV objects the run deleted, from the journal.
    pub recreate_deleted: bool,
}

/// How an undo went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UndoReport {
    /// The undo's own run.
    pub run: RunId,
    /// The run taken back.
    pub of: RunId,
    /// How the undo ended.
    pub state: RunState,
    /// What was restored, and what was not and why.
    pub notes: Vec<String>,
}

/// Takes back what run `id` changed.
///
/// # Errors
///
/// [`Error::UnknownRun`] when the journal has no such run, and
/// [`Error::Journal`] when the journal fails.
pub async fn undo<J: Journal>(
    client: &Client,
    journal: &J,
    id: &RunId,
    options: UndoOptions,
    operator: &Operator,
    settings: &Settings,
) -> Result<UndoReport, Error> {
    let (original, entries) = journaled_run(journal, id).await?;
    let run = new_run(operator, original.digest.clone(), None);
    journal.begin(&run).await?;
    tracing::info!(run = %run.id, of = %original.id, "undo started");

    let mut undo = Undo {
        writer: Writer::new(client, journal, run.id.clone(), 0),
        settings,
        options,
        recreated: BTreeSet::new(),
        notes: Vec::new(),
        ok: true,
    };
    let mut undone = Vec::new();
    for entry in entries.iter().rev() {
        if undo.undo_entry(entry).await? {
            undone.push(entry.seq);
        }
    }
    for seq in undone {
        journal
            .mark(&original.id, seq, EntryState::Undone, None)
            .await?;
    }
    let state = if undo.ok {
        RunState::Done
    } else {
        RunState::Failed
    };
    journal.finish(&run.id, state).await?;
    if undo.ok {
        journal.finish(&original.id, RunState::Undone).await?;
    }
    Ok(UndoReport {
        run: run.id,
        of: original.id,
        state,
        notes: undo.notes,
    })
}

struct Undo<'a, J> {
    writer: Writer<'a, J>,
    settings: &'a Settings,
    options: UndoOptions,
    recreated: BTreeSet<String>,
    notes: Vec<String>,
    ok: bool,
}

impl<J: Journal> Undo<'_, J> {
    /// Undoes one entry; true when it is taken back (or had nothing to take back).
    async fn undo_entry(&mut self, entry: &Entry) -> Result<bool, Error> {
        let current = match self.read(&entry.target).await {
            Ok(current) => current,
            Err(why) => {
                self.fail(format!("{}: cannot read: {why}", entry.target));
                return Ok(false);
            }
        };
        let made = match entry.state {
            EntryState::Applied => true,
            // A create cut short may or may not have reached the server: what exists
            // is checked against the journaled object before anything is removed.
            EntryState::Planned if entry.action == "create" => current.is_some(),
            EntryState::Planned => visible(entry, current.as_ref()).unwrap_or(false),
            EntryState::Failed => {
                self.notes.push(format!(
                    "{}: change {} ({}) was not made: nothing to take back",
                    entry.target, entry.seq, entry.action
                ));
                return Ok(false);
            }
            EntryState::Undone => false,
        };
        if !made {
            return Ok(false);
        }
        let claim = entry.target.kind == CLAIM;
        let name = entry.target.name.clone();
        let before = entry.before.clone().unwrap_or(Value::Null);
        match entry.action.as_str() {
            "set-retain" => self.restore_policy(&name, &before, current.as_ref()).await,
            "remove-finalizer" => self.restore_finalizer(entry, current.as_ref()).await,
            "clear-claim-uid" => {
                self.restore_claim_uid(&name, &before, current.as_ref())
                    .await
            }
            "delete" if claim => self.recreate_claim(entry, &before, current.as_ref()).await,
            "delete" => self.recreate(&name, &before, current.as_ref()).await,
            "create" => self.remove_created(entry, current.as_ref()).await,
            "take-lease" => self.drop_lease(entry, current.as_ref()).await,
            // The run's own lease, given back: there is nothing of the object's to restore.
            "release-lease" => Ok(true),
            "release-attachment" => {
                self.notes.push(format!(
                    "{}: its attacher finalizer is not put back: the node it named is gone",
                    entry.target
                ));
                Ok(true)
            }
            // `pvwarden ceph clean` journals storage removals in the same journal; removed
            // storage cannot be put back, so such a run is never reported undone.
            "remove-subvolume" | "move-image-to-trash" | "purge-image" | "remove-journal-entry" => {
                self.fail(format!(
                    "{}: removed storage cannot be brought back by undo (an image moved to the \
                     RBD trash can be restored with `rbd trash restore`)",
                    entry.target
                ));
                Ok(false)
            }
            other => {
                self.fail(format!(
                    "{}: change {} ({other}) is not one undo knows how to take back; it is \
                     left as it is",
                    entry.target, entry.seq
                ));
                Ok(false)
            }
        }
    }

    async fn read(&self, target: &ObjectRef) -> Result<Option<Value>, String> {
        if target.kind == "VolumeAttachment" {
            self.writer.read_attachment(&target.name).await
        } else if target.kind == CLAIM {
            let namespace = target.namespace.as_deref().unwrap_or_default();
            self.writer.read_claim(namespace, &target.name).await
        } else {
            self.writer.read_pv(&target.name).await
        }
    }

    fn fail(&mut self, note: String) {
        self.ok = false;
        self.notes.push(note);
    }

    async fn restore_policy(
        &mut self,
        pv: &str,
        before: &Value,
        current: Option<&Value>,
    ) -> Result<bool, Error> {
        let Some(current) = current else {
            self.notes
                .push(format!("PV {pv} is gone: there is no policy to restore"));
            return Ok(true);
        };
        let was = before["spec"]["persistentVolumeReclaimPolicy"]
            .as_str()
            .unwrap_or("Delete");
        if self.recreated.contains(pv) {
            self.notes.push(format!(
                "PV {pv} was re-created and stays Retain: with {was} its storage would be \
                 deleted once it is Released"
            ));
            return Ok(true);
        }
        if was == "Delete" {
            let pvs = match self.writer.list_pvs().await {
                Ok(pvs) => pvs,
                Err(why) => {
                    self.fail(format!(
                        "PV {pv} stays Retain: cannot list the PVs that may share its \
                         storage: {why}"
                    ));
                    return Ok(false);
                }
            };
            let sharers = sharers(&pvs, pv);
            if !sharers.is_empty() {
                let names: Vec<&str> = sharers.iter().map(String::as_str).collect();
                self.fail(format!(
                    "PV {pv} stays Retain: PV {} shares its storage, and with Delete, deleting \
                     its claim would destroy the data the other PV still serves; remove the \
                     other PV first (`pvwarden unshare {}` when pvwarden made it as a share), \
                     then set the policy by hand",
                    names.join(", PV "),
                    names.join(" ")
                ));
                return Ok(false);
            }
        }
        let phase = current["status"]["phase"].as_str().unwrap_or("");
        if was == "Delete" && matches!(phase, "Released" | "Failed") {
            self.notes.push(format!(
                "PV {pv} stays Retain: it is {phase}, and with Delete its storage would be \
                 deleted; set the policy by hand if that is what you want"
            ));
            return Ok(false);
        }
        let patch = |current: &Value| {
            json!([
                test_version(version(current)),
                {"op": "test", "path": "/spec/persistentVolumeReclaimPolicy", "value": "Retain"},
                {"op": "replace", "path": "/spec/persistentVolumeReclaimPolicy", "value": was},
            ])
        };
        let mut current = current.clone();
        self.write_loop(pv, "restore-policy", &mut current, |c| {
            (c["spec"]["persistentVolumeReclaimPolicy"] == "Retain").then(|| patch(c))
        })
        .await
        .map(|ok| self.noted(ok, format!("PV {pv}: policy {was} restored")))
    }

    async fn restore_finalizer(
        &mut self,
        entry: &Entry,
        current: Option<&Value>,
    ) -> Result<bool, Error> {
        let pv = entry.target.name.clone();
        let finalizer = entry
            .patch
            .as_ref()
            .and_then(|p| p[1]["value"].as_str())
            .unwrap_or_default()
            .to_owned();
        let Some(current) = current else {
            self.notes.push(format!(
                "PV {pv} is gone: finalizer {finalizer} not restored"
            ));
            return Ok(true);
        };
        let mut current = current.clone();
        let write = self
            .write_loop(&pv, "restore-finalizer", &mut current, |c| {
                let has = finalizers(c).contains(&finalizer);
                (!has).then(|| {
                    let add = if c["metadata"]["finalizers"].is_array() {
                        json!({"op": "add", "path": "/metadata/finalizers/-", "value": finalizer})
                    } else {
                        json!({"op": "add", "path": "/metadata/finalizers", "value": [finalizer]})
                    };
                    json!([test_version(version(c)), add])
                })
            })
            .await?;
        Ok(self.noted(write, format!("PV {pv}: finalizer {finalizer} restored")))
    }

    async fn restore_claim_uid(
        &mut self,
        pv: &str,
        before: &Value,
        current: Option<&Value>,
    ) -> Result<bool, Error> {
        let uid = before["spec"]["claimRef"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(current) = current else {
            self.notes
                .push(format!("PV {pv} is gone: claim uid not restored"));
            return Ok(true);
        };
        let claim = &current["spec"]["claimRef"];
        if let Some(now) = claim["uid"].as_str().filter(|now| *now != uid) {
            self.notes.push(format!(
                "PV {pv} is bound to claim {}/{} (uid {now}) now; the old uid {uid} is not \
                 put back, which would unbind it",
                claim["namespace"].as_str().unwrap_or(""),
                claim["name"].as_str().unwrap_or("")
            ));
            return Ok(true);
        }
        let mut current = current.clone();
        let write = self
            .write_loop(pv, "restore-claim-uid", &mut current, |c| {
                let claim = &c["spec"]["claimRef"];
                (claim.is_object() && claim["uid"].is_null()).then(|| {
                    json!([
                        test_version(version(c)),
                        {"op": "add", "path": "/spec/claimRef/uid", "value": uid},
                    ])
                })
            })
            .await?;
        Ok(self.noted(write, format!("PV {pv}: claim uid {uid} restored")))
    }

    async fn recreate(
        &mut self,
        pv: &str,
        before: &Value,
        current: Option<&Value>,
    ) -> Result<bool, Error> {
        if current.is_some() {
            self.notes
                .push(format!("PV {pv} still exists: nothing to re-create"));
            return Ok(true);
        }
        if !self.options.recreate_deleted {
            self.notes.push(format!(
                "PV {pv} was deleted; `undo --recreate-deleted` re-creates it from the journal"
            ));
            return Ok(false);
        }
        let object = fresh_copy(before);
        let sent = self
            .writer
            .write(
                ObjectRef::pv(pv),
                "restore-pv",
                before,
                object,
                None,
                Request::CreatePv,
            )
            .await?;
        if let Sent::Done = sent {
            self.recreated.insert(pv.to_owned());
            let claim = &before["spec"]["claimRef"];
            let binding = if claim.is_object() {
                format!(
                    "its claimRef names {}/{} (uid {}): if that claim is gone the PV becomes \
                     Released, and `pvwarden fix {}/{} --rebind` lets a new claim of that name \
                     bind to it",
                    claim["namespace"].as_str().unwrap_or(""),
                    claim["name"].as_str().unwrap_or(""),
                    claim["uid"].as_str().unwrap_or("none"),
                    claim["namespace"].as_str().unwrap_or(""),
                    claim["name"].as_str().unwrap_or("")
                )
            } else {
                "it names no claim, so it becomes Available".to_owned()
            };
            self.notes
                .push(format!("PV {pv} re-created with Retain; {binding}"));
            return Ok(true);
        }
        self.fail(format!("PV {pv}: re-creating failed: {sent:?}"));
        Ok(false)
    }

    /// Removes an object the run created, when it is still the one created and
    /// removing it loses nothing: a claim no pod mounts, bound to a PV on
    /// `Retain`; then a PV on `Retain` that no claim uses. Storage is never
    /// touched: a PV on `Retain` leaves its volume where it is.
    async fn remove_created(
        &mut self,
        entry: &Entry,
        current: Option<&Value>,
    ) -> Result<bool, Error> {
        // Removing a share's claim makes the PV controller update the PV (it goes
        // Released) while undo goes on: a conflict then means "read it again and
        // check again", not failure. Each attempt re-checks everything.
        let mut current = current.cloned();
        for _ in 0..CONFLICT_ATTEMPTS {
            match self.remove_created_once(entry, current.as_ref()).await? {
                Some(done) => return Ok(done),
                None => match self.read(&entry.target).await {
                    Ok(read) => current = read,
                    Err(error) => {
                        self.fail(format!(
                            "{}: reading it again failed: {error}",
                            entry.target
                        ));
                        return Ok(false);
                    }
                },
            }
        }
        self.fail(format!(
            "{}: removing it failed: it kept changing ({CONFLICT_ATTEMPTS} attempts)",
            entry.target
        ));
        Ok(false)
    }

    /// One attempt of [`Undo::remove_created`]; `None` when the object changed
    /// between the read and the write.
    async fn remove_created_once(
        &mut self,
        entry: &Entry,
        current: Option<&Value>,
    ) -> Result<Option<bool>, Error> {
        let target = &entry.target;
        let Some(current) = current else {
            self.notes
                .push(format!("{target} is gone already: nothing to remove"));
            return Ok(Some(true));
        };
        let made = entry.patch.clone().unwrap_or(Value::Null);
        let namespace = target.namespace.clone().unwrap_or_default();
        let uid = current["metadata"]["uid"].as_str().unwrap_or("").to_owned();
        let request = if target.kind == CLAIM {
            if let Err(why) = self.claim_removable(&made, current, &namespace).await {
                self.fail(format!("{target} is not removed: {why}"));
                return Ok(Some(false));
            }
            Request::DeleteClaim {
                namespace,
                name: target.name.clone(),
                uid: uid.clone(),
            }
        } else {
            if let Err(why) = self.pv_removable(&made, current).await {
                self.fail(format!("{target} is not removed: {why}"));
                return Ok(Some(false));
            }
            Request::DeletePv {
                name: target.name.clone(),
                uid: uid.clone(),
                resource_version: version(current).to_owned(),
            }
        };
        let body = json!({"preconditions": {"uid": uid}});
        let sent = self
            .writer
            .write(
                target.clone(),
                "remove-created",
                current,
                body,
                None,
                request,
            )
            .await?;
        match sent {
            Sent::Done => {}
            Sent::Changed(_) => return Ok(None),
            other => {
                self.fail(format!("{target}: removing it failed: {other:?}"));
                return Ok(Some(false));
            }
        }
        // The next change taken back may depend on this object being gone (a
        // source's policy is restored only when nothing shares its storage).
        if !self.wait_gone(target).await {
            return Ok(Some(false));
        }
        let kept = if target.kind == CLAIM {
            ""
        } else {
            " (it was on Retain: its storage stays)"
        };
        self.notes.push(format!("{target} removed{kept}"));
        Ok(Some(true))
    }

    /// Why the created claim must stay, if it must.
    async fn claim_removable(
        &self,
        made: &Value,
        current: &Value,
        namespace: &str,
    ) -> Result<(), String> {
        let volume = current["spec"]["volumeName"].as_str().unwrap_or("");
        if volume != made["spec"]["volumeName"].as_str().unwrap_or("") {
            return Err(format!(
                "it asks for PV {volume:?} now, not the PV it was created for; it was \
                 changed since"
            ));
        }
        let name = current["metadata"]["name"].as_str().unwrap_or("");
        let pods = self.writer.pods_using(namespace, name).await?;
        if !pods.is_empty() {
            return Err(format!(
                "pod {} mounts it; stop the pod, then run undo again",
                pods.join(", pod ")
            ));
        }
        if let Some(pv) = self.writer.read_pv(volume).await? {
            let policy = pv["spec"]["persistentVolumeReclaimPolicy"]
                .as_str()
                .unwrap_or("");
            if policy != "Retain" {
                return Err(format!(
                    "its PV {volume} is on {policy}: deleting the claim would delete the \
                     storage"
                ));
            }
        }
        Ok(())
    }

    /// Why the created PV must stay, if it must.
    async fn pv_removable(&self, made: &Value, current: &Value) -> Result<(), String> {
        let csi = |pv: &Value| {
            (
                pv["spec"]["csi"]["driver"].clone(),
                pv["spec"]["csi"]["volumeHandle"].clone(),
            )
        };
        if csi(made) != csi(current) {
            return Err("its CSI driver or volume handle changed since it was created".into());
        }
        let policy = current["spec"]["persistentVolumeReclaimPolicy"]
            .as_str()
            .unwrap_or("");
        if policy != "Retain" {
            return Err(format!(
                "it is on {policy} now: deleting it would delete the storage it shares"
            ));
        }
        let claim = &current["spec"]["claimRef"];
        if let (Some(namespace), Some(name)) = (claim["namespace"].as_str(), claim["name"].as_str())
        {
            let live = self.writer.read_claim(namespace, name).await?;
            let uid = claim["uid"].as_str();
            if live.is_some_and(|c| uid.is_none() || c["metadata"]["uid"].as_str() == uid) {
                return Err(format!("claim {namespace}/{name} still uses it"));
            }
        }
        Ok(())
    }

    /// Waits, up to the settings' timeout, until `target` is gone.
    async fn wait_gone(&mut self, target: &ObjectRef) -> bool {
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        loop {
            match self.read(target).await {
                Ok(None) => return true,
                Ok(Some(_)) | Err(_) if tokio::time::Instant::now() >= deadline => {
                    self.fail(format!(
                        "{target} is being deleted but is still there after {}s; run undo \
                         again once it is gone",
                        self.settings.timeout.as_secs()
                    ));
                    return false;
                }
                Ok(Some(_)) | Err(_) => tokio::time::sleep(self.settings.poll).await,
            }
        }
    }

    /// Re-creates a claim the run deleted, from its journaled copy, unbound:
    /// the control plane binds it again only when its PV names no other claim.
    async fn recreate_claim(
        &mut self,
        entry: &Entry,
        before: &Value,
        current: Option<&Value>,
    ) -> Result<bool, Error> {
        let target = &entry.target;
        if current.is_some() {
            self.notes
                .push(format!("{target} still exists: nothing to re-create"));
            return Ok(true);
        }
        if !self.options.recreate_deleted {
            self.notes.push(format!(
                "{target} was deleted; `undo --recreate-deleted` re-creates it from the journal"
            ));
            return Ok(false);
        }
        let Some(namespace) = before["metadata"]["namespace"].as_str() else {
            self.fail(format!("{target}: the journaled copy names no namespace"));
            return Ok(false);
        };
        let mut object = fresh_copy(before);
        // Without these the control plane treats the claim as never bound, and binds
        // it to the PV it names only when that PV is free for it.
        if let Some(annotations) = object["metadata"]["annotations"].as_object_mut() {
            annotations.remove("pv.kubernetes.io/bind-completed");
            annotations.remove("pv.kubernetes.io/bound-by-controller");
        }
        let request = Request::CreateClaim(namespace.to_owned());
        let sent = self
            .writer
            .write(
                target.clone(),
                "restore-claim",
                before,
                object,
                None,
                request,
            )
            .await?;
        if !matches!(sent, Sent::Done) {
            self.fail(format!("{target}: re-creating it failed: {sent:?}"));
            return Ok(false);
        }
        let volume = before["spec"]["volumeName"].as_str().unwrap_or("");
        let binding = if volume.is_empty() {
            "it names no PV, so a provisioner or a free PV serves it".to_owned()
        } else {
            format!(
                "it asks for PV {volume}, and binds once that PV exists and its claimRef names \
                 no other claim uid; a PV re-created from the journal still names the old \
                 uid: `pvwarden fix {namespace}/{name} --rebind` clears it",
                name = target.name
            )
        };
        self.notes.push(format!(
            "{target} re-created (a new object, new uid); {binding}"
        ));
        Ok(true)
    }

    async fn drop_lease(&mut self, entry: &Entry, current: Option<&Value>) -> Result<bool, Error> {
        let Some(current) = current else {
            return Ok(true);
        };
        let run = entry.run.to_string();
        let mut current = current.clone();
        let write = self
            .write_loop(&entry.target.name, "release-lease", &mut current, |c| {
                let text = c["metadata"]["annotations"][LEASE_ANNOTATION].as_str()?;
                Lease::of(c)
                    .filter(|l| l.run == run)
                    .map(|_| Lease::release_patch(c, text, version(c)))
            })
            .await?;
        Ok(write)
    }

    fn noted(&mut self, ok: bool, note: String) -> bool {
        if ok {
            self.notes.push(note);
        }
        ok
    }

    /// Writes the patch `decide` makes from the PV as read, again after a
    /// conflict; `decide` returns `None` when there is nothing to restore.
    async fn write_loop(
        &mut self,
        pv: &str,
        action: &str,
        current: &mut Value,
        decide: impl Fn(&Value) -> Option<Value>,
    ) -> Result<bool, Error> {
        let mut last = String::new();
        for attempt in 1..=self.settings.attempts {
            let Some(patch) = decide(current) else {
                return Ok(true);
            };
            let sent = self
                .writer
                .write(
                    ObjectRef::pv(pv),
                    action,
                    current,
                    patch,
                    None,
                    Request::PatchPv(pv.to_owned()),
                )
                .await?;
            match sent {
                Sent::Done => return Ok(true),
                Sent::Refused(why) => {
                    self.fail(format!("PV {pv}: {action} refused: {why}"));
                    return Ok(false);
                }
                Sent::Changed(why) | Sent::Transient(why) => {
                    last = why;
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
            match self.writer.read_pv(pv).await {
                Ok(Some(fresh)) => *current = fresh,
                Ok(None) => {
                    self.notes
                        .push(format!("PV {pv} went away during {action}"));
                    return Ok(true);
                }
                Err(why) => last = why,
            }
        }
        self.fail(format!("PV {pv}: {action} gave up: {last}"));
        Ok(false)
    }
}

/// The journaled PV as a new object: without uid, resource version, deletion
/// state, status, or a lease.
fn fresh_copy(before: &Value) -> Value {
    let mut object = before.clone();
    if let Some(meta) = object["metadata"].as_object_mut() {
        for field in [
            "uid",
            "resourceVersion",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "managedFields",
            "selfLink",
        ] {
            meta.remove(field);
        }
        if let Some(annotations) = meta.get_mut("annotations").and_then(Value::as_object_mut) {
            annotations.remove(LEASE_ANNOTATION);
        }
    }
    if let Some(object) = object.as_object_mut() {
        object.remove("status");
    }
    object
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recreated_pv_carries_no_server_state() {
        let before = json!({
            "metadata": {
                "name": "pv-1", "uid": "u", "resourceVersion": "9",
                "deletionTimestamp": "2026-01-01T00:00:00Z", "deletionGracePeriodSeconds": 0,
                "finalizers": ["kubernetes.io/pv-protection"],
                "annotations": {"a": "b", LEASE_ANNOTATION: "{}"}
            },
            "spec": {"persistentVolumeReclaimPolicy": "Retain"},
            "status": {"phase": "Released"}
        });
        let copy = fresh_copy(&before);
        assert_eq!(
            copy,
            json!({
                "metadata": {
                    "name": "pv-1",
                    "finalizers": ["kubernetes.io/pv-protection"],
                    "annotations": {"a": "b"}
                },
                "spec": {"persistentVolumeReclaimPolicy": "Retain"}
            })
        );
    }
}
