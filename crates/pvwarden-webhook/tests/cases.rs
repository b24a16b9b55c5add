//! The webhook's decision on every PV of the shared cases, as AdmissionReviews.
//!
//! Each PV is created into a cluster that already holds the other PVs and the
//! StorageClasses of its case, through both stages as the API server calls
//! them: the mutating webhook first, its patch applied, then the validating
//! webhook on the result. The expected decisions follow from each case's
//! `.expect.md` (why the PV hangs, destroys data or is safe) and the default
//! actions: mutate `static-delete-never-deletes`, deny the other data-loss
//! rules, warn for the rest.

mod common;

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use pvwarden_domain::rule;
use pvwarden_webhook::review::answer;
use pvwarden_webhook::{Action, Config, Decider, Stage, View};
use serde_json::Value;

/// What creating a PV ends in.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// The rules that refused it; empty when admitted.
    denied: BTreeSet<String>,
    /// Whether the mutating stage switched it to Retain.
    retained: bool,
    /// The rules named in warnings of the validating stage.
    warned: BTreeSet<String>,
}

fn set(rules: &[&str]) -> BTreeSet<String> {
    rules.iter().map(|r| (*r).to_owned()).collect()
}

/// One expected decision: case file, PV, denying rules, retained, warned rules.
type Expected = (
    &'static str,
    &'static str,
    &'static [&'static str],
    bool,
    &'static [&'static str],
);

const EXPECTED: &[Expected] = &[
    // The original of the share: Retain, so safe; the share is not in its safe
    // form while the copy has Delete.
    (
        "01-rook-cephfs-static-share-newnamespace",
        "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27",
        &[],
        false,
        &["shared-backend"],
    ),
    // The seed case: a static copy with Delete whose handle never decodes is
    // switched to Retain; afterwards only its copied markers are worth a word.
    (
        "01-rook-cephfs-static-share-newnamespace",
        "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer",
        &[],
        true,
        &["copied-dynamic-markers"],
    ),
    // A static InfoScale PV with Delete: the provisioner owns static PVs
    // today, so releasing it deletes the volume that existed before the PV.
    (
        "03-infoscale-static-failed-phase-finalizer",
        "infoscale-static-pv",
        &["static-delete-destroys-data"],
        false,
        &[],
    ),
    (
        "05-rook-rbd-static-retain-underflow",
        "db-data",
        &[],
        false,
        &[],
    ),
    (
        "07-rook-rbd-pvc-terminating-pod-still-running",
        "pvc-6655aba0-4b34-4660-b0ca-d6cdee6cf8b8",
        &[],
        false,
        &[],
    ),
    (
        "09-vsphere-released-attacher-finalizer-cns-gone",
        "pvc-d8a8f33c-ebc6-413b-bfe2-8872c4461a0c",
        &[],
        false,
        &[],
    ),
    (
        "11-azuredisk-finalizer-race-backend-deleted",
        "pvc-21f1a5d5-e248-4fe3-ba99-9ffdb50a0e03",
        &[],
        false,
        &[],
    ),
    (
        "13-longhorn-pv-terminating-attacher-finalizer",
        "pvc-a2242020-8cf6-4e10-9203-8016bd429588",
        &[],
        false,
        &[],
    ),
    // A v1.0 handle: current ceph-csi cannot delete it, so its release hangs.
    (
        "15-cephcsi-legacy-v1-volume-id",
        "pvc-47b24768-eff6-11f1-aa7a-350b1edd1bda",
        &[],
        false,
        &["delete-will-hang", "legacy-volume-id"],
    ),
    // Two PVs with one handle, both Delete: each refused in the presence of
    // the other, both also for the dynamic one being the Delete source of a share.
    (
        "17-vsphere-duplicate-volumehandle-file-share",
        "pvc-9904bdb7-9b56-48ff-b02e-b060ac47adbc",
        &["duplicate-volume-handle", "share-source-delete"],
        false,
        &[],
    ),
    // The static share is also refused because its original is still Delete.
    (
        "17-vsphere-duplicate-volumehandle-file-share",
        "static-file-share-pv-name",
        &[
            "duplicate-volume-handle",
            "share-source-delete",
            "static-delete-destroys-data",
        ],
        false,
        &["copied-dynamic-markers"],
    ),
    (
        "19-cephcsi-rbd-released-cephx-disabled",
        "pvc-8114a654-fc70-48a7-8580-48f9088dc4e8",
        &[],
        false,
        &[],
    ),
    // A hand-made but valid encoded handle with Delete: release destroys the
    // adopted image.
    (
        "21-cephcsi-rbd-handcrafted-encoded-handle-adoption",
        "adopted-archive-01",
        &["static-delete-destroys-data"],
        false,
        &["copied-dynamic-markers", "handle-inconsistent"],
    ),
    (
        "23-smb-released-pv-stale-claimref-uid",
        "pvc-cc2c1127-1572-4638-b41e-f6ea93dbb6c5",
        &[],
        false,
        &[],
    ),
    // The Rook doc's share in its safe form (both Retain): only the edited
    // handles are worth a warning.
    (
        "25-rook-doc-example-clusterid-length-mismatch",
        "pvc-d5569e14-4b2b-4f3a-b27d-f789b24c1df9",
        &[],
        false,
        &["handle-inconsistent"],
    ),
    (
        "25-rook-doc-example-clusterid-length-mismatch",
        "pvc-d5569e14-4b2b-4f3a-b27d-f789b24c1df9-newnamespace",
        &[],
        false,
        &["copied-dynamic-markers", "handle-inconsistent"],
    ),
    (
        "27-cephcsi-rbd-pool-deleted-before-pv",
        "pvc-017ce707-eff7-11f1-8bdc-7964c9ebc0dc",
        &[],
        false,
        &[],
    ),
];

