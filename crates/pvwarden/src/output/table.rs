//! The kubectl-style table: one row per PV, then one row per claim.

use std::io::{IsTerminal, Stdout, Write};

use pvwarden_domain::rule::{Finding, Severity};
use pvwarden_domain::verdict::{ClaimVerdict, OnDelete, VolumeVerdict};

use super::{Header, Section, Sink};
use crate::cli::ColorChoice;
use crate::cmd::audit_summary::Summary;

pub struct Table {
    out: Stdout,
    wide: bool,
    color: bool,
    volumes: Vec<Vec<Cell>>,
    claims: Vec<Vec<Cell>>,
    sections: Vec<Section>,
    assumptions: String,
}

/// A cell and how to paint it.
struct Cell {
    text: String,
    paint: Option<&'static str>,
}

fn cell(text: impl Into<String>) -> Cell {
    Cell {
        text: text.into(),
        paint: None,
    }
}

const RED: &str = "\x1b[31m";
const YELLOW: &str = "\x1b[33m";
const GREEN: &str = "\x1b[32m";

impl Table {
    pub fn new(out: Stdout, wide: bool, choice: ColorChoice) -> Table {
        let color = match choice {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => out.is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        };
        Table {
            out,
            wide,
            color,
            volumes: Vec::new(),
            claims: Vec::new(),
            sections: Vec::new(),
            assumptions: String::new(),
        }
    }

    fn write_rows(&mut self, headers: &[&str], rows: &[Vec<Cell>]) -> std::io::Result<()> {
        let mut widths: Vec<usize> = headers.iter().map(|h| h.len()).collect();
        for row in rows {
            for (w, c) in widths.iter_mut().zip(row) {
                *w = (*w).max(c.text.chars().count());
            }
        }
        let last = headers.len() - 1;
        for (i, h) in headers.iter().enumerate() {
            let sep = if i == last { "\n" } else { "   " };
            write!(
                self.out,
                "{:<width$}{sep}",
                h,
                width = if i == last { 0 } else { widths[i] }
            )?;
        }
        for row in rows {
            for (i, c) in row.iter().enumerate() {
                let pad = if i == last {
                    0
                } else {
                    widths[i] - c.text.chars().count()
                };
                match (self.color, c.paint) {
                    (true, Some(p)) => write!(self.out, "{p}{}\x1b[0m", c.text)?,
                    _ => write!(self.out, "{}", c.text)?,
                }
                let sep = if i == last { "\n" } else { "   " };
                write!(self.out, "{:pad$}{sep}", "")?;
            }
        }
        Ok(())
    }
}

fn top_finding(findings: &[Finding]) -> Cell {
    match findings.iter().max_by_key(|f| f.severity) {
        None => cell("-"),
        Some(f) => Cell {
            text: if findings.len() > 1 {
                format!("{} (+{})", f.rule, findings.len() - 1)
            } else {
                f.rule.to_owned()
            },
            paint: Some(match f.severity {
                Severity::Error => RED,
                Severity::Warning => YELLOW,
                Severity::Info => GREEN,
            }),
        },
    }
}

fn outcome(on_delete: OnDelete) -> Cell {
    let paint = match on_delete {
        OnDelete::Hangs | OnDelete::Orphaned => Some(RED),
        OnDelete::Unknown => Some(YELLOW),
        OnDelete::Deleted | OnDelete::Kept => None,
    };
    Cell {
        text: on_delete.as_str().to_owned(),
        paint,
    }
}

fn yes_no(stuck: bool) -> Cell {
    if stuck {
        Cell {
            text: "yes".into(),
            paint: Some(RED),
        }
    } else {
        cell("no")
    }
}

impl Sink for Table {
    fn begin(&mut self, header: &Header<'_>) -> anyhow::Result<()> {
        let a = header.assumptions;
        self.assumptions = format!(
            "assuming Kubernetes {}, external-provisioner {}, ceph-csi {}",
            a.kubernetes.value, a.provisioner.value, a.ceph_csi.value
        );
        Ok(())
    }

    fn volume(&mut self, v: &VolumeVerdict) -> anyhow::Result<()> {
        let phase = if v.terminating {
            format!("{} (Terminating)", v.phase)
        } else {
            v.phase.into()
        };
        let mut row = vec![
            cell(v.name.clone()),
            cell(v.driver.clone()),
            cell(v.provisioning.as_str()),
            cell(v.policy),
            cell(phase),
            outcome(v.on_delete),
            yes_no(v.stuck),
        ];
        if self.wide {
            let blocking = if v.blocking_finalizers.is_empty() {
                "-".into()
            } else {
                v.blocking_finalizers.join(",")
            };
            row.push(cell(blocking));
            row.push(cell(v.origin.to_string()));
        }
        row.push(top_finding(&v.findings));
        self.volumes.push(row);
        Ok(())
    }

    fn claim(&mut self, v: &ClaimVerdict) -> anyhow::Result<()> {
        let mut row = vec![
            cell(format!("{}/{}", v.namespace, v.name)),
            cell(v.volume.clone().unwrap_or_else(|| "-".into())),
            outcome(v.on_delete),
            yes_no(v.stuck),
        ];
        if self.wide {
            row.push(cell(v.origin.to_string()));
        }
        row.push(top_finding(&v.findings));
        self.claims.push(row);
        Ok(())
    }

    fn section(&mut self, section: &Section) -> anyhow::Result<()> {
        self.sections.push(section.clone());
        Ok(())
    }

    fn finish(&mut self, summary: &Summary) -> anyhow::Result<()> {
        let mut headers = vec![
            "NAME",
            "DRIVER",
            "PROVISIONING",
            "POLICY",
            "PHASE",
            "ON-DELETE",
            "STUCK",
        ];
        if self.wide {
            headers.extend(["BLOCKING", "ORIGIN"]);
        }
        headers.push("FINDING");
        let volumes = std::mem::take(&mut self.volumes);
        if !volumes.is_empty() {
            self.write_rows(&headers, &volumes)?;
        }
        let claims = std::mem::take(&mut self.claims);
        if !claims.is_empty() {
            writeln!(self.out)?;
            let mut headers = vec!["CLAIM", "VOLUME", "ON-DELETE", "STUCK"];
            if self.wide {
                headers.push("ORIGIN");
            }
            headers.push("FINDING");
            self.write_rows(&headers, &claims)?;
        }
        for section in std::mem::take(&mut self.sections) {
            for table in &section.tables {
                if table.rows.is_empty() {
                    continue;
                }
                writeln!(self.out, "\n{}", table.title)?;
                let rows: Vec<Vec<Cell>> = table
                    .rows
                    .iter()
                    .map(|row| row.iter().map(|text| cell(text.clone())).collect())
                    .collect();
                self.write_rows(&table.headers, &rows)?;
            }
        }
        let findings: Vec<String> = summary
            .findings
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        writeln!(
            self.out,
            "\n{} volumes, {} claims, {} stuck; findings: {}; {}",
            summary.volumes,
            summary.claims,
            summary.stuck_volumes + summary.stuck_claims,
            if findings.is_empty() {
                "none".into()
            } else {
                findings.join(", ")
            },
            self.assumptions
        )?;
        writeln!(
            self.out,
            "run `pvwarden explain NAME` for the story of one volume"
        )?;
        self.out.flush()?;
        Ok(())
    }
}
