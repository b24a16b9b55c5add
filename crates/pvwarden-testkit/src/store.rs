//! The in-memory object store: one table per kind, one global resource version.
//!
//! Objects are kept as `serde_json::Value`, keyed by namespace and name. Every
//! write takes the next value of a global counter as its `resourceVersion`
//! and appends an [`Event`] to its table's bounded history; watchers get
//! events from a broadcast channel. The history also serves lists at an old
//! resource version (continue tokens, `resourceVersionMatch=Exact`): the
//! snapshot is the current table with the newer events undone. Once an event
//! falls out of the history, versions before it are *compacted*, and lists,
//! continue tokens and watches that need them get `410 Expired`.
//!
//! All rules of the real registry that a client can observe live here:
//! system metadata, `generateName`, name validation, conflicts on stale
//! versions, status subresources, finalizers and `deletionTimestamp`.

pub(crate) mod meta;

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use base64::Engine as _;
use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::resource::{Kind, KINDS};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::{ApiError, Cause};

use self::meta::{finalizers, is_terminating, meta_mut, meta_str};

/// What happened to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    /// The watch event `type`.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change of one object.
#[derive(Debug)]
pub(crate) struct Event {
    pub kind: EventType,
    pub rv: u64,
    /// The object after the change (for a deletion, the last state).
    pub object: Arc<Value>,
    /// The object before the change, for updates and deletions.
    pub prev: Option<Arc<Value>>,
}

type Key = (String, String);

struct Table {
    objects: BTreeMap<Key, Arc<Value>>,
    history: VecDeque<Arc<Event>>,
    /// Every event with a version above this one is still in `history`.
    compacted: u64,
    sender: broadcast::Sender<Arc<Event>>,
}

struct State {
    rv: u64,
    tables: Vec<Table>,
}

/// The store; cheap to share behind an `Arc`.
pub(crate) struct Store {
    state: Mutex<State>,
    history: usize,
}

/// How a write is done.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct WriteOptions {
    /// `dryRun=All`: validate and answer, store nothing.
    pub dry_run: bool,
    /// A preload: keep status, finalizers and deletion state as given.
    pub preload: bool,
}

/// Preconditions of a DELETE, from its `DeleteOptions` body.
#[derive(Debug, Clone, Default)]
pub(crate) struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// Which resource version a list reads at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListAt {
    /// The latest state (no `resourceVersion`, or `0`).
    Latest,
    /// At least this version (`resourceVersionMatch=NotOlderThan` or unset).
    NotOlderThan(u64),
    /// Exactly this version (`resourceVersionMatch=Exact`).
    Exact(u64),
}

/// A LIST request, after parsing its query.
#[derive(Debug, Clone)]
pub(crate) struct ListQuery {
    pub at: ListAt,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub limit: Option<usize>,
    pub continue_token: Option<String>,
}

