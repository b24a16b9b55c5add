//! Volume ids of ceph-csi v1.0, made before ids were encoded with the journal.
//!
//! ceph-csi v1.0 kept its state in a metadata store (files or ConfigMaps) and named volumes:
//!
//! - RBD: `csi-rbd-vol-<random uuid>`; the image itself was named after the CSI request
//!   (`pvc-…`), and only the metadata store links the two.
//! - CephFS: `csi-cephfs-<CSI request name>`, with the data in `/csi-volumes/<volume id>`.
//!
//! ceph-csi v1.1 to v2.1 still deleted such volumes when started with `--metadatastorage`.
//! RBD recognised them with `isLegacyVolumeID` (`pkg/rbd/rbd_util.go`), reproduced by
//! [`is_legacy_rbd_shape`]. CephFS had no shape test: any id that failed to decode went to
//! `deleteVolumeDeprecated` when a metadata store was configured. ceph-csi v3.0 removed all
//! of it (commit d15ded88f), so current ceph-csi only sees ids that do not decode.
//!
//! NOTE: ceph-csi v1.1 to v2.1 RBD answered `OK` to `DeleteVolume` for every other id that
//! did not decode ("consider unknown volumeID as a successfully deleted volume"); since v3.0
//! it answers `Internal`, which is why such PVs now stay stuck where they used to vanish.

/// The prefix of every ceph-csi v1.0 RBD volume id.
pub const LEGACY_RBD_PREFIX: &str = "csi-rbd-vol-";

/// The prefix of every ceph-csi v1.0 CephFS volume id.
pub const LEGACY_CEPHFS_PREFIX: &str = "csi-cephfs-";

/// The directory under which ceph-csi v1.0 created CephFS volumes.
const LEGACY_CEPHFS_ROOT: &str = "/csi-volumes";

/// Returns whether ceph-csi v1.1 to v2.1 would take `handle` for a v1.0 RBD id.
///
/// This is `isLegacyVolumeID`: exactly 48 bytes, the prefix, then a uuid that
/// `github.com/pborman/uuid.Parse` accepts. At 36 bytes that means dashes at offsets 8, 13,
/// 18 and 23 and hex digits of either case elsewhere; version and variant are not checked.
pub fn is_legacy_rbd_shape(handle: &str) -> bool {
    handle.len() == 48
        && handle
            .strip_prefix(LEGACY_RBD_PREFIX)
            .is_some_and(|uuid| is_uuid(uuid.as_bytes()))
}

/// Returns whether `handle` has the shape of a ceph-csi v1.0 CephFS id.
///
/// ceph-csi never tested this shape (see the module docs); it is the prefix v1.0 wrote,
/// followed by a non-empty request name.
pub fn is_legacy_cephfs_shape(handle: &str) -> bool {
    handle
        .strip_prefix(LEGACY_CEPHFS_PREFIX)
        .is_some_and(|name| !name.is_empty())
}

/// Returns where ceph-csi v1.0 kept the data of a CephFS volume with this id.
pub(crate) fn cephfs_root_path(handle: &str) -> String {
    format!("{LEGACY_CEPHFS_ROOT}/{handle}")
}

/// Checks the canonical 36-byte uuid form as Google's `uuid.Parse` does.
fn is_uuid(text: &[u8]) -> bool {
    const DASHES: [usize; 4] = [8, 13, 18, 23];
    text.len() == 36
        && text.iter().enumerate().all(|(i, &b)| {
            if DASHES.contains(&i) {
                b == b'-'
            } else {
                b.is_ascii_hexdigit()
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_a_v1_0_rbd_id() {
        assert!(is_legacy_rbd_shape(
            "csi-rbd-vol-47b24801-eff6-11f1-9988-f98bcd776f73"
        ));
        assert!(is_legacy_rbd_shape(
            "csi-rbd-vol-47B24801-EFF6-11F1-9988-F98BCD776F73"
        ));
    }

    #[test]
    fn rbd_shape_needs_exact_length_prefix_and_uuid() {
        assert!(!is_legacy_rbd_shape(
            "csi-rbd-vol-47b24801-eff6-11f1-9988-f98bcd776f7"
        ));
        assert!(!is_legacy_rbd_shape(
            "csi-rbd-vol-47b24801-eff6-11f1-9988-f98bcd776f733"
        ));
        assert!(!is_legacy_rbd_shape(
            "csi-rbd-vox-47b24801-eff6-11f1-9988-f98bcd776f73"
        ));
        assert!(!is_legacy_rbd_shape(
            "csi-rbd-vol-47b24801xeff6-11f1-9988-f98bcd776f73"
        ));
        assert!(!is_legacy_rbd_shape(
            "csi-rbd-vol-47b2480g-eff6-11f1-9988-f98bcd776f73"
        ));
        // 32 hex digits would pass `uuid.Parse`, but not the 48-byte length check.
        assert!(!is_legacy_rbd_shape(
            "csi-rbd-vol-47b24801eff611f19988f98bcd776f73"
        ));
    }

    #[test]
    fn rbd_shape_ignores_uuid_version_and_variant() {
        assert!(is_legacy_rbd_shape(
            "csi-rbd-vol-00000000-0000-0000-0000-000000000000"
        ));
    }

    #[test]
    fn recognises_a_v1_0_cephfs_id() {
        let handle = "csi-cephfs-pvc-1b3f6c2e-4a5d-4e7f-9a0b-1c2d3e4f5a6b";
        assert!(is_legacy_cephfs_shape(handle));
        assert_eq!(
            cephfs_root_path(handle),
            "/csi-volumes/csi-cephfs-pvc-1b3f6c2e-4a5d-4e7f-9a0b-1c2d3e4f5a6b"
        );
        assert!(!is_legacy_cephfs_shape("csi-cephfs-"));
        assert!(!is_legacy_cephfs_shape("cephfs-pvc-1"));
    }
}
