//! Reading the facts of a PersistentVolume or claim out of its API object.
//!
//! The conversion needs no inventory, so readers run it on many objects at
//! once ([`super::Inventory::prepare`]); recurring strings are made fresh here
//! and shared when the facts are inserted ([`Strings::share`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use foldhash::HashSet;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};

use super::{display_name, time, Error};
use crate::facts::*;
use crate::object::Origin;

pub(super) fn pv_facts(
    pv: PersistentVolume,
    origin: Origin,
    strings: &mut impl Intern,
) -> Result<PvFacts, Error> {
    let name = pv.metadata.name.clone().unwrap_or_default();
    let fail = |field: &'static str, problem: String| Error {
        origin: origin.clone(),
        kind: "PersistentVolume",
        object: display_name(&name),
        field,
        problem,
    };
    if name.is_empty() {
        return Err(fail("metadata.name", "missing".into()));
    }
    let spec = pv.spec.unwrap_or_default();
    let policy = match spec.persistent_volume_reclaim_policy.as_deref() {
        None => ReclaimPolicy::Retain,
        Some("Delete") => ReclaimPolicy::Delete,
        Some("Retain") => ReclaimPolicy::Retain,
        Some("Recycle") => ReclaimPolicy::Recycle,
        Some(other) => {
            let problem = format!("expected Delete, Retain or Recycle, got {other:?}");
            return Err(fail("spec.persistentVolumeReclaimPolicy", problem));
        }
    };
    let status = pv.status.unwrap_or_default();
    let phase = match status.phase.as_deref() {
        None => None,
        Some(p) => Some(Phase::parse(p).ok_or_else(|| {
            let problem =
                format!("expected Pending, Available, Bound, Released or Failed, got {p:?}");
            fail("status.phase", problem)
        })?),
    };
    let source = pv_source(&spec, strings);
    if let Source::Csi(csi) = &source {
        if csi.driver.is_empty() {
            return Err(fail("spec.csi.driver", "missing".into()));
        }
        if csi.handle.is_empty() {
            return Err(fail("spec.csi.volumeHandle", "missing".into()));
        }
    }
    let claim_ref = spec.claim_ref.and_then(|r| {
        Some(ClaimRef {
            namespace: strings.intern(r.namespace.as_deref().unwrap_or_default()),
            name: r.name?,
            uid: r.uid.map(Uid::from),
        })
    });
    let annotations = pv.metadata.annotations.unwrap_or_default();
    let provisioned_by = annotations
        .get(ANN_PROVISIONED_BY)
        .map(|s| strings.intern(s));
    let deletion_secret = match (
        annotations.get(ANN_DELETION_SECRET_NAMESPACE),
        annotations.get(ANN_DELETION_SECRET_NAME),
    ) {
        (Some(ns), Some(n)) => Some((strings.intern(ns), strings.intern(n))),
        _ => None,
    };
    let finalizers = intern_all(strings, pv.metadata.finalizers.unwrap_or_default());
    let access_modes = intern_all(strings, spec.access_modes.unwrap_or_default());
    let capacity = spec
        .capacity
        .and_then(|c| c.get("storage").map(|q| strings.intern(&q.0)));
    // The message only matters for a Failed PV (kube-controller-manager's reason).
    let status_message = status.message.filter(|_| phase == Some(Phase::Failed));
    let storage_class = spec
        .storage_class_name
        .filter(|s| !s.is_empty())
        .map(|s| strings.intern(&s));
    let facts = PvFacts {
        name: name.clone(),
        origin,
        deletion: time(pv.metadata.deletion_timestamp),
        finalizers,
        provisioned_by,
        deletion_secret,
        policy,
        phase,
        phase_since: time(status.last_phase_transition_time),
        storage_class,
        claim_ref,
        source,
        capacity,
        access_modes,
        rare: RarePvFacts {
            migrated_to: annotations.get(ANN_MIGRATED_TO).map(|s| strings.intern(s)),
            ignored: ignored_rules(&annotations),
            status_message,
        }
        .boxed(),
    };
    Ok(facts)
}

fn pv_source(
    spec: &k8s_openapi::api::core::v1::PersistentVolumeSpec,
    strings: &mut impl Intern,
) -> Source {
    if let Some(csi) = &spec.csi {
        let all = csi.volume_attributes.iter().flatten();
        // Sized exactly: a collected vector grows by doubling, and on 100,000
        // PVs its spare room alone was 10 MB.
        let mut attributes = Vec::with_capacity(all.clone().filter_map(kept_attribute).count());
        attributes.extend(
            all.filter_map(kept_attribute)
                .map(|(k, v)| (k, strings.intern(v))),
        );
        let attributes = Attributes::new(attributes);
        let node_stage_secret = csi.node_stage_secret_ref.as_ref().map(|r| {
            let ns = r.namespace.as_deref().unwrap_or("");
            strings.intern(&format!("{ns}/{}", r.name.as_deref().unwrap_or("")))
        });
        let attr = |key: &str| csi.volume_attributes.as_ref()?.get(key).map(String::as_str);
        let root_path = attr("rootPath").is_some();
        let path_key = attr("rootPath")
            .or(attr("subvolumePath"))
            .map(|path| cephfs_path_key(attr("clusterID").unwrap_or(""), path));
        return Source::Csi(CsiSource {
            driver: strings.intern(&csi.driver),
            handle: csi.volume_handle.clone(),
            attributes,
            node_stage_secret,
            root_path,
            path_key,
        });
    }
    in_tree_source(spec).unwrap_or(Source::None)
}

