//! Property tests: `decode` equals the reference formula everywhere, and ids round-trip.

use proptest::prelude::*;

use super::super::*;
use super::{reference, Outcome};

fn outcome(handle: &str) -> Outcome {
    decode(handle).map_err(|error| error.kind().clone())
}

/// Cuts `text` to at most `max` bytes, at a character boundary.
fn cut(mut text: String, max: usize) -> String {
    while text.len() > max {
        text.pop();
    }
    text
}

/// Valid ids: clusterIDs of 0 to 64 bytes with dashes and non-ASCII, any 36-byte uuid.
fn valid_id() -> impl Strategy<Value = CsiId> {
    let cluster = "[a-z0-9é☃𝄞-]{0,64}".prop_map(|s| cut(s, 64));
    let uuid = "[0-9a-fé-]{0,36}".prop_map(|s| {
        let uuid = cut(s, 36);
        let pad = "0".repeat(36 - uuid.len());
        format!("{uuid}{pad}")
    });
    (1..=u16::MAX, cluster, any::<i64>(), uuid).prop_map(|(version, cluster, location, uuid)| {
        CsiId {
            encoding_version: version,
            cluster_id: cluster,
            location_id: location,
            object_uuid: uuid,
        }
    })
}

/// Four hex digits, sometimes with a stray character that may be multi-byte.
fn hex4() -> impl Strategy<Value = String> {
    prop_oneof![8 => "[0-9a-fA-F]{4}", 1 => "[0-9a-fA-FxGé -]{4}"]
}

/// A separator: mostly a dash, sometimes any character.
fn separator() -> impl Strategy<Value = String> {
    prop_oneof![6 => Just("-".to_owned()), 1 => any::<char>().prop_map(String::from)]
}

/// The clusterID length field: right, off by a little, or one of the wrapping values.
fn length_field(cluster_bytes: usize) -> impl Strategy<Value = String> {
    let near = (-2i64..=2).prop_map(move |delta| (cluster_bytes as i64 + delta).max(0) as u16);
    let special = prop_oneof![Just(0xffffu16), 0xfff6u16..=0xfffe, any::<u16>()];
    let value = prop_oneof![8 => Just(cluster_bytes as u16), 3 => near, 1 => special];
    (value, any::<bool>()).prop_map(|(value, upper)| {
        if upper {
            format!("{value:04X}")
        } else {
            format!("{value:04x}")
        }
    })
}

/// Padding that makes the handle 65536 bytes longer, or a little more or less, or nothing.
fn padding() -> impl Strategy<Value = String> {
    let fill = prop_oneof![Just('z'), Just('é'), Just('-')];
    let extra = prop_oneof![Just(0usize), 65530usize..=65542];
    prop_oneof![6 => Just(String::new()), 1 => (fill, extra).prop_map(|(fill, extra)| {
        let mut text: String = std::iter::repeat_n(fill, extra / fill.len_utf8()).collect();
        text.extend(std::iter::repeat_n('z', extra % fill.len_utf8()));
        text
    })]
}

/// Handles built around the fixed positions of the format, so that every path is reached.
fn positional() -> impl Strategy<Value = String> {
    // Some clusterIDs pass the 64 bytes `encode` allows, which `decode` does not check.
    let cluster =
        prop_oneof![6 => "[a-z0-9é☃-]{0,20}", 1 => "[a-z0-9-]{60,70}", 1 => "[é☃]{20,25}"];
    cluster
        .prop_flat_map(|cluster| {
            let seps = [separator(), separator(), separator(), separator()];
            let location =
                prop_oneof![8 => "[0-9a-fA-F]{16}", 1 => "[0-9a-f-]{16}", 1 => "[0-9a-fé]{15}"];
            let uuid = prop_oneof![8 => "[0-9a-f-]{36}", 1 => "[0-9a-f-]{30,42}"];
            let len = length_field(cluster.len());
            (hex4(), len, Just(cluster), location, uuid, seps, padding())
        })
        .prop_map(
            |(version, len, cluster, location, uuid, [s1, s2, s3, s4], pad)| {
                format!("{version}{s1}{len}{s2}{cluster}{s3}{location}{s4}{uuid}{pad}")
            },
        )
}

