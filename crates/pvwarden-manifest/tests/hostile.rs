//! Input that must give errors, not panics or unbounded memory.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use common::{read, read_with};
use pvwarden_manifest::{Error, Reader};

#[test]
fn empty_and_blank_files_are_errors() {
    assert_eq!(
        read("empty.yaml", "").messages(),
        vec!["empty.yaml is empty"]
    );
    assert_eq!(
        read("blank.yaml", " \n\t\n").messages(),
        vec!["blank.yaml is empty"]
    );
    // Comments alone are a valid, empty YAML stream.
    let comments = read("comments.yaml", "# nothing here\n---\n");
    assert!(comments.errors.is_empty());
    assert_eq!(comments.summary.documents, 0);
}

#[test]
fn binary_files_are_errors() {
    let read = read("blob.yaml", b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03");
    assert_eq!(
        read.messages(),
        vec!["blob.yaml looks like a binary file, not YAML or JSON"]
    );
}

#[test]
fn invalid_utf8_is_reported_with_its_line() {
    let mut text = b"apiVersion: v1\nkind: Node\nmetadata:\n  name: n\xff\xfe\n---\n".to_vec();
    text.extend_from_slice(b"apiVersion: v1\nkind: Node\nmetadata:\n  name: ok\n");
    let read = read("latin1.yaml", text);
    let messages = read.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(
        messages[0].starts_with("invalid UTF-8 at latin1.yaml:4:"),
        "{messages:?}"
    );
    assert_eq!(read.objects(), vec![("Node", "ok".into(), 6)]);
}

#[test]
fn invalid_utf8_in_json_strings_is_reported() {
    let read = read(
        "bad.json",
        b"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"\xff\"}}",
    );
    assert_eq!(read.errors.len(), 1, "{:?}", read.messages());
    assert!(read.objects.is_empty());
}

#[test]
fn alias_bomb_hits_the_expansion_limit() {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\ndata:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..12 {
        let prev = i - 1;
        text.push_str(&format!(
            "  a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, \
             *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
        ));
    }
    text.push_str("---\napiVersion: v1\nkind: Node\nmetadata:\n  name: after\n");
    let read = read("bomb.yaml", text);
    let messages = read.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].contains("exceeds the limit of"), "{messages:?}");
    assert!(matches!(read.errors[0], Error::Limit { .. }));
    assert_eq!(read.objects(), vec![("Node", "after".into(), 17)]);
}

#[test]
fn deep_yaml_nesting_is_an_error() {
    let deep = format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: n\nspec: {}{}\n",
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    let read = read("deep.yaml", deep);
    assert_eq!(read.errors.len(), 1, "{:?}", read.messages());
    assert!(read.objects.is_empty());
}

#[test]
fn deep_yaml_nesting_in_a_known_field_is_an_error() {
    let mut text = String::from(
        "apiVersion: v1\nkind: ConfigMap\n---\n\
         apiVersion: v1\nkind: Node\nmetadata:\n  name: n\n  annotations:\n",
    );
    // Block mappings nest by indentation, below the parser's own flow limit.
    for depth in 0..200 {
        text.push_str(&" ".repeat(4 + depth * 2));
        text.push_str("a:\n");
    }
    let read = read("deep-block.yaml", text);
    assert_eq!(read.errors.len(), 1, "{:?}", read.messages());
    assert_eq!(read.summary.skipped.get("ConfigMap"), Some(&1));
}

#[test]
fn deep_json_nesting_is_an_error() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let read = read("deep.json", deep);
    assert_eq!(
        read.messages(),
        vec!["nesting depth at deep.json:1:130 exceeds the limit of 128"]
    );
}

#[test]
fn oversized_json_objects_are_skipped() {
    let big = format!(
        "[{{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{{\"name\":\"{}\"}}}},\n\
         {{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{{\"name\":\"small\"}}}}]",
        "x".repeat(10_000)
    );
    let read = read_with(Reader::new().max_object_bytes(4096), "big.json", big);
    assert_eq!(
        read.messages(),
        vec!["object size at big.json:1 exceeds the limit of 4096"]
    );
    assert_eq!(read.objects(), vec![("Node", "small".into(), 2)]);
}

#[test]
fn random_bytes_never_panic() {
    // A fixed pseudo-random sequence, so that a failure can be replayed.
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let alphabet = b"{}[]:,-\"' \n\t#&*!|>?%@`abc012.";
    for round in 0..400 {
        let mut text = Vec::new();
        for _ in 0..(round % 97 + 1) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            text.push(alphabet[(state % alphabet.len() as u64) as usize]);
        }
        let name = if round % 2 == 0 { "r.yaml" } else { "r.json" };
        let _ = read(name, &text);
    }
}

#[test]
fn directories_are_read_recursively_in_name_order() {
    let root = std::env::temp_dir().join(format!("pvwarden-manifest-dir-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    std::fs::create_dir_all(root.join("b")).unwrap();
    std::fs::create_dir_all(root.join(".hidden")).unwrap();
    let node = |name: &str| format!("apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n");
    std::fs::write(root.join("b/2.yaml"), node("two")).unwrap();
    std::fs::write(root.join("a.yml"), node("one")).unwrap();
    std::fs::write(
        root.join("c.json"),
        r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":"three"}}"#,
    )
    .unwrap();
    std::fs::write(root.join("notes.txt"), "not a manifest").unwrap();
    std::fs::write(root.join(".hidden/x.yaml"), node("hidden")).unwrap();

    let mut names = Vec::new();
    let mut errors = Vec::new();
    let missing = root.join("missing.yaml");
    let summary = Reader::new().read_paths(&[root.clone(), missing], &mut |item| match item {
        Ok(located) => names.push((
            common::name(&located.object),
            located.origin.file.to_string(),
        )),
        Err(err) => errors.push(err.to_string()),
    });
    assert_eq!(
        names.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        vec!["one", "two", "three"]
    );
    assert!(names[1].1.ends_with("b/2.yaml"), "{names:?}");
    assert_eq!(errors.len(), 1);
    assert!(errors[0].starts_with("failed to open "), "{errors:?}");
    assert_eq!(summary.objects, 3);
    std::fs::remove_dir_all(&root).unwrap();
}
