//! Run state files: atomic replacement, and a listing cache keyed by file metadata so the
//! runner's frequent scans and `GET /runs` queries only parse what changed (also when another
//! process wrote it). A query filters the cached runs in place and clones only its page; it
//! still lists the directory and stats every run file to notice other processes' writes.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::SystemTime;

use agw_domain::run::RunState;

use super::{FileStore, corrupt, lock};
use crate::{RunPage, RunQuery, StoreError, StoreResult};

#[derive(Debug, Default)]
pub(super) struct RunCache {
    entries: Mutex<HashMap<PathBuf, (SystemTime, u64, RunState)>>,
}

/// Writes `bytes` to `path` so that readers see the old file or the new one, never a mix.
/// With `sync`, the new one also survives a power loss once this returns.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8], sync: bool) -> StoreResult<()> {
    let io = |e| StoreError::io(path, e);
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
    let mut file = std::fs::File::create(&tmp).map_err(io)?;
    file.write_all(bytes).map_err(io)?;
    if sync {
        file.sync_data().map_err(io)?;
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    if sync {
        // The rename itself lives in the directory: make it durable too.
        if let Some(dir) = path.parent() {
            std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
    }
    Ok(())
}

impl FileStore {
    pub(super) fn run_path(&self, run_id: &str) -> PathBuf {
        self.dir.join(format!("run_{run_id}.json"))
    }

    pub(super) fn write_run(&self, run: &RunState) -> StoreResult<()> {
        let path = self.run_path(&run.run_id);
        let bytes = serde_json::to_vec(run).map_err(|e| corrupt(&path, e))?;
        write_atomic(&path, &bytes, self.sync)
    }

    pub(super) fn read_run(&self, run_id: &str) -> StoreResult<Option<RunState>> {
        let path = self.run_path(run_id);
        match std::fs::metadata(&path) {
            Ok(meta) => self.parse_cached(&path, &meta).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::io(&path, e)),
        }
    }

    fn parse_cached(&self, path: &Path, meta: &std::fs::Metadata) -> StoreResult<RunState> {
        self.refresh_one(path, meta)?;
        // Entries are never removed, so the one just checked is there.
        lock(&self.runs.entries).get(path).map(|(_, _, run)| run.clone()).ok_or_else(|| corrupt(path, "not cached"))
    }

    /// Brings the cache in line with the run files on disk, parsing only the files that
    /// changed since the last look; returns the paths of the readable runs there now.
    fn refresh_runs(&self) -> StoreResult<Vec<PathBuf>> {
        let entries = std::fs::read_dir(&self.dir).map_err(|e| StoreError::io(&self.dir, e))?;
        let mut paths = Vec::new();
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            if !(name.starts_with("run_") && name.ends_with(".json")) {
                continue;
            }
            let Ok(meta) = entry.metadata() else { continue };
            let path = entry.path();
            match self.refresh_one(&path, &meta) {
                Ok(()) => paths.push(path),
                // One unreadable file must not hide every other run.
                Err(e) => tracing::warn!(error = %e, "skipping unreadable run file"),
            }
        }
        Ok(paths)
    }

    /// Parses `path` into the cache unless the cached copy has the file's stamp.
    fn refresh_one(&self, path: &Path, meta: &std::fs::Metadata) -> StoreResult<()> {
        let stamp = (meta.modified().unwrap_or(SystemTime::UNIX_EPOCH), meta.len());
        if lock(&self.runs.entries).get(path).is_some_and(|(modified, len, _)| (*modified, *len) == stamp) {
            return Ok(());
        }
        let bytes = std::fs::read(path).map_err(|e| StoreError::io(path, e))?;
        let run: RunState = serde_json::from_slice(&bytes).map_err(|e| corrupt(path, e))?;
        lock(&self.runs.entries).insert(path.to_owned(), (stamp.0, stamp.1, run));
        Ok(())
    }

    /// The cached runs at `paths` that `keep` accepts, newest first, borrowed from the cache
    /// while `with` looks at them.
    fn with_runs<T>(
        &self,
        paths: &[PathBuf],
        keep: impl Fn(&RunState) -> bool,
        with: impl FnOnce(Vec<&RunState>) -> T,
    ) -> T {
        let entries = lock(&self.runs.entries);
        let mut runs: Vec<&RunState> =
            paths.iter().filter_map(|p| entries.get(p)).map(|(_, _, run)| run).filter(|r| keep(r)).collect();
        runs.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| b.run_id.cmp(&a.run_id)));
        with(runs)
    }

    pub(super) fn scan_runs(&self) -> StoreResult<Vec<RunState>> {
        let paths = self.refresh_runs()?;
        Ok(self.with_runs(&paths, |_| true, |runs| runs.into_iter().cloned().collect()))
    }

    /// Filters and pages the cached runs; only the page is cloned, and only changed files
    /// are parsed.
    pub(super) fn query_cached(&self, query: &RunQuery) -> StoreResult<RunPage> {
        let paths = self.refresh_runs()?;
        let (runs, has_more) = self.with_runs(
            &paths,
            |r| query.matches(r),
            |runs| {
                let (page, has_more) = query.page(runs);
                (page.into_iter().cloned().collect(), has_more)
            },
        );
        Ok(RunPage { runs, has_more })
    }
}
