//! Printing objects as kubectl does: YAML with sorted keys, or indented JSON.
//!
//! `serde_json::Value` keeps keys sorted, which is also kubectl's order in
//! YAML (it goes through JSON maps) and in a `List`.

use std::io::{self, Write};

use serde::Serialize;
use serde_json::ser::PrettyFormatter;
use serde_json::Value;

use crate::{Format, Layout};

/// Writes objects one at a time, with a list header and trailer when needed.
pub(crate) struct Writer<'w> {
    out: io::BufWriter<&'w mut dyn Write>,
    format: Format,
    layout: Layout,
    count: u64,
    scratch: Vec<u8>,
}

impl<'w> Writer<'w> {
    pub(crate) fn new(out: &'w mut dyn Write, format: Format, layout: Layout) -> Self {
        Writer {
            out: io::BufWriter::with_capacity(256 * 1024, out),
            format,
            layout,
            count: 0,
            scratch: Vec::new(),
        }
    }

    pub(crate) fn begin(&mut self) -> io::Result<()> {
        match (self.format, self.layout) {
            (Format::Yaml, Layout::List) => self.out.write_all(b"apiVersion: v1\nitems:\n"),
            (Format::Json, Layout::List) => self
                .out
                .write_all(b"{\n    \"apiVersion\": \"v1\",\n    \"items\": [\n"),
            (_, Layout::Stream) => Ok(()),
        }
    }

    pub(crate) fn object(&mut self, object: &Value) -> io::Result<()> {
        let first = self.count == 0;
        self.count += 1;
        match (self.format, self.layout) {
            (Format::Yaml, Layout::List) => {
                self.scratch.clear();
                yaml_root(&mut self.scratch, object, 2, true)?;
                self.out.write_all(&self.scratch)
            }
            (Format::Yaml, Layout::Stream) => {
                self.out.write_all(b"---\n")?;
                self.scratch.clear();
                yaml_root(&mut self.scratch, object, 0, false)?;
                self.out.write_all(&self.scratch)
            }
            (Format::Json, Layout::List) => {
                if !first {
                    self.out.write_all(b",\n")?;
                }
                self.scratch.clear();
                json_pretty(&mut self.scratch, object)?;
                for (i, line) in self.scratch.split(|&b| b == b'\n').enumerate() {
                    if i > 0 {
                        self.out.write_all(b"\n")?;
                    }
                    self.out.write_all(b"        ")?;
                    self.out.write_all(line)?;
                }
                Ok(())
            }
            (Format::Json, Layout::Stream) => {
                self.scratch.clear();
                json_pretty(&mut self.scratch, object)?;
                self.out.write_all(&self.scratch)?;
                self.out.write_all(b"\n")
            }
        }
    }

    pub(crate) fn end(mut self) -> io::Result<()> {
        match (self.format, self.layout) {
            (Format::Yaml, Layout::List) => self
                .out
                .write_all(b"kind: List\nmetadata:\n  resourceVersion: \"\"\n")?,
            (Format::Json, Layout::List) => self.out.write_all(
                b"\n    ],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \
                  \"resourceVersion\": \"\"\n    }\n}\n",
            )?,
            (_, Layout::Stream) => {}
        }
        self.out.flush()
    }
}

/// Prints an object, or a lone scalar for anything else.
fn yaml_root(out: &mut Vec<u8>, value: &Value, indent: usize, dash: bool) -> io::Result<()> {
    match value {
        Value::Object(map) if !map.is_empty() => yaml_map(out, map, indent, dash),
        other => yaml_leaf(out, other),
    }
}

fn json_pretty(out: &mut Vec<u8>, value: &Value) -> io::Result<()> {
    let mut ser =
        serde_json::Serializer::with_formatter(out, PrettyFormatter::with_indent(b"    "));
    value.serialize(&mut ser).map_err(io::Error::other)
}

