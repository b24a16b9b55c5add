//! Warning events on PVs, counted the way client-go's recorder counts repeats.
//!
//! Events of cluster-scoped objects live in the `default` namespace. A repeat of the same
//! reason and message about the same PV increments `count` and moves `lastTimestamp` of the
//! existing event, also of one that came with the case's manifests.

use k8s_openapi::api::core::v1::{Event, EventSource, ObjectReference, PersistentVolume};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use super::cache::meta_name;

/// The namespace of events about cluster-scoped objects.
pub const EVENT_NAMESPACE: &str = "default";

/// Records a `Warning` event about a PV, or counts a repeat of it.
///
/// # Errors
///
/// The API error of the list, the patch or the create.
pub async fn warn_volume(
    client: &Client,
    pv: &PersistentVolume,
    reason: &str,
    message: &str,
    component: &str,
) -> Result<(), kube::Error> {
    let events: Api<Event> = Api::namespaced(client.clone(), EVENT_NAMESPACE);
    let name = meta_name(&pv.metadata);
    let now = Time(Timestamp::now());

    let existing = events.list(&ListParams::default()).await?;
    let repeat = existing.items.iter().find(|event| {
        event.involved_object.kind.as_deref() == Some("PersistentVolume")
            && event.involved_object.name.as_deref() == Some(name)
            && event.reason.as_deref() == Some(reason)
            && event.message.as_deref() == Some(message)
    });
    if let Some(event) = repeat {
        let count = event.count.unwrap_or(1).saturating_add(1);
        let patch = json!({"count": count, "lastTimestamp": now});
        events
            .patch(
                meta_name(&event.metadata),
                &PatchParams::default(),
                &Patch::Merge(patch),
            )
            .await?;
        return Ok(());
    }

    let event = Event {
        metadata: ObjectMeta {
            name: Some(format!("{name}.{:x}", now.0.as_nanosecond())),
            namespace: Some(EVENT_NAMESPACE.to_owned()),
            ..ObjectMeta::default()
        },
        involved_object: ObjectReference {
            api_version: Some("v1".to_owned()),
            kind: Some("PersistentVolume".to_owned()),
            name: Some(name.to_owned()),
            uid: pv.metadata.uid.clone(),
            resource_version: pv.metadata.resource_version.clone(),
            ..ObjectReference::default()
        },
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        type_: Some("Warning".to_owned()),
        source: Some(EventSource {
            component: Some(component.to_owned()),
            host: None,
        }),
        reporting_component: Some(component.to_owned()),
        count: Some(1),
        first_timestamp: Some(now.clone()),
        last_timestamp: Some(now),
        ..Event::default()
    };
    events.create(&PostParams::default(), &event).await?;
    Ok(())
}
