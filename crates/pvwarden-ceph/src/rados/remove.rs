//! Removing what a clean plan lists, each object re-checked right before it goes.

use serde_json::json;

use super::ffi::RadosError;
use super::read::{Connect, Counted, ReadError};
use crate::clean::{Action, Removal};
use crate::join::{Address, JournalRef};

/// Why an object was not removed.
#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    /// The object is no longer as planned; it is left alone.
    #[error("{object} changed since the plan, left alone: {why}")]
    Changed {
        /// `location/name`.
        object: String,
        /// What changed.
        why: String,
    },
    /// The removal is refused.
    #[error("{object}: {why}")]
    Refused {
        /// `location/name`.
        object: String,
        /// Why.
        why: String,
    },
    /// A call failed.
    #[error(transparent)]
    Read(#[from] ReadError),
}

impl From<RadosError> for RemoveError {
    fn from(err: RadosError) -> Self {
        RemoveError::Read(ReadError::Call(err))
    }
}

/// What a removal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removed {
    /// The snapshots removed first.
    pub snapshots: Vec<String>,
    /// Whether the journal entry was removed too.
    pub journal: bool,
}

/// A connection for removals.
pub struct Remover {
    c: Counted,
}

/// Connects for removals.
pub fn remove(connect: &Connect) -> Result<Remover, ReadError> {
    Ok(Remover {
        c: Counted::connect(connect)?,
    })
}

