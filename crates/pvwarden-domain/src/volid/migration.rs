//! Handles of in-tree RBD volumes migrated to ceph-csi, `mig_mons-<hash>_image-<uuid>_<pool>`.
//!
//! ceph-csi's RBD controller checks these before anything else (`internal/rbd/migration.go`,
//! `isMigrationVolID` and `parseMigrationVolID`). The check is three substring tests, not a
//! prefix test, so any handle that merely contains `mig`, `image-` and `mons-` takes this
//! path, and a parse error is answered with `InvalidArgument` instead of `Internal`. The
//! parser is loose as well: it splits on `_`, hex-decodes everything from the fourth field
//! on as the pool name, looks for `image-` and `mons-` anywhere in the first three fields,
//! and strips the monitors field with Go's `strings.Trim`, which removes a *set* of
//! characters (`m`, `o`, `n`, `s`, `-`) from both ends rather than a prefix.

use serde::Serialize;

use super::gohex::{self, HexError};
use super::gostring;

const MIG_IDENTIFIER: &str = "mig";
const IMAGE_PREFIX: &str = "image-";
const MONS_PREFIX: &str = "mons-";
const FIELD_SEPARATOR: char = '_';
const IN_TREE_IMAGE_PREFIX: &str = "kubernetes-dynamic-pvc-";

/// Go's `migVolIDTotalLength`: a handle needs at least this many `_`-separated fields.
const TOTAL_FIELDS: usize = 4;

/// Go's `migVolIDSplitLength`: the fields before the hex-encoded pool name.
const SPLIT_FIELDS: usize = 3;

/// A migration handle as ceph-csi's RBD controller parses it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MigrationHandle {
    /// The RBD image, `kubernetes-dynamic-pvc-` plus the text after `image-`.
    pub image_name: String,
    /// The pool, hex-decoded; bytes that are not UTF-8 are stored as Go prints them.
    pub pool_name: String,
    /// The monitors hash, used by ceph-csi as the clusterID.
    pub cluster_id: String,
}

/// Why ceph-csi's RBD controller rejects a migration handle with `InvalidArgument`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum MigrationError {
    /// Fewer than four `_`-separated fields.
    #[error("a migration handle needs at least 4 fields separated by '_', found {fields}")]
    TooFewFields {
        /// How many fields the handle has.
        fields: usize,
    },
    /// The fields from the fourth on are not valid hex once joined with `_`.
    #[error("the pool name of the migration handle is not hex: {go_error}")]
    PoolNotHex {
        /// Go's `encoding/hex` error text.
        go_error: String,
    },
    /// None of the first three fields contains `image-`.
    #[error("no field of the migration handle names the image")]
    MissingImage,
    /// The pool field is empty.
    #[error("the pool name of the migration handle is empty")]
    EmptyPool,
    /// No field contains `mons-`, or the trimmed monitors hash is empty.
    #[error("no cluster id can be taken from the monitors field of the migration handle")]
    MissingClusterId,
}

impl MigrationError {
    /// Returns the exact text of the `InvalidArgument` status ceph-csi answers.
    pub fn ceph_csi_message(&self) -> &'static str {
        match self {
            MigrationError::TooFewFields { .. } => "invalid VolumeID",
            MigrationError::PoolNotHex { .. } | MigrationError::EmptyPool => {
                "pool information can not be empty in volID"
            }
            MigrationError::MissingImage => "rbd image name information can not be empty in volID",
            MigrationError::MissingClusterId => {
                "failed to get clusterID from monitors hash in volID"
            }
        }
    }
}

/// Returns whether ceph-csi's RBD controller treats `handle` as a migration handle.
///
/// This is ceph-csi's own test: the three markers may appear anywhere, in any order.
pub fn is_migration_handle(handle: &str) -> bool {
    handle.contains(MIG_IDENTIFIER) && handle.contains(IMAGE_PREFIX) && handle.contains(MONS_PREFIX)
}

/// Parses a migration handle, accepting and rejecting exactly what ceph-csi's RBD does.
///
/// It does not call [`is_migration_handle`] first; ceph-csi only parses handles that pass it.
///
/// # Errors
///
/// Returns the first error ceph-csi's `parseMigrationVolID` would find.
pub fn parse_migration(handle: &str) -> Result<MigrationHandle, MigrationError> {
    let fields: Vec<&str> = handle.split(FIELD_SEPARATOR).collect();
    if fields.len() < TOTAL_FIELDS {
        return Err(MigrationError::TooFewFields {
            fields: fields.len(),
        });
    }

    // The pool is everything after the third separator, so it may itself contain `_`.
    let pool_hex = fields[SPLIT_FIELDS..].join("_");
    let pool = gohex::decode(pool_hex.as_bytes()).map_err(|error| {
        let go_error = match error {
            HexError::InvalidByte { byte, .. } => gohex::invalid_byte_message(byte),
            HexError::OddLength => gohex::ODD_LENGTH_MESSAGE.to_owned(),
        };
        MigrationError::PoolNotHex { go_error }
    })?;

    let (image_name, cluster_id) = scan_fields(&fields[..SPLIT_FIELDS]);
    let image_name = image_name.ok_or(MigrationError::MissingImage)?;
    if pool.is_empty() {
        return Err(MigrationError::EmptyPool);
    }
    let cluster_id = cluster_id
        .filter(|id| !id.is_empty())
        .ok_or(MigrationError::MissingClusterId)?;

    let pool_name = gostring::lossy(&pool);
    Ok(MigrationHandle {
        image_name,
        pool_name,
        cluster_id: cluster_id.to_owned(),
    })
}

