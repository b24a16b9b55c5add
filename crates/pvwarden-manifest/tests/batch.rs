//! Reading JSON in parallel batches: order, errors in place, and the hook run once per item.
//!
//! A batch holds at most 256 objects, so inputs of a few thousand small
//! objects cross many batch boundaries; errors are put on both sides of one.

#![allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread::ThreadId;

use common::{read, read_with};
use pvwarden_domain::object::{Located, Object};
use pvwarden_manifest::{Error, Reader};

/// A Node named `n{i}`, on one line.
fn node(i: usize) -> String {
    format!(r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"n{i}"}}}}"#)
}

/// A `kind: List` whose item `i` is on line `i + 2`.
fn list(items: &[String]) -> String {
    format!(
        "{{\"apiVersion\": \"v1\", \"kind\": \"List\", \"items\": [\n{}\n]}}\n",
        items.join(",\n")
    )
}

#[test]
fn order_is_kept_across_batch_boundaries() {
    // Every seventh item is of a kind the model does not use, and is only counted.
    let items: Vec<String> = (0..2_000)
        .map(|i| match i % 7 {
            3 => {
                format!(r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"c{i}"}}}}"#)
            }
            _ => node(i),
        })
        .collect();
    let expected: Vec<_> = (0..2_000)
        .filter(|i| i % 7 != 3)
        .map(|i| ("Node", format!("n{i}"), i as u32 + 2))
        .collect();

    let listed = read("list.json", list(&items));
    assert!(listed.errors.is_empty(), "{:?}", listed.messages());
    assert_eq!(listed.objects(), expected);
    assert_eq!(listed.summary.objects, expected.len() as u64);
    assert_eq!(listed.summary.skipped.get("ConfigMap"), Some(&286));
    assert_eq!(listed.summary.documents, 1);

    // The same objects as NDJSON, one value per line, are cut the same way.
    let streamed = read("stream.ndjson", format!("\n{}\n", items.join("\n")));
    assert_eq!(streamed.objects(), expected);
    assert_eq!(streamed.summary.documents, 2_000);
}

#[test]
fn errors_in_the_middle_of_batches_keep_their_place() {
    let mut items: Vec<String> = (0..2_000).map(node).collect();
    items[3] = r#""a string""#.into();
    items[255] = r#"{"apiVersion":"v1","kind":"Node","metadata":{"name":5}}"#.into();
    items[256] = format!(
        r#"{{"apiVersion":"v1","kind":"Node","metadata":{{"name":"{}"}}}}"#,
        "x".repeat(300)
    );
    items[1_500] = r#"{"metadata":{"name":"kindless"}}"#.into();

    let read = read_with(Reader::new().max_object_bytes(200), "e.json", list(&items));
    let bad = [
        (
            3,
            "expected a Kubernetes object at e.json:5:1, found a string",
        ),
        (
            255,
            "failed to decode Node at e.json:257:53 in field metadata.name",
        ),
        (256, "object size at e.json:258 exceeds the limit of 200"),
        (1_500, "object at e.json:1502:1 has no kind"),
    ];
    assert_eq!(read.events.len(), 2_000, "reading goes on after each error");
    for (i, event) in read.events.iter().enumerate() {
        match bad.iter().find(|(at, _)| *at == i) {
            Some((_, message)) => assert_eq!(event, &format!("error {message}"), "item {i}"),
            None => assert_eq!(event, &format!("object Node/n{i}@{}", i + 2), "item {i}"),
        }
    }
    assert_eq!(read.summary.errors, 4);
    assert_eq!(read.summary.objects, 1_996);
}