/// A decider whose view holds a case's classes and every PV but `except`.
fn decider_for(case: &str, except: &str, config: Config) -> (Decider, PersistentVolume) {
    let path = common::cases_dir().join(format!("{case}.yaml"));
    let (pvs, classes) = common::read_case(&path);
    let view = View::new();
    for class in classes {
        view.apply_class(class);
    }
    let mut target = None;
    for pv in pvs {
        if pv.metadata.name.as_deref() == Some(except) {
            target = Some(pv);
        } else {
            view.apply_pv(pv);
        }
    }
    let target = target.unwrap_or_else(|| panic!("{case}: no PV {except}"));
    (Decider::new(view, config), target)
}

/// Sends one review and returns the AdmissionResponse.
fn review(decider: &Decider, stage: Stage, body: &Value) -> Value {
    let bytes = serde_json::to_vec(body).expect("review encodes");
    let (reply, _) = answer(decider, stage, &bytes);
    assert_eq!(
        reply.status,
        200,
        "{}",
        String::from_utf8_lossy(&reply.body)
    );
    let review: Value = serde_json::from_slice(&reply.body).expect("reply is JSON");
    assert_eq!(review["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(review["response"]["uid"], body["request"]["uid"]);
    review["response"].clone()
}

/// Applies a response's JSON patch as the API server does.
fn apply_patch(object: &mut Value, response: &Value) -> bool {
    let Some(patch) = response["patch"].as_str() else {
        return false;
    };
    assert_eq!(response["patchType"], "JSONPatch");
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(patch)
        .expect("patch is base64");
    let patch: json_patch::Patch = serde_json::from_slice(&bytes).expect("patch is a JSON patch");
    json_patch::patch(object, &patch).expect("patch applies");
    true
}

fn rules_in(warnings: &Value) -> BTreeSet<String> {
    warnings
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|w| w.as_str()?.strip_prefix("pvwarden ")?.split(':').next())
        .map(str::to_owned)
        .collect()
}

fn denying_rules(message: &str) -> BTreeSet<String> {
    rule::RULES
        .iter()
        .filter(|r| message.contains(&format!("{}: ", r.id)))
        .map(|r| r.id.to_owned())
        .collect()
}

/// Creates `pv` through the mutating then the validating stage.
fn create(decider: &Decider, pv: &PersistentVolume) -> (Outcome, Value) {
    let mut object = serde_json::to_value(pv).expect("PV encodes");
    let mutated = review(
        decider,
        Stage::Mutate,
        &common::pv_review("m-1", "CREATE", &object, None),
    );
    assert_eq!(mutated["allowed"], true, "the mutating stage never refuses");
    let retained = apply_patch(&mut object, &mutated);
    let validated = review(
        decider,
        Stage::Validate,
        &common::pv_review("v-1", "CREATE", &object, None),
    );
    let denied = if validated["allowed"] == true {
        BTreeSet::new()
    } else {
        assert_eq!(validated["status"]["code"], 403);
        denying_rules(validated["status"]["message"].as_str().unwrap_or(""))
    };
    let outcome = Outcome {
        denied,
        retained,
        warned: rules_in(&validated["warnings"]),
    };
    (outcome, object)
}

#[test]
fn every_case_pv_gets_the_expected_decision() {
    let mut covered = BTreeSet::new();
    for (case, pv_name, denied, retained, warned) in EXPECTED {
        let (decider, pv) = decider_for(case, pv_name, Config::default());
        let (outcome, object) = create(&decider, &pv);
        let want = Outcome {
            denied: set(denied),
            retained: *retained,
            warned: set(warned),
        };
        assert_eq!(outcome, want, "{case}: {pv_name}");
        if *retained {
            assert_eq!(object["spec"]["persistentVolumeReclaimPolicy"], "Retain");
        }
        covered.insert((*case).to_owned());
    }
    // Every case file is covered by the table.
    for entry in std::fs::read_dir(common::cases_dir()).expect("cases dir") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
            assert!(
                covered.contains(stem),
                "case {stem} has no expected decision"
            );
        }
    }
}

