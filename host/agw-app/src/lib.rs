//! The application layer: the gateway's use cases, between the HTTP edge (and the runner)
//! and the domain.
//!
//! - [`App`]: start a run, schedule a run, submit a command, read runs, ledgers,
//!   histories and artifacts, install an uploaded bundle, reload the bundles;
//! - [`Runs`]: the one way a run comes to exist, which the runner uses for child runs;
//! - [`Catalog`]: the bundles and their compiled flows;
//! - [`DataDir`]: every path under the data dir.
//!
//! Use cases are synchronous (they touch the store and the disk); the HTTP edge calls them
//! through its one blocking facade. Failures are [`AppError`]s, which the edge maps to status
//! codes in one place.

mod bundles;
mod commands;
mod data_dir;
mod error;
mod reads;
mod runs;
mod start;
mod workflows;

use std::sync::Arc;

use agw_domain::Env;
use agw_store::{ArtifactStore, RunStore};

pub use bundles::{NotServed, Reloaded, Uploaded};
pub use commands::SubmitCommand;
pub use data_dir::DataDir;
pub use error::{AppError, AppResult, FieldError};
pub use reads::{LedgerPage, Listed, ListedRun, Progress, RunHistory};
pub use runs::{Birth, Child, Runs};
pub use start::{FlowChoice, ResolvedFlow, ScheduleRun, StartRun, Started};
pub use workflows::{Catalog, NodeTypes, Workflows};

/// How the use cases tell the runner there is work (implemented by the runner's handle).
pub trait Wake: Send + Sync {
    /// New commands are in the inbox.
    fn inbox(&self);
    /// The run `run_id` needs a tick.
    fn run(&self, run_id: &str);
}

/// The use cases of one gateway on one data dir.
pub struct App {
    store: Arc<dyn RunStore>,
    artifacts: Arc<ArtifactStore>,
    catalog: Arc<Catalog>,
    runs: Arc<Runs>,
    env: Arc<dyn Env>,
    wake: Arc<dyn Wake>,
}

impl App {
    pub fn new(
        store: Arc<dyn RunStore>,
        artifacts: Arc<ArtifactStore>,
        catalog: Arc<Catalog>,
        runs: Arc<Runs>,
        env: Arc<dyn Env>,
        wake: Arc<dyn Wake>,
    ) -> Self {
        Self { store, artifacts, catalog, runs, env, wake }
    }

    /// The gateway's time now, ISO 8601.
    pub fn now_iso(&self) -> String {
        self.env.now_iso()
    }
}

#[cfg(test)]
mod tests;
