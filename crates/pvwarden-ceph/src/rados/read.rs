//! The inventory read.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use jiff::Timestamp;
use serde_json::{json, Value};

use super::cephfs::{parse_meta, Mount};
use super::ffi::{Cluster, Ioctx, RadosError};
use crate::inventory::{
    Calls, CephInventory, Filesystem, Image, JournalEntry, RadosNamespace, RbdPool, Subvolume,
    SubvolumeGroup, DUMP_VERSION,
};

/// How to reach the cluster: a ceph.conf, or monitor addresses and a key (as Rook keeps them).
#[derive(Debug, Clone, Default)]
pub struct Connect {
    /// The ceph.conf.
    pub conf: Option<PathBuf>,
    /// Monitor addresses (`mon_host`), when there is no ceph.conf.
    pub mon_host: Option<String>,
    /// The cephx key itself, when there is no keyring.
    pub key: Option<Key>,
    /// The keyring, when not the one ceph.conf names.
    pub keyring: Option<PathBuf>,
    /// The cephx user, without `client.`.
    pub id: String,
}

/// A cephx key; never printed.
#[derive(Clone)]
pub struct Key(pub String);

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

impl Connect {
    /// What the connection comes from, for messages (never the key).
    pub fn describe(&self) -> String {
        match (&self.conf, &self.mon_host) {
            (Some(conf), _) => conf.display().to_string(),
            (None, Some(mons)) => format!("monitors {mons}"),
            (None, None) => "the default ceph.conf".to_owned(),
        }
    }

    /// The configuration options besides the file: keyring, monitors, key, and `extra`.
    fn options<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, String)> {
        let mut options: Vec<(&str, String)> =
            extra.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        if let Some(keyring) = &self.keyring {
            options.push(("keyring", keyring.display().to_string()));
        }
        if let Some(mons) = &self.mon_host {
            options.push(("mon_host", mons.clone()));
        }
        if let Some(key) = &self.key {
            options.push(("key", key.0.clone()));
        }
        options
    }

    fn conf_path(&self) -> Option<String> {
        self.conf.as_ref().map(|c| c.display().to_string())
    }
}

/// How to read.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// ceph-csi instance ids whose journals are read.
    pub journal_instances: Vec<String>,
    /// Calls kept in flight where there is no bulk form.
    pub concurrency: usize,
}

/// Why the read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The connection failed.
    #[error("cannot connect to Ceph as client.{id} with {conf}")]
    Connect {
        /// The user.
        id: String,
        /// The configuration file.
        conf: String,
        /// Why.
        #[source]
        source: RadosError,
    },
    /// A call failed.
    #[error(transparent)]
    Call(#[from] RadosError),
    /// A command answered something that is not the JSON expected.
    #[error("{call}: unexpected answer: {detail}")]
    Answer {
        /// The command.
        call: String,
        /// What was wrong.
        detail: String,
    },
}

/// An object's omap: keys and values, in key order.
pub(super) type Omap = Vec<(String, Vec<u8>)>;

/// The most omap keys read in one round trip.
const OMAP_PAGE: u64 = 1_000;

/// A connection that counts its calls.
pub(super) struct Counted {
    pub(super) cluster: Cluster,
    connect: Connect,
    cephfs: AtomicU64,
    mon: AtomicU64,
    mgr: AtomicU64,
    omap: AtomicU64,
}

impl Counted {
    pub(super) fn connect(connect: &Connect) -> Result<Counted, ReadError> {
        // A cluster that does not answer fails the read instead of hanging it.
        let options = connect.options(&[
            ("client_mount_timeout", "30"),
            ("rados_mon_op_timeout", "30"),
            ("rados_osd_op_timeout", "30"),
        ]);
        let conf = connect.conf_path();
        let cluster =
            Cluster::connect(&connect.id, conf.as_deref(), &options).map_err(|source| {
                ReadError::Connect {
                    id: connect.id.clone(),
                    conf: connect.describe(),
                    source,
                }
            })?;
        Ok(Counted {
            cluster,
            connect: connect.clone(),
            cephfs: AtomicU64::new(0),
            mon: AtomicU64::new(0),
            mgr: AtomicU64::new(0),
            omap: AtomicU64::new(0),
        })
    }

