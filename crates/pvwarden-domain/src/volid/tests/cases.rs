//! Named handles: the real ones from DOMAIN.md and the brief, and each path of the decoder.

use super::super::*;
use super::reference;

const UUID: &str = "53f8e5d7-eff5-11f1-828d-136dfc58b12e";
const ROOK_CEPH: &str = "0001-0009-rook-ceph-0000000000000001-53f8e5d7-eff5-11f1-828d-136dfc58b12e";

fn kind(handle: &str) -> DecodeErrorKind {
    let error = decode(handle).expect_err("handle must not decode");
    error.kind().clone()
}

/// Checks the named handle against the reference formula too, so each case tests both.
fn decode_checked(handle: &str) -> Result<CsiId, DecodeError> {
    let decoded = decode(handle);
    assert_eq!(
        decoded.clone().map_err(|e| e.kind().clone()),
        reference(handle.as_bytes())
    );
    decoded
}

#[test]
fn decodes_a_rook_cephfs_volume_id() {
    let id = decode_checked(ROOK_CEPH).unwrap();
    assert_eq!(
        id,
        CsiId {
            encoding_version: 1,
            cluster_id: "rook-ceph".into(),
            location_id: 1,
            object_uuid: UUID.into(),
        }
    );
    assert_eq!(classify(ROOK_CEPH), HandleFamily::V1(id));
}

#[test]
fn shared_volume_suffix_is_a_size_mismatch() {
    // Rook's cross-namespace sharing recipe appends the namespace to the handle.
    let handle = format!("{ROOK_CEPH}-app-consumer");
    let error = decode_checked(&handle).unwrap_err();
    assert_eq!(
        error.kind(),
        &DecodeErrorKind::SizeMismatch { uuid_bytes: 49 }
    );
    assert_eq!(
        error.ceph_csi_message(),
        "failed to decode CSI identifier, string size mismatch"
    );
    assert!(matches!(classify(&handle), HandleFamily::Undecodable(_)));
}

#[test]
fn one_byte_more_or_less_is_a_size_mismatch() {
    let shorter = &ROOK_CEPH[..ROOK_CEPH.len() - 1];
    assert_eq!(
        kind(shorter),
        DecodeErrorKind::SizeMismatch { uuid_bytes: 35 }
    );
    let longer = format!("{ROOK_CEPH}0");
    assert_eq!(
        kind(&longer),
        DecodeErrorKind::SizeMismatch { uuid_bytes: 37 }
    );
}

#[test]
fn short_static_handle_is_an_underflow() {
    let error = decode_checked("db-data-image").unwrap_err();
    assert_eq!(error.kind(), &DecodeErrorKind::Underflow);
    assert_eq!(
        error.ceph_csi_message(),
        "failed to decode CSI identifier, string underflow"
    );
    assert_eq!(kind(&"0".repeat(63)), DecodeErrorKind::Underflow);
}

#[test]
fn wrong_cluster_length_reads_into_the_location_field() {
    // The length field says 0x11 = 17 bytes for the 4-byte "rook": the clusterID swallows
    // the start of the pool id, and the location field then starts inside it.
    let handle = "0001-0011-rook-0000000000000001-e15d19b1-eff6-11f1-a2ab-5bdc59d6d857";
    let error = decode_checked(handle).unwrap_err();
    let bad = DecodeErrorKind::InvalidHex {
        field: HexField::Location,
        offset: 31,
        byte: b'-',
    };
    assert_eq!(error.kind(), &bad);
    assert_eq!(
        error.ceph_csi_message(),
        "encoding/hex: invalid byte: U+002D '-'"
    );
    assert_eq!(&handle[10..27], "rook-000000000000");
}

#[test]
fn cluster_id_may_contain_dashes() {
    let handle = "0001-0006-ceph-a-0000000000000047-85b84782-eff6-11f1-b2e3-e19f71502825";
    let id = decode_checked(handle).unwrap();
    assert_eq!(id.cluster_id, "ceph-a");
    assert_eq!(id.location_id, 71);
    assert_eq!(id.object_uuid, "85b84782-eff6-11f1-b2e3-e19f71502825");
}

#[test]
fn legacy_rbd_id_underflows_as_v1() {
    let handle = "csi-rbd-vol-47b24801-eff6-11f1-9988-f98bcd776f73";
    let error = decode_checked(handle).unwrap_err();
    assert_eq!(error.kind(), &DecodeErrorKind::Underflow);
    assert_eq!(
        classify(handle),
        HandleFamily::LegacyRbd {
            uuid: "47b24801-eff6-11f1-9988-f98bcd776f73".into(),
            error
        }
    );
}

