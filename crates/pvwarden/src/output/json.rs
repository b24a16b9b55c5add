//! The JSON report, streamed, and the YAML report built from the same document.

use std::io::{BufWriter, Stdout, Write};

use pvwarden_domain::verdict::{ClaimVerdict, VolumeVerdict};
use serde_json::{Map, Value};

use super::{Header, Section, Sink, SCHEMA_VERSION};
use crate::cmd::audit_summary::Summary;

/// The JSON report: `{"apiVersion", "kind", ..., "volumes": [...], "claims": [...], "summary"}`.
pub struct Json {
    out: BufWriter<Stdout>,
    volumes: u64,
    claims: Option<u64>,
    /// Set once the claims array is closed (a section came after it).
    closed: bool,
}

impl Json {
    pub fn new(out: Stdout) -> Json {
        Json {
            out: BufWriter::with_capacity(1 << 16, out),
            volumes: 0,
            claims: None,
            closed: false,
        }
    }

    /// Closes the claims array, opening it first when no claim came.
    fn close_claims(&mut self) -> std::io::Result<()> {
        if !self.closed {
            if self.claims.is_none() {
                self.out.write_all(b"],\"claims\":[")?;
            }
            self.out.write_all(b"]")?;
            self.closed = true;
        }
        Ok(())
    }
}

impl Sink for Json {
    fn begin(&mut self, header: &Header<'_>) -> anyhow::Result<()> {
        write!(
            self.out,
            "{{\"apiVersion\":\"pvwarden.io/v1\",\"kind\":\"AuditReport\",\
             \"schemaVersion\":{SCHEMA_VERSION}"
        )?;
        for (key, value) in [
            ("assumptions", serde_json::to_string(header.assumptions)?),
            ("now", serde_json::to_string(&header.now)?),
            (
                "stuckAfter",
                format!("\"{}s\"", header.stuck_after.as_secs()),
            ),
            ("input", serde_json::to_string(header.input)?),
        ] {
            write!(self.out, ",\"{key}\":{value}")?;
        }
        write!(self.out, ",\"volumes\":[")?;
        Ok(())
    }

    fn volume(&mut self, verdict: &VolumeVerdict) -> anyhow::Result<()> {
        self.volume_json(&serde_json::to_vec(verdict)?)
    }

    fn volume_json(&mut self, json: &[u8]) -> anyhow::Result<()> {
        if self.volumes > 0 {
            self.out.write_all(b",")?;
        }
        self.volumes += 1;
        self.out.write_all(b"\n")?;
        self.out.write_all(json)?;
        Ok(())
    }

    fn claim(&mut self, verdict: &ClaimVerdict) -> anyhow::Result<()> {
        let count = self.claims.get_or_insert(0);
        if *count == 0 {
            self.out.write_all(b"],\"claims\":[")?;
        } else {
            self.out.write_all(b",")?;
        }
        *count += 1;
        self.out.write_all(b"\n")?;
        serde_json::to_writer(&mut self.out, verdict)?;
        Ok(())
    }

    fn section(&mut self, section: &Section) -> anyhow::Result<()> {
        self.close_claims()?;
        write!(self.out, ",\"{}\":", section.key)?;
        serde_json::to_writer(&mut self.out, &section.value)?;
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> anyhow::Result<()> {
        self.close_claims()?;
        writeln!(
            self.out,
            ",\"summary\":{}}}",
            serde_json::to_string(summary)?
        )?;
        self.out.flush()?;
        Ok(())
    }
}

/// The YAML report: the same document as the JSON report.
#[derive(Default)]
pub struct Yaml {
    doc: Map<String, Value>,
    volumes: Vec<Value>,
    claims: Vec<Value>,
    sections: Vec<(String, Value)>,
}

impl Sink for Yaml {
    fn begin(&mut self, header: &Header<'_>) -> anyhow::Result<()> {
        self.doc
            .insert("apiVersion".into(), "pvwarden.io/v1".into());
        self.doc.insert("kind".into(), "AuditReport".into());
        self.doc
            .insert("schemaVersion".into(), SCHEMA_VERSION.into());
        self.doc.insert(
            "assumptions".into(),
            serde_json::to_value(header.assumptions)?,
        );
        self.doc
            .insert("now".into(), serde_json::to_value(header.now)?);
        let stuck_after = format!("{}s", header.stuck_after.as_secs());
        self.doc.insert("stuckAfter".into(), stuck_after.into());
        self.doc
            .insert("input".into(), serde_json::to_value(header.input)?);
        Ok(())
    }

    fn volume(&mut self, verdict: &VolumeVerdict) -> anyhow::Result<()> {
        self.volumes.push(serde_json::to_value(verdict)?);
        Ok(())
    }

    fn claim(&mut self, verdict: &ClaimVerdict) -> anyhow::Result<()> {
        self.claims.push(serde_json::to_value(verdict)?);
        Ok(())
    }

    fn section(&mut self, section: &Section) -> anyhow::Result<()> {
        self.sections
            .push((section.key.to_owned(), section.value.clone()));
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> anyhow::Result<()> {
        self.doc.insert(
            "volumes".into(),
            Value::Array(std::mem::take(&mut self.volumes)),
        );
        self.doc.insert(
            "claims".into(),
            Value::Array(std::mem::take(&mut self.claims)),
        );
        for (key, value) in std::mem::take(&mut self.sections) {
            self.doc.insert(key, value);
        }
        self.doc
            .insert("summary".into(), serde_json::to_value(summary)?);
        let text = serde_saphyr::to_string(&Value::Object(std::mem::take(&mut self.doc)))?;
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.flush()?;
        Ok(())
    }
}