    pub(super) fn mon(&self, cmd: &Value) -> Result<Value, ReadError> {
        self.mon.fetch_add(1, Ordering::Relaxed);
        let out = self.cluster.mon_command(&cmd.to_string())?;
        parse(cmd, &out)
    }

    pub(super) fn mgr(&self, cmd: &Value) -> Result<Value, ReadError> {
        self.mgr.fetch_add(1, Ordering::Relaxed);
        let out = self.cluster.mgr_command(&cmd.to_string())?;
        parse(cmd, &out)
    }

    /// Sends a manager command whose answer is plain text, not JSON.
    pub(super) fn mgr_text(&self, cmd: &Value) -> Result<String, ReadError> {
        self.mgr.fetch_add(1, Ordering::Relaxed);
        let out = self.cluster.mgr_command(&cmd.to_string())?;
        Ok(String::from_utf8_lossy(&out).trim().to_owned())
    }

    /// Every omap key of an object that starts with `prefix`, paging by [`OMAP_PAGE`].
    /// A missing object reads as `None`.
    pub(super) fn omap(
        &self,
        io: &Ioctx<'_>,
        oid: &str,
        prefix: &str,
    ) -> Result<Option<Omap>, ReadError> {
        let mut all = Vec::new();
        let mut after = String::new();
        loop {
            self.omap.fetch_add(1, Ordering::Relaxed);
            let page = match io.omap_page(oid, &after, prefix, OMAP_PAGE) {
                Ok(page) => page,
                Err(err) if err.is_not_found() => return Ok(None),
                Err(err) => return Err(err.into()),
            };
            let last = page.entries.last().map(|(k, _)| k.clone());
            all.extend(page.entries);
            match last {
                Some(last) if page.more => after = last,
                _ => return Ok(Some(all)),
            }
        }
    }

    pub(super) fn calls(&self) -> Calls {
        Calls {
            mon: self.mon.load(Ordering::Relaxed),
            mgr: self.mgr.load(Ordering::Relaxed),
            omap: self.omap.load(Ordering::Relaxed),
            cephfs: self.cephfs.load(Ordering::Relaxed),
        }
    }

    /// Mounts a filesystem with the same credentials.
    fn mount(&self, fs: &str) -> Result<Mount, RadosError> {
        let options = self.connect.options(&[("client_mount_timeout", "30")]);
        let conf = self.connect.conf_path();
        Mount::connect(&self.connect.id, conf.as_deref(), &options, fs)
    }

    /// Counts one request to the metadata servers.
    fn mds<T>(&self, result: T) -> T {
        self.cephfs.fetch_add(1, Ordering::Relaxed);
        result
    }
}

fn parse(cmd: &Value, out: &[u8]) -> Result<Value, ReadError> {
    if out.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(out).map_err(|err| ReadError::Answer {
        call: cmd["prefix"].as_str().unwrap_or("command").to_owned(),
        detail: err.to_string(),
    })
}

/// Runs `f` on every item, `n` at a time, keeping the order of the items.
pub(super) fn parallel<T: Sync, R: Send>(
    items: &[T],
    n: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..n.clamp(1, items.len().max(1)))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(item) = items.get(i) else { break };
                        done.push((i, f(item)));
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    });
    results.sort_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

/// The objects read, less those that went away between the listing and the read; the
/// first error, if any.
fn present<T>(results: Vec<Result<Option<T>, ReadError>>) -> Result<Vec<T>, ReadError> {
    let mut kept = Vec::with_capacity(results.len());
    for result in results {
        kept.extend(result?);
    }
    Ok(kept)
}

