//! Carrying out a confirmed plan, and resuming one that was killed.
//!
//! For each target the run re-reads the PV, checks that it still is what the
//! plan expects, takes the PV's lease, and takes the steps in order. Every
//! step reads the object again just before it writes, and every write is a
//! JSON patch that tests the resource version read and the value it changes,
//! so a change made by anyone in between makes the write fail instead of
//! undoing it; the step then reads again and decides again, a few times at
//! most. Steps are idempotent: one whose effect is already there is skipped,
//! which is what makes a second `fix` and a resume safe.

use std::time::Duration;

use jiff::Timestamp;
use kube::Client;
use pvwarden_journal::{Journal, ObjectRef, Run, RunId, RunState};
use serde::Serialize;
use serde_json::{json, Value};

use pvwarden_domain::facts::PV_PROTECTION_FINALIZER;

use crate::client::{backoff, Request, Sent, Writer};
use crate::lease::{test_version, Lease, LEASE_ANNOTATION};
use crate::plan::{Action, Expect, Plan, Target};
use crate::Error;

/// Who runs a repair, where, and with which command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operator {
    /// The kubeconfig context's user, or the service account; never a token.
    pub name: String,
    /// The kubeconfig context.
    pub context: String,
    /// The command, e.g. `fix --all-stuck`.
    pub command: String,
}

/// Limits of a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// How long to wait for a PV to go after the step that lets it go.
    pub timeout: Duration,
    /// How often to look while waiting.
    pub poll: Duration,
    /// How many times a write is tried when the object changed or the server failed.
    pub attempts: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            timeout: Duration::from_secs(120),
            poll: Duration::from_millis(250),
            attempts: 6,
        }
    }
}

/// How a run went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The run.
    pub run: RunId,
    /// How it ended.
    pub state: RunState,
    /// Each target, in plan order; targets after a failure are not started.
    pub targets: Vec<TargetReport>,
}

/// How one target went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetReport {
    /// The PV.
    pub pv: String,
    /// Whether every step succeeded (or was already done).
    pub ok: bool,
    /// What happened, step by step.
    pub notes: Vec<String>,
}

/// Carries out `plan`, which the operator confirmed with `confirmed`.
///
/// # Errors
///
/// [`Error::DigestMismatch`] when `confirmed` is not the plan's digest (then
/// nothing is changed), and [`Error::Journal`] when the journal fails (then
/// the run stops before its next change). A step the cluster refuses is not
/// an error: the report and the journal say which, and the run is `failed`.
pub async fn apply<J: Journal>(
    client: &Client,
    journal: &J,
    plan: &Plan,
    confirmed: &str,
    operator: &Operator,
    settings: &Settings,
) -> Result<Report, Error> {
    let current = plan.digest();
    if confirmed != current {
        return Err(Error::DigestMismatch {
            confirmed: confirmed.to_owned(),
            current,
        });
    }
    let run = new_run(operator, current, serde_json::to_value(plan).ok());
    journal.begin(&run).await?;
    tracing::info!(run = %run.id, digest = %run.digest, changes = plan.changes(), "run started");
    let writer = Writer::new(client, journal, run.id.clone(), 0);
    Runner {
        writer,
        settings,
        holder: operator.name.clone(),
        resuming: false,
    }
    .run(plan)
    .await
}

/// Resumes a run that was killed half way, from its journal.
///
/// Entries left `planned` are settled first: `applied` when their effect is
/// in the cluster, `failed` when it is not. Then the plan is carried out
/// again; steps already done are skipped.
///
/// # Errors
///
/// As [`apply`], and [`Error::UnknownRun`] or [`Error::StoredPlan`] when the
/// journal has no such run or no plan for it.
pub async fn resume<J: Journal>(
    client: &Client,
    journal: &J,
    id: &RunId,
    settings: &Settings,
) -> Result<Report, Error> {
    let (run, entries) = journaled_run(journal, id).await?;
    if matches!(run.state, RunState::Done | RunState::Undone) {
        return Err(Error::NotResumable {
            run: run.id.to_string(),
            state: run.state.as_str(),
        });
    }
    let plan = stored_plan(&run)?;
    let seq = entries.iter().map(|e| e.seq).max().unwrap_or(0);
    let mut writer = Writer::new(client, journal, run.id.clone(), seq);
    crate::settle::planned(&mut writer, &entries).await?;
    journal.finish(&run.id, RunState::Open).await?;
    tracing::info!(run = %run.id, "run resumed");
    Runner {
        writer,
        settings,
        holder: run.operator.clone(),
        resuming: true,
    }
    .run(&plan)
    .await
}