const SEED: (&str, &str) = (
    "01-rook-cephfs-static-share-newnamespace",
    "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer",
);

#[test]
fn seed_case_is_refused_or_only_warned_as_configured() {
    let deny = Config::default().with_action(&rule::STATIC_DELETE_NEVER_DELETES, Action::Deny);
    let (decider, pv) = decider_for(SEED.0, SEED.1, deny);
    let (outcome, _) = create(&decider, &pv);
    assert!(!outcome.retained);
    assert_eq!(outcome.denied, set(&["static-delete-never-deletes"]));

    let warn = Config::default().with_action(&rule::STATIC_DELETE_NEVER_DELETES, Action::Warn);
    let (decider, pv) = decider_for(SEED.0, SEED.1, warn);
    let (outcome, object) = create(&decider, &pv);
    assert!(outcome.denied.is_empty() && !outcome.retained);
    assert!(outcome.warned.contains("static-delete-never-deletes"));
    assert_eq!(object["spec"]["persistentVolumeReclaimPolicy"], "Delete");
}

#[test]
fn flipping_a_share_to_delete_is_switched_back() {
    // The copy exists with Retain; automation flips it to Delete.
    let (decider, pv) = decider_for(SEED.0, SEED.1, Config::default());
    let mut old = serde_json::to_value(&pv).expect("encodes");
    old["spec"]["persistentVolumeReclaimPolicy"] = "Retain".into();
    decider
        .view()
        .apply_pv(serde_json::from_value(old.clone()).expect("PV"));
    let new = serde_json::to_value(&pv).expect("encodes");
    let body = common::pv_review("u-1", "UPDATE", &new, Some(&old));
    let response = review(&decider, Stage::Mutate, &body);
    let mut patched = new.clone();
    assert!(apply_patch(&mut patched, &response));
    assert_eq!(patched["spec"]["persistentVolumeReclaimPolicy"], "Retain");
}