/// Prints a mapping's entries with keys at column `indent`; with `dash`, the
/// first key follows a `- ` two columns to the left, as in a sequence item.
fn yaml_map(
    out: &mut Vec<u8>,
    map: &serde_json::Map<String, Value>,
    indent: usize,
    dash: bool,
) -> io::Result<()> {
    for (i, (key, value)) in map.iter().enumerate() {
        if i == 0 && dash {
            write_indent(out, indent.saturating_sub(2))?;
            out.write_all(b"- ")?;
        } else {
            write_indent(out, indent)?;
        }
        yaml_scalar_text(out, key)?;
        out.write_all(b":")?;
        match value {
            Value::Object(map) if !map.is_empty() => {
                out.write_all(b"\n")?;
                yaml_map(out, map, indent + 2, false)?;
            }
            // kubectl puts the dashes of a sequence in the column of its key.
            Value::Array(items) if !items.is_empty() => {
                out.write_all(b"\n")?;
                yaml_seq(out, items, indent)?;
            }
            other => {
                out.write_all(b" ")?;
                yaml_leaf(out, other)?;
            }
        }
    }
    Ok(())
}

/// Prints a sequence with its dashes at column `indent`.
fn yaml_seq(out: &mut Vec<u8>, items: &[Value], indent: usize) -> io::Result<()> {
    for item in items {
        match item {
            Value::Object(map) if !map.is_empty() => yaml_map(out, map, indent + 2, true)?,
            Value::Array(inner) if !inner.is_empty() => {
                write_indent(out, indent)?;
                out.write_all(b"-\n")?;
                yaml_seq(out, inner, indent + 2)?;
            }
            other => {
                write_indent(out, indent)?;
                out.write_all(b"- ")?;
                yaml_leaf(out, other)?;
            }
        }
    }
    Ok(())
}

/// Prints a scalar or an empty collection, and ends the line.
fn yaml_leaf(out: &mut Vec<u8>, value: &Value) -> io::Result<()> {
    match value {
        Value::Object(_) => out.write_all(b"{}\n"),
        Value::Array(_) => out.write_all(b"[]\n"),
        Value::String(text) => {
            yaml_scalar_text(out, text)?;
            out.write_all(b"\n")
        }
        other => writeln!(out, "{other}"),
    }
}

fn write_indent(out: &mut Vec<u8>, indent: usize) -> io::Result<()> {
    out.extend(std::iter::repeat_n(b' ', indent));
    Ok(())
}

/// Prints a string plain when YAML reads it back as the same string, quoted otherwise.
fn yaml_scalar_text(out: &mut Vec<u8>, text: &str) -> io::Result<()> {
    if needs_quotes(text) {
        serde_json::to_writer(&mut *out, text).map_err(io::Error::other)
    } else {
        out.write_all(text.as_bytes())
    }
}

fn needs_quotes(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return true;
    };
    let special_start = "-?:,[]{}#&*!|>'\"%@` ".contains(first);
    let looks_typed = matches!(
        text,
        "true" | "false" | "True" | "False" | "null" | "Null" | "~" | "yes" | "no" | "on" | "off"
    ) || text.parse::<f64>().is_ok()
        || text.starts_with("0x")
        || text.starts_with("0o");
    special_start
        || looks_typed
        || text.contains(": ")
        || text.contains(" #")
        || text.ends_with([' ', ':'])
        || text.chars().any(|c| c.is_control())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_looks_like_kubectl() {
        let mut out = Vec::new();
        let object = json!({
            "apiVersion": "v1",
            "kind": "X",
            "metadata": {"annotations": {"a/b": "yes"}, "finalizers": ["f"], "name": "n"},
            "spec": {"accessModes": ["RWO"], "empty": {}, "ports": [{"name": "p", "port": 80}]},
        });
        yaml_root(&mut out, &object, 2, true).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "- apiVersion: v1\n  kind: X\n  metadata:\n    annotations:\n      a/b: \"yes\"\n    \
             finalizers:\n    - f\n    name: n\n  spec:\n    accessModes:\n    - RWO\n    \
             empty: {}\n    ports:\n    - name: p\n      port: 80\n"
        );
    }
}
