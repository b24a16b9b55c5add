//! A serde deserializer over the parser's events.
//!
//! Types ask for what they want and scalars are read accordingly: a string
//! field takes any scalar's text, so `version: 1.10` stays `"1.10"`, while
//! self-describing targets (`serde_json::Value`, `IntOrString`) get the YAML
//! 1.2 core schema: null, booleans, integers and floats by their spelling,
//! quoted scalars always as strings. Errors pick up the field path as they
//! travel up through the maps and sequences they came from, and the position
//! of the innermost value.

use std::borrow::Cow;
use std::fmt;
use std::io;

use granit_parser::{Event, ScalarStyle, Tag};
use serde::de::value::{MapAccessDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, IntoDeserializer, Unexpected, Visitor};

use super::events::{Events, Pos};
use crate::error::Segment;

/// An error from the YAML deserializer.
///
/// Boxed, because it travels through every serde call on the success path.
#[derive(Debug)]
pub(crate) struct DeError(Box<Inner>);

#[derive(Debug)]
struct Inner {
    kind: DeKind,
    message: String,
    pos: Option<Pos>,
    /// Innermost segment first; reversed when rendered.
    path: Vec<Segment>,
}

/// What went wrong, which decides how reading goes on.
#[derive(Debug)]
pub(crate) enum DeKind {
    /// A value does not fit its type; the rest of the document is still readable.
    Data,
    /// The parser gave up; the document ends here.
    Syntax,
    /// A byte sequence is not UTF-8; the document ends here.
    Encoding,
    /// A limit was hit; the document ends here.
    Limit { what: &'static str, limit: u64 },
    /// Reading the input failed.
    Io(io::Error),
}

impl DeError {
    fn new(kind: DeKind, message: String, pos: Option<Pos>) -> Self {
        DeError(Box::new(Inner {
            kind,
            message,
            pos,
            path: Vec::new(),
        }))
    }

    pub(crate) fn syntax(message: impl Into<String>, pos: Pos) -> Self {
        DeError::new(DeKind::Syntax, message.into(), Some(pos))
    }

    pub(crate) fn encoding(pos: Pos) -> Self {
        DeError::new(DeKind::Encoding, String::new(), Some(pos))
    }

    pub(crate) fn io(err: io::Error, pos: Pos) -> Self {
        DeError::new(DeKind::Io(err), String::new(), Some(pos))
    }

    pub(crate) fn limit(what: &'static str, limit: u64, pos: Pos) -> Self {
        DeError::new(DeKind::Limit { what, limit }, String::new(), Some(pos))
    }

    pub(crate) fn data(message: impl Into<String>, pos: Pos) -> Self {
        DeError::new(DeKind::Data, message.into(), Some(pos))
    }

    /// What went wrong.
    pub(crate) fn kind(&self) -> &DeKind {
        &self.0.kind
    }

    /// Whether the document cannot be read any further.
    pub(crate) fn is_fatal(&self) -> bool {
        !matches!(self.0.kind, DeKind::Data)
    }

    /// Takes the error apart: kind, message, position, and path from the outside in.
    pub(crate) fn into_parts(self) -> (DeKind, String, Option<Pos>, Vec<Segment>) {
        let Inner {
            kind,
            message,
            pos,
            mut path,
        } = *self.0;
        path.reverse();
        (kind, message, pos, path)
    }

    /// Places an error that has no position yet, and adds the step it came through.
    fn within(mut self, pos: Pos, segment: impl FnOnce() -> Segment) -> Self {
        if !self.is_fatal() {
            self.0.pos.get_or_insert(pos);
            self.0.path.push(segment());
        }
        self
    }
}

impl fmt::Display for DeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.message)
    }
}

impl std::error::Error for DeError {}

impl de::Error for DeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        DeError::new(DeKind::Data, msg.to_string(), None)
    }
}

/// A scalar as the YAML 1.2 core schema reads it.
#[derive(Debug, PartialEq)]
enum Resolved {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Float(f64),
    Str,
}

