//! The CLI's journal: one SQLite file, in WAL mode.
//!
//! Each write is its own transaction with `synchronous = FULL`, so a record
//! whose write returned is on disk even if the process is killed right after.
//! Several `pvwarden` processes may share the file; SQLite serialises them.

use std::future::{ready, Future};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::{Entry, EntryState, Error, Journal, ObjectRef, Result, Run, RunId, RunState};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    operator TEXT NOT NULL,
    context TEXT NOT NULL,
    command TEXT NOT NULL,
    digest TEXT NOT NULL,
    plan TEXT,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS entries (
    run TEXT NOT NULL REFERENCES runs(id),
    seq INTEGER NOT NULL,
    target TEXT NOT NULL,
    action TEXT NOT NULL,
    patch TEXT,
    before TEXT,
    resource_version TEXT,
    backend_id TEXT,
    state TEXT NOT NULL,
    error TEXT,
    at TEXT NOT NULL,
    PRIMARY KEY (run, seq)
);
";

/// A journal in one SQLite file.
#[derive(Debug)]
pub struct SqliteJournal {
    connection: Mutex<Connection>,
}

impl SqliteJournal {
    /// Opens the journal at `path`, creating it and its directory if needed.
    ///
    /// The file is made readable by its owner only: it holds copies of
    /// cluster objects.
    ///
    /// # Errors
    ///
    /// [`Error::Open`] naming the file when it cannot be created or opened.
    pub fn open(path: &Path) -> Result<SqliteJournal> {
        let open_error = |source: Box<dyn std::error::Error + Send + Sync>| Error::Open {
            path: path.display().to_string(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| open_error(e.into()))?;
        }
        let connection = Connection::open(path).map_err(|e| open_error(e.into()))?;
        restrict(path).map_err(|e| open_error(e.into()))?;
        SqliteJournal::setup(connection).map_err(|e| open_error(e.into()))
    }

    /// Opens a journal that lives in memory only (for tests and dry runs).
    ///
    /// # Errors
    ///
    /// [`Error::Open`] when SQLite cannot start.
    pub fn in_memory() -> Result<SqliteJournal> {
        let connection = Connection::open_in_memory().map_err(|e| Error::Open {
            path: ":memory:".into(),
            source: e.into(),
        })?;
        SqliteJournal::setup(connection).map_err(|e| Error::Open {
            path: ":memory:".into(),
            source: e.into(),
        })
    }

