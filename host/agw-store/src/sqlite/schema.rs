//! The schema as numbered migrations embedded in the binary, and the rows of the `runs`
//! table.
//!
//! `PRAGMA user_version` counts the migrations a database has. They run inside one
//! `BEGIN IMMEDIATE` transaction that also reads the version, so an API process and a
//! runner process opening a new database at the same moment migrate it once (a migration
//! crate that reads the version before its transaction would let both try).

use agw_domain::run::{RunState, RunStatus};
use rusqlite::{Connection, params};

use super::Failure;
use crate::StoreError;

/// Migration `n` (1-based) is `MIGRATIONS[n - 1]`. Append only; never edit a shipped one.
const MIGRATIONS: &[&str] = &[
    // 1: runs (with the columns the runner and the API look up), ledgers, the inbox, its
    // cursor, and the timer index.
    "CREATE TABLE runs (
        run_id TEXT PRIMARY KEY,
        workflow_id TEXT NOT NULL,
        status TEXT NOT NULL,
        wait_reason TEXT,
        wait_key TEXT,
        wait_until TEXT,
        paused INTEGER NOT NULL DEFAULT 0,
        parent_run_id TEXT,
        session_id TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        run_json TEXT NOT NULL
    );
    CREATE INDEX idx_runs_created ON runs(created_at DESC, run_id DESC);
    CREATE INDEX idx_runs_wait_key ON runs(wait_key) WHERE wait_key IS NOT NULL;
    CREATE INDEX idx_runs_runnable ON runs(created_at, run_id) WHERE status = 'running' AND paused = 0;
    CREATE INDEX idx_runs_parent ON runs(parent_run_id) WHERE parent_run_id IS NOT NULL;
    CREATE INDEX idx_runs_session ON runs(session_id);
    CREATE TABLE ledger (
        run_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        record_json TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE commands (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        command_id TEXT NOT NULL UNIQUE,
        run_id TEXT NOT NULL,
        type TEXT NOT NULL,
        payload_json TEXT NOT NULL,
        ts TEXT NOT NULL,
        client_id TEXT
    );
    CREATE INDEX idx_commands_run_id ON commands(run_id);
    CREATE TABLE command_cursors (
        consumer_id TEXT PRIMARY KEY,
        cursor INTEGER NOT NULL,
        updated_at TEXT NOT NULL
    );
    -- Runs waiting on a timer that is not paused, by when it comes due (ns since the epoch).
    CREATE TABLE wait_index (
        run_id TEXT PRIMARY KEY,
        due_ns INTEGER NOT NULL
    );
    CREATE INDEX idx_wait_index_due ON wait_index(due_ns);",
    // 2: `GET /runs` filters (`query_runs`): one index per filter, each in list order so a
    // page is read off the index without sorting. The columns exist since 1 and every row
    // has them. The parent and session indexes of 1 become these wider ones.
    "DROP INDEX idx_runs_parent;
    DROP INDEX idx_runs_session;
    CREATE INDEX idx_runs_parent ON runs(parent_run_id, created_at DESC, run_id DESC)
        WHERE parent_run_id IS NOT NULL;
    CREATE INDEX idx_runs_root ON runs(created_at DESC, run_id DESC) WHERE parent_run_id IS NULL;
    CREATE INDEX idx_runs_session ON runs(session_id, created_at DESC, run_id DESC);
    CREATE INDEX idx_runs_status ON runs(status, created_at DESC, run_id DESC);
    CREATE INDEX idx_runs_workflow ON runs(workflow_id, created_at DESC, run_id DESC);",
];

/// Brings the database up to the newest schema this binary knows.
pub(super) fn migrate(conn: &Connection) -> Result<(), Failure> {
    conn.execute_batch("BEGIN IMMEDIATE")?;
    let result = apply_missing(conn);
    match &result {
        Ok(()) => conn.execute_batch("COMMIT")?,
        Err(_) => {
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    result
}

fn apply_missing(conn: &Connection) -> Result<(), Failure> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(Failure::Store(StoreError::Corrupt {
            path: String::new(),
            reason: format!(
                "schema version {version} is newer than this binary's {}: use a newer abstractgateway",
                MIGRATIONS.len()
            ),
        }));
    }
    for (done, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        conn.execute_batch(sql)?;
        conn.pragma_update(None, "user_version", i64::try_from(done + 1).unwrap_or(i64::MAX))?;
    }
    Ok(())
}

