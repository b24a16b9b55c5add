//! Object metadata rules: system fields, names, defaults and validation.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::resource::Kind;
use crate::status::{quote, ApiError, Cause};

/// The current time as Kubernetes writes it (RFC 3339, whole seconds, UTC).
pub(crate) fn now() -> String {
    let now = jiff::Timestamp::now();
    let secs = now.as_second();
    jiff::Timestamp::from_second(secs)
        .unwrap_or(now)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A random version-4 UUID, as the server gives every object.
pub(crate) fn uid() -> String {
    let mut bytes: [u8; 16] = std::array::from_fn(|_| fastrand::u8(..));
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// The five random characters appended to a `generateName`, from the real alphabet.
pub(crate) fn name_suffix() -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    (0..5)
        .map(|_| char::from(ALPHABET[fastrand::usize(..ALPHABET.len())]))
        .collect()
}

/// The `metadata` map of an object, created when missing.
pub(crate) fn meta_mut(object: &mut Value) -> Result<&mut Map<String, Value>, ApiError> {
    let Value::Object(map) = object else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if meta.is_null() {
        *meta = json!({});
    }
    meta.as_object_mut()
        .ok_or_else(|| ApiError::bad_request("metadata must be a JSON object"))
}

/// A string field of `metadata`, empty when missing.
pub(crate) fn meta_str<'a>(object: &'a Value, field: &str) -> &'a str {
    object["metadata"][field].as_str().unwrap_or("")
}

/// The finalizers of an object.
pub(crate) fn finalizers(object: &Value) -> Vec<String> {
    object["metadata"]["finalizers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f.as_str().map(str::to_owned))
        .collect()
}

/// Whether the object is being deleted.
pub(crate) fn is_terminating(object: &Value) -> bool {
    !object["metadata"]["deletionTimestamp"].is_null()
}

/// Sets `apiVersion` and `kind`, refusing a body of another kind.
pub(crate) fn check_type(kind: &Kind, object: &mut Value) -> Result<(), ApiError> {
    let api_version = kind.api_version();
    let Value::Object(map) = object else {
        return Err(ApiError::bad_request(
            "the request body must be a JSON object",
        ));
    };
    let given_kind = map.get("kind").and_then(Value::as_str).unwrap_or(kind.kind);
    let given_version = map
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or(&api_version);
    if given_kind != kind.kind || given_version != api_version {
        return Err(ApiError::bad_request(format!(
            "{given_kind} in version {} cannot be handled as a {}: no kind {} is registered for \
             version {}",
            quote(given_version),
            kind.kind,
            quote(given_kind),
            quote(given_version)
        )));
    }
    map.insert("apiVersion".into(), api_version.into());
    map.insert("kind".into(), kind.kind.into());
    Ok(())
}

/// Validates a name as the real server does for the kind.
pub(crate) fn validate_name(kind: &Kind, name: &str) -> Vec<Cause> {
    let label = kind.plural == "namespaces";
    let ok = if label {
        is_dns_label(name)
    } else {
        is_dns_subdomain(name)
    };
    if ok {
        return Vec::new();
    }
    let detail = if label {
        "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', \
         and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', \
         regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
    } else {
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' \
         or '.', and must start and end with an alphanumeric character (e.g. 'example.com', \
         regex used for validation is \
         '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
    };
    vec![Cause {
        kind: "FieldValueInvalid",
        field: "metadata.name".to_owned(),
        body: format!("Invalid value: {}: {detail}", quote(name)),
    }]
}

fn is_dns_label(name: &str) -> bool {
    name.len() <= 63 && is_label_shape(name)
}

/// A subdomain: at most 253 characters of dot-separated label shapes; unlike
/// DNS itself, Kubernetes sets no 63-character limit per part.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_label_shape)
}

