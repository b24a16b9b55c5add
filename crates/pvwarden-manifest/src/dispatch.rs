//! Reading one object whose type is only known once its `kind` has been read.
//!
//! This part is the same for YAML and JSON: it only sees a serde
//! [`MapAccess`]. `apiVersion` and `kind` nearly always come first (kubectl,
//! helm and kustomize all print them first), so the fast path reads those
//! entries, picks the k8s-openapi type and hands it a map that continues where
//! the reading stopped. Nothing of the object is buffered on that path. When
//! `kind` comes later and no enclosing list names it, the entries before it
//! are buffered as [`serde_json::Value`]s, which costs one object's size at
//! most.

use std::collections::VecDeque;
use std::fmt;

use pvwarden_domain::object::Object;
use serde::de::value::{MapAccessDeserializer, StringDeserializer};
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;

use crate::kind::{self, Hint, Known};

/// What reading one object produced.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// An object of a supported kind.
    Object(Object),
    /// An object of another kind, consumed and dropped; the key to count it under.
    Skipped(String),
    /// A map without `kind`, with no list to infer one from.
    NoKind,
}

/// The `apiVersion` and `kind` of the object being read, once known.
///
/// Callers keep this outside the read so that an error can name the kind.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    pub api_version: Option<String>,
    pub kind: Option<String>,
}

/// Where the rest of a map starts after its leading entries were read.
#[derive(Debug)]
pub(crate) enum Next {
    /// This key was read; its value was not.
    Key(String),
    /// The map has ended.
    End,
}

/// Reads the leading `apiVersion` and `kind` entries of a map into `seen`.
pub(crate) fn read_header<'de, A: MapAccess<'de>>(
    map: &mut A,
    seen: &mut Seen,
) -> Result<Next, A::Error> {
    while let Some(key) = map.next_key::<String>()? {
        match key.as_str() {
            "apiVersion" => seen.api_version = Some(map.next_value()?),
            "kind" => seen.kind = Some(map.next_value()?),
            _ => return Ok(Next::Key(key)),
        }
    }
    Ok(Next::End)
}

/// Names the kind of an object that has none, from an enclosing list.
///
/// With `false` it answers from what is known; with `true` it may look
/// further into the input for a list kind that comes after the items, which
/// can cost a pass over the rest of the input, so it is asked for last.
pub(crate) type HintFn<'a> = dyn FnMut(bool) -> Option<Hint> + 'a;

/// Reads the rest of an object whose leading entries are in `seen`.
pub(crate) fn read_rest<'de, A: MapAccess<'de>>(
    map: A,
    next: Next,
    seen: &mut Seen,
    hint: &mut HintFn<'_>,
) -> Result<Outcome, A::Error> {
    if seen.kind.is_none() {
        if let Some(hint) = hint(false) {
            apply(seen, hint);
        }
    }
    let mut rest = Rest {
        buffered: VecDeque::new(),
        value: None,
        pending: None,
        map,
        ended: false,
    };
    match next {
        Next::Key(key) => rest.pending = Some(key),
        Next::End => rest.ended = true,
    }
    if seen.kind.is_none() && !rest.find_kind(seen)? {
        // The whole object is buffered now; a list kind further on may still name it.
        match hint(true) {
            Some(hint) => apply(seen, hint),
            None => return Ok(Outcome::NoKind),
        }
    }

    let kind = seen.kind.as_deref().unwrap_or_default();
    match Known::lookup(seen.api_version.as_deref(), kind) {
        Some(known) => known
            .decode(MapAccessDeserializer::new(rest))
            .map(Outcome::Object),
        None => {
            rest.skip()?;
            Ok(Outcome::Skipped(kind::skip_key(
                seen.api_version.as_deref(),
                kind,
            )))
        }
    }
}

fn apply(seen: &mut Seen, hint: Hint) {
    seen.kind = Some(hint.kind);
    seen.api_version = seen.api_version.take().or(hint.api_version);
}

/// The rest of an object's map: buffered entries first, then the live map.
struct Rest<A> {
    buffered: VecDeque<(String, Value)>,
    value: Option<Value>,
    pending: Option<String>,
    map: A,
    ended: bool,
}

