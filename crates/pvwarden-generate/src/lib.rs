//! Correct static and shared ceph-csi volumes, written for the user.
//!
//! Hand-written static PVs are where volumes get lost: a copied `Delete`, a
//! reused or hand-encoded handle, copied provisioner annotations, a node-stage
//! secret with admin keys. This crate builds those objects instead, as
//! k8s-openapi values with a comment on every choice, and refuses what cannot
//! be made safe:
//!
//! ```text
//!   source PV ─▶ share::plan ──┬─▶ source on Retain (when it was Delete)
//!                              ├─▶ static share PV (Retain, staticVolume, own handle)
//!                              └─▶ claim bound to it by volumeName
//!   share PV  ─▶ unshare::plan ─▶ delete claim, delete PV, when the source may go back
//!   flags     ─▶ static_volume ─▶ static CephFS / RBD PV and claim
//! ```
//!
//! It has no I/O: the caller reads the input and prints [`document::render`]'s
//! stream, or applies the objects.

pub mod document;
mod error;
pub mod handle;
mod names;
pub mod root_path;
pub mod secret;
pub mod share;
pub mod static_volume;
pub mod unshare;
mod volume;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

pub use crate::error::Error;

/// The annotation on a share (PV and claim) naming the PV it shares.
pub const ANN_SOURCE: &str = "share.pvwarden.io/source";
/// The label on a share PV naming the PV it shares, when the name fits a label value.
pub const LABEL_SOURCE: &str = "share.pvwarden.io/source";
/// The annotation on a source PV remembering its policy before it was shared.
pub const ANN_ORIGINAL_POLICY: &str = "share.pvwarden.io/original-policy";

/// The objects to apply, in order, and what the user must know.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The documents: a source's change (if any), the PV, its claim.
    pub documents: Vec<document::Document>,
    /// What must be true outside these objects (secrets), one sentence each.
    pub requirements: Vec<String>,
    /// The new PV's name.
    pub pv_name: String,
    /// The new claim, `namespace/name`.
    pub claim: String,
    /// True when a shared source's policy is switched from `Delete` to `Retain`.
    pub source_switched: bool,
}

/// The objects that already exist, so that nothing generated collides with them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Existing<'a> {
    /// Every PV of the input.
    pub pvs: &'a [PersistentVolume],
    /// Every claim of the input.
    pub claims: &'a [PersistentVolumeClaim],
}

impl Existing<'_> {
    /// Checks that the PV name, the claim and the driver's handle are all free.
    ///
    /// # Errors
    ///
    /// Returns [`Error::NameTaken`] or [`Error::HandleTaken`].
    pub fn check_free(
        &self,
        pv_name: &str,
        namespace: &str,
        claim_name: &str,
        driver: &str,
        volume_handle: &str,
    ) -> Result<(), Error> {
        if self
            .pvs
            .iter()
            .any(|pv| pv.metadata.name.as_deref() == Some(pv_name))
        {
            return Err(Error::NameTaken {
                kind: "PersistentVolume",
                name: pv_name.to_owned(),
                option: "--pv-name",
            });
        }
        let claim_taken = self.claims.iter().any(|c| {
            c.metadata.namespace.as_deref() == Some(namespace)
                && c.metadata.name.as_deref() == Some(claim_name)
        });
        if claim_taken {
            return Err(Error::NameTaken {
                kind: "PersistentVolumeClaim",
                name: format!("{namespace}/{claim_name}"),
                option: "--claim-name",
            });
        }
        for pv in self.pvs {
            let Some(csi) = pv.spec.as_ref().and_then(|s| s.csi.as_ref()) else {
                continue;
            };
            if csi.driver == driver && csi.volume_handle == volume_handle {
                return Err(Error::HandleTaken {
                    pv: pv.metadata.name.clone().unwrap_or_default(),
                    handle: volume_handle.to_owned(),
                    driver: driver.to_owned(),
                });
            }
        }
        Ok(())
    }
}
