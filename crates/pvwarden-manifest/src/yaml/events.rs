//! The parser's events for one document, with aliases expanded under a budget.
//!
//! [`Events`] sits between the pull parser and the serde deserializer. It
//! turns lines into absolute ones, keeps the nesting depth (so that a failed
//! list item can be skipped to its end), expands aliases by replaying the
//! events recorded for their anchor, and watches `metadata.name` and
//! `metadata.namespace` go by so that an error can name the object.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use granit_parser::{ErrorKind, Event, FallibleBufferedInput, Parser, ScanError, Span};

use super::de::DeError;
use super::feed::{Chars, Feed};

/// An event with the absolute line (1-based) and column (1-based) it starts at.
pub(crate) type Located = (Event<'static>, Pos);

/// An absolute position in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: u32,
    pub column: u32,
}

/// Bounds on alias expansion and nesting for one document.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Events replayed for aliases, in total.
    pub alias_events: usize,
    /// Events recorded for anchors, in total.
    pub anchor_events: usize,
    /// Nesting depth of collections being deserialized.
    pub depth: usize,
}

struct Recording {
    anchor: usize,
    /// Depth of the anchored collection once it has started.
    depth: usize,
    events: Vec<Located>,
}

struct Replay {
    events: Rc<[Located]>,
    next: usize,
}

/// The events of one document.
pub(crate) struct Events<'r> {
    parser: Parser<'static, FallibleBufferedInput<Chars<'r>>>,
    feed: Rc<RefCell<Feed<'r>>>,
    line_base: u32,
    peeked: Option<Located>,
    /// Collections opened and not yet closed, by consumed events.
    depth: usize,
    /// Collections entered by the deserializer, which recurses once per level.
    pub(crate) nesting: usize,
    anchors: HashMap<usize, Rc<[Located]>>,
    recordings: Vec<Recording>,
    recorded: usize,
    replays: Vec<Replay>,
    replayed: usize,
    pub(crate) limits: Limits,
    pub(crate) names: NameTracker,
}

impl<'r> Events<'r> {
    /// Starts a parser on the feed's current document.
    pub(crate) fn new(feed: &Rc<RefCell<Feed<'r>>>, limits: Limits) -> Self {
        let line_base = u32::try_from(feed.borrow().line()).unwrap_or(u32::MAX);
        let options = granit_parser::options! {
            flow_nesting_limit: limits.depth,
            block_nesting_limit: limits.depth,
        };
        let chars = Chars::new(Rc::clone(feed));
        Events {
            parser: Parser::new_from_fallible_iter_with_options(chars, options),
            feed: Rc::clone(feed),
            line_base: line_base.saturating_sub(1),
            peeked: None,
            depth: 0,
            nesting: 0,
            anchors: HashMap::new(),
            recordings: Vec::new(),
            recorded: 0,
            replays: Vec::new(),
            replayed: 0,
            limits,
            names: NameTracker::default(),
        }
    }

    /// The number of collections open after the consumed events.
    pub(crate) fn depth(&self) -> usize {
        self.depth
    }

    /// Returns the next event without consuming it.
    pub(crate) fn peek(&mut self) -> Result<&Located, DeError> {
        let event = match self.peeked.take() {
            Some(event) => event,
            None => self.pull()?,
        };
        Ok(self.peeked.insert(event))
    }

    /// The position of the next event.
    pub(crate) fn peek_pos(&mut self) -> Result<Pos, DeError> {
        self.peek().map(|(_, pos)| *pos)
    }

    /// Consumes the next event.
    pub(crate) fn next(&mut self) -> Result<Located, DeError> {
        let (event, pos) = match self.peeked.take() {
            Some(event) => event,
            None => self.pull()?,
        };
        self.track(&event, pos)?;
        Ok((event, pos))
    }

    /// Consumes one node and everything in it.
    pub(crate) fn skip_node(&mut self) -> Result<(), DeError> {
        let depth = self.depth;
        self.next()?;
        self.skip_to(depth)
    }

