//! A filtered page of runs: what `GET /runs` asks a store for, so a backend can answer from
//! an index instead of loading every run.

use agw_domain::run::{RunState, RunStatus};

/// Which runs, and which page of them (newest first: `created_at`, then `run_id`, both
/// descending, as [`RunStore::list_runs`](crate::RunStore::list_runs) orders them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunQuery {
    pub status: Option<RunStatus>,
    pub workflow_id: Option<String>,
    pub session_id: Option<String>,
    /// Only the children of this run.
    pub parent_run_id: Option<String>,
    /// Only runs without a parent.
    pub root_only: bool,
    pub limit: usize,
    pub offset: usize,
}

/// One page of a [`RunQuery`]'s answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunPage {
    pub runs: Vec<RunState>,
    /// More runs match after this page.
    pub has_more: bool,
}

impl RunQuery {
    /// Whether `run` passes the filters (not the paging).
    pub fn matches(&self, run: &RunState) -> bool {
        self.status.is_none_or(|s| run.status == s)
            && self.workflow_id.as_ref().is_none_or(|w| &run.workflow_id == w)
            && self.session_id.as_ref().is_none_or(|s| &run.session_id == s)
            && self.parent_run_id.as_ref().is_none_or(|p| run.parent_run_id.as_ref() == Some(p))
            && (!self.root_only || run.parent_run_id.is_none())
    }

    /// The page of `matching` (newest first) this query asks for.
    pub fn page<T>(&self, matching: impl IntoIterator<Item = T>) -> (Vec<T>, bool) {
        let mut rest = matching.into_iter().skip(self.offset);
        let items: Vec<T> = rest.by_ref().take(self.limit).collect();
        let has_more = rest.next().is_some();
        (items, has_more)
    }
}
