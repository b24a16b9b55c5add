//! Joins a Ceph inventory with the PVs: which PV uses which subvolume or image, and what is
//! left over on either side.
//!
//! A dynamic ceph-csi PV is followed the way ceph-csi itself follows it on `DeleteVolume`:
//! the handle decodes to a pool (RBD) or filesystem (CephFS) id and a uuid, the uuid leads to
//! the journal entry `csi.volume.<uuid>`, and that entry names the image or subvolume. A
//! static PV names its storage directly: `rootPath` (CephFS) or the handle as image name with
//! `pool` (RBD). A subvolume whose path a static PV copies is therefore found in use twice,
//! and reported shared, never stale.

use std::collections::HashMap;

use jiff::Timestamp;
use pvwarden_domain::driver::{Backend, CephKind};
use pvwarden_domain::evidence::human_duration;
use pvwarden_domain::facts::{CsiSource, PvFacts};
use pvwarden_domain::storage::StorageFacts;
use pvwarden_domain::volid::{self, HandleFamily};
use serde::Serialize;

use crate::inventory::{
    CephInventory, Filesystem, JournalEntry, RadosNamespace, RbdPool, CSI_GROUP,
    CSI_SNAPSHOT_PREFIX, CSI_VOLUME_PREFIX,
};

/// What kind of backend object a row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObjectKind {
    /// A CephFS subvolume.
    Subvolume,
    /// An RBD image.
    Image,
    /// A ceph-csi journal entry whose subvolume or image does not exist.
    JournalEntry,
}

/// How a backend object is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Use {
    /// One dynamic PV uses it, through ceph-csi's journal.
    #[serde(rename = "in-use-dynamic")]
    Dynamic,
    /// One static PV names it.
    #[serde(rename = "in-use-static")]
    Static,
    /// Several PVs use it.
    Shared,
    /// ceph-csi made it, and no PV uses it any more: leaked space.
    Stale,
    /// No PV uses it, and nothing says ceph-csi made it: left alone.
    Unreferenced,
    /// A ceph-csi snapshot image, which VolumeSnapshots use rather than PVs.
    Snapshot,
    /// A journal entry that leads to no subvolume or image.
    JournalWithoutStorage,
    /// ceph-csi made it under another instance's journal (`csi.volumes.<other>`) than the
    /// one(s) the PVs of the input belong to: another Kubernetes cluster may use it, so it
    /// is reported and never cleaned.
    OtherInstance,
    /// No PV of the input belongs to this Ceph cluster, so whether anything uses it is not
    /// known: [`StorageReport::unmatched`] says why.
    Unknown,
}

impl Use {
    /// The state as printed.
    pub fn as_str(&self) -> &'static str {
        match self {
            Use::Dynamic => "in-use-dynamic",
            Use::Static => "in-use-static",
            Use::Shared => "shared",
            Use::Stale => "stale",
            Use::Unreferenced => "unreferenced",
            Use::Snapshot => "snapshot",
            Use::JournalWithoutStorage => "journal-without-storage",
            Use::OtherInstance => "other-instance",
            Use::Unknown => "unknown",
        }
    }
}

/// How a PV reaches its storage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reach {
    /// Through the handle and ceph-csi's journal.
    Dynamic,
    /// By naming it: `rootPath`, or image name and pool.
    Static,
}

/// A PV that uses an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PvRef {
    /// The PV's name.
    pub name: String,
    /// How it reaches the object.
    pub reach: Reach,
}

/// The journal entry of an object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JournalRef {
    /// The ceph-csi instance.
    pub instance: String,
    /// The CSI request name.
    pub request_name: String,
    /// The uuid.
    pub uuid: String,
}

/// Where a backend object lives, enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case", tag = "type")]
pub enum Address {
    /// A subvolume: filesystem and group.
    Cephfs {
        /// The filesystem.
        filesystem: String,
        /// The subvolume group.
        group: String,
    },
    /// An image, or an RBD journal entry: pool and RADOS namespace.
    Rbd {
        /// The pool.
        pool: String,
        /// The RADOS namespace (`""` for the default one).
        namespace: String,
    },
    /// A CephFS journal entry: the filesystem's metadata pool, namespace `csi`.
    CephfsJournal {
        /// The filesystem.
        filesystem: String,
        /// Its metadata pool.
        metadata_pool: String,
    },
}