impl Remover {
    /// Checks that the object is still as the plan saw it: it exists, its snapshots are the
    /// ones planned, and its journal reservation (if any) still leads to it.
    pub fn recheck(&self, action: &Action) -> Result<(), RemoveError> {
        let changed = |why: String| RemoveError::Changed {
            object: action.path(),
            why,
        };
        match (&action.address, action.removal) {
            (Address::Cephfs { filesystem, group }, Removal::Subvolume) => {
                let info = self.subvolume_command(filesystem, group, &action.name, "info");
                match info {
                    Ok(info) if info["state"].as_str() != Some("complete") => {
                        return Err(changed(format!("its state is {}", info["state"])));
                    }
                    Ok(_) => {}
                    Err(RemoveError::Read(ReadError::Call(err))) if err.is_not_found() => {
                        return Err(changed("it no longer exists".into()));
                    }
                    Err(err) => return Err(err),
                }
                let snapshots =
                    self.subvolume_command(filesystem, group, &action.name, "snapshot ls")?;
                let mut now: Vec<String> = snapshots
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["name"].as_str().map(str::to_owned))
                    .collect();
                now.sort();
                let mut planned = action.snapshots.clone();
                planned.sort();
                if now != planned {
                    return Err(changed(format!("its snapshots are now {now:?}")));
                }
            }
            (Address::Rbd { pool, namespace }, Removal::ImageToTrash | Removal::ImagePurge) => {
                let id = self.c.cluster.pool_id(pool)?;
                let io = self.c.cluster.ioctx(id, namespace)?;
                let key = format!("name_{}", action.name);
                let found = self.c.omap(&io, "rbd_directory", &key)?.unwrap_or_default();
                if !found.iter().any(|(k, _)| *k == key) {
                    return Err(changed("it no longer exists".into()));
                }
            }
            _ => {}
        }
        if let Some(journal) = &action.journal {
            let (pool, namespace) = self.journal_location(&action.address)?;
            let io = self.c.cluster.ioctx(pool, &namespace)?;
            let key = format!("csi.volume.{}", journal.request_name);
            let oid = format!("csi.volumes.{}", journal.instance);
            let entries = self.c.omap(&io, &oid, &key)?.unwrap_or_default();
            let uuid = entries
                .iter()
                .find(|(k, _)| *k == key)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned());
            if uuid.as_deref() != Some(journal.uuid.as_str()) {
                return Err(changed(format!(
                    "its journal reservation {} now leads to {uuid:?}",
                    journal.request_name
                )));
            }
        }
        Ok(())
    }

    /// Removes the object (snapshots first when planned), then its journal entry.
    pub fn remove(&self, action: &Action) -> Result<Removed, RemoveError> {
        let mut removed = Removed {
            snapshots: Vec::new(),
            journal: false,
        };
        match (&action.address, action.removal) {
            (Address::Cephfs { filesystem, group }, Removal::Subvolume) => {
                for snapshot in &action.snapshots {
                    let mut cmd =
                        self.subvolume_cmd(filesystem, group, &action.name, "snapshot rm");
                    cmd["snap_name"] = snapshot.clone().into();
                    self.c.mgr(&cmd)?;
                    removed.snapshots.push(snapshot.clone());
                }
                self.c
                    .mgr(&self.subvolume_cmd(filesystem, group, &action.name, "rm"))?;
            }
            (Address::Rbd { pool, namespace }, removal) if removal != Removal::JournalEntry => {
                let id = self.c.cluster.pool_id(pool)?;
                let io = self.c.cluster.ioctx(id, namespace)?;
                if removal == Removal::ImageToTrash {
                    io.rbd_trash_move(&action.name)?;
                } else if !action.snapshots.is_empty() {
                    return Err(RemoveError::Refused {
                        object: action.path(),
                        why: "an image with snapshots is moved to the trash, not purged".into(),
                    });
                } else {
                    io.rbd_remove(&action.name)?;
                }
            }
            _ => {}
        }
        if let Some(journal) = &action.journal {
            self.remove_journal(&action.address, journal)?;
            removed.journal = true;
        }
        Ok(removed)
    }

    fn remove_journal(&self, address: &Address, journal: &JournalRef) -> Result<(), RemoveError> {
        let (pool, namespace) = self.journal_location(address)?;
        let io = self.c.cluster.ioctx(pool, &namespace)?;
        let key = format!("csi.volume.{}", journal.request_name);
        io.omap_remove_keys(&format!("csi.volumes.{}", journal.instance), &[&key])?;
        match io.remove(&format!("csi.volume.{}", journal.uuid)) {
            Err(err) if !err.is_not_found() => Err(err.into()),
            _ => Ok(()),
        }
    }

    /// The pool id and namespace of the journal next to an object.
    fn journal_location(&self, address: &Address) -> Result<(i64, String), RemoveError> {
        match address {
            Address::Rbd { pool, namespace } => {
                Ok((self.c.cluster.pool_id(pool)?, namespace.clone()))
            }
            Address::CephfsJournal { metadata_pool, .. } => {
                Ok((self.c.cluster.pool_id(metadata_pool)?, "csi".to_owned()))
            }
            Address::Cephfs { filesystem, .. } => {
                let dump = self
                    .c
                    .mon(&json!({"prefix": "fs dump", "format": "json"}))?;
                let id = dump["filesystems"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|fs| fs["mdsmap"]["fs_name"].as_str() == Some(filesystem))
                    .and_then(|fs| fs["mdsmap"]["metadata_pool"].as_i64())
                    .ok_or_else(|| RemoveError::Refused {
                        object: filesystem.clone(),
                        why: "the filesystem is gone".into(),
                    })?;
                Ok((id, "csi".to_owned()))
            }
        }
    }

    fn subvolume_cmd(&self, fs: &str, group: &str, name: &str, verb: &str) -> serde_json::Value {
        let mut cmd = json!({"prefix": format!("fs subvolume {verb}"), "vol_name": fs,
            "sub_name": name, "format": "json"});
        if group != "_nogroup" {
            cmd["group_name"] = group.into();
        }
        cmd
    }

    fn subvolume_command(
        &self,
        fs: &str,
        group: &str,
        name: &str,
        verb: &str,
    ) -> Result<serde_json::Value, RemoveError> {
        Ok(self.c.mgr(&self.subvolume_cmd(fs, group, name, verb))?)
    }
}
