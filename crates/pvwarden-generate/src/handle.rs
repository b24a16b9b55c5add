//! Volume handles that no ceph-csi release can read as a volume it may delete.
//!
//! `DeleteVolume` carries nothing but the handle, so a static PV is safe from
//! every later deletion exactly when ceph-csi cannot turn its handle into a
//! volume: a v1 id must not decode, the v1.0 ("legacy") shapes must not match,
//! and for RBD the migration markers must not all appear. [`check`] asks the
//! codec in `pvwarden_domain::volid`, which reproduces ceph-csi's own parser,
//! rather than trusting the shape of the generated string.

use pvwarden_domain::driver::CephKind;
use pvwarden_domain::volid;

use crate::error::Error;

/// The prefix of every handle pvwarden makes up for a CephFS share.
///
/// `p` is not a hexadecimal digit, and ceph-csi reads the first four bytes of
/// a v1 id as hex (or stops earlier, for a handle under 64 bytes), so no
/// handle with this prefix can decode.
pub const SHARE_PREFIX: &str = "pvwarden-";

/// The longest handle written: the CSI specification caps volume ids at 128 bytes.
pub const MAX_HANDLE_BYTES: usize = 128;

/// The handle of a CephFS share or static volume whose PV is called `pv_name`.
///
/// PV names are unique in a cluster, so the handle is unique per share.
///
/// # Errors
///
/// Returns [`Error::InvalidName`] when the handle would exceed
/// [`MAX_HANDLE_BYTES`], and [`Error::HandleDecodes`] if ceph-csi could read it.
pub fn for_pv(kind: CephKind, pv_name: &str) -> Result<String, Error> {
    let handle = format!("{SHARE_PREFIX}{pv_name}");
    if handle.len() > MAX_HANDLE_BYTES {
        return Err(Error::InvalidName {
            what: "the PV name",
            value: pv_name.to_owned(),
            why: "the volume handle made from it must fit in 128 bytes; use at most 119 \
                  characters",
        });
    }
    check(kind, &handle)?;
    Ok(handle)
}

/// Checks that ceph-csi of any release reads `handle` as no volume it can delete.
///
/// # Errors
///
/// Returns [`Error::HandleDecodes`] saying what ceph-csi would make of it.
pub fn check(kind: CephKind, handle: &str) -> Result<(), Error> {
    let refuse = |why: String| {
        Err(Error::HandleDecodes {
            handle: handle.to_owned(),
            why,
        })
    };
    if let Ok(id) = volid::decode(handle) {
        return refuse(format!(
            "a v1 id of cluster {} with pool or filesystem id {}",
            id.cluster_id, id.location_id
        ));
    }
    // ceph-csi 1.1 to 2.1 still read v1.0 ids.
    let legacy = match kind {
        CephKind::Rbd => volid::is_legacy_rbd_shape(handle),
        CephKind::Cephfs | CephKind::Nfs => volid::is_legacy_cephfs_shape(handle),
    };
    if legacy {
        return refuse("a ceph-csi v1.0 id, which releases before 2.2 delete".to_owned());
    }
    // RBD from 3.5 on parses migration handles and deletes the image they name.
    if kind == CephKind::Rbd && volid::is_migration_handle(handle) {
        return refuse("a migrated in-tree image, which RBD from 3.5 on deletes".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use pvwarden_domain::driver::Profile;
    use pvwarden_domain::version::Version;

    /// Every release whose deletion path the model knows, oldest first.
    fn releases() -> Vec<Version> {
        [
            (1, 1),
            (2, 0),
            (2, 1),
            (3, 0),
            (3, 4),
            (3, 5),
            (3, 12),
            (4, 0),
        ]
        .into_iter()
        .map(|(major, minor)| Version::new(major, minor, 0))
        .collect()
    }

    fn never_deletes(driver: &str, handle: &str) -> bool {
        let profile = Profile::for_csi_driver(driver);
        releases()
            .into_iter()
            .all(|v| profile.handle_never_deletes(handle, v))
    }

    #[test]
    fn rook_share_handle_is_accepted_and_never_deletes() {
        let handle = for_pv(CephKind::Cephfs, "share-team-b-media").expect("a short name");
        assert_eq!(handle, "pvwarden-share-team-b-media");
        assert!(never_deletes("rook-ceph.cephfs.csi.ceph.com", &handle));
    }

    #[test]
    fn the_guides_appended_namespace_handle_is_still_refused_when_it_decodes() {
        let original = "0001-0009-rook-ceph-0000000000000001-1b9f2e64-3a7c-4e58-9d20-6c4b8a1f0e07";
        let err = check(CephKind::Cephfs, original).expect_err("a real id decodes");
        assert!(matches!(err, Error::HandleDecodes { .. }), "{err}");
    }

    #[test]
    fn legacy_and_migration_shapes_are_refused() {
        let legacy = "csi-rbd-vol-1b9f2e64-3a7c-4e58-9d20-6c4b8a1f0e07";
        assert!(check(CephKind::Rbd, legacy).is_err());
        assert!(check(CephKind::Cephfs, "csi-cephfs-pvc-1").is_err());
        let migration = "mig_mons-abc_image-def_pool";
        assert!(check(CephKind::Rbd, migration).is_err());
        // CephFS has no migration path: the same text is just an undecodable id.
        assert!(check(CephKind::Cephfs, migration).is_ok());
    }

    #[test]
    fn names_too_long_for_a_handle_are_refused() {
        let name = "a".repeat(120);
        assert!(matches!(
            for_pv(CephKind::Cephfs, &name),
            Err(Error::InvalidName { .. })
        ));
        assert!(for_pv(CephKind::Cephfs, &"a".repeat(119)).is_ok());
    }

    proptest! {
        // Whatever the PV is called, its share handle never reaches storage, for
        // either driver and every modelled ceph-csi release.
        #[test]
        fn generated_handles_never_decode(name in "[a-z0-9][a-z0-9.-]{0,118}") {
            let handle = for_pv(CephKind::Cephfs, &name).expect("a valid name");
            prop_assert!(volid::decode(&handle).is_err());
            prop_assert!(never_deletes("cephfs.csi.ceph.com", &handle));
            prop_assert!(never_deletes("rook-ceph.cephfs.csi.ceph.com", &handle));
        }

        // The checker agrees with the model for any text: what it accepts, no
        // release deletes.
        #[test]
        fn accepted_handles_never_delete(handle in "\\PC{0,140}") {
            if check(CephKind::Rbd, &handle).is_ok() {
                prop_assert!(never_deletes("rbd.csi.ceph.com", &handle));
            }
            if check(CephKind::Cephfs, &handle).is_ok() {
                prop_assert!(never_deletes("cephfs.csi.ceph.com", &handle));
            }
        }
    }
}
