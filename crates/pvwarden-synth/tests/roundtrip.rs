//! Synthetic clusters read back through the manifest reader.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

use pvwarden_domain::object::Object;
use pvwarden_manifest::Reader;
use pvwarden_synth::{Config, Format, Layout};

fn generate(format: Format, layout: Layout, seed: u64) -> Vec<u8> {
    let config = Config {
        pvs: 300,
        format,
        layout,
        seed,
    };
    let mut out = Vec::new();
    pvwarden_synth::write(&config, &mut out).unwrap();
    out
}

#[test]
fn every_format_and_layout_reads_back_without_errors() {
    for format in [Format::Yaml, Format::Json] {
        for layout in [Layout::List, Layout::Stream] {
            let bytes = generate(format, layout, 42);
            let mut pvs = 0;
            let mut errors = Vec::new();
            let summary = Reader::new().read_bytes("synth", &bytes[..], &mut |item| match item {
                Ok(located) => {
                    pvs += u64::from(matches!(located.object, Object::PersistentVolume(_)))
                }
                Err(err) => errors.push(err.to_string()),
            });
            assert!(errors.is_empty(), "{format:?} {layout:?}: {errors:?}");
            assert_eq!(pvs, 300, "{format:?} {layout:?}");
            assert!(
                summary.objects > 300 + 8,
                "{format:?} {layout:?}: {summary:?}"
            );
            assert!(summary.skipped.is_empty());
        }
    }
}

#[test]
fn same_seed_writes_same_bytes() {
    let a = generate(Format::Yaml, Layout::List, 7);
    assert_eq!(a, generate(Format::Yaml, Layout::List, 7));
    assert_ne!(a, generate(Format::Yaml, Layout::List, 8));
}

#[test]
fn mix_holds_static_shares_and_terminating_volumes() {
    let text = String::from_utf8(generate(Format::Yaml, Layout::Stream, 3)).unwrap();
    assert!(text.contains("staticVolume: \"true\""));
    assert!(text.contains("rootPath: /volumes/shares/share-"));
    assert!(text.contains("deletionTimestamp:"));
    assert!(text.contains("phase: Released"));
    assert!(text.contains("volumeHandle: 0001-0024-5b3c9c1e-"));
}
