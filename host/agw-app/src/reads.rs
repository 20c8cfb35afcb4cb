//! Reading runs, ledgers and artifacts. A ledger is read as the run's stored state committed
//! it (`agw_store::read_committed`): a reader who sees a terminal run gets its final records.

use std::collections::{HashMap, HashSet, VecDeque};

use agw_domain::record::StepRecord;
use std::sync::Arc;

use agw_domain::run::{FlowRef, RunState};
use agw_store::{ArtifactMeta, BundleCatalog, LoadedBundle, RunPage, RunQuery};

use crate::App;
use crate::error::{AppError, AppResult};

/// One run of a page, with the length of its committed ledger.
#[derive(Debug, Clone)]
pub struct ListedRun {
    pub run: RunState,
    pub ledger_len: u64,
}

/// A page of runs, newest first.
#[derive(Debug, Clone)]
pub struct Listed {
    pub runs: Vec<ListedRun>,
    pub has_more: bool,
}

/// Records of one ledger after a cursor.
#[derive(Debug, Clone)]
pub struct LedgerPage {
    pub items: Vec<StepRecord>,
    /// The cursor to ask from next.
    pub next_after: u64,
}

/// A run's state and the ledger records it committed after a cursor.
#[derive(Debug, Clone)]
pub struct Progress {
    pub run: RunState,
    pub records: Vec<StepRecord>,
}

/// One run of a history: its committed ledger (or its tail) and its artifacts.
#[derive(Debug, Clone)]
pub struct RunHistory {
    pub run: RunState,
    /// Records the run committed in all.
    pub total: u64,
    /// How many leading records were left out (a tail window).
    pub skipped: u64,
    pub records: Vec<StepRecord>,
    pub artifacts: Vec<ArtifactMeta>,
}

/// The most runs a history holds (the root and its descendants).
const MAX_HISTORY_RUNS: usize = 5000;

impl App {
    /// The run `run_id`.
    pub fn run(&self, run_id: &str) -> AppResult<RunState> {
        self.store.load_run(run_id)?.ok_or_else(|| AppError::RunNotFound(run_id.to_owned()))
    }

    /// The page of runs `query` selects, filtered and paged by the store.
    pub fn runs(&self, query: &RunQuery) -> AppResult<Listed> {
        let RunPage { runs, has_more } = self.store.query_runs(query)?;
        let runs = runs
            .into_iter()
            .map(|run| Ok(ListedRun { ledger_len: agw_store::committed_len(self.store.as_ref(), &run)?, run }))
            .collect::<AppResult<_>>()?;
        Ok(Listed { runs, has_more })
    }

    /// Up to `limit` committed records of `run_id`'s ledger after `after`.
    pub fn ledger(&self, run_id: &str, after: u64, limit: usize) -> AppResult<LedgerPage> {
        let run = self.run(run_id)?;
        self.page(&run, after, limit)
    }

    /// A page of each listed ledger, in the order asked; a run that does not exist is left
    /// out, and a run named twice answers once, where it was first named, with its last page.
    pub fn ledgers(&self, cursors: &[(String, u64)], limit: usize) -> AppResult<Vec<(String, LedgerPage)>> {
        let mut pages: Vec<(String, LedgerPage)> = Vec::new();
        for (run_id, after) in cursors {
            let Some(run) = self.store.load_run(run_id)? else { continue };
            let page = self.page(&run, *after, limit)?;
            match pages.iter_mut().find(|(id, _)| id == run_id) {
                Some(slot) => slot.1 = page,
                None => pages.push((run_id.clone(), page)),
            }
        }
        Ok(pages)
    }

    fn page(&self, run: &RunState, after: u64, limit: usize) -> AppResult<LedgerPage> {
        let items = agw_store::read_committed(self.store.as_ref(), run, after, limit)?;
        let next_after = after + items.len() as u64;
        Ok(LedgerPage { items, next_after })
    }