impl std::fmt::Display for Address {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Address::Cephfs { filesystem, group } => write!(f, "{filesystem}/{group}"),
            Address::Rbd { pool, namespace } if namespace.is_empty() => write!(f, "{pool}"),
            Address::Rbd { pool, namespace } => write!(f, "{pool}/{namespace}"),
            Address::CephfsJournal { filesystem, .. } => write!(f, "{filesystem} journal"),
        }
    }
}

/// One backend object and how it is used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectReport {
    /// What it is.
    pub kind: ObjectKind,
    /// Where it lives.
    pub address: Address,
    /// Its name (for a journal entry: the request name).
    pub name: String,
    /// How it is used.
    pub state: Use,
    /// The PVs that use it.
    pub pvs: Vec<PvRef>,
    /// Bytes used (subvolume) or provisioned (image).
    pub size: Option<u64>,
    /// When it was created.
    pub created: Option<Timestamp>,
    /// How long ago that was, in words.
    pub age: Option<String>,
    /// Its snapshots.
    pub snapshots: Vec<String>,
    /// The journal entry that leads to it.
    pub journal: Option<JournalRef>,
    /// The subvolume's state, as the volumes module says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subvolume_state: Option<String>,
}

/// What the storage read found behind one PV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Found {
    /// The storage exists.
    Present,
    /// The storage it names does not exist.
    Missing,
    /// The pool or filesystem its handle names does not exist.
    PoolMissing,
    /// Its handle leads to no journal entry (ceph-csi answers delete calls with OK).
    JournalMissing,
    /// Not checked; `detail` says why.
    Unchecked,
}

impl Found {
    /// The state as printed.
    pub fn as_str(&self) -> &'static str {
        match self {
            Found::Present => "present",
            Found::Missing => "missing",
            Found::PoolMissing => "pool-missing",
            Found::JournalMissing => "journal-missing",
            Found::Unchecked => "unchecked",
        }
    }

    /// Returns true when the PV's storage is known not to exist.
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            Found::Missing | Found::PoolMissing | Found::JournalMissing
        )
    }
}

/// One ceph-csi PV of this cluster and what the read found behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PvStorage {
    /// The PV's name.
    pub pv: String,
    /// How it reaches its storage.
    pub reach: Reach,
    /// What was found.
    pub found: Found,
    /// The object it uses, as `location/name`.
    pub object: Option<String>,
    /// The journal uuid its handle carries, when it decodes.
    pub uuid: Option<String>,
    /// Why, in a sentence.
    pub detail: String,
    /// The backend fact this gives the model, if any.
    #[serde(skip)]
    pub backend: Option<Backend>,
}

/// The whole join.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StorageReport {
    /// Every subvolume and image, and every journal entry without storage.
    pub objects: Vec<ObjectReport>,
    /// Every ceph-csi PV of this cluster.
    pub volumes: Vec<PvStorage>,
    /// Set when no ceph-csi PV of the input belongs to this Ceph cluster (a wrong
    /// `--cluster-id`, or the PVs of another cluster): nothing can then be called stale, and
    /// this says which cluster ids the PVs name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unmatched: Option<String>,
}

impl StorageReport {
    /// The backend facts for the model, one per PV the read could judge.
    pub fn storage_facts(&self) -> StorageFacts {
        let mut facts = StorageFacts::new();
        for volume in &self.volumes {
            if let Some(backend) = &volume.backend {
                facts.insert(volume.pv.clone(), backend.clone());
            }
        }
        facts
    }

    /// The objects in a state.
    pub fn in_state(&self, state: Use) -> impl Iterator<Item = &ObjectReport> {
        self.objects.iter().filter(move |o| o.state == state)
    }
}

/// A key for an object while PVs are being matched to it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Subvolume {
        fs: usize,
        group: usize,
        sub: usize,
    },
    Image {
        pool: usize,
        ns: usize,
        image: usize,
    },
}

