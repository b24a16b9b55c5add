//! The strategic merge patch subset the built-in kinds here need.
//!
//! Maps merge key by key and `null` deletes, as in a JSON merge patch. Lists
//! follow the patch strategy their Go field declares, looked up by field name
//! in [`strategy_of`] (the kinds served here never use one name for two
//! strategies):
//!
//! - `metadata.finalizers` merges as a set of strings: a patch list is added
//!   to the current one, and entries are removed with
//!   `$deleteFromPrimitiveList/finalizers` or by setting the field to `null`.
//!   A patch of `finalizers: []` therefore removes nothing, as on a real
//!   server (use `null`, a JSON merge patch or a JSON patch to clear them);
//! - lists with a merge key (`ownerReferences` by `uid`, `conditions` by
//!   `type`, `containers`, `env`, `volumes` by `name`, ...) merge item by item;
//!   an item `{"$patch": "delete", <key>: ...}` removes one, and a list item
//!   `{"$patch": "replace"}` makes the patch list replace the whole list;
//! - every other list is replaced.
//!
//! Also understood: `$patch: replace` and `$patch: delete` on maps,
//! `$retainKeys`, and `$setElementOrder/<list>`, which puts the listed items
//! first in the given order and keeps the others after them (the real server
//! interleaves server-only items by their old positions instead).

use serde_json::{Map, Value};

use crate::status::ApiError;

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Strategy {
    Replace,
    Set,
    ByKey(&'static str),
}

/// The patch strategy of a list field, by its JSON name.
fn strategy_of(field: &str) -> Strategy {
    match field {
        "finalizers" => Strategy::Set,
        "ownerReferences" => Strategy::ByKey("uid"),
        "conditions" | "addresses" => Strategy::ByKey("type"),
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => Strategy::ByKey("name"),
        "volumeMounts" => Strategy::ByKey("mountPath"),
        "volumeDevices" => Strategy::ByKey("devicePath"),
        "ports" => Strategy::ByKey("containerPort"),
        "hostAliases" => Strategy::ByKey("ip"),
        "topologySpreadConstraints" => Strategy::ByKey("topologyKey"),
        _ => Strategy::Replace,
    }
}

/// Applies a strategic merge patch to an object.
pub(crate) fn merge(current: &Value, patch: &Value) -> Result<Value, ApiError> {
    let (Value::Object(current), Value::Object(patch)) = (current, patch) else {
        return Ok(patch.clone());
    };
    Ok(merge_map(current.clone(), patch)?.map_or(Value::Null, Value::Object))
}

/// Merges a patch map into a map; `None` when the patch deletes the map.
fn merge_map(
    mut out: Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, ApiError> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => return Ok(Some(strip(patch))),
        Some("delete") => return Ok(None),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "unknown patch type: {other}"
            )));
        }
        None => {}
    }
    for (key, value) in patch {
        if key.starts_with('$') {
            continue;
        }
        if value.is_null() {
            out.remove(key);
            continue;
        }
        let merged = match (out.remove(key), value) {
            (Some(Value::Object(old)), Value::Object(new)) => {
                merge_map(old, new)?.map(Value::Object)
            }
            (Some(Value::Array(old)), Value::Array(new)) => Some(merge_list(key, old, new)?),
            (_, Value::Object(new)) => merge_map(Map::new(), new)?.map(Value::Object),
            (_, Value::Array(new)) => Some(merge_list(key, Vec::new(), new)?),
            (_, other) => Some(other.clone()),
        };
        if let Some(merged) = merged {
            out.insert(key.clone(), merged);
        }
    }
    directives(&mut out, patch)?;
    Ok(Some(out))
}

/// Applies `$deleteFromPrimitiveList/`, `$setElementOrder/` and `$retainKeys`.
fn directives(out: &mut Map<String, Value>, patch: &Map<String, Value>) -> Result<(), ApiError> {
    for (key, value) in patch {
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            let gone = value.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(items)) = out.get_mut(field) {
                items.retain(|item| !gone.contains(item));
            }
        } else if let Some(field) = key.strip_prefix("$setElementOrder/") {
            let order = value.as_array().cloned().unwrap_or_default();
            if let Some(Value::Array(items)) = out.get_mut(field) {
                reorder(items, &order, strategy_of(field));
            }
        } else if key == "$retainKeys" {
            let keep: Vec<&str> = value
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            out.retain(|k, _| keep.contains(&k.as_str()));
        } else if key.starts_with('$') && key != "$patch" {
            return Err(ApiError::bad_request(format!(
                "unknown patch directive: {key}"
            )));
        }
    }
    Ok(())
}

fn merge_list(field: &str, old: Vec<Value>, patch: &[Value]) -> Result<Value, ApiError> {
    let replace = patch.iter().any(|item| is_directive(item, "replace"));
    if replace {
        let items = patch
            .iter()
            .filter(|i| !is_directive(i, "replace"))
            .map(strip_value)
            .collect();
        return Ok(Value::Array(items));
    }
    match strategy_of(field) {
        Strategy::Replace => Ok(Value::Array(patch.iter().map(strip_value).collect())),
        Strategy::Set => {
            let mut out = old;
            for item in patch {
                if !out.contains(item) {
                    out.push(item.clone());
                }
            }
            Ok(Value::Array(out))
        }
        Strategy::ByKey(key) => merge_keyed(key, old, patch),
    }
}

