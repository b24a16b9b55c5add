//! The cluster as the model sees it: compact facts about every object, indexed.
//!
//! ```text
//!   Object ──add──▶ Inventory ──▶ facts per PV, claim, class, attachment, pod use,
//!                                  events, components, snapshot contents
//! ```
//!
//! Adding an object either records its facts or returns an [`Error`] naming
//! the object and the field that could not be understood; the inventory is
//! unchanged by a rejected object, so a caller can report it and go on.

use foldhash::{HashMap, HashSet};
use std::sync::Arc;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{Event as CoreEvent, Pod, PodTemplateSpec};
use k8s_openapi::api::events::v1::Event as EventsEvent;
use k8s_openapi::api::storage::v1::{StorageClass, VolumeAttachment};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use crate::facts::*;
use crate::index::Index;
use crate::object::{Located, Object, Origin, VolumeSnapshot, VolumeSnapshotContent};
use crate::version::Version;

use self::convert::{claim_facts, pv_facts, Fresh, Intern, Strings};

mod convert;

/// An object whose facts could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin}: {kind} {object}: field {field}: {problem}")]
pub struct Error {
    /// Where the object was read.
    pub origin: Origin,
    /// The object's kind.
    pub kind: &'static str,
    /// `namespace/name` or `name` of the object, or `<unnamed>`.
    pub object: String,
    /// The field path, e.g. `spec.persistentVolumeReclaimPolicy`.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Everything the model knows about one cluster.
#[derive(Debug, Default)]
pub struct Inventory {
    pvs: Vec<PvFacts>,
    pv_index: Index,
    claims: Vec<ClaimFacts>,
    claim_index: Index,
    claims_by_volume: Index,
    classes: HashMap<String, ClassFacts>,
    csi_drivers: HashSet<String>,
    attachments: Vec<AttachmentFacts>,
    nodes: HashSet<String>,
    pod_uses: HashMap<(String, String), Vec<PodUse>>,
    snapshot_sources: HashMap<(String, String), Vec<String>>,
    snapshot_contents: Vec<SnapshotContentFacts>,
    pv_events: HashMap<String, EventFacts>,
    claim_events: HashMap<(String, String), EventFacts>,
    components: Vec<ComponentFacts>,
    kinds_seen: HashSet<&'static str>,
    replaced: Vec<String>,
    strings: Strings,
}

impl Inventory {
    /// Creates an empty inventory.
    pub fn new() -> Inventory {
        Inventory::default()
    }

    /// Records the facts of one object.
    ///
    /// # Errors
    ///
    /// Returns an [`Error`] naming the object and field when a field the model
    /// relies on has a value Kubernetes would not accept; nothing is recorded.
    pub fn add(&mut self, located: Located<Object>) -> Result<(), Error> {
        let prepared = Inventory::prepare(located)?;
        self.insert(prepared);
        Ok(())
    }

    /// Reads the facts of one object without touching an inventory.
    ///
    /// This is the costly part of [`Inventory::add`] for volumes and claims,
    /// and it needs no shared state, so readers run it on many objects at
    /// once and [`Inventory::insert`] the results in input order.
    ///
    /// # Errors
    ///
    /// As [`Inventory::add`].
    pub fn prepare(located: Located<Object>) -> Result<Prepared, Error> {
        let Located { object, origin } = located;
        Ok(match object {
            Object::PersistentVolume(pv) => {
                Prepared(Inner::Pv(Box::new(pv_facts(*pv, origin, &mut Fresh)?)))
            }
            Object::PersistentVolumeClaim(pvc) => Prepared(Inner::Claim(Box::new(claim_facts(
                *pvc, origin, &mut Fresh,
            )?))),
            object => Prepared(Inner::Other(Located { object, origin })),
        })
    }

