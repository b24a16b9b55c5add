//! `parse-floor FILE`: parses a `kind: List` into k8s-openapi types and prints the count.
//!
//! This is the floor the audit is measured against: the most direct serde
//! path from the file's bytes to typed objects, with nothing else. Items are
//! deserialized one at a time from a streaming reader and dropped, with no
//! origins, no error recovery and no kind table beyond the four kinds the
//! synthetic cluster holds. JSON goes through `serde_json::from_reader`, YAML
//! through `serde_saphyr::from_reader`; both are off-the-shelf paths, and
//! neither builds the document as a tree.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::process::ExitCode;

use k8s_openapi::api::core::v1::{PersistentVolume, PersistentVolumeClaim};
use k8s_openapi::api::storage::v1::{CSIDriver, StorageClass};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer};

/// The number of items of a list, each parsed into its type on the way.
struct ListCount(u64);

impl<'de> Deserialize<'de> for ListCount {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_map(ListVisitor)
    }
}

struct ListVisitor;

impl<'de> Visitor<'de> for ListVisitor {
    type Value = ListCount;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a kind: List")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ListCount, A::Error> {
        let mut count = 0;
        while let Some(key) = map.next_key::<String>()? {
            if key == "items" {
                count = map.next_value::<ItemsCount>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(ListCount(count))
    }
}

struct ItemsCount(u64);

impl<'de> Deserialize<'de> for ItemsCount {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct Items;
        impl<'de> Visitor<'de> for Items {
            type Value = ItemsCount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a sequence of objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ItemsCount, A::Error> {
                let mut count = 0;
                while seq.next_element::<Item>()?.is_some() {
                    count += 1;
                }
                Ok(ItemsCount(count))
            }
        }
        de.deserialize_seq(Items)
    }
}

/// One item, parsed into the type its leading `apiVersion` and `kind` name, then dropped.
struct Item;

impl<'de> Deserialize<'de> for Item {
    fn deserialize<D: Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        de.deserialize_map(ItemVisitor)
    }
}

struct ItemVisitor;

impl<'de> Visitor<'de> for ItemVisitor {
    type Value = Item;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object starting with apiVersion and kind")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Item, A::Error> {
        let mut kind = None;
        // The synthetic cluster prints keys sorted: `apiVersion` and `kind` come
        // before `metadata`, except for a StorageClass's `allowVolumeExpansion`.
        while kind.is_none() {
            match map.next_key::<String>()?.as_deref() {
                Some("kind") => kind = Some(map.next_value::<String>()?),
                Some(_) => {
                    map.next_value::<IgnoredAny>()?;
                }
                None => return Err(de::Error::missing_field("kind")),
            }
        }
        let rest = MapAccessDeserializer::new(map);
        match kind.as_deref() {
            Some("PersistentVolume") => drop(PersistentVolume::deserialize(rest)?),
            Some("PersistentVolumeClaim") => drop(PersistentVolumeClaim::deserialize(rest)?),
            Some("StorageClass") => drop(StorageClass::deserialize(rest)?),
            Some("CSIDriver") => drop(CSIDriver::deserialize(rest)?),
            _ => drop(IgnoredAny::deserialize(rest)?),
        }
        Ok(Item)
    }
}

fn main() -> ExitCode {
    let Some(path) = std::env::args_os().nth(1) else {
        eprintln!("usage: parse-floor FILE");
        return ExitCode::from(2);
    };
    let file = match File::open(&path) {
        Ok(file) => file,
        Err(err) => {
            eprintln!("parse-floor: {}: {err}", path.to_string_lossy());
            return ExitCode::from(2);
        }
    };
    let json = path.to_string_lossy().ends_with(".json");
    let count = if json {
        serde_json::from_reader::<_, ListCount>(BufReader::new(file)).map_err(|e| e.to_string())
    } else {
        // The defaults bound a document to a million events and 256 MiB; a
        // List of 100,000 volumes is one document far above both.
        let options = serde_saphyr::options! {
            budget: serde_saphyr::budget! {
                max_reader_input_bytes: None,
                max_events: usize::MAX,
                max_nodes: usize::MAX,
                max_total_scalar_bytes: usize::MAX,
            },
        };
        serde_saphyr::from_reader_with_options::<_, ListCount>(BufReader::new(file), options)
            .map_err(|e| e.to_string())
    };
    match count {
        Ok(ListCount(count)) => {
            println!("{count}");
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("parse-floor: {err}");
            ExitCode::FAILURE
        }
    }
}
