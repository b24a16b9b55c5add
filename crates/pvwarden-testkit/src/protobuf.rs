//! Protobuf request bodies, for the few kinds kubectl creates through typed clients.
//!
//! `kubectl create namespace|configmap|secret` send their object as
//! `application/vnd.kubernetes.protobuf` and client-go does not fall back to
//! JSON. This module reads that envelope (`k8s\0` and a `runtime.Unknown`)
//! and the fields of those three kinds that a create can carry; any other
//! protobuf body is answered `415`. Responses are always JSON, which every
//! client accepts.

use base64::Engine as _;
use serde_json::{json, Map, Value};

use crate::resource::Kind;
use crate::status::ApiError;

/// The protobuf media type.
pub(crate) const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Decodes a protobuf body of a kind into its JSON form.
pub(crate) fn decode(kind: &Kind, body: &[u8]) -> Result<Value, ApiError> {
    let refuse = || ApiError::unsupported_media_type(&["application/json"]);
    let decoder = match (kind.group, kind.plural) {
        ("", "namespaces") => namespace as fn(&[u8]) -> Option<Map<String, Value>>,
        ("", "configmaps") => config_map,
        ("", "secrets") => secret,
        _ => return Err(refuse()),
    };
    let unknown = body.strip_prefix(b"k8s\0").ok_or_else(refuse)?;
    let raw = fields(unknown)
        .ok_or_else(bad)?
        .into_iter()
        .find_map(|(n, v)| (n == 2).then_some(v))
        .and_then(Field::bytes)
        .ok_or_else(bad)?;
    let mut object = decoder(raw).ok_or_else(bad)?;
    object.insert("apiVersion".into(), kind.api_version().into());
    object.insert("kind".into(), kind.kind.into());
    Ok(Value::Object(object))
}

fn bad() -> ApiError {
    ApiError::bad_request("the protobuf body of the request could not be decoded")
}

/// One field value as the wire gives it.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