    /// Consumes events until `depth` collections are open.
    pub(crate) fn skip_to(&mut self, depth: usize) -> Result<(), DeError> {
        while self.depth > depth {
            self.next()?;
        }
        Ok(())
    }

    fn pull(&mut self) -> Result<Located, DeError> {
        loop {
            if let Some(replay) = self.replays.last_mut() {
                if let Some(event) = replay.events.get(replay.next) {
                    replay.next += 1;
                    self.replayed += 1;
                    if self.replayed > self.limits.alias_events {
                        let limit = self.limits.alias_events as u64;
                        return Err(DeError::limit("alias expansion", limit, event.1));
                    }
                    return Ok(event.clone());
                }
                self.replays.pop();
                continue;
            }

            let (event, span) = match self.parser.next() {
                Some(Ok(next)) => next,
                Some(Err(err)) => return Err(self.scan_error(&err)),
                None => return Err(DeError::syntax("unexpected end of input", self.end_pos())),
            };
            // Comments are presentation, not data. The parser reports them
            // because the workspace enables its `comments` feature (kube-client
            // needs it, through serde-saphyr, and features are unified).
            if matches!(event, Event::Comment(..)) {
                continue;
            }
            let pos = self.pos(&span);
            if let Event::Alias(anchor) = event {
                let Some(events) = self.anchors.get(&anchor) else {
                    return Err(DeError::syntax("alias to an unknown anchor", pos));
                };
                self.replays.push(Replay {
                    events: Rc::clone(events),
                    next: 0,
                });
                continue;
            }
            return Ok((event, pos));
        }
    }

    /// Updates depth, anchor recordings and the name tracker for a consumed event.
    fn track(&mut self, event: &Event<'static>, pos: Pos) -> Result<(), DeError> {
        let anchor = match event {
            Event::MappingStart(_, anchor, _) | Event::SequenceStart(_, anchor, _) => {
                self.depth += 1;
                *anchor
            }
            Event::MappingEnd | Event::SequenceEnd => {
                self.depth = self.depth.saturating_sub(1);
                0
            }
            Event::Scalar(_, _, anchor, _) => *anchor,
            _ => 0,
        };
        self.names.observe(event, self.depth);

        if anchor != 0 {
            self.recordings.push(Recording {
                anchor,
                depth: self.depth,
                events: Vec::new(),
            });
        }
        if !self.recordings.is_empty() {
            self.recorded += self.recordings.len();
            if self.recorded > self.limits.anchor_events {
                return Err(DeError::limit(
                    "anchor size",
                    self.limits.anchor_events as u64,
                    pos,
                ));
            }
            let unanchored = without_anchor(event);
            for recording in &mut self.recordings {
                recording.events.push((unanchored.clone(), pos));
            }
            self.close_recordings(matches!(event, Event::Scalar(..)) && anchor != 0);
        }
        Ok(())
    }

    /// Stores recordings whose node has ended as anchors.
    fn close_recordings(&mut self, scalar_anchor: bool) {
        let mut first = scalar_anchor;
        while let Some(recording) = self.recordings.last() {
            let ended = std::mem::take(&mut first) || recording.depth > self.depth;
            if !ended {
                break;
            }
            if let Some(recording) = self.recordings.pop() {
                self.anchors
                    .insert(recording.anchor, recording.events.into());
            }
        }
    }

    fn pos(&self, span: &Span) -> Pos {
        Pos {
            line: self.line_base.saturating_add(to_u32(span.start.line())),
            column: to_u32(span.start.col()).saturating_add(1),
        }
    }

    fn end_pos(&self) -> Pos {
        Pos {
            line: u32::try_from(self.feed.borrow().line()).unwrap_or(u32::MAX),
            column: 0,
        }
    }

