//! ceph-csi's `DeleteVolume` for CephFS and RBD, and its version-1 volume id.
//!
//! The decoder follows ceph-csi's `internal/util/volid.go` byte for byte: the length is read
//! as a 16-bit count, numeric fields are hex, separators are skipped without being checked,
//! and exactly 36 bytes must remain for the object uuid. Indices are 16-bit and wrap, as in
//! the Go code; where Go would panic on a slice, the call fails as ceph-csi's panic handler
//! makes it fail (`Internal`).
//!
//! The controllers then walk the backend inventory in ceph-csi's order: cluster config,
//! credentials, connection, pool (or file system) by id, journal entry by uuid, the data.

use std::fmt;

use super::{Code, DeleteRequest, Secrets, Status};
use crate::actor::backend::{Inventory, Volume, VolumeKind};
use crate::actor::version::Version;

/// Who the inventory records as having deleted a volume.
pub const DELETED_BY: &str = "ceph-csi DeleteVolume";

/// ceph-csi answers `OK` when the pool of an id is gone from this release on.
const POOL_GONE_IS_SUCCESS: Version = Version::new(2, 1, 0);

const KNOWN_FIELD_SIZE: u16 = 64;
const UUID_SIZE: u16 = 36;

/// The parts of a version-1 ceph-csi volume id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsiId {
    /// The encoding version (not checked by ceph-csi).
    pub version: u16,
    /// The cluster id.
    pub cluster_id: String,
    /// The pool id (RBD) or file system id (CephFS).
    pub location_id: i64,
    /// The object uuid, the journal key.
    pub object_uuid: String,
}

/// Why an id does not decode, worded as ceph-csi words it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// Too few bytes for a field.
    Underflow,
    /// Not exactly 36 bytes left for the uuid.
    SizeMismatch,
    /// A numeric field holds a byte that is not a hex digit.
    InvalidByte(u8),
    /// Go would panic slicing the string out of range (16-bit wrap-around).
    SliceOutOfRange(usize, usize),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Underflow => f.write_str("failed to decode CSI identifier, string underflow"),
            Self::SizeMismatch => {
                f.write_str("failed to decode CSI identifier, string size mismatch")
            }
            Self::InvalidByte(byte) => {
                let shown = char::from(*byte);
                if shown.is_control() {
                    write!(f, "encoding/hex: invalid byte: U+{byte:04X}")
                } else {
                    write!(f, "encoding/hex: invalid byte: U+{byte:04X} '{shown}'")
                }
            }
            Self::SliceOutOfRange(low, high) => {
                write!(f, "runtime error: slice bounds out of range [{low}:{high}]")
            }
        }
    }
}

/// Decodes a version-1 ceph-csi volume id.
///
/// # Errors
///
/// A [`DecodeError`] wherever ceph-csi's decoder fails.
pub fn decode(id: &str) -> Result<CsiId, DecodeError> {
    let bytes = id.as_bytes();
    // NOTE: Go converts the length to uint16, so ids longer than 65535 bytes wrap around.
    let mut left = bytes.len() as u16;
    if left < KNOWN_FIELD_SIZE {
        return Err(DecodeError::Underflow);
    }

    let version = hex_u16(slice(bytes, 0, 4)?)?;
    left -= 5;
    let cluster_len = hex_u16(slice(bytes, 5, 9)?)?;
    left -= 5;

    if left < cluster_len.wrapping_add(1) {
        return Err(DecodeError::Underflow);
    }
    let cluster_id = slice(bytes, 10, 10u16.wrapping_add(cluster_len))?;
    left = left.wrapping_sub(cluster_len.wrapping_add(1));
    let mut next = 10u16.wrapping_add(cluster_len).wrapping_add(1);

    if left < 17 {
        return Err(DecodeError::Underflow);
    }
    let location = hex_u64(slice(bytes, next, next.wrapping_add(16))?)?;
    left -= 17;
    next = next.wrapping_add(17);

    if left != UUID_SIZE {
        return Err(DecodeError::SizeMismatch);
    }
    let uuid = slice(bytes, next, next.wrapping_add(UUID_SIZE))?;

    Ok(CsiId {
        version,
        cluster_id: String::from_utf8_lossy(cluster_id).into_owned(),
        // Go reinterprets the big-endian u64 as int64.
        location_id: location as i64,
        object_uuid: String::from_utf8_lossy(uuid).into_owned(),
    })
}