/// Joins the inventory with the PVs, judging ages at `now`.
pub fn join(ceph: &CephInventory, pvs: &[PvFacts], now: Timestamp) -> StorageReport {
    let index = Index::build(ceph);
    let mut users: HashMap<Key, Vec<PvRef>> = HashMap::new();
    let mut volumes = Vec::new();
    let mut other_clusters: Vec<&str> = Vec::new();
    for pv in pvs {
        let Some(csi) = pv.csi() else { continue };
        let Some(kind) = CephKind::from_driver(&csi.driver) else {
            continue;
        };
        let cluster = csi.attribute("clusterID").unwrap_or("");
        if !cluster.is_empty() && !ceph.is_this_cluster(cluster) {
            if !other_clusters.contains(&cluster) {
                other_clusters.push(cluster);
            }
            continue;
        }
        let (storage, keys) = match kind {
            CephKind::Rbd => rbd_pv(ceph, &index, pv, csi),
            CephKind::Cephfs | CephKind::Nfs => cephfs_pv(ceph, &index, pv, csi),
        };
        for key in keys {
            users.entry(key).or_default().push(PvRef {
                name: pv.name.clone(),
                reach: storage.reach,
            });
        }
        volumes.push(storage);
    }
    let mut objects = Vec::new();
    subvolume_rows(ceph, &mut users, now, &mut objects);
    image_rows(ceph, &mut users, now, &mut objects);
    let own = own_instances(ceph, &volumes);
    for object in &mut objects {
        let foreign = object
            .journal
            .as_ref()
            .is_some_and(|j| !own.contains(&j.instance.as_str()));
        if foreign && matches!(object.state, Use::Stale | Use::JournalWithoutStorage) {
            object.state = Use::OtherInstance;
        }
    }
    let unmatched = volumes
        .is_empty()
        .then(|| unmatched_reason(ceph, &other_clusters));
    if unmatched.is_some() {
        // Without a single PV of this cluster, "no PV uses it" says nothing about the
        // storage: the PVs that do use it are simply not in the input.
        for object in &mut objects {
            if matches!(object.state, Use::Stale | Use::JournalWithoutStorage) {
                object.state = Use::Unknown;
            }
        }
    }
    StorageReport {
        objects,
        volumes,
        unmatched,
    }
}

/// The ceph-csi instances the PVs of the input belong to: those whose journal entries their
/// handles lead to. When no handle leads to any entry, the one instance of the journal if
/// there is only one; with several and no PV to tell, none is taken as the PVs' own, so no
/// reserved object is called stale.
fn own_instances<'a>(ceph: &'a CephInventory, volumes: &[PvStorage]) -> Vec<&'a str> {
    let uuids: Vec<&str> = volumes.iter().filter_map(|v| v.uuid.as_deref()).collect();
    let entries = ceph
        .filesystems
        .iter()
        .flat_map(|fs| fs.journal.iter())
        .chain(
            ceph.rbd_pools
                .iter()
                .flat_map(|p| p.namespaces.iter())
                .flat_map(|ns| ns.journal.iter()),
        );
    let mut all: Vec<&str> = Vec::new();
    let mut own: Vec<&str> = Vec::new();
    for entry in entries {
        let instance = entry.instance.as_str();
        if !all.contains(&instance) {
            all.push(instance);
        }
        if uuids.contains(&entry.uuid.as_str()) && !own.contains(&instance) {
            own.push(instance);
        }
    }
    if own.is_empty() && all.len() == 1 {
        return all;
    }
    own
}

/// Why no PV of the input is taken as this Ceph cluster's.
fn unmatched_reason(ceph: &CephInventory, other_clusters: &[&str]) -> String {
    let wanted = if ceph.cluster_ids.is_empty() {
        "this Ceph cluster".to_owned()
    } else {
        format!("cluster id {}", ceph.cluster_ids.join(", "))
    };
    if other_clusters.is_empty() {
        format!("the input holds no ceph-csi PV of {wanted}")
    } else {
        format!(
            "no ceph-csi PV of the input names {wanted}; the PVs name cluster id {}",
            other_clusters.join(", ")
        )
    }
}

