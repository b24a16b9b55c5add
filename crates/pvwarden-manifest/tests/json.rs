//! Reading JSON: kubectl lists, API lists, concatenated values, and broken input.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use common::read;
use pvwarden_domain::object::Object;

#[test]
fn kubectl_json_list_yields_items_with_their_lines() {
    let read = read("list.json", include_str!("data/kubectl-list.json"));
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    assert_eq!(
        read.objects(),
        vec![
            (
                "PersistentVolume",
                "pvc-0b6e1a52-8f43-4c3b-9a3e-6d2f1c0a9b11".into(),
                4
            ),
            ("PersistentVolumeClaim", "data-postgres-0".into(), 32),
            ("StorageClass", "ceph-block".into(), 62),
        ]
    );
    assert_eq!(read.summary.skipped.get("ConfigMap"), Some(&1));
    assert_eq!(read.summary.documents, 1);
}

#[test]
fn api_list_items_without_kind_are_typed_by_the_list() {
    let read = read("pvs.json", include_str!("data/api-list.json"));
    assert_eq!(
        read.objects(),
        vec![
            ("PersistentVolume", "pv-a".into(), 2),
            ("PersistentVolume", "pv-c".into(), 4),
        ]
    );
    assert_eq!(
        read.messages(),
        vec![
            "failed to decode PersistentVolume pv-b at pvs.json:3:59 in field \
             spec.capacity.storage"
        ]
    );
    let Object::PersistentVolume(pv) = &read.objects[0].object else {
        panic!("not a PersistentVolume");
    };
    let attributes = pv
        .spec
        .as_ref()
        .unwrap()
        .csi
        .as_ref()
        .unwrap()
        .volume_attributes
        .as_ref();
    assert_eq!(attributes.unwrap()["staticVolume"], "true");
}

#[test]
fn list_kind_after_kindless_items_is_found_ahead() {
    let text = r#"{"apiVersion": "v1", "items": [
  {"metadata": {"name": "a"}},
  {"metadata": {"name": "b"}}
], "kind": "NodeList", "metadata": {}}"#;
    let read = read("nodes.json", text);
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    assert_eq!(
        read.objects(),
        vec![("Node", "a".into(), 2), ("Node", "b".into(), 3)]
    );
}

#[test]
fn ndjson_goes_on_after_bad_objects() {
    let read = read("stream.ndjson", include_str!("data/wrong-types.ndjson"));
    assert_eq!(
        read.objects(),
        vec![
            ("PersistentVolume", "ok-1".into(), 1),
            ("PersistentVolume", "ok-2".into(), 6),
        ]
    );
    assert_eq!(
        read.messages(),
        vec![
            "failed to decode PersistentVolumeClaim ns/bad at stream.ndjson:3:38 in field \
             spec.accessModes",
            "invalid JSON at stream.ndjson:5:20",
        ]
    );
    assert_eq!(read.summary.skipped.get("Service"), Some(&1));
    assert_eq!(read.summary.documents, 5);
}

#[test]
fn top_level_array_holds_objects() {
    let text = r#"[{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"}}, 3,
{"apiVersion":"storage.k8s.io/v1","kind":"VolumeAttachment","metadata":{"name":"va"},
 "spec":{"attacher":"rbd.csi.ceph.com","nodeName":"n1","source":{"persistentVolumeName":"pv"}}}]"#;
    let read = read("array.json", text);
    assert_eq!(
        read.objects(),
        vec![("Pod", "p".into(), 1), ("VolumeAttachment", "va".into(), 2)]
    );
    assert_eq!(
        read.messages(),
        vec!["expected a Kubernetes object at array.json:1:60, found a scalar"]
    );
}

#[test]
fn truncated_json_stops_the_file_with_one_error() {
    let text =
        "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"n\"}}\n{\"apiVersion\":";
    let read = read("cut.json", text);
    assert_eq!(read.objects(), vec![("Node", "n".into(), 1)]);
    assert_eq!(read.messages(), vec!["invalid JSON at cut.json:2:15"]);
}
