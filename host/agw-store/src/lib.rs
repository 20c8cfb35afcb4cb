//! Durable storage: runs, ledgers and the command inbox behind one trait ([`RunStore`]) with
//! two backends, [`FileStore`] (the reference's file layout) and [`SqliteStore`], and
//! [`migrate`] from one to the other; plus the bundle catalog read from disk, uploaded
//! bundles and run artifacts.
//!
//! Every backend must pass [`conformance`], the one suite that defines what a store does.

pub mod artifacts;
pub mod bundles;
pub mod conformance;
mod file;
mod jsonl;
pub mod migrate;
mod query;
mod sqlite;
mod stale;
pub mod uploads;

use agw_domain::command::{Accepted, Command, NewCommand};
use agw_domain::record::StepRecord;
use agw_domain::run::RunState;
use chrono::{DateTime, Utc};

pub use artifacts::{ArtifactError, ArtifactExtra, ArtifactMeta, ArtifactStore, store_flow_snapshot};
pub use bundles::{BundleCatalog, BundleSources, CatalogError, LoadedBundle, SharedCatalog, SkippedBundle};
pub use file::FileStore;
pub use query::{RunPage, RunQuery};
pub use sqlite::{DbPathError, SqliteStore, db_path_inside};
pub use uploads::{Installed, UploadError, install_upload};

/// What went wrong in a store. Callers decide on the variant, never on the text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("run '{0}' already exists")]
    RunExists(String),
    #[error("run '{0}' not found")]
    RunNotFound(String),
    #[error("I/O error on {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("corrupt data in {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("database error on {path}: {reason}")]
    Database { path: String, reason: String },
    /// A run's artifacts (its flow snapshot) could not be written or read.
    #[error(transparent)]
    Artifact(#[from] ArtifactError),
}

impl StoreError {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Self::Io { path: path.display().to_string(), source }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// Runs, their ledgers and the command inbox.
///
/// Ledgers are append-only; a record once returned by `read_ledger` never changes. Run
/// state writes are atomic: a reader sees the old state or the new one, never a mix.
pub trait RunStore: Send + Sync {
    /// Stores a new run; refuses an id that exists.
    fn create_run(&self, run: &RunState) -> StoreResult<()>;
    /// Replaces a run's state atomically.
    fn save_run(&self, run: &RunState) -> StoreResult<()>;
    fn load_run(&self, run_id: &str) -> StoreResult<Option<RunState>>;
    /// Every run, newest first.
    fn list_runs(&self) -> StoreResult<Vec<RunState>>;
    /// The page of runs `query` asks for, in [`list_runs`](Self::list_runs)' order. Backends
    /// answer from an index; this default filters the full list.
    fn query_runs(&self, query: &RunQuery) -> StoreResult<RunPage> {
        let (runs, has_more) = query.page(self.list_runs()?.into_iter().filter(|r| query.matches(r)));
        Ok(RunPage { runs, has_more })
    }

    /// Appends records durably; returns the new ledger length.
    fn append_ledger(&self, run_id: &str, records: &[StepRecord]) -> StoreResult<u64>;
    fn ledger_len(&self, run_id: &str) -> StoreResult<u64>;
    /// Up to `limit` records after the first `after` ones.
    fn read_ledger(&self, run_id: &str, after: u64, limit: usize) -> StoreResult<Vec<StepRecord>>;

    /// Appends a command durably, or returns the original on a repeated `command_id`.
    fn append_command(&self, command: NewCommand) -> StoreResult<Accepted>;
    /// Up to `limit` commands with `seq > after`, in order.
    fn commands_after(&self, after: u64, limit: usize) -> StoreResult<Vec<Command>>;
    /// The sequence number of the last command the runner has fully handled.
    fn command_cursor(&self) -> StoreResult<u64>;
    fn set_command_cursor(&self, seq: u64) -> StoreResult<()>;

    /// The runs waiting on exactly `wait_key`, newest first.
    fn waiting_on(&self, wait_key: &str) -> StoreResult<Vec<String>> {
        let waits_on = |run: &RunState| run.waiting.as_ref().and_then(|w| w.wait_key.as_deref()) == Some(wait_key);
        Ok(self.list_runs()?.into_iter().filter(waits_on).map(|r| r.run_id).collect())
    }

    /// The runs the runner should tick at `now` (runnable, or a timer come due), newest first.
    fn active_runs(&self, now: DateTime<Utc>) -> StoreResult<Vec<String>> {
        let active = |run: &RunState| run.is_runnable() || run.is_due(now);
        Ok(self.list_runs()?.into_iter().filter(active).map(|r| r.run_id).collect())
    }
}

/// A run id becomes part of a file name (and a path in the API): every backend refuses
/// anything but plain ids, so both answer the same.
pub(crate) fn check_run_id(run_id: &str) -> StoreResult<()> {
    let ok = !run_id.is_empty()
        && run_id.len() <= 128
        && run_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok { Ok(()) } else { Err(StoreError::RunNotFound(run_id.to_owned())) }
}

/// Brings a run's ledger in line with its checkpoint after a crash: appends whatever part
/// of the checkpoint's outbox the ledger does not hold yet. Returns the ledger length.
pub fn reconcile_outbox(store: &dyn RunStore, run: &RunState) -> StoreResult<u64> {
    let len = store.ledger_len(&run.run_id)?;
    let committed = run.committed_ledger_len();
    if len >= committed || len < run.ledger_base {
        return Ok(len);
    }
    let missing = &run.outbox[(len - run.ledger_base) as usize..];
    store.append_ledger(&run.run_id, missing)
}

/// The ledger as `run`'s checkpoint committed it: the stored records, followed by the part of
/// the checkpoint's outbox the store does not hold yet. Readers use this so that a run whose
/// state says "completed" never shows a ledger without its final records, even in the
/// moment between the runner saving the state and appending the outbox.
///
/// The outbox part is held back while a child run the checkpoint spawns does not exist yet:
/// its records name the child (`sub_run_id`), and a client that follows the name must find
/// it. The runner creates the children before it appends the records, so the stored ledger
/// never names a missing child.
pub fn read_committed(store: &dyn RunStore, run: &RunState, after: u64, limit: usize) -> StoreResult<Vec<StepRecord>> {
    let mut records = store.read_ledger(&run.run_id, after, limit)?;
    let mut next = after + records.len() as u64;
    if records.len() < limit && next < run.committed_ledger_len() && !children_exist(store, run)? {
        return Ok(records);
    }
    while records.len() < limit && next < run.committed_ledger_len() && next >= run.ledger_base {
        match run.outbox.get((next - run.ledger_base) as usize) {
            Some(record) => records.push(record.clone()),
            None => break,
        }
        next += 1;
    }
    Ok(records)
}

fn children_exist(store: &dyn RunStore, run: &RunState) -> StoreResult<bool> {
    for spawn in &run.spawns {
        if store.load_run(&spawn.run_id)?.is_none() {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The length of the ledger as committed (see [`read_committed`]).
pub fn committed_len(store: &dyn RunStore, run: &RunState) -> StoreResult<u64> {
    Ok(store.ledger_len(&run.run_id)?.max(run.committed_ledger_len()))
}
