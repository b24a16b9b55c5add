//! The static PV and its claim, as every generator writes them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, ObjectReference, PersistentVolume, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PersistentVolumeSpec, SecretReference, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::secret::SecretRef;

/// What a static PV is made of; it is always `Retain` and pre-bound to its claim.
pub(crate) struct StaticPv {
    pub name: String,
    pub namespace: String,
    pub claim_name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    pub capacity: Quantity,
    pub access_modes: Vec<String>,
    pub storage_class: String,
    pub volume_mode: Option<String>,
    pub mount_options: Option<Vec<String>>,
    pub driver: String,
    pub handle: String,
    pub attributes: BTreeMap<String, String>,
    pub fs_type: Option<String>,
    pub read_only: bool,
    pub node_stage_secret: SecretRef,
}

impl StaticPv {
    /// The PV.
    pub fn build(self) -> PersistentVolume {
        let some = |map: BTreeMap<String, String>| (!map.is_empty()).then_some(map);
        PersistentVolume {
            metadata: ObjectMeta {
                name: Some(self.name),
                labels: some(self.labels),
                annotations: some(self.annotations),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                capacity: Some(BTreeMap::from([("storage".to_owned(), self.capacity)])),
                access_modes: Some(self.access_modes),
                persistent_volume_reclaim_policy: Some("Retain".into()),
                storage_class_name: Some(self.storage_class),
                volume_mode: self.volume_mode,
                mount_options: self.mount_options,
                // Naming the claim reserves the PV for it: no other claim can take it.
                claim_ref: Some(ObjectReference {
                    api_version: Some("v1".into()),
                    kind: Some("PersistentVolumeClaim".into()),
                    namespace: Some(self.namespace),
                    name: Some(self.claim_name),
                    ..ObjectReference::default()
                }),
                csi: Some(CSIPersistentVolumeSource {
                    driver: self.driver,
                    volume_handle: self.handle,
                    volume_attributes: Some(self.attributes),
                    fs_type: self.fs_type,
                    read_only: self.read_only.then_some(true),
                    node_stage_secret_ref: Some(SecretReference {
                        name: Some(self.node_stage_secret.name),
                        namespace: Some(self.node_stage_secret.namespace),
                    }),
                    ..CSIPersistentVolumeSource::default()
                }),
                ..PersistentVolumeSpec::default()
            }),
            status: None,
        }
    }
}

/// The claim that binds to `pv` and nothing else, carrying its annotations.
pub(crate) fn claim(pv: &PersistentVolume) -> PersistentVolumeClaim {
    let spec = pv.spec.clone().unwrap_or_default();
    let claim_ref = spec.claim_ref.clone().unwrap_or_default();
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: claim_ref.name,
            namespace: claim_ref.namespace,
            annotations: pv.metadata.annotations.clone(),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: spec.access_modes,
            resources: Some(VolumeResourceRequirements {
                requests: spec.capacity,
                ..VolumeResourceRequirements::default()
            }),
            // An explicit class (even "") keeps the default class's admission from
            // giving the claim a class the PV does not have, which would never bind.
            storage_class_name: Some(spec.storage_class_name.unwrap_or_default()),
            volume_mode: spec.volume_mode,
            volume_name: pv.metadata.name.clone(),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    }
}