/// Finds the image name and the monitors hash in the first three fields, as Go's loop does.
///
/// A field with both markers counts as the image only, and a later field overrides an
/// earlier one.
fn scan_fields<'a>(fields: &[&'a str]) -> (Option<String>, Option<&'a str>) {
    let (mut image_name, mut cluster_id) = (None, None);
    for field in fields {
        if field.contains(IMAGE_PREFIX) {
            // `strings.Split(field, "image-")[1]`: only the text up to a second `image-`.
            let after = field.split(IMAGE_PREFIX).nth(1).unwrap_or_default();
            image_name = Some(format!("{IN_TREE_IMAGE_PREFIX}{after}"));
        } else if field.contains(MONS_PREFIX) {
            cluster_id = Some(field.trim_matches(|c| MONS_PREFIX.contains(c)));
        }
    }
    (image_name, cluster_id)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use super::*;

    const POOL_HEX: &str = "7265706c6963617065";

    fn handle(mons: &str, image: &str, pool: &str) -> String {
        format!("mig_{mons}_{image}_{pool}")
    }

    #[test]
    fn parses_a_handle_written_by_the_csi_translation() {
        let parsed = parse_migration(&handle(
            "mons-3f1c0e2a9b8d7c6e5f4a3b2c1d0e9f8a",
            "image-7a0d3c52-4f1e-11ee-9c1b-2b7e0d9a4c31",
            POOL_HEX,
        ))
        .unwrap();
        assert_eq!(
            parsed.image_name,
            "kubernetes-dynamic-pvc-7a0d3c52-4f1e-11ee-9c1b-2b7e0d9a4c31"
        );
        assert_eq!(parsed.pool_name, "replicape");
        assert_eq!(parsed.cluster_id, "3f1c0e2a9b8d7c6e5f4a3b2c1d0e9f8a");
    }

    #[test]
    fn detection_is_a_substring_test() {
        assert!(is_migration_handle("xx-image-a-mons-b-migrate"));
        assert!(is_migration_handle("mons-1_image-2_mig"));
        assert!(!is_migration_handle("mig_mon-1_image-2_00"));
        assert!(!is_migration_handle(
            "0001-0009-rook-ceph-0000000000000001-x"
        ));
    }

    #[test]
    fn rejects_too_few_fields() {
        assert_eq!(
            parse_migration("mig"),
            Err(MigrationError::TooFewFields { fields: 1 })
        );
        let error = parse_migration("mig_mons-1_image-2").unwrap_err();
        assert_eq!(error.ceph_csi_message(), "invalid VolumeID");
    }

    #[test]
    fn pool_may_contain_underscores_which_are_not_hex() {
        let error = parse_migration(&handle("mons-1", "image-2", "70_6f")).unwrap_err();
        assert_eq!(
            error,
            MigrationError::PoolNotHex {
                go_error: "encoding/hex: invalid byte: U+005F '_'".into()
            }
        );
        assert_eq!(
            error.ceph_csi_message(),
            "pool information can not be empty in volID"
        );
    }

    #[test]
    fn odd_pool_hex_is_a_pool_error() {
        let error = parse_migration(&handle("mons-1", "image-2", "706")).unwrap_err();
        assert_eq!(
            error,
            MigrationError::PoolNotHex {
                go_error: "encoding/hex: odd length hex string".into()
            }
        );
    }

    #[test]
    fn pool_hex_is_checked_before_the_image() {
        let error = parse_migration("mig_mons-1_imag-2_zz").unwrap_err();
        assert!(matches!(error, MigrationError::PoolNotHex { .. }));
    }

    #[test]
    fn missing_image_is_reported_before_empty_pool() {
        let error = parse_migration("mig_mons-1_img-2_").unwrap_err();
        assert_eq!(error, MigrationError::MissingImage);
        assert_eq!(
            error.ceph_csi_message(),
            "rbd image name information can not be empty in volID"
        );
    }

    #[test]
    fn empty_pool_is_rejected() {
        let error = parse_migration("mig_mons-1_image-2_").unwrap_err();
        assert_eq!(error, MigrationError::EmptyPool);
    }

    #[test]
    fn monitors_field_is_trimmed_as_a_character_set() {
        // `strings.Trim` removes any of "mons-" from both ends, not the prefix.
        let parsed = parse_migration(&handle("mons-nomads-on", "image-2", POOL_HEX)).unwrap();
        assert_eq!(parsed.cluster_id, "ad");

        let error = parse_migration(&handle("mons-moon", "image-2", POOL_HEX)).unwrap_err();
        assert_eq!(error, MigrationError::MissingClusterId);
        assert_eq!(
            error.ceph_csi_message(),
            "failed to get clusterID from monitors hash in volID"
        );
    }

    #[test]
    fn field_with_both_markers_counts_as_image() {
        let error = parse_migration(&handle("mig", "image-a-mons-b", POOL_HEX)).unwrap_err();
        assert_eq!(error, MigrationError::MissingClusterId);
    }

    #[test]
    fn image_name_stops_at_a_second_marker_and_later_fields_win() {
        let parsed = parse_migration("image-1-image-2_mons-c_image-3_00").unwrap();
        assert_eq!(parsed.image_name, "kubernetes-dynamic-pvc-3");
        let parsed = parse_migration("mons-c_x_image-1-image-2_00").unwrap();
        assert_eq!(parsed.image_name, "kubernetes-dynamic-pvc-1-");
        assert_eq!(parsed.pool_name, "\0");
    }

    #[test]
    fn pool_bytes_that_are_not_utf8_print_as_go_does() {
        let parsed = parse_migration(&handle("mons-1", "image-2", "e298")).unwrap();
        assert_eq!(parsed.pool_name, "\u{fffd}\u{fffd}");
    }
}
