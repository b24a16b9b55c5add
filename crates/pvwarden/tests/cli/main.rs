//! The `pvwarden` command line as a user meets it: exit codes, inputs, report
//! formats, assumptions, evidence, silencing, `explain`, `decode` and `rules`.
//!
//! Each test runs the built binary on fixtures from `tests/data/` (or on
//! inputs it writes to a temporary directory) and checks one behaviour a user
//! wrong today; they pass once the bug is fixed.

mod common;

mod assumptions;
mod decode;
mod evidence;
mod exit_codes;
mod explain;
mod formats;
mod input;
mod regressions;
mod robustness;
mod rules;
mod share;
mod silencing;
