//! Telling a person how far a read has got.
//!
//! A read of a large cluster takes a while (one request per 500 objects of
//! each kind), so the CLI shows a one-line counter on a terminal. Anything
//! that is not a terminal gets nothing: progress is never part of an output.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;

/// Hears how a read is going.
pub trait Progress {
    /// Called after each page with the objects of a kind listed so far.
    fn read(&self, kind: &'static str, listed: u64);
    /// Called once when the whole read is over, successful or not.
    fn done(&self) {}
}

/// A [`Progress`] that shows nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Silent;

impl Progress for Silent {
    fn read(&self, _kind: &'static str, _listed: u64) {}
}

/// A [`Progress`] that keeps one line up to date on standard error.
#[derive(Debug, Default)]
pub struct Terminal {
    shown: Mutex<bool>,
}

impl Progress for Terminal {
    fn read(&self, kind: &'static str, listed: u64) {
        let mut err = std::io::stderr().lock();
        // Carriage return and erase-line keep the counter on one line.
        let _ = write!(err, "\r\x1b[2Kreading the cluster: {kind} {listed}");
        let _ = err.flush();
        if let Ok(mut shown) = self.shown.lock() {
            *shown = true;
        }
    }

    fn done(&self) {
        let shown = self.shown.lock().map(|s| *s).unwrap_or(true);
        if shown {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r\x1b[2K");
            let _ = err.flush();
        }
    }
}

/// The progress display for standard error: [`Terminal`] on a terminal, else [`Silent`].
pub fn stderr() -> Box<dyn Progress> {
    if std::io::stderr().is_terminal() {
        Box::new(Terminal::default())
    } else {
        Box::new(Silent)
    }
}