/// One page of a list.
#[derive(Debug)]
pub(crate) struct Page {
    pub items: Vec<Arc<Value>>,
    pub rv: u64,
    pub continue_token: Option<String>,
    pub remaining: Option<u64>,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WatchFrom {
    /// Synthetic `ADDED` events for the current objects, then changes.
    Current,
    /// Changes after this version.
    After(u64),
}

/// What a new watch gets: the objects or events to replay, then a live feed.
pub(crate) struct WatchStart {
    /// The resource version the watch starts at.
    pub rv: u64,
    pub initial: Vec<Arc<Value>>,
    pub backlog: Vec<Arc<Event>>,
    pub live: broadcast::Receiver<Arc<Event>>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Token {
    v: String,
    rv: u64,
    start: String,
}

const CONTINUE_EXPIRED: &str = "The provided continue parameter is too old to display a \
    consistent list result. You can start a new list without the continue parameter.";

impl Store {
    /// Creates an empty store that keeps `history` events per kind.
    pub(crate) fn new(history: usize) -> Store {
        let tables = KINDS
            .iter()
            .map(|_| Table {
                objects: BTreeMap::new(),
                history: VecDeque::new(),
                compacted: 0,
                sender: broadcast::channel(4096).0,
            })
            .collect();
        Store {
            state: Mutex::new(State { rv: 1, tables }),
            history: history.max(1),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a table half-written:
        // every write builds its new object first and then inserts it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The latest resource version.
    pub(crate) fn current_rv(&self) -> u64 {
        self.lock().rv
    }

    /// Drops every kind's history, so that all older versions are compacted.
    pub(crate) fn compact(&self) {
        let mut state = self.lock();
        let rv = state.rv;
        for table in &mut state.tables {
            table.history.clear();
            table.compacted = rv;
        }
    }

    /// Reads one object.
    pub(crate) fn get(
        &self,
        kind: &'static Kind,
        ns: &str,
        name: &str,
    ) -> Result<Arc<Value>, ApiError> {
        let state = self.lock();
        let table = &state.tables[index(kind)];
        table
            .objects
            .get(&(ns.to_owned(), name.to_owned()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))
    }

    /// Lists objects of a kind, in one namespace or all (`ns` empty).
    pub(crate) fn list(
        &self,
        kind: &'static Kind,
        ns: &str,
        query: &ListQuery,
    ) -> Result<Page, ApiError> {
        let state = self.lock();
        let table = &state.tables[index(kind)];
        let (rv, start) = match &query.continue_token {
            Some(token) => {
                let token = decode_token(token)?;
                if token.rv < table.compacted {
                    return Err(ApiError::expired(CONTINUE_EXPIRED));
                }
                (token.rv, Some(token.start))
            }
            None => match query.at {
                ListAt::Latest => (state.rv, None),
                ListAt::NotOlderThan(rv) if rv > state.rv => {
                    return Err(ApiError::too_large_resource_version(rv, state.rv));
                }
                ListAt::NotOlderThan(_) => (state.rv, None),
                ListAt::Exact(rv) if rv > state.rv => {
                    return Err(ApiError::too_large_resource_version(rv, state.rv));
                }
                ListAt::Exact(rv) if rv < table.compacted => {
                    return Err(ApiError::expired(
                        "The resourceVersion for the provided list is too old.",
                    ));
                }
                ListAt::Exact(rv) => (rv, None),
            },
        };
        let snapshot = snapshot(table, rv);
        // The token holds `ns/name`; compare as the (ns, name) pairs the table is
        // ordered by, or a namespace that prefixes another (`app`, `app-x`) would
        // make pages skip objects. Namespaces never contain a slash.
        let start: Option<Key> = start.map(|s| match s.split_once('/') {
            Some((ns, name)) => (ns.to_owned(), name.to_owned()),
            None => (String::new(), s),
        });
        let selected: Vec<(&Key, &Arc<Value>)> = snapshot
            .iter()
            .filter(|((ons, _), _)| ns.is_empty() || ons == ns)
            .filter(|(key, _)| start.as_ref().is_none_or(|s| *key > s))
            .filter(|(_, obj)| query.labels.matches(obj) && query.fields.matches(obj))
            .collect();
        let limit = query.limit.filter(|l| *l > 0).unwrap_or(usize::MAX);
        let more = selected.len() > limit;
        let taken: Vec<(&Key, &Arc<Value>)> = selected.iter().take(limit).copied().collect();
        let continue_token = match (more, taken.last()) {
            (true, Some((key, _))) => Some(encode_token(rv, &key_string(key))),
            _ => None,
        };
        let plain = query.labels.is_empty() && query.fields.is_empty();
        let remaining = (more && plain).then(|| (selected.len() - taken.len()) as u64);
        let items = taken.into_iter().map(|(_, obj)| Arc::clone(obj)).collect();
        Ok(Page {
            items,
            rv,
            continue_token,
            remaining,
        })
    }

    /// Creates an object from a request body.
    pub(crate) fn create(
        &self,
        kind: &'static Kind,
        ns: &str,
        mut body: Value,
        opts: WriteOptions,
    ) -> Result<Value, ApiError> {
        meta::check_type(kind, &mut body)?;
        let name = prepare_create_meta(kind, ns, &mut body, opts)?;
        let mut state = self.lock();
        if kind.namespaced {
            check_namespace(&state, kind, ns, &name, opts)?;
        }
        let key = (ns.to_owned(), name.clone());
        let table = &state.tables[index(kind)];
        if table.objects.contains_key(&key) {
            return Err(ApiError::already_exists(kind, &name));
        }
        meta::prepare_for_create(kind, &mut body, opts.preload);
        if opts.dry_run {
            return Ok(body);
        }
        let rv = next_rv(&mut state);
        set_rv(&mut body, rv);
        let object = Arc::new(body);
        let table = &mut state.tables[index(kind)];
        table.objects.insert(key, Arc::clone(&object));
        self.record(table, EventType::Added, rv, Arc::clone(&object), None);
        Ok((*object).clone())
    }

    /// Updates an object: `change` turns the current object into the requested one.
    ///
    /// The requested object then goes through the update rules: immutable
    /// metadata is kept, a stale `resourceVersion` is a conflict, the status
    /// (or, for a status update, everything else) is taken from the current
    /// object, no finalizer may be added during deletion, and an object whose
    /// deletion waits only for its last finalizer is removed.
    pub(crate) fn update(
        &self,
        kind: &'static Kind,
        ns: &str,
        name: &str,
        status_only: bool,
        opts: WriteOptions,
        change: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let key = (ns.to_owned(), name.to_owned());
        let old = state.tables[index(kind)]
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        let requested = change(&old)?;
        let Some(mut new) = prepare_update(kind, ns, name, &old, requested, status_only)? else {
            return Ok((*old).clone());
        };
        if opts.dry_run {
            return Ok(new);
        }
        let rv = next_rv(&mut state);
        set_rv(&mut new, rv);
        let object = Arc::new(new);
        let table = &mut state.tables[index(kind)];
        if is_terminating(&object) && finalizers(&object).is_empty() {
            table.objects.remove(&key);
            self.record(
                table,
                EventType::Deleted,
                rv,
                Arc::clone(&object),
                Some(old),
            );
        } else {
            table.objects.insert(key, Arc::clone(&object));
            self.record(
                table,
                EventType::Modified,
                rv,
                Arc::clone(&object),
                Some(old),
            );
        }
        Ok((*object).clone())
    }

    /// Deletes an object, or marks it for deletion while finalizers remain.
    pub(crate) fn delete(
        &self,
        kind: &'static Kind,
        ns: &str,
        name: &str,
        pre: &Preconditions,
        opts: WriteOptions,
    ) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let key = (ns.to_owned(), name.to_owned());
        let old = state.tables[index(kind)]
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| ApiError::not_found(kind, name))?;
        check_preconditions(kind, name, &old, pre)?;
        if is_terminating(&old) {
            return Ok((*old).clone());
        }
        let pending = !finalizers(&old).is_empty();
        let mut new = (*old).clone();
        if pending {
            let meta = meta_mut(&mut new)?;
            meta.insert("deletionTimestamp".into(), meta::now().into());
            meta.insert("deletionGracePeriodSeconds".into(), 0.into());
        }
        if opts.dry_run {
            return Ok(new);
        }
        let rv = next_rv(&mut state);
        set_rv(&mut new, rv);
        let object = Arc::new(new);
        let table = &mut state.tables[index(kind)];
        if pending {
            table.objects.insert(key, Arc::clone(&object));
            self.record(
                table,
                EventType::Modified,
                rv,
                Arc::clone(&object),
                Some(old),
            );
        } else {
            table.objects.remove(&key);
            self.record(
                table,
                EventType::Deleted,
                rv,
                Arc::clone(&object),
                Some(old),
            );
        }
        Ok((*object).clone())
    }