    /// The run's state and up to `limit` records it committed after `after`; `None` when the
    /// run is gone. What a ledger stream reads at each turn.
    pub fn progress(&self, run_id: &str, after: u64, limit: usize) -> AppResult<Option<Progress>> {
        let Some(run) = self.store.load_run(run_id)? else { return Ok(None) };
        let records = agw_store::read_committed(self.store.as_ref(), &run, after, limit)?;
        Ok(Some(Progress { run, records }))
    }

    /// The bundles served now (newest version first per id), and the files skipped.
    pub fn bundles(&self) -> Arc<BundleCatalog> {
        self.catalog.bundles().get()
    }

    /// The bundle `bundle_id`, at `version` or its newest.
    pub fn bundle(&self, bundle_id: &str, version: Option<&str>) -> AppResult<Arc<LoadedBundle>> {
        self.bundles()
            .get(bundle_id, version)
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("Bundle '{bundle_id}' not found")))
    }

    /// The loaded bundle that holds `flow`'s version, if it is still loaded.
    pub fn bundle_of(&self, flow: &FlowRef) -> Option<Arc<LoadedBundle>> {
        self.catalog.bundles().get().get(&flow.bundle_id, Some(&flow.bundle_version)).cloned()
    }

    /// The artifacts of run `run_id`, oldest first.
    pub fn artifacts(&self, run_id: &str) -> AppResult<Vec<ArtifactMeta>> {
        self.run(run_id)?;
        Ok(self.artifacts.list(run_id)?)
    }

    /// One artifact's metadata.
    pub fn artifact_meta(&self, run_id: &str, artifact_id: &str) -> AppResult<ArtifactMeta> {
        self.run(run_id)?;
        Ok(self.artifacts.meta(run_id, artifact_id)?)
    }

    /// One artifact's metadata and bytes.
    pub fn artifact(&self, run_id: &str, artifact_id: &str) -> AppResult<(ArtifactMeta, Vec<u8>)> {
        self.run(run_id)?;
        Ok(self.artifacts.get(run_id, artifact_id)?)
    }

    /// The run `run_id` and, with `include_subruns`, its descendants (breadth first, each
    /// once, at most 5,000 runs), each with its committed ledger, or the last `tail`
    /// records of it, and its artifacts.
    pub fn history(&self, run_id: &str, include_subruns: bool, tail: Option<u64>) -> AppResult<Vec<RunHistory>> {
        let root = self.run(run_id)?;
        let store = self.store.as_ref();
        let mut histories = Vec::new();
        for run in self.run_tree(root, include_subruns)? {
            let total = agw_store::committed_len(store, &run)?;
            let skipped = tail.map_or(0, |max| total.saturating_sub(max));
            let records = agw_store::read_committed(
                store,
                &run,
                skipped,
                usize::try_from(total - skipped).unwrap_or(usize::MAX),
            )?;
            let artifacts = self.artifacts.list(&run.run_id)?;
            histories.push(RunHistory { run, total, skipped, records, artifacts });
        }
        Ok(histories)
    }

    fn run_tree(&self, root: RunState, include_subruns: bool) -> AppResult<Vec<RunState>> {
        if !include_subruns {
            return Ok(vec![root]);
        }
        let mut children: HashMap<String, Vec<RunState>> = HashMap::new();
        for run in self.store.list_runs()? {
            if let Some(parent) = run.parent_run_id.clone() {
                children.entry(parent).or_default().push(run);
            }
        }
        for kids in children.values_mut() {
            kids.sort_by(|a, b| (&a.created_at, &a.run_id).cmp(&(&b.created_at, &b.run_id)));
        }
        let mut seen = HashSet::from([root.run_id.clone()]);
        let mut queue = VecDeque::from([root.run_id.clone()]);
        let mut tree = vec![root];
        while let Some(id) = queue.pop_front() {
            for kid in children.remove(&id).unwrap_or_default() {
                if tree.len() > MAX_HISTORY_RUNS {
                    return Ok(tree);
                }
                if seen.insert(kid.run_id.clone()) {
                    queue.push_back(kid.run_id.clone());
                    tree.push(kid);
                }
            }
        }
        Ok(tree)
    }
}