/// Lookups by name, uuid and path, built once.
struct Index<'a> {
    /// (fs, group name, subvolume name) → position.
    subvolumes: HashMap<(usize, &'a str, &'a str), Key>,
    /// (fs, journal uuid) → entry.
    fs_journal: HashMap<(usize, &'a str), &'a JournalEntry>,
    /// (fs, path) → subvolume: both its data path and its own directory.
    paths: HashMap<(usize, &'a str), Key>,
    /// (pool, namespace, image name) → position.
    images: HashMap<(usize, &'a str, &'a str), Key>,
    /// (pool, namespace, journal uuid) → entry.
    rbd_journal: HashMap<(usize, &'a str, &'a str), &'a JournalEntry>,
    /// (fs, `/volumes/<group>/<name>`) → subvolume; owned because the paths are built.
    dirs: HashMap<(usize, String), Key>,
}

impl<'a> Index<'a> {
    fn build(ceph: &'a CephInventory) -> Index<'a> {
        let mut index = Index {
            subvolumes: HashMap::new(),
            fs_journal: HashMap::new(),
            paths: HashMap::new(),
            images: HashMap::new(),
            rbd_journal: HashMap::new(),
            dirs: HashMap::new(),
        };
        for (f, fs) in ceph.filesystems.iter().enumerate() {
            for entry in &fs.journal {
                index.fs_journal.insert((f, entry.uuid.as_str()), entry);
            }
            for (g, group) in fs.groups.iter().enumerate() {
                for (s, sub) in group.subvolumes.iter().enumerate() {
                    let key = Key::Subvolume {
                        fs: f,
                        group: g,
                        sub: s,
                    };
                    index
                        .subvolumes
                        .insert((f, group.name.as_str(), sub.name.as_str()), key.clone());
                    if let Some(path) = &sub.path {
                        index
                            .paths
                            .insert((f, path.trim_end_matches('/')), key.clone());
                    }
                    let dir = format!("/volumes/{}/{}", group.name, sub.name);
                    index.dirs.insert((f, dir), key);
                }
            }
        }
        for (p, pool) in ceph.rbd_pools.iter().enumerate() {
            for (n, ns) in pool.namespaces.iter().enumerate() {
                for entry in &ns.journal {
                    index
                        .rbd_journal
                        .insert((p, ns.name.as_str(), entry.uuid.as_str()), entry);
                }
                for (i, image) in ns.images.iter().enumerate() {
                    let key = Key::Image {
                        pool: p,
                        ns: n,
                        image: i,
                    };
                    index
                        .images
                        .insert((p, ns.name.as_str(), image.name.as_str()), key);
                }
            }
        }
        index
    }

    /// The subvolume holding `path` in filesystem `fs`: the path itself or one of its parents
    /// is the subvolume's data path or its directory.
    fn subvolume_at(&self, fs: usize, path: &str) -> Option<Key> {
        let mut at = path.trim_end_matches('/');
        while !at.is_empty() {
            if let Some(key) = self.paths.get(&(fs, at)) {
                return Some(key.clone());
            }
            if let Some(key) = self.dirs.get(&(fs, at.to_owned())) {
                return Some(key.clone());
            }
            at = &at[..at.rfind('/').unwrap_or(0)];
        }
        None
    }
}

impl Index<'_> {
    /// The subvolumes whose directory lies below `path` in filesystem `fs`.
    fn subvolumes_below(&self, fs: usize, path: &str) -> Vec<Key> {
        let prefix = format!("{}/", path.trim_end_matches('/'));
        let mut below: Vec<(&str, Key)> = self
            .dirs
            .iter()
            .filter(|((f, dir), _)| *f == fs && dir.starts_with(&prefix))
            .map(|((_, dir), key)| (dir.as_str(), key.clone()))
            .collect();
        // The map's order is not stable; the users of a subvolume are listed in PV order.
        below.sort_by(|a, b| a.0.cmp(b.0));
        below.into_iter().map(|(_, key)| key).collect()
    }
}

fn object_name(ceph: &CephInventory, key: &Key) -> String {
    match key {
        Key::Subvolume { fs, group, sub } => {
            let fs = &ceph.filesystems[*fs];
            let group = &fs.groups[*group];
            format!("{}/{}/{}", fs.name, group.name, group.subvolumes[*sub].name)
        }
        Key::Image { pool, ns, image } => {
            let pool = &ceph.rbd_pools[*pool];
            let ns = &pool.namespaces[*ns];
            if ns.name.is_empty() {
                format!("{}/{}", pool.name, ns.images[*image].name)
            } else {
                format!("{}/{}/{}", pool.name, ns.name, ns.images[*image].name)
            }
        }
    }
}

/// A PV's result before it is pushed.
struct Judged {
    reach: Reach,
    uuid: Option<String>,
    found: Found,
    key: Option<Key>,
    /// Subvolumes below a static `rootPath` that names a directory above them: the PV sees
    /// them all, so they are in use.
    covers: Vec<Key>,
    detail: String,
    backend: Option<Backend>,
}

impl Judged {
    /// Storage known not to exist: ceph-csi answers OK without deleting anything.
    fn missing(reach: Reach, found: Found, why: String) -> Judged {
        let backend = if found == Found::PoolMissing {
            Backend::PoolMissing(why.clone())
        } else {
            Backend::Gone(why.clone())
        };
        Judged {
            reach,
            uuid: None,
            found,
            key: None,
            covers: Vec::new(),
            detail: why,
            backend: Some(backend),
        }
    }

    /// Storage that was not looked for, and why.
    fn unchecked(reach: Reach, detail: String) -> Judged {
        Judged {
            reach,
            uuid: None,
            found: Found::Unchecked,
            key: None,
            covers: Vec::new(),
            detail,
            backend: None,
        }
    }
}

/// Records the journal uuid a dynamic PV's handle carries.
fn with_uuid(mut judged: Judged, csi: &CsiSource) -> Judged {
    judged.uuid = volid::decode(&csi.handle).ok().map(|id| id.object_uuid);
    judged
}

fn finish(pv: &PvFacts, ceph: &CephInventory, judged: Judged) -> (PvStorage, Vec<Key>) {
    let object = judged.key.as_ref().map(|key| object_name(ceph, key));
    let storage = PvStorage {
        pv: pv.name.clone(),
        reach: judged.reach,
        found: judged.found,
        object,
        uuid: judged.uuid,
        detail: judged.detail,
        backend: judged.backend,
    };
    let keys = judged.key.into_iter().chain(judged.covers).collect();
    (storage, keys)
}

fn cephfs_pv(
    ceph: &CephInventory,
    index: &Index<'_>,
    pv: &PvFacts,
    csi: &CsiSource,
) -> (PvStorage, Vec<Key>) {
    let is_static = csi.is_static_volume() || csi.root_path;
    let judged = if is_static {
        cephfs_static(ceph, index, csi)
    } else {
        with_uuid(cephfs_dynamic(ceph, index, csi), csi)
    };
    finish(pv, ceph, judged)
}

/// The filesystems a PV may be on: the one its `fsName` names, else all.
fn filesystems_of<'a>(
    ceph: &'a CephInventory,
    csi: &CsiSource,
) -> impl Iterator<Item = (usize, &'a Filesystem)> {
    let wanted = csi.attribute("fsName").map(str::to_owned);
    ceph.filesystems
        .iter()
        .enumerate()
        .filter(move |(_, fs)| wanted.as_deref().is_none_or(|name| fs.name == name))
}