    fn scan_error(&mut self, err: &ScanError) -> DeError {
        let pos = Pos {
            line: self.line_base.saturating_add(to_u32(err.marker().line())),
            column: to_u32(err.marker().col()).saturating_add(1),
        };
        let mut feed = self.feed.borrow_mut();
        if let Some(io) = feed.take_io_error() {
            return DeError::io(io, pos);
        }
        if let Some((line, column)) = feed.take_bad_utf8() {
            let pos = Pos {
                line: u32::try_from(line).unwrap_or(u32::MAX),
                column: u32::try_from(column).unwrap_or(u32::MAX),
            };
            return DeError::encoding(pos);
        }
        match err.kind() {
            ErrorKind::InputDecoding { .. } => DeError::encoding(pos),
            kind => DeError::syntax(kind.to_string(), pos),
        }
    }
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A copy of the event without its anchor, so that replaying it records nothing.
fn without_anchor(event: &Event<'static>) -> Event<'static> {
    match event {
        Event::MappingStart(style, _, tag) => Event::MappingStart(*style, 0, tag.clone()),
        Event::SequenceStart(style, _, tag) => Event::SequenceStart(*style, 0, tag.clone()),
        Event::Scalar(text, style, _, tag) => Event::Scalar(text.clone(), *style, 0, tag.clone()),
        other => other.clone(),
    }
}

/// Watches the events of one object for its `metadata.name` and `metadata.namespace`.
///
/// It only follows the first two levels of the object's mapping, which is
/// enough to tell keys from values there.
#[derive(Debug, Default)]
pub(crate) struct NameTracker {
    /// The depth of the object's own mapping; `None` when not armed.
    root: Option<usize>,
    /// The next scalar at the root level is a key.
    root_key_next: bool,
    /// The last root-level key was `metadata`.
    in_metadata: bool,
    /// The next scalar in `metadata` is a key.
    meta_key_next: bool,
    /// The last `metadata` key: 1 for name, 2 for namespace.
    meta_key: u8,
    pub(crate) name: Option<String>,
    pub(crate) namespace: Option<String>,
}

impl NameTracker {
    /// Starts watching an object whose mapping is open at `depth`.
    ///
    /// `pending_key` is a root key already consumed whose value comes next.
    pub(crate) fn arm(&mut self, depth: usize, pending_key: Option<&str>) {
        *self = NameTracker {
            root: Some(depth),
            root_key_next: pending_key.is_none(),
            in_metadata: pending_key == Some("metadata"),
            meta_key_next: true,
            ..NameTracker::default()
        };
    }

    /// Stops watching and returns the name and namespace seen.
    pub(crate) fn disarm(&mut self) -> (Option<String>, Option<String>) {
        let taken = std::mem::take(self);
        (taken.name, taken.namespace)
    }

    fn observe(&mut self, event: &Event<'static>, depth: usize) {
        let Some(root) = self.root else {
            return;
        };
        match event {
            Event::MappingStart(..) | Event::SequenceStart(..) => {
                // A collection opened one level below the root is a root value.
                if depth == root + 1 {
                    self.root_key_next = true;
                    self.meta_key_next = true;
                } else if depth == root + 2 && self.in_metadata {
                    self.meta_key_next = true;
                }
            }
            Event::Scalar(text, ..) if depth == root => {
                if self.root_key_next {
                    self.in_metadata = text == "metadata";
                }
                self.root_key_next = !self.root_key_next;
            }
            Event::Scalar(text, ..) if depth == root + 1 && self.in_metadata => {
                if self.meta_key_next {
                    self.meta_key = match text.as_ref() {
                        "name" => 1,
                        "namespace" => 2,
                        _ => 0,
                    };
                } else if self.meta_key == 1 {
                    self.name = Some(text.to_string());
                } else if self.meta_key == 2 {
                    self.namespace = Some(text.to_string());
                }
                self.meta_key_next = !self.meta_key_next;
            }
            _ => {}
        }
    }
}
