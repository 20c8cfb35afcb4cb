//! The runner loop.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agw_domain::Env;
use agw_domain::command::{Applied, apply};
use agw_domain::flow::{TickLimits, TickOutcome, tick};
use agw_domain::run::RunState;
use agw_store::{RunStore, StoreResult, reconcile_outbox};
use tokio::sync::{Notify, broadcast, watch};

use crate::Workflows;
use crate::lock::RunnerLock;
use crate::locks::{RunLocks, hold};

/// Runner tuning, from `ABSTRACTGATEWAY_POLL_S`, `_TICK_WORKERS`, `_TICK_MAX_STEPS` and
/// `_COMMAND_BATCH_LIMIT`.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    pub poll: Duration,
    pub tick_workers: usize,
    pub tick_max_steps: u32,
    pub command_batch: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self { poll: Duration::from_millis(250), tick_workers: 4, tick_max_steps: 100, command_batch: 200 }
    }
}

/// What `/api/health` reports about the runner.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunnerStatus {
    pub enabled: bool,
    pub active: bool,
    pub lock_held: bool,
    pub pid: u32,
    pub lock_acquired_at: Option<String>,
    pub error: Option<String>,
}

/// Shared between the API and the runner of one process: wakeups in one direction, "new
/// ledger records for run X" in the other. Works (by polling) without an in-process runner.
#[derive(Debug, Clone)]
pub struct RunnerHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    wake: Notify,
    /// Runs the API just started or touched: worth a tick before the next full scan.
    hints: Mutex<Vec<String>>,
    appended: broadcast::Sender<String>,
    status: Mutex<RunnerStatus>,
}

impl Default for RunnerHandle {
    fn default() -> Self {
        Self {
            inner: Arc::new(HandleInner {
                wake: Notify::new(),
                hints: Mutex::default(),
                appended: broadcast::channel(1024).0,
                status: Mutex::default(),
            }),
        }
    }
}

impl RunnerHandle {
    /// Asks the runner to look at the inbox and the runs now rather than at the next poll.
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Like [`wake`](Self::wake), naming the run that needs attention.
    pub fn wake_run(&self, run_id: &str) {
        self.inner.hints.lock().unwrap_or_else(PoisonError::into_inner).push(run_id.to_owned());
        self.wake();
    }