/// A run as a row: its JSON plus the columns queries select on.
pub(crate) struct RunRow {
    run_id: String,
    workflow_id: String,
    status: &'static str,
    wait_reason: Option<String>,
    wait_key: Option<String>,
    wait_until: Option<String>,
    paused: bool,
    parent_run_id: Option<String>,
    session_id: String,
    created_at: String,
    updated_at: String,
    json: String,
    /// When its timer comes due, for a run the runner would tick then (see `RunState::is_due`).
    due_ns: Option<i64>,
}

impl RunRow {
    pub(crate) fn new(run: &RunState) -> serde_json::Result<Self> {
        let wait = run.waiting.as_ref();
        Ok(Self {
            run_id: run.run_id.clone(),
            workflow_id: run.workflow_id.clone(),
            status: run.status.as_str(),
            wait_reason: wait.map(|w| w.reason.as_str().to_owned()),
            wait_key: wait.and_then(|w| w.wait_key.clone()),
            wait_until: wait.and_then(|w| w.until.clone()),
            paused: run.paused,
            parent_run_id: run.parent_run_id.clone(),
            session_id: run.session_id.clone(),
            created_at: run.created_at.clone(),
            updated_at: run.updated_at.clone(),
            json: serde_json::to_string(run)?,
            due_ns: due_ns(run),
        })
    }

    pub(super) fn run_id(&self) -> &str {
        &self.run_id
    }

    /// Inserts the row or replaces the stored one, keeping the timer index in step.
    pub(crate) fn upsert(&self, conn: &Connection) -> rusqlite::Result<()> {
        conn.prepare_cached(
            "INSERT INTO runs (run_id, workflow_id, status, wait_reason, wait_key, wait_until, paused,
                               parent_run_id, session_id, created_at, updated_at, run_json)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
             ON CONFLICT(run_id) DO UPDATE SET
                workflow_id = excluded.workflow_id, status = excluded.status,
                wait_reason = excluded.wait_reason, wait_key = excluded.wait_key,
                wait_until = excluded.wait_until, paused = excluded.paused,
                parent_run_id = excluded.parent_run_id, session_id = excluded.session_id,
                created_at = excluded.created_at, updated_at = excluded.updated_at,
                run_json = excluded.run_json",
        )?
        .execute(params![
            self.run_id,
            self.workflow_id,
            self.status,
            self.wait_reason,
            self.wait_key,
            self.wait_until,
            self.paused,
            self.parent_run_id,
            self.session_id,
            self.created_at,
            self.updated_at,
            self.json,
        ])?;
        match self.due_ns {
            Some(due) => conn
                .prepare_cached(
                    "INSERT INTO wait_index (run_id, due_ns) VALUES (?1, ?2)
                     ON CONFLICT(run_id) DO UPDATE SET due_ns = excluded.due_ns",
                )?
                .execute(params![self.run_id, due])?,
            None => conn.prepare_cached("DELETE FROM wait_index WHERE run_id = ?1")?.execute([&self.run_id])?,
        };
        Ok(())
    }
}

/// The instant `run`'s timer comes due, when the runner would tick it for that timer: a
/// timer without a readable time is due at once, as `Wait::is_due` says.
fn due_ns(run: &RunState) -> Option<i64> {
    let wait = run.waiting.as_ref().filter(|w| w.reason == agw_domain::run::WaitReason::Until)?;
    if run.status != RunStatus::Waiting || run.paused {
        return None;
    }
    let until = wait.until.as_deref().and_then(|u| chrono::DateTime::parse_from_rfc3339(u).ok());
    Some(match until {
        None => i64::MIN,
        Some(until) => until.timestamp_nanos_opt().unwrap_or(if until.timestamp() < 0 { i64::MIN } else { i64::MAX }),
    })
}

/// `now` as the timer index counts time.
pub(super) fn now_ns(now: chrono::DateTime<chrono::Utc>) -> i64 {
    now.timestamp_nanos_opt().unwrap_or(i64::MAX)
}
