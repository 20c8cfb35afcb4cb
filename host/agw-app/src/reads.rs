//! Reading runs: one run, and pages of runs filtered in the store.

use agw_domain::run::RunState;
use agw_store::{RunPage, RunQuery};

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
}