fn resolve(text: &str, style: ScalarStyle, tag: Option<&Tag>) -> Resolved {
    let core = tag.filter(|t| t.is_yaml_core_schema()).map(Tag::suffix);
    if core == Some("str") || (tag.is_some() && core.is_none()) {
        return Resolved::Str;
    }
    if style != ScalarStyle::Plain && core.is_none() {
        return Resolved::Str;
    }
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Resolved::Null,
        "true" | "True" | "TRUE" => return Resolved::Bool(true),
        "false" | "False" | "FALSE" => return Resolved::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Resolved::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Resolved::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Resolved::Float(f64::NAN),
        _ => {}
    }
    if let Some(int) = resolve_int(text) {
        return int;
    }
    if is_float(text) {
        if let Ok(float) = text.parse::<f64>() {
            return Resolved::Float(float);
        }
    }
    Resolved::Str
}

fn resolve_int(text: &str) -> Option<Resolved> {
    let (digits, radix) = if let Some(hex) = text.strip_prefix("0x") {
        (hex, 16)
    } else if let Some(octal) = text.strip_prefix("0o") {
        (octal, 8)
    } else {
        (text, 10)
    };
    let unsigned = digits.strip_prefix(['-', '+']).unwrap_or(digits);
    if unsigned.is_empty() || !unsigned.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    if radix != 10 && unsigned.len() != digits.len() {
        return None;
    }
    if let Ok(int) = i64::from_str_radix(digits, radix) {
        return Some(Resolved::Int(int));
    }
    u64::from_str_radix(digits.strip_prefix('+').unwrap_or(digits), radix)
        .ok()
        .map(Resolved::Uint)
}

/// Whether text has the core schema's float form:
/// `[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`.
fn is_float(text: &str) -> bool {
    let text = text.strip_prefix(['-', '+']).unwrap_or(text);
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], Some(&text[i + 1..])),
        None => (text, None),
    };
    let (whole, fraction) = match mantissa.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (mantissa, None),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    let mantissa_ok = match fraction {
        Some(fraction) => {
            digits(whole) && digits(fraction) && !(whole.is_empty() && fraction.is_empty())
        }
        None => !whole.is_empty() && digits(whole),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && digits(e)
    });
    mantissa_ok && exponent_ok
}