    /// Records prepared facts.
    pub fn insert(&mut self, prepared: Prepared) {
        match prepared.0 {
            Inner::Pv(mut facts) => {
                facts.share_strings(&mut self.strings);
                self.insert_pv(*facts);
                self.kinds_seen.insert("PersistentVolume");
            }
            Inner::Claim(mut facts) => {
                facts.share_strings(&mut self.strings);
                self.insert_claim(*facts);
                self.kinds_seen.insert("PersistentVolumeClaim");
            }
            Inner::Other(located) => self.add_other(located),
        }
    }

    fn add_other(&mut self, located: Located<Object>) {
        let Located { object, origin: _ } = located;
        let kind = object.kind();
        match object {
            // Handled by `insert`; kept for a complete match.
            Object::PersistentVolume(_) | Object::PersistentVolumeClaim(_) => return,
            Object::StorageClass(sc) => self.add_class(*sc),
            Object::CsiDriver(driver) => {
                if let Some(name) = driver.metadata.name {
                    self.csi_drivers.insert(name);
                }
            }
            Object::VolumeAttachment(va) => self.add_attachment(*va),
            Object::Node(node) => {
                if let Some(name) = node.metadata.name {
                    self.nodes.insert(name);
                }
            }
            Object::Pod(pod) => self.add_pod(*pod),
            Object::Event(event) => self.add_core_event(*event),
            Object::EventV1(event) => self.add_events_event(*event),
            Object::Deployment(d) => {
                self.add_workload("Deployment", &d.metadata, Some(&d.spec.template));
            }
            Object::StatefulSet(s) => {
                self.add_workload("StatefulSet", &s.metadata, Some(&s.spec.template));
            }
            Object::DaemonSet(d) => {
                self.add_workload("DaemonSet", &d.metadata, Some(&d.spec.template));
            }
            Object::VolumeSnapshot(s) => self.add_snapshot(*s),
            Object::VolumeSnapshotContent(c) => self.add_snapshot_content(*c),
        }
        self.kinds_seen.insert(kind);
    }

    // === queries ===

    /// All PVs, in input order.
    pub fn pvs(&self) -> &[PvFacts] {
        &self.pvs
    }

    /// The position of a PV in [`Inventory::pvs`], by name.
    pub fn pv_position(&self, name: &str) -> Option<usize> {
        let hash = self.pv_index.hash(name);
        self.pv_index.get(hash, |i| self.pvs[i].name == name)
    }

    /// A PV by name.
    pub fn pv(&self, name: &str) -> Option<&PvFacts> {
        let hash = self.pv_index.hash(name);
        self.pv_index
            .get(hash, |i| self.pvs[i].name == name)
            .map(|i| &self.pvs[i])
    }

    /// Objects that replaced an earlier one of the same name, as sentences.
    ///
    /// Like `kubectl apply` of the whole input, the last one wins; the earlier
    /// may well be what the user meant.
    pub fn replaced(&self) -> &[String] {
        &self.replaced
    }

    /// All claims, in input order.
    pub fn claims(&self) -> &[ClaimFacts] {
        &self.claims
    }

    /// A claim by namespace and name.
    pub fn claim(&self, namespace: &str, name: &str) -> Option<&ClaimFacts> {
        self.claim_position(namespace, name)
            .map(|i| &self.claims[i])
    }

    /// The claim whose `spec.volumeName` names this PV, if any.
    pub fn claim_naming(&self, pv: &str) -> Option<&ClaimFacts> {
        let hash = self.claims_by_volume.hash(pv);
        let names = |i: usize| self.claims[i].volume_name.as_deref() == Some(pv);
        self.claims_by_volume
            .get(hash, names)
            .map(|i| &self.claims[i])
    }

    /// A StorageClass by name.
    pub fn class(&self, name: &str) -> Option<&ClassFacts> {
        self.classes.get(name)
    }

    /// The name of a StorageClass whose provisioner is `provisioner`, if any.
    pub fn class_with_provisioner(&self, provisioner: &str) -> Option<&str> {
        self.classes
            .iter()
            .find(|(_, c)| &*c.provisioner == provisioner)
            .map(|(name, _)| name.as_str())
    }