/// A new open run of `operator`, starting now.
pub(crate) fn new_run(operator: &Operator, digest: String, plan: Option<Value>) -> Run {
    Run {
        id: RunId::new(Timestamp::now()),
        started: Timestamp::now(),
        operator: operator.name.clone(),
        context: operator.context.clone(),
        command: operator.command.clone(),
        digest,
        plan,
        state: RunState::Open,
    }
}

/// Reads a run and its entries, or says that the journal has no such run.
pub(crate) async fn journaled_run<J: Journal>(
    journal: &J,
    id: &RunId,
) -> Result<(Run, Vec<pvwarden_journal::Entry>), Error> {
    journal
        .run(id)
        .await?
        .ok_or_else(|| Error::UnknownRun(id.to_string()))
}

/// Reads the plan a run stored in the journal.
pub(crate) fn stored_plan(run: &Run) -> Result<Plan, Error> {
    let plan = run.plan.clone().ok_or_else(|| Error::StoredPlan {
        run: run.id.to_string(),
        source: None,
    })?;
    serde_json::from_value(plan).map_err(|source| Error::StoredPlan {
        run: run.id.to_string(),
        source: Some(source),
    })
}

/// What one step came to.
enum Outcome {
    Done(String),
    TimedOut(String),
    Failed(String),
}

struct Runner<'a, J> {
    writer: Writer<'a, J>,
    settings: &'a Settings,
    holder: String,
    resuming: bool,
}

