//! The file backend: the reference's data-dir layout.
//!
//! ```text
//! <data>/run_<id>.json         run state, replaced atomically (temp file, fsync, rename)
//! <data>/ledger_<id>.jsonl     one record a line, appended and fsynced once per tick
//! <data>/commands.jsonl        the inbox, appended under an exclusive file lock, fsynced
//! <data>/commands_cursor.json  the runner's position in the inbox
//! ```

mod runs;

pub(crate) use runs::write_atomic;

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use agw_domain::command::{Accepted, Command, NewCommand};
use agw_domain::record::StepRecord;
use agw_domain::run::RunState;

use crate::jsonl::{LineIndex, append_lines};
use crate::{RunPage, RunQuery, RunStore, StoreError, StoreResult, check_run_id};

/// Runs, ledgers and commands as plain files under one directory.
#[derive(Debug)]
pub struct FileStore {
    dir: PathBuf,
    /// fsync every write before it counts (power-loss safe); without it the OS page cache
    /// still makes writes survive a crash of the process.
    sync: bool,
    ledgers: Mutex<HashMap<String, LineIndex>>,
    inbox: Mutex<Inbox>,
    runs: runs::RunCache,
}

/// The command inbox as far as this process has read it.
#[derive(Debug, Default)]
struct Inbox {
    index: LineIndex,
    commands: Vec<Command>,
    by_id: HashMap<String, u64>,
}

impl FileStore {
    /// Opens (and creates) a store in `dir` that fsyncs every write.
    pub fn open(dir: impl Into<PathBuf>) -> StoreResult<Self> {
        Self::open_with_sync(dir, true)
    }

