//! The SQLite backend: one database file (WAL mode) for runs, ledgers, the inbox and its
//! cursor. Artifacts stay files.
//!
//! Each store handle has one writer thread that batches callers' writes into transactions
//! (see `writer.rs`); reads use their own connections, which WAL lets run beside the writer.
//! Other processes on the same database (an API process and a runner process) take turns
//! for the write lock, waiting up to [`BUSY_TIMEOUT`].

mod path;
mod query;
mod schema;
mod writer;

pub use path::{DbPathError, db_path_inside};
pub(crate) use schema::RunRow;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use agw_domain::command::{Accepted, Command, NewCommand};
use agw_domain::record::StepRecord;
use agw_domain::run::RunState;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::{RunPage, RunQuery, RunStore, StoreError, StoreResult, check_run_id};

/// How long a connection waits for another one (in this process or another) to release a lock.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Idle read connections kept for reuse.
const MAX_IDLE_READERS: usize = 8;
/// The runner's row in `command_cursors` (the reference's name).
const RUNNER_CURSOR: &str = "gateway_runner";

/// Runs, ledgers and commands in one SQLite database.
pub struct SqliteStore {
    path: PathBuf,
    label: String,
    writer: writer::Writer,
    readers: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").field("path", &self.path).finish_non_exhaustive()
    }
}

/// Why a piece of database work failed, before the store names the database.
#[derive(Debug)]
pub(crate) enum Failure {
    Store(StoreError),
    Sql(rusqlite::Error),
    Json(serde_json::Error),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

impl From<serde_json::Error> for Failure {
    fn from(e: serde_json::Error) -> Self {
        Self::Json(e)
    }
}

impl Failure {
    pub(crate) fn into_store(self, label: &str) -> StoreError {
        match self {
            Self::Store(StoreError::Corrupt { path, reason }) if path.is_empty() => {
                StoreError::Corrupt { path: label.to_owned(), reason }
            }
            Self::Store(e) => e,
            Self::Sql(e) => StoreError::Database { path: label.to_owned(), reason: e.to_string() },
            Self::Json(e) => StoreError::Corrupt { path: label.to_owned(), reason: e.to_string() },
        }
    }
}

impl SqliteStore {
    /// Opens (and creates, and migrates) the database at `path`; every commit is fsynced.
    pub fn open(path: impl Into<PathBuf>) -> StoreResult<Self> {
        Self::open_with_sync(path, true)
    }

    /// Opens the database; `sync: false` commits without fsync (`synchronous=NORMAL`:
    /// safe when the process dies, not when the machine does).
    pub fn open_with_sync(path: impl Into<PathBuf>, sync: bool) -> StoreResult<Self> {
        let path = path.into();
        let label = path.display().to_string();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
        }
        let conn = open_writer(&path, sync).map_err(|f| f.into_store(&label))?;
        let writer = writer::Writer::start(conn, label.clone())?;
        Ok(Self { path, label, writer, readers: Mutex::default() })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `query` on a read connection (reused, or opened now).
    fn read<T>(&self, query: impl FnOnce(&Connection) -> Result<T, Failure>) -> StoreResult<T> {
        let idle = lock(&self.readers).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.path).map_err(|f| f.into_store(&self.label))?,
        };
        let result = query(&conn).map_err(|f| f.into_store(&self.label));
        let mut idle = lock(&self.readers);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
        result
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn open_writer(path: &Path, sync: bool) -> Result<Connection, Failure> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Failure::Store(StoreError::Corrupt {
            path: String::new(),
            reason: format!("cannot switch to WAL mode (journal_mode is {mode})"),
        }));
    }
    conn.pragma_update(None, "synchronous", if sync { "FULL" } else { "NORMAL" })?;
    schema::migrate(&conn)?;
    Ok(conn)
}