/// The attribute under the name the model keeps it by, if it keeps it.
fn kept_attribute<'a>((k, v): (&String, &'a String)) -> Option<(&'static str, &'a String)> {
    KEPT_ATTRIBUTES
        .iter()
        .find(|kept| **kept == k)
        .map(|kept| (*kept, v))
}

pub(super) fn claim_facts(
    pvc: PersistentVolumeClaim,
    origin: Origin,
    strings: &mut impl Intern,
) -> Result<ClaimFacts, Error> {
    let name = pvc.metadata.name.clone().unwrap_or_default();
    let namespace = pvc
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".into());
    if name.is_empty() {
        return Err(Error {
            origin,
            kind: "PersistentVolumeClaim",
            object: format!("{namespace}/<unnamed>"),
            field: "metadata.name",
            problem: "missing".into(),
        });
    }
    let spec = pvc.spec.unwrap_or_default();
    let annotations = pvc.metadata.annotations.unwrap_or_default();
    let facts = ClaimFacts {
        namespace: strings.intern(&namespace),
        name,
        uid: pvc.metadata.uid.map(Uid::from),
        origin,
        deletion: time(pvc.metadata.deletion_timestamp),
        finalizers: intern_all(strings, pvc.metadata.finalizers.unwrap_or_default()),
        volume_name: spec.volume_name.filter(|v| !v.is_empty()),
        storage_class: spec.storage_class_name.map(|c| strings.intern(&c)),
        phase: pvc.status.and_then(|s| s.phase).map(|p| strings.intern(&p)),
        ignored: ignored_rules(&annotations).into_boxed_slice(),
    };
    Ok(facts)
}

/// Where the short strings that recur across objects come from.
pub(super) trait Intern {
    fn intern(&mut self, s: &str) -> Arc<str>;
}

/// Fresh strings, for facts read in parallel; [`Strings::share`] dedupes them later.
pub(super) struct Fresh;

impl Intern for Fresh {
    fn intern(&mut self, s: &str) -> Arc<str> {
        Arc::from(s)
    }
}

/// One shared copy of each recurring string (driver names, finalizers,
/// namespaces, attribute values) and of each recurring set of volume
/// attributes, so 100,000 volumes do not hold 100,000 copies.
#[derive(Debug, Default)]
pub(super) struct Strings {
    strings: HashSet<Arc<str>>,
    attribute_sets: HashSet<Arc<[Attribute]>>,
}

impl Intern for Strings {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(existing) = self.strings.get(s) {
            return existing.clone();
        }
        let arc: Arc<str> = Arc::from(s);
        self.strings.insert(arc.clone());
        arc
    }
}

impl Strings {
    /// Replaces a string with the shared copy, making it the shared copy if new.
    pub(super) fn share(&mut self, s: &mut Arc<str>) {
        match self.strings.get(s) {
            Some(existing) => *s = existing.clone(),
            None => {
                self.strings.insert(s.clone());
            }
        }
    }

    /// Replaces strings with the shared copies, in a slice of this thread's own.
    fn share_all(&mut self, all: &mut Box<[Arc<str>]>) {
        let mut shared: Vec<Arc<str>> = Vec::with_capacity(all.len());
        shared.extend(all.iter().map(|s| self.intern(s)));
        *all = shared.into_boxed_slice();
    }

    fn share_opt(&mut self, s: &mut Option<Arc<str>>) {
        if let Some(s) = s {
            self.share(s);
        }
    }

    /// Replaces a set of attributes with the shared copy of an equal set.
    fn share_attributes(&mut self, set: &mut Arc<[Attribute]>) {
        let mut values: Vec<Attribute> = Vec::with_capacity(set.len());
        values.extend(set.iter().map(|(k, v)| (*k, self.intern(v))));
        *set = match self.attribute_sets.get(values.as_slice()) {
            Some(existing) => existing.clone(),
            None => {
                let shared: Arc<[Attribute]> = values.into();
                self.attribute_sets.insert(shared.clone());
                shared
            }
        };
    }
}

