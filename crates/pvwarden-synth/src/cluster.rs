//! The objects of a synthetic cluster, with the fields kubectl prints.

use serde_json::{json, Value};

use crate::rng::Rng;

/// The Ceph cluster that the ceph-csi volumes live in.
const CLUSTER_ID: &str = "5b3c9c1e-7f0d-4a52-9a3e-2f1c6d8b4e07";

const RBD: &str = "rbd.csi.ceph.com";
const CEPHFS: &str = "cephfs.csi.ceph.com";
const NAMESPACES: &[&str] = &["default", "monitoring", "gitlab", "postgres", "kafka", "ml"];
const SIZES: &[&str] = &["1Gi", "5Gi", "10Gi", "20Gi", "50Gi", "100Gi", "500Gi"];
const APPS: &[&str] = &["data", "wal", "cache", "logs", "uploads", "state", "models"];

/// The StorageClasses and CSIDrivers that come before the volumes.
pub(crate) fn fixed_objects() -> Vec<Value> {
    let ceph_secrets = |name: &str| {
        json!({
            "csi.storage.k8s.io/controller-expand-secret-name": format!("{name}-provisioner"),
            "csi.storage.k8s.io/controller-expand-secret-namespace": "rook-ceph",
            "csi.storage.k8s.io/node-stage-secret-name": format!("{name}-node"),
            "csi.storage.k8s.io/node-stage-secret-namespace": "rook-ceph",
            "csi.storage.k8s.io/provisioner-secret-name": format!("{name}-provisioner"),
            "csi.storage.k8s.io/provisioner-secret-namespace": "rook-ceph",
        })
    };
    let mut rbd = ceph_secrets("rook-csi-rbd");
    merge(
        &mut rbd,
        json!({
            "clusterID": CLUSTER_ID, "pool": "replicapool",
            "imageFormat": "2", "imageFeatures": "layering",
            "csi.storage.k8s.io/fstype": "ext4",
        }),
    );
    let mut cephfs = ceph_secrets("rook-csi-cephfs");
    merge(
        &mut cephfs,
        json!({"clusterID": CLUSTER_ID, "fsName": "myfs", "pool": "myfs-replicated"}),
    );
    vec![
        storage_class("ceph-block", RBD, rbd, "Delete", true),
        storage_class("ceph-filesystem", CEPHFS, cephfs, "Delete", true),
        storage_class(
            "gp3",
            "ebs.csi.aws.com",
            json!({"type": "gp3"}),
            "Delete",
            false,
        ),
        storage_class(
            "nfs-csi",
            "nfs.csi.k8s.io",
            json!({"server": "nfs.storage.svc", "share": "/exports"}),
            "Retain",
            false,
        ),
        csi_driver(RBD, true),
        csi_driver(CEPHFS, false),
        csi_driver("ebs.csi.aws.com", true),
        csi_driver("nfs.csi.k8s.io", false),
    ]
}

fn merge(into: &mut Value, from: Value) {
    if let (Value::Object(into), Value::Object(from)) = (into, from) {
        into.extend(from);
    }
}

fn storage_class(
    name: &str,
    provisioner: &str,
    parameters: Value,
    reclaim: &str,
    default: bool,
) -> Value {
    json!({
        "allowVolumeExpansion": true,
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "annotations": {
                "storageclass.kubernetes.io/is-default-class": default.to_string(),
            },
            "creationTimestamp": "2024-01-10T09:12:44Z",
            "name": name,
            "resourceVersion": "1204",
            "uid": format!("0c1e2d3f-0000-4000-8000-{:012x}", name.len()),
        },
        "parameters": parameters,
        "provisioner": provisioner,
        "reclaimPolicy": reclaim,
        "volumeBindingMode": "Immediate",
    })
}

fn csi_driver(name: &str, attach: bool) -> Value {
    json!({
        "apiVersion": "storage.k8s.io/v1",
        "kind": "CSIDriver",
        "metadata": {
            "creationTimestamp": "2024-01-10T09:10:02Z",
            "name": name,
            "resourceVersion": "877",
            "uid": format!("7d41c0aa-0000-4000-8000-{:012x}", name.len()),
        },
        "spec": {
            "attachRequired": attach,
            "fsGroupPolicy": "File",
            "podInfoOnMount": false,
            "requiresRepublish": false,
            "seLinuxMount": false,
            "storageCapacity": false,
            "volumeLifecycleModes": ["Persistent"],
        },
    })
}

/// Where a volume's data lives, which decides its `spec` and its class.
enum Source {
    Rbd,
    CephFs,
    /// A static CephFS share, shared by several PVs; the share number.
    StaticShare(u64),
    Ebs,
    Nfs,
    InTreeNfs,
}

/// The lifecycle state of a volume.
#[derive(PartialEq)]
enum State {
    Bound,
    /// The claim was deleted and the volume retained.
    Released,
    /// Deletion was requested and finalizers hold it.
    Terminating,
}

