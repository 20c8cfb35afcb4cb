//! The runner loop.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use agw_domain::Env;
use agw_domain::command::{Applied, apply};
use agw_domain::flow::{TickLimits, TickOutcome, tick};
use agw_domain::run::RunState;
use agw_store::{RunStore, StoreResult, reconcile_outbox};
use tokio::sync::{Notify, broadcast, watch};

use crate::lock::RunnerLock;
use crate::locks::{RunLocks, hold, try_hold};
use crate::queue::TickQueue;
use agw_app::{Child, Runs, Workflows};

/// Runner tuning, from `ABSTRACTGATEWAY_POLL_S`, `_TICK_WORKERS`, `_TICK_MAX_STEPS`,
/// `_TICK_SLICE_MS` and `_COMMAND_BATCH_LIMIT`.
#[derive(Debug, Clone, Copy)]
pub struct RunnerConfig {
    pub poll: Duration,
    pub tick_workers: usize,
    pub tick_max_steps: u32,
    /// Time after which a tick yields at its next step, sending the run to the back of the
    /// queue; a run whose ticks use it all is heavy (see `queue.rs`).
    pub tick_slice: Duration,
    pub command_batch: usize,
}

impl Default for RunnerConfig {
    fn default() -> Self {
        Self {
            poll: Duration::from_millis(250),
            tick_workers: 4,
            tick_max_steps: 100,
            tick_slice: Duration::from_millis(50),
            command_batch: 200,
        }
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

/// Applies commands and ticks runs for one data dir. Holds the data dir's runner lock.
pub struct Runner {
    store: Arc<dyn RunStore>,
    /// Creates the child runs ticks spawn, the way every run is created.
    runs: Arc<Runs>,
    workflows: Arc<dyn Workflows>,
    env: Arc<dyn Env>,
    config: RunnerConfig,
    handle: RunnerHandle,
    locks: RunLocks,
    lock: RunnerLock,
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
        runs: Arc<Runs>,
        env: Arc<dyn Env>,
        config: RunnerConfig,
        handle: RunnerHandle,
        lock: RunnerLock,
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
        let workflows = runs.workflows().clone();
        Self { store, runs, workflows, env, config, handle, locks: RunLocks::default(), lock, active }
    }

    /// Runs until `shutdown` turns true. Finishes the ticks in progress before returning.
    ///
    /// Ticks run on up to `tick_workers` blocking threads, taken in turn by [`TickQueue`]; the
    /// inbox is read and the store scanned whenever the API wakes the runner, and at least once
    /// per poll interval, while ticks go on.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let this = self.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || this.recover()).await {
            tracing::error!(error = %e, "runner recovery panicked");
        }
        self.handle.set_status(|s| s.active = true);
        tracing::info!(lock = %self.lock.path().display(), "runner started");
        let mut queue = TickQueue::new(self.config.tick_workers);
        let mut ticks = tokio::task::JoinSet::new();
        let mut poll = tokio::time::interval(self.config.poll);
        poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut refresh = true;
        // Runs with commands that waited for their tick to end: the inbox is read again as
        // soon as that tick ends, before the run ticks again.
        let mut held = std::collections::HashSet::new();
        // What keeps the runner from making progress, as `/api/health` shows it: the last
        // refresh's problem, else that of a run whose last tick failed.
        let mut refresh_problem = None::<String>;
        let mut tick_problems = std::collections::BTreeMap::<String, String>::new();
        while !*shutdown.borrow() {
            if std::mem::take(&mut refresh) {
                let (runnable, busy, problem) = self.clone().refresh().await;
                refresh_problem = problem;
                self.show_problem(refresh_problem.as_ref().or(tick_problems.values().next()));
                held.extend(busy);
                for run_id in runnable {
                    queue.push(run_id);
                }
            }
            while let Some(run_id) = queue.next() {
                let this = self.clone();
                ticks.spawn_blocking(move || {
                    let started = std::time::Instant::now();
                    let tick = this.tick_logged(&run_id);
                    (run_id, tick, started.elapsed())
                });
            }
            tokio::select! {
                Some(done) = ticks.join_next(), if queue.is_ticking() => match done {
                    Ok((run_id, tick, took)) => {
                        let again = matches!(tick, Ok(true));
                        let changed = match tick {
                            Ok(_) => tick_problems.remove(&run_id).is_some(),
                            Err(problem) => tick_problems.insert(run_id.clone(), problem).is_none(),
                        };
                        if changed {
                            self.show_problem(refresh_problem.as_ref().or(tick_problems.values().next()));
                        }
                        if !again {
                            self.active().runs.remove(&run_id);
                        }
                        refresh |= held.remove(&run_id);
                        queue.finished(&run_id, took >= self.config.tick_slice, again);
                    }
                    // `tick_logged` catches panics: this is a task cancelled at shutdown.
                    Err(e) => tracing::error!(error = %e, "tick task failed"),
                },
                _ = self.handle.inner.wake.notified() => refresh = true,
                _ = poll.tick() => refresh = true,
                _ = shutdown.changed() => {}
            }
        }
        while ticks.join_next().await.is_some() {}
        self.handle.set_status(|s| s.active = false);
        tracing::info!("runner stopped");
    }

    /// What `/api/health` shows as the runner's error (`degraded`), logged when it appears.
    fn show_problem(&self, problem: Option<&String>) {
        let changed = self.handle.status().error.as_ref() != problem;
        if let (true, Some(problem)) = (changed, problem) {
            tracing::error!(%problem, "runner degraded");
        }
        if changed {
            self.handle.set_status(|s| s.error = problem.cloned());
        }
    }

    /// Applies pending commands and returns the runs to tick, the runs whose commands wait
    /// for their tick to end, and what went wrong.
    async fn refresh(self: Arc<Self>) -> (Vec<String>, Vec<String>, Option<String>) {
        let this = self.clone();
        let outcome = tokio::task::spawn_blocking(move || {
            let applied = this.apply_commands();
            let runnable = this.runnable(applied.touched);
            (runnable, applied.busy, applied.problem)
        })
        .await;
        match outcome {
            Ok((Ok(runnable), busy, problem)) => (runnable, busy, problem),
            Ok((Err(e), busy, _)) => (Vec::new(), busy, Some(format!("cannot list runnable runs: {e}"))),
            Err(e) => (Vec::new(), Vec::new(), Some(format!("the runner's refresh panicked: {e}"))),
        }
    }

    /// Ticks one run, whatever happens: a store error (or a panic) is logged and the run is
    /// looked at again at the next scan. Says whether the run can go on, or what failed.
    fn tick_logged(&self, run_id: &str) -> Result<bool, String> {
        let problem = match guarded(|| self.tick_run(run_id)) {
            Ok(Ok(again)) => return Ok(again),
            Ok(Err(e)) => format!("cannot tick run '{run_id}': {e}"),
            Err(reason) => format!("ticking run '{run_id}' panicked outside its change: {reason}"),
        };
        tracing::error!(run_id = %run_id, %problem, "tick failed");
        Err(problem)
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
            if let Err(e) = self.complete_commit(&run) {
                tracing::error!(run_id = %run.run_id, error = %e, "cannot reconcile run");
            }
        }
    }

    /// Applies pending commands: says which runs they touched, which are ticking (their
    /// commands wait), and what went wrong if the inbox could not be read or a run written.
    ///
    /// A run that is ticking is not waited for: its commands (this one and every later one in
    /// the batch) are left for the next refresh, and the cursor stops before the first of them.
    /// Runs remember the last command they applied, so the commands after it that other runs
    /// already took are skipped when the batch is read again.
    fn apply_commands(&self) -> AppliedBatch {
        let batch =
            self.store.command_cursor().and_then(|cursor| self.store.commands_after(cursor, self.config.command_batch));
        let commands = match batch {
            Ok(commands) => commands,
            Err(e) => {
                return AppliedBatch {
                    problem: Some(format!("cannot read the command inbox: {e}")),
                    ..Default::default()
                };
            }
        };
        let Some(last) = commands.last().map(|c| c.seq) else { return AppliedBatch::default() };
        let mut touched = Vec::new();
        let mut held: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut first_held: Option<u64> = None;
        let mut busy = Vec::new();
        let mut problem = None;
        for command in &commands {
            let _span =
                tracing::info_span!("command", run_id = %command.run_id, kind = %command.kind, seq = command.seq)
                    .entered();
            let targets = match (command.kind() == Some(agw_domain::command::CommandKind::EmitEvent))
                .then(|| command.event().ok())
                .flatten()
            {
                // An event goes to every run waiting on its key, whatever its `run_id` says.
                Some(event) => {
                    let mut keys = vec![event.wait_key.clone()];
                    keys.extend(event.wildcard_key.filter(|k| *k != event.wait_key));
                    let listeners: StoreResult<Vec<Vec<String>>> =
                        keys.iter().map(|key| self.store.waiting_on(key)).collect();
                    match listeners {
                        Ok(listeners) => {
                            let listeners: Vec<String> = listeners.into_iter().flatten().collect();
                            tracing::info!(wait_key = %event.wait_key, listeners = listeners.len(), "event");
                            listeners
                        }
                        Err(e) => {
                            problem = Some(format!("cannot find the listeners of command {}: {e}", command.seq));
                            first_held.get_or_insert(command.seq);
                            break;
                        }
                    }
                }
                None => vec![command.run_id.clone()],
            };
            for run_id in targets {
                if held.contains(&run_id) {
                    continue;
                }
                match self.try_with_run(&run_id, |run, env| apply(run, command, env)) {
                    Ok(Some(Change::Done(Applied::Changed))) => tracing::info!(%run_id, "command applied"),
                    Ok(Some(Change::Done(Applied::Ignored(why)))) => tracing::info!(%run_id, %why, "command ignored"),
                    Ok(Some(Change::Panicked)) => tracing::error!(%run_id, "applying the command failed the run"),
                    Ok(None) => tracing::warn!(%run_id, "command for an unknown run"),
                    Err(Busy) => {
                        busy.push(run_id.clone());
                        held.insert(run_id);
                        first_held.get_or_insert(command.seq);
                        continue;
                    }
                    Err(Failed(e @ agw_store::StoreError::Corrupt { .. })) => {
                        // Retrying cannot help a run whose state cannot be read.
                        tracing::error!(%run_id, error = %e, "command skipped: the run cannot be read");
                    }
                    Err(Failed(e)) => {
                        problem = Some(format!("cannot apply command {} to run '{run_id}': {e}", command.seq));
                        held.insert(run_id);
                        first_held.get_or_insert(command.seq);
                        continue;
                    }
                }
                touched.push(run_id);
            }
        }
        // Applying is idempotent per run (each run remembers the last seq it applied), so a
        // crash before this line only means the batch is looked at again.
        let cursor = first_held.map_or(last, |seq| seq - 1);
        if let Err(e) = self.store.set_command_cursor(cursor) {
            problem = Some(format!("cannot save the command cursor: {e}"));
        }
        AppliedBatch { touched, busy, problem }
    }

    /// Ticks one run; returns whether it can run further.
    fn tick_run(&self, run_id: &str) -> StoreResult<bool> {
        let _span = tracing::info_span!("tick", run_id = %run_id).entered();
        // Dropped after the tick's checkpoint is committed: what an executor reports on drop
        // (a streamed LLM call's end) follows the records it journaled.
        let mut executor = None;
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
                    let executor =
                        executor.insert(self.workflows.executor(&self.runs.data_dir().workspace(&run.run_id)));
                    Some(tick(&flow, run, executor.as_mut(), env, self.tick_limits()))
                }
                Err(message) => {
                    let node = run.current_node.clone().unwrap_or_default();
                    run.fail(env, &node, &message);
                    Some(TickOutcome::Finished(run.status))
                }
            }
        })?;
        drop(executor);
        Ok(matches!(outcome, Some(Change::Done(Some(TickOutcome::Yielded)))))
    }

    fn tick_limits(&self) -> TickLimits {
        TickLimits {
            max_steps: self.config.tick_max_steps,
            time_slice: Some(self.config.tick_slice),
            ..TickLimits::default()
        }
    }

    /// Creates the child runs a committed checkpoint promised. Idempotent (an existing child
    /// is left alone), so recovery simply does it again. Called before the checkpoint's
    /// records reach the ledger, so a reader who finds a `sub_run_id` there finds the child.
    fn spawn_children(&self, run: &RunState) -> StoreResult<()> {
        for spawn in &run.spawns {
            if self.store.load_run(&spawn.run_id)?.is_some() {
                continue;
            }
            let child = self.child_run(run, spawn)?;
            self.spawn_children(&child)?;
            if !child.outbox.is_empty() {
                self.store.append_ledger(&child.run_id, &child.outbox)?;
                self.handle.appended(&child.run_id);
            }
            tracing::info!(run_id = %run.run_id, child = %child.run_id, workflow_id = %child.workflow_id, "child run started");
            // A child that could not start is already over: its result goes to the parent now.
            self.send_commands(&child)?;
            self.handle.wake_run(&child.run_id);
        }
        Ok(())
    }

    /// Appends the commands a committed checkpoint sends to other runs. The inbox drops a
    /// repeated `command_id`, so recovery simply does it again.
    fn send_commands(&self, run: &RunState) -> StoreResult<()> {
        for command in &run.sends {
            let accepted = self.store.append_command(command.clone())?;
            if !accepted.duplicate {
                self.handle.wake();
            }
        }
        Ok(())
    }

    /// Finishes what a stored state promises and a crash may have cut short, in the write
    /// order: its children, its records, its commands. Returns the ledger's length.
    fn complete_commit(&self, run: &RunState) -> StoreResult<u64> {
        self.spawn_children(run)?;
        let len = reconcile_outbox(self.store.as_ref(), run)?;
        self.send_commands(run)?;
        Ok(len)
    }

    /// Creates the child `spawn` asks for (see [`Runs::child`]). An event listener gets its
    /// first tick before it is stored: an event sent as soon as its parent is seen waiting
    /// must find it listening (a first tick in the next runner pass would come after that
    /// pass applied the event).
    fn child_run(&self, parent: &RunState, spawn: &agw_domain::run::Spawn) -> StoreResult<RunState> {
        let (Child { run: mut child, first_tick }, snapshot) = self.runs.child(parent, spawn);
        if let Some(flow) = first_tick {
            let mut executor = self.workflows.executor(std::path::Path::new(&child.workspace_root));
            child.begin_checkpoint(0);
            let before = child.clone();
            let env = self.env.as_ref();
            let limits = self.tick_limits();
            if let Err(reason) = guarded(|| tick(&flow, &mut child, executor.as_mut(), env, limits)) {
                child = before;
                child.fail(env, "", &format!("internal error: {reason}"));
            }
        }
        self.runs.create(&child, snapshot.as_ref())?;
        Ok(child)
    }

    /// Loads a run under its lock, lets `change` modify it, and commits the result: the
    /// state (with its outbox, sends and spawns) first, then the child runs, then the outbox
    /// into the ledger, then the sends into the inbox. `None` if the run does not exist.
    fn with_run<T>(
        &self,
        run_id: &str,
        change: impl FnOnce(&mut RunState, &dyn Env) -> T,
    ) -> StoreResult<Option<Change<T>>> {
        let lock = self.locks.get(run_id);
        let _guard = hold(&lock);
        self.change_locked(run_id, change)
    }

    /// Like [`Runner::with_run`], but gives up at once with [`Busy`] when the run's lock is
    /// held (a tick in progress).
    fn try_with_run<T>(
        &self,
        run_id: &str,
        change: impl FnOnce(&mut RunState, &dyn Env) -> T,
    ) -> Result<Option<Change<T>>, Attempt> {
        let lock = self.locks.get(run_id);
        let Some(_guard) = try_hold(&lock) else { return Err(Busy) };
        self.change_locked(run_id, change).map_err(Failed)
    }

    fn change_locked<T>(
        &self,
        run_id: &str,
        change: impl FnOnce(&mut RunState, &dyn Env) -> T,
    ) -> StoreResult<Option<Change<T>>> {
        let Some(mut run) = self.store.load_run(run_id)? else { return Ok(None) };
        let len = self.complete_commit(&run)?;
        run.begin_checkpoint(len);
        // Compare after the reset: a change that changes nothing writes nothing (the stored
        // outbox, if any, is already in the ledger).
        let before = run.clone();
        let env = self.env.as_ref();
        let result = match guarded(|| change(&mut run, env)) {
            Ok(result) => Change::Done(result),
            Err(reason) => {
                // A bug met by this run's input: this run fails with the reason, the runner
                // and every other run carry on.
                tracing::error!(%run_id, %reason, "changing the run panicked; the run fails");
                run = before.clone();
                if !run.status.is_terminal() {
                    let node = run.current_node.clone().unwrap_or_default();
                    run.fail(env, &node, &format!("internal error: {reason}"));
                }
                Change::Panicked
            }
        };
        if run != before {
            self.store.save_run(&run)?;
            self.spawn_children(&run)?;
            if !run.outbox.is_empty() {
                self.store.append_ledger(run_id, &run.outbox)?;
                self.handle.appended(run_id);
            }
            self.send_commands(&run)?;
        }
        if run.status.is_terminal() {
            self.locks.forget(run_id);
        }
        Ok(Some(result))
    }
}

/// What reading the inbox did.
#[derive(Debug, Default)]
struct AppliedBatch {
    /// Runs the commands changed (or meant to).
    touched: Vec<String>,
    /// Runs whose commands wait for their tick to end.
    busy: Vec<String>,
    problem: Option<String>,
}

/// What a change of a run came to.
#[derive(Debug)]
enum Change<T> {
    Done(T),
    /// The change panicked; the run failed with the reason instead.
    Panicked,
}

/// Why [`Runner::try_with_run`] did not change the run.
#[derive(Debug)]
enum Attempt {
    /// Another worker holds the run.
    Busy,
    Failed(agw_store::StoreError),
}
use Attempt::{Busy, Failed};

/// Runs `f`, turning a panic into its message.
fn guarded<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|panic| {
        panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned())
    })
}
