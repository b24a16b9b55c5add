//! The API test suite: every verb and error of the test API server, over HTTPS.
//!
//! Status bodies are compared whole where the real server's wording is known
//! (`k8s.io/apimachinery/pkg/api/errors`, the API server's filters and patch
//! handler), so that clients that parse them see what a real cluster sends.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

#[path = "api/auth.rs"]
mod auth;
#[path = "api/control.rs"]
mod control;
#[path = "api/delete.rs"]
mod delete;
#[path = "api/discovery.rs"]
mod discovery;
#[path = "api/kube.rs"]
mod kube;
#[path = "api/list.rs"]
mod list;
#[path = "api/patch.rs"]
mod patch;
#[path = "api/watch.rs"]
mod watch;
#[path = "api/write.rs"]
mod write;
