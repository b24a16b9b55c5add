//! Fuzzes `volid::classify` and checks what every accepted handle must satisfy.
//!
//! Inputs that are not UTF-8 are made so with a lossy conversion, since a `volumeHandle`
//! read from the API server is always a string; this keeps every input useful.

#![no_main]

use libfuzzer_sys::fuzz_target;
use pvwarden_domain::volid::{self, CsiId, HandleFamily};

fuzz_target!(|data: &[u8]| {
    let handle = String::from_utf8_lossy(data);
    let family = volid::classify(&handle);

    // `classify` must agree with the functions it is built from.
    let decoded = volid::decode(&handle);
    let is_migration = volid::is_migration_handle(&handle);
    assert_eq!(
        matches!(family, HandleFamily::V1(_)),
        !is_migration && decoded.is_ok()
    );
    let _ = volid::parse_migration(&handle);

    if let Ok(id) = decoded {
        check_round_trip(&handle, &id);
    }
});

/// Checks that an accepted handle re-encodes to an id that decodes to the same fields.
fn check_round_trip(handle: &str, id: &CsiId) {
    let Ok(encoded) = volid::encode(id) else {
        // Only clusterIDs over 64 bytes, or fields that lost bytes to the lossy
        // conversion, cannot be encoded again.
        assert!(id.cluster_id.len() > 64 || id.object_uuid.len() != 36);
        return;
    };
    let again = volid::decode(&encoded).expect("an encoded id must decode");
    let version = if id.encoding_version == 0 {
        1
    } else {
        id.encoding_version
    };
    assert_eq!(
        again,
        CsiId {
            encoding_version: version,
            ..id.clone()
        }
    );

    // With dash separators and no trailing bytes, the handle comes back up to hex case.
    let bytes = handle.as_bytes();
    let c = id.cluster_id.len();
    let exact = bytes.len() == c + 64;
    if exact
        && [4, 9, c + 10, c + 27].iter().all(|&i| bytes[i] == b'-')
        && version == id.encoding_version
    {
        assert!(
            encoded.eq_ignore_ascii_case(handle),
            "{encoded} != {handle}"
        );
    }
}