fn unexpected(event: &Event<'_>) -> Unexpected<'static> {
    match event {
        Event::MappingStart(..) => Unexpected::Map,
        Event::SequenceStart(..) => Unexpected::Seq,
        _ => Unexpected::Other("end of a collection"),
    }
}

impl<'r> Events<'r> {
    /// Deserializes a scalar by its schema type, or a collection by its shape.
    fn any<'de, V: Visitor<'de>>(&mut self, visitor: V) -> Result<V::Value, DeError> {
        let (event, pos) = self.next()?;
        match event {
            Event::Scalar(text, style, _, tag) => {
                let value = match resolve(&text, style, tag.as_deref()) {
                    Resolved::Null => visitor.visit_unit(),
                    Resolved::Bool(b) => visitor.visit_bool(b),
                    Resolved::Int(i) => visitor.visit_i64(i),
                    Resolved::Uint(u) => visitor.visit_u64(u),
                    Resolved::Float(f) => visitor.visit_f64(f),
                    Resolved::Str => return visit_text(text, visitor).map_err(|e| e.at(pos)),
                };
                value.map_err(|e: DeError| e.at(pos))
            }
            Event::MappingStart(..) => self.map(visitor, pos),
            Event::SequenceStart(..) => self.seq(visitor, pos),
            other => Err(DeError::syntax(format!("unexpected event {other:?}"), pos)),
        }
    }

    fn map<'de, V: Visitor<'de>>(&mut self, visitor: V, pos: Pos) -> Result<V::Value, DeError> {
        let depth = self.depth();
        self.enter(pos)?;
        let value = visitor.visit_map(Map {
            events: self,
            key: None,
        });
        self.nesting -= 1;
        let value = value?;
        // A visitor may stop early; the rest of the mapping still has to go.
        self.skip_to(depth.saturating_sub(1))?;
        Ok(value)
    }

    fn seq<'de, V: Visitor<'de>>(&mut self, visitor: V, pos: Pos) -> Result<V::Value, DeError> {
        let depth = self.depth();
        self.enter(pos)?;
        let value = visitor.visit_seq(Seq {
            events: self,
            index: 0,
        });
        self.nesting -= 1;
        let value = value?;
        self.skip_to(depth.saturating_sub(1))?;
        Ok(value)
    }

    fn enter(&mut self, pos: Pos) -> Result<(), DeError> {
        if self.nesting >= self.limits.depth {
            return Err(DeError::limit(
                "nesting depth",
                self.limits.depth as u64,
                pos,
            ));
        }
        self.nesting += 1;
        Ok(())
    }

    /// Consumes a scalar and returns its text, or fails with what was found instead.
    fn scalar<'de, V: Visitor<'de>>(
        &mut self,
        visitor: &V,
    ) -> Result<(Cow<'static, str>, Pos), DeError> {
        let (event, pos) = self.peek()?;
        let pos = *pos;
        if !matches!(event, Event::Scalar(..)) {
            let found = unexpected(event);
            // Consume the whole node so that the caller can go on after the error.
            self.skip_node()?;
            return Err(<DeError as de::Error>::invalid_type(found, visitor).at(pos));
        }
        match self.next()? {
            (Event::Scalar(text, ..), pos) => Ok((text, pos)),
            (_, pos) => Err(DeError::syntax("scalar expected", pos)),
        }
    }

    /// Whether the next event is a null scalar.
    pub(crate) fn is_null(&mut self) -> Result<bool, DeError> {
        Ok(match self.peek()? {
            (Event::Scalar(text, style, _, tag), _) => {
                matches!(resolve(text, *style, tag.as_deref()), Resolved::Null)
            }
            _ => false,
        })
    }
}

fn visit_text<'de, V: Visitor<'de>>(
    text: Cow<'static, str>,
    visitor: V,
) -> Result<V::Value, DeError> {
    match text {
        Cow::Owned(owned) => visitor.visit_string(owned),
        Cow::Borrowed(borrowed) => visitor.visit_str(borrowed),
    }
}

impl DeError {
    fn at(mut self, pos: Pos) -> Self {
        self.0.pos.get_or_insert(pos);
        self
    }
}

macro_rules! forward_to_any {
    ($($method:ident)*) => {
        $(
            fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
                self.any(visitor)
            }
        )*
    };
}

impl<'de> de::Deserializer<'de> for &mut Events<'_> {
    type Error = DeError;

    forward_to_any! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64
    }

    fn deserialize_char<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (text, pos) = self.scalar(&visitor)?;
        visit_text(text, visitor).map_err(|e| e.at(pos))
    }

    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (text, pos) = self.scalar(&visitor)?;
        visitor
            .visit_bytes(text.as_bytes())
            .map_err(|e: DeError| e.at(pos))
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_bytes(visitor)
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        if self.is_null()? {
            self.next()?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.any(visitor)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.any(visitor)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (event, pos) = self.peek()?;
        let pos = *pos;
        if !matches!(event, Event::SequenceStart(..)) {
            let found = match event {
                Event::Scalar(text, ..) => Unexpected::Other(if text.is_empty() {
                    "an empty value"
                } else {
                    "a scalar"
                }),
                other => unexpected(other),
            };
            self.skip_node()?;
            return Err(<DeError as de::Error>::invalid_type(found, &visitor).at(pos));
        }
        self.next()?;
        self.seq(visitor, pos)
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_seq(visitor)
    }

    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        let (event, pos) = self.peek()?;
        let pos = *pos;
        if !matches!(event, Event::MappingStart(..)) {
            let found = match event {
                Event::Scalar(..) => Unexpected::Other("a scalar"),
                other => unexpected(other),
            };
            self.skip_node()?;
            return Err(<DeError as de::Error>::invalid_type(found, &visitor).at(pos));
        }
        self.next()?;
        self.map(visitor, pos)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        self.deserialize_map(visitor)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let (event, pos) = self.peek()?;
        let pos = *pos;
        if let Event::MappingStart(..) = event {
            // `{Variant: value}`: serde's map adapter reads it as an enum.
            let depth = self.depth();
            self.next()?;
            let value = visitor.visit_enum(MapAccessDeserializer::new(Map {
                events: &mut *self,
                key: None,
            }))?;
            self.skip_to(depth)?;
            return Ok(value);
        }
        let (text, pos) = self.scalar(&visitor).map_err(|e| e.at(pos))?;
        let variant: StrDeserializer<'_, DeError> = text.as_ref().into_deserializer();
        visitor.visit_enum(variant).map_err(|e| e.at(pos))
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        self.deserialize_str(visitor)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        // Skipping walks the events without recursion, however deep the node.
        self.skip_node()?;
        visitor.visit_unit()
    }
}