    /// Returns true when a CSIDriver object of this name is in the input.
    pub fn has_csi_driver(&self, name: &str) -> bool {
        self.csi_drivers.contains(name)
    }

    /// Returns true when the input held at least one object of this kind.
    ///
    /// Absence of an object only means something when its kind was collected.
    pub fn saw_kind(&self, kind: &str) -> bool {
        self.kinds_seen.contains(kind)
    }

    /// The VolumeAttachments that name a PV.
    pub fn attachments_of<'a>(&'a self, pv: &'a str) -> impl Iterator<Item = &'a AttachmentFacts> {
        self.attachments
            .iter()
            .filter(move |a| a.pv.as_deref() == Some(pv))
    }

    /// Returns true when a Node of this name is in the input.
    pub fn has_node(&self, name: &str) -> bool {
        self.nodes.contains(name)
    }

    /// The pods that use a claim.
    pub fn pods_using(&self, namespace: &str, claim: &str) -> &[PodUse] {
        let key = (namespace.to_owned(), claim.to_owned());
        self.pod_uses.get(&key).map_or(&[], Vec::as_slice)
    }

    /// The VolumeSnapshots taken from a claim.
    pub fn snapshots_of(&self, namespace: &str, claim: &str) -> &[String] {
        let key = (namespace.to_owned(), claim.to_owned());
        self.snapshot_sources.get(&key).map_or(&[], Vec::as_slice)
    }

