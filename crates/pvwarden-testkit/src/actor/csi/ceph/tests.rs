use super::*;
use crate::actor::csi::{delete_volume, Secrets};

const CURRENT: Version = Version::new(3, 14, 0);
const OLD: Version = Version::new(2, 0, 0);

const SUBVOLUME_ID: &str =
    "0001-0009-rook-ceph-0000000000000001-53f8e5d7-eff5-11f1-828d-136dfc58b12e";
const IMAGE_ID: &str = "0001-0006-ceph-a-0000000000000047-85b84782-eff6-11f1-b2e3-e19f71502825";

fn named() -> Secrets {
    Secrets::Named {
        namespace: "rook-ceph".into(),
        name: "provisioner".into(),
    }
}

fn inventory() -> Inventory {
    let json = serde_json::json!({
        "volumes": [
            {"driver": "rook-ceph.cephfs.csi.ceph.com", "id": SUBVOLUME_ID,
             "kind": "cephfs-subvolume", "cluster": "rook-ceph", "pool": "sharedfs",
             "path": "/volumes/csi/csi-vol-53f8e5d7", "journal": true, "exists": true},
            {"driver": "rbd.csi.ceph.com", "id": IMAGE_ID, "kind": "rbd-image",
             "cluster": "ceph-a", "pool": "kube", "path": "csi-vol-85b84782",
             "journal": true, "exists": true}
        ],
        "pools": [
            {"cluster": "rook-ceph", "name": "sharedfs", "id": 1, "exists": true},
            {"cluster": "ceph-a", "name": "kube", "id": 71, "exists": true}
        ]
    });
    serde_json::from_value(json).unwrap()
}

fn delete(inv: &mut Inventory, driver: &str, id: &str, version: Version) -> Result<(), Status> {
    let secrets = named();
    delete_volume(
        inv,
        &DeleteRequest {
            driver,
            volume_id: id,
            secrets: &secrets,
        },
        version,
    )
}

#[test]
fn decodes_a_rook_cephfs_id() {
    let id = decode(SUBVOLUME_ID).unwrap();
    assert_eq!(id.version, 1);
    assert_eq!(id.cluster_id, "rook-ceph");
    assert_eq!(id.location_id, 1);
    assert_eq!(id.object_uuid, "53f8e5d7-eff5-11f1-828d-136dfc58b12e");
}

#[test]
fn reads_the_location_field_as_hex() {
    assert_eq!(decode(IMAGE_ID).unwrap().location_id, 71);
}

#[test]
fn a_suffixed_handle_is_a_size_mismatch() {
    let handle = format!("{SUBVOLUME_ID}-app-consumer");
    assert_eq!(decode(&handle), Err(DecodeError::SizeMismatch));
    assert_eq!(
        decode(&format!("{SUBVOLUME_ID}x")),
        Err(DecodeError::SizeMismatch)
    );
    assert_eq!(
        decode(&SUBVOLUME_ID[..SUBVOLUME_ID.len() - 1]),
        Err(DecodeError::SizeMismatch)
    );
}

#[test]
fn short_handles_underflow() {
    assert_eq!(decode("db-data-image"), Err(DecodeError::Underflow));
    assert_eq!(
        decode("csi-rbd-vol-47b24801-eff6-11f1-9988-f98bcd776f73"),
        Err(DecodeError::Underflow)
    );
}

#[test]
fn a_wrong_cluster_length_fails_in_the_pool_field() {
    // The Rook documentation's example: length 0x11 for the 4-byte clusterID "rook".
    let err =
        decode("0001-0011-rook-0000000000000001-e15d19b1-eff6-11f1-a2ab-5bdc59d6d857").unwrap_err();
    assert_eq!(err, DecodeError::InvalidByte(b'-'));
    assert_eq!(err.to_string(), "encoding/hex: invalid byte: U+002D '-'");
}

#[test]
fn separators_are_not_checked_and_hex_may_be_upper_case() {
    let id = decode("0001x000Ax0123456789x00000000000000FFx53f8e5d7-eff5-11f1-828d-136dfc58b12e")
        .unwrap();
    assert_eq!(id.cluster_id, "0123456789");
    assert_eq!(id.location_id, 255);
}

#[test]
fn an_empty_cluster_id_fits_in_64_bytes() {
    let id = format!("0001-0000--0000000000000002-{}", "a".repeat(36));
    assert_eq!(id.len(), 64);
    assert_eq!(decode(&id).unwrap().cluster_id, "");
}

#[test]
fn a_cluster_length_of_ffff_wraps_and_panics_like_go() {
    let id = format!("0001-ffff-{}", "a".repeat(60));
    assert_eq!(decode(&id), Err(DecodeError::SliceOutOfRange(10, 9)));

    let mut inv = inventory();
    let status = delete(&mut inv, "cephfs.csi.ceph.com", &id, CURRENT).unwrap_err();
    assert_eq!(status.code, Code::Internal);
    assert!(status
        .message
        .starts_with("panic runtime error: slice bounds out of range"));
}

#[test]
fn cephfs_delete_purges_a_journaled_subvolume_once() {
    let mut inv = inventory();
    assert_eq!(
        delete(
            &mut inv,
            "rook-ceph.cephfs.csi.ceph.com",
            SUBVOLUME_ID,
            CURRENT
        ),
        Ok(())
    );
    assert!(!inv.volumes[0].exists);
    assert!(!inv.volumes[0].journal);
    assert_eq!(inv.volumes[0].deleted_by.as_deref(), Some(DELETED_BY));

    let after = inv.clone();
    assert_eq!(
        delete(
            &mut inv,
            "rook-ceph.cephfs.csi.ceph.com",
            SUBVOLUME_ID,
            CURRENT
        ),
        Ok(())
    );
    assert_eq!(inv, after);
}