/// One PersistentVolume, and its claim unless it was released.
pub(crate) fn volume(rng: &mut Rng, index: u64) -> (Value, Option<Value>) {
    let roll = rng.below(100);
    let source = match roll {
        0..=34 => Source::Rbd,
        35..=69 => Source::CephFs,
        // Shares group about three PVs each, as when one export is mounted by several apps.
        70..=84 => Source::StaticShare(index / 3),
        85..=94 => {
            if rng.percent(50) {
                Source::Ebs
            } else {
                Source::Nfs
            }
        }
        _ => Source::InTreeNfs,
    };
    let state = match rng.below(100) {
        0..=4 => State::Released,
        5..=6 => State::Terminating,
        _ => State::Bound,
    };

    let namespace = *rng.pick(NAMESPACES);
    let claim_name = format!("{}-{}-{index}", rng.pick(APPS), namespace);
    let size = *rng.pick(SIZES);
    let claim_uid = rng.uuid();
    let created = timestamp(rng);
    let dynamic = matches!(
        source,
        Source::Rbd | Source::CephFs | Source::Ebs | Source::Nfs
    );
    let pv_name = if dynamic {
        format!("pvc-{claim_uid}")
    } else {
        format!("pv-static-{index:06}")
    };
    let (class, driver, spec_source) = volume_source(rng, &source, index);

    let mut annotations = json!({});
    let mut finalizers = vec![json!("kubernetes.io/pv-protection")];
    if dynamic {
        annotations = json!({
            "pv.kubernetes.io/provisioned-by": driver,
            "volume.kubernetes.io/provisioner-deletion-secret-name": "rook-csi-provisioner",
            "volume.kubernetes.io/provisioner-deletion-secret-namespace": "rook-ceph",
        });
        finalizers.insert(
            0,
            json!("external-provisioner.volume.kubernetes.io/finalizer"),
        );
    }
    let reclaim = if dynamic { "Delete" } else { "Retain" };
    let phase = match state {
        State::Released => "Released",
        _ => "Bound",
    };

    let mut metadata = json!({
        "annotations": annotations,
        "creationTimestamp": created,
        "finalizers": finalizers,
        "name": pv_name,
        "resourceVersion": (100_000 + index * 7).to_string(),
        "uid": rng.uuid(),
    });
    if state == State::Terminating {
        merge(
            &mut metadata,
            json!({"deletionGracePeriodSeconds": 0, "deletionTimestamp": "2025-06-02T11:00:00Z"}),
        );
    }
    let mode = if matches!(source, Source::Rbd | Source::Ebs) {
        "ReadWriteOnce"
    } else {
        "ReadWriteMany"
    };
    let mut spec = json!({
        "accessModes": [mode],
        "capacity": {"storage": size},
        "claimRef": {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "name": claim_name,
            "namespace": namespace,
            "resourceVersion": (90_000 + index * 5).to_string(),
            "uid": claim_uid,
        },
        "persistentVolumeReclaimPolicy": reclaim,
        "storageClassName": class,
        "volumeMode": "Filesystem",
    });
    merge(&mut spec, spec_source);
    let pv = json!({
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": metadata,
        "spec": spec,
        "status": {"lastPhaseTransitionTime": created, "phase": phase},
    });

    let claim = (state != State::Released).then(|| {
        let bound = Bound {
            pv: &pv,
            name: &claim_name,
            namespace,
            uid: &claim_uid,
            created: &created,
            version: (90_000 + index * 5).to_string(),
        };
        claim(&bound, dynamic, driver)
    });
    (pv, claim)
}

/// What a claim shares with the volume bound to it.
struct Bound<'a> {
    pv: &'a Value,
    name: &'a str,
    namespace: &'a str,
    uid: &'a str,
    created: &'a str,
    version: String,
}

/// The claim bound to a volume.
fn claim(bound: &Bound<'_>, dynamic: bool, driver: &str) -> Value {
    let spec = &bound.pv["spec"];
    let metadata = json!({
        "annotations": claim_annotations(dynamic, driver),
        "creationTimestamp": bound.created,
        "finalizers": ["kubernetes.io/pvc-protection"],
        "name": bound.name,
        "namespace": bound.namespace,
        "resourceVersion": bound.version,
        "uid": bound.uid,
    });
    json!({
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": metadata,
        "spec": {
            "accessModes": spec["accessModes"].clone(),
            "resources": {"requests": {"storage": spec["capacity"]["storage"].clone()}},
            "storageClassName": spec["storageClassName"].clone(),
            "volumeMode": "Filesystem",
            "volumeName": bound.pv["metadata"]["name"].clone(),
        },
        "status": {
            "accessModes": spec["accessModes"].clone(),
            "capacity": spec["capacity"].clone(),
            "phase": "Bound",
        },
    })
}

fn claim_annotations(dynamic: bool, driver: &str) -> Value {
    let mut annotations = json!({
        "pv.kubernetes.io/bind-completed": "yes",
        "pv.kubernetes.io/bound-by-controller": "yes",
    });
    if dynamic {
        merge(
            &mut annotations,
            json!({
                "volume.beta.kubernetes.io/storage-provisioner": driver,
                "volume.kubernetes.io/storage-provisioner": driver,
            }),
        );
    }
    annotations
}