    /// The VolumeSnapshotContents taken from a volume handle of a driver.
    pub fn snapshot_contents_of<'a>(
        &'a self,
        driver: &'a str,
        handle: &'a str,
    ) -> impl Iterator<Item = &'a SnapshotContentFacts> {
        self.snapshot_contents
            .iter()
            .filter(move |c| c.driver == driver && c.volume_handle == handle)
    }

    /// What the events say about a PV.
    pub fn pv_events(&self, pv: &str) -> Option<&EventFacts> {
        self.pv_events.get(pv)
    }

    /// What the events say about a claim.
    pub fn claim_events(&self, namespace: &str, name: &str) -> Option<&EventFacts> {
        self.claim_events
            .get(&(namespace.to_owned(), name.to_owned()))
    }

    /// The CSI components found in workloads of the input.
    pub fn components(&self) -> &[ComponentFacts] {
        &self.components
    }

    // === ingestion ===

    fn claim_position(&self, namespace: &str, name: &str) -> Option<usize> {
        let hash = self.claim_index.hash(&(namespace, name));
        self.claim_index.get(hash, |i| {
            let claim = &self.claims[i];
            *claim.namespace == *namespace && claim.name == name
        })
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        self.strings.intern(s)
    }

    fn insert_pv(&mut self, facts: PvFacts) {
        // A later document with the same name replaces the earlier one, as
        // `kubectl apply` of the stream would.
        let hash = self.pv_index.hash(facts.name.as_str());
        match self.pv_index.get(hash, |i| self.pvs[i].name == facts.name) {
            Some(i) => {
                let earlier = &self.pvs[i].origin;
                self.replaced.push(format!(
                    "PersistentVolume {} at {} replaces the one at {earlier}",
                    facts.name, facts.origin
                ));
                self.pvs[i] = facts;
            }
            None => {
                self.pvs.push(facts);
                let pvs = &self.pvs;
                self.pv_index
                    .insert(hash, pvs.len() - 1, |i| pvs[i].name.as_str());
            }
        }
    }

    fn insert_claim(&mut self, facts: ClaimFacts) {
        let replaced = self.claim_position(&facts.namespace, &facts.name);
        let index = match replaced {
            Some(i) => {
                self.replaced.push(format!(
                    "PersistentVolumeClaim {}/{} at {} replaces the one at {}",
                    facts.namespace, facts.name, facts.origin, self.claims[i].origin
                ));
                self.claims[i] = facts;
                i
            }
            None => {
                let hash = self
                    .claim_index
                    .hash(&(&*facts.namespace, facts.name.as_str()));
                self.claims.push(facts);
                let claims = &self.claims;
                let key = |i: usize| (&*claims[i].namespace, claims[i].name.as_str());
                self.claim_index.insert(hash, claims.len() - 1, key);
                claims.len() - 1
            }
        };
        if let Some(volume) = self.claims[index].volume_name.as_deref() {
            if self.claim_naming(volume).is_none() {
                let hash = self.claims_by_volume.hash(volume);
                let claims = &self.claims;
                let key = |i: usize| claims[i].volume_name.as_deref().unwrap_or("");
                self.claims_by_volume.insert(hash, index, key);
            }
        }
    }

    fn add_class(&mut self, sc: StorageClass) {
        let Some(name) = sc.metadata.name else { return };
        let parameters = sc.parameters.unwrap_or_default();
        let secret = |kind: &str| {
            let name = parameters.get(&format!("csi.storage.k8s.io/{kind}-secret-name"));
            let ns = parameters.get(&format!("csi.storage.k8s.io/{kind}-secret-namespace"));
            match (ns, name) {
                (Some(ns), Some(name)) => Some((ns.clone(), name.clone())),
                _ => None,
            }
        };
        let provisioner_secret = secret("provisioner");
        let delete_parameters = parameters
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "onDelete" | "archiveOnDelete" | "pathPattern"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let policy = match sc.reclaim_policy.as_deref() {
            Some("Retain") => ReclaimPolicy::Retain,
            Some("Recycle") => ReclaimPolicy::Recycle,
            _ => ReclaimPolicy::Delete,
        };
        let facts = ClassFacts {
            provisioner: self.intern(&sc.provisioner),
            policy,
            provisioner_secret,
            delete_parameters,
        };
        self.classes.insert(name, facts);
    }

    fn add_attachment(&mut self, va: VolumeAttachment) {
        let status = va.status.unwrap_or_default();
        self.attachments.push(AttachmentFacts {
            name: va.metadata.name.unwrap_or_default(),
            attacher: va.spec.attacher,
            node: va.spec.node_name,
            pv: va.spec.source.persistent_volume_name,
            deletion: time(va.metadata.deletion_timestamp),
            attached: status.attached,
            detach_error: status.detach_error.and_then(|e| e.message),
            attach_error: status.attach_error.and_then(|e| e.message),
        });
    }

    fn add_pod(&mut self, pod: Pod) {
        let namespace = pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        let name = pod.metadata.name.clone().unwrap_or_default();
        let Some(spec) = pod.spec else { return };
        let phase = pod.status.and_then(|s| s.phase);
        for volume in spec.volumes.iter().flatten() {
            let Some(claim) = &volume.persistent_volume_claim else {
                continue;
            };
            let uses = self
                .pod_uses
                .entry((namespace.clone(), claim.claim_name.clone()));
            uses.or_default().push(PodUse {
                pod: format!("{namespace}/{name}"),
                phase: phase.clone(),
                deletion: time(pod.metadata.deletion_timestamp.clone()),
                grace_seconds: pod.metadata.deletion_grace_period_seconds,
                node: spec.node_name.clone(),
            });
        }
    }

    fn add_core_event(&mut self, event: CoreEvent) {
        let object = &event.involved_object;
        let last = time(event.last_timestamp.clone())
            .or_else(|| event.event_time.as_ref().map(|t| t.0))
            .or_else(|| time(event.first_timestamp.clone()));
        let source = event
            .reporting_component
            .clone()
            .filter(|c| !c.is_empty())
            .or_else(|| event.source.as_ref().and_then(|s| s.component.clone()));
        let count = event
            .series
            .as_ref()
            .and_then(|s| s.count)
            .or(event.count)
            .unwrap_or(1)
            .max(1);
        let record = EventRecord::new(object, &event.reason, &event.type_, &event.message);
        self.add_event(EventRecord {
            count: u64::try_from(count).unwrap_or(1),
            last,
            source,
            ..record
        });
    }

    fn add_events_event(&mut self, event: EventsEvent) {
        let Some(object) = &event.regarding else {
            return;
        };
        let last = event
            .series
            .as_ref()
            .map(|s| s.last_observed_time.0)
            .or_else(|| event.event_time.as_ref().map(|t| t.0))
            .or_else(|| time(event.deprecated_last_timestamp.clone()));
        let count = event
            .series
            .as_ref()
            .map(|s| s.count)
            .or(event.deprecated_count)
            .unwrap_or(1)
            .max(1);
        let record = EventRecord::new(object, &event.reason, &event.type_, &event.note);
        let source = event.reporting_controller.clone();
        self.add_event(EventRecord {
            count: u64::try_from(count).unwrap_or(1),
            last,
            source,
            ..record
        });
    }

    fn add_event(&mut self, record: EventRecord<'_>) {
        let Some(name) = record.name else { return };
        let facts = match record.kind {
            Some("PersistentVolume") => self.pv_events.entry(name.to_owned()).or_default(),
            Some("PersistentVolumeClaim") => {
                let ns = record.namespace.unwrap_or("default").to_owned();
                self.claim_events.entry((ns, name.to_owned())).or_default()
            }
            _ => return,
        };
        let slot = match record.reason {
            "VolumeFailedDelete" => &mut facts.failed_delete,
            "VolumeDeleted" | "VolumeDelete" | "DeletedVolume" => &mut facts.deleted,
            reason if record.warning => {
                let slot = facts.warnings.entry(reason.to_owned()).or_insert(None);
                merge_event(slot, &record);
                return;
            }
            _ => return,
        };
        merge_event(slot, &record);
    }

    fn add_workload(&mut self, kind: &str, meta: &ObjectMeta, template: Option<&PodTemplateSpec>) {
        let Some(pod) = template.and_then(|t| t.spec.as_ref()) else {
            return;
        };
        let workload = format!(
            "{kind} {}/{}",
            meta.namespace.as_deref().unwrap_or("default"),
            meta.name.as_deref().unwrap_or("")
        );
        for container in pod
            .containers
            .iter()
            .chain(pod.init_containers.iter().flatten())
        {
            let image = container.image.clone().unwrap_or_default();
            let Some(component) = component_of(&image) else {
                continue;
            };
            let args: Vec<&str> = container
                .args
                .iter()
                .flatten()
                .chain(container.command.iter().flatten())
                .map(String::as_str)
                .collect();
            self.components.push(ComponentFacts {
                workload: workload.clone(),
                container: container.name.clone(),
                version: image_tag(&image).and_then(Version::from_tag),
                image,
                component,
                honor_gate: honor_gate(&args),
                driver: flag_value(&args, "drivername"),
            });
        }
    }

    fn add_snapshot(&mut self, snapshot: VolumeSnapshot) {
        let Some(claim) = snapshot.spec.source.persistent_volume_claim_name else {
            return;
        };
        let namespace = snapshot
            .metadata
            .namespace
            .unwrap_or_else(|| "default".into());
        let name = snapshot.metadata.name.unwrap_or_default();
        self.snapshot_sources
            .entry((namespace, claim))
            .or_default()
            .push(name);
    }

    fn add_snapshot_content(&mut self, content: VolumeSnapshotContent) {
        let Some(handle) = content.spec.source.volume_handle else {
            return;
        };
        self.snapshot_contents.push(SnapshotContentFacts {
            name: content.metadata.name.unwrap_or_default(),
            driver: content.spec.driver,
            volume_handle: handle,
            deletion_policy: content.spec.deletion_policy,
        });
    }
}