fn slice(bytes: &[u8], low: u16, high: u16) -> Result<&[u8], DecodeError> {
    let (low, high) = (usize::from(low), usize::from(high));
    bytes
        .get(low..high)
        .ok_or(DecodeError::SliceOutOfRange(low, high))
}

fn hex_u16(field: &[u8]) -> Result<u16, DecodeError> {
    let value = hex_value(field)?;
    Ok(u16::try_from(value).unwrap_or(u16::MAX))
}

fn hex_u64(field: &[u8]) -> Result<u64, DecodeError> {
    hex_value(field)
}

fn hex_value(field: &[u8]) -> Result<u64, DecodeError> {
    field.iter().try_fold(0u64, |value, byte| {
        let digit = char::from(*byte)
            .to_digit(16)
            .ok_or(DecodeError::InvalidByte(*byte))?;
        Ok(value.wrapping_shl(4) | u64::from(digit))
    })
}

/// ceph-csi CephFS `DeleteVolume`.
///
/// # Errors
///
/// `Internal` for an undecodable id, an unknown cluster, missing admin credentials, an
/// unreachable or cephx-less cluster, or a gone file system before ceph-csi 2.1.
pub fn delete_subvolume(
    inventory: &mut Inventory,
    request: &DeleteRequest<'_>,
    ceph_csi: Version,
) -> Result<(), Status> {
    let id = decode(request.volume_id).map_err(|err| match err {
        DecodeError::SliceOutOfRange(..) => Status::internal(format!("panic {err}")),
        _ => Status::internal(format!(
            "Failed as invalid VolumeID (internal error decoding volume ID ({}): {err})",
            request.volume_id
        )),
    })?;
    known_cluster(inventory, &id)?;

    // NOTE: CephFS checks the credentials while looking the volume up, so a missing secret
    // surfaces as `Internal` here, unlike RBD's `InvalidArgument`.
    credentials(request.secrets, &["adminID", "adminKey"]).map_err(Status::internal)?;
    connect(inventory)?;

    let Some(fs) = inventory.live_pool(&id.cluster_id, id.location_id) else {
        return pool_gone(
            ceph_csi,
            format!("fscID ({}) not found in Ceph cluster", id.location_id),
        );
    };
    let fs_name = fs.name.clone();
    let faults_cephx = inventory.faults.cephx_disabled;
    let Some(volume) = journal_entry(inventory, VolumeKind::CephfsSubvolume, &id, &fs_name) else {
        // The reservation key is gone: an earlier delete finished, or it never existed.
        return Ok(());
    };
    if faults_cephx {
        return Err(Status::internal(format!(
            "an error (exit status 95) occurred while running ceph args: [fs subvolume info \
             {fs_name} {}]",
            volume.path
        )));
    }
    purge(volume);
    Ok(())
}

/// ceph-csi RBD `DeleteVolume`.
///
/// # Errors
///
/// `InvalidArgument` for missing credentials or a bad migration id; `Internal` for an
/// undecodable id, an unknown cluster, an unreachable or cephx-less cluster, or a gone pool
/// before ceph-csi 2.1.
pub fn delete_image(
    inventory: &mut Inventory,
    request: &DeleteRequest<'_>,
    ceph_csi: Version,
) -> Result<(), Status> {
    credentials(request.secrets, &["userID", "userKey"])
        .map_err(|message| Status::new(Code::InvalidArgument, message))?;
    if is_migration_id(request.volume_id) {
        return delete_migrated_image(inventory, request.volume_id);
    }

    let id = decode(request.volume_id).map_err(|err| match err {
        DecodeError::SliceOutOfRange(..) => Status::internal(format!("panic {err}")),
        _ => Status::internal(format!(
            "invalid VolumeID: error decoding volume ID ({err}) ({})",
            request.volume_id
        )),
    })?;
    known_cluster(inventory, &id)?;
    connect(inventory)?;

    let Some(pool) = inventory.live_pool(&id.cluster_id, id.location_id) else {
        return pool_gone(
            ceph_csi,
            format!("pool ID ({}) not found in Ceph cluster", id.location_id),
        );
    };
    let pool_name = pool.name.clone();
    let faults_cephx = inventory.faults.cephx_disabled;
    let user = request
        .secrets
        .value("userID")
        .unwrap_or("admin")
        .to_owned();
    let Some(volume) = journal_entry(inventory, VolumeKind::RbdImage, &id, &pool_name) else {
        return Ok(());
    };
    if faults_cephx {
        return Err(Status::internal(format!(
            "an error (exit status 95) occurred while running rbd args: [--id {user} \
             --keyfile=***stripped*** -c /etc/ceph/ceph.conf --format=json info {pool_name}/{}]",
            volume.path
        )));
    }
    purge(volume);
    Ok(())
}