#[test]
fn a_cut_file_hands_on_every_object_before_the_cut() {
    let items: Vec<String> = (0..1_300).map(node).collect();
    let mut text = list(&items);
    // Cut inside item 1,200, in the third batch.
    let cut = text.find(r#""n1200""#).unwrap();
    text.truncate(cut);

    let read = read("cut.json", text);
    let expected: Vec<_> = (0..1_200)
        .map(|i| ("Node", format!("n{i}"), i as u32 + 2))
        .collect();
    assert_eq!(read.objects(), expected);
    assert_eq!(read.events.len(), 1_201);
    assert_eq!(
        read.events.last().unwrap(),
        "error invalid JSON at cut.json:1202:53"
    );
}

#[test]
fn list_kind_after_many_kindless_items_types_them_all() {
    let items: Vec<String> = (0..1_200)
        .map(|i| format!(r#"{{"metadata":{{"name":"n{i}"}}}}"#))
        .collect();
    let text = format!(
        "{{\"apiVersion\": \"v1\", \"items\": [\n{}\n], \"kind\": \"NodeList\"}}\n",
        items.join(",\n")
    );
    let expected: Vec<_> = (0..1_200)
        .map(|i| ("Node", format!("n{i}"), i as u32 + 2))
        .collect();

    // From a byte stream, which is buffered to find the kind ...
    let read = read("nodes.json", &text);
    assert!(read.errors.is_empty(), "{:?}", read.messages());
    assert_eq!(read.objects(), expected);

    // ... and from a file, which is read a second time for it.
    let path = std::env::temp_dir().join(format!("pvwarden-batch-{}.json", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let mut names = Vec::new();
    let summary = Reader::new().read_paths(std::slice::from_ref(&path), &mut |item| {
        names.push(common::name(&item.unwrap().object));
    });
    std::fs::remove_file(&path).unwrap();
    assert_eq!(summary.objects, 1_200);
    assert_eq!(
        names,
        expected
            .into_iter()
            .map(|(_, name, _)| name)
            .collect::<Vec<_>>()
    );
}

#[test]
fn map_runs_once_per_item_and_sink_gets_results_in_order() {
    let mut items: Vec<String> = (0..3_000).map(node).collect();
    items[700] = "17".into();
    let text = list(&items);

    let calls = AtomicUsize::new(0);
    let threads = Mutex::new(Vec::<ThreadId>::new());
    let map = |item: Result<Located<Object>, Error>| {
        calls.fetch_add(1, Ordering::Relaxed);
        threads.lock().unwrap().push(std::thread::current().id());
        match item {
            Ok(located) => format!("{}@{}", common::name(&located.object), located.origin.line),
            Err(err) => err.to_string(),
        }
    };
    let mut mapped = Vec::new();
    let summary = Reader::new().read_bytes_map("m.json", text.as_bytes(), &map, &mut |item| {
        mapped.push(item)
    });

    assert_eq!(calls.load(Ordering::Relaxed), 3_000);
    assert_eq!(mapped.len(), 3_000);
    assert_eq!((summary.objects, summary.errors), (2_999, 1));
    for (i, item) in mapped.iter().enumerate() {
        let want = match i {
            700 => "expected a Kubernetes object at m.json:702:1, found a scalar".to_owned(),
            _ => format!("n{i}@{}", i + 2),
        };
        assert_eq!(item, &want);
    }
    // Batches are mapped on rayon's pool, not on the thread that reads.
    let here = std::thread::current().id();
    assert!(threads.lock().unwrap().iter().any(|id| *id != here));
}

#[test]
fn yaml_items_are_mapped_once_each_on_the_calling_thread() {
    let text = "apiVersion: v1\nkind: List\nitems:\n\
                - apiVersion: v1\n  kind: Node\n  metadata:\n    name: a\n\
                - 3\n\
                - apiVersion: v1\n  kind: Node\n  metadata:\n    name: b\n";
    let here = std::thread::current().id();
    let calls = AtomicUsize::new(0);
    let map = |item: Result<Located<Object>, Error>| {
        calls.fetch_add(1, Ordering::Relaxed);
        assert_eq!(std::thread::current().id(), here);
        item.is_ok()
    };
    let mut mapped = Vec::new();
    Reader::new().read_bytes_map("l.yaml", text.as_bytes(), &map, &mut |ok| mapped.push(ok));
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(mapped, vec![true, false, true]);
}