    /// Opens a store; `sync: false` skips fsync (see the durability notes in ARCHITECTURE.md).
    /// Removes the temp files that writes cut short by a crash left behind
    /// (`crate::stale`).
    pub fn open_with_sync(dir: impl Into<PathBuf>, sync: bool) -> StoreResult<Self> {
        let dir = dir.into();
        std::fs::create_dir_all(&dir).map_err(|e| StoreError::io(&dir, e))?;
        crate::stale::sweep(&dir);
        Ok(Self { dir, sync, ledgers: Mutex::default(), inbox: Mutex::default(), runs: runs::RunCache::default() })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ledger_path(&self, run_id: &str) -> PathBuf {
        self.dir.join(format!("ledger_{run_id}.jsonl"))
    }

    fn inbox_path(&self) -> PathBuf {
        self.dir.join("commands.jsonl")
    }

    /// Reads commands appended since the last look (possibly by another process).
    fn refresh_inbox(&self, inbox: &mut Inbox) -> StoreResult<()> {
        let path = self.inbox_path();
        let before = inbox.index.len();
        inbox.index.refresh(&path)?;
        for line in inbox.index.read_lines(&path, before, inbox.index.len())? {
            let command: Command = serde_json::from_slice(&line).map_err(|e| corrupt(&path, e))?;
            inbox.by_id.insert(command.command_id.clone(), command.seq);
            inbox.commands.push(command);
        }
        Ok(())
    }
}

fn corrupt(path: &Path, reason: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt { path: path.display().to_string(), reason: reason.to_string() }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding the lock leaves plain data behind; keep serving.
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RunStore for FileStore {
    fn create_run(&self, run: &RunState) -> StoreResult<()> {
        check_run_id(&run.run_id)?;
        if self.run_path(&run.run_id).exists() {
            return Err(StoreError::RunExists(run.run_id.clone()));
        }
        self.write_run(run)
    }

    fn save_run(&self, run: &RunState) -> StoreResult<()> {
        check_run_id(&run.run_id)?;
        self.write_run(run)
    }

    fn load_run(&self, run_id: &str) -> StoreResult<Option<RunState>> {
        if check_run_id(run_id).is_err() {
            return Ok(None);
        }
        self.read_run(run_id)
    }

    fn list_runs(&self) -> StoreResult<Vec<RunState>> {
        self.scan_runs()
    }

    fn query_runs(&self, query: &RunQuery) -> StoreResult<RunPage> {
        self.query_cached(query)
    }

    fn append_ledger(&self, run_id: &str, records: &[StepRecord]) -> StoreResult<u64> {
        check_run_id(run_id)?;
        let path = self.ledger_path(run_id);
        let mut ledgers = lock(&self.ledgers);
        let index = ledgers.entry(run_id.to_owned()).or_default();
        index.refresh(&path)?;
        let lines =
            records.iter().map(serde_json::to_vec).collect::<Result<Vec<_>, _>>().map_err(|e| corrupt(&path, e))?;
        append_lines(&path, &lines, index, self.sync)?;
        index.refresh(&path)?;
        Ok(index.len())
    }

    fn ledger_len(&self, run_id: &str) -> StoreResult<u64> {
        if check_run_id(run_id).is_err() {
            return Ok(0);
        }
        let path = self.ledger_path(run_id);
        let mut ledgers = lock(&self.ledgers);
        let index = ledgers.entry(run_id.to_owned()).or_default();
        index.refresh(&path)?;
        Ok(index.len())
    }

    fn read_ledger(&self, run_id: &str, after: u64, limit: usize) -> StoreResult<Vec<StepRecord>> {
        if check_run_id(run_id).is_err() {
            return Ok(Vec::new());
        }
        let path = self.ledger_path(run_id);
        let lines = {
            let mut ledgers = lock(&self.ledgers);
            let index = ledgers.entry(run_id.to_owned()).or_default();
            index.refresh(&path)?;
            index.read_lines(&path, after, after.saturating_add(limit as u64))?
        };
        lines.iter().map(|l| serde_json::from_slice(l).map_err(|e| corrupt(&path, e))).collect()
    }

    fn append_command(&self, command: NewCommand) -> StoreResult<Accepted> {
        let path = self.inbox_path();
        let mut inbox = lock(&self.inbox);
        // Another process (a second API server) may append too: hold the file lock across
        // read-check-append so sequence numbers and idempotency hold between processes.
        let guard = OpenOptions::new().create(true).append(true).open(&path).map_err(|e| StoreError::io(&path, e))?;
        guard.lock().map_err(|e| StoreError::io(&path, e))?;
        self.refresh_inbox(&mut inbox)?;
        if let Some(&seq) = inbox.by_id.get(&command.command_id) {
            return Ok(Accepted { seq, duplicate: true });
        }
        let seq = inbox.commands.last().map_or(0, |c| c.seq) + 1;
        let command = command.with_seq(seq);
        let line = serde_json::to_vec(&command).map_err(|e| corrupt(&path, e))?;
        append_lines(&path, &[line], &inbox.index, self.sync)?;
        self.refresh_inbox(&mut inbox)?;
        drop(guard);
        Ok(Accepted { seq, duplicate: false })
    }

    fn commands_after(&self, after: u64, limit: usize) -> StoreResult<Vec<Command>> {
        let mut inbox = lock(&self.inbox);
        self.refresh_inbox(&mut inbox)?;
        let start = inbox.commands.partition_point(|c| c.seq <= after);
        Ok(inbox.commands[start..].iter().take(limit).cloned().collect())
    }

    fn command_cursor(&self) -> StoreResult<u64> {
        let path = self.dir.join("commands_cursor.json");
        match std::fs::read(&path) {
            Ok(bytes) => {
                let value: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| corrupt(&path, e))?;
                Ok(value.get("seq").and_then(serde_json::Value::as_u64).unwrap_or(0))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    fn set_command_cursor(&self, seq: u64) -> StoreResult<()> {
        let path = self.dir.join("commands_cursor.json");
        runs::write_atomic(&path, serde_json::json!({ "seq": seq }).to_string().as_bytes(), self.sync)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each fresh location is a new folder; its opener opens handles on that folder.
    fn locations(root: &Path, sync: bool) -> impl Fn() -> crate::conformance::Opener {
        let root = root.to_owned();
        let counter = std::sync::atomic::AtomicUsize::new(0);
        move || {
            let dir = root.join(counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed).to_string());
            Box::new(move || Box::new(FileStore::open_with_sync(&dir, sync).expect("open")) as Box<dyn RunStore>)
        }
    }

    #[test]
    fn conformance_without_fsync() {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::conformance::run_all(&locations(dir.path(), false));
    }

    #[test]
    fn conformance() {
        let dir = tempfile::tempdir().expect("tempdir");
        crate::conformance::run_all(&locations(dir.path(), true));
    }

    #[test]
    fn torn_ledger_tail_is_invisible_then_repaired() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        let records = crate::conformance::sample_records("r1", 2);
        store.append_ledger("r1", &records).expect("append");
        // A crash mid-write leaves half a line behind.
        let path = dir.path().join("ledger_r1.jsonl");
        let mut file = OpenOptions::new().append(true).open(&path).expect("open ledger");
        std::io::Write::write_all(&mut file, b"{\"run_id\": \"r1\", \"step_").expect("tear");
        let fresh = FileStore::open(dir.path()).expect("reopen");
        assert_eq!(fresh.ledger_len("r1").expect("len"), 2);
        assert_eq!(fresh.read_ledger("r1", 0, 10).expect("read"), records);
        // The next append cuts the torn bytes instead of gluing a record to them.
        let more = crate::conformance::sample_records("r1", 1);
        assert_eq!(fresh.append_ledger("r1", &more).expect("append"), 3);
        let text = std::fs::read_to_string(&path).expect("read file");
        assert_eq!(text.lines().count(), 3);
        assert!(text.lines().all(|l| serde_json::from_str::<serde_json::Value>(l).is_ok()));
    }

    #[test]
    fn torn_command_tail_is_not_a_command() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        store.append_command(crate::conformance::new_command("c1", "r1")).expect("append");
        let mut file = OpenOptions::new().append(true).open(dir.path().join("commands.jsonl")).expect("open");
        std::io::Write::write_all(&mut file, b"{\"seq\": 2, \"comm").expect("tear");
        let fresh = FileStore::open(dir.path()).expect("reopen");
        assert_eq!(fresh.commands_after(0, 10).expect("read").len(), 1);
        let next = fresh.append_command(crate::conformance::new_command("c2", "r1")).expect("append");
        assert_eq!(next, Accepted { seq: 2, duplicate: false });
        assert_eq!(fresh.commands_after(0, 10).expect("read").len(), 2);
    }

    #[test]
    fn hostile_run_ids_never_touch_the_filesystem() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FileStore::open(dir.path()).expect("open");
        assert!(store.load_run("../../etc/passwd").expect("load").is_none());
        assert_eq!(store.ledger_len("../x").expect("len"), 0);
    }
}