// Facts are read on the pool's threads, between the much larger API objects
// they come from; left there, every few live bytes would pin a page of freed
// ones. So the inserting thread copies what it keeps into memory of its own
// (the `relocate` calls below and the fresh slices of `share_all`): the facts
// then sit together and the pool's pages can go back to the system.

fn relocate_str(s: &mut String) {
    *s = s.as_str().to_owned();
}

fn relocate_own(own: &mut Box<[Attribute]>) {
    if !own.is_empty() {
        *own = own.iter().map(|(k, v)| (*k, Arc::from(&**v))).collect();
    }
}

impl PvFacts {
    pub(super) fn share_strings(&mut self, strings: &mut Strings) {
        relocate_str(&mut self.name);
        strings.share_all(&mut self.finalizers);
        strings.share_opt(&mut self.provisioned_by);
        if let Some((ns, name)) = &mut self.deletion_secret {
            strings.share(ns);
            strings.share(name);
        }
        strings.share_opt(&mut self.storage_class);
        if let Some(claim_ref) = &mut self.claim_ref {
            relocate_str(&mut claim_ref.name);
            strings.share(&mut claim_ref.namespace);
        }
        if let Source::Csi(csi) = &mut self.source {
            relocate_str(&mut csi.handle);
            strings.share(&mut csi.driver);
            strings.share_opt(&mut csi.node_stage_secret);
            strings.share_attributes(&mut csi.attributes.shared);
            relocate_own(&mut csi.attributes.own);
        }
        strings.share_opt(&mut self.capacity);
        strings.share_all(&mut self.access_modes);
        if let Some(rare) = &mut self.rare {
            strings.share_opt(&mut rare.migrated_to);
        }
    }
}

impl ClaimFacts {
    pub(super) fn share_strings(&mut self, strings: &mut Strings) {
        relocate_str(&mut self.name);
        if let Some(volume) = &mut self.volume_name {
            relocate_str(volume);
        }
        strings.share(&mut self.namespace);
        strings.share_all(&mut self.finalizers);
        strings.share_opt(&mut self.storage_class);
        strings.share_opt(&mut self.phase);
    }
}

fn intern_all(strings: &mut impl Intern, all: Vec<String>) -> Box<[Arc<str>]> {
    all.iter().map(|s| strings.intern(s)).collect()
}

/// Reads the `pvwarden.io/ignore.<rule>: <reason>` annotations.
pub(super) fn ignored_rules(annotations: &BTreeMap<String, String>) -> Vec<(String, String)> {
    annotations
        .iter()
        .filter_map(|(k, v)| Some((k.strip_prefix(ANN_IGNORE_PREFIX)?.to_owned(), v.clone())))
        .collect()
}

fn in_tree_source(spec: &k8s_openapi::api::core::v1::PersistentVolumeSpec) -> Option<Source> {
    let (plugin, id) = if let Some(s) = &spec.aws_elastic_block_store {
        ("awsElasticBlockStore", s.volume_id.clone())
    } else if let Some(s) = &spec.gce_persistent_disk {
        ("gcePersistentDisk", s.pd_name.clone())
    } else if let Some(s) = &spec.azure_disk {
        ("azureDisk", s.disk_uri.clone())
    } else if let Some(s) = &spec.azure_file {
        ("azureFile", s.share_name.clone())
    } else if let Some(s) = &spec.cinder {
        ("cinder", s.volume_id.clone())
    } else if let Some(s) = &spec.vsphere_volume {
        ("vsphereVolume", s.volume_path.clone())
    } else if let Some(s) = &spec.nfs {
        ("nfs", format!("{}:{}", s.server, s.path))
    } else if let Some(s) = &spec.local {
        ("local", s.path.clone())
    } else if let Some(s) = &spec.host_path {
        ("hostPath", s.path.clone())
    } else if let Some(s) = &spec.rbd {
        (
            "rbd",
            format!("{}/{}", s.pool.as_deref().unwrap_or("rbd"), s.image),
        )
    } else if let Some(s) = &spec.cephfs {
        ("cephfs", s.path.clone().unwrap_or_else(|| "/".into()))
    } else if let Some(s) = &spec.portworx_volume {
        ("portworxVolume", s.volume_id.clone())
    } else if let Some(s) = &spec.iscsi {
        ("iscsi", format!("{}:{}", s.target_portal, s.iqn))
    } else if let Some(s) = &spec.fc {
        (
            "fc",
            s.target_wwns
                .iter()
                .flatten()
                .cloned()
                .collect::<Vec<_>>()
                .join(","),
        )
    } else if let Some(s) = &spec.flex_volume {
        ("flexVolume", s.driver.clone())
    } else if let Some(s) = &spec.glusterfs {
        ("glusterfs", s.path.clone())
    } else {
        return None;
    };
    Some(Source::InTree {
        plugin: plugin.to_owned(),
        id,
    })
}
