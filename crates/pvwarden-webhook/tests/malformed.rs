//! Malformed, unexpected and hostile AdmissionReviews get an answer, never a crash.

mod common;

use proptest::prelude::*;
use pvwarden_webhook::review::answer;
use pvwarden_webhook::server::{route, Call};
use pvwarden_webhook::{Config, Decider, Stage, View};
use serde_json::{json, Value};

fn decider() -> Decider {
    let view = View::new();
    let (pvs, classes) = common::read_case(
        &common::cases_dir().join("17-vsphere-duplicate-volumehandle-file-share.yaml"),
    );
    for pv in pvs {
        view.apply_pv(pv);
    }
    for class in classes {
        view.apply_class(class);
    }
    Decider::new(view, Config::default())
}

/// Checks that an answer is either a 4xx Status or a 200 AdmissionReview.
fn check_answer(decider: &Decider, stage: Stage, body: &[u8]) {
    let (reply, _) = answer(decider, stage, body);
    let value: Value = serde_json::from_slice(&reply.body).expect("every answer is JSON");
    match reply.status {
        200 => {
            assert_eq!(value["kind"], "AdmissionReview");
            assert!(value["response"]["allowed"].is_boolean(), "{value}");
        }
        400 => assert_eq!(value["kind"], "Status"),
        other => panic!("unexpected status {other}: {value}"),
    }
}

/// Arbitrary JSON, a few levels deep.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,12}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A well-formed PV review with one field replaced by arbitrary JSON.
fn damaged_review() -> impl Strategy<Value = Value> {
    let paths = prop::sample::select(vec![
        "/request/object/spec",
        "/request/object/spec/csi",
        "/request/object/spec/csi/volumeHandle",
        "/request/object/spec/csi/volumeAttributes",
        "/request/object/spec/persistentVolumeReclaimPolicy",
        "/request/object/spec/claimRef",
        "/request/object/metadata",
        "/request/object/metadata/annotations",
        "/request/object/metadata/name",
        "/request/object/status",
        "/request/oldObject",
        "/request/kind",
        "/request/operation",
        "/request/uid",
        "/request",
        "/apiVersion",
    ]);
    let ops = prop::sample::select(vec!["CREATE", "UPDATE", "DELETE", "CONNECT"]);
    (paths, any_json(), ops).prop_map(|(path, junk, op)| {
        let pv = json!({
            "apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": "p", "annotations": {"pv.kubernetes.io/provisioned-by": "x"}},
            "spec": {
                "persistentVolumeReclaimPolicy": "Delete",
                "csi": {"driver": "csi.vsphere.vmware.com", "volumeHandle": "file:1234",
                        "volumeAttributes": {"type": "vSphere CNS File Volume"}},
                "claimRef": {"namespace": "a", "name": "b"}
            }
        });
        let mut review = common::pv_review("uid-1", op, &pv, Some(&pv));
        if let Some(slot) = review.pointer_mut(path) {
            *slot = junk;
        }
        review
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn arbitrary_bytes_get_an_answer(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let decider = decider();
        check_answer(&decider, Stage::Validate, &body);
    }

    #[test]
    fn damaged_reviews_get_an_answer(review in damaged_review(), mutate in any::<bool>()) {
        let decider = decider();
        let stage = if mutate { Stage::Mutate } else { Stage::Validate };
        let body = serde_json::to_vec(&review).expect("encodes");
        check_answer(&decider, stage, &body);
    }
}

#[test]
fn unexpected_kinds_are_refused_with_a_reason() {
    let mut review = common::pv_review("uid-2", "CREATE", &json!({"metadata": {}}), None);
    review["request"]["kind"] = json!({"group": "apps", "version": "v1", "kind": "Deployment"});
    let body = serde_json::to_vec(&review).expect("encodes");
    let (reply, _) = answer(&decider(), Stage::Validate, &body);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let value: Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert_eq!(value["response"]["allowed"], false);
    assert_eq!(value["response"]["uid"], "uid-2");
    let message = value["response"]["status"]["message"]
        .as_str()
        .unwrap_or("");
    assert!(message.contains("not Deployment apps/v1"), "{message}");
}

#[test]
fn wrong_version_and_missing_request_are_bad_requests() {
    let decider = decider();
    let mut review = common::pv_review("u", "CREATE", &json!({}), None);
    review["apiVersion"] = "admission.k8s.io/v1beta1".into();
    let (reply, _) = answer(
        &decider,
        Stage::Validate,
        &serde_json::to_vec(&review).expect("encodes"),
    );
    assert_eq!(reply.status, 400);
    let empty = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"});
    let (reply, _) = answer(
        &decider,
        Stage::Validate,
        &serde_json::to_vec(&empty).expect("encodes"),
    );
    assert_eq!(reply.status, 400);
}

#[test]
fn routes_answer_unknown_paths_and_methods_cleanly() {
    let decider = decider();
    let call = |method: hyper::Method, path: &str| Call {
        method,
        path: path.into(),
        body: bytes::Bytes::new(),
    };
    assert_eq!(
        route(&decider, &call(hyper::Method::GET, "/validate")).status,
        405
    );
    assert_eq!(
        route(&decider, &call(hyper::Method::POST, "/nope")).status,
        404
    );
    assert_eq!(
        route(&decider, &call(hyper::Method::GET, "/healthz")).status,
        200
    );
    // The view was filled by hand and never marked listed.
    assert_eq!(
        route(&decider, &call(hyper::Method::GET, "/readyz")).status,
        503
    );
    decider.view().set_ready();
    assert_eq!(
        route(&decider, &call(hyper::Method::GET, "/readyz")).status,
        200
    );
}