/// Reads the whole inventory.
pub fn read(connect: &Connect, options: &ReadOptions) -> Result<CephInventory, ReadError> {
    let started = std::time::Instant::now();
    let c = Counted::connect(connect)?;
    let fsid = c.mon(&json!({"prefix": "fsid", "format": "json"}))?;
    let fsid = str_field(&fsid, "fsid", "fsid")?;
    let pools = c.mon(&json!({"prefix": "osd pool ls", "detail": "detail", "format": "json"}))?;
    let pools = pools.as_array().cloned().unwrap_or_default();
    let fs_dump = c.mon(&json!({"prefix": "fs dump", "format": "json"}))?;

    let mut filesystems = Vec::new();
    for fs in fs_dump["filesystems"].as_array().into_iter().flatten() {
        let mdsmap = &fs["mdsmap"];
        let name = str_field(mdsmap, "fs_name", "fs dump")?;
        let id = fs["id"].as_i64().unwrap_or(-1);
        let meta_id = mdsmap["metadata_pool"].as_i64().unwrap_or(-1);
        let metadata_pool = pool_name(&pools, meta_id);
        let groups = read_groups(&c, &name, options.concurrency)?;
        let io = c.cluster.ioctx(meta_id, "csi")?;
        let journal = read_journal(&c, &io, meta_id, "csi", options)?;
        filesystems.push(Filesystem {
            name,
            id,
            metadata_pool,
            groups,
            journal,
        });
    }

    let mut rbd_pools = Vec::new();
    for pool in &pools {
        if pool["application_metadata"].get("rbd").is_none() {
            continue;
        }
        let name = str_field(pool, "pool_name", "osd pool ls")?;
        let id = pool["pool_id"].as_i64().unwrap_or(-1);
        let io = c.cluster.ioctx(id, "")?;
        let mut names = vec![String::new()];
        for (key, _) in c.omap(&io, "rbd_namespace", "name_")?.unwrap_or_default() {
            names.push(key.trim_start_matches("name_").to_owned());
        }
        let mut namespaces = Vec::new();
        for ns in names {
            namespaces.push(read_namespace(&c, id, ns, options)?);
        }
        rbd_pools.push(RbdPool {
            name,
            id,
            namespaces,
        });
    }
    let calls = c.calls();
    tracing::info!(
        elapsed_ms = started.elapsed().as_millis() as u64,
        mon = calls.mon,
        mgr = calls.mgr,
        omap = calls.omap,
        "Ceph inventory read"
    );
    Ok(CephInventory {
        version: DUMP_VERSION,
        fsid,
        taken: Timestamp::now(),
        cluster_ids: Vec::new(),
        filesystems,
        rbd_pools,
        calls,
    })
}

fn str_field(v: &Value, key: &str, call: &str) -> Result<String, ReadError> {
    v[key]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| ReadError::Answer {
            call: call.to_owned(),
            detail: format!("no string field {key:?}"),
        })
}

fn pool_name(pools: &[Value], id: i64) -> String {
    pools
        .iter()
        .find(|p| p["pool_id"].as_i64() == Some(id))
        .and_then(|p| p["pool_name"].as_str())
        .map_or_else(|| format!("pool {id}"), str::to_owned)
}

fn names(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["name"].as_str().map(str::to_owned))
        .collect()
}

/// The group subvolumes made without one live in.
const NO_GROUP: &str = "_nogroup";

fn read_groups(c: &Counted, fs: &str, n: usize) -> Result<Vec<SubvolumeGroup>, ReadError> {
    match c.mount(fs) {
        Ok(mount) => walk_groups(c, &mount, fs, n),
        Err(err) => {
            tracing::warn!(fs, error = %err, "cannot mount CephFS; reading through the manager");
            read_groups_mgr(c, fs, n)
        }
    }
}

/// The directory that holds the subvolume groups.
const VOLUMES: &str = "/volumes";

/// Reads groups and subvolumes from the CephFS tree.
fn walk_groups(
    c: &Counted,
    mount: &Mount,
    fs: &str,
    n: usize,
) -> Result<Vec<SubvolumeGroup>, ReadError> {
    let names = match c.mds(mount.list(VOLUMES)) {
        Ok(names) => names,
        Err(err) if err.is_not_found() => return Ok(Vec::new()),
        Err(err) => return Err(err.into()),
    };
    let mut groups = Vec::new();
    // `_deleting`, `_index` and `_legacy` are the volumes module's own bookkeeping.
    for group in names
        .into_iter()
        .filter(|g| !g.starts_with('_') || g == NO_GROUP)
    {
        let subs = c.mds(mount.list(&format!("{VOLUMES}/{group}")))?;
        let subvolumes = present(parallel(&subs, n, |sub| {
            walk_subvolume(c, mount, fs, &group, sub)
        }))?;
        groups.push(SubvolumeGroup {
            name: group,
            subvolumes,
        });
    }
    Ok(groups)
}