#[test]
fn legacy_cephfs_id_is_its_own_family() {
    let handle = "csi-cephfs-pvc-2a7f1c9e-0b4d-4e8a-9f3c-5d6e7f8a9b0c";
    let HandleFamily::LegacyCephfs {
        request_name,
        root_path,
        error,
    } = classify(handle)
    else {
        panic!("expected a legacy cephfs handle");
    };
    assert_eq!(request_name, "pvc-2a7f1c9e-0b4d-4e8a-9f3c-5d6e7f8a9b0c");
    assert_eq!(root_path, format!("/csi-volumes/{handle}"));
    // v1.0 ids of the default `pvc-<uid>` requests are 51 bytes: too short for version 1.
    assert_eq!(error.kind(), &DecodeErrorKind::Underflow);

    // Longer ones fail on the 's' of "csi"; 'c' is a hex digit.
    let long = format!("{handle}-with-a-longer-request-name");
    let HandleFamily::LegacyCephfs { error, .. } = classify(&long) else {
        panic!("expected a legacy cephfs handle");
    };
    let bad = DecodeErrorKind::InvalidHex {
        field: HexField::Version,
        offset: 1,
        byte: b's',
    };
    assert_eq!(error.kind(), &bad);
}

#[test]
fn cluster_length_ffff_crashes_the_decoder() {
    for field in ["ffff", "FFFF", "fFfF"] {
        let handle = format!("0001-{field}-{}", "x".repeat(54));
        let error = decode_checked(&handle).unwrap_err();
        let reason = "runtime error: slice bounds out of range [10:9]".to_owned();
        assert_eq!(error.kind(), &DecodeErrorKind::Crash { reason });
        assert_eq!(
            error.ceph_csi_message(),
            "panic runtime error: slice bounds out of range [10:9]"
        );
    }
}

#[test]
fn cluster_lengths_just_below_ffff_underflow() {
    for field in ["fff6", "fffe"] {
        let handle = format!("0001-{field}-{}", "x".repeat(54));
        assert_eq!(kind(&handle), DecodeErrorKind::Underflow);
    }
}

#[test]
fn crash_needs_a_valid_version_and_64_bytes() {
    assert!(matches!(
        kind(&format!("000g-ffff-{}", "x".repeat(54))),
        DecodeErrorKind::InvalidHex { .. }
    ));
    assert_eq!(
        kind(&format!("0001-ffff-{}", "x".repeat(53))),
        DecodeErrorKind::Underflow
    );
}

#[test]
fn separators_are_not_checked() {
    let handle = ROOK_CEPH.replacen('-', "x", 2);
    assert!(handle.starts_with("0001x0009x"));
    let id = decode_checked(&handle).unwrap();
    assert_eq!(id.cluster_id, "rook-ceph");

    let handle = format!("0001_0009_rook-ceph_0000000000000001_{UUID}");
    assert_eq!(decode_checked(&handle).unwrap().location_id, 1);
}

#[test]
fn version_is_not_checked() {
    let handle = ROOK_CEPH.replacen("0001", "beef", 1);
    assert_eq!(decode_checked(&handle).unwrap().encoding_version, 0xbeef);
    let handle = ROOK_CEPH.replacen("0001", "0000", 1);
    assert_eq!(decode_checked(&handle).unwrap().encoding_version, 0);
}

#[test]
fn hex_is_case_insensitive() {
    let handle = format!("0001-000A-rook-ceph0-00000000000000AB-{UUID}");
    let id = decode_checked(&handle).unwrap();
    assert_eq!(id.cluster_id, "rook-ceph0");
    assert_eq!(id.location_id, 0xab);
}

#[test]
fn location_id_may_be_negative() {
    let handle = format!("0001-0009-rook-ceph-ffffffffffffffff-{UUID}");
    assert_eq!(decode_checked(&handle).unwrap().location_id, -1);
    let handle = format!("0001-0009-rook-ceph-8000000000000000-{UUID}");
    assert_eq!(decode_checked(&handle).unwrap().location_id, i64::MIN);
}

#[test]
fn empty_cluster_id_decodes() {
    let handle = format!("0001-0000--0000000000000002-{UUID}");
    assert_eq!(handle.len(), 64);
    assert_eq!(decode_checked(&handle).unwrap().cluster_id, "");
}

#[test]
fn invalid_version_and_length_bytes_are_reported_first_to_last() {
    let handle = ROOK_CEPH.replacen("0001", "0z1y", 1);
    let bad = DecodeErrorKind::InvalidHex {
        field: HexField::Version,
        offset: 1,
        byte: b'z',
    };
    assert_eq!(kind(&handle), bad);

    let handle = ROOK_CEPH.replacen("0009", "00é", 1);
    let bad = DecodeErrorKind::InvalidHex {
        field: HexField::ClusterIdLength,
        offset: 7,
        byte: 0xc3,
    };
    assert_eq!(kind(&handle), bad);
    let message = decode(&handle).unwrap_err().ceph_csi_message();
    assert_eq!(message, "encoding/hex: invalid byte: U+00C3 'Ã'");
}

