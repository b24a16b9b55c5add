use serde_json::{json, Value};

use super::*;
use crate::actor::fixture::{bound_pv, object, Cluster};

const CURRENT: Version = Version::new(6, 2, 0);

fn provisioner(name: &str) -> Provisioner {
    Provisioner::new(name, CURRENT, None)
}

fn pv(value: Value) -> Arc<PersistentVolume> {
    object(value)
}

fn released(mut value: Value) -> Value {
    value["status"]["phase"] = json!("Released");
    value
}

fn deleting(mut value: Value) -> Value {
    value["metadata"]["deletionTimestamp"] = json!("2024-11-14T09:12:44Z");
    value
}

#[test]
fn owns_static_csi_pvs_of_its_driver_from_3_5() {
    let static_pv = pv(bound_pv(
        "copy",
        "rook-ceph.cephfs.csi.ceph.com",
        "Delete",
        ("a", "b", "c"),
    ));
    assert!(provisioner("rook-ceph.cephfs.csi.ceph.com").owns(&static_pv));
    assert!(!provisioner("rook-ceph.rbd.csi.ceph.com").owns(&static_pv));
    let old = Provisioner::new("rook-ceph.cephfs.csi.ceph.com", Version::new(3, 4, 0), None);
    assert!(!old.owns(&static_pv));
}

#[test]
fn the_annotation_decides_even_against_the_driver() {
    // Case 13: provisioner name and driver name differ by design.
    let mut value = bound_pv("pvc-1", "io.rancher.longhorn", "Delete", ("a", "b", "c"));
    value["metadata"]["annotations"] = json!({ANN_PROVISIONED_BY: "rancher.io/longhorn"});
    let dynamic = pv(value);
    assert!(provisioner("rancher.io/longhorn").owns(&dynamic));
    assert!(!provisioner("io.rancher.longhorn").owns(&dynamic));
}

#[test]
fn migrated_to_names_the_owner_too() {
    let mut value = bound_pv("pvc-1", "rbd.csi.ceph.com", "Delete", ("a", "b", "c"));
    value["metadata"]["annotations"] =
        json!({ANN_PROVISIONED_BY: "kubernetes.io/rbd", ANN_MIGRATED_TO: "rbd.csi.ceph.com"});
    assert!(provisioner("rbd.csi.ceph.com").owns(&pv(value)));
}

#[test]
fn adds_its_finalizer_to_bound_delete_pvs_only() {
    let p = provisioner("d");
    let bound = pv(bound_pv("pv", "d", "Delete", ("a", "b", "c")));
    assert_eq!(
        p.finalizer_change(&bound),
        Some(vec![
            "kubernetes.io/pv-protection".to_owned(),
            FINALIZER.to_owned()
        ])
    );
    assert_eq!(
        p.finalizer_change(&pv(released(bound_pv(
            "pv",
            "d",
            "Delete",
            ("a", "b", "c")
        )))),
        None
    );
    assert_eq!(
        p.finalizer_change(&pv(deleting(bound_pv(
            "pv",
            "d",
            "Delete",
            ("a", "b", "c")
        )))),
        None
    );
    let off = Provisioner::new("d", Version::new(4, 0, 0), None);
    assert_eq!(off.finalizer_change(&bound), None);
}

#[test]
fn removes_its_finalizer_from_retain_pvs_even_when_deleting() {
    let mut value = deleting(released(bound_pv("pv", "d", "Retain", ("a", "b", "c"))));
    value["metadata"]["finalizers"] = json!(["kubernetes.io/pv-protection", FINALIZER]);
    let p = provisioner("d");
    assert_eq!(
        p.finalizer_change(&pv(value)),
        Some(vec!["kubernetes.io/pv-protection".to_owned()])
    );
}

#[test]
fn deletes_released_pvs_with_the_finalizer_or_not_yet_deleting() {
    let p = provisioner("d");
    let plain = released(bound_pv("pv", "d", "Delete", ("a", "b", "c")));
    assert!(p.should_delete(&pv(plain.clone())));
    assert!(
        !p.should_delete(&pv(deleting(plain.clone()))),
        "deleting without finalizer"
    );

    let mut held = deleting(plain.clone());
    held["metadata"]["finalizers"] = json!([FINALIZER]);
    assert!(p.should_delete(&pv(held)));

    let mut failed = plain;
    failed["status"]["phase"] = json!("Failed");
    failed["metadata"]["finalizers"] = json!([FINALIZER]);
    assert!(
        !p.should_delete(&pv(deleting(failed))),
        "case 03: Failed is never deleted"
    );
}

#[test]
fn without_the_feature_deleting_pvs_are_never_deleted() {
    let p = Provisioner::new("d", Version::new(5, 0, 0), Some(false));
    let mut held = deleting(released(bound_pv("pv", "d", "Delete", ("a", "b", "c"))));
    held["metadata"]["finalizers"] = json!([FINALIZER]);
    let held = pv(held);
    assert!(!p.should_delete(&held));
    assert_eq!(p.finalizer_change(&held), Some(Vec::new()));
}