impl<'a> Field<'a> {
    fn bytes(self) -> Option<&'a [u8]> {
        match self {
            Field::Bytes(b) => Some(b),
            _ => None,
        }
    }

    fn text(self) -> Option<String> {
        self.bytes()
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// Splits a message into its fields, in order.
fn fields(mut input: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    while !input.is_empty() {
        let key = varint(&mut input)?;
        let value = match key & 7 {
            0 => Field::Varint(varint(&mut input)?),
            1 => {
                input = input.get(8..)?;
                Field::Fixed
            }
            2 => {
                let len = usize::try_from(varint(&mut input)?).ok()?;
                let (bytes, rest) = (input.get(..len)?, input.get(len..)?);
                input = rest;
                Field::Bytes(bytes)
            }
            5 => {
                input = input.get(4..)?;
                Field::Fixed
            }
            _ => return None,
        };
        out.push((key >> 3, value));
    }
    Some(out)
}

fn varint(input: &mut &[u8]) -> Option<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = input.split_first()?;
        *input = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

/// A `map<string, string>` or `map<string, bytes>` entry; bytes are base64 encoded.
fn entry(bytes: &[u8], base64: bool) -> Option<(String, Value)> {
    let (mut key, mut value) = (String::new(), Value::String(String::new()));
    for (n, field) in fields(bytes)? {
        match n {
            1 => key = field.text()?,
            2 if base64 => {
                let raw = field.bytes()?;
                value = base64::engine::general_purpose::STANDARD.encode(raw).into();
            }
            2 => value = field.text()?.into(),
            _ => {}
        }
    }
    Some((key, value))
}

fn insert_entry(
    map: &mut Map<String, Value>,
    name: &str,
    bytes: &[u8],
    base64: bool,
) -> Option<()> {
    let (key, value) = entry(bytes, base64)?;
    let target = map.entry(name).or_insert_with(|| json!({}));
    target.as_object_mut()?.insert(key, value);
    Some(())
}

fn object_meta(bytes: &[u8]) -> Option<Value> {
    let mut meta = Map::new();
    for (n, field) in fields(bytes)? {
        match n {
            1 => meta.insert("name".into(), field.text()?.into()),
            2 => meta.insert("generateName".into(), field.text()?.into()),
            3 => meta.insert("namespace".into(), field.text()?.into()),
            5 => meta.insert("uid".into(), field.text()?.into()),
            6 => meta.insert("resourceVersion".into(), field.text()?.into()),
            11 => insert_entry(&mut meta, "labels", field.bytes()?, false).map(|()| Value::Null),
            12 => {
                insert_entry(&mut meta, "annotations", field.bytes()?, false).map(|()| Value::Null)
            }
            14 => {
                let list = meta.entry("finalizers").or_insert_with(|| json!([]));
                list.as_array_mut()?.push(field.text()?.into());
                None
            }
            _ => None,
        };
    }
    // Go writes empty strings for unset fields; JSON leaves them out.
    meta.retain(|_, v| v.as_str() != Some(""));
    Some(Value::Object(meta))
}

fn namespace(bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut object = Map::new();
    for (n, field) in fields(bytes)? {
        match n {
            1 => {
                object.insert("metadata".into(), object_meta(field.bytes()?)?);
            }
            2 => {
                let finalizers: Option<Vec<Value>> = fields(field.bytes()?)?
                    .into_iter()
                    .filter(|(n, _)| *n == 1)
                    .map(|(_, f)| f.text().map(Value::from))
                    .collect();
                let finalizers = finalizers?;
                if !finalizers.is_empty() {
                    object.insert("spec".into(), json!({"finalizers": finalizers}));
                }
            }
            _ => {}
        }
    }
    Some(object)
}

fn config_map(bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut object = Map::new();
    for (n, field) in fields(bytes)? {
        match n {
            1 => {
                object.insert("metadata".into(), object_meta(field.bytes()?)?);
            }
            2 => insert_entry(&mut object, "data", field.bytes()?, false)?,
            3 => insert_entry(&mut object, "binaryData", field.bytes()?, true)?,
            4 => {
                if let Field::Varint(v) = field {
                    object.insert("immutable".into(), (v != 0).into());
                }
            }
            _ => {}
        }
    }
    Some(object)
}

fn secret(bytes: &[u8]) -> Option<Map<String, Value>> {
    let mut object = Map::new();
    for (n, field) in fields(bytes)? {
        match n {
            1 => {
                object.insert("metadata".into(), object_meta(field.bytes()?)?);
            }
            2 => insert_entry(&mut object, "data", field.bytes()?, true)?,
            3 => {
                let kind = field.text()?;
                if !kind.is_empty() {
                    object.insert("type".into(), kind.into());
                }
            }
            4 => insert_entry(&mut object, "stringData", field.bytes()?, false)?,
            5 => {
                if let Field::Varint(v) = field {
                    object.insert("immutable".into(), (v != 0).into());
                }
            }
            _ => {}
        }
    }
    Some(object)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn field(n: u8, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![(n << 3) | 2, u8::try_from(bytes.len()).unwrap()];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn a_config_map_envelope_decodes() {
        let meta = [
            field(1, b"settings"),
            field(3, b"apps"),
            field(11, &[field(1, b"a"), field(2, b"b")].concat()),
        ]
        .concat();
        let data = [field(1, b"k"), field(2, b"v")].concat();
        let object = [field(1, &meta), field(2, &data)].concat();
        let unknown = [
            field(1, &[field(1, b"v1"), field(2, b"ConfigMap")].concat()),
            field(2, &object),
        ]
        .concat();
        let body = [b"k8s\0".as_slice(), &unknown].concat();
        let kind = Kind::find("", "v1", "configmaps").unwrap();
        let value = decode(kind, &body).unwrap();
        assert_eq!(
            value["metadata"],
            json!({"name": "settings", "namespace": "apps", "labels": {"a": "b"}})
        );
        assert_eq!(value["data"], json!({"k": "v"}));
        assert_eq!(value["kind"], "ConfigMap");
    }

    #[test]
    fn other_kinds_are_refused() {
        let kind = Kind::find("", "v1", "persistentvolumes").unwrap();
        assert_eq!(decode(kind, b"k8s\0").unwrap_err().code, 415);
    }
}
