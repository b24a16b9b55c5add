//! The plan of `pvwarden ceph clean`: which stale objects go, how, and what is refused.
//!
//! The plan is pure: it is made from a [`StorageReport`], printed, and bound to a digest of
//! its own canonical text. Removing storage cannot be undone, so `--apply` takes the digest
//! the operator confirmed, re-reads the cluster, makes the plan again and goes ahead only if
//! the digests match; each object is then checked once more right before it is removed.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::join::{Address, JournalRef, ObjectKind, ObjectReport, StorageReport, Use};
use crate::report::human_bytes;

/// What the operator allows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// Removes RBD images for good instead of moving them to the RBD trash (an image with
    /// snapshots still goes to the trash, with its snapshots).
    pub purge: bool,
    /// Also removes objects that have snapshots (with their snapshots).
    pub with_snapshots: bool,
}

/// How one object is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Removal {
    /// `fs subvolume rm` (the volumes module purges the data in the background).
    Subvolume,
    /// The image moves to the RBD trash, from which `rbd trash restore` brings it back.
    ImageToTrash,
    /// The image is removed for good.
    ImagePurge,
    /// Only the journal entry goes (its storage is already gone).
    JournalEntry,
}

/// One removal of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Action {
    /// How it is removed.
    pub removal: Removal,
    /// Where the object lives.
    pub address: Address,
    /// Its name.
    pub name: String,
    /// Its size in bytes, when known.
    pub size: Option<u64>,
    /// How old it is, in words.
    pub age: Option<String>,
    /// Its snapshots, removed with it.
    pub snapshots: Vec<String>,
    /// The journal entry removed with it.
    pub journal: Option<JournalRef>,
}

/// An object the plan leaves alone, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    /// `location/name`.
    pub object: String,
    /// Why it stays.
    pub why: String,
}

/// A clean plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    /// The removals, in order.
    pub actions: Vec<Action>,
    /// The stale objects left alone.
    pub refused: Vec<Refusal>,
    /// The digest `--confirm` must repeat.
    pub digest: String,
}

impl Action {
    /// `location/name`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.address, self.name)
    }

    /// The action in plain words.
    pub fn describe(&self) -> String {
        let mut facts = Vec::new();
        if let Some(size) = self.size {
            facts.push(human_bytes(size));
        }
        if let Some(age) = &self.age {
            facts.push(format!("created {age} ago"));
        }
        if !self.snapshots.is_empty() {
            facts.push(format!(
                "with its {} snapshot(s): {}",
                self.snapshots.len(),
                self.snapshots.join(", ")
            ));
        }
        let facts = if facts.is_empty() {
            String::new()
        } else {
            format!(" ({})", facts.join(", "))
        };
        let journal = self.journal.as_ref().map_or(String::new(), |j| {
            format!(
                ", and its ceph-csi journal entry {} (uuid {})",
                j.request_name, j.uuid
            )
        });
        match self.removal {
            Removal::Subvolume => format!(
                "remove subvolume {}{facts}{journal}; its data is deleted and cannot be \
                 brought back",
                self.path()
            ),
            Removal::ImageToTrash => format!(
                "move image {} to the RBD trash{facts}{journal}; `rbd trash restore` brings \
                 the image back until the trash is purged",
                self.path()
            ),
            Removal::ImagePurge => format!(
                "remove image {} for good{facts}{journal}; its data cannot be brought back",
                self.path()
            ),
            Removal::JournalEntry => format!(
                "remove the ceph-csi journal entry {} (uuid {}), whose storage is already gone",
                self.name,
                self.journal.as_ref().map_or("", |j| j.uuid.as_str())
            ),
        }
    }
}

/// Makes the plan: every stale object and every journal entry without storage, less what
/// is refused.
pub fn plan(report: &StorageReport, options: Options) -> Plan {
    // Uuids that some PV's handle still leads to: their journal entries stay, even when
    // their storage is gone, so that the PV's story does not change under it.
    let mut actions = Vec::new();
    let mut refused = Vec::new();
    for object in &report.objects {
        let removal = match (object.state, object.kind) {
            (Use::Stale, ObjectKind::Subvolume) => Removal::Subvolume,
            // librbd removes no image that has snapshots; moving it to the trash with them
            // is what apply does, so the plan says so.
            (Use::Stale, ObjectKind::Image) if options.purge && object.snapshots.is_empty() => {
                Removal::ImagePurge
            }
            (Use::Stale, ObjectKind::Image) => Removal::ImageToTrash,
            (Use::JournalWithoutStorage, _) => Removal::JournalEntry,
            _ => continue,
        };
        if let Some(why) = refusal(report, object, options) {
            refused.push(Refusal {
                object: object.path(),
                why,
            });
            continue;
        }
        actions.push(Action {
            removal,
            address: object.address.clone(),
            name: object.name.clone(),
            size: object.size,
            age: object.age.clone(),
            snapshots: object.snapshots.clone(),
            journal: object.journal.clone(),
        });
    }
    let digest = digest(&actions);
    Plan {
        actions,
        refused,
        digest,
    }
}

fn refusal(report: &StorageReport, object: &ObjectReport, options: Options) -> Option<String> {
    if !object.pvs.is_empty() {
        return Some("a PV uses it".to_owned());
    }
    if object.kind != ObjectKind::JournalEntry && object.journal.is_none() {
        // ceph-csi drops a reservation only after its volume is gone, so a volume without
        // one in the journals read most likely belongs to an instance whose journal was not
        // read: another Kubernetes cluster's volume.
        return Some(
            "no reservation in the ceph-csi journals read names it: it may belong to another \
             ceph-csi instance; read every instance's journal (--journal-instance)"
                .to_owned(),
        );
    }
    if let Some(journal) = &object.journal {
        let used = report
            .volumes
            .iter()
            .find(|v| v.uuid.as_deref() == Some(journal.uuid.as_str()));
        if let Some(volume) = used {
            return Some(format!(
                "PV {} carries its journal uuid {}",
                volume.pv, journal.uuid
            ));
        }
    }
    if !object.snapshots.is_empty() && !options.with_snapshots {
        return Some(format!(
            "it has {} snapshot(s) ({}); --with-snapshots removes them too",
            object.snapshots.len(),
            object.snapshots.join(", ")
        ));
    }
    if object
        .subvolume_state
        .as_deref()
        .is_some_and(|s| s != "complete")
    {
        return Some(format!(
            "its state is {}, not complete: a clone or a purge may be under way",
            object.subvolume_state.as_deref().unwrap_or("")
        ));
    }
    None
}

/// The digest of a plan: SHA-256 over one canonical line per action, first 16 hex digits.
///
/// Sizes and ages are left out: they change between the plan and `--apply` without the
/// plan changing. Neither the digest nor the re-check before each removal sees whether a
/// client still mounts a subvolume or maps an image: such storage is removed under it.
fn digest(actions: &[Action]) -> String {
    let mut hasher = Sha256::new();
    for action in actions {
        let line = serde_json::json!([
            action.removal,
            action.address,
            action.name,
            action.snapshots,
            action
                .journal
                .as_ref()
                .map(|j| (&j.instance, &j.request_name, &j.uuid)),
        ]);
        hasher.update(line.to_string().as_bytes());
        hasher.update(b"\n");
    }
    let hash = hasher.finalize();
    hash.iter().take(8).map(|b| format!("{b:02x}")).collect()
}
