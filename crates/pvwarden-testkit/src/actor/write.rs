//! The writes the actors decide on, and how they reach the API server.
//!
//! A [`Change`] is plain data, so the decision functions stay pure and testable. Changes to
//! an object's spec or finalizers carry the `resourceVersion` they were decided on: a JSON
//! merge patch with that version fails with a conflict when the object moved on, and the
//! next pass decides again on the newer object.

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use k8s_openapi::jiff::Timestamp;
use kube::api::{DeleteParams, Patch, PatchParams};
use kube::{Api, Client};
use serde_json::{json, Value};

/// Annotation of a claim whose binding finished.
pub const ANN_BIND_COMPLETED: &str = "pv.kubernetes.io/bind-completed";
/// Annotation of a PV or claim the controller bound (not pre-bound by a person).
pub const ANN_BOUND_BY_CONTROLLER: &str = "pv.kubernetes.io/bound-by-controller";

/// The claim a PV gets bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRef {
    /// The claim's namespace.
    pub namespace: String,
    /// The claim's name.
    pub name: String,
    /// The claim's uid.
    pub uid: String,
}

/// One write an actor decided on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Replace a PV's finalizers.
    VolumeFinalizers {
        /// The PV.
        name: String,
        /// The version decided on.
        version: String,
        /// The new list.
        finalizers: Vec<String>,
    },
    /// Replace a claim's finalizers.
    ClaimFinalizers {
        /// The claim's namespace.
        namespace: String,
        /// The claim.
        name: String,
        /// The version decided on.
        version: String,
        /// The new list.
        finalizers: Vec<String>,
    },
    /// Replace a VolumeAttachment's finalizers and mark it detached.
    AttachmentDetached {
        /// The VolumeAttachment.
        name: String,
        /// The version decided on.
        version: String,
        /// The new list.
        finalizers: Vec<String>,
    },
    /// Record a failed detach in a VolumeAttachment's status.
    AttachmentDetachError {
        /// The VolumeAttachment.
        name: String,
        /// The detach error.
        message: String,
    },
    /// Delete a VolumeAttachment (the attach/detach controller's part).
    DeleteAttachment {
        /// The VolumeAttachment.
        name: String,
    },
    /// Set a PV's phase (and message).
    VolumePhase {
        /// The PV.
        name: String,
        /// The version decided on.
        version: String,
        /// `Available`, `Bound`, `Released` or `Failed`.
        phase: &'static str,
        /// The status message, for `Failed`.
        message: Option<String>,
    },
    /// Point a PV's `claimRef` at a claim.
    BindVolume {
        /// The PV.
        name: String,
        /// The version decided on.
        version: String,
        /// The claim.
        claim: ClaimRef,
        /// Whether the controller chose the claim (the PV was not pre-bound).
        by_controller: bool,
    },
    /// Set a claim's `volumeName` and mark its binding complete.
    BindClaim {
        /// The claim's namespace.
        namespace: String,
        /// The claim.
        name: String,
        /// The version decided on.
        version: String,
        /// The PV.
        volume: String,
        /// Whether the controller chose the PV (the claim did not name it).
        by_controller: bool,
    },
    /// Set a claim's phase.
    ClaimPhase {
        /// The claim's namespace.
        namespace: String,
        /// The claim.
        name: String,
        /// The version decided on.
        version: String,
        /// `Pending`, `Bound` or `Lost`.
        phase: &'static str,
    },
}