impl<J: Journal> Runner<'_, J> {
    async fn run(mut self, plan: &Plan) -> Result<Report, Error> {
        let mut targets = Vec::new();
        let mut failed = false;
        for target in &plan.targets {
            let report = self.target(target).await?;
            failed = !report.ok;
            targets.push(report);
            if failed {
                break;
            }
        }
        let state = if failed {
            RunState::Failed
        } else {
            RunState::Done
        };
        let run = self.writer.run.clone();
        self.writer.journal.finish(&run, state).await?;
        tracing::info!(run = %run, state = state.as_str(), "run finished");
        Ok(Report {
            run,
            state,
            targets,
        })
    }

    async fn target(&mut self, target: &Target) -> Result<TargetReport, Error> {
        let mut notes = Vec::new();
        let ok = self.target_steps(target, &mut notes).await?;
        if let Some(note) = self.release_lease(&target.pv).await? {
            notes.push(note);
        }
        Ok(TargetReport {
            pv: target.pv.clone(),
            ok,
            notes,
        })
    }

    async fn target_steps(
        &mut self,
        target: &Target,
        notes: &mut Vec<String>,
    ) -> Result<bool, Error> {
        let current = match self.writer.read_pv(&target.pv).await {
            Ok(current) => current,
            Err(why) => {
                notes.push(format!("cannot read the PV: {why}"));
                return Ok(false);
            }
        };
        let Some(current) = current else {
            let goes = target
                .steps
                .iter()
                .any(|s| matches!(s.action, Action::AwaitGone | Action::DeletePv));
            notes.push("the PV is already gone".into());
            return Ok(goes);
        };
        if !self.resuming {
            if let Some(change) = mismatch(&target.expect, &current) {
                notes.push(format!("the cluster no longer matches the plan: {change}"));
                return Ok(false);
            }
        }
        match self.take_lease(&target.pv).await? {
            Outcome::Done(note) => notes.push(note),
            Outcome::TimedOut(why) | Outcome::Failed(why) => {
                notes.push(why);
                return Ok(false);
            }
        }

        for (i, step) in target.steps.iter().enumerate() {
            let outcome = self.step(target, &step.action).await?;
            match outcome {
                Outcome::Done(note) => notes.push(note),
                Outcome::TimedOut(note) => {
                    let fallback = target.steps[i + 1..]
                        .first()
                        .is_some_and(|s| matches!(s.action, Action::RemoveFinalizer { .. }));
                    notes.push(note);
                    if !fallback {
                        return Ok(false);
                    }
                }
                Outcome::Failed(note) => {
                    notes.push(note);
                    return Ok(false);
                }
            }
        }
        Ok(true)
    }

    async fn step(&mut self, target: &Target, action: &Action) -> Result<Outcome, Error> {
        let pv = target.pv.as_str();
        match action {
            Action::SetRetain { from } => self.set_retain(pv, from, target.orphans.clone()).await,
            Action::DeletePv => self.delete_pv(pv, target.orphans.clone()).await,
            Action::AwaitGone => Ok(self.await_gone(pv).await),
            Action::RemoveFinalizer { finalizer } => self.remove_finalizer(pv, finalizer).await,
            Action::ClearClaimUid { uid } => self.clear_claim_uid(pv, uid).await,
            Action::ReleaseAttachment { name, .. } => self.release_attachment(name).await,
        }
    }

    /// Reads, decides and writes, again after a conflict or a server failure.
    ///
    /// `decide` looks at the object as read: `Err` ends the step with that
    /// outcome; `Ok` is the action name, the patch and the request to send.
    async fn patch_loop(
        &mut self,
        target: &ObjectRef,
        backend_id: Option<String>,
        decide: impl Fn(Option<&Value>) -> Result<(&'static str, Value, Request), Outcome>,
    ) -> Result<Outcome, Error> {
        let mut last = String::new();
        for attempt in 1..=self.settings.attempts {
            let read = if target.kind == "VolumeAttachment" {
                self.writer.read_attachment(&target.name).await
            } else {
                self.writer.read_pv(&target.name).await
            };
            let current = match read {
                Ok(current) => current,
                Err(why) => {
                    last = why;
                    tokio::time::sleep(backoff(attempt)).await;
                    continue;
                }
            };
            let (action, body, request) = match decide(current.as_ref()) {
                Ok(write) => write,
                Err(outcome) => return Ok(outcome),
            };
            let before = current.unwrap_or(Value::Null);
            let sent = self
                .writer
                .write(
                    target.clone(),
                    action,
                    &before,
                    body,
                    backend_id.clone(),
                    request,
                )
                .await?;
            match sent {
                Sent::Done => return Ok(Outcome::Done(format!("{action}: done"))),
                Sent::Changed(why) => last = why,
                Sent::Transient(why) => {
                    last = why;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Sent::Refused(why) => return Ok(Outcome::Failed(format!("{action}: {why}"))),
            }
        }
        Ok(Outcome::Failed(format!(
            "{target}: gave up after {} attempts: {last}",
            self.settings.attempts
        )))
    }

    async fn set_retain(
        &mut self,
        pv: &str,
        from: &str,
        orphans: Option<String>,
    ) -> Result<Outcome, Error> {
        self.patch_loop(&ObjectRef::pv(pv), orphans, |current| {
            let current =
                current.ok_or_else(|| Outcome::Done("set-retain: the PV is gone".into()))?;
            let policy = current["spec"]["persistentVolumeReclaimPolicy"]
                .as_str()
                .unwrap_or("");
            if policy == "Retain" {
                return Err(Outcome::Done("set-retain: already Retain".into()));
            }
            if policy != from {
                return Err(Outcome::Failed(format!(
                    "set-retain: the policy is {policy}, the plan expected {from}"
                )));
            }
            let patch = json!([
                test_version(version(current)),
                {"op": "test", "path": "/spec/persistentVolumeReclaimPolicy", "value": from},
                {"op": "replace", "path": "/spec/persistentVolumeReclaimPolicy", "value": "Retain"},
            ]);
            Ok(("set-retain", patch, Request::PatchPv(pv.to_owned())))
        })
        .await
    }

    async fn delete_pv(&mut self, pv: &str, orphans: Option<String>) -> Result<Outcome, Error> {
        self.patch_loop(&ObjectRef::pv(pv), orphans, |current| {
            let current = current.ok_or_else(|| Outcome::Done("delete: the PV is gone".into()))?;
            if !current["metadata"]["deletionTimestamp"].is_null() {
                return Err(Outcome::Done(
                    "delete: a deletion is already under way".into(),
                ));
            }
            // The one invariant that keeps a repair from ever deleting storage:
            // a PV object is deleted only while its policy is Retain.
            let policy = current["spec"]["persistentVolumeReclaimPolicy"]
                .as_str()
                .unwrap_or("");
            if policy != "Retain" {
                return Err(Outcome::Failed(format!(
                    "delete: refused, the policy is {policy}: deleting would reach the storage"
                )));
            }
            let uid = current["metadata"]["uid"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let resource_version = version(current).to_owned();
            let body = json!({"preconditions": {"uid": uid, "resourceVersion": resource_version}});
            let request = Request::DeletePv {
                name: pv.to_owned(),
                uid,
                resource_version,
            };
            Ok(("delete", body, request))
        })
        .await
    }

    async fn remove_finalizer(&mut self, pv: &str, finalizer: &str) -> Result<Outcome, Error> {
        self.patch_loop(&ObjectRef::pv(pv), None, |current| {
            let current =
                current.ok_or_else(|| Outcome::Done("remove-finalizer: the PV is gone".into()))?;
            // Whatever plan is given (it may come from a journal or a file), pv-protection
            // is the claim's guard and is never removed by a repair.
            if finalizer == PV_PROTECTION_FINALIZER {
                return Err(Outcome::Failed(format!(
                    "remove-finalizer: refused, {PV_PROTECTION_FINALIZER} is never removed"
                )));
            }
            let Some(index) = finalizers(current).iter().position(|f| f == finalizer) else {
                return Err(Outcome::Done(format!(
                    "remove-finalizer: {finalizer} is no longer there"
                )));
            };
            Ok((
                "remove-finalizer",
                remove_finalizer_patch(current, index, finalizer),
                Request::PatchPv(pv.to_owned()),
            ))
        })
        .await
    }

    async fn clear_claim_uid(&mut self, pv: &str, uid: &str) -> Result<Outcome, Error> {
        self.patch_loop(&ObjectRef::pv(pv), None, |current| {
            let current =
                current.ok_or_else(|| Outcome::Failed("clear-claim-uid: the PV is gone".into()))?;
            let claim_ref = &current["spec"]["claimRef"];
            match claim_ref["uid"].as_str() {
                None => return Err(Outcome::Done("clear-claim-uid: already clear".into())),
                Some(have) if have != uid => {
                    return Err(Outcome::Done(format!(
                        "clear-claim-uid: a claim (uid {have}) is bound now; left alone"
                    )))
                }
                Some(_) => {}
            }
            let mut patch = vec![
                test_version(version(current)),
                json!({"op": "test", "path": "/spec/claimRef/uid", "value": uid}),
                json!({"op": "remove", "path": "/spec/claimRef/uid"}),
            ];
            // The claim's old resource version would only confuse the binder.
            if !claim_ref["resourceVersion"].is_null() {
                patch.push(json!({"op": "remove", "path": "/spec/claimRef/resourceVersion"}));
            }
            Ok((
                "clear-claim-uid",
                Value::Array(patch),
                Request::PatchPv(pv.to_owned()),
            ))
        })
        .await
    }

    async fn release_attachment(&mut self, name: &str) -> Result<Outcome, Error> {
        let target = ObjectRef {
            kind: "VolumeAttachment".into(),
            namespace: None,
            name: name.to_owned(),
        };
        self.patch_loop(&target, None, |current| {
            let current =
                current.ok_or_else(|| Outcome::Done("release-attachment: it is gone".into()))?;
            let found = finalizers(current)
                .iter()
                .position(|f| f.starts_with(pvwarden_domain::facts::ATTACHER_FINALIZER_PREFIX));
            let Some(index) = found else {
                return Err(Outcome::Done(
                    "release-attachment: no attacher finalizer".into(),
                ));
            };
            let finalizer = finalizers(current)[index].clone();
            Ok((
                "release-attachment",
                remove_finalizer_patch(current, index, &finalizer),
                Request::PatchAttachment(name.to_owned()),
            ))
        })
        .await
    }

    async fn await_gone(&mut self, pv: &str) -> Outcome {
        let deadline = tokio::time::Instant::now() + self.settings.timeout;
        loop {
            match self.writer.read_pv(pv).await {
                Ok(None) => return Outcome::Done("the PV is gone".into()),
                Ok(Some(_)) => {}
                Err(why) => tracing::debug!(name = pv, error = %why, "read while waiting failed"),
            }
            if tokio::time::Instant::now() >= deadline {
                return Outcome::TimedOut(format!(
                    "the PV was still there after {}s",
                    self.settings.timeout.as_secs()
                ));
            }
            tokio::time::sleep(self.settings.poll).await;
        }
    }

    async fn take_lease(&mut self, pv: &str) -> Result<Outcome, Error> {
        let lease = Lease {
            run: self.writer.run.to_string(),
            holder: self.holder.clone(),
            expires: lease_expiry(self.settings),
        };
        let run = self.writer.run.to_string();
        self.patch_loop(&ObjectRef::pv(pv), None, |current| {
            let current = current.ok_or_else(|| Outcome::Failed("the PV is gone".into()))?;
            if let Some(held) = Lease::of(current).filter(|l| l.blocks(&run, Timestamp::now())) {
                return Err(Outcome::Failed(format!(
                    "the PV is leased by run {} of {} until {}",
                    held.run, held.holder, held.expires
                )));
            }
            let patch = lease.take_patch(current, version(current));
            Ok(("take-lease", patch, Request::PatchPv(pv.to_owned())))
        })
        .await
    }

    async fn release_lease(&mut self, pv: &str) -> Result<Option<String>, Error> {
        let run = self.writer.run.to_string();
        let outcome = self
            .patch_loop(&ObjectRef::pv(pv), None, |current| {
                let ours = current.and_then(|c| {
                    let text = c["metadata"]["annotations"][LEASE_ANNOTATION].as_str()?;
                    Lease::of(c)
                        .filter(|l| l.run == run)
                        .map(|_| text.to_owned())
                });
                let (Some(current), Some(text)) = (current, ours) else {
                    return Err(Outcome::Done(String::new()));
                };
                let patch = Lease::release_patch(current, &text, version(current));
                Ok(("release-lease", patch, Request::PatchPv(pv.to_owned())))
            })
            .await?;
        Ok(match outcome {
            Outcome::Done(note) if note.is_empty() => None,
            Outcome::Done(note) | Outcome::TimedOut(note) | Outcome::Failed(note) => Some(note),
        })
    }
}

/// When a lease taken now ends: the longest a run may need for one PV.
fn lease_expiry(settings: &Settings) -> Timestamp {
    let span = settings.timeout.saturating_mul(3) + Duration::from_secs(60);
    let span = jiff::SignedDuration::try_from(span).unwrap_or(jiff::SignedDuration::MAX);
    Timestamp::now().checked_add(span).unwrap_or(Timestamp::MAX)
}

/// What differs between the plan's expectations and the PV, if anything.
fn mismatch(expect: &Expect, current: &Value) -> Option<String> {
    let now = Expect {
        policy: current["spec"]["persistentVolumeReclaimPolicy"]
            .as_str()
            .unwrap_or("Retain")
            .to_owned(),
        finalizers: finalizers(current),
        terminating: !current["metadata"]["deletionTimestamp"].is_null(),
        claim_uid: current["spec"]["claimRef"]["uid"]
            .as_str()
            .map(str::to_owned),
    };
    let sorted = |f: &[String]| {
        let mut f = f.to_vec();
        f.sort();
        f
    };
    if now.policy != expect.policy {
        return Some(format!("policy is {}, was {}", now.policy, expect.policy));
    }
    if sorted(&now.finalizers) != sorted(&expect.finalizers) {
        return Some(format!(
            "finalizers are {:?}, were {:?}",
            now.finalizers, expect.finalizers
        ));
    }
    if now.terminating != expect.terminating {
        return Some("its deletion state changed".into());
    }
    if now.claim_uid != expect.claim_uid {
        return Some("its claim reference changed".into());
    }
    None
}

pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .map(|f| {
            f.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn version(object: &Value) -> &str {
    object["metadata"]["resourceVersion"].as_str().unwrap_or("")
}

/// Removes exactly one finalizer: tests the resource version and the value at
/// the index, so a list that changed makes the patch fail instead of
/// removing another finalizer.
fn remove_finalizer_patch(current: &Value, index: usize, finalizer: &str) -> Value {
    let path = format!("/metadata/finalizers/{index}");
    json!([
        test_version(version(current)),
        {"op": "test", "path": path, "value": finalizer},
        {"op": "remove", "path": path},
    ])
}