fn known_cluster(inventory: &Inventory, id: &CsiId) -> Result<(), Status> {
    if inventory.knows_cluster(&id.cluster_id) {
        return Ok(());
    }
    Err(Status::internal(format!(
        "failed to fetch monitor list using clusterID ({0}): missing configuration for \
         cluster ID \"{0}\"",
        id.cluster_id
    )))
}

fn credentials(secrets: &Secrets, keys: &[&str]) -> Result<(), String> {
    match secrets {
        Secrets::None => Err("provided secret is empty".to_owned()),
        Secrets::Data(data) if data.is_empty() => Err("provided secret is empty".to_owned()),
        _ if secrets.has_keys(keys) => Ok(()),
        _ => Err(format!(
            "missing ID field '{}' in secrets",
            keys.join("' or '")
        )),
    }
}

fn connect(inventory: &Inventory) -> Result<(), Status> {
    if inventory.faults.unreachable {
        return Err(Status::internal(
            "failed to connect to the Ceph cluster: rados: ret=-110, Connection timed out",
        ));
    }
    Ok(())
}

fn pool_gone(ceph_csi: Version, message: String) -> Result<(), Status> {
    // Before ceph-csi 2.1 a gone pool was an error like any other (ceph-csi issue 781).
    if ceph_csi >= POOL_GONE_IS_SUCCESS {
        Ok(())
    } else {
        Err(Status::internal(message))
    }
}

/// Finds the volume a journal entry stands for: same kind, cluster, pool and uuid.
fn journal_entry<'a>(
    inventory: &'a mut Inventory,
    kind: VolumeKind,
    id: &CsiId,
    pool: &str,
) -> Option<&'a mut Volume> {
    inventory.volumes.iter_mut().find(|volume| {
        volume.kind == kind
            && volume.journal
            && volume.cluster == id.cluster_id
            && volume.pool == pool
            && decode(&volume.id).is_ok_and(|own| own.object_uuid == id.object_uuid)
    })
}

/// Deletes the data, if still there, and the reservation.
fn purge(volume: &mut Volume) {
    if volume.exists {
        volume.exists = false;
        volume.deleted_by = Some(DELETED_BY.to_owned());
    }
    volume.journal = false;
}

fn is_migration_id(id: &str) -> bool {
    id.contains("mig") && id.contains("image-") && id.contains("mons-")
}

/// Deletes the image named by an in-tree migration handle (`mig_mons-…_image-…_<hex pool>`).
fn delete_migrated_image(inventory: &mut Inventory, handle: &str) -> Result<(), Status> {
    let invalid = |message: &str| Status::new(Code::InvalidArgument, message);
    let fields: Vec<&str> = handle.split('_').collect();
    if fields.len() < 4 {
        return Err(invalid("invalid VolumeID"));
    }
    let pool = decode_hex_text(&fields[3..].join("_"))
        .ok_or_else(|| invalid("missing pool name in volume ID"))?;

    let (mut image, mut cluster) = (String::new(), String::new());
    for field in &fields[..3] {
        if let Some((_, tail)) = field.split_once("image-") {
            image = format!("kubernetes-dynamic-pvc-{tail}");
        } else if field.contains("mons-") {
            cluster = field.trim_matches(|c| "mons-".contains(c)).to_owned();
        }
    }
    if image.is_empty() || pool.is_empty() || cluster.is_empty() {
        return Err(invalid("missing image name, pool or cluster in volume ID"));
    }
    if !inventory.knows_cluster(&cluster) {
        return Err(Status::internal(format!(
            "missing configuration for cluster ID \"{cluster}\""
        )));
    }
    connect(inventory)?;

    let found = inventory.volumes.iter_mut().find(|volume| {
        volume.kind == VolumeKind::RbdImage && volume.pool == pool && volume.path == image
    });
    if let Some(volume) = found {
        purge(volume);
    }
    Ok(())
}

fn decode_hex_text(hex: &str) -> Option<String> {
    let bytes = hex.as_bytes();
    if bytes.len() % 2 != 0 {
        return None;
    }
    let decoded = bytes
        .chunks(2)
        .map(|pair| {
            hex_value(pair)
                .ok()
                .and_then(|value| u8::try_from(value).ok())
        })
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(decoded).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests;
