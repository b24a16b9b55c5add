//! The backend inventory: what exists in the simulated storage.
//!
//! The test server keeps one JSON document (see `CONTRACT.md`) that lists the storage volumes,
//! the Ceph pools and the faults of the simulated backends. The CSI driver actors read and
//! update it only through `GET`/`PUT /pvwarden-test/backend`, one read-modify-write at a time.
//!
//! Fields this module does not know are kept as they are, so a `PUT` never drops what the
//! server or a test put into the document.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Mutex;

/// The path of the backend inventory on the test server.
pub const BACKEND_PATH: &str = "/pvwarden-test/backend";

/// The whole backend document.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Inventory {
    /// Every storage volume the backends know, deleted ones included.
    #[serde(default)]
    pub volumes: Vec<Volume>,
    /// Ceph pools (RBD) and file systems (CephFS), by cluster.
    #[serde(default)]
    pub pools: Vec<Pool>,
    /// Faults that make backend calls fail.
    #[serde(default)]
    pub faults: Faults,
    /// Fields this module does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One storage volume: a CephFS subvolume, an RBD image or a generic driver's volume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Volume {
    /// The CSI driver name the volume was made for.
    pub driver: String,
    /// The volume handle, or the ceph-csi volume id.
    pub id: String,
    /// What kind of object backs the volume.
    pub kind: VolumeKind,
    /// The Ceph cluster id; empty for generic volumes.
    #[serde(default)]
    pub cluster: String,
    /// The RBD pool or the CephFS file system name.
    #[serde(default)]
    pub pool: String,
    /// The subvolume path or the RBD image name.
    #[serde(default)]
    pub path: String,
    /// Whether ceph-csi's journal (its reservation omap) has an entry for the volume.
    #[serde(default)]
    pub journal: bool,
    /// Whether the data still exists.
    pub exists: bool,
    /// What deleted the data, once it is gone.
    #[serde(default)]
    pub deleted_by: Option<String>,
    /// When set, `ControllerUnpublishVolume` of this volume fails with this message.
    ///
    /// An extension of the contract's document: it says that the backend cannot detach the
    /// volume (case 09: the disk is no longer known to the driver, detach says "not found").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detach_error: Option<String>,
    /// Fields this module does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What kind of object backs a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeKind {
    /// A CephFS subvolume.
    CephfsSubvolume,
    /// An RBD image.
    RbdImage,
    /// A volume of any other driver.
    Generic,
}

/// A Ceph pool (RBD) or file system (CephFS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pool {
    /// The cluster id it belongs to.
    pub cluster: String,
    /// The pool or file system name.
    pub name: String,
    /// The pool id, or the file system id (fscid).
    pub id: i64,
    /// Whether it still exists.
    pub exists: bool,
    /// Fields this module does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// Faults of the whole backend.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Faults {
    /// The Ceph cluster runs without cephx, so every `rbd`/`ceph` call of ceph-csi fails.
    #[serde(default)]
    pub cephx_disabled: bool,
    /// No backend can be reached.
    #[serde(default)]
    pub unreachable: bool,
    /// Fields this module does not interpret.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Inventory {
    /// Returns whether any pool or volume names the Ceph cluster, as a ceph-csi config would.
    #[must_use]
    pub fn knows_cluster(&self, cluster: &str) -> bool {
        self.pools.iter().any(|pool| pool.cluster == cluster)
            || self.volumes.iter().any(|volume| volume.cluster == cluster)
    }

    /// Finds the existing pool of a cluster by id.
    #[must_use]
    pub fn live_pool(&self, cluster: &str, id: i64) -> Option<&Pool> {
        self.pools
            .iter()
            .find(|pool| pool.cluster == cluster && pool.id == id && pool.exists)
    }
}

/// Errors of the backend endpoints.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The `GET` of the inventory failed or returned something else than the document.
    #[error("failed to read the backend inventory")]
    Read(#[source] kube::Error),
    /// The inventory could not be encoded for the `PUT`.
    #[error("failed to encode the backend inventory")]
    Encode(#[source] serde_json::Error),
    /// The request could not be built.
    #[error("failed to build the backend request")]
    Request(#[source] http::Error),
    /// The `PUT` of the inventory failed.
    #[error("failed to store the backend inventory")]
    Write(#[source] kube::Error),
}

/// The client of the backend endpoints; updates are serialised within one process.
pub struct Backend {
    client: kube::Client,
    lock: Mutex<()>,
}

impl Backend {
    /// Wraps a client of the test server.
    #[must_use]
    pub fn new(client: kube::Client) -> Self {
        Self {
            client,
            lock: Mutex::new(()),
        }
    }

    /// Reads the inventory.
    ///
    /// # Errors
    ///
    /// [`Error::Read`] when the request fails.
    pub async fn read(&self) -> Result<Inventory, Error> {
        let request = http::Request::get(BACKEND_PATH)
            .body(Vec::new())
            .map_err(Error::Request)?;
        self.client.request(request).await.map_err(Error::Read)
    }

    /// Reads the inventory, lets `change` edit it, and stores it if it changed.
    ///
    /// Updates of this process do not interleave; the lock is held across the read and the
    /// write.
    ///
    /// # Errors
    ///
    /// Any [`Error`] of the read or of the write.
    pub async fn update<R>(&self, change: impl FnOnce(&mut Inventory) -> R) -> Result<R, Error> {
        let _held = self.lock.lock().await;
        let before = self.read().await?;
        let mut after = before.clone();
        let result = change(&mut after);
        if after != before {
            self.write(&after).await?;
        }
        Ok(result)
    }

    async fn write(&self, inventory: &Inventory) -> Result<(), Error> {
        let body = serde_json::to_vec(inventory).map_err(Error::Encode)?;
        let request = http::Request::put(BACKEND_PATH)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(body)
            .map_err(Error::Request)?;
        self.client
            .request_text(request)
            .await
            .map_err(Error::Write)?;
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn keeps_fields_it_does_not_know() {
        let text = r#"{"volumes":[{"driver":"d","id":"v","kind":"generic","cluster":"",
            "pool":"","path":"","journal":false,"exists":true,"deleted_by":null,"size":"2Ti"}],
            "pools":[],"faults":{"cephx_disabled":false,"unreachable":false,"slow":true},
            "note":"seed"}"#;
        let inventory: Inventory = serde_json::from_str(text).unwrap();
        let again = serde_json::to_value(&inventory).unwrap();

        assert_eq!(again["note"], "seed");
        assert_eq!(again["faults"]["slow"], true);
        assert_eq!(again["volumes"][0]["size"], "2Ti");
        assert_eq!(inventory.volumes[0].kind, VolumeKind::Generic);
    }

    #[test]
    fn knows_clusters_from_pools_and_volumes() {
        let inventory: Inventory =
            serde_json::from_str(r#"{"pools":[{"cluster":"a","name":"p","id":3,"exists":false}]}"#)
                .unwrap();

        assert!(inventory.knows_cluster("a"));
        assert!(!inventory.knows_cluster("b"));
        assert!(inventory.live_pool("a", 3).is_none());
    }
}