fn cephfs_static(ceph: &CephInventory, index: &Index<'_>, csi: &CsiSource) -> Judged {
    let unchecked = |detail: String| Judged::unchecked(Reach::Static, detail);
    let Some(path) = csi.path.as_deref() else {
        return unchecked(
            "a static CephFS PV without rootPath: nothing names its directory".into(),
        );
    };
    for (f, fs) in filesystems_of(ceph, csi) {
        if let Some(key) = index.subvolume_at(f, path) {
            let name = object_name(ceph, &key);
            return Judged {
                reach: Reach::Static,
                uuid: None,
                found: Found::Present,
                key: Some(key),
                covers: Vec::new(),
                detail: format!("rootPath {path} lies in subvolume {name} of {}", fs.name),
                backend: Some(Backend::Found(format!(
                    "rootPath {path} is in subvolume {name}"
                ))),
            };
        }
    }
    for (f, fs) in filesystems_of(ceph, csi) {
        let below = index.subvolumes_below(f, path);
        let directory = path.trim_end_matches('/');
        let known_directory = directory.is_empty()
            || directory == "/volumes"
            || fs
                .groups
                .iter()
                .any(|g| directory == format!("/volumes/{}", g.name));
        if below.is_empty() && !known_directory {
            continue;
        }
        let detail = format!(
            "rootPath {path} is a directory of {} above {} subvolume(s), which it shares",
            fs.name,
            below.len()
        );
        return Judged {
            reach: Reach::Static,
            uuid: None,
            found: Found::Present,
            key: None,
            covers: below,
            backend: Some(Backend::Found(detail.clone())),
            detail,
        };
    }
    if !path.starts_with("/volumes/") {
        return unchecked(format!(
            "rootPath {path} is outside every subvolume; whether that directory exists is not \
             checked (it needs a walk of the CephFS tree)"
        ));
    }
    let filesystems = match csi.attribute("fsName") {
        Some(name) => format!("filesystem {name}"),
        None => "any filesystem".to_owned(),
    };
    let why = format!("no subvolume of {filesystems} holds rootPath {path}");
    Judged::missing(Reach::Static, Found::Missing, why)
}

