//! The storage join as findings and table rows, for `pvwarden ceph audit`.

use pvwarden_domain::rule::{Finding, Rule, Severity};
use pvwarden_domain::verdict::OnDelete;

use crate::join::{ObjectKind, ObjectReport, PvStorage, StorageReport, Use};

/// A subvolume or image that ceph-csi made and no PV uses any more.
pub const STALE_STORAGE: Rule = Rule {
    id: "ceph-stale-storage",
    severity: Severity::Warning,
    summary: "A ceph-csi subvolume or image that no PV uses: leaked space.",
};

/// A journal entry that leads to no subvolume or image.
pub const JOURNAL_WITHOUT_STORAGE: Rule = Rule {
    id: "ceph-journal-without-storage",
    severity: Severity::Warning,
    summary: "A ceph-csi journal entry whose subvolume or image does not exist.",
};

/// A PV whose storage is gone.
pub const STORAGE_MISSING: Rule = Rule {
    id: "ceph-storage-missing",
    severity: Severity::Error,
    summary: "A PV whose subvolume, image, journal entry, pool or filesystem does not exist.",
};

/// Storage that several PVs use.
pub const SHARED_STORAGE: Rule = Rule {
    id: "ceph-shared-storage",
    severity: Severity::Info,
    summary: "A subvolume or image that several PVs use.",
};

/// No PV of the input belongs to the Ceph cluster read: nothing can be judged stale.
pub const NO_PV_OF_CLUSTER: Rule = Rule {
    id: "ceph-no-pv-of-cluster",
    severity: Severity::Warning,
    summary: "No PV of the input belongs to this Ceph cluster: use of its storage is unknown.",
};

/// A ceph-csi object reserved by another ceph-csi instance than the PVs' one.
pub const OTHER_INSTANCE: Rule = Rule {
    id: "ceph-other-instance",
    severity: Severity::Info,
    summary: "A ceph-csi object another ceph-csi instance reserved: never cleaned from here.",
};

/// Every rule of the storage audit.
pub const RULES: &[Rule] = &[
    STALE_STORAGE,
    JOURNAL_WITHOUT_STORAGE,
    STORAGE_MISSING,
    SHARED_STORAGE,
    NO_PV_OF_CLUSTER,
    OTHER_INSTANCE,
];

/// A finding about a backend object or a PV, with the object it is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The kind of object, as the baseline records it (`CephSubvolume`, `PersistentVolume`).
    pub kind: &'static str,
    /// Its name, as `location/name` for backend objects.
    pub object: String,
    /// The finding.
    pub finding: Finding,
}

/// Bytes in the largest binary unit that keeps a whole number before the point.
pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

impl ObjectReport {
    /// `location/name`, e.g. `cephfs/csi/csi-vol-…` or `rbd/csi-vol-…`.
    pub fn path(&self) -> String {
        format!("{}/{}", self.address, self.name)
    }

    /// The kind as the baseline and SARIF name it.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            ObjectKind::Subvolume => "CephSubvolume",
            ObjectKind::Image => "RbdImage",
            ObjectKind::JournalEntry => "CephCsiJournalEntry",
        }
    }

    /// Size, age, snapshots and journal entry, in words.
    pub fn facts(&self) -> String {
        let mut parts = Vec::new();
        match self.size {
            Some(size) => parts.push(human_bytes(size)),
            None => parts.push("size unknown".to_owned()),
        }
        if let Some(age) = &self.age {
            parts.push(format!("created {age} ago"));
        }
        if !self.snapshots.is_empty() {
            parts.push(format!("{} snapshot(s)", self.snapshots.len()));
        }
        if let Some(journal) = &self.journal {
            parts.push(format!("journal entry {}", journal.request_name));
        }
        parts.join(", ")
    }
}

