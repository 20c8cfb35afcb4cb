//! How a run comes to exist: one way for its three origins (a client's start, a schedule, a
//! child a running run spawns).
//!
//! Which listeners start with a run depends on its origin, as in the reference (flow case
//! `subflow-child-on-event`): a run a client starts gets one listener run per `on_event`
//! node; a child run (a subflow, a schedule launch, a listener) gets none, and its flow's
//! `on_event` nodes wait where the flow reaches them.

use std::sync::Arc;

use agw_domain::run::{FlowRef, NewRun, RunState, Spawn};
use agw_domain::{CompiledFlow, Env};
use agw_store::{ArtifactStore, RunStore, StoreResult};
use serde_json::{Map, Value};

use crate::DataDir;
use crate::workflows::Workflows;

/// Creates runs: their initial state, workspace, flow snapshot and stored state.
pub struct Runs {
    store: Arc<dyn RunStore>,
    workflows: Arc<dyn Workflows>,
    artifacts: Arc<ArtifactStore>,
    env: Arc<dyn Env>,
    data_dir: DataDir,
}

/// A run about to be created.
#[derive(Debug, Clone)]
pub struct Birth {
    pub run_id: String,
    pub flow: FlowRef,
    pub input_data: Map<String, Value>,
    /// `None`: the run's own id.
    pub session_id: Option<String>,
    pub parent_run_id: Option<String>,
    pub entry_node: String,
}

/// A child run's initial state, not stored yet.
pub struct Child {
    pub run: RunState,
    /// An event listener's compiled flow: its first tick must happen before it is stored,
    /// so that it is already listening when its parent can be seen waiting (an event sent
    /// then must find it).
    pub first_tick: Option<Arc<CompiledFlow>>,
}

impl Runs {
    pub fn new(
        store: Arc<dyn RunStore>,
        workflows: Arc<dyn Workflows>,
        artifacts: Arc<ArtifactStore>,
        env: Arc<dyn Env>,
        data_dir: DataDir,
    ) -> Self {
        Self { store, workflows, artifacts, env, data_dir }
    }

    /// The compiled flows and executors runs use.
    pub fn workflows(&self) -> &Arc<dyn Workflows> {
        &self.workflows
    }

    /// The data dir runs live in.
    pub fn data_dir(&self) -> &DataDir {
        &self.data_dir
    }

    /// A new run's state, and its workspace folder, made now.
    pub fn initial(&self, birth: Birth) -> (RunState, std::io::Result<()>) {
        let workspace = self.data_dir.workspace(&birth.run_id);
        let made = std::fs::create_dir_all(&workspace);
        let run = RunState::new(NewRun {
            run_id: birth.run_id,
            flow: birth.flow,
            input_data: birth.input_data,
            session_id: birth.session_id,
            parent_run_id: birth.parent_run_id,
            workspace_root: workspace.display().to_string(),
            entry_node: birth.entry_node,
            now: self.env.now_iso(),
        });
        (run, made)
    }

    /// Stores a new run: the flow snapshot first (a run never exists without the flow it
    /// runs), then its state. Every origin ends here.
    pub fn create(&self, run: &RunState, snapshot: Option<&Value>) -> StoreResult<()> {
        if let Some(flow_json) = snapshot {
            agw_store::store_flow_snapshot(&self.artifacts, &run.run_id, &run.flow, flow_json)?;
        }
        self.store.create_run(run)
    }

    /// The state of the child `spawn` asks for, with its flow's snapshot (none when the
    /// bundle is gone). A child whose flow cannot run (bundle gone, flow does not compile, no
    /// workspace) starts failed, which hands the failure to its parent.
    pub fn child(&self, parent: &RunState, spawn: &Spawn) -> (Child, Option<Value>) {
        let resolved = self.workflows.resolve(&spawn.flow);
        let compiled = resolved.clone().and_then(|flow| self.workflows.compile(&flow));
        // The resolved version when there is one, even if it does not compile.
        let flow = resolved.unwrap_or_else(|_| spawn.flow.clone());
        let (entry_node, problem, compiled) = match compiled {
            Ok(compiled) => {
                let entry = spawn.entry_node.clone().unwrap_or_else(|| compiled.entry.clone());
                (entry, None, Some(compiled))
            }
            Err(message) => (String::new(), Some(message), None),
        };
        let (mut run, made) = self.initial(Birth {
            run_id: spawn.run_id.clone(),
            flow,
            input_data: spawn.input_data.clone(),
            session_id: Some(spawn.session_id.clone()),
            parent_run_id: Some(parent.run_id.clone()),
            entry_node,
        });
        let problem =
            problem.or_else(|| made.err().map(|e| format!("cannot create workspace {}: {e}", run.workspace_root)));
        if let Some(workflow_id) = &spawn.workflow_id {
            run.workflow_id = workflow_id.clone();
        }
        // Whatever its fate, a child keeps the flow it was asked to run, when that exists.
        let snapshot = self.workflows.flow_json(&run.flow);
        if let Some(message) = problem {
            run.fail(self.env.as_ref(), "", &format!("Subflow '{}' cannot run: {message}", spawn.flow.workflow_id()));
            return (Child { run, first_tick: None }, snapshot);
        }
        let first_tick = compiled.filter(|_| spawn.workflow_id.is_some());
        (Child { run, first_tick }, snapshot)
    }
}
