//! Safe repair of stuck volumes: plan, confirm, journal, apply, undo.
//!
//! ```text
//!   verdicts (pvwarden-domain) ─▶ plan::plan ─▶ Plan ─▶ digest ─▶ operator confirms
//!                                                 │
//!   Journal (pvwarden-journal) ◀── record ── apply / resume ──▶ API server
//!           │                                      (lease, re-read, test ops, bounded wait)
//!           └──────────────────────────────────▶ undo ──▶ API server
//! ```
//!
//! Planning ([`plan::plan`]) is pure and follows the model's remedies, safest
//! first. [`apply`] carries out a plan only when given its
//! [`Plan::digest`](plan::Plan::digest), writes every change to a
//! [`Journal`](pvwarden_journal::Journal) before making it, and stops when the
//! cluster no longer matches the plan. [`resume`] and [`undo`] work from the
//! journal alone. The CLI, the controller and other front ends share this flow.

#![warn(missing_docs)]

mod client;
mod error;
mod execute;
pub mod lease;
pub mod plan;
mod settle;
mod sharing;
mod undo;

pub use crate::error::Error;
pub use crate::execute::{apply, resume, Operator, Report, Settings, TargetReport};
pub use crate::undo::{undo, UndoOptions, UndoReport};
