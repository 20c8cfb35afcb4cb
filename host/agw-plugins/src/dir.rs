//! The operator's plugin directory: `*.wasm` components, their detached `*.wasm.sig`
//! signatures, and the policy (`plugins.toml`, `<stem>.toml`). [`PluginHost::load_dir`] loads
//! it; [`PluginHost::watch`] reloads it whenever one of those files changes.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

use notify::RecursiveMode;
use serde::Serialize;

use crate::policy::Policy;
use crate::{LoadProblem, LoadReport, PluginHost, PluginSource, signing};

/// How long the directory must be quiet before a reload: editors and `cp` write in steps.
const DEBOUNCE: Duration = Duration::from_millis(300);

/// What one directory load did.
#[derive(Debug, Clone, Serialize)]
pub struct DirReport {
    #[serde(flatten)]
    pub load: LoadReport,
    /// Wall time of the whole reload: scan, compile what changed, swap.
    pub elapsed: Duration,
}

impl DirReport {
    /// Logs the outcome (`what` says which load it was) and each plugin that did not load.
    pub fn log(&self, what: &str) {
        tracing::info!(
            loaded = self.load.loaded,
            compiled = self.load.compiled,
            cache_hits = self.load.cache_hits,
            elapsed_ms = self.elapsed.as_secs_f64() * 1000.0,
            "{what}"
        );
        for problem in &self.load.problems {
            tracing::warn!(plugin = %problem.label, reason = %problem.reason, "plugin not loaded");
        }
    }
}

/// The `.wasm` files of `dir` (sorted, with their `.sig` text when present); unreadable files
/// are reported, not fatal.
fn scan(dir: &Path) -> (Vec<PluginSource>, Vec<LoadProblem>) {
    let mut problems = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return (Vec::new(), problems) };
    let mut paths: Vec<PathBuf> =
        entries.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|e| e == "wasm")).collect();
    paths.sort();
    let mut sources = Vec::new();
    for path in paths {
        let Some(label) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else { continue };
        if label.starts_with('.') {
            continue;
        }
        match std::fs::read(&path) {
            Ok(bytes) => match signing::read_signature(&path) {
                Ok(signature) => sources.push(PluginSource::file(label, bytes).with_signature(signature)),
                Err(e) => problems.push(LoadProblem { label, reason: format!("cannot read its signature: {e}") }),
            },
            Err(e) => problems.push(LoadProblem { label, reason: format!("cannot read the file: {e}") }),
        }
    }
    (sources, problems)
}

impl PluginHost {
    /// Loads `first_party` plus every component in `dir` under the directory's policy.
    ///
    /// An invalid policy is an error and nothing changes: the plugins already loaded keep
    /// serving under the policy they were granted.
    pub fn load_dir(&self, dir: &Path, first_party: &[PluginSource]) -> Result<DirReport, crate::PolicyError> {
        let started = Instant::now();
        let policy = Policy::from_dir(dir)?;
        let (mut sources, unreadable) = scan(dir);
        // First-party plugins are checked like the others: their detached signature, if the
        // operator made one, is `<name>.wasm.sig` in the same directory.
        let first_party = first_party.iter().map(|source| {
            let signature = signing::read_signature(&dir.join(format!("{}.wasm", source.label))).ok().flatten();
            source.clone().with_signature(source.signature.clone().or(signature))
        });
        sources.splice(0..0, first_party);
        let mut load = self.load_with(sources, &policy);
        load.problems.extend(unreadable);
        Ok(DirReport { load, elapsed: started.elapsed() })
    }

