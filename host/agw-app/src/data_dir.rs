//! Every path under the data dir, named once.
//!
//! ```text
//! <data>/run_<id>.json, ledger_<id>.jsonl, commands.jsonl   the file store (agw-store)
//! <data>/gateway.sqlite3                                    the SQLite store (default path)
//! <data>/gateway_runner.lock                                the runner lock
//! <data>/artifacts/                                         artifacts and flow snapshots
//! <data>/bundles/                                           uploaded bundles
//! <data>/workspaces/<run_id>/                               each run's workspace
//! <data>/plugins/, plugin-cache/                            plugins and their compiled code
//! <data>/audit_log.jsonl                                    the HTTP audit log
//! ```

use std::path::PathBuf;

/// The data dir of one gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The SQLite database when no other path is configured.
    pub fn default_db(&self) -> PathBuf {
        self.root.join("gateway.sqlite3")
    }

    /// The lock one runner per data dir holds.
    pub fn runner_lock(&self) -> PathBuf {
        self.root.join("gateway_runner.lock")
    }

    /// The artifact store.
    pub fn artifacts(&self) -> PathBuf {
        self.root.join("artifacts")
    }

    /// Bundles uploaded over HTTP.
    pub fn uploads(&self) -> PathBuf {
        self.root.join("bundles")
    }

    /// The folder holding every run's workspace.
    pub fn workspaces(&self) -> PathBuf {
        self.root.join("workspaces")
    }

    /// The workspace of one run.
    pub fn workspace(&self, run_id: &str) -> PathBuf {
        self.workspaces().join(run_id)
    }

    /// The plugins directory when no other is configured.
    pub fn default_plugins(&self) -> PathBuf {
        self.root.join("plugins")
    }

    /// Compiled plugin code, keyed by the engine's fingerprint.
    pub fn plugin_cache(&self) -> PathBuf {
        self.root.join("plugin-cache")
    }

    /// The live HTTP audit log (rotated copies sit beside it).
    pub fn audit_log(&self) -> PathBuf {
        self.root.join("audit_log.jsonl")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_is_inside_the_data_dir_and_distinct() {
        let dir = DataDir::new("/srv/agw");
        let paths = [
            dir.default_db(),
            dir.runner_lock(),
            dir.artifacts(),
            dir.uploads(),
            dir.workspaces(),
            dir.workspace("r1"),
            dir.default_plugins(),
            dir.plugin_cache(),
            dir.audit_log(),
        ];
        for path in &paths {
            assert!(path.starts_with("/srv/agw"), "{}", path.display());
        }
        let distinct: std::collections::HashSet<_> = paths.iter().collect();
        assert_eq!(distinct.len(), paths.len());
        assert_eq!(dir.workspace("r1"), PathBuf::from("/srv/agw/workspaces/r1"));
    }
}
