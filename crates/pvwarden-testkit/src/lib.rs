//! A test Kubernetes API server: in memory, over HTTPS, good enough for
//! `kubectl` and kube-rs.
//!
//! No real API server can be installed where pvwarden's tests run, so this
//! crate serves the parts of the Kubernetes API that pvwarden and its tests
//! use, and words its answers, errors included, as the real server does.
//!
//! ```text
//!  kubectl / kube-rs ──TLS──> server (hyper, rustls, rcgen CA)
//!                               │
//!                            service: token auth ─> faults ─> counts ─> route
//!                               │                                        │
//!            ┌──────────────────┼─────────────────┬──────────────────────┤
//!        discovery          rest verbs          watch               /pvwarden-test/
//!        + OpenAPI v3 stub  (get list create     (history,           (backend doc,
//!                            update patch         bookmarks)          counts, faults)
//!                            delete) + tables        │
//!                               │                    │
//!                             store: tables of serde_json::Value per kind,
//!                                    one resourceVersion counter, bounded history
//! ```
//!
//! - [`server`] starts and stops it ([`server::Server::start`] gives a
//!   [`server::Running`] with its URL, CA, admin token and kubeconfig).
//! - The store keeps objects as JSON with the real registry's rules: system
//!   metadata, `generateName`, conflicts on stale `resourceVersion`, status
//!   subresources, finalizers and `deletionTimestamp`, and lists and watches
//!   at old versions from a bounded history (`410 Expired` past it).
//! - Patches: JSON patch, JSON merge patch, and the strategic merge patch
//!   subset described in the `patch` module; server-side apply is answered
//!   `415`.
//! - Discovery is unaggregated (kubectl falls back to it), OpenAPI v2 is
//!   absent, and OpenAPI v3 is a stub that tells kubectl the server validates
//!   fields itself, so `kubectl apply` needs no `--validate=false`.
//! - `--load` ([`server::Config::load`]) preloads manifests through
//!   `pvwarden-manifest`, keeping their status, deletion state and uids.
//!
//! - Admission: stored Mutating/ValidatingWebhookConfigurations are called
//!   for the requests they match, with their patches, warnings and failure
//!   policies (see the `admission` module for what is honoured).
//!
//! What it does not do: server-side apply, field validation against schemas
//! (`fieldValidation` is accepted and ignored), built-in admission plugins
//! beyond namespace existence, garbage collection (`propagationPolicy` is accepted but adds no
//! `orphan`/`foregroundDeletion` finalizer, since nothing would remove it),
//! graceful pod deletion, protobuf (except request bodies of the
//! three kinds `kubectl create` sends that way, see `protobuf`), and HTTP/2.

#![warn(missing_docs)]

pub mod actor;
mod admission;
mod auth;
mod fault;
mod load;
mod patch;
mod protobuf;
pub mod resource;
mod selector;
pub mod server;
mod service;
mod status;
mod store;

pub use crate::fault::Faults;
pub use crate::status::ApiError;
