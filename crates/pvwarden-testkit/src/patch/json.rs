//! JSON patch (RFC 6902), with the real server's error split.

use serde_json::Value;

use crate::status::ApiError;

/// Applies a JSON patch body; see the [module](super) docs for the errors.
pub(crate) fn apply(current: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let ops: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("error decoding patch: {e}")))?;
    let Value::Array(ops) = ops else {
        let what = if ops.is_object() { "object" } else { "value" };
        return Err(ApiError::bad_request(format!(
            "json: cannot unmarshal {what} into Go value of type jsonpatch.Patch"
        )));
    };
    if ops.iter().any(|op| !op.is_object()) {
        return Err(ApiError::bad_request(
            "json: cannot unmarshal value into Go value of type jsonpatch.Operation",
        ));
    }
    let mut doc = current.clone();
    for op in &ops {
        apply_one(&mut doc, op).ok_or_else(ApiError::patch_not_applicable)?;
    }
    Ok(doc)
}

/// Applies one operation; `None` when it cannot be applied.
fn apply_one(doc: &mut Value, op: &Value) -> Option<()> {
    let path = op.get("path")?.as_str()?;
    match op.get("op")?.as_str()? {
        "add" => add(doc, path, op.get("value")?.clone()),
        "remove" => remove(doc, path).map(drop),
        "replace" => {
            let value = op.get("value")?.clone();
            *doc.pointer_mut(checked(path)?)? = value;
            Some(())
        }
        "move" => {
            let from = op.get("from")?.as_str()?;
            if path.starts_with(&format!("{from}/")) {
                return None;
            }
            let value = remove(doc, from)?;
            add(doc, path, value)
        }
        "copy" => {
            let from = op.get("from")?.as_str()?;
            let value = doc.pointer(checked(from)?)?.clone();
            add(doc, path, value)
        }
        "test" => {
            let want = op.get("value")?;
            (doc.pointer(checked(path)?)? == want).then_some(())
        }
        _ => None,
    }
}

/// A pointer serde_json can follow: empty or starting with `/`.
fn checked(path: &str) -> Option<&str> {
    (path.is_empty() || path.starts_with('/')).then_some(path)
}

fn split(path: &str) -> Option<(&str, String)> {
    let (parent, last) = checked(path)?.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}

fn add(doc: &mut Value, path: &str, value: Value) -> Option<()> {
    if path.is_empty() {
        *doc = value;
        return Some(());
    }
    let (parent, last) = split(path)?;
    match doc.pointer_mut(parent)? {
        Value::Object(map) => {
            map.insert(last, value);
        }
        Value::Array(items) => {
            let index = if last == "-" {
                items.len()
            } else {
                index_of(&last)?
            };
            if index > items.len() {
                return None;
            }
            items.insert(index, value);
        }
        _ => return None,
    }
    Some(())
}

fn remove(doc: &mut Value, path: &str) -> Option<Value> {
    let (parent, last) = split(path)?;
    match doc.pointer_mut(parent)? {
        Value::Object(map) => map.remove(&last),
        Value::Array(items) => {
            let index = index_of(&last)?;
            (index < items.len()).then(|| items.remove(index))
        }
        _ => None,
    }
}

/// An array index: digits only, no leading zero.
fn index_of(token: &str) -> Option<usize> {
    let digits = !token.is_empty() && token.bytes().all(|b| b.is_ascii_digit());
    if !digits || (token.len() > 1 && token.starts_with('0')) {
        return None;
    }
    token.parse().ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use serde_json::json;

    use super::*;

    fn run(doc: Value, ops: Value) -> Result<Value, ApiError> {
        apply(&doc, ops.to_string().as_bytes())
    }

    #[test]
    fn json_patch_applies_every_operation() {
        let doc = json!({"metadata": {"finalizers": ["a", "b"]}, "spec": {"x": 1}});
        let ops = json!([
            {"op": "test", "path": "/spec/x", "value": 1},
            {"op": "remove", "path": "/metadata/finalizers/0"},
            {"op": "add", "path": "/metadata/finalizers/-", "value": "c"},
            {"op": "replace", "path": "/spec/x", "value": 2},
            {"op": "copy", "from": "/spec/x", "path": "/spec/y"},
            {"op": "move", "from": "/spec/y", "path": "/spec/z"},
            {"op": "add", "path": "/metadata/labels", "value": {"a~b/c": "d"}}
        ]);
        let want = json!({"metadata": {"finalizers": ["b", "c"], "labels": {"a~b/c": "d"}},
            "spec": {"x": 2, "z": 2}});
        assert_eq!(run(doc, ops).unwrap(), want);
    }

    #[test]
    fn failed_test_is_the_generic_invalid() {
        let err = run(
            json!({"a": 1}),
            json!([{"op": "test", "path": "/a", "value": 2}]),
        );
        let err = err.unwrap_err();
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        let err = run(json!({"a": 1}), json!([{"op": "remove", "path": "/b"}])).unwrap_err();
        assert_eq!(err.code, 422);
    }

    #[test]
    fn undecodable_patch_is_a_bad_request() {
        assert_eq!(run(json!({}), json!({"op": "add"})).unwrap_err().code, 400);
        assert_eq!(apply(&json!({}), b"[{").unwrap_err().code, 400);
    }
}