/// The entries of a mapping.
pub(crate) struct Map<'a, 'r> {
    events: &'a mut Events<'r>,
    /// The last key read, for error paths.
    key: Option<Cow<'static, str>>,
}

impl<'a, 'r> Map<'a, 'r> {
    /// Continues a mapping whose start, and maybe a key, the caller has consumed.
    pub(crate) fn resume(events: &'a mut Events<'r>, key: Option<Cow<'static, str>>) -> Self {
        Map { events, key }
    }
}

impl<'de> de::MapAccess<'de> for Map<'_, '_> {
    type Error = DeError;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let (event, pos) = self.events.next()?;
        match event {
            Event::MappingEnd => Ok(None),
            Event::Scalar(text, ..) => {
                let key = self.key.insert(text);
                let de: StrDeserializer<'_, DeError> = key.as_ref().into_deserializer();
                seed.deserialize(de).map(Some).map_err(|e| e.at(pos))
            }
            _ => Err(DeError::data("mapping keys must be scalars", pos)),
        }
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        let pos = self.events.peek_pos()?;
        seed.deserialize(&mut *self.events).map_err(|e| {
            e.within(pos, || {
                Segment::Key(self.key.as_deref().unwrap_or_default().to_owned())
            })
        })
    }
}

/// The elements of a sequence.
struct Seq<'a, 'r> {
    events: &'a mut Events<'r>,
    index: usize,
}

impl<'de> de::SeqAccess<'de> for Seq<'_, '_> {
    type Error = DeError;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        let (event, pos) = self.events.peek()?;
        let pos = *pos;
        if let Event::SequenceEnd = event {
            self.events.next()?;
            return Ok(None);
        }
        let index = self.index;
        self.index += 1;
        seed.deserialize(&mut *self.events)
            .map(Some)
            .map_err(|e| e.within(pos, || Segment::Index(index)))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    #[test]
    fn core_schema_resolves_plain_scalars() {
        let plain = |text| resolve(text, ScalarStyle::Plain, None);
        assert_eq!(plain("~"), Resolved::Null);
        assert_eq!(plain("True"), Resolved::Bool(true));
        assert_eq!(plain("0x1F"), Resolved::Int(31));
        assert_eq!(plain("-12"), Resolved::Int(-12));
        assert_eq!(plain("18446744073709551615"), Resolved::Uint(u64::MAX));
        assert_eq!(plain("1.5e3"), Resolved::Float(1500.0));
        assert_eq!(plain(".5"), Resolved::Float(0.5));
        assert_eq!(plain("1.10"), Resolved::Float(1.1));
        assert_eq!(plain("inf"), Resolved::Str);
        assert_eq!(plain("yes"), Resolved::Str);
        assert_eq!(plain("10Gi"), Resolved::Str);
        assert_eq!(plain("1e"), Resolved::Str);
        assert_eq!(
            resolve("12", ScalarStyle::DoubleQuoted, None),
            Resolved::Str
        );
    }
}