    /// Starts a watch on a kind.
    pub(crate) fn watch(
        &self,
        kind: &'static Kind,
        from: WatchFrom,
    ) -> Result<WatchStart, ApiError> {
        let state = self.lock();
        let table = &state.tables[index(kind)];
        let live = table.sender.subscribe();
        match from {
            WatchFrom::Current => Ok(WatchStart {
                rv: state.rv,
                initial: table.objects.values().cloned().collect(),
                backlog: Vec::new(),
                live,
            }),
            WatchFrom::After(rv) if rv < table.compacted => Err(ApiError::expired(format!(
                "too old resource version: {rv} ({})",
                table.compacted
            ))),
            WatchFrom::After(rv) => Ok(WatchStart {
                rv: state.rv,
                initial: Vec::new(),
                backlog: table
                    .history
                    .iter()
                    .filter(|e| e.rv > rv)
                    .cloned()
                    .collect(),
                live,
            }),
        }
    }

    fn record(
        &self,
        table: &mut Table,
        kind: EventType,
        rv: u64,
        object: Arc<Value>,
        prev: Option<Arc<Value>>,
    ) {
        let event = Arc::new(Event {
            kind,
            rv,
            object,
            prev,
        });
        table.history.push_back(Arc::clone(&event));
        while table.history.len() > self.history {
            if let Some(gone) = table.history.pop_front() {
                table.compacted = gone.rv;
            }
        }
        // No receivers is fine: nobody watches this kind right now.
        let _ = table.sender.send(event);
    }
}

fn index(kind: &'static Kind) -> usize {
    KINDS
        .iter()
        .position(|k| std::ptr::eq(k, kind))
        .unwrap_or(0)
}

fn next_rv(state: &mut State) -> u64 {
    state.rv += 1;
    state.rv
}

fn set_rv(object: &mut Value, rv: u64) {
    if let Ok(meta) = meta_mut(object) {
        meta.insert("resourceVersion".into(), rv.to_string().into());
    }
}

fn key_string((ns, name): &Key) -> String {
    format!("{ns}/{name}")
}

/// The table as it was at version `rv`: current objects with newer events undone.
///
/// Borrowed when nothing changed since `rv`, which is the common case while a
/// client pages through a list: copying the table for every page made long
/// lists quadratic.
fn snapshot(table: &Table, rv: u64) -> std::borrow::Cow<'_, BTreeMap<Key, Arc<Value>>> {
    if table.history.back().is_none_or(|e| e.rv <= rv) {
        return std::borrow::Cow::Borrowed(&table.objects);
    }
    let mut objects = table.objects.clone();
    for event in table.history.iter().rev().take_while(|e| e.rv > rv) {
        let key = object_key(&event.object);
        match (&event.kind, &event.prev) {
            (EventType::Added, _) => {
                objects.remove(&key);
            }
            (_, Some(prev)) => {
                objects.insert(key, Arc::clone(prev));
            }
            (_, None) => {}
        }
    }
    std::borrow::Cow::Owned(objects)
}

fn object_key(object: &Value) -> Key {
    (
        meta_str(object, "namespace").to_owned(),
        meta_str(object, "name").to_owned(),
    )
}

fn encode_token(rv: u64, start: &str) -> String {
    let token = Token {
        v: "meta.k8s.io/v1".to_owned(),
        rv,
        start: start.to_owned(),
    };
    let json = serde_json::to_vec(&token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_token(token: &str) -> Result<Token, ApiError> {
    let invalid = |why: &str| ApiError::bad_request(format!("invalid continue token: {why}"));
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token.trim_end_matches('='))
        .map_err(|e| invalid(&e.to_string()))?;
    let token: Token = serde_json::from_slice(&bytes).map_err(|e| invalid(&e.to_string()))?;
    if token.v != "meta.k8s.io/v1" {
        return Err(invalid("unexpected version"));
    }
    Ok(token)
}

/// Fills the system metadata of a new object and returns its name.
fn prepare_create_meta(
    kind: &'static Kind,
    ns: &str,
    body: &mut Value,
    opts: WriteOptions,
) -> Result<String, ApiError> {
    let meta = meta_mut(body)?;
    set_namespace(kind, ns, meta)?;
    let mut name = meta
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    let generate = meta
        .get("generateName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if name.is_empty() && !generate.is_empty() {
        name = format!("{generate}{}", meta::name_suffix());
        meta.insert("name".into(), name.clone().into());
    }
    if name.is_empty() {
        let cause = Cause {
            kind: "FieldValueRequired",
            field: "metadata.name".to_owned(),
            body: "Required value: name or generateName is required".to_owned(),
        };
        return Err(ApiError::invalid(kind, "", &[cause]));
    }
    let causes = meta::validate_name(kind, &name);
    if !causes.is_empty() {
        return Err(ApiError::invalid(kind, &name, &causes));
    }
    let has_rv = meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .is_some_and(|rv| !rv.is_empty());
    if has_rv && !opts.preload {
        return Err(ApiError::unknown(
            500,
            "resourceVersion should not be set on objects to be created",
        ));
    }
    meta.remove("resourceVersion");
    meta.remove("managedFields");
    meta.remove("selfLink");
    // A preload keeps the uid it names: claims and volumes refer to each other by uid.
    let keep_uid = opts.preload
        && meta
            .get("uid")
            .and_then(Value::as_str)
            .is_some_and(|u| !u.is_empty());
    if !keep_uid {
        meta.insert("uid".into(), meta::uid().into());
    }
    let keep_generation = opts.preload && meta.get("generation").is_some_and(Value::is_u64);
    if !keep_generation {
        meta.insert("generation".into(), 1.into());
    }
    let keep_time = opts.preload && meta.get("creationTimestamp").is_some_and(Value::is_string);
    if !keep_time {
        meta.insert("creationTimestamp".into(), meta::now().into());
    }
    if !opts.preload {
        meta.remove("deletionTimestamp");
        meta.remove("deletionGracePeriodSeconds");
    }
    Ok(name)
}

fn set_namespace(
    kind: &Kind,
    ns: &str,
    meta: &mut serde_json::Map<String, Value>,
) -> Result<(), ApiError> {
    if !kind.namespaced {
        meta.remove("namespace");
        return Ok(());
    }
    let given = meta.get("namespace").and_then(Value::as_str).unwrap_or("");
    if !given.is_empty() && given != ns {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    meta.insert("namespace".into(), ns.into());
    Ok(())
}

fn check_namespace(
    state: &State,
    kind: &Kind,
    ns: &str,
    name: &str,
    opts: WriteOptions,
) -> Result<(), ApiError> {
    let Some(namespaces) = Kind::find("", "v1", "namespaces") else {
        return Ok(());
    };
    let table = &state.tables[index(namespaces)];
    match table.objects.get(&(String::new(), ns.to_owned())) {
        None => Err(ApiError::namespace_not_found(ns)),
        Some(n) if is_terminating(n) && !opts.preload => {
            let why = format!(
                "unable to create new content in namespace {ns} because it is being terminated"
            );
            Err(ApiError::forbidden_by(kind, name, &why))
        }
        Some(_) => Ok(()),
    }
}

/// Applies the update rules; `None` when nothing would change.
fn prepare_update(
    kind: &'static Kind,
    ns: &str,
    name: &str,
    old: &Value,
    mut new: Value,
    status_only: bool,
) -> Result<Option<Value>, ApiError> {
    meta::check_type(kind, &mut new)?;
    let meta = meta_mut(&mut new)?;
    let given = meta.get("name").and_then(Value::as_str).unwrap_or("");
    if given != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({given}) does not match the name on the URL ({name})"
        )));
    }
    set_namespace(kind, ns, meta)?;
    let given_rv = meta
        .get("resourceVersion")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !given_rv.is_empty() && given_rv != meta_str(old, "resourceVersion") {
        return Err(ApiError::stale(kind, name));
    }
    meta.remove("managedFields");
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "resourceVersion",
    ] {
        match old["metadata"].get(field) {
            Some(value) => meta.insert(field.into(), value.clone()),
            None => meta.remove(field),
        };
    }
    if status_only {
        let status = new.get("status").cloned();
        new = old.clone();
        if let Value::Object(map) = &mut new {
            match status {
                Some(status) => map.insert("status".into(), status),
                None => map.remove("status"),
            };
        }
    } else if kind.status {
        if let Value::Object(map) = &mut new {
            match old.get("status") {
                Some(status) => map.insert("status".into(), status.clone()),
                None => map.remove("status"),
            };
        }
    }
    let causes = meta::no_new_finalizers(old, &new);
    if !causes.is_empty() {
        return Err(ApiError::invalid(kind, name, &causes));
    }
    if new == *old {
        return Ok(None);
    }
    if meta::spec_part(&new) != meta::spec_part(old) {
        let generation = old["metadata"]["generation"].as_i64().unwrap_or(0) + 1;
        meta_mut(&mut new)?.insert("generation".into(), generation.into());
    }
    Ok(Some(new))
}

fn check_preconditions(
    kind: &Kind,
    name: &str,
    old: &Value,
    pre: &Preconditions,
) -> Result<(), ApiError> {
    if let Some(uid) = pre.uid.as_deref() {
        let have = meta_str(old, "uid");
        if uid != have {
            let why = format!(
                "Precondition failed: UID in precondition: {uid}, UID in object meta: {have}"
            );
            return Err(ApiError::conflict(kind, name, &why));
        }
    }
    if let Some(rv) = pre.resource_version.as_deref() {
        let have = meta_str(old, "resourceVersion");
        if rv != have {
            let why = format!(
                "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in \
                 object meta: {have}"
            );
            return Err(ApiError::conflict(kind, name, &why));
        }
    }
    Ok(())
}

/// A watch event's JSON form.
pub(crate) fn event_json(kind: &str, object: &Value) -> Value {
    json!({"type": kind, "object": object})
}