/// The class, the driver, and the `spec` fields that say where the data is.
fn volume_source(
    rng: &mut Rng,
    source: &Source,
    index: u64,
) -> (&'static str, &'static str, Value) {
    let secrets = |name: &str| {
        json!({
            "controllerExpandSecretRef": {
                "name": format!("{name}-provisioner"),
                "namespace": "rook-ceph",
            },
            "nodeStageSecretRef": {"name": format!("{name}-node"), "namespace": "rook-ceph"},
        })
    };
    match source {
        Source::Rbd => {
            let uuid = rng.uuid();
            let mut csi = secrets("rook-csi-rbd");
            merge(
                &mut csi,
                json!({
                    "driver": RBD,
                    "fsType": "ext4",
                    "volumeAttributes": {
                        "clusterID": CLUSTER_ID,
                        "imageFeatures": "layering",
                        "imageFormat": "2",
                        "imageName": format!("csi-vol-{uuid}"),
                        "journalPool": "replicapool",
                        "pool": "replicapool",
                        "storage.kubernetes.io/csiProvisionerIdentity":
                            "1704877802611-6347-rbd.csi.ceph.com",
                    },
                    "volumeHandle": ceph_handle(rng, 2, &uuid),
                }),
            );
            ("ceph-block", RBD, json!({"csi": csi}))
        }
        Source::CephFs => {
            let uuid = rng.uuid();
            let mut csi = secrets("rook-csi-cephfs");
            merge(
                &mut csi,
                json!({
                    "driver": CEPHFS,
                    "volumeAttributes": {
                        "clusterID": CLUSTER_ID,
                        "fsName": "myfs",
                        "pool": "myfs-replicated",
                        "storage.kubernetes.io/csiProvisionerIdentity":
                            "1704877802612-4201-cephfs.csi.ceph.com",
                        "subvolumeName": format!("csi-vol-{uuid}"),
                        "subvolumePath": format!("/volumes/csi/csi-vol-{uuid}/{}", rng.uuid()),
                    },
                    "volumeHandle": ceph_handle(rng, 1, &uuid),
                }),
            );
            ("ceph-filesystem", CEPHFS, json!({"csi": csi}))
        }
        Source::StaticShare(share) => {
            let mut csi = secrets("rook-csi-cephfs");
            merge(
                &mut csi,
                json!({
                    "driver": CEPHFS,
                    "volumeAttributes": {
                        "clusterID": CLUSTER_ID,
                        "fsName": "myfs",
                        "rootPath": format!("/volumes/shares/share-{share:05}"),
                        "staticVolume": "true",
                    },
                    // The same share under several PVs needs distinct handles.
                    "volumeHandle": format!("share-{share:05}-{index}"),
                }),
            );
            ("", CEPHFS, json!({"csi": csi}))
        }
        Source::Ebs => {
            let id = rng.next_u64();
            let csi = json!({
                "driver": "ebs.csi.aws.com",
                "fsType": "ext4",
                "volumeAttributes": {
                    "storage.kubernetes.io/csiProvisionerIdentity":
                        "1704877803001-8081-ebs.csi.aws.com",
                },
                "volumeHandle": format!("vol-{id:017x}"),
            });
            ("gp3", "ebs.csi.aws.com", json!({"csi": csi}))
        }
        Source::Nfs => {
            let uuid = rng.uuid();
            let csi = json!({
                "driver": "nfs.csi.k8s.io",
                "volumeAttributes": {
                    "server": "nfs.storage.svc",
                    "share": "/exports",
                    "subdir": format!("pvc-{uuid}"),
                },
                "volumeHandle": format!("nfs.storage.svc#exports#pvc-{uuid}##"),
            });
            ("nfs-csi", "nfs.csi.k8s.io", json!({"csi": csi}))
        }
        Source::InTreeNfs => {
            let nfs = json!({"path": format!("/exports/legacy/{index}"), "server": "10.0.8.15"});
            ("", "kubernetes.io/nfs", json!({"nfs": nfs}))
        }
    }
}

/// A ceph-csi volume handle: version, clusterID length and clusterID, pool, UUID.
fn ceph_handle(rng: &mut Rng, pool: u64, uuid: &str) -> String {
    // Pool ids stay small in practice; vary them a little around the class's pool.
    let pool = pool + rng.below(2) * 10;
    format!(
        "0001-{:04x}-{CLUSTER_ID}-{pool:016x}-{uuid}",
        CLUSTER_ID.len()
    )
}

fn timestamp(rng: &mut Rng) -> String {
    let day = rng.below(28) + 1;
    let month = rng.below(12) + 1;
    let second = rng.below(86_400);
    format!(
        "2024-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second / 3600,
        second / 60 % 60,
        second % 60
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn ceph_handles_have_the_encoded_layout() {
        let mut rng = Rng::new(1);
        let uuid = rng.uuid();
        let handle = ceph_handle(&mut rng, 2, &uuid);
        assert_eq!(handle.len(), 64 + CLUSTER_ID.len());
        assert!(handle.starts_with("0001-0024-"));
        assert!(handle.ends_with(&uuid));
    }
}
