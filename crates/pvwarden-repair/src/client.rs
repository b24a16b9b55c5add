//! The few API calls a repair makes, with every write journaled first.
//!
//! [`Writer::write`] is the only way a repair changes the cluster: it records
//! the entry (state `planned`, with the object as read, the request body and
//! the resource version), sends the request, and marks the entry `applied` or
//! `failed`. A journal failure stops everything before the request is sent.

use std::time::Duration;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim, Pod};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, Preconditions};
use kube::{Api, Client};
use pvwarden_journal::{Entry, EntryState, Journal, ObjectRef, RunId};
use serde_json::Value;

use crate::Error;

/// A request a step sends.
#[derive(Debug, Clone)]
pub(crate) enum Request {
    /// A JSON patch of a PV.
    PatchPv(String),
    /// A JSON patch of a VolumeAttachment.
    PatchAttachment(String),
    /// A delete of a PV with uid and resource-version preconditions.
    DeletePv {
        name: String,
        uid: String,
        resource_version: String,
    },
    /// A create of a PV from a journaled copy.
    CreatePv,
    /// A delete of a claim with a uid precondition.
    DeleteClaim {
        namespace: String,
        name: String,
        uid: String,
    },
    /// A create of a claim from a journaled copy, in its namespace.
    CreateClaim(String),
}

/// How the API server answered a write.
#[derive(Debug)]
pub(crate) enum Sent {
    /// Accepted.
    Done,
    /// The object changed since it was read (409, or a failed `test`).
    Changed(String),
    /// Worth trying again (5xx, 429, a connection that failed).
    Transient(String),
    /// Refused for good.
    Refused(String),
}

/// Reads and journaled writes for one run.
pub(crate) struct Writer<'a, J> {
    pub(crate) pvs: Api<PersistentVolume>,
    pub(crate) attachments: Api<VolumeAttachment>,
    pub(crate) client: Client,
    pub(crate) journal: &'a J,
    pub(crate) run: RunId,
    pub(crate) seq: u32,
}

impl<'a, J: Journal> Writer<'a, J> {
    pub(crate) fn new(client: &Client, journal: &'a J, run: RunId, seq: u32) -> Self {
        Writer {
            pvs: Api::all(client.clone()),
            attachments: Api::all(client.clone()),
            client: client.clone(),
            journal,
            run,
            seq,
        }
    }

    /// Reads a PV as JSON, without `managedFields`; `None` when it is gone.
    pub(crate) async fn read_pv(&self, name: &str) -> Result<Option<Value>, String> {
        let pv = self.pvs.get_opt(name).await.map_err(|e| describe(&e))?;
        Ok(pv.map(|pv| trimmed(serde_json::to_value(pv).unwrap_or_default())))
    }