impl<'de, A: MapAccess<'de>> Rest<A> {
    /// Buffers entries until `kind` is found; returns whether it was.
    fn find_kind(&mut self, seen: &mut Seen) -> Result<bool, A::Error> {
        loop {
            let key = match self.pending.take() {
                Some(key) => key,
                None if self.ended => return Ok(false),
                None => match self.map.next_key::<String>()? {
                    Some(key) => key,
                    None => {
                        self.ended = true;
                        return Ok(false);
                    }
                },
            };
            match key.as_str() {
                "kind" => {
                    seen.kind = Some(self.map.next_value()?);
                    return Ok(true);
                }
                "apiVersion" => seen.api_version = Some(self.map.next_value()?),
                _ => {
                    let value = self.map.next_value::<Value>()?;
                    self.buffered.push_back((key, value));
                }
            }
        }
    }

    /// Consumes what is left of the live map.
    fn skip(mut self) -> Result<(), A::Error> {
        if self.pending.take().is_some() {
            self.map.next_value::<IgnoredAny>()?;
        }
        if !self.ended {
            while self.map.next_key::<IgnoredAny>()?.is_some() {
                self.map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Rest<A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        if let Some((key, value)) = self.buffered.pop_front() {
            self.value = Some(value);
            return seed.deserialize(StringDeserializer::new(key)).map(Some);
        }
        if let Some(key) = self.pending.take() {
            return seed.deserialize(StringDeserializer::new(key)).map(Some);
        }
        if self.ended {
            return Ok(None);
        }
        let key = self.map.next_key_seed(seed)?;
        self.ended = key.is_none();
        Ok(key)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value).map_err(de::Error::custom),
            None => self.map.next_value_seed(seed),
        }
    }
}

/// Reads one object from a serde map, for list items and JSON values.
pub(crate) struct ObjectSeed<'a, 'h> {
    /// Filled in as `apiVersion` and `kind` are read.
    pub seen: &'a mut Seen,
    /// Names the kind when the object has none.
    pub hint: &'a mut HintFn<'h>,
}

impl<'de> DeserializeSeed<'de> for ObjectSeed<'_, '_> {
    type Value = Outcome;

    fn deserialize<D: de::Deserializer<'de>>(self, de: D) -> Result<Outcome, D::Error> {
        de.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for ObjectSeed<'_, '_> {
    type Value = Outcome;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a Kubernetes object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Outcome, A::Error> {
        let next = read_header(&mut map, self.seen)?;
        read_rest(map, next, self.seen, self.hint)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    fn read(json: &str, hint: Option<Hint>) -> (Result<Outcome, serde_json::Error>, Seen) {
        let mut seen = Seen::default();
        let mut de = serde_json::Deserializer::from_str(json);
        let mut hint = move |_| hint.clone();
        let outcome = ObjectSeed {
            seen: &mut seen,
            hint: &mut hint,
        }
        .deserialize(&mut de);
        (outcome, seen)
    }

    #[test]
    fn kind_after_other_fields_is_found() {
        let (outcome, seen) = read(
            r#"{"metadata":{"name":"pv-1"},"spec":{},"kind":"PersistentVolume","apiVersion":"v1"}"#,
            None,
        );
        let Ok(Outcome::Object(Object::PersistentVolume(pv))) = outcome else {
            panic!("expected a PersistentVolume, got {outcome:?}");
        };
        assert_eq!(pv.metadata.name.as_deref(), Some("pv-1"));
        assert_eq!(seen.kind.as_deref(), Some("PersistentVolume"));
    }

    #[test]
    fn hint_names_kindless_objects() {
        let hint = Hint::for_list(Some("v1"), "PersistentVolumeClaimList");
        let (outcome, _) = read(r#"{"metadata":{"name":"data"}}"#, hint);
        assert!(matches!(
            outcome,
            Ok(Outcome::Object(Object::PersistentVolumeClaim(_)))
        ));
    }

    #[test]
    fn unknown_kinds_are_skipped_whole() {
        let (outcome, _) = read(
            r#"{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"b"},"x":[1,2]}"#,
            None,
        );
        assert!(matches!(outcome, Ok(Outcome::Skipped(k)) if k == "ConfigMap"));
    }

    #[test]
    fn object_without_kind_is_reported() {
        let (outcome, _) = read(r#"{"metadata":{"name":"x"}}"#, None);
        assert!(matches!(outcome, Ok(Outcome::NoKind)));
    }
}
