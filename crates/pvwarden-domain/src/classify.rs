//! Is a PV dynamic (made by a provisioner) or static (written by hand)?
//!
//! Hand-made PVs are often copies of dynamic ones and keep some of their
//! markers, so no single marker decides. The decision table, in order:
//!
//! | # | evidence                                                        | verdict |
//! |---|-----------------------------------------------------------------|---------|
//! | 1 | `staticVolume: "true"` (only people write it)                   | static  |
//! | 2 | no `provisioned-by` and no `migrated-to` annotation             | static  |
//! | 3 | annotation names neither the driver nor the class's provisioner | static  |
//! | 4 | annotation plus two or more corroborating markers               | dynamic |
//! | 5 | annotation plus one corroborating marker                        | dynamic or unknown (*) |
//! | 6 | annotation alone                                                | static (copied) |
//!
//! (*) dynamic when the one marker is the `pvc-<claim uid>` name or the identity
//! attribute; unknown when it is only the class.
//!
//! Corroborating markers: the name is `pvc-<claimRef.uid>`; the CSI
//! provisioner identity attribute; a StorageClass whose provisioner is the
//! annotation's. `docs/classification.md` explains each row.

use serde::Serialize;

use crate::facts::{PvFacts, Source, ATTR_PROVISIONER_IDENTITY};
use crate::inventory::Inventory;
use crate::volid;

/// Who made a PV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provisioning {
    /// Made by a provisioner for a claim.
    Dynamic,
    /// Written by a person or a tool, for storage that already existed.
    Static,
    /// The evidence does not decide.
    Unknown,
}

impl Provisioning {
    /// The value as printed.
    pub fn as_str(&self) -> &'static str {
        match self {
            Provisioning::Dynamic => "dynamic",
            Provisioning::Static => "static",
            Provisioning::Unknown => "unknown",
        }
    }
}

/// The markers found on a PV, and what was decided from them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Classification {
    /// The verdict.
    pub provisioning: Provisioning,
    /// The row of the decision table that decided.
    pub rule: &'static str,
    /// The `provisioned-by` (or `migrated-to`) annotation, if any.
    pub provisioned_by: Option<String>,
    /// Whether that annotation names the PV's driver or its class's provisioner.
    pub annotation_matches: bool,
    /// Whether the name is `pvc-<claimRef.uid>`.
    pub name_matches_claim: bool,
    /// Whether the CSI provisioner identity attribute is present.
    pub has_identity: bool,
    /// Whether the class's provisioner equals the annotation.
    pub class_matches: bool,
    /// Whether the handle decodes as a ceph-csi id (ceph-csi drivers only).
    pub handle_decodes: Option<bool>,
    /// Whether `staticVolume: "true"` is set.
    pub static_volume: bool,
    /// Whether `rootPath` is set.
    pub root_path: bool,
    /// Whether the volume is CSI (else in-tree).
    pub csi: bool,
    /// Dynamic markers a static PV carries, copied from the PV it was made from.
    pub copied_markers: Vec<String>,
}

/// Classifies one PV.
pub fn classify(pv: &PvFacts, inventory: &Inventory) -> Classification {
    let csi = pv.csi();
    let annotation = pv.provisioned_by.as_deref().or(pv.migrated_to());
    let class_provisioner = pv
        .storage_class
        .as_deref()
        .and_then(|c| inventory.class(c))
        .map(|c| &*c.provisioner);
    let driver = csi.map(|c| &*c.driver);
    let annotation_matches = annotation
        .is_some_and(|a| Some(a) == driver || Some(a) == class_provisioner || is_in_tree(a, pv));
    let name_matches_claim = pv
        .claim_ref
        .as_ref()
        .and_then(|r| r.uid.as_ref())
        .is_some_and(|uid| {
            pv.name
                .strip_prefix("pvc-")
                .is_some_and(|rest| *uid == rest)
        });
    let has_identity = csi.is_some_and(|c| c.attribute(ATTR_PROVISIONER_IDENTITY).is_some());
    let class_matches = annotation.is_some() && annotation == class_provisioner;
    let handle_decodes = csi
        .filter(|c| crate::driver::CephKind::from_driver(&c.driver).is_some())
        .map(|c| volid::decode(&c.handle).is_ok());
    let static_volume = csi.is_some_and(|c| c.is_static_volume());
    let root_path = csi.is_some_and(|c| c.root_path);

    let corroboration = [name_matches_claim, has_identity, class_matches];
    let count = corroboration.iter().filter(|m| **m).count();
    let (provisioning, rule) = if static_volume {
        (Provisioning::Static, "static-volume-attribute")
    } else if annotation.is_none() {
        (Provisioning::Static, "no-provisioner-annotation")
    } else if !annotation_matches {
        (Provisioning::Static, "annotation-names-another-provisioner")
    } else if count >= 2 || (count == 1 && (name_matches_claim || has_identity)) {
        (Provisioning::Dynamic, "annotation-corroborated")
    } else if count == 1 {
        (Provisioning::Unknown, "annotation-weakly-corroborated")
    } else {
        (Provisioning::Static, "annotation-alone")
    };

    let mut copied_markers = Vec::new();
    if provisioning == Provisioning::Static {
        if let Some(a) = annotation {
            let key = if pv.provisioned_by.is_some() {
                "provisioned-by"
            } else {
                "migrated-to"
            };
            copied_markers.push(format!("annotation pv.kubernetes.io/{key}={a}"));
        }
        if has_identity {
            copied_markers.push(format!("volume attribute {ATTR_PROVISIONER_IDENTITY}"));
        }
        if pv.name.starts_with("pvc-") {
            copied_markers.push(format!("the dynamic-style name {}", pv.name));
        }
        if handle_decodes == Some(true) {
            copied_markers.push("a handle that decodes as a ceph-csi id".into());
        }
    }

    Classification {
        provisioning,
        rule,
        provisioned_by: annotation.map(str::to_owned),
        annotation_matches,
        name_matches_claim,
        has_identity,
        class_matches,
        handle_decodes,
        static_volume,
        root_path,
        csi: csi.is_some(),
        copied_markers,
    }
}

/// In-tree provisioners are named `kubernetes.io/<plugin>`.
fn is_in_tree(annotation: &str, pv: &PvFacts) -> bool {
    let known = annotation.starts_with("kubernetes.io/")
        || crate::driver::Profile::for_external_provisioner(annotation).is_some();
    matches!(pv.source, Source::InTree { .. }) && known
}
