//! Volumes made the way ceph-csi makes them, for tests and benchmarks against a test Ceph.
//!
//! ceph-csi provisions a CephFS volume as subvolume `csi-vol-<uuid>` in group `csi` and an
//! RBD volume as image `csi-vol-<uuid>`, and records each in its journal: the reservation
//! `csi.volume.<request name>` → uuid in `csi.volumes.default`, and the attributes in
//! `csi.volume.<uuid>` (for CephFS in the metadata pool under RADOS namespace `csi`).

use serde_json::json;

use super::read::{parallel, Connect, Counted, ReadError};

/// A connection for making fixtures.
pub struct Fixture {
    c: Counted,
}

/// A volume made as ceph-csi makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Made {
    /// The journal uuid (also in the handle).
    pub uuid: String,
    /// The CSI request name, `pvc-<claim uid>`.
    pub request_name: String,
    /// The subvolume or image name.
    pub name: String,
    /// The subvolume's path (CephFS only).
    pub path: Option<String>,
}

impl Fixture {
    /// Connects.
    pub fn connect(connect: &Connect) -> Result<Fixture, ReadError> {
        Ok(Fixture {
            c: Counted::connect(connect)?,
        })
    }

    /// Makes a subvolume group (no error when it exists).
    pub fn group(&self, fs: &str, group: &str) -> Result<(), ReadError> {
        self.c.mgr(
            &json!({"prefix": "fs subvolumegroup create", "vol_name": fs,
            "group_name": group}),
        )?;
        Ok(())
    }

    /// Makes a subvolume by hand (no journal entry), returning its path.
    pub fn subvolume(&self, fs: &str, group: &str, name: &str) -> Result<String, ReadError> {
        self.c.mgr(
            &json!({"prefix": "fs subvolume create", "vol_name": fs, "sub_name": name,
            "group_name": group, "size": 1 << 30}),
        )?;
        // getpath answers the bare path, which is not JSON text.
        self.c
            .mgr_text(&json!({"prefix": "fs subvolume getpath", "vol_name": fs,
            "sub_name": name, "group_name": group}))
    }

    /// Takes a snapshot of a subvolume.
    pub fn snapshot(&self, fs: &str, group: &str, name: &str, snap: &str) -> Result<(), ReadError> {
        self.c.mgr(
            &json!({"prefix": "fs subvolume snapshot create", "vol_name": fs,
            "sub_name": name, "group_name": group, "snap_name": snap}),
        )?;
        Ok(())
    }

    /// Makes `count` CephFS volumes in group `csi` with their journal entries, `n` at a time.
    pub fn cephfs_volumes(
        &self,
        fs: &str,
        metadata_pool: &str,
        uuids: &[String],
        n: usize,
    ) -> Result<Vec<Made>, ReadError> {
        self.group(fs, crate::inventory::CSI_GROUP)?;
        let pool = self.c.cluster.pool_id(metadata_pool)?;
        let made = parallel(uuids, n, |uuid| -> Result<Made, ReadError> {
            let name = format!("csi-vol-{uuid}");
            let path = self.subvolume(fs, crate::inventory::CSI_GROUP, &name)?;
            let request_name = format!("pvc-{uuid}");
            self.journal(pool, "csi", &request_name, uuid, &name, None)?;
            Ok(Made {
                uuid: uuid.clone(),
                request_name,
                name,
                path: Some(path),
            })
        });
        made.into_iter().collect()
    }

    /// Makes `count` RBD volumes in a pool with their journal entries, `n` at a time.
    pub fn rbd_volumes(
        &self,
        pool: &str,
        uuids: &[String],
        n: usize,
    ) -> Result<Vec<Made>, ReadError> {
        let id = self.c.cluster.pool_id(pool)?;
        let made = parallel(uuids, n, |uuid| -> Result<Made, ReadError> {
            let name = format!("csi-vol-{uuid}");
            let io = self.c.cluster.ioctx(id, "")?;
            io.rbd_create(&name, 1 << 30)?;
            let request_name = format!("pvc-{uuid}");
            self.journal(id, "", &request_name, uuid, &name, Some(""))?;
            Ok(Made {
                uuid: uuid.clone(),
                request_name,
                name,
                path: None,
            })
        });
        made.into_iter().collect()
    }

    /// Makes an RBD image by hand (no journal entry).
    pub fn image(&self, pool: &str, name: &str) -> Result<(), ReadError> {
        let id = self.c.cluster.pool_id(pool)?;
        self.c.cluster.ioctx(id, "")?.rbd_create(name, 1 << 30)?;
        Ok(())
    }

    /// Writes a journal entry as ceph-csi does, whether or not its volume exists.
    pub fn journal(
        &self,
        pool: i64,
        namespace: &str,
        request_name: &str,
        uuid: &str,
        name: &str,
        image_id: Option<&str>,
    ) -> Result<(), ReadError> {
        let io = self.c.cluster.ioctx(pool, namespace)?;
        io.omap_set(
            "csi.volumes.default",
            &[(&format!("csi.volume.{request_name}"), uuid)],
        )?;
        let mut attributes = vec![
            ("csi.volname", request_name),
            ("csi.imagename", name),
            ("csi.volume.owner", "fixtures"),
        ];
        if let Some(id) = image_id {
            attributes.push(("csi.imageid", id));
        }
        io.omap_set(&format!("csi.volume.{uuid}"), &attributes)?;
        Ok(())
    }

    /// A random uuid in the form ceph-csi writes (version 4).
    pub fn uuid() -> String {
        let hex = |n: usize| -> String {
            (0..n)
                .map(|_| char::from(b"0123456789abcdef"[fastrand::usize(..16)]))
                .collect()
        };
        format!("{}-{}-4{}-8{}-{}", hex(8), hex(4), hex(3), hex(3), hex(12))
    }

    /// The id (fscid) of a filesystem.
    pub fn filesystem_id(&self, fs: &str) -> Result<i64, ReadError> {
        let dump = self
            .c
            .mon(&json!({"prefix": "fs dump", "format": "json"}))?;
        dump["filesystems"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|f| f["mdsmap"]["fs_name"].as_str() == Some(fs))
            .and_then(|f| f["id"].as_i64())
            .ok_or_else(|| ReadError::Answer {
                call: "fs dump".into(),
                detail: format!("no filesystem {fs}"),
            })
    }

    /// The id of a pool.
    pub fn pool_id(&self, pool: &str) -> Result<i64, ReadError> {
        Ok(self.c.cluster.pool_id(pool)?)
    }
}
