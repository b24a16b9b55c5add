//! AdmissionReview in, AdmissionReview out (`admission.k8s.io/v1`).
//!
//! Everything that arrives is untrusted: a body that is not an
//! AdmissionReview, a review without a request, an object of the wrong shape
//! or of a kind this webhook does not judge all get an answer (HTTP 400 for
//! what is not a review at all, a refusal naming the problem otherwise), never
//! a panic.

use base64::Engine as _;
use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::core::admission::{AdmissionRequest, AdmissionResponse, AdmissionReview, Operation};
use kube::core::{DynamicObject, Status};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::decide::{Decider, Decision, Stage};

/// The largest request body read: two objects of the API server's 3 MiB
/// request limit, with room for the envelope.
pub const MAX_BODY: usize = 7 * 1024 * 1024;

/// The version of the review this webhook speaks.
const API_VERSION: &str = "admission.k8s.io/v1";

/// An HTTP answer: status code and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: Vec<u8>,
}

impl Reply {
    /// An error that is not an AdmissionReview, as a `Status` object.
    pub fn error(status: u16, reason: &str, message: &str) -> Reply {
        let body = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": status,
        });
        Reply {
            status,
            body: body.to_string().into_bytes(),
        }
    }
}

/// What a review was about, for logs.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// The request's uid.
    pub uid: String,
    /// `PersistentVolume` or `PersistentVolumeClaim`.
    pub kind: String,
    /// The object's namespace, empty for PVs.
    pub ns: String,
    /// The object's name.
    pub name: String,
    /// CREATE, UPDATE, DELETE or CONNECT.
    pub operation: &'static str,
    /// Whether the request was a dry run.
    pub dry_run: bool,
    /// Whether it was let through.
    pub allowed: bool,
    /// The rules that refused or changed it.
    pub rules: Vec<&'static str>,
}

/// Answers one AdmissionReview body.
pub fn answer(decider: &Decider, stage: Stage, body: &[u8]) -> (Reply, Summary) {
    if let Some(answered) = answer_pv(decider, stage, body) {
        return answered;
    }
    let review: AdmissionReview<DynamicObject> = match serde_json::from_slice(body) {
        Ok(review) => review,
        Err(error) => {
            let message = format!("the body is not an AdmissionReview: {error}");
            return (
                Reply::error(400, "BadRequest", &message),
                Summary::default(),
            );
        }
    };
    if review.types.api_version != API_VERSION || review.types.kind != "AdmissionReview" {
        let message = format!(
            "expected an AdmissionReview of {API_VERSION}, got kind {:?} of {:?}",
            review.types.kind, review.types.api_version
        );
        return (
            Reply::error(400, "BadRequest", &message),
            Summary::default(),
        );
    }
    let request: AdmissionRequest<DynamicObject> = match review.try_into() {
        Ok(request) => request,
        Err(_) => {
            let message = "the AdmissionReview has no request";
            return (Reply::error(400, "BadRequest", message), Summary::default());
        }
    };
    let decision = decide(decider, stage, &request);
    finish(&request, decision)
}

/// The common case, a well-formed review of a PV write, read straight into
/// typed objects; `None` sends everything else down the general path.
///
/// Reading through [`DynamicObject`] first costs about as much as the whole
/// decision (serde's `flatten` buffers every field), hence this path.
fn answer_pv(decider: &Decider, stage: Stage, body: &[u8]) -> Option<(Reply, Summary)> {
    let review: AdmissionReview<PersistentVolume> = serde_json::from_slice(body).ok()?;
    if review.types.api_version != API_VERSION || review.types.kind != "AdmissionReview" {
        return None;
    }
    let request: AdmissionRequest<PersistentVolume> = review.try_into().ok()?;
    let kind = &request.kind;
    let is_pv = kind.group.is_empty() && kind.version == "v1" && kind.kind == "PersistentVolume";
    if !is_pv || request.sub_resource.is_some() {
        return None;
    }
    let mut request = request;
    let (object, old) = (request.object.take(), request.old_object.take());
    let decision = match (&request.operation, object, old) {
        (Operation::Create, Some(pv), None) => decider.pv_write(stage, pv, None),
        (Operation::Update, Some(pv), Some(old)) => decider.pv_write(stage, pv, Some(old)),
        _ => return None,
    };
    Some(finish(&request, Ok(decision)))
}