fn is_label_shape(part: &str) -> bool {
    let bytes = part.as_bytes();
    !bytes.is_empty()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Applies the defaults and create-time status rules of the kinds that have them.
///
/// A create through the API starts with an empty status, as the real
/// strategies' `PrepareForCreate` do; objects preloaded with `--load` keep theirs.
pub(crate) fn prepare_for_create(kind: &Kind, object: &mut Value, keep_status: bool) {
    let Value::Object(map) = object else { return };
    if kind.status && !keep_status {
        map.remove("status");
    }
    match (kind.group, kind.plural) {
        ("", "persistentvolumes") => {
            let spec = map.entry("spec").or_insert_with(|| json!({}));
            default(spec, "persistentVolumeReclaimPolicy", "Retain");
            default(spec, "volumeMode", "Filesystem");
            let status = map.entry("status").or_insert_with(|| json!({}));
            default(status, "phase", "Pending");
        }
        ("", "persistentvolumeclaims") => {
            let spec = map.entry("spec").or_insert_with(|| json!({}));
            default(spec, "volumeMode", "Filesystem");
            let status = map.entry("status").or_insert_with(|| json!({}));
            default(status, "phase", "Pending");
        }
        ("", "namespaces") => {
            let name = map["metadata"]["name"].clone();
            let meta = map.entry("metadata").or_insert_with(|| json!({}));
            if let Some(meta) = meta.as_object_mut() {
                let labels = meta.entry("labels").or_insert_with(|| json!({}));
                if let Some(labels) = labels.as_object_mut() {
                    labels.insert("kubernetes.io/metadata.name".into(), name);
                }
            }
            let spec = map.entry("spec").or_insert_with(|| json!({}));
            if let Value::Object(spec) = spec {
                spec.entry("finalizers")
                    .or_insert_with(|| json!(["kubernetes"]));
            }
            let status = map.entry("status").or_insert_with(|| json!({}));
            default(status, "phase", "Active");
        }
        ("", "secrets") => {
            // The real strategy folds `stringData` into `data`.
            if let Some(Value::Object(strings)) = map.remove("stringData") {
                let data = map.entry("data").or_insert_with(|| json!({}));
                if let Some(data) = data.as_object_mut() {
                    for (key, value) in strings {
                        let text = value.as_str().unwrap_or("");
                        let encoded = base64::engine::general_purpose::STANDARD.encode(text);
                        data.insert(key, encoded.into());
                    }
                }
            }
            default(object, "type", "Opaque");
        }
        ("storage.k8s.io", "storageclasses") => {
            default(object, "reclaimPolicy", "Delete");
            default(object, "volumeBindingMode", "Immediate");
        }
        _ => {}
    }
}

fn default(object: &mut Value, field: &str, value: &str) {
    if let Value::Object(map) = object {
        map.entry(field).or_insert_with(|| value.into());
    }
}

/// Refuses finalizers added to an object that is being deleted.
pub(crate) fn no_new_finalizers(old: &Value, new: &Value) -> Vec<Cause> {
    if !is_terminating(old) {
        return Vec::new();
    }
    let before = finalizers(old);
    let mut extra: Vec<String> = finalizers(new)
        .into_iter()
        .filter(|f| !before.contains(f))
        .collect();
    if extra.is_empty() {
        return Vec::new();
    }
    extra.sort();
    extra.dedup();
    let list: Vec<String> = extra.iter().map(|f| quote(f)).collect();
    vec![Cause {
        kind: "FieldValueForbidden",
        field: "metadata.finalizers".to_owned(),
        body: format!(
            "Forbidden: no new finalizers can be added if the object is being deleted, found new \
             finalizers []string{{{}}}",
            list.join(", ")
        ),
    }]
}

/// The part of an object that counts for `metadata.generation`: all but
/// `metadata` and `status`.
pub(crate) fn spec_part(object: &Value) -> Value {
    let mut out = object.clone();
    if let Value::Object(map) = &mut out {
        map.remove("metadata");
        map.remove("status");
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn uids_look_like_uuids() {
        let uid = uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
    }

    #[test]
    fn names_are_validated_per_kind() {
        let pv = Kind::find("", "v1", "persistentvolumes").unwrap();
        assert!(validate_name(pv, "pvc-1.example").is_empty());
        assert_eq!(validate_name(pv, "Bad_Name").len(), 1);
        let attachment = format!("csi-{}", "0123456789abcdef".repeat(4));
        assert!(
            validate_name(pv, &attachment).is_empty(),
            "no 63-character limit per part"
        );
        assert_eq!(validate_name(pv, &"a".repeat(254)).len(), 1);
        let ns = Kind::find("", "v1", "namespaces").unwrap();
        assert_eq!(validate_name(ns, "a.b").len(), 1);
    }

    #[test]
    fn timestamps_have_whole_seconds() {
        let t = now();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z'));
    }
}