/// Facts read from one object by [`Inventory::prepare`], ready to insert.
#[derive(Debug, Clone)]
pub struct Prepared(Inner);

#[derive(Debug, Clone)]
enum Inner {
    Pv(Box<PvFacts>),
    Claim(Box<ClaimFacts>),
    Other(Located<Object>),
}

struct EventRecord<'a> {
    kind: Option<&'a str>,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    reason: &'a str,
    warning: bool,
    message: &'a str,
    count: u64,
    last: Option<Timestamp>,
    source: Option<String>,
}

impl<'a> EventRecord<'a> {
    /// The parts both Event APIs share; count, time and source are filled in by each.
    fn new(
        object: &'a k8s_openapi::api::core::v1::ObjectReference,
        reason: &'a Option<String>,
        kind: &'a Option<String>,
        message: &'a Option<String>,
    ) -> EventRecord<'a> {
        EventRecord {
            kind: object.kind.as_deref(),
            namespace: object.namespace.as_deref(),
            name: object.name.as_deref(),
            reason: reason.as_deref().unwrap_or(""),
            warning: kind.as_deref() == Some("Warning"),
            message: message.as_deref().unwrap_or(""),
            count: 1,
            last: None,
            source: None,
        }
    }
}

fn merge_event(slot: &mut Option<EventSummary>, record: &EventRecord<'_>) {
    let summary = slot.get_or_insert_with(|| EventSummary {
        count: 0,
        message: String::new(),
        last: None,
        source: None,
    });
    summary.count = summary.count.saturating_add(record.count);
    if summary.message.is_empty() || record.last >= summary.last {
        summary.message = record.message.to_owned();
        summary.last = record.last;
        summary.source = record.source.clone();
    }
}