#[test]
fn cluster_id_cut_inside_a_character_is_stored_as_go_prints_it() {
    // "ab☃" is 5 bytes; a length of 4 cuts the snowman after two of its three bytes, and
    // its last byte sits where the separator should be.
    let handle = format!("0001-0004-ab☃0000000000000001-{UUID}");
    let id = decode_checked(&handle).unwrap();
    assert_eq!(id.cluster_id, "ab\u{fffd}\u{fffd}");
}

#[test]
fn long_handles_are_read_modulo_65536() {
    // Go keeps `uint16(len(s))`, so 65536 extra bytes are invisible to the checks.
    let handle = format!("{ROOK_CEPH}{}", "z".repeat(65536));
    let id = decode_checked(&handle).unwrap();
    assert_eq!(id.cluster_id, "rook-ceph");
    assert_eq!(id.object_uuid, UUID);

    let handle = format!("{ROOK_CEPH}{}", "z".repeat(65536 - ROOK_CEPH.len() + 10));
    assert_eq!(kind(&handle), DecodeErrorKind::Underflow);

    let handle = format!("{ROOK_CEPH}{}", "z".repeat(65537));
    assert_eq!(
        kind(&handle),
        DecodeErrorKind::SizeMismatch { uuid_bytes: 37 }
    );
}

#[test]
fn encodes_like_compose_csi_id() {
    let id = CsiId {
        encoding_version: 0,
        cluster_id: "rook-ceph".into(),
        location_id: 1,
        object_uuid: UUID.into(),
    };
    assert_eq!(encode(&id).unwrap(), ROOK_CEPH);

    let id = CsiId {
        encoding_version: 0xbeef,
        location_id: -1,
        ..id
    };
    let expected = format!("beef-0009-rook-ceph-ffffffffffffffff-{UUID}");
    assert_eq!(encode(&id).unwrap(), expected);
}

#[test]
fn encode_rejects_long_cluster_ids_before_bad_uuids() {
    let id = CsiId {
        encoding_version: 1,
        cluster_id: "c".repeat(65),
        location_id: 1,
        object_uuid: "short".into(),
    };
    let error = encode(&id).unwrap_err();
    assert_eq!(
        error,
        EncodeError::LengthOverflow {
            cluster_id_bytes: 65
        }
    );
    assert_eq!(error.ceph_csi_message(), "CSI ID encoding length overflow");

    let id = CsiId {
        cluster_id: "c".repeat(64),
        ..id
    };
    let error = encode(&id).unwrap_err();
    assert_eq!(error, EncodeError::InvalidUuid { uuid_bytes: 5 });
    assert_eq!(error.ceph_csi_message(), "CSI ID invalid object uuid");
}

#[test]
fn encode_counts_bytes_not_characters() {
    let id = CsiId {
        encoding_version: 1,
        cluster_id: "é".repeat(32),
        location_id: 1,
        object_uuid: UUID.into(),
    };
    let handle = encode(&id).unwrap();
    assert!(handle.starts_with("0001-0040-é"));
    assert_eq!(handle.len(), 128);
    let id = CsiId {
        cluster_id: format!("{}x", "é".repeat(32)),
        ..id
    };
    assert!(encode(&id).is_err());
}

#[test]
fn migration_test_runs_before_decoding() {
    // A decodable id whose clusterID contains the three markers takes RBD's migration path.
    let handle = format!("0001-000f-mig-image-mons--0000000000000001-{UUID}");
    assert!(decode(&handle).is_ok());
    assert!(matches!(classify(&handle), HandleFamily::BadMigration(_)));

    let handle = "mig_mons-3f1c0e2a_image-7a0d3c52-4f1e-11ee-9c1b-2b7e0d9a4c31_7265706c696361";
    let HandleFamily::Migration(parsed) = classify(handle) else {
        panic!("expected a migration handle");
    };
    assert_eq!(parsed.pool_name, "replica");
}

#[test]
fn errors_display_lowercase_without_period() {
    let handles = [
        "db-data-image".to_owned(),
        format!("{ROOK_CEPH}-app-consumer"),
        "0001-0011-rook-0000000000000001-e15d19b1-eff6-11f1-a2ab-5bdc59d6d857".to_owned(),
        format!("0001-ffff-{}", "x".repeat(54)),
    ];
    for handle in handles {
        let text = decode(&handle).unwrap_err().to_string();
        assert!(text.starts_with(|c: char| c.is_lowercase()), "{text}");
        assert!(!text.ends_with('.'), "{text}");
    }
}

#[test]
fn errors_serialize_with_their_kind() {
    let error = decode("db-data-image").unwrap_err();
    assert_eq!(
        serde_json::to_value(&error).unwrap(),
        serde_json::json!({"kind": "underflow"})
    );
    let family = serde_json::to_value(classify(ROOK_CEPH)).unwrap();
    assert_eq!(family["family"], "v1");
    assert_eq!(family["detail"]["location_id"], 1);
}
