//! `pvwarden fix`, `prune`, `journal` and `undo` against the test API server with its
//! cluster actors running.
//!
//! Each test loads a case into a fresh server, seeds the backend inventory the CSI driver
//! actors keep, plans with the CLI, confirms the digest, and checks the cluster and the
//! backend afterwards. No repair may ever delete a backend volume: every test ends by
//! comparing the backend with its seed.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod cases;
mod common;
mod faults;
mod undo;
