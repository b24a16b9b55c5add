//! Reading YAML: kubectl lists, helm streams, API lists, and broken input.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use common::read;
use pvwarden_domain::object::Object;
use pvwarden_manifest::Error;

#[test]
fn kubectl_list_yields_items_with_their_lines() {
    let read = read("list.yaml", include_str!("data/kubectl-list.yaml"));
    assert_eq!(
        read.objects(),
        vec![
            (
                "PersistentVolume",
                "pvc-0b6e1a52-8f43-4c3b-9a3e-6d2f1c0a9b11".into(),
                3
            ),
            ("PersistentVolumeClaim", "data-postgres-0".into(), 38),
            ("StorageClass", "ceph-block".into(), 61),
        ]
    );
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    assert_eq!(read.summary.documents, 1);
    assert_eq!(read.summary.objects, 3);
    assert_eq!(read.summary.skipped.get("ConfigMap"), Some(&1));
    assert_eq!(&*read.objects[0].origin.file, "list.yaml");
}

#[test]
fn kubectl_list_fields_reach_the_typed_objects() {
    let read = read("list.yaml", include_str!("data/kubectl-list.yaml"));
    let Object::PersistentVolume(pv) = &read.objects[0].object else {
        panic!("first object is not a PersistentVolume");
    };
    let spec = pv.spec.as_ref().unwrap();
    let csi = spec.csi.as_ref().unwrap();
    assert_eq!(csi.driver, "rbd.csi.ceph.com");
    assert!(csi.volume_handle.starts_with("0001-0009-rook-ceph-"));
    assert_eq!(spec.capacity.as_ref().unwrap()["storage"].0, "10Gi");
    assert_eq!(
        spec.claim_ref.as_ref().unwrap().namespace.as_deref(),
        Some("db")
    );
    assert_eq!(pv.status.as_ref().unwrap().phase.as_deref(), Some("Bound"));
    let finalizers = pv.metadata.finalizers.as_ref().unwrap();
    assert_eq!(finalizers, &["kubernetes.io/pv-protection"]);
}

#[test]
fn helm_stream_skips_comments_empty_documents_and_other_kinds() {
    let read = read("helm.yaml", include_str!("data/helm-template.yaml"));
    assert_eq!(
        read.objects(),
        vec![
            ("CSIDriver", "rbd.csi.ceph.com".into(), 3),
            ("StorageClass", "csi-rbd-sc".into(), 23),
            ("Deployment", "ceph-csi-rbd-provisioner".into(), 40),
            ("PersistentVolumeClaim", "uploads".into(), 66),
        ]
    );
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    assert_eq!(read.summary.documents, 5);
    assert_eq!(read.summary.skipped.get("ConfigMap"), Some(&1));

    let Object::Deployment(deployment) = &read.objects[2].object else {
        panic!("third object is not a Deployment");
    };
    let pod = deployment.spec.template.spec.as_ref().unwrap();
    let image = pod.containers[0].image.as_deref();
    assert_eq!(
        image,
        Some("registry.k8s.io/sig-storage/csi-provisioner:v5.0.1")
    );
}

#[test]
fn api_list_items_take_their_kind_from_a_later_list_kind() {
    let read = read("claims.yaml", include_str!("data/api-list-kind-last.yaml"));
    assert_eq!(
        read.objects(),
        vec![
            ("PersistentVolumeClaim", "data-0".into(), 3),
            ("PersistentVolumeClaim", "data-2".into(), 17),
        ]
    );
    // The middle item has a scalar where a sequence belongs; the error names it.
    assert_eq!(
        read.messages(),
        vec![
            "failed to decode PersistentVolumeClaim kafka/data-1 at claims.yaml:16:18 in field \
             spec.accessModes"
        ]
    );
    let Error::Decode { source, .. } = &read.errors[0] else {
        panic!("expected a decode error");
    };
    assert!(source.0.contains("expected a sequence"), "{source}");
}

#[test]
fn api_list_kind_is_found_ahead_on_unseekable_input_too() {
    let text = include_str!("data/api-list-kind-last.yaml");
    let mut read = common::Read {
        objects: Vec::new(),
        errors: Vec::new(),
        events: Vec::new(),
        summary: Default::default(),
    };
    // A reader that hands out a few bytes at a time, like a pipe.
    let pipe = Trickle(text.as_bytes());
    let reader = pvwarden_manifest::Reader::new();
    reader.read_bytes("-", pipe, &mut |item| common::collect(&mut read, item));
    assert_eq!(read.objects.len(), 2);
}

#[test]
fn look_ahead_on_unseekable_input_is_bounded() {
    // Enough items that the list kind lies beyond what is already buffered.
    let mut text = String::from("apiVersion: v1\nitems:\n");
    for i in 0..500 {
        text.push_str(&format!("- metadata:\n    name: claim-{i}\n"));
    }
    text.push_str("kind: PersistentVolumeClaimList\n");
    let mut read = common::Read {
        objects: Vec::new(),
        errors: Vec::new(),
        events: Vec::new(),
        summary: Default::default(),
    };
    let reader = pvwarden_manifest::Reader::new().max_look_ahead(64);
    reader.read_bytes("-", Trickle(text.as_bytes()), &mut |item| {
        common::collect(&mut read, item)
    });
    let messages = read.messages();
    assert_eq!(
        messages[0],
        "look-ahead for the list kind at -:3 exceeds the limit of 64"
    );
    assert_eq!(messages[1], "object at -:3:3 has no kind");
    assert_eq!(messages.len(), 501);
    assert!(read.objects.is_empty());
}