fn cephfs_dynamic(ceph: &CephInventory, index: &Index<'_>, csi: &CsiSource) -> Judged {
    let id = match volid::decode(&csi.handle) {
        Ok(id) => id,
        Err(err) => {
            return Judged::unchecked(
                Reach::Dynamic,
                format!("the handle does not decode ({err}): ceph-csi cannot reach it"),
            )
        }
    };
    let Some((f, fs)) = ceph
        .filesystems
        .iter()
        .enumerate()
        .find(|(_, fs)| fs.id == id.location_id)
    else {
        let why = format!(
            "filesystem id {} is not in Ceph cluster {}",
            id.location_id, ceph.fsid
        );
        return Judged::missing(Reach::Dynamic, Found::PoolMissing, why);
    };
    let Some(entry) = index.fs_journal.get(&(f, id.object_uuid.as_str())) else {
        return journal_missing(&fs.name, &id.object_uuid);
    };
    let name = entry
        .image_name
        .clone()
        .or_else(|| csi.attribute("subvolumeName").map(str::to_owned))
        .unwrap_or_else(|| format!("{CSI_VOLUME_PREFIX}{}", id.object_uuid));
    let key = index
        .subvolumes
        .get(&(f, CSI_GROUP, name.as_str()))
        .cloned()
        .or_else(|| {
            fs.subvolume(&name).and_then(|(group, _)| {
                index
                    .subvolumes
                    .get(&(f, group.name.as_str(), name.as_str()))
                    .cloned()
            })
        });
    storage_behind(ceph, key, &name, &fs.name, &entry.request_name)
}

fn journal_missing(location: &str, uuid: &str) -> Judged {
    let why = format!(
        "no ceph-csi journal entry for uuid {uuid} in {location}: ceph-csi answers OK and \
         deletes nothing"
    );
    Judged::missing(Reach::Dynamic, Found::JournalMissing, why)
}

/// The end of a dynamic PV's path: the journal entry names `name`, which `key` is if it exists.
fn storage_behind(
    ceph: &CephInventory,
    key: Option<Key>,
    name: &str,
    location: &str,
    request: &str,
) -> Judged {
    match key {
        Some(key) => {
            let object = object_name(ceph, &key);
            Judged {
                reach: Reach::Dynamic,
                uuid: None,
                found: Found::Present,
                key: Some(key),
                covers: Vec::new(),
                detail: format!("journal entry {request} leads to {object}"),
                backend: Some(Backend::Found(format!(
                    "journal entry {request} leads to {object}"
                ))),
            }
        }
        None => {
            let why = format!(
                "journal entry {request} names {name} in {location}, which does not exist: \
                 ceph-csi drops the entry and answers OK"
            );
            Judged::missing(Reach::Dynamic, Found::Missing, why)
        }
    }
}

fn rbd_pv(
    ceph: &CephInventory,
    index: &Index<'_>,
    pv: &PvFacts,
    csi: &CsiSource,
) -> (PvStorage, Vec<Key>) {
    let namespace = csi.attribute("radosNamespace").unwrap_or("");
    let judged = if csi.is_static_volume() {
        rbd_static(ceph, index, csi, namespace)
    } else {
        with_uuid(rbd_dynamic(ceph, index, csi, namespace), csi)
    };
    finish(pv, ceph, judged)
}