impl Change {
    /// Sends the change to the API server.
    ///
    /// # Errors
    ///
    /// The API error; a conflict means the object changed since the decision.
    pub async fn apply(&self, client: &Client) -> Result<(), kube::Error> {
        let volumes: Api<PersistentVolume> = Api::all(client.clone());
        let attachments: Api<VolumeAttachment> = Api::all(client.clone());
        let claims = |namespace: &str| -> Api<PersistentVolumeClaim> {
            Api::namespaced(client.clone(), namespace)
        };
        let params = PatchParams::default();

        match self {
            Self::VolumeFinalizers {
                name,
                version,
                finalizers,
            } => {
                let patch = finalizer_patch(version, finalizers);
                volumes.patch(name, &params, &Patch::Merge(patch)).await?;
            }
            Self::ClaimFinalizers {
                namespace,
                name,
                version,
                finalizers,
            } => {
                let patch = finalizer_patch(version, finalizers);
                claims(namespace)
                    .patch(name, &params, &Patch::Merge(patch))
                    .await?;
            }
            Self::AttachmentDetached {
                name,
                version,
                finalizers,
            } => {
                let status = json!({"status": {"attached": false, "detachError": null}});
                attachments
                    .patch_status(name, &params, &Patch::Merge(status))
                    .await?;
                let patch = finalizer_patch(version, finalizers);
                attachments
                    .patch(name, &params, &Patch::Merge(patch))
                    .await?;
            }
            Self::AttachmentDetachError { name, message } => {
                let error = json!({"message": message, "time": Timestamp::now().to_string()});
                let status = json!({"status": {"detachError": error}});
                attachments
                    .patch_status(name, &params, &Patch::Merge(status))
                    .await?;
            }
            Self::DeleteAttachment { name } => {
                attachments.delete(name, &DeleteParams::default()).await?;
            }
            Self::VolumePhase {
                name,
                version,
                phase,
                message,
            } => {
                let status = json!({
                    "metadata": {"resourceVersion": version},
                    "status": {"phase": phase, "message": message},
                });
                volumes
                    .patch_status(name, &params, &Patch::Merge(status))
                    .await?;
            }
            Self::BindVolume {
                name,
                version,
                claim,
                by_controller,
            } => {
                let mut patch = json!({
                    "metadata": {"resourceVersion": version},
                    "spec": {"claimRef": {
                        "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                        "namespace": claim.namespace, "name": claim.name, "uid": claim.uid,
                    }},
                });
                if *by_controller {
                    patch["metadata"]["annotations"] = json!({ANN_BOUND_BY_CONTROLLER: "yes"});
                }
                volumes.patch(name, &params, &Patch::Merge(patch)).await?;
            }
            Self::BindClaim {
                namespace,
                name,
                version,
                volume,
                by_controller,
            } => {
                let mut annotations = json!({ANN_BIND_COMPLETED: "yes"});
                if *by_controller {
                    annotations[ANN_BOUND_BY_CONTROLLER] = json!("yes");
                }
                let patch = json!({
                    "metadata": {"resourceVersion": version, "annotations": annotations},
                    "spec": {"volumeName": volume},
                });
                claims(namespace)
                    .patch(name, &params, &Patch::Merge(patch))
                    .await?;
            }
            Self::ClaimPhase {
                namespace,
                name,
                version,
                phase,
            } => {
                let status = json!({
                    "metadata": {"resourceVersion": version},
                    "status": {"phase": phase},
                });
                claims(namespace)
                    .patch_status(name, &params, &Patch::Merge(status))
                    .await?;
            }
        }
        Ok(())
    }

    /// Names the object the change is about, for logs.
    #[must_use]
    pub fn target(&self) -> String {
        match self {
            Self::VolumeFinalizers { name, .. }
            | Self::VolumePhase { name, .. }
            | Self::BindVolume { name, .. } => format!("persistentvolume/{name}"),
            Self::AttachmentDetached { name, .. }
            | Self::AttachmentDetachError { name, .. }
            | Self::DeleteAttachment { name } => format!("volumeattachment/{name}"),
            Self::ClaimFinalizers {
                namespace, name, ..
            }
            | Self::BindClaim {
                namespace, name, ..
            }
            | Self::ClaimPhase {
                namespace, name, ..
            } => {
                format!("persistentvolumeclaim/{namespace}/{name}")
            }
        }
    }
}

fn finalizer_patch(version: &str, finalizers: &[String]) -> Value {
    json!({"metadata": {"resourceVersion": version, "finalizers": finalizers}})
}

/// Applies changes in order, logging each outcome; returns how many failed.
pub async fn apply_all(client: &Client, changes: &[Change]) -> usize {
    let mut failed = 0;
    for change in changes {
        match change.apply(client).await {
            Ok(()) => tracing::debug!(target_object = %change.target(), ?change, "applied"),
            Err(err) if is_conflict(&err) || is_not_found(&err) => {
                tracing::debug!(target_object = %change.target(), error = %err, "change raced");
            }
            Err(err) => {
                failed += 1;
                tracing::warn!(target_object = %change.target(), error = %err, "change failed");
            }
        }
    }
    failed
}

/// Returns whether an API error is a `409 Conflict`.
#[must_use]
pub fn is_conflict(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.is_conflict())
}

/// Returns whether an API error is a `404 Not Found`.
#[must_use]
pub fn is_not_found(err: &kube::Error) -> bool {
    matches!(err, kube::Error::Api(status) if status.is_not_found())
}