struct Trickle<'a>(&'a [u8]);

impl std::io::Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(self.0.len()).min(7);
        buf[..n].copy_from_slice(&self.0[..n]);
        self.0 = &self.0[n..];
        Ok(n)
    }
}

#[test]
fn broken_documents_are_reported_and_reading_goes_on() {
    let read = read("broken.yaml", include_str!("data/broken-stream.yaml"));
    assert_eq!(
        read.objects(),
        vec![
            ("PersistentVolume", "first".into(), 1),
            ("PersistentVolumeClaim", "last".into(), 28),
        ]
    );
    let messages = read.messages();
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("invalid YAML at broken.yaml:15:"),
        "{}",
        messages[0]
    );
    assert_eq!(
        messages[1],
        "failed to decode PersistentVolume ignored-for-pvs/wrong-type at broken.yaml:26:7 in \
         field spec.capacity.storage"
    );
    assert_eq!(read.summary.errors, 2);
    assert!(
        read.events[1].starts_with("error invalid YAML"),
        "{:?}",
        read.events
    );
}

#[test]
fn other_kinds_and_versions_are_counted_not_reported() {
    let read = read("kinds.yaml", include_str!("data/unknown-kinds.yaml"));
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    let skipped: Vec<(&str, u64)> = read
        .summary
        .skipped
        .iter()
        .map(|(k, v)| (k.as_str(), *v))
        .collect();
    assert_eq!(
        skipped,
        vec![
            ("CSIDriver (storage.k8s.io/v1beta1)", 1),
            ("Service", 1),
            ("Widget", 1)
        ]
    );
    assert_eq!(
        read.objects(),
        vec![
            ("Event", "pv-a.17a".into(), 21),
            ("VolumeSnapshot", "snap-1".into(), 33),
        ]
    );
    assert!(matches!(read.objects[0].object, Object::EventV1(_)));
}

#[test]
fn kind_after_other_fields_is_still_found() {
    let read = read(
        "late.yaml",
        "metadata:\n  name: late\nspec:\n  capacity:\n    storage: 1Gi\nkind: PersistentVolume\n\
         apiVersion: v1\n",
    );
    assert_eq!(read.objects(), vec![("PersistentVolume", "late".into(), 1)]);
}

#[test]
fn object_without_kind_is_an_error() {
    let read = read("nokind.yaml", "metadata:\n  name: x\n---\n- a\n- b\n");
    assert_eq!(
        read.messages(),
        vec![
            "object at nokind.yaml:1:1 has no kind",
            "expected a Kubernetes object at nokind.yaml:4:3, found a scalar",
            "expected a Kubernetes object at nokind.yaml:5:3, found a scalar",
        ]
    );
}

#[test]
fn small_anchors_and_aliases_are_expanded() {
    let text = "\
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: anchored
  labels: &labels
    app: db
  annotations: *labels
spec:
  accessModes: [&mode ReadWriteOnce]
  storageClassName: *mode
";
    let read = read("alias.yaml", text);
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    let Object::PersistentVolumeClaim(pvc) = &read.objects[0].object else {
        panic!("not a claim");
    };
    let annotations = pvc.metadata.annotations.as_ref().unwrap();
    assert_eq!(annotations.get("app").map(String::as_str), Some("db"));
    let class = pvc.spec.as_ref().unwrap().storage_class_name.as_deref();
    assert_eq!(class, Some("ReadWriteOnce"));
}

#[test]
fn plain_scalars_fit_string_and_number_fields() {
    let text = "\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: s
  labels:
    version: 1.10
    enabled: true
spec:
  replicas: 3
  serviceName: s
  selector: {}
  template:
    spec:
      containers:
      - name: c
        ports:
        - containerPort: 8080
";
    let read = read("plain.yaml", text);
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    let Object::StatefulSet(set) = &read.objects[0].object else {
        panic!("not a StatefulSet");
    };
    let labels = set.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["version"], "1.10");
    assert_eq!(labels["enabled"], "true");
    assert_eq!(set.spec.replicas, Some(3));
}

#[test]
fn windows_line_endings_are_read() {
    let text = "apiVersion: v1\r\nkind: Node\r\nmetadata:\r\n  name: n1\r\n---\r\n\
                apiVersion: v1\r\nkind: Node\r\nmetadata:\r\n  name: n2\r\n";
    let read = read("crlf.yaml", text);
    assert_eq!(
        read.objects(),
        vec![("Node", "n1".into(), 1), ("Node", "n2".into(), 6)]
    );
}

/// Regression: comments after `---`, between keys and at the ends of lines
/// broke every document once another crate turned on the parser's comment
/// events.
#[test]
fn comments_anywhere_are_ignored() {
    let text = "# leading\n---\n# after the separator\napiVersion: v1 # trailing\n\
                # between keys\nkind: PersistentVolume\nmetadata:\n  # nested\n  name: a\n\
                ---\napiVersion: v1\nkind: PersistentVolume\nmetadata: {name: b} # flow\n";
    let read = read("comments.yaml", text);
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    assert_eq!(
        read.objects(),
        vec![
            ("PersistentVolume", "a".into(), 4),
            ("PersistentVolume", "b".into(), 11)
        ]
    );
}