    /// Reads a claim as JSON, without `managedFields`; `None` when it is gone.
    pub(crate) async fn read_claim(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<Value>, String> {
        let claims: Api<PersistentVolumeClaim> = Api::namespaced(self.client.clone(), namespace);
        let claim = claims.get_opt(name).await.map_err(|e| describe(&e))?;
        Ok(claim.map(|c| trimmed(serde_json::to_value(c).unwrap_or_default())))
    }

    /// Every PV of the cluster.
    pub(crate) async fn list_pvs(&self) -> Result<Vec<PersistentVolume>, String> {
        let list = self.pvs.list(&Default::default()).await;
        list.map(|l| l.items).map_err(|e| describe(&e))
    }

    /// The names of the pods in `namespace` that mount claim `claim`.
    pub(crate) async fn pods_using(
        &self,
        namespace: &str,
        claim: &str,
    ) -> Result<Vec<String>, String> {
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), namespace);
        let list = pods
            .list(&Default::default())
            .await
            .map_err(|e| describe(&e))?;
        Ok(list
            .items
            .into_iter()
            .filter(|pod| {
                let volumes = pod.spec.as_ref().and_then(|s| s.volumes.as_ref());
                volumes.is_some_and(|vs| {
                    vs.iter().any(|v| {
                        v.persistent_volume_claim
                            .as_ref()
                            .is_some_and(|c| c.claim_name == claim)
                    })
                })
            })
            .filter_map(|pod| pod.metadata.name)
            .collect())
    }

    /// Reads a VolumeAttachment as JSON; `None` when it is gone.
    pub(crate) async fn read_attachment(&self, name: &str) -> Result<Option<Value>, String> {
        let va = self
            .attachments
            .get_opt(name)
            .await
            .map_err(|e| describe(&e))?;
        Ok(va.map(|va| trimmed(serde_json::to_value(va).unwrap_or_default())))
    }

    /// Journals a change, makes it, and journals how it went.
    pub(crate) async fn write(
        &mut self,
        target: ObjectRef,
        action: &str,
        before: &Value,
        body: Value,
        backend_id: Option<String>,
        request: Request,
    ) -> Result<Sent, Error> {
        self.seq += 1;
        let seq = self.seq;
        let entry = Entry {
            run: self.run.clone(),
            seq,
            target,
            action: action.to_owned(),
            patch: Some(body.clone()),
            before: Some(before.clone()),
            resource_version: before["metadata"]["resourceVersion"]
                .as_str()
                .map(str::to_owned),
            backend_id,
            state: EntryState::Planned,
            error: None,
            at: jiff::Timestamp::now(),
        };
        self.journal.record(&entry).await?;
        tracing::debug!(run = %self.run, seq, action, name = %entry.target.name, "sending change");

        let sent = self.send(&request, body).await;
        match &sent {
            Sent::Done => {
                self.journal
                    .mark(&self.run, seq, EntryState::Applied, None)
                    .await?
            }
            Sent::Changed(why) | Sent::Transient(why) | Sent::Refused(why) => {
                tracing::debug!(run = %self.run, seq, error = %why, "change not made");
                self.journal
                    .mark(&self.run, seq, EntryState::Failed, Some(why))
                    .await?;
            }
        }
        Ok(sent)
    }

    async fn send(&self, request: &Request, body: Value) -> Sent {
        let result = match request {
            Request::PatchPv(name) => match json_patch(body) {
                Ok(patch) => self
                    .pvs
                    .patch(name, &PatchParams::default(), &patch)
                    .await
                    .map(drop),
                Err(why) => return Sent::Refused(why),
            },
            Request::PatchAttachment(name) => match json_patch(body) {
                Ok(patch) => {
                    let params = PatchParams::default();
                    self.attachments
                        .patch(name, &params, &patch)
                        .await
                        .map(drop)
                }
                Err(why) => return Sent::Refused(why),
            },
            Request::DeletePv {
                name,
                uid,
                resource_version,
            } => {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: Some(resource_version.clone()),
                    }),
                    ..DeleteParams::default()
                };
                self.pvs.delete(name, &params).await.map(drop)
            }
            Request::CreatePv => match serde_json::from_value::<PersistentVolume>(body) {
                Ok(pv) => self.pvs.create(&PostParams::default(), &pv).await.map(drop),
                Err(err) => return Sent::Refused(format!("the journaled PV is unusable: {err}")),
            },
            Request::DeleteClaim {
                namespace,
                name,
                uid,
            } => {
                let params = DeleteParams {
                    preconditions: Some(Preconditions {
                        uid: Some(uid.clone()),
                        resource_version: None,
                    }),
                    ..DeleteParams::default()
                };
                let claims: Api<PersistentVolumeClaim> =
                    Api::namespaced(self.client.clone(), namespace);
                claims.delete(name, &params).await.map(drop)
            }
            Request::CreateClaim(namespace) => {
                match serde_json::from_value::<PersistentVolumeClaim>(body) {
                    Ok(claim) => {
                        let claims: Api<PersistentVolumeClaim> =
                            Api::namespaced(self.client.clone(), namespace);
                        claims
                            .create(&PostParams::default(), &claim)
                            .await
                            .map(drop)
                    }
                    Err(err) => {
                        return Sent::Refused(format!("the journaled claim is unusable: {err}"))
                    }
                }
            }
        };
        match result {
            Ok(()) => Sent::Done,
            Err(err) => classify(&err),
        }
    }
}

fn json_patch(body: Value) -> Result<Patch<()>, String> {
    serde_json::from_value::<json_patch::Patch>(body)
        .map(Patch::Json)
        .map_err(|err| format!("invalid JSON patch: {err}"))
}

/// Sorts an API error into what a step does next.
fn classify(err: &kube::Error) -> Sent {
    match err {
        kube::Error::Api(status) if status.code == 409 || status.code == 422 => {
            Sent::Changed(describe(err))
        }
        kube::Error::Api(status) if status.code == 429 || status.code >= 500 => {
            Sent::Transient(describe(err))
        }
        kube::Error::Api(_) => Sent::Refused(describe(err)),
        _ => Sent::Transient(describe(err)),
    }
}

/// An API error in one line, without the request body.
pub(crate) fn describe(err: &kube::Error) -> String {
    match err {
        kube::Error::Api(status) => {
            format!("{} {}: {}", status.code, status.reason, status.message)
        }
        other => other.to_string(),
    }
}

/// Drops what makes journaled copies large and says nothing about the object.
pub(crate) fn trimmed(mut object: Value) -> Value {
    if let Some(meta) = object["metadata"].as_object_mut() {
        meta.remove("managedFields");
    }
    object
}

/// The pause before trying a transient failure again.
pub(crate) fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(200 * u64::from(attempt.min(10)))
}