    fn setup(connection: Connection) -> rusqlite::Result<SqliteJournal> {
        // WAL lets `journal ls` read while a run writes; FULL makes every
        // committed record survive a crash of the process or the machine.
        connection.pragma_update(None, "journal_mode", "WAL")?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.execute_batch(SCHEMA)?;
        Ok(SqliteJournal {
            connection: Mutex::new(connection),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a half-written record:
        // every write is one SQLite transaction.
        self.connection
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn begin_now(&self, run: &Run) -> Result<()> {
        let operation = || format!("record run {}", run.id);
        let connection = self.lock();
        let exists: Option<String> = connection
            .query_row(
                "SELECT id FROM runs WHERE id = ?1",
                [run.id.as_str()],
                |r| r.get(0),
            )
            .optional()
            .map_err(|source| sqlite(operation(), source))?;
        if exists.is_some() {
            return Err(Error::RunExists(run.id.to_string()));
        }
        connection
            .execute(
                "INSERT INTO runs (id, started, operator, context, command, digest, state, plan)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    run.id.as_str(),
                    run.started.to_string(),
                    run.operator,
                    run.context,
                    run.command,
                    run.digest,
                    run.state.as_str(),
                    run.plan.as_ref().map(|p| p.to_string())
                ],
            )
            .map_err(|source| sqlite(operation(), source))?;
        Ok(())
    }

    fn record_now(&self, entry: &Entry) -> Result<()> {
        let operation = || format!("record entry {} of run {}", entry.seq, entry.run);
        let connection = self.lock();
        known_run(&connection, &entry.run)?;
        let exists: Option<u32> = connection
            .query_row(
                "SELECT seq FROM entries WHERE run = ?1 AND seq = ?2",
                params![entry.run.as_str(), entry.seq],
                |r| r.get(0),
            )
            .optional()
            .map_err(|source| sqlite(operation(), source))?;
        if exists.is_some() {
            return Err(Error::EntryExists {
                run: entry.run.to_string(),
                seq: entry.seq,
            });
        }
        let json = |value: &Option<serde_json::Value>| value.as_ref().map(|v| v.to_string());
        let target = serde_json::to_string(&entry.target).map_err(|source| Error::Corrupt {
            what: operation(),
            source,
        })?;
        connection
            .execute(
                "INSERT INTO entries (run, seq, target, action, patch, before,
                     resource_version, backend_id, state, error, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                params![
                    entry.run.as_str(),
                    entry.seq,
                    target,
                    entry.action,
                    json(&entry.patch),
                    json(&entry.before),
                    entry.resource_version,
                    entry.backend_id,
                    entry.state.as_str(),
                    entry.error,
                    entry.at.to_string()
                ],
            )
            .map_err(|source| sqlite(operation(), source))?;
        Ok(())
    }

    fn mark_now(
        &self,
        run: &RunId,
        seq: u32,
        state: EntryState,
        error: Option<&str>,
    ) -> Result<()> {
        let connection = self.lock();
        let changed = connection
            .execute(
                "UPDATE entries SET state = ?3, error = ?4 WHERE run = ?1 AND seq = ?2",
                params![run.as_str(), seq, state.as_str(), error],
            )
            .map_err(|source| sqlite(format!("mark entry {seq} of run {run}"), source))?;
        if changed == 0 {
            return Err(Error::UnknownEntry {
                run: run.to_string(),
                seq,
            });
        }
        Ok(())
    }

    fn finish_now(&self, run: &RunId, state: RunState) -> Result<()> {
        let connection = self.lock();
        let changed = connection
            .execute(
                "UPDATE runs SET state = ?2 WHERE id = ?1",
                params![run.as_str(), state.as_str()],
            )
            .map_err(|source| sqlite(format!("finish run {run}"), source))?;
        if changed == 0 {
            return Err(Error::UnknownRun(run.to_string()));
        }
        Ok(())
    }

    fn runs_now(&self) -> Result<Vec<Run>> {
        let connection = self.lock();
        let operation = || "list runs".to_owned();
        let mut statement = connection
            .prepare(
                "SELECT id, started, operator, context, command, digest, state, plan
                 FROM runs ORDER BY started, id",
            )
            .map_err(|source| sqlite(operation(), source))?;
        let rows = statement
            .query_map([], read_run)
            .map_err(|source| sqlite(operation(), source))?;
        rows.map(|row| row.map_err(|source| sqlite(operation(), source))?)
            .collect()
    }

    fn run_now(&self, id: &RunId) -> Result<Option<(Run, Vec<Entry>)>> {
        let connection = self.lock();
        let operation = || format!("read run {id}");
        let run = connection
            .query_row(
                "SELECT id, started, operator, context, command, digest, state, plan
                 FROM runs WHERE id = ?1",
                [id.as_str()],
                read_run,
            )
            .optional()
            .map_err(|source| sqlite(operation(), source))?;
        let Some(run) = run else {
            return Ok(None);
        };
        let run = run?;
        let mut statement = connection
            .prepare(
                "SELECT run, seq, target, action, patch, before, resource_version,
                     backend_id, state, error, at
                 FROM entries WHERE run = ?1 ORDER BY seq",
            )
            .map_err(|source| sqlite(operation(), source))?;
        let rows = statement
            .query_map([id.as_str()], read_entry)
            .map_err(|source| sqlite(operation(), source))?;
        let entries = rows
            .map(|row| row.map_err(|source| sqlite(operation(), source))?)
            .collect::<Result<Vec<_>>>()?;
        Ok(Some((run, entries)))
    }
}

fn sqlite(operation: String, source: rusqlite::Error) -> Error {
    Error::Sqlite { operation, source }
}

fn known_run(connection: &Connection, run: &RunId) -> Result<()> {
    let found: Option<String> = connection
        .query_row("SELECT id FROM runs WHERE id = ?1", [run.as_str()], |r| {
            r.get(0)
        })
        .optional()
        .map_err(|source| sqlite(format!("find run {run}"), source))?;
    found
        .map(|_| ())
        .ok_or_else(|| Error::UnknownRun(run.to_string()))
}

/// Reads a run row; the outer error is SQLite's, the inner one a bad value.
fn read_run(row: &Row<'_>) -> rusqlite::Result<Result<Run>> {
    let id: String = row.get(0)?;
    let started: String = row.get(1)?;
    let state: String = row.get(6)?;
    let plan: Option<String> = row.get(7)?;
    let (operator, context, command, digest) = (row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?);
    Ok((|| {
        let plan = plan.as_deref().map(serde_json::from_str).transpose();
        Ok(Run {
            plan: plan.map_err(|source| Error::Corrupt {
                what: format!("run {id}"),
                source,
            })?,
            started: parse_time(&started, &id)?,
            state: RunState::parse(&state).ok_or_else(|| bad_value(&id, "state", &state))?,
            id: RunId::parse(&id),
            operator,
            context,
            command,
            digest,
        })
    })())
}

/// Reads an entry row; the outer error is SQLite's, the inner one a bad value.
fn read_entry(row: &Row<'_>) -> rusqlite::Result<Result<Entry>> {
    let run: String = row.get(0)?;
    let seq: u32 = row.get(1)?;
    let target: String = row.get(2)?;
    let patch: Option<String> = row.get(4)?;
    let before: Option<String> = row.get(5)?;
    let state: String = row.get(8)?;
    let at: String = row.get(10)?;
    let (action, resource_version, backend_id, error) =
        (row.get(3)?, row.get(6)?, row.get(7)?, row.get(9)?);
    let what = format!("entry {seq} of run {run}");
    Ok((|| {
        let corrupt = |source| Error::Corrupt {
            what: what.clone(),
            source,
        };
        let json = |text: &str| serde_json::from_str::<serde_json::Value>(text).map_err(corrupt);
        let target: ObjectRef = serde_json::from_str(&target).map_err(corrupt)?;
        Ok(Entry {
            seq,
            target,
            action,
            patch: patch.as_deref().map(json).transpose()?,
            before: before.as_deref().map(json).transpose()?,
            resource_version,
            backend_id,
            state: EntryState::parse(&state).ok_or_else(|| bad_value(&what, "state", &state))?,
            error,
            at: parse_time(&at, &what)?,
            run: RunId::parse(&run),
        })
    })())
}

fn parse_time(text: &str, what: &str) -> Result<jiff::Timestamp> {
    text.parse().map_err(|_| bad_value(what, "time", text))
}

fn bad_value(what: &str, field: &str, value: &str) -> Error {
    let source = serde_json::Error::io(std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("unknown {field} {value:?}"),
    ));
    Error::Corrupt {
        what: what.to_owned(),
        source,
    }
}

#[cfg(unix)]
fn restrict(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
}

#[cfg(not(unix))]
fn restrict(_path: &Path) -> std::io::Result<()> {
    Ok(())
}

impl Journal for SqliteJournal {
    fn begin(&self, run: &Run) -> impl Future<Output = Result<()>> + Send {
        ready(self.begin_now(run))
    }

