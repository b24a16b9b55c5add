//! `pvwarden decode`: ceph-csi handles decoded as ceph-csi does, one JSON line each.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::common::{pvwarden, Run};

const GOOD: &str = "0001-0009-rook-ceph-0000000000000001-53f8e5d7-eff5-11f1-828d-136dfc58b12e";

fn lines(run: &Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn keys(line: &Value) -> BTreeSet<&str> {
    line.as_object()
        .expect("each line is an object")
        .keys()
        .map(String::as_str)
        .collect()
}

#[test]
fn decodable_handle_gives_its_fields() {
    let run = pvwarden(["decode", GOOD]).run();
    run.assert_code(0);
    let lines = lines(&run);
    assert_eq!(lines.len(), 1);
    let line = &lines[0];
    let expected = [
        "cluster_id",
        "encoding_version",
        "input",
        "location_id",
        "object_uuid",
        "ok",
    ];
    assert_eq!(keys(line), BTreeSet::from(expected));
    assert_eq!(line["input"], GOOD);
    assert_eq!(line["ok"], true);
    assert_eq!(line["encoding_version"], 1);
    assert_eq!(line["cluster_id"], "rook-ceph");
    assert_eq!(line["location_id"], 1);
    assert_eq!(line["object_uuid"], "53f8e5d7-eff5-11f1-828d-136dfc58b12e");
}

/// The Rook share recipe appends the namespace to the handle: one byte too many.
#[test]
fn suffixed_handle_is_a_size_mismatch() {
    let handle = format!("{GOOD}-app-consumer");
    let run = pvwarden(["decode", &handle]).run();
    run.assert_code(1);
    let line = &lines(&run)[0];
    assert_eq!(keys(line), BTreeSet::from(["error", "input", "ok"]));
    assert_eq!(line["input"], handle.as_str());
    assert_eq!(line["ok"], false);
    assert_eq!(
        line["error"],
        "failed to decode CSI identifier, string size mismatch"
    );
}

#[test]
fn short_handle_is_an_underflow() {
    let run = pvwarden(["decode", "db-data-image"]).run();
    run.assert_code(1);
    let line = &lines(&run)[0];
    assert_eq!(keys(line), BTreeSet::from(["error", "input", "ok"]));
    assert_eq!(line["ok"], false);
    assert_eq!(
        line["error"],
        "failed to decode CSI identifier, string underflow"
    );
}

#[test]
fn one_line_per_argument_in_order() {
    let run = pvwarden(["decode", GOOD, "db-data-image", GOOD]).run();
    run.assert_code(1);
    let oks: Vec<bool> = lines(&run).iter().map(|l| l["ok"] == true).collect();
    assert_eq!(oks, [true, false, true]);
}

#[test]
fn all_decodable_exits_zero() {
    let other = "0001-0004-ceph-0000000000000002-6f1c2d3e-4a5b-11ef-9c1d-0242ac120002";
    let run = pvwarden(["decode", GOOD, other]).run();
    run.assert_code(0);
    assert_eq!(lines(&run)[1]["location_id"], 2);
}

#[test]
fn standard_input_gives_one_line_per_handle() {
    let stdin = format!("{GOOD}\r\ndb-data-image\n{GOOD}-app-consumer\n");
    let run = pvwarden(["decode"]).stdin(stdin).run();
    run.assert_code(1);
    let lines = lines(&run);
    let inputs: Vec<&str> = lines.iter().filter_map(|l| l["input"].as_str()).collect();
    let suffixed = format!("{GOOD}-app-consumer");
    assert_eq!(inputs, [GOOD, "db-data-image", suffixed.as_str()]);
    assert_eq!(
        lines[0]["ok"], true,
        "a CRLF line ending is not part of the handle"
    );
    assert_eq!(
        lines[2]["error"],
        "failed to decode CSI identifier, string size mismatch"
    );
}

#[test]
fn standard_input_all_decodable_exits_zero() {
    let run = pvwarden(["decode"]).stdin(format!("{GOOD}\n")).run();
    run.assert_code(0);
    assert_eq!(lines(&run).len(), 1);
}
