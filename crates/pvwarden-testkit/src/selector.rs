//! Label and field selectors, parsed from query strings and matched on JSON objects.
//!
//! Label selectors take the full set-based grammar of
//! `k8s.io/apimachinery/pkg/labels` (`=`, `==`, `!=`, `in`, `notin`, `key`,
//! `!key`, `>` and `<`). Field selectors take `=`, `==` and `!=` on the fields
//! each kind supports on a real server (see [`fields_of`]).

use serde_json::Value;

use crate::resource::Kind;
use crate::status::ApiError;

/// A parsed label selector: all requirements must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct LabelSelector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq)]
struct Requirement {
    key: String,
    op: Op,
    values: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Op {
    Equals,
    NotEquals,
    In,
    NotIn,
    Exists,
    DoesNotExist,
    GreaterThan,
    LessThan,
}

impl LabelSelector {
    /// Parses a selector; an empty string selects everything.
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, ApiError> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "unable to parse requirement: found '{part}', expected: \
                     key, !key, key=value, key!=value, key in (...) or key notin (...)"
                ))
            })?);
        }
        Ok(LabelSelector { requirements })
    }

    /// Whether the selector selects everything.
    pub(crate) fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether an object's `metadata.labels` satisfy the selector.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = &object["metadata"]["labels"];
        self.requirements.iter().all(|r| r.matches(labels))
    }
}

impl Requirement {
    fn matches(&self, labels: &Value) -> bool {
        let value = labels.get(&self.key).and_then(Value::as_str);
        match (self.op, value) {
            (Op::Exists, v) => v.is_some(),
            (Op::DoesNotExist, v) => v.is_none(),
            (Op::Equals | Op::In, Some(v)) => self.values.iter().any(|x| x == v),
            (Op::Equals | Op::In, None) => false,
            (Op::NotEquals | Op::NotIn, Some(v)) => !self.values.iter().any(|x| x == v),
            (Op::NotEquals | Op::NotIn, None) => true,
            (Op::GreaterThan | Op::LessThan, None) => false,
            (op, Some(v)) => {
                let (Ok(have), Some(Ok(want))) = (
                    v.parse::<i64>(),
                    self.values.first().map(|w| w.parse::<i64>()),
                ) else {
                    return false;
                };
                if op == Op::GreaterThan {
                    have > want
                } else {
                    have < want
                }
            }
        }
    }
}

/// Splits at commas that are not inside parentheses.
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_requirement(part: &str) -> Option<Requirement> {
    let requirement = |key: &str, op, values: Vec<String>| {
        let key = key.trim();
        valid_key(key).then(|| Requirement {
            key: key.to_owned(),
            op,
            values,
        })
    };
    if let Some(key) = part.strip_prefix('!') {
        return requirement(key, Op::DoesNotExist, Vec::new());
    }
    for (token, op) in [("!=", Op::NotEquals), ("==", Op::Equals), ("=", Op::Equals)] {
        if let Some((key, value)) = part.split_once(token) {
            let value = value.trim();
            return valid_value(value)
                .then(|| requirement(key, op, vec![value.to_owned()]))
                .flatten();
        }
    }
    for (token, op) in [(">", Op::GreaterThan), ("<", Op::LessThan)] {
        if let Some((key, value)) = part.split_once(token) {
            let value = value.trim();
            value.parse::<i64>().ok()?;
            return requirement(key, op, vec![value.to_owned()]);
        }
    }
    for (token, op) in [(" notin ", Op::NotIn), (" in ", Op::In)] {
        if let Some((key, set)) = part.split_once(token) {
            let set = set.trim().strip_prefix('(')?.strip_suffix(')')?;
            let values: Vec<String> = set.split(',').map(|v| v.trim().to_owned()).collect();
            if !values.iter().all(|v| valid_value(v)) {
                return None;
            }
            return requirement(key, op, values);
        }
    }
    requirement(part, Op::Exists, Vec::new())
}