/// Long strings of 65536 bytes and more, mostly junk.
fn long_handle() -> impl Strategy<Value = String> {
    (".{0,80}", 65400usize..=131_200, any::<char>()).prop_map(|(head, len, fill)| {
        let mut text = head;
        while text.len() < len {
            text.push(fill);
        }
        text
    })
}

/// Lowercases the hex fields and writes version 0 as 1, which is what `encode` normalises.
fn normalised(handle: &str, cluster_bytes: usize) -> String {
    let mut bytes = handle.as_bytes().to_vec();
    let location = cluster_bytes + 11..cluster_bytes + 27;
    for range in [0..4, 5..9, location] {
        bytes[range].make_ascii_lowercase();
    }
    if &bytes[0..4] == b"0000" {
        bytes[3] = b'1';
    }
    String::from_utf8(bytes).expect("lowercasing ASCII keeps UTF-8")
}

proptest! {
    #[test]
    fn encoded_ids_decode_to_themselves(id in valid_id()) {
        let handle = encode(&id).unwrap();
        prop_assert!(handle.len() <= 128);
        prop_assert_eq!(decode(&handle).unwrap(), id);
    }

    #[test]
    fn version_zero_encodes_as_one(id in valid_id()) {
        let handle = encode(&CsiId { encoding_version: 0, ..id.clone() }).unwrap();
        prop_assert_eq!(decode(&handle).unwrap(), CsiId { encoding_version: 1, ..id });
    }

    #[test]
    fn decode_matches_reference_on_positional_handles(handle in positional()) {
        prop_assert_eq!(outcome(&handle), reference(handle.as_bytes()));
    }

    #[test]
    fn decode_matches_reference_on_arbitrary_strings(handle in any::<String>()) {
        prop_assert_eq!(outcome(&handle), reference(handle.as_bytes()));
    }

    #[test]
    fn decode_matches_reference_on_ascii_strings(handle in "[0-9a-fA-Fx-]{60,140}") {
        prop_assert_eq!(outcome(&handle), reference(handle.as_bytes()));
    }

    #[test]
    fn classify_agrees_with_decode(handle in positional()) {
        let is_v1 = matches!(classify(&handle), HandleFamily::V1(_));
        prop_assert_eq!(is_v1, !is_migration_handle(&handle) && decode(&handle).is_ok());
    }

    #[test]
    fn accepted_dash_handles_encode_back(handle in positional()) {
        let Ok(id) = decode(&handle) else { return Ok(()) };
        // The length field, not the decoded clusterID, which may have lost bytes.
        let c = usize::from_str_radix(&handle[5..9], 16).unwrap();
        let dashes = [4, 9, c + 10, c + 27].iter().all(|&i| handle.as_bytes()[i] == b'-');
        prop_assume!(handle.len() < 65536 && dashes);

        // Dashes sit on character boundaries, so the clusterID was read without loss.
        match encode(&id) {
            Ok(encoded) => prop_assert_eq!(encoded, normalised(&handle, c)),
            Err(error) => {
                prop_assert!(c > 64);
                prop_assert_eq!(error, EncodeError::LengthOverflow { cluster_id_bytes: c });
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn decode_matches_reference_on_long_strings(handle in long_handle()) {
        prop_assert_eq!(outcome(&handle), reference(handle.as_bytes()));
        let _ = classify(&handle);
    }

    #[test]
    fn long_ids_decode_from_their_first_bytes(id in valid_id(), fill in any::<char>()) {
        let handle = encode(&id).unwrap();
        let mut long = handle.clone();
        while long.len() + fill.len_utf8() <= handle.len() + 65536 {
            long.push(fill);
        }
        while long.len() < handle.len() + 65536 {
            long.push('z');
        }
        prop_assert_eq!(decode(&long).unwrap(), id);
    }
}