#[test]
fn cephfs_delete_of_an_undecodable_handle_is_internal_and_touches_nothing() {
    let mut inv = inventory();
    let before = inv.clone();
    let handle = format!("{SUBVOLUME_ID}-app-consumer");
    let status = delete(&mut inv, "rook-ceph.cephfs.csi.ceph.com", &handle, CURRENT).unwrap_err();
    assert_eq!(status.code, Code::Internal);
    assert!(status.message.contains("invalid VolumeID"));
    assert!(status.message.contains("string size mismatch"));
    assert_eq!(inv, before);
}

#[test]
fn a_gone_pool_is_success_only_from_ceph_csi_2_1() {
    let mut inv = inventory();
    inv.pools[1].exists = false;
    let before = inv.clone();

    let status = delete(&mut inv, "rbd.csi.ceph.com", IMAGE_ID, OLD).unwrap_err();
    assert_eq!(status.message, "pool ID (71) not found in Ceph cluster");
    assert_eq!(
        delete(&mut inv, "rbd.csi.ceph.com", IMAGE_ID, CURRENT),
        Ok(())
    );
    assert_eq!(inv, before);
}

#[test]
fn an_unknown_cluster_is_internal() {
    let mut inv = inventory();
    let id = IMAGE_ID.replace("0006-ceph-a", "0006-ceph-b");
    let status = delete(&mut inv, "rbd.csi.ceph.com", &id, CURRENT).unwrap_err();
    assert_eq!(status.code, Code::Internal);
    assert!(status.message.contains("clusterID (ceph-b)"));
}

#[test]
fn a_missing_journal_entry_is_success_without_deleting() {
    let mut inv = inventory();
    inv.volumes[1].journal = false;
    let before = inv.clone();
    assert_eq!(
        delete(&mut inv, "rbd.csi.ceph.com", IMAGE_ID, CURRENT),
        Ok(())
    );
    assert_eq!(inv, before);
}

#[test]
fn a_gone_image_with_its_journal_only_loses_the_reservation() {
    let mut inv = inventory();
    inv.volumes[1].exists = false;
    assert_eq!(
        delete(&mut inv, "rbd.csi.ceph.com", IMAGE_ID, CURRENT),
        Ok(())
    );
    assert!(!inv.volumes[1].journal);
    assert_eq!(inv.volumes[1].deleted_by, None);
}

#[test]
fn cephx_disabled_fails_rbd_after_the_journal_lookup() {
    let mut inv = inventory();
    inv.faults.cephx_disabled = true;
    let before = inv.clone();
    let status = delete(&mut inv, "rbd.csi.ceph.com", IMAGE_ID, CURRENT).unwrap_err();
    assert_eq!(status.code, Code::Internal);
    assert!(status.message.contains("exit status 95"));
    assert!(status.message.contains("info kube/csi-vol-85b84782"));
    assert_eq!(inv, before);
}

#[test]
fn an_unreachable_cluster_is_internal() {
    let mut inv = inventory();
    inv.faults.unreachable = true;
    let status = delete(
        &mut inv,
        "rook-ceph.cephfs.csi.ceph.com",
        SUBVOLUME_ID,
        CURRENT,
    );
    assert_eq!(status.unwrap_err().code, Code::Internal);
    assert!(inv.volumes[0].exists);
}

#[test]
fn missing_secrets_are_invalid_for_rbd_and_internal_for_cephfs() {
    let mut inv = inventory();
    let none = Secrets::None;
    let request = DeleteRequest {
        driver: "rbd.csi.ceph.com",
        volume_id: IMAGE_ID,
        secrets: &none,
    };
    let status = delete_volume(&mut inv, &request, CURRENT).unwrap_err();
    assert_eq!(status.code, Code::InvalidArgument);
    assert_eq!(status.message, "provided secret is empty");

    let request = DeleteRequest {
        driver: "cephfs.csi.ceph.com",
        volume_id: SUBVOLUME_ID,
        secrets: &none,
    };
    assert_eq!(
        delete_volume(&mut inv, &request, CURRENT).unwrap_err().code,
        Code::Internal
    );
    assert!(inv.volumes.iter().all(|volume| volume.exists));
}

#[test]
fn secrets_read_from_the_api_need_the_right_keys() {
    let mut inv = inventory();
    let admin = Secrets::Data(
        [("adminID", "admin"), ("adminKey", "k")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into(),
    );
    let request = DeleteRequest {
        driver: "rbd.csi.ceph.com",
        volume_id: IMAGE_ID,
        secrets: &admin,
    };
    let status = delete_volume(&mut inv, &request, CURRENT).unwrap_err();
    assert_eq!(status.code, Code::InvalidArgument);

    let request = DeleteRequest {
        driver: "cephfs.csi.ceph.com",
        volume_id: SUBVOLUME_ID,
        secrets: &admin,
    };
    assert_eq!(delete_volume(&mut inv, &request, CURRENT), Ok(()));
}

#[test]
fn rbd_migration_handles_name_the_image_directly() {
    let mut inv = inventory();
    inv.volumes[1].path = "kubernetes-dynamic-pvc-1234".into();
    let pool_hex: String = "kube".bytes().map(|b| format!("{b:02x}")).collect();
    let handle = format!("mig_mons-ceph-a_image-1234_{pool_hex}");
    assert_eq!(
        delete(&mut inv, "rbd.csi.ceph.com", &handle, CURRENT),
        Ok(())
    );
    assert!(!inv.volumes[1].exists);

    let status = delete(&mut inv, "rbd.csi.ceph.com", "mig_mons-x_image-1", CURRENT).unwrap_err();
    assert_eq!(status.code, Code::InvalidArgument);
}