fn time(t: Option<Time>) -> Option<Timestamp> {
    t.map(|t| t.0)
}

fn display_name(name: &str) -> String {
    if name.is_empty() {
        "<unnamed>".to_owned()
    } else {
        name.to_owned()
    }
}

fn component_of(image: &str) -> Option<Component> {
    let repo = image.rsplit('/').next().unwrap_or(image);
    let name = repo.split([':', '@']).next().unwrap_or(repo);
    match name {
        "csi-provisioner" => Some(Component::Provisioner),
        "csi-attacher" => Some(Component::Attacher),
        "cephcsi" => Some(Component::CephCsi),
        _ => None,
    }
}

fn image_tag(image: &str) -> Option<&str> {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next()?;
    last.split_once(':').map(|(_, tag)| tag)
}

/// Reads `HonorPVReclaimPolicy` from `--feature-gates=A=true,B=false` arguments.
fn honor_gate(args: &[&str]) -> Option<bool> {
    let gates = flag_value(args, "feature-gates")?;
    gates.split(',').find_map(|gate| {
        let (name, value) = gate.split_once('=')?;
        (name.trim() == "HonorPVReclaimPolicy").then(|| value.trim() == "true")
    })
}

fn flag_value(args: &[&str], flag: &str) -> Option<String> {
    let long = format!("--{flag}");
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        if let Some(value) = arg
            .strip_prefix(&long)
            .and_then(|rest| rest.strip_prefix('='))
        {
            return Some(value.to_owned());
        }
        if *arg == long {
            return iter.next().map(|v| (*v).to_owned());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_name_their_component_and_version() {
        assert_eq!(
            component_of("registry.k8s.io/sig-storage/csi-provisioner:v5.0.1"),
            Some(Component::Provisioner)
        );
        assert_eq!(
            component_of("quay.io/cephcsi/cephcsi:v3.12.0"),
            Some(Component::CephCsi)
        );
        assert_eq!(component_of("nginx:1.25"), None);
        assert_eq!(
            image_tag("quay.io/cephcsi/cephcsi:v3.12.0"),
            Some("v3.12.0")
        );
        assert_eq!(image_tag("localhost:5000/csi-provisioner"), None);
        assert_eq!(
            image_tag("r/csi-provisioner:v5.0.1@sha256:abc"),
            Some("v5.0.1")
        );
    }

    #[test]
    fn feature_gate_is_read_from_either_flag_form() {
        assert_eq!(
            honor_gate(&["--feature-gates=HonorPVReclaimPolicy=true"]),
            Some(true)
        );
        assert_eq!(
            honor_gate(&["--feature-gates", "A=true,HonorPVReclaimPolicy=false"]),
            Some(false)
        );
        assert_eq!(honor_gate(&["--v=5"]), None);
    }
}
