//! Synthetic clusters: PersistentVolumes, their claims, classes and drivers.
//!
//! [`write()`] prints a cluster as `kubectl get -o yaml|json` would, either as
//! one `kind: List` or as a stream of objects. It is meant for tests and for
//! the benchmark in `bench/audit.sh`, so it streams: a cluster of any size is
//! written in constant memory, and the same seed always gives the same bytes.
//!
//! The mix of volumes is meant to exercise the model:
//!
//! - about 70 % dynamic ceph-csi volumes (RBD and CephFS) with well-formed
//!   encoded volume handles (`0001-LLLL-<clusterID>-<pool hex>-<uuid>`);
//! - about 15 % static CephFS shares, several PVs per share, with suffixed
//!   handles, `staticVolume: "true"` and a `rootPath`;
//! - about 10 % volumes of other CSI drivers, the rest in-tree NFS;
//! - a few `Released` volumes (their claim is gone) and a few terminating
//!   ones (deletion timestamp set, finalizers still there).

#![warn(missing_docs)]

mod cluster;
mod emit;
mod rng;

use std::io::{self, Write};

use self::rng::Rng;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// YAML, as `kubectl get -o yaml` prints it.
    Yaml,
    /// JSON, as `kubectl get -o json` prints it.
    Json,
}

/// How the objects are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One `kind: List` holding every object.
    List,
    /// One object after the other: YAML documents, or concatenated JSON values.
    Stream,
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct Config {
    /// The number of PersistentVolumes.
    pub pvs: u64,
    /// The output format.
    pub format: Format,
    /// The layout.
    pub layout: Layout,
    /// The seed; the same seed gives the same output.
    pub seed: u64,
}

/// Writes a synthetic cluster.
///
/// # Errors
///
/// Returns the writer's error.
pub fn write(config: &Config, out: &mut dyn Write) -> io::Result<()> {
    let mut out = emit::Writer::new(out, config.format, config.layout);
    out.begin()?;
    for object in cluster::fixed_objects() {
        out.object(&object)?;
    }
    let mut rng = Rng::new(config.seed);
    for index in 0..config.pvs {
        let (pv, claim) = cluster::volume(&mut rng, index);
        out.object(&pv)?;
        if let Some(claim) = claim {
            out.object(&claim)?;
        }
    }
    out.end()
}