#[test]
fn new_share_under_a_delete_original_is_refused_naming_the_original() {
    let original = "pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27";
    let delete_original = |decider: &Decider| {
        let mut source = serde_json::to_value(&*decider.view().pv(original).expect("original"))
            .expect("encodes");
        source["spec"]["persistentVolumeReclaimPolicy"] = "Delete".into();
        decider
            .view()
            .apply_pv(serde_json::from_value(source).expect("PV"));
    };
    let retained_share = |pv: &PersistentVolume| {
        let mut share = pv.clone();
        if let Some(spec) = share.spec.as_mut() {
            spec.persistent_volume_reclaim_policy = Some("Retain".into());
        }
        share
    };

    let (decider, pv) = decider_for(SEED.0, SEED.1, Config::default());
    delete_original(&decider);
    let share = serde_json::to_value(retained_share(&pv)).expect("encodes");
    let body = common::pv_review("c-1", "CREATE", &share, None);
    let mutated = review(&decider, Stage::Mutate, &body);
    assert!(
        mutated["patch"].is_null(),
        "the share itself is not patched"
    );
    let response = review(&decider, Stage::Validate, &body);
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().unwrap_or("");
    assert_eq!(denying_rules(message), set(&["share-source-delete"]));
    assert!(
        message.contains(&format!("set PV {original} to Retain first")),
        "{message}"
    );

    let warn = Config::default().with_action(&rule::SHARE_SOURCE_DELETE, Action::Warn);
    let (decider, pv) = decider_for(SEED.0, SEED.1, warn);
    delete_original(&decider);
    let share = serde_json::to_value(retained_share(&pv)).expect("encodes");
    let body = common::pv_review("c-2", "CREATE", &share, None);
    let response = review(&decider, Stage::Validate, &body);
    assert_eq!(response["allowed"], true, "{response}");
    let warnings: Vec<&str> = response["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        warnings.contains(
            &"pvwarden share-source-delete: PV pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27: \
                            the original of a shared volume has Delete while PVs \
                            pvc-468804a2-9eca-42ac-ae0f-7e8467ee0b27-app-consumer still use its \
                            storage: deleting its claim destroys their data"
        ),
        "{warnings:?}"
    );
    assert!(!rules_in(&response["warnings"]).contains("shared-backend"));
}

#[test]
fn update_keeping_an_old_problem_is_only_warned() {
    // The static copy of case 17 already has Delete; relabelling it, or
    // switching it to Retain (the remedy), must not be refused.
    let case = "17-vsphere-duplicate-volumehandle-file-share";
    let (decider, pv) = decider_for(case, "static-file-share-pv-name", Config::default());
    decider.view().apply_pv(pv.clone());
    let old = serde_json::to_value(&pv).expect("encodes");
    let mut relabelled = old.clone();
    relabelled["metadata"]["labels"] = serde_json::json!({"team": "media"});
    let body = common::pv_review("u-2", "UPDATE", &relabelled, Some(&old));
    let response = review(&decider, Stage::Validate, &body);
    assert_eq!(response["allowed"], true, "{response}");
    assert!(rules_in(&response["warnings"]).contains("duplicate-volume-handle"));

    let mut retained = old.clone();
    retained["spec"]["persistentVolumeReclaimPolicy"] = "Retain".into();
    let body = common::pv_review("u-3", "UPDATE", &retained, Some(&old));
    assert_eq!(review(&decider, Stage::Validate, &body)["allowed"], true);
}

#[test]
fn deleting_the_claim_of_a_shared_delete_volume_is_refused() {
    let case = "17-vsphere-duplicate-volumehandle-file-share";
    let (decider, pv) = decider_for(case, "static-file-share-pv-name", Config::default());
    decider.view().apply_pv(pv);
    let source = decider
        .view()
        .pv("pvc-9904bdb7-9b56-48ff-b02e-b060ac47adbc")
        .expect("source PV in the view");
    let claim_ref = source
        .spec
        .as_ref()
        .and_then(|s| s.claim_ref.clone())
        .expect("bound");
    let mut claim = PersistentVolumeClaim::default();
    claim.metadata.name = claim_ref.name.clone();
    claim.metadata.namespace = claim_ref.namespace.clone();
    claim.spec = Some(k8s_openapi::api::core::v1::PersistentVolumeClaimSpec {
        volume_name: source.metadata.name.clone(),
        ..Default::default()
    });
    let claim = serde_json::to_value(&claim).expect("encodes");
    let body = serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "d-1",
            "kind": {"group": "", "version": "v1", "kind": "PersistentVolumeClaim"},
            "resource": {"group": "", "version": "v1", "resource": "persistentvolumeclaims"},
            "name": claim_ref.name, "namespace": claim_ref.namespace,
            "operation": "DELETE", "userInfo": {"username": "admin"},
            "object": null, "oldObject": claim, "dryRun": true
        }
    });
    let response = review(&decider, Stage::Validate, &body);
    assert_eq!(response["allowed"], false, "{response}");
    let message = response["status"]["message"].as_str().unwrap_or("");
    assert!(
        message.contains("destroys storage other PVs use"),
        "{message}"
    );

    // Without the other PV, deleting the claim deletes only its own storage.
    decider.view().delete_pv("static-file-share-pv-name");
    assert_eq!(review(&decider, Stage::Validate, &body)["allowed"], true);
}