    fn record(&self, entry: &Entry) -> impl Future<Output = Result<()>> + Send {
        ready(self.record_now(entry))
    }

    fn mark(
        &self,
        run: &RunId,
        seq: u32,
        state: EntryState,
        error: Option<&str>,
    ) -> impl Future<Output = Result<()>> + Send {
        ready(self.mark_now(run, seq, state, error))
    }

    fn finish(&self, run: &RunId, state: RunState) -> impl Future<Output = Result<()>> + Send {
        ready(self.finish_now(run, state))
    }

    fn runs(&self) -> impl Future<Output = Result<Vec<Run>>> + Send {
        ready(self.runs_now())
    }

    fn run(&self, id: &RunId) -> impl Future<Output = Result<Option<(Run, Vec<Entry>)>>> + Send {
        ready(self.run_now(id))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "a failed unwrap is a failed test")]
mod tests {
    use serde_json::json;

    use super::*;

    pub(crate) fn run(id: &str) -> Run {
        Run {
            id: RunId::parse(id),
            started: "2026-12-04T19:00:00Z".parse().unwrap(),
            operator: "admin".into(),
            context: "test".into(),
            command: "fix --all-stuck".into(),
            digest: "0123456789ab".into(),
            plan: Some(json!({"targets": []})),
            state: RunState::Open,
        }
    }

