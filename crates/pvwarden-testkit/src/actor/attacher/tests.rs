use serde_json::{json, Value};

use super::*;
use crate::actor::fixture::{bound_claim, bound_pv, Cluster};

fn attachment(name: &str, pv: &str, deleting: bool) -> Value {
    let mut va = json!({
        "metadata": {"name": name, "finalizers": ["external-attacher/csi-vsphere-vmware-com"]},
        "spec": {"attacher": "csi.vsphere.vmware.com", "nodeName": "worker-3",
                 "source": {"persistentVolumeName": pv}},
        "status": {"attached": true},
    });
    if deleting {
        va["metadata"]["deletionTimestamp"] = json!("2020-12-14T10:00:00Z");
    }
    va
}

fn deleting_pv(name: &str, finalizers: Value) -> Value {
    let mut pv = bound_pv(name, "csi.vsphere.vmware.com", "Delete", ("ns", "c", "u1"));
    pv["metadata"]["deletionTimestamp"] = json!("2020-12-14T10:00:00Z");
    pv["metadata"]["finalizers"] = finalizers;
    pv["status"]["phase"] = json!("Released");
    pv
}

#[test]
fn sanitises_driver_names_like_the_attacher() {
    assert_eq!(
        finalizer("csi.vsphere.vmware.com"),
        "external-attacher/csi-vsphere-vmware-com"
    );
    assert_eq!(
        finalizer("io.rancher.longhorn"),
        "external-attacher/io-rancher-longhorn"
    );
    assert_eq!(finalizer("example.com/"), "external-attacher/example-com-X");
}

#[test]
fn keeps_the_pv_finalizer_while_an_attachment_names_the_pv() {
    let finalizers = json!(["external-attacher/csi-vsphere-vmware-com"]);
    let snapshot = Cluster::default()
        .pv(deleting_pv("pv-a", finalizers.clone()))
        .attachment(attachment("csi-1", "pv-a", true))
        .build();
    let drivers = vec!["csi.vsphere.vmware.com".to_owned()];
    assert!(release_volumes(&snapshot, &drivers).is_empty());

    let snapshot = Cluster::default()
        .pv(deleting_pv("pv-a", finalizers))
        .build();
    assert!(matches!(
        release_volumes(&snapshot, &drivers).as_slice(),
        [Change::VolumeFinalizers { finalizers, .. }] if finalizers.is_empty()
    ));
}

#[test]
fn leaves_pvs_not_being_deleted_and_other_drivers_finalizers() {
    let mut live = bound_pv(
        "live",
        "csi.vsphere.vmware.com",
        "Delete",
        ("ns", "c", "u1"),
    );
    live["metadata"]["finalizers"] = json!(["external-attacher/csi-vsphere-vmware-com"]);
    let snapshot = Cluster::default()
        .pv(live)
        .pv(deleting_pv(
            "other",
            json!(["external-attacher/io-rancher-longhorn"]),
        ))
        .build();
    let drivers = vec!["csi.vsphere.vmware.com".to_owned()];
    assert!(release_volumes(&snapshot, &drivers).is_empty());
}

#[test]
fn deletes_attachments_of_pvs_whose_claim_is_gone() {
    let mut released = bound_pv(
        "pv-gone-claim",
        "csi.vsphere.vmware.com",
        "Delete",
        ("ns", "c", "u1"),
    );
    released["status"]["phase"] = json!("Released");
    let snapshot = Cluster::default()
        .pv(released)
        .pv(bound_pv(
            "pv-used",
            "csi.vsphere.vmware.com",
            "Delete",
            ("ns", "d", "u2"),
        ))
        .claim(bound_claim("ns", "d", "u2", "pv-used"))
        .attachment(attachment("csi-1", "pv-gone-claim", false))
        .attachment(attachment("csi-2", "pv-used", false))
        .attachment(attachment("csi-3", "pv-missing", false))
        .attachment(attachment("csi-4", "pv-gone-claim", true))
        .build();
    let names: Vec<String> = unneeded_attachments(&snapshot)
        .into_iter()
        .map(|change| change.target())
        .collect();
    assert_eq!(names, ["volumeattachment/csi-1", "volumeattachment/csi-3"]);
}

#[test]
fn detaches_only_deleting_attachments_of_running_attachers() {
    let snapshot = Cluster::default()
        .attachment(attachment("csi-1", "pv-a", true))
        .attachment(attachment("csi-2", "pv-a", false))
        .build();
    let drivers = vec!["csi.vsphere.vmware.com".to_owned()];
    let pending: Vec<&str> = pending_detaches(&snapshot, &drivers)
        .map(|va| meta_name(&va.metadata))
        .collect();
    assert_eq!(pending, ["csi-1"]);
    assert_eq!(pending_detaches(&snapshot, &[]).count(), 0);
}

#[test]
fn runs_attachers_for_named_drivers_except_stopped() {
    let snapshot = Cluster::default()
        .pv(deleting_pv("pv-a", json!([])))
        .attachment(attachment("csi-1", "pv-a", true))
        .build();
    let config = Config::default();
    assert_eq!(running(&snapshot, &config), ["csi.vsphere.vmware.com"]);
    let config = config.stop(Sidecar::Attacher("csi.vsphere.vmware.com".into()));
    assert!(running(&snapshot, &config).is_empty());
}
