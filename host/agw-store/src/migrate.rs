//! `abstractgateway migrate --from=file --to=sqlite`: copies a file-backend data dir's runs,
//! ledgers, commands and command cursor into a new SQLite database.
//!
//! The files are only read. The database is built next to its final path and renamed into
//! place once complete and checked, so an interrupted migration leaves no half-filled
//! database for a gateway to serve.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use agw_domain::command::NewCommand;
use agw_domain::record::StepRecord;
use rusqlite::Connection;

use crate::jsonl::LineIndex;
use crate::sqlite::{self, DbPathError, Failure, RunRow};
use crate::{FileStore, RunStore, StoreError, check_run_id};

/// Runs copied per transaction (and per progress report).
pub const CHUNK_RUNS: usize = 500;
/// Ledger lines read at a time.
const LEDGER_PAGE: u64 = 5000;

/// How far a migration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub runs_done: u64,
    pub runs_total: u64,
    pub ledger_records: u64,
}

/// What a migration copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The database, resolved.
    pub db_path: PathBuf,
    pub runs: u64,
    pub ledger_records: u64,
    pub commands: u64,
    /// The runner's position in the inbox.
    pub cursor: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("data dir {0} does not exist")]
    NoDataDir(String),
    #[error(transparent)]
    DbPath(#[from] DbPathError),
    #[error("database {0} already exists; pass --overwrite to replace it")]
    Exists(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the copy does not add up: {what}: {files} in the files, {rows} in the database")]
    Mismatch { what: &'static str, files: u64, rows: u64 },
}

/// Copies the file store in `data_dir` into a new database at `db_path` (inside the data
/// dir). Refuses an existing database unless `overwrite`. Calls `progress` after every
/// [`CHUNK_RUNS`] runs (and after the last, fewer).
pub fn file_to_sqlite(
    data_dir: &Path,
    db_path: &Path,
    overwrite: bool,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Report, MigrateError> {
    if !data_dir.is_dir() {
        return Err(MigrateError::NoDataDir(data_dir.display().to_string()));
    }
    let db = crate::db_path_inside(data_dir, db_path)?;
    let companions: Vec<PathBuf> = ["", "-wal", "-shm", "-journal"].iter().map(|s| suffixed(&db, s)).collect();
    if !overwrite && companions.iter().any(|p| p.exists()) {
        return Err(MigrateError::Exists(db.display().to_string()));
    }
    let tmp = suffixed(&db, ".migrating");
    for stale in [tmp.clone(), suffixed(&tmp, "-journal")] {
        remove_if_exists(&stale)?;
    }
    if let Some(parent) = db.parent() {
        std::fs::create_dir_all(parent).map_err(|e| StoreError::io(parent, e))?;
    }

    let copied = copy_into(data_dir, &tmp, progress);
    let report = match copied {
        Ok(report) => report,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| StoreError::io(&tmp, e))?;
    for old in &companions {
        remove_if_exists(old)?;
    }
    std::fs::rename(&tmp, &db).map_err(|e| StoreError::io(&db, e))?;
    if let Some(parent) = db.parent() {
        std::fs::File::open(parent).and_then(|d| d.sync_all()).map_err(|e| StoreError::io(parent, e))?;
    }
    Ok(Report { db_path: db, ..report })
}

fn copy_into(data_dir: &Path, tmp: &Path, progress: &mut dyn FnMut(&Progress)) -> Result<Report, MigrateError> {
    let label = tmp.display().to_string();
    let sql = |f: Failure| f.into_store(&label);
    let files = FileStore::open_with_sync(data_dir, false)?;
    let conn = sqlite::create_for_import(tmp)?;
    let (run_ids, ledger_ids) = list_ids(data_dir)?;
    let mut done = Progress { runs_done: 0, runs_total: run_ids.len() as u64, ledger_records: 0 };

    for chunk in run_ids.chunks(CHUNK_RUNS) {
        let tx = conn.unchecked_transaction().map_err(|e| sql(e.into()))?;
        for run_id in chunk {
            // A run file that cannot be read stops the migration: dropping it would lose it.
            let run = files.load_run(run_id)?.ok_or_else(|| StoreError::RunNotFound(run_id.clone()))?;
            RunRow::new(&run).map_err(|e| sql(e.into()))?.upsert(&tx).map_err(|e| sql(e.into()))?;
            if ledger_ids.binary_search(run_id).is_ok() {
                done.ledger_records += copy_ledger(data_dir, &tx, run_id, &label)?;
            }
            done.runs_done += 1;
        }
        tx.commit().map_err(|e| sql(e.into()))?;
        progress(&done);
    }
    // A ledger without its run file should not exist; copy it all the same.
    let tx = conn.unchecked_transaction().map_err(|e| sql(e.into()))?;
    for run_id in ledger_ids.iter().filter(|id| run_ids.binary_search(id).is_err()) {
        done.ledger_records += copy_ledger(data_dir, &tx, run_id, &label)?;
    }
    let commands = files.commands_after(0, usize::MAX)?;
    for command in &commands {
        let new = NewCommand {
            command_id: command.command_id.clone(),
            run_id: command.run_id.clone(),
            kind: command.kind.clone(),
            payload: command.payload.clone(),
            ts: command.ts.clone(),
            client_id: command.client_id.clone(),
        };
        sqlite::insert_command(&tx, &new, Some(command.seq)).map_err(sql)?;
    }
    let cursor = files.command_cursor()?;
    sqlite::set_cursor(&tx, cursor).map_err(sql)?;
    tx.commit().map_err(|e| sql(e.into()))?;

    let report = Report {
        db_path: tmp.to_owned(),
        runs: done.runs_done,
        ledger_records: done.ledger_records,
        commands: commands.len() as u64,
        cursor,
    };
    check_counts(&conn, &report).map_err(|e| match e {
        Check::Mismatch(m) => m,
        Check::Sql(e) => sql(e.into()).into(),
    })?;
    Ok(report)
}

enum Check {
    Mismatch(MigrateError),
    Sql(rusqlite::Error),
}

/// Counts what landed in the database against what was read from the files.
fn check_counts(conn: &Connection, report: &Report) -> Result<(), Check> {
    let count = |sql: &str| conn.query_row(sql, [], |row| row.get::<_, i64>(0)).map_err(Check::Sql);
    let cursor = count("SELECT COALESCE(MAX(cursor), 0) FROM command_cursors")?;
    for (what, files, rows) in [
        ("runs", report.runs, count("SELECT COUNT(*) FROM runs")?),
        ("ledger records", report.ledger_records, count("SELECT COUNT(*) FROM ledger")?),
        ("commands", report.commands, count("SELECT COUNT(*) FROM commands")?),
        ("command cursor", report.cursor, cursor),
    ] {
        let rows = u64::try_from(rows).unwrap_or(0);
        if files != rows {
            return Err(Check::Mismatch(MigrateError::Mismatch { what, files, rows }));
        }
    }
    Ok(())
}

/// Copies one ledger's complete lines as they are (a torn tail is not a record), checking
/// that each is a record the gateway can read.
fn copy_ledger(data_dir: &Path, conn: &Connection, run_id: &str, label: &str) -> Result<u64, MigrateError> {
    let path = data_dir.join(format!("ledger_{run_id}.jsonl"));
    let mut index = LineIndex::default();
    index.refresh(&path)?;
    let mut after = 0;
    while after < index.len() {
        let lines = index.read_lines(&path, after, after + LEDGER_PAGE)?;
        let mut texts = Vec::with_capacity(lines.len());
        for (i, line) in lines.into_iter().enumerate() {
            let corrupt = |reason: String| StoreError::Corrupt {
                path: path.display().to_string(),
                reason: format!("line {}: {reason}", after + i as u64 + 1),
            };
            serde_json::from_slice::<StepRecord>(&line).map_err(|e| corrupt(e.to_string()))?;
            texts.push(String::from_utf8(line).map_err(|e| corrupt(e.to_string()))?);
        }
        let len = sqlite::append_records(conn, run_id, &texts).map_err(|f| f.into_store(label))?;
        if len != after + texts.len() as u64 {
            return Err(MigrateError::Mismatch {
                what: "ledger position",
                files: after + texts.len() as u64,
                rows: len,
            });
        }
        after = len;
    }
    Ok(after)
}

/// The run ids with a run file and those with a ledger file, each sorted.
fn list_ids(data_dir: &Path) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let mut runs = Vec::new();
    let mut ledgers = Vec::new();
    for entry in std::fs::read_dir(data_dir).map_err(|e| StoreError::io(data_dir, e))? {
        let entry = entry.map_err(|e| StoreError::io(data_dir, e))?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let (list, id) = if let Some(id) = name.strip_prefix("run_").and_then(|n| n.strip_suffix(".json")) {
            (&mut runs, id)
        } else if let Some(id) = name.strip_prefix("ledger_").and_then(|n| n.strip_suffix(".jsonl")) {
            (&mut ledgers, id)
        } else {
            continue;
        };
        if check_run_id(id).is_ok() {
            list.push(id.to_owned());
        }
    }
    runs.sort();
    ledgers.sort();
    Ok((runs, ledgers))
}

fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(suffix);
    PathBuf::from(name)
}

fn remove_if_exists(path: &Path) -> Result<(), StoreError> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StoreError::io(path, e)),
        _ => Ok(()),
    }
}