    /// Watches `dir` and reloads it (with `first_party`) when a `.wasm`, `.wasm.sig` or
    /// `.toml` file changes, off the request path. Reloads are serialised; each builds the new
    /// set and swaps it in at once, so a tick sees either the old set or the new one.
    /// Dropping the returned [`DirWatcher`] stops watching.
    ///
    /// An event alone is no change: the watcher also reports reads (a reload reads every
    /// file, and would trigger the next one), so a reload happens only when the files'
    /// fingerprint (names, sizes and mtimes, then contents) differs from the one last seen.
    pub fn watch(&self, dir: &Path, first_party: Vec<PluginSource>) -> Result<DirWatcher, notify::Error> {
        let mut seen = Fingerprint::of(dir);
        let (events, received) = mpsc::channel();
        let mut debouncer = notify_debouncer_mini::new_debouncer(DEBOUNCE, events)?;
        debouncer.watcher().watch(dir, RecursiveMode::NonRecursive)?;
        let host = self.clone();
        let dir = dir.to_path_buf();
        let reloads = Arc::new(AtomicU64::new(0));
        let counter = reloads.clone();
        let thread = std::thread::Builder::new()
            .name("agw-plugin-watch".into())
            .spawn(move || {
                while let Ok(batch) = received.recv() {
                    match batch {
                        Ok(events) if !events.iter().any(|e| relevant(&e.path)) => continue,
                        Ok(_) => {}
                        Err(error) => tracing::warn!(%error, "plugin directory watch error; rescanning"),
                    }
                    if !seen.update(&dir) {
                        continue;
                    }
                    counter.fetch_add(1, Ordering::Relaxed);
                    match host.load_dir(&dir, &first_party) {
                        Ok(report) => report.log("plugins reloaded"),
                        Err(error) => {
                            tracing::error!(%error, "plugin policy invalid; nothing reloaded, the loaded plugins keep their grants")
                        }
                    }
                }
            })
            .map_err(notify::Error::io)?;
        Ok(DirWatcher { _debouncer: debouncer, _thread: thread, reloads })
    }
}

/// A file whose change means a reload: components, signatures, policies; not temp files.
fn relevant(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else { return false };
    !name.starts_with('.') && (name.ends_with(".wasm") || name.ends_with(".wasm.sig") || name.ends_with(".toml"))
}

/// What the relevant files of a directory hold: each name's size and mtime, which are cheap
/// to read, and the sha256 of its contents, read only when those changed (a `touch` changes
/// the mtime, not the plugin).
#[derive(Debug)]
struct Fingerprint {
    stats: BTreeMap<String, (u64, Option<SystemTime>)>,
    digests: BTreeMap<String, String>,
}

impl Fingerprint {
    fn of(dir: &Path) -> Self {
        let stats = stats(dir);
        Self { digests: digests(dir, &stats), stats }
    }

    /// Looks at `dir` again; true when a file's contents (or the set of files) changed.
    fn update(&mut self, dir: &Path) -> bool {
        let stats = stats(dir);
        if stats == self.stats {
            return false;
        }
        let digests = digests(dir, &stats);
        self.stats = stats;
        if digests == self.digests {
            return false;
        }
        self.digests = digests;
        true
    }
}

fn stats(dir: &Path) -> BTreeMap<String, (u64, Option<SystemTime>)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return BTreeMap::new() };
    entries
        .flatten()
        .map(|e| e.path())
        .filter(|path| relevant(path))
        .filter_map(|path| {
            // Follows symlinks, as loading does: a linked component changes with its target.
            let meta = std::fs::metadata(&path).ok()?;
            Some((path.file_name()?.to_string_lossy().into_owned(), (meta.len(), meta.modified().ok())))
        })
        .collect()
}

/// An unreadable file gets an empty digest: it still counts as there, and a later read
/// that succeeds is a change.
fn digests(dir: &Path, stats: &BTreeMap<String, (u64, Option<SystemTime>)>) -> BTreeMap<String, String> {
    stats
        .keys()
        .map(|name| {
            let digest = std::fs::read(dir.join(name)).map(|bytes| signing::sha256_hex(&bytes)).unwrap_or_default();
            (name.clone(), digest)
        })
        .collect()
}

/// Keeps a directory watched; dropping it stops the watcher, and the reload thread ends once
/// its channel closes.
pub struct DirWatcher {
    _debouncer: notify_debouncer_mini::Debouncer<notify::RecommendedWatcher>,
    _thread: std::thread::JoinHandle<()>,
    reloads: Arc<AtomicU64>,
}

impl DirWatcher {
    /// How many reloads the watcher has started (a refused policy counts too).
    pub fn reloads(&self) -> u64 {
        self.reloads.load(Ordering::Relaxed)
    }
}

impl std::fmt::Debug for DirWatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirWatcher").field("reloads", &self.reloads()).finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::relevant;
    use std::path::Path;

    #[test]
    fn only_components_signatures_and_policies_trigger_reloads() {
        for yes in ["a.wasm", "a.wasm.sig", "plugins.toml", "a.toml"] {
            assert!(relevant(Path::new(yes)), "{yes}");
        }
        for no in [".a.wasm.swp", "a.wasm~", "a.txt", ".a.wasm", "a.wasm.part"] {
            assert!(!relevant(Path::new(no)), "{no}");
        }
    }
}