    fn take_hints(&self) -> Vec<String> {
        std::mem::take(&mut *self.inner.hints.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Run ids whose ledger just grew (in this process).
    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.inner.appended.subscribe()
    }

    pub fn status(&self) -> RunnerStatus {
        self.inner.status.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    fn set_status(&self, update: impl FnOnce(&mut RunnerStatus)) {
        update(&mut self.inner.status.lock().unwrap_or_else(PoisonError::into_inner));
    }

    fn appended(&self, run_id: &str) {
        // Nobody listening is fine.
        let _ = self.inner.appended.send(run_id.to_owned());
    }
}

/// Where the files of the child runs the runner starts go.
#[derive(Debug, Clone)]
pub struct RunHomes {
    /// Parent of each run's workspace folder.
    pub workspaces: std::path::PathBuf,
    /// Flow snapshots.
    pub artifacts: Arc<agw_store::ArtifactStore>,
}

/// Applies commands and ticks runs for one data dir. Holds the data dir's runner lock.
pub struct Runner {
    store: Arc<dyn RunStore>,
    workflows: Arc<dyn Workflows>,
    env: Arc<dyn Env>,
    config: RunnerConfig,
    handle: RunnerHandle,
    locks: RunLocks,
    lock: RunnerLock,
    homes: RunHomes,
    /// Runs believed runnable. Refreshed from the store by a full scan once per poll
    /// interval (another process may have created runs); in between, hints and commands
    /// add to it, so a pass costs what the active runs cost, not what the data dir holds.
    active: Mutex<ActiveSet>,
}

#[derive(Debug)]
struct ActiveSet {
    runs: std::collections::BTreeSet<String>,
    scanned_at: Option<std::time::Instant>,
}

impl Runner {
    pub fn new(
        store: Arc<dyn RunStore>,
        workflows: Arc<dyn Workflows>,
        env: Arc<dyn Env>,
        config: RunnerConfig,
        handle: RunnerHandle,
        lock: RunnerLock,
        homes: RunHomes,
    ) -> Self {
        let acquired = env.now_iso();
        handle.set_status(|s| {
            *s = RunnerStatus {
                enabled: true,
                active: false,
                lock_held: true,
                pid: std::process::id(),
                lock_acquired_at: Some(acquired),
                error: None,
            }
        });
        let active = Mutex::new(ActiveSet { runs: Default::default(), scanned_at: None });
        Self { store, workflows, env, config, handle, locks: RunLocks::default(), lock, homes, active }
    }

    /// Runs until `shutdown` turns true. Finishes the tick in progress before returning.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let this = self.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || this.recover()).await {
            tracing::error!(error = %e, "runner recovery panicked");
        }
        self.handle.set_status(|s| s.active = true);
        tracing::info!(lock = %self.lock.path().display(), "runner started");
        loop {
            if *shutdown.borrow() {
                break;
            }
            let busy = match self.clone().pass().await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::error!(error = %e, "runner pass failed");
                    false
                }
            };
            if busy {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                _ = self.handle.inner.wake.notified() => {}
                _ = tokio::time::sleep(self.config.poll) => {}
                _ = shutdown.changed() => {}
            }
        }
        self.handle.set_status(|s| s.active = false);
        tracing::info!("runner stopped");
    }

    /// One pass: apply pending commands, then tick every runnable run once. Returns whether
    /// there is more to do right away.
    async fn pass(self: Arc<Self>) -> StoreResult<bool> {
        let this = self.clone();
        let (applied, runnable) = tokio::task::spawn_blocking(move || -> StoreResult<(bool, Vec<String>)> {
            let touched = this.apply_commands()?;
            let applied = !touched.is_empty();
            Ok((applied, this.runnable(touched)?))
        })
        .await
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "runner pass panicked");
            Ok((false, Vec::new()))
        })?;

        let mut more = applied;
        for chunk in runnable.chunks(self.config.tick_workers.max(1)) {
            let mut set = tokio::task::JoinSet::new();
            for run_id in chunk {
                let this = self.clone();
                let run_id = run_id.clone();
                set.spawn_blocking(move || {
                    let still_running = this.tick_run(&run_id).unwrap_or_else(|e| {
                        tracing::error!(run_id = %run_id, error = %e, "tick failed");
                        false
                    });
                    if !still_running {
                        this.active().runs.remove(&run_id);
                    }
                    still_running
                });
            }
            while let Some(still_running) = set.join_next().await {
                more |= still_running.unwrap_or(false);
            }
        }
        Ok(more)
    }

    fn active(&self) -> std::sync::MutexGuard<'_, ActiveSet> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The runs to tick this pass: the active set plus new hints, rebuilt from the store when
    /// the last full scan is a poll interval old.
    fn runnable(&self, touched: Vec<String>) -> StoreResult<Vec<String>> {
        let scan_due = self.active().scanned_at.is_none_or(|at| at.elapsed() >= self.config.poll);
        if scan_due {
            let now = self.env.now();
            let runs: std::collections::BTreeSet<String> = self.store.active_runs(now)?.into_iter().collect();
            let mut active = self.active();
            active.runs = runs;
            active.scanned_at = Some(std::time::Instant::now());
        }
        let mut active = self.active();
        active.runs.extend(self.handle.take_hints());
        active.runs.extend(touched);
        Ok(active.runs.iter().cloned().collect())
    }

    /// Appends any checkpointed records a crash kept out of the ledgers.
    fn recover(&self) {
        let runs = match self.store.list_runs() {
            Ok(runs) => runs,
            Err(e) => return tracing::error!(error = %e, "cannot list runs for recovery"),
        };
        for run in runs {
            if let Err(e) = reconcile_outbox(self.store.as_ref(), &run).and_then(|_| self.deliver(&run)) {
                tracing::error!(run_id = %run.run_id, error = %e, "cannot reconcile run");
            }
        }
    }

    /// Applies pending commands; returns the runs they touched.
    fn apply_commands(&self) -> StoreResult<Vec<String>> {
        let cursor = self.store.command_cursor()?;
        let commands = self.store.commands_after(cursor, self.config.command_batch)?;
        let Some(last) = commands.last().map(|c| c.seq) else { return Ok(Vec::new()) };
        let mut touched = Vec::new();
        for command in &commands {
            let _span =
                tracing::info_span!("command", run_id = %command.run_id, kind = %command.kind, seq = command.seq)
                    .entered();
            if let Some(event) = (command.kind == "emit_event").then(|| command.event().ok()).flatten() {
                // An event goes to every run waiting on its key, whatever its `run_id` says.
                let mut listeners = self.store.waiting_on(&event.wait_key)?;
                if let Some(wildcard) = event.wildcard_key.as_ref().filter(|k| **k != event.wait_key) {
                    listeners.extend(self.store.waiting_on(wildcard)?);
                }
                tracing::info!(wait_key = %event.wait_key, listeners = listeners.len(), "event");
                for run_id in &listeners {
                    self.with_run(run_id, |run, env| apply(run, command, env))?;
                }
                touched.extend(listeners);
                continue;
            }
            let outcome = self.with_run(&command.run_id, |run, env| apply(run, command, env))?;
            match outcome {
                Some(Applied::Changed) => tracing::info!("command applied"),
                Some(Applied::Ignored(why)) => tracing::info!(%why, "command ignored"),
                None => tracing::warn!("command for an unknown run"),
            }
            touched.push(command.run_id.clone());
        }
        // Applying is idempotent per run (each run remembers the last seq it applied), so a
        // crash before this line only means the batch is looked at again.
        self.store.set_command_cursor(last)?;
        Ok(touched)
    }

    /// Ticks one run; returns whether it can run further.
    fn tick_run(&self, run_id: &str) -> StoreResult<bool> {
        let _span = tracing::info_span!("tick", run_id = %run_id).entered();
        let limits = TickLimits { max_steps: self.config.tick_max_steps, ..TickLimits::default() };
        let outcome = self.with_run(run_id, |run, env| {
            run.wake_timer(env);
            if !run.is_runnable() {
                return None;
            }
            let flow = match run.schedule {
                Some(_) => agw_domain::schedule::compiled_flow().map_err(|e| e.to_string()),
                None => self.workflows.compile(&run.flow),
            };
            match flow {
                Ok(flow) => {
                    let mut executor = self.workflows.executor(&self.homes.workspaces.join(&run.run_id));
                    Some(tick(&flow, run, executor.as_mut(), env, limits))
                }
                Err(message) => {
                    let node = run.current_node.clone().unwrap_or_default();
                    run.fail(env, &node, &message);
                    Some(TickOutcome::Finished(run.status))
                }
            }
        })?;
        Ok(matches!(outcome, Some(Some(TickOutcome::Yielded))))
    }

    /// Carries out what a committed checkpoint promised other runs: creates its child runs
    /// and sends its commands. Both are idempotent (an existing child is left alone, the inbox
    /// drops a repeated `command_id`), so recovery simply does it again.
    fn deliver(&self, run: &RunState) -> StoreResult<()> {
        for spawn in &run.spawns {
            if self.store.load_run(&spawn.run_id)?.is_some() {
                continue;
            }
            let child = self.child_run(run, spawn);
            if let Some(json) = self.workflows.flow_json(&child.flow) {
                // Like the API, the snapshot first: a run never exists without the flow it runs.
                if let Err(e) = agw_store::store_flow_snapshot(&self.homes.artifacts, &child.run_id, &child.flow, &json)
                {
                    tracing::error!(child = %child.run_id, error = %e, "cannot store the child's flow snapshot");
                }
            }
            self.store.create_run(&child)?;
            if !child.outbox.is_empty() {
                self.store.append_ledger(&child.run_id, &child.outbox)?;
                self.handle.appended(&child.run_id);
            }
            tracing::info!(run_id = %run.run_id, child = %child.run_id, workflow_id = %child.workflow_id, "child run started");
            // A child that could not start is already over: its result goes to the parent now.
            self.deliver(&child)?;
            self.handle.wake_run(&child.run_id);
        }
        for command in &run.sends {
            let accepted = self.store.append_command(command.clone())?;
            if !accepted.duplicate {
                self.handle.wake();
            }
        }
        Ok(())
    }

    /// A child's initial state; a child whose flow cannot run starts failed, which hands
    /// the failure to its parent.
    fn child_run(&self, parent: &RunState, spawn: &agw_domain::run::Spawn) -> RunState {
        let now = self.env.now_iso();
        let resolved = self.workflows.resolve(&spawn.flow);
        let compiled = resolved.clone().and_then(|flow| self.workflows.compile(&flow).map(|c| (flow, c)));
        let compiled_flow = compiled.as_ref().ok().map(|(_, c)| c.clone());
        let workspace = self.homes.workspaces.join(&spawn.run_id);
        let workspace_error = std::fs::create_dir_all(&workspace).err();
        let (flow, entry) = match &compiled {
            Ok((flow, compiled)) => (flow.clone(), spawn.entry_node.clone().unwrap_or_else(|| compiled.entry.clone())),
            Err(_) => (resolved.clone().unwrap_or_else(|_| spawn.flow.clone()), String::new()),
        };
        let mut child = RunState::new(agw_domain::run::NewRun {
            run_id: spawn.run_id.clone(),
            flow,
            input_data: spawn.input_data.clone(),
            session_id: Some(spawn.session_id.clone()),
            parent_run_id: Some(parent.run_id.clone()),
            workspace_root: workspace.display().to_string(),
            entry_node: entry,
            now,
        });
        let problem = match (compiled, workspace_error) {
            (Err(message), _) => Some(message),
            (_, Some(e)) => Some(format!("cannot create workspace {}: {e}", workspace.display())),
            _ => None,
        };
        if let Some(workflow_id) = &spawn.workflow_id {
            child.workflow_id = workflow_id.clone();
        }
        match (problem, compiled_flow) {
            (Some(message), _) => {
                child.fail(
                    self.env.as_ref(),
                    "",
                    &format!("Subflow '{}' cannot run: {message}", spawn.flow.workflow_id()),
                );
            }
            // An `on_event` listener is created already listening: an event sent as soon as
            // its parent is seen waiting must find it (a first tick in the next runner pass
            // would come after that pass applied the event).
            (None, Some(flow)) if spawn.workflow_id.is_some() => {
                let mut executor = self.workflows.executor(&workspace);
                let limits = TickLimits { max_steps: self.config.tick_max_steps, ..TickLimits::default() };
                child.begin_checkpoint(0);
                tick(&flow, &mut child, executor.as_mut(), self.env.as_ref(), limits);
            }
            _ => {}
        }
        child
    }

    /// Loads a run under its lock, lets `change` modify it, and commits the result: the
    /// state (with its outbox) first, then the outbox into the ledger.
    fn with_run<T>(&self, run_id: &str, change: impl FnOnce(&mut RunState, &dyn Env) -> T) -> StoreResult<Option<T>> {
        let lock = self.locks.get(run_id);
        let _guard = hold(&lock);
        let Some(mut run) = self.store.load_run(run_id)? else { return Ok(None) };
        let len = reconcile_outbox(self.store.as_ref(), &run)?;
        if !run.spawns.is_empty() || !run.sends.is_empty() {
            // The API stores runs with children to start; a crash may have cut a delivery short.
            self.deliver(&run)?;
        }
        run.begin_checkpoint(len);
        // Compare after the reset: a change that changes nothing writes nothing (the stored
        // outbox, if any, is already in the ledger).
        let before = run.clone();
        let result = change(&mut run, self.env.as_ref());
        if run != before {
            self.store.save_run(&run)?;
            if !run.outbox.is_empty() {
                self.store.append_ledger(run_id, &run.outbox)?;
                self.handle.appended(run_id);
            }
            self.deliver(&run)?;
        }
        if run.status.is_terminal() {
            self.locks.forget(run_id);
        }
        Ok(Some(result))
    }
}
