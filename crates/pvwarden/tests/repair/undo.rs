//! `undo` restores the objects a run changed.