fn rbd_static(ceph: &CephInventory, index: &Index<'_>, csi: &CsiSource, namespace: &str) -> Judged {
    let image = csi.handle.as_str();
    let pool_name = csi.attribute("pool").unwrap_or("");
    let missing = |why: String| Judged::missing(Reach::Static, Found::Missing, why);
    let Some(p) = ceph
        .rbd_pools
        .iter()
        .position(|pool| pool.name == pool_name)
    else {
        return missing(format!("pool {pool_name:?} does not exist (image {image})"));
    };
    match index.images.get(&(p, namespace, image)) {
        Some(key) => Judged {
            reach: Reach::Static,
            uuid: None,
            found: Found::Present,
            key: Some(key.clone()),
            covers: Vec::new(),
            detail: format!("the handle names image {}", object_name(ceph, key)),
            backend: Some(Backend::Found(format!(
                "image {} exists",
                object_name(ceph, key)
            ))),
        },
        None => missing(format!(
            "image {image} does not exist in pool {pool_name}{}",
            ns_suffix(namespace)
        )),
    }
}

fn ns_suffix(namespace: &str) -> String {
    if namespace.is_empty() {
        String::new()
    } else {
        format!(" namespace {namespace}")
    }
}

fn rbd_dynamic(
    ceph: &CephInventory,
    index: &Index<'_>,
    csi: &CsiSource,
    namespace: &str,
) -> Judged {
    let id = match volid::classify(&csi.handle) {
        HandleFamily::V1(id) => id,
        other => {
            let what = match other {
                HandleFamily::Migration(_) | HandleFamily::BadMigration(_) => {
                    "a migrated in-tree handle; its image is not looked up"
                }
                _ => "the handle does not decode: ceph-csi cannot reach any image through it",
            };
            return Judged::unchecked(Reach::Dynamic, what.to_owned());
        }
    };
    let Some(journal_pool) = ceph.rbd_pools.iter().position(|p| p.id == id.location_id) else {
        let why = format!(
            "pool id {} is not in Ceph cluster {}",
            id.location_id, ceph.fsid
        );
        return Judged::missing(Reach::Dynamic, Found::PoolMissing, why);
    };
    let pool: &RbdPool = &ceph.rbd_pools[journal_pool];
    let location = format!("pool {}{}", pool.name, ns_suffix(namespace));
    let Some(entry) = index
        .rbd_journal
        .get(&(journal_pool, namespace, id.object_uuid.as_str()))
    else {
        return journal_missing(&location, &id.object_uuid);
    };
    let name = entry
        .image_name
        .clone()
        .or_else(|| csi.attribute("imageName").map(str::to_owned))
        .unwrap_or_else(|| format!("{CSI_VOLUME_PREFIX}{}", id.object_uuid));
    // The image may sit in another pool than the journal (topology-aware provisioning); the
    // PV's `pool` attribute names it then.
    let image_pool = csi
        .attribute("pool")
        .and_then(|name| ceph.rbd_pools.iter().position(|p| p.name == name))
        .unwrap_or(journal_pool);
    let key = index
        .images
        .get(&(image_pool, namespace, name.as_str()))
        .cloned();
    storage_behind(ceph, key, &name, &location, &entry.request_name)
}

fn age(now: Timestamp, created: Option<Timestamp>) -> Option<String> {
    created.map(|t| human_duration(now.duration_since(t)))
}

fn state_of(users: &[PvRef], made_by_csi: bool, snapshot: bool) -> Use {
    match users {
        [] if snapshot => Use::Snapshot,
        [] if made_by_csi => Use::Stale,
        [] => Use::Unreferenced,
        [one] if one.reach == Reach::Dynamic => Use::Dynamic,
        [_] => Use::Static,
        _ => Use::Shared,
    }
}

fn journal_ref(entry: &JournalEntry) -> JournalRef {
    JournalRef {
        instance: entry.instance.clone(),
        request_name: entry.request_name.clone(),
        uuid: entry.uuid.clone(),
    }
}

/// The journal entries by the subvolume or image they name.
fn journal_by_name(journal: &[JournalEntry]) -> HashMap<&str, &JournalEntry> {
    journal
        .iter()
        .filter_map(|e| e.image_name.as_deref().map(|name| (name, e)))
        .collect()
}