fn open_reader(path: &Path) -> Result<Connection, Failure> {
    // Read-write (WAL readers write the shared-memory index), but never creating a file.
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn parse_run(json: &str) -> Result<RunState, Failure> {
    Ok(serde_json::from_str(json)?)
}

/// Appends records after the stored ones; returns the new length.
pub(crate) fn append_records(conn: &Connection, run_id: &str, lines: &[String]) -> Result<u64, Failure> {
    let len = ledger_len(conn, run_id)?;
    let mut insert = conn.prepare_cached("INSERT INTO ledger (run_id, seq, record_json) VALUES (?1, ?2, ?3)")?;
    for (i, line) in lines.iter().enumerate() {
        insert.execute(params![run_id, to_i64(len) + 1 + i as i64, line])?;
    }
    Ok(len + lines.len() as u64)
}

fn ledger_len(conn: &Connection, run_id: &str) -> Result<u64, Failure> {
    let len: i64 = conn
        .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM ledger WHERE run_id = ?1")?
        .query_row([run_id], |row| row.get(0))?;
    Ok(to_u64(len))
}

/// Stores a command under `seq` (a migrated one), or the next sequence number; returns it.
pub(crate) fn insert_command(conn: &Connection, command: &NewCommand, seq: Option<u64>) -> Result<u64, Failure> {
    conn.prepare_cached(
        "INSERT INTO commands (seq, command_id, run_id, type, payload_json, ts, client_id)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![
        seq.map(to_i64),
        command.command_id,
        command.run_id,
        command.kind,
        serde_json::to_string(&command.payload)?,
        command.ts,
        command.client_id,
    ])?;
    // AUTOINCREMENT: a sequence number is never handed out twice, not even after a delete.
    Ok(to_u64(conn.last_insert_rowid()))
}