/// One subvolume from its `.meta` record; through the manager when it has none.
fn walk_subvolume(
    c: &Counted,
    mount: &Mount,
    fs: &str,
    group: &str,
    name: &str,
) -> Result<Option<Subvolume>, ReadError> {
    let base = format!("{VOLUMES}/{group}/{name}");
    let meta = match c.mds(mount.read_small(&format!("{base}/.meta"))) {
        Ok(bytes) => parse_meta(&String::from_utf8_lossy(&bytes)),
        Err(err) if err.is_not_found() => return read_subvolume(c, fs, group, name),
        Err(err) => return Err(err.into()),
    };
    let (mut bytes_used, mut created) = (None, None);
    if let Some(path) = &meta.path {
        bytes_used = c
            .mds(mount.xattr(path, "ceph.dir.rbytes"))
            .ok()
            .and_then(|v| v.parse().ok());
        created = c.mds(mount.birth(path)).ok().flatten();
    }
    // Names that start with `_` are snapshots of a parent directory, not of the subvolume.
    let snapshots = match c.mds(mount.list(&format!("{base}/.snap"))) {
        Ok(names) => names.into_iter().filter(|s| !s.starts_with('_')).collect(),
        Err(err) if err.is_not_found() => Vec::new(),
        Err(err) => return Err(err.into()),
    };
    Ok(Some(Subvolume {
        name: name.to_owned(),
        path: meta.path,
        state: meta.state.unwrap_or_else(|| "unknown".to_owned()),
        bytes_used,
        created,
        snapshots,
    }))
}

/// Reads groups and subvolumes through the manager's volumes module.
fn read_groups_mgr(c: &Counted, fs: &str, n: usize) -> Result<Vec<SubvolumeGroup>, ReadError> {
    let listed =
        c.mgr(&json!({"prefix": "fs subvolumegroup ls", "vol_name": fs, "format": "json"}))?;
    let mut group_names = names(&listed);
    group_names.push(NO_GROUP.to_owned());
    let mut groups = Vec::new();
    for group in group_names {
        let mut cmd = json!({"prefix": "fs subvolume ls", "vol_name": fs, "format": "json"});
        if group != NO_GROUP {
            cmd["group_name"] = group.clone().into();
        }
        let subs = names(&c.mgr(&cmd)?);
        let subvolumes = present(parallel(&subs, n, |sub| read_subvolume(c, fs, &group, sub)))?;
        groups.push(SubvolumeGroup {
            name: group,
            subvolumes,
        });
    }
    Ok(groups)
}

/// One subvolume's info and snapshots; `None` when it went away since it was listed.
fn read_subvolume(
    c: &Counted,
    fs: &str,
    group: &str,
    name: &str,
) -> Result<Option<Subvolume>, ReadError> {
    let mut cmd = json!({"prefix": "fs subvolume info", "vol_name": fs, "sub_name": name,
        "format": "json"});
    if group != NO_GROUP {
        cmd["group_name"] = group.into();
    }
    let info = match c.mgr(&cmd) {
        Ok(info) => info,
        Err(ReadError::Call(err)) if err.is_not_found() => return Ok(None),
        Err(err) => return Err(err),
    };
    cmd["prefix"] = "fs subvolume snapshot ls".into();
    let snapshots = match c.mgr(&cmd) {
        Ok(list) => names(&list),
        Err(ReadError::Call(err)) if err.is_not_found() => Vec::new(),
        Err(err) => return Err(err),
    };
    Ok(Some(Subvolume {
        name: name.to_owned(),
        path: info["path"].as_str().map(str::to_owned),
        state: info["state"].as_str().unwrap_or("unknown").to_owned(),
        bytes_used: info["bytes_used"].as_u64(),
        created: info["created_at"].as_str().and_then(mgr_time),
        snapshots,
    }))
}

/// The volumes module's times, `2026-12-04 19:46:30`, in UTC.
fn mgr_time(text: &str) -> Option<Timestamp> {
    let civil: jiff::civil::DateTime = text.replace(' ', "T").parse().ok()?;
    civil
        .to_zoned(jiff::tz::TimeZone::UTC)
        .ok()
        .map(|z| z.timestamp())
}