/// Turns a decision, or why there is none, into the answer.
fn finish<T: kube::Resource>(
    request: &AdmissionRequest<T>,
    decision: Result<Decision, String>,
) -> (Reply, Summary) {
    let mut summary = Summary {
        uid: request.uid.clone(),
        kind: request.kind.kind.clone(),
        ns: request.namespace.clone().unwrap_or_default(),
        name: request.name.clone(),
        operation: operation_name(&request.operation),
        dry_run: request.dry_run,
        ..Summary::default()
    };
    let response = match decision {
        Ok(decision) => respond(request, decision),
        Err(problem) => {
            let status = Status::failure(&problem, "BadRequest").with_code(400);
            let mut response = AdmissionResponse::from(request);
            response.allowed = false;
            response.result = status;
            response
        }
    };
    summary.allowed = response.allowed;
    summary.rules = rules_of(&response);
    let body = match encode(response) {
        Ok(body) => body,
        Err(error) => {
            let message = format!("cannot encode the AdmissionReview: {error}");
            return (Reply::error(500, "InternalError", &message), summary);
        }
    };
    (Reply { status: 200, body }, summary)
}

/// The response as JSON, its patch base64-encoded.
///
/// kube-core serializes the patch bytes as an array of numbers; Go's decoder
/// in the API server accepts that, but the API's own form is a base64 string,
/// which is also a third of the size.
fn encode(response: AdmissionResponse) -> Result<Vec<u8>, serde_json::Error> {
    let patch = response.patch.clone();
    let review = response.into_review();
    let Some(patch) = patch else {
        return serde_json::to_vec(&review);
    };
    let mut value = serde_json::to_value(&review)?;
    if let Some(slot) = value.pointer_mut("/response/patch") {
        *slot = Value::String(base64::engine::general_purpose::STANDARD.encode(patch));
    }
    serde_json::to_vec(&value)
}

/// The rules named in a response's audit annotation.
fn rules_of(response: &AdmissionResponse) -> Vec<&'static str> {
    let Some(listed) = response.audit_annotations.get("rules") else {
        return Vec::new();
    };
    listed
        .split(',')
        .filter_map(pvwarden_domain::rule::find)
        .map(|r| r.id)
        .collect()
}

fn operation_name(operation: &Operation) -> &'static str {
    match operation {
        Operation::Create => "CREATE",
        Operation::Update => "UPDATE",
        Operation::Delete => "DELETE",
        Operation::Connect => "CONNECT",
    }
}

/// The decision for a request, or why the request cannot be judged.
fn decide(
    decider: &Decider,
    stage: Stage,
    request: &AdmissionRequest<DynamicObject>,
) -> Result<Decision, String> {
    let kind = &request.kind;
    let core_v1 = kind.group.is_empty() && kind.version == "v1";
    if request.sub_resource.is_some() {
        // Status updates change nothing a rule looks at.
        return Ok(Decision::default());
    }
    match (core_v1, kind.kind.as_str(), &request.operation) {
        (true, "PersistentVolume", Operation::Create | Operation::Update) => {
            let pv: PersistentVolume = object(request.object.as_ref(), "object")?;
            let old: Option<PersistentVolume> = match &request.operation {
                Operation::Update => Some(object(request.old_object.as_ref(), "oldObject")?),
                _ => None,
            };
            Ok(decider.pv_write(stage, pv, old))
        }
        (true, "PersistentVolume", Operation::Delete) => {
            // The API server sends the stored object as oldObject; fall back
            // to the view for older servers that send none.
            let pv = match &request.old_object {
                Some(_) => object(request.old_object.as_ref(), "oldObject")?,
                None => match decider.view().pv(&request.name) {
                    Some(pv) => (*pv).clone(),
                    None => return Ok(Decision::default()),
                },
            };
            Ok(decider.pv_delete(stage, &pv))
        }
        (true, "PersistentVolumeClaim", Operation::Delete) => {
            if request.old_object.is_none() {
                return Ok(Decision::default());
            }
            let claim: PersistentVolumeClaim = object(request.old_object.as_ref(), "oldObject")?;
            Ok(decider.claim_delete(stage, &claim))
        }
        (true, "PersistentVolume" | "PersistentVolumeClaim", _) => Ok(Decision::default()),
        _ => Err(format!(
            "pvwarden judges only v1 PersistentVolumes and PersistentVolumeClaims, not {} {}/{}; \
             narrow the rules of the webhook configuration",
            kind.kind, kind.group, kind.version
        )),
    }
}