pub(crate) fn set_cursor(conn: &Connection, seq: u64) -> Result<(), Failure> {
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
    conn.prepare_cached(
        "INSERT INTO command_cursors (consumer_id, cursor, updated_at) VALUES (?1, ?2, ?3)
         ON CONFLICT(consumer_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
    )?
    .execute(params![RUNNER_CURSOR, to_i64(seq), now])?;
    Ok(())
}

/// Creates an empty database at `path` with the current schema, for a bulk import.
pub(crate) fn create_for_import(path: &Path) -> StoreResult<Connection> {
    let label = path.display().to_string();
    let open = || -> Result<Connection, Failure> {
        let conn = Connection::open(path)?;
        // The file is renamed into place only once complete: no journal needed until then.
        conn.pragma_update(None, "synchronous", "OFF")?;
        schema::migrate(&conn)?;
        Ok(conn)
    };
    open().map_err(|f| f.into_store(&label))
}

impl RunStore for SqliteStore {
    fn create_run(&self, run: &RunState) -> StoreResult<()> {
        check_run_id(&run.run_id)?;
        let row = RunRow::new(run).map_err(|e| Failure::from(e).into_store(&self.label))?;
        self.writer.write(move |conn| {
            if conn.prepare_cached("SELECT 1 FROM runs WHERE run_id = ?1")?.exists([row.run_id()])? {
                return Err(StoreError::RunExists(row.run_id().to_owned()).into());
            }
            Ok(row.upsert(conn)?)
        })
    }

    fn save_run(&self, run: &RunState) -> StoreResult<()> {
        check_run_id(&run.run_id)?;
        let row = RunRow::new(run).map_err(|e| Failure::from(e).into_store(&self.label))?;
        self.writer.write(move |conn| Ok(row.upsert(conn)?))
    }

    fn load_run(&self, run_id: &str) -> StoreResult<Option<RunState>> {
        if check_run_id(run_id).is_err() {
            return Ok(None);
        }
        self.read(|conn| {
            let json: Option<String> = conn
                .prepare_cached("SELECT run_json FROM runs WHERE run_id = ?1")?
                .query_row([run_id], |row| row.get(0))
                .optional()?;
            json.as_deref().map(parse_run).transpose()
        })
    }

    fn list_runs(&self) -> StoreResult<Vec<RunState>> {
        self.read(|conn| {
            let mut query =
                conn.prepare_cached("SELECT run_id, run_json FROM runs ORDER BY created_at DESC, run_id DESC")?;
            let rows = query.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)))?;
            let mut runs = Vec::new();
            for row in rows {
                let (run_id, json) = row?;
                match parse_run(&json) {
                    Ok(run) => runs.push(run),
                    // One unreadable run must not hide every other run.
                    Err(_) => tracing::warn!(%run_id, "skipping unreadable run row"),
                }
            }
            Ok(runs)
        })
    }

    fn query_runs(&self, query: &RunQuery) -> StoreResult<RunPage> {
        self.read(|conn| query::query_runs(conn, query))
    }

    fn append_ledger(&self, run_id: &str, records: &[StepRecord]) -> StoreResult<u64> {
        check_run_id(run_id)?;
        let lines = records
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Failure::from(e).into_store(&self.label))?;
        let run_id = run_id.to_owned();
        self.writer.write(move |conn| append_records(conn, &run_id, &lines))
    }

    fn ledger_len(&self, run_id: &str) -> StoreResult<u64> {
        if check_run_id(run_id).is_err() {
            return Ok(0);
        }
        self.read(|conn| ledger_len(conn, run_id))
    }

    fn read_ledger(&self, run_id: &str, after: u64, max: usize) -> StoreResult<Vec<StepRecord>> {
        if check_run_id(run_id).is_err() {
            return Ok(Vec::new());
        }
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT record_json FROM ledger WHERE run_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
            )?;
            let rows = query.query_map(params![run_id, to_i64(after), limit(max)], |row| row.get::<_, String>(0))?;
            let mut records = Vec::new();
            for json in rows {
                records.push(serde_json::from_str(&json?)?);
            }
            Ok(records)
        })
    }

    fn append_command(&self, command: NewCommand) -> StoreResult<Accepted> {
        self.writer.write(move |conn| {
            let known: Option<i64> = conn
                .prepare_cached("SELECT seq FROM commands WHERE command_id = ?1")?
                .query_row([&command.command_id], |row| row.get(0))
                .optional()?;
            if let Some(seq) = known {
                return Ok(Accepted { seq: to_u64(seq), duplicate: true });
            }
            let seq = insert_command(conn, &command, None)?;
            Ok(Accepted { seq, duplicate: false })
        })
    }

    fn commands_after(&self, after: u64, max: usize) -> StoreResult<Vec<Command>> {
        self.read(|conn| {
            let mut query = conn.prepare_cached(
                "SELECT seq, command_id, run_id, type, payload_json, ts, client_id FROM commands
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?;
            let rows = query.query_map(params![to_i64(after), limit(max)], |row| {
                Ok((
                    Command {
                        seq: to_u64(row.get(0)?),
                        command_id: row.get(1)?,
                        run_id: row.get(2)?,
                        kind: row.get(3)?,
                        payload: serde_json::Value::Null,
                        ts: row.get(5)?,
                        client_id: row.get(6)?,
                    },
                    row.get::<_, String>(4)?,
                ))
            })?;
            let mut commands = Vec::new();
            for row in rows {
                let (mut command, payload) = row?;
                command.payload = serde_json::from_str(&payload)?;
                commands.push(command);
            }
            Ok(commands)
        })
    }

    fn command_cursor(&self) -> StoreResult<u64> {
        self.read(|conn| {
            let cursor: Option<i64> = conn
                .prepare_cached("SELECT cursor FROM command_cursors WHERE consumer_id = ?1")?
                .query_row([RUNNER_CURSOR], |row| row.get(0))
                .optional()?;
            Ok(cursor.map_or(0, to_u64))
        })
    }

    fn set_command_cursor(&self, seq: u64) -> StoreResult<()> {
        self.writer.write(move |conn| set_cursor(conn, seq))
    }

    fn waiting_on(&self, wait_key: &str) -> StoreResult<Vec<String>> {
        self.read(|conn| {
            let mut query = conn
                .prepare_cached("SELECT run_id FROM runs WHERE wait_key = ?1 ORDER BY created_at DESC, run_id DESC")?;
            let ids = query.query_map([wait_key], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        })
    }

    fn active_runs(&self, now: chrono::DateTime<chrono::Utc>) -> StoreResult<Vec<String>> {
        self.read(|conn| {
            // `INDEXED BY`: the status index (migration 2) also answers `status = 'running'`
            // and the planner, without statistics, prefers it; the partial index holds only
            // the runnable runs, so reading it skips the paused ones without a table lookup.
            let mut query = conn.prepare_cached(
                "SELECT run_id, created_at FROM runs INDEXED BY idx_runs_runnable WHERE status = 'running' AND paused = 0
                 UNION
                 SELECT runs.run_id, runs.created_at FROM wait_index JOIN runs USING (run_id) WHERE due_ns <= ?1
                 ORDER BY 2 DESC, 1 DESC",
            )?;
            let ids = query.query_map([schema::now_ns(now)], |row| row.get(0))?.collect::<Result<Vec<String>, _>>()?;
            Ok(ids)
        })
    }
}

#[cfg(test)]
mod tests;