/// ceph-csi's journal in one pool and namespace: the reservations of every instance, and the
/// volume object each leads to.
fn read_journal(
    c: &Counted,
    io: &Ioctx<'_>,
    pool: i64,
    namespace: &str,
    options: &ReadOptions,
) -> Result<Vec<JournalEntry>, ReadError> {
    let mut reservations = Vec::new();
    for instance in &options.journal_instances {
        let oid = format!("csi.volumes.{instance}");
        for (key, value) in c.omap(io, &oid, "csi.volume.")?.unwrap_or_default() {
            let request = key.trim_start_matches("csi.volume.").to_owned();
            let uuid = String::from_utf8_lossy(&value).into_owned();
            reservations.push((instance.clone(), request, uuid));
        }
    }
    let read = |(instance, request, uuid): &(String, String, String)| {
        let io = c.cluster.ioctx(pool, namespace)?;
        let keys = c.omap(&io, &format!("csi.volume.{uuid}"), "csi.")?;
        let value = |key: &str| {
            keys.iter()
                .flatten()
                .find(|(k, _)| k == key)
                .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        };
        Ok(JournalEntry {
            instance: instance.clone(),
            request_name: request.clone(),
            uuid: uuid.clone(),
            image_name: value("csi.imagename"),
            owner: value("csi.volume.owner"),
        })
    };
    parallel(&reservations, options.concurrency, read)
        .into_iter()
        .collect()
}

fn read_namespace(
    c: &Counted,
    pool: i64,
    name: String,
    options: &ReadOptions,
) -> Result<RadosNamespace, ReadError> {
    let io = c.cluster.ioctx(pool, &name)?;
    let listed: Vec<(String, String)> = c
        .omap(&io, "rbd_directory", "name_")?
        .unwrap_or_default()
        .into_iter()
        .map(|(key, value)| {
            let image = key.trim_start_matches("name_").to_owned();
            (image, ceph_string(&value).unwrap_or_default())
        })
        .collect();
    let read = |(image, id): &(String, String)| -> Result<Option<Image>, ReadError> {
        let io = c.cluster.ioctx(pool, &name)?;
        let Some(header) = c.omap(&io, &format!("rbd_header.{id}"), "")? else {
            return Ok(None);
        };
        let get = |key: &str| {
            header
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_slice())
        };
        let snapshots = header
            .iter()
            .filter(|(k, _)| k.starts_with("snapshot_"))
            .filter_map(|(_, v)| snapshot_name(v))
            .collect();
        Ok(Some(Image {
            name: image.clone(),
            id: id.clone(),
            size: get("size").and_then(le_u64),
            created: get("create_timestamp").and_then(utime),
            snapshots,
        }))
    };
    let images = present(parallel(&listed, options.concurrency, read))?;
    let journal = read_journal(c, &io, pool, &name, options)?;
    Ok(RadosNamespace {
        name,
        images,
        journal,
    })
}

/// A Ceph-encoded string: a little-endian u32 length, then the bytes.
fn ceph_string(bytes: &[u8]) -> Option<String> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let text = bytes.get(4..4 + len)?;
    Some(String::from_utf8_lossy(text).into_owned())
}

fn le_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?))
}

/// A Ceph `utime_t`: seconds and nanoseconds, each a little-endian u32.
fn utime(bytes: &[u8]) -> Option<Timestamp> {
    let secs = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?);
    let nanos = u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?);
    Timestamp::new(i64::from(secs), i32::try_from(nanos).ok()?).ok()
}

/// The name in an encoded `cls_rbd_snap`: after the 6-byte encoding header and the u64 id.
fn snapshot_name(bytes: &[u8]) -> Option<String> {
    ceph_string(bytes.get(14..)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceph_encodings_decode() {
        assert_eq!(ceph_string(b"\x03\0\0\0abcXX").as_deref(), Some("abc"));
        assert_eq!(ceph_string(b"\x09\0\0\0abc"), None);
        assert_eq!(le_u64(&1_073_741_824u64.to_le_bytes()), Some(1 << 30));
        let mut snap = vec![8, 1, 0, 0, 0, 0];
        snap.extend(4u64.to_le_bytes());
        snap.extend(b"\x05\0\0\0daily");
        assert_eq!(snapshot_name(&snap).as_deref(), Some("daily"));
        assert_eq!(
            mgr_time("2026-12-04 19:46:30").map(|t| t.to_string()),
            Some("2026-12-04T19:46:30Z".to_owned())
        );
    }

    #[test]
    fn parallel_keeps_the_order() {
        let items: Vec<u32> = (0..100).collect();
        assert_eq!(
            parallel(&items, 7, |i| i * 2),
            (0..100).map(|i| i * 2).collect::<Vec<_>>()
        );
        assert!(parallel(&Vec::<u32>::new(), 4, |i| *i).is_empty());
    }
}