/// The findings of a storage join; `on_delete` gives the audit's verdict for a PV by name.
pub fn findings(
    report: &StorageReport,
    on_delete: &dyn Fn(&str) -> Option<OnDelete>,
) -> Vec<Located> {
    let mut out = Vec::new();
    if let Some(why) = &report.unmatched {
        out.push(Located {
            kind: "CephCluster",
            object: "storage".to_owned(),
            finding: Finding::new(
                NO_PV_OF_CLUSTER,
                format!("{why}: every subvolume and image no PV names is reported unknown"),
                "give the PVs of the Kubernetes cluster that uses this Ceph cluster, or the \
                 right --cluster-id",
            ),
        });
    }
    for object in &report.objects {
        let finding = match object.state {
            Use::OtherInstance => Finding::new(
                OTHER_INSTANCE,
                format!(
                    "reserved by ceph-csi instance {} ({})",
                    object.journal.as_ref().map_or("", |j| j.instance.as_str()),
                    object.facts()
                ),
                "another ceph-csi instance (often another Kubernetes cluster) owns it; judge it \
                 with that cluster's PVs",
            ),
            Use::Stale => Finding::new(
                STALE_STORAGE,
                format!("no PV uses it ({})", object.facts()),
                "if nothing outside Kubernetes uses it, `pvwarden ceph clean` removes it (with \
                 its journal entry) after you confirm the plan",
            ),
            Use::JournalWithoutStorage => Finding::new(
                JOURNAL_WITHOUT_STORAGE,
                format!(
                    "the journal entry {} (uuid {}) leads to no {}",
                    object.name,
                    object.journal.as_ref().map_or("", |j| j.uuid.as_str()),
                    match object.address {
                        crate::join::Address::Rbd { .. } => "image",
                        _ => "subvolume",
                    }
                ),
                "`pvwarden ceph clean` removes the entry once no PV's handle leads to it",
            ),
            Use::Shared => Finding::new(
                SHARED_STORAGE,
                format!(
                    "used by {} PVs: {}",
                    object.pvs.len(),
                    object
                        .pvs
                        .iter()
                        .map(|p| p.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                "keep every PV but the one that owns the storage on Retain; see `pvwarden audit`",
            ),
            _ => continue,
        };
        out.push(Located {
            kind: object.kind_name(),
            object: object.path(),
            finding,
        });
    }
    for volume in report.volumes.iter().filter(|v| v.found.is_missing()) {
        out.push(Located {
            kind: "PersistentVolume",
            object: volume.pv.clone(),
            finding: missing_finding(volume, on_delete(&volume.pv)),
        });
    }
    out
}

fn missing_finding(volume: &PvStorage, on_delete: Option<OnDelete>) -> Finding {
    let next = match on_delete {
        Some(OnDelete::Hangs) => "deleting it hangs".to_owned(),
        Some(outcome) => format!(
            "deleting it: {} (nothing is left to destroy)",
            outcome.as_str()
        ),
        None => "what deleting it does was not judged".to_owned(),
    };
    Finding::new(
        STORAGE_MISSING,
        format!("its storage is gone: {}; {next}", volume.detail),
        "restore the storage from a backup if its data is needed; otherwise delete the claim \
         and the PV (`pvwarden explain` shows the safe way)",
    )
}

/// The storage table: headers and one row per object.
pub fn object_rows(report: &StorageReport, wide: bool) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let mut headers = vec!["STORAGE", "KIND", "STATE", "SIZE", "AGE", "PVS"];
    if wide {
        headers.extend(["SNAPSHOTS", "JOURNAL"]);
    }
    let rows = report
        .objects
        .iter()
        .map(|o| {
            let pvs = if o.pvs.is_empty() {
                "-".to_owned()
            } else {
                o.pvs
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let kind = match o.kind {
                ObjectKind::Subvolume => "subvolume",
                ObjectKind::Image => "image",
                ObjectKind::JournalEntry => "journal",
            };
            let mut row = vec![
                o.path(),
                kind.to_owned(),
                o.state.as_str().to_owned(),
                o.size.map_or("-".to_owned(), human_bytes),
                o.age.clone().unwrap_or_else(|| "-".to_owned()),
                pvs,
            ];
            if wide {
                row.push(o.snapshots.len().to_string());
                row.push(
                    o.journal
                        .as_ref()
                        .map_or("-".to_owned(), |j| j.uuid.clone()),
                );
            }
            row
        })
        .collect();
    (headers, rows)
}

/// The PVs whose storage is missing, as table rows.
pub fn missing_rows(report: &StorageReport) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let rows = report
        .volumes
        .iter()
        .filter(|v| v.found.is_missing())
        .map(|v| vec![v.pv.clone(), v.found.as_str().to_owned(), v.detail.clone()])
        .collect();
    (vec!["PV", "STORAGE", "WHY"], rows)
}