/// Reads `field` of the request as a typed object.
fn object<T: Typed>(object: Option<&DynamicObject>, field: &str) -> Result<T, String> {
    let Some(object) = object else {
        return Err(format!("request.{field} is missing"));
    };
    T::from_parts(object.metadata.clone(), &object.data)
        .map_err(|error| format!("request.{field} is not a valid {}: {error}", T::KIND))
}

/// A kind read from a [`DynamicObject`]'s metadata and data without a round trip.
trait Typed: Sized {
    const KIND: &'static str;
    fn from_parts(metadata: ObjectMeta, data: &Value) -> Result<Self, serde_json::Error>;
}

fn field<T: DeserializeOwned>(data: &Value, name: &str) -> Result<Option<T>, serde_json::Error> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => T::deserialize(value).map(Some),
    }
}

impl Typed for PersistentVolume {
    const KIND: &'static str = "PersistentVolume";
    fn from_parts(metadata: ObjectMeta, data: &Value) -> Result<Self, serde_json::Error> {
        Ok(PersistentVolume {
            metadata,
            spec: field(data, "spec")?,
            status: field(data, "status")?,
        })
    }
}

impl Typed for PersistentVolumeClaim {
    const KIND: &'static str = "PersistentVolumeClaim";
    fn from_parts(metadata: ObjectMeta, data: &Value) -> Result<Self, serde_json::Error> {
        Ok(PersistentVolumeClaim {
            metadata,
            spec: field(data, "spec")?,
            status: field(data, "status")?,
        })
    }
}

/// The AdmissionResponse for a decision.
fn respond<T: kube::Resource>(
    request: &AdmissionRequest<T>,
    decision: Decision,
) -> AdmissionResponse {
    let mut response = AdmissionResponse::from(request);
    if !decision.rules.is_empty() {
        // The API server copies these into its audit log, prefixed with the
        // webhook's name: which rule acted is then on record.
        response
            .audit_annotations
            .insert("rules".into(), decision.rules.join(","));
    }
    if !decision.warnings.is_empty() {
        response.warnings = Some(decision.warnings);
    }
    if let Some(reason) = decision.denied {
        response.allowed = false;
        response.result = Status::failure(&reason, "Forbidden").with_code(403);
        return response;
    }
    if decision.retain {
        let patch = retain_patch();
        match response.clone().with_patch(patch) {
            Ok(patched) => response = patched,
            Err(error) => {
                let reason = format!("pvwarden cannot encode its patch: {error}");
                response.allowed = false;
                response.result = Status::failure(&reason, "InternalError").with_code(500);
            }
        }
    }
    response
}

/// The JSON patch that switches a PV to `Retain` (`add` also replaces).
fn retain_patch() -> json_patch::Patch {
    let op = json_patch::PatchOperation::Add(json_patch::AddOperation {
        path: json_patch::jsonptr::PointerBuf::from_tokens([
            "spec",
            "persistentVolumeReclaimPolicy",
        ]),
        value: Value::String("Retain".into()),
    });
    json_patch::Patch(vec![op])
}
