//! PATCH bodies: JSON patch, JSON merge patch and a strategic merge patch subset.
//!
//! [`apply`] turns the current object and a patch body into the patched
//! object; the store then treats the result like the body of a PUT. Errors are
//! the real server's: a body that does not decode is `400 BadRequest`, a JSON
//! patch that does not apply (a failed `test`, a missing path) is the generic
//! `422 Invalid` the server answers with the library's message dropped.
//!
//! Server-side apply (`application/apply-patch+yaml`) is not implemented: it is
//! answered `415 UnsupportedMediaType` listing the three types served, as a
//! server without server-side apply would.

mod json;
mod merge;
mod strategic;

use serde_json::Value;

use crate::resource::Kind;
use crate::status::ApiError;

/// The patch types, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
}

impl PatchType {
    /// Reads the patch type of a request, refusing types the kind does not take.
    pub(crate) fn from_content_type(content_type: &str, kind: &Kind) -> Result<Self, ApiError> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        let accepted = kind.patch_types();
        let patch_type = match media {
            "application/json-patch+json" => Some(PatchType::Json),
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            _ => None,
        };
        match patch_type {
            Some(t) if accepted.contains(&media) => Ok(t),
            _ => Err(ApiError::unsupported_media_type(accepted)),
        }
    }

    /// The name the request counters and logs use.
    pub(crate) fn name(self) -> &'static str {
        match self {
            PatchType::Json => "json",
            PatchType::Merge => "merge",
            PatchType::Strategic => "strategic",
        }
    }
}

/// Applies a patch body to the current object.
pub(crate) fn apply(
    current: &Value,
    patch_type: PatchType,
    body: &[u8],
) -> Result<Value, ApiError> {
    match patch_type {
        PatchType::Json => json::apply(current, body),
        PatchType::Merge => {
            let patch = decode_object(body)?;
            Ok(merge::merge(current, &patch))
        }
        PatchType::Strategic => {
            let patch = decode_object(body)?;
            strategic::merge(current, &patch)
        }
    }
}

fn decode_object(body: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    if !patch.is_object() {
        return Err(ApiError::bad_request(
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
        ));
    }
    Ok(patch)
}