/// A label key: an optional DNS prefix and `/`, then a name of at most 63 characters.
fn valid_key(key: &str) -> bool {
    let name = key.rsplit_once('/').map_or(key, |(_, name)| name);
    !name.is_empty()
        && name.len() <= 63
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

fn valid_value(value: &str) -> bool {
    value.len() <= 63
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

/// A parsed field selector: all terms must hold.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct FieldSelector {
    terms: Vec<(String, bool, String)>,
}

impl FieldSelector {
    /// Parses a selector for a kind, refusing fields the kind cannot select on.
    pub(crate) fn parse(text: &str, kind: &Kind) -> Result<FieldSelector, ApiError> {
        let mut terms = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (field, equal, value) = if let Some((f, v)) = part.split_once("!=") {
                (f, false, v)
            } else if let Some((f, v)) = part.split_once("==") {
                (f, true, v)
            } else if let Some((f, v)) = part.split_once('=') {
                (f, true, v)
            } else {
                let message = format!("invalid selector: '{text}'; can't understand '{part}'");
                return Err(ApiError::bad_request(message));
            };
            let field = field.trim();
            if !fields_of(kind).contains(&field) {
                let message = format!("field label not supported: {field}");
                return Err(ApiError::bad_request(message));
            }
            terms.push((field.to_owned(), equal, value.trim().to_owned()));
        }
        Ok(FieldSelector { terms })
    }

    /// Whether the selector selects everything.
    pub(crate) fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    /// Whether an object's fields satisfy the selector.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.terms
            .iter()
            .all(|(field, equal, value)| (field_value(object, field) == *value) == *equal)
    }
}

/// The fields a kind can be selected on, as the real server's `GetAttrs` offer them.
pub(crate) fn fields_of(kind: &Kind) -> &'static [&'static str] {
    const META: &[&str] = &["metadata.name", "metadata.namespace"];
    const EVENT: &[&str] = &[
        "metadata.name",
        "metadata.namespace",
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    ];
    const EVENT_V1: &[&str] = &[
        "metadata.name",
        "metadata.namespace",
        "regarding.kind",
        "regarding.namespace",
        "regarding.name",
        "regarding.uid",
        "regarding.apiVersion",
        "regarding.resourceVersion",
        "regarding.fieldPath",
        "reason",
        "reportingController",
        "type",
    ];
    const POD: &[&str] = &[
        "metadata.name",
        "metadata.namespace",
        "spec.nodeName",
        "spec.restartPolicy",
        "spec.schedulerName",
        "spec.serviceAccountName",
        "spec.hostNetwork",
        "status.phase",
        "status.podIP",
        "status.nominatedNodeName",
    ];
    match (kind.group, kind.plural) {
        ("", "events") => EVENT,
        ("events.k8s.io", "events") => EVENT_V1,
        ("", "pods") => POD,
        ("", "secrets") => &["metadata.name", "metadata.namespace", "type"],
        ("", "nodes") => &["metadata.name", "spec.unschedulable"],
        ("", "namespaces") => &["metadata.name", "status.phase"],
        _ => META,
    }
}

/// A field's value as a selector sees it: strings as they are, booleans and
/// numbers printed, anything missing as the empty string.
fn field_value(object: &Value, field: &str) -> String {
    let field = match field {
        "source" => "source.component",
        other => other,
    };
    let mut at = object;
    for part in field.split('.') {
        at = &at[part];
    }
    match at {
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        _ if field == "spec.unschedulable" || field == "spec.hostNetwork" => "false".to_owned(),
        _ => String::new(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> Value {
        let map: serde_json::Map<String, Value> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).into()))
            .collect();
        json!({"metadata": {"labels": map}})
    }

    #[test]
    fn label_selector_takes_every_operator() {
        let obj = labels(&[("app", "db"), ("tier", "2")]);
        for (text, want) in [
            ("app=db", true),
            ("app==db", true),
            ("app!=db", false),
            ("app!=web", true),
            ("missing!=x", true),
            ("app in (web, db)", true),
            ("app notin (web,db)", false),
            ("missing notin (a)", true),
            ("app", true),
            ("!app", false),
            ("!missing", true),
            ("tier>1", true),
            ("tier<1", false),
            ("app=db,tier in (2)", true),
            ("", true),
        ] {
            let selector = LabelSelector::parse(text).unwrap();
            assert_eq!(selector.matches(&obj), want, "{text}");
        }
    }

    #[test]
    fn label_selector_refuses_garbage() {
        assert!(LabelSelector::parse("app in db").is_err());
        assert!(LabelSelector::parse("a=b c").is_err());
    }

    #[test]
    fn field_selector_knows_event_fields() {
        let kind = Kind::find("", "v1", "events").unwrap();
        let event = json!({"metadata": {"name": "e"},
            "involvedObject": {"kind": "PersistentVolume"},
            "reason": "VolumeFailedDelete", "type": "Warning"});
        let s = FieldSelector::parse("involvedObject.kind=PersistentVolume,type!=Normal", kind);
        assert!(s.unwrap().matches(&event));
        let pv = Kind::find("", "v1", "persistentvolumes").unwrap();
        let err = FieldSelector::parse("spec.foo=x", pv).unwrap_err();
        assert_eq!(err.message, "field label not supported: spec.foo");
    }
}