fn merge_keyed(key: &str, mut out: Vec<Value>, patch: &[Value]) -> Result<Value, ApiError> {
    for item in patch {
        let Value::Object(item) = item else {
            out.push(item.clone());
            continue;
        };
        let Some(id) = item.get(key) else {
            return Err(ApiError::bad_request(format!(
                "map: {} does not contain declared merge key: {key}",
                Value::Object(item.clone())
            )));
        };
        let at = out.iter().position(|o| o.get(key) == Some(id));
        if item.get("$patch").and_then(Value::as_str) == Some("delete") {
            out.retain(|o| o.get(key) != Some(id));
            continue;
        }
        match at {
            Some(at) => {
                let old = match out[at].take() {
                    Value::Object(old) => old,
                    _ => Map::new(),
                };
                match merge_map(old, item)? {
                    Some(merged) => out[at] = Value::Object(merged),
                    None => {
                        out.remove(at);
                    }
                }
            }
            None => out.push(Value::Object(strip(item))),
        }
    }
    Ok(Value::Array(out))
}

/// Puts the items named in `order` first, in that order; the rest keep theirs.
fn reorder(items: &mut Vec<Value>, order: &[Value], strategy: Strategy) {
    let rank = |item: &Value| {
        order.iter().position(|o| match strategy {
            Strategy::ByKey(key) => o.get(key).is_some() && o.get(key) == item.get(key),
            _ => o == item,
        })
    };
    let mut ranked: Vec<(usize, usize, Value)> = items
        .drain(..)
        .enumerate()
        .map(|(i, item)| (rank(&item).unwrap_or(usize::MAX), i, item))
        .collect();
    ranked.sort_by_key(|(rank, i, _)| (*rank, *i));
    items.extend(ranked.into_iter().map(|(_, _, item)| item));
}

fn is_directive(item: &Value, which: &str) -> bool {
    item.as_object()
        .is_some_and(|m| m.len() == 1 && m.get("$patch").and_then(Value::as_str) == Some(which))
}

/// Removes directives from a map that is inserted as it is.
fn strip(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .filter(|(k, _)| !k.starts_with('$'))
        .map(|(k, v)| (k.clone(), strip_value(v)))
        .collect()
}

fn strip_value(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(strip(map)),
        Value::Array(items) => Value::Array(items.iter().map(strip_value).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn finalizers_merge_as_a_set() {
        let pv = json!({"metadata": {"finalizers": ["a", "b"]}});
        let out = merge(&pv, &json!({"metadata": {"finalizers": ["c", "a"]}})).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b", "c"]));
        let out = merge(&pv, &json!({"metadata": {"finalizers": []}})).unwrap();
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        let out = merge(&pv, &json!({"metadata": {"finalizers": null}})).unwrap();
        assert_eq!(out["metadata"], json!({}));
        let patch = json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}});
        assert_eq!(
            merge(&pv, &patch).unwrap()["metadata"]["finalizers"],
            json!(["b"])
        );
    }

    #[test]
    fn keyed_lists_merge_item_by_item() {
        let pod = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b"}]}});
        let patch = json!({"spec": {"containers": [
            {"name": "a", "image": "y"}, {"name": "b", "$patch": "delete"}, {"name": "c"}
        ]}});
        let out = merge(&pod, &patch).unwrap();
        assert_eq!(
            out["spec"]["containers"],
            json!([{"name": "a", "image": "y"}, {"name": "c"}])
        );
    }

    #[test]
    fn other_lists_are_replaced_and_maps_merge() {
        let pv = json!({"spec": {"accessModes": ["ReadWriteOnce"],
            "csi": {"driver": "d", "fsType": "ext4"}}});
        let patch = json!({"spec": {"accessModes": ["ReadWriteMany"], "csi": {"fsType": null},
            "persistentVolumeReclaimPolicy": "Retain"}});
        let want = json!({"spec": {"accessModes": ["ReadWriteMany"], "csi": {"driver": "d"},
            "persistentVolumeReclaimPolicy": "Retain"}});
        assert_eq!(merge(&pv, &patch).unwrap(), want);
    }

    #[test]
    fn set_element_order_reorders() {
        let obj = json!({"metadata": {"finalizers": ["a", "b"]}});
        let patch = json!({"metadata": {"$setElementOrder/finalizers": ["b", "a"]}});
        assert_eq!(
            merge(&obj, &patch).unwrap()["metadata"]["finalizers"],
            json!(["b", "a"])
        );
    }

    #[test]
    fn map_replace_directive_replaces() {
        let obj = json!({"metadata": {"labels": {"a": "1", "b": "2"}}});
        let patch = json!({"metadata": {"labels": {"$patch": "replace", "c": "3"}}});
        assert_eq!(
            merge(&obj, &patch).unwrap()["metadata"]["labels"],
            json!({"c": "3"})
        );
    }
}