#[test]
fn version_6_2_cannot_turn_the_feature_off() {
    assert!(Provisioner::new("d", Version::new(6, 2, 0), Some(false)).honor_reclaim_policy);
    assert!(!Provisioner::new("d", Version::new(5, 3, 0), Some(false)).honor_reclaim_policy);
}

#[test]
fn secrets_come_from_annotations_before_the_class() {
    let mut value = bound_pv("pv", "d", "Delete", ("app", "claim", "u"));
    value["metadata"]["annotations"] =
        json!({ANN_SECRET_NAME: "from-pv", ANN_SECRET_NAMESPACE: "pv-ns"});
    let snapshot = Cluster::default().pv(value).class(class(json!({
        CLASS_SECRET_NAME: "from-class", CLASS_SECRET_NAMESPACE: "class-ns"
    })));
    let snapshot = snapshot.build();
    let found = secret_name(&snapshot.volumes[0], &snapshot).unwrap();
    assert_eq!(
        found,
        Some(SecretName {
            namespace: "pv-ns".into(),
            name: "from-pv".into()
        })
    );
}

#[test]
fn empty_annotations_mean_no_secret() {
    let mut value = bound_pv("pv", "d", "Delete", ("app", "claim", "u"));
    value["metadata"]["annotations"] = json!({ANN_SECRET_NAME: "", ANN_SECRET_NAMESPACE: ""});
    let snapshot = Cluster::default()
        .pv(value)
        .class(class(
            json!({CLASS_SECRET_NAME: "s", CLASS_SECRET_NAMESPACE: "n"}),
        ))
        .build();
    assert_eq!(secret_name(&snapshot.volumes[0], &snapshot), Ok(None));
}

#[test]
fn class_secrets_resolve_templates_and_fall_back_to_defaults() {
    let snapshot = Cluster::default()
        .pv(bound_pv("pv-1", "d", "Delete", ("app", "claim", "u")))
        .class(class(json!({
            CLASS_SECRET_NAME: "${pvc.name}-${pv.name}", CLASS_SECRET_NAMESPACE: "${pvc.namespace}"
        })))
        .build();
    let found = secret_name(&snapshot.volumes[0], &snapshot).unwrap();
    assert_eq!(
        found,
        Some(SecretName {
            namespace: "app".into(),
            name: "claim-pv-1".into()
        })
    );

    let defaults = Cluster::default()
        .pv(bound_pv("pv-1", "d", "Delete", ("app", "claim", "u")))
        .class(class(
            json!({CLASS_DEFAULT_SECRET_NAME: "s", CLASS_DEFAULT_SECRET_NAMESPACE: "n"}),
        ))
        .build();
    let found = secret_name(&defaults.volumes[0], &defaults).unwrap();
    assert_eq!(
        found,
        Some(SecretName {
            namespace: "n".into(),
            name: "s".into()
        })
    );
}

#[test]
fn half_given_class_secrets_are_an_error() {
    let snapshot = Cluster::default()
        .pv(bound_pv("pv-1", "d", "Delete", ("app", "claim", "u")))
        .class(class(json!({CLASS_SECRET_NAME: "only-name"})))
        .build();
    assert!(secret_name(&snapshot.volumes[0], &snapshot).is_err());
}

#[test]
fn runs_one_provisioner_per_named_provisioner_except_in_tree_and_stopped() {
    let mut value = bound_pv("pv", "io.rancher.longhorn", "Delete", ("a", "b", "c"));
    value["metadata"]["annotations"] = json!({ANN_PROVISIONED_BY: "rancher.io/longhorn"});
    let snapshot = Cluster::default()
        .pv(value)
        .class(json!({"metadata": {"name": "intree"}, "provisioner": "kubernetes.io/aws-ebs"}))
        .build();
    let config = Config::default().stop(Sidecar::Provisioner("io.rancher.longhorn".into()));
    let names: Vec<String> = running(&snapshot, &config)
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["rancher.io/longhorn"]);
}

#[test]
fn decide_adds_finalizers_before_deleting() {
    let snapshot = Cluster::default()
        .pv(bound_pv("bound", "d", "Delete", ("a", "b", "c")))
        .pv(released(bound_pv(
            "released",
            "d",
            "Delete",
            ("a", "b", "d"),
        )))
        .pv(released(bound_pv("other", "e", "Delete", ("a", "b", "e"))))
        .build();
    let steps = decide(&snapshot, &[provisioner("d")]);
    assert_eq!(steps.len(), 2);
    assert!(
        matches!(&steps[0], Step::Finalizers(Change::VolumeFinalizers { name, .. })
            if name == "bound")
    );
    assert!(matches!(&steps[1], Step::Delete { pv, .. } if meta_name(&pv.metadata) == "released"));
}

fn class(parameters: Value) -> Value {
    json!({"metadata": {"name": "sc"}, "provisioner": "d", "parameters": parameters})
}