fn subvolume_rows(
    ceph: &CephInventory,
    users: &mut HashMap<Key, Vec<PvRef>>,
    now: Timestamp,
    out: &mut Vec<ObjectReport>,
) {
    for (f, fs) in ceph.filesystems.iter().enumerate() {
        let by_name = journal_by_name(&fs.journal);
        for (g, group) in fs.groups.iter().enumerate() {
            for (s, sub) in group.subvolumes.iter().enumerate() {
                let key = Key::Subvolume {
                    fs: f,
                    group: g,
                    sub: s,
                };
                let pvs = users.remove(&key).unwrap_or_default();
                let journal = by_name.get(sub.name.as_str()).copied();
                let made_by_csi = journal.is_some()
                    || (group.name == CSI_GROUP && sub.name.starts_with(CSI_VOLUME_PREFIX));
                out.push(ObjectReport {
                    kind: ObjectKind::Subvolume,
                    address: Address::Cephfs {
                        filesystem: fs.name.clone(),
                        group: group.name.clone(),
                    },
                    name: sub.name.clone(),
                    state: state_of(&pvs, made_by_csi, false),
                    pvs,
                    size: sub.bytes_used,
                    created: sub.created,
                    age: age(now, sub.created),
                    snapshots: sub.snapshots.clone(),
                    journal: journal.map(journal_ref),
                    subvolume_state: Some(sub.state.clone()),
                });
            }
        }
        for entry in &fs.journal {
            let exists = entry
                .image_name
                .as_deref()
                .is_some_and(|name| fs.subvolume(name).is_some());
            if !exists {
                out.push(journal_row(
                    entry,
                    Address::CephfsJournal {
                        filesystem: fs.name.clone(),
                        metadata_pool: fs.metadata_pool.clone(),
                    },
                ));
            }
        }
    }
}

fn journal_row(entry: &JournalEntry, address: Address) -> ObjectReport {
    ObjectReport {
        kind: ObjectKind::JournalEntry,
        address,
        name: entry.request_name.clone(),
        state: Use::JournalWithoutStorage,
        pvs: Vec::new(),
        size: None,
        created: None,
        age: None,
        snapshots: Vec::new(),
        journal: Some(journal_ref(entry)),
        subvolume_state: None,
    }
}

fn image_rows(
    ceph: &CephInventory,
    users: &mut HashMap<Key, Vec<PvRef>>,
    now: Timestamp,
    out: &mut Vec<ObjectReport>,
) {
    for (p, pool) in ceph.rbd_pools.iter().enumerate() {
        for (n, ns) in pool.namespaces.iter().enumerate() {
            let by_name = journal_by_name(&ns.journal);
            let address = Address::Rbd {
                pool: pool.name.clone(),
                namespace: ns.name.clone(),
            };
            for (i, image) in ns.images.iter().enumerate() {
                let key = Key::Image {
                    pool: p,
                    ns: n,
                    image: i,
                };
                let pvs = users.remove(&key).unwrap_or_default();
                let journal = by_name.get(image.name.as_str()).copied();
                let made_by_csi = journal.is_some() || image.name.starts_with(CSI_VOLUME_PREFIX);
                let snapshot = image.name.starts_with(CSI_SNAPSHOT_PREFIX);
                out.push(ObjectReport {
                    kind: ObjectKind::Image,
                    address: address.clone(),
                    name: image.name.clone(),
                    state: state_of(&pvs, made_by_csi, snapshot),
                    pvs,
                    size: image.size,
                    created: image.created,
                    age: age(now, image.created),
                    snapshots: image.snapshots.clone(),
                    journal: journal.map(journal_ref),
                    subvolume_state: None,
                });
            }
            journal_rows_without_image(ns, &address, out);
        }
    }
}

fn journal_rows_without_image(ns: &RadosNamespace, address: &Address, out: &mut Vec<ObjectReport>) {
    for entry in &ns.journal {
        let exists = entry
            .image_name
            .as_deref()
            .is_some_and(|name| ns.image(name).is_some());
        if !exists {
            out.push(journal_row(entry, address.clone()));
        }
    }
}