    pub(crate) fn entry(run: &str, seq: u32) -> Entry {
        Entry {
            run: RunId::parse(run),
            seq,
            target: ObjectRef::pv("pv-1"),
            action: "set-retain".into(),
            patch: Some(json!([{"op": "test", "path": "/metadata/resourceVersion", "value": "7"}])),
            before: Some(json!({"metadata": {"name": "pv-1", "resourceVersion": "7"}})),
            resource_version: Some("7".into()),
            backend_id: None,
            state: EntryState::Planned,
            error: None,
            at: "2026-12-04T19:00:01Z".parse().unwrap(),
        }
    }

    #[tokio::test]
    async fn entries_survive_reopening_the_file() {
        let dir = std::env::temp_dir().join(format!("pvwarden-journal-{}", std::process::id()));
        let path = dir.join("nested").join("journal.db");
        {
            let journal = SqliteJournal::open(&path).unwrap();
            journal.begin(&run("r-1")).await.unwrap();
            journal.record(&entry("r-1", 1)).await.unwrap();
            journal.record(&entry("r-1", 2)).await.unwrap();
            journal
                .mark(&RunId::parse("r-1"), 1, EntryState::Applied, None)
                .await
                .unwrap();
            journal
                .mark(&RunId::parse("r-1"), 2, EntryState::Failed, Some("409"))
                .await
                .unwrap();
            journal
                .finish(&RunId::parse("r-1"), RunState::Failed)
                .await
                .unwrap();
        }
        let journal = SqliteJournal::open(&path).unwrap();
        let (got, entries) = journal.run(&RunId::parse("r-1")).await.unwrap().unwrap();
        let _ = std::fs::remove_dir_all(&dir);

        assert_eq!(got.state, RunState::Failed);
        assert_eq!(got.plan, run("r-1").plan);
        assert_eq!(entries.len(), 2);
        let mut first = entry("r-1", 1);
        first.state = EntryState::Applied;
        assert_eq!(entries[0], first);
        assert_eq!(entries[1].state, EntryState::Failed);
        assert_eq!(entries[1].error.as_deref(), Some("409"));
    }

    #[tokio::test]
    async fn runs_are_listed_oldest_first() {
        let journal = SqliteJournal::in_memory().unwrap();
        let mut late = run("r-2");
        late.started = "2026-12-04T20:00:00Z".parse().unwrap();
        journal.begin(&late).await.unwrap();
        journal.begin(&run("r-1")).await.unwrap();
        let ids: Vec<_> = journal
            .runs()
            .await
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(ids, [RunId::parse("r-1"), RunId::parse("r-2")]);
    }

    #[tokio::test]
    async fn duplicates_and_unknown_records_are_refused() {
        let journal = SqliteJournal::in_memory().unwrap();
        journal.begin(&run("r-1")).await.unwrap();
        let again = journal.begin(&run("r-1")).await.unwrap_err();
        assert!(matches!(again, Error::RunExists(_)), "{again}");

        journal.record(&entry("r-1", 1)).await.unwrap();
        let twice = journal.record(&entry("r-1", 1)).await.unwrap_err();
        assert!(
            matches!(twice, Error::EntryExists { seq: 1, .. }),
            "{twice}"
        );

        let orphan = journal.record(&entry("r-9", 1)).await.unwrap_err();
        assert!(matches!(orphan, Error::UnknownRun(_)), "{orphan}");
        let missing = journal
            .mark(&RunId::parse("r-1"), 5, EntryState::Applied, None)
            .await
            .unwrap_err();
        assert!(
            matches!(missing, Error::UnknownEntry { seq: 5, .. }),
            "{missing}"
        );
        assert!(journal.run(&RunId::parse("r-9")).await.unwrap().is_none());
    }
}
