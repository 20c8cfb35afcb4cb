//! The runner on a real file store, with hand-built flows and an executor that can misbehave.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agw_domain::command::{Accepted, Command, NewCommand};
use agw_domain::record::StepRecord;
use agw_domain::run::{FlowRef, NewRun, RunState, RunStatus};
use agw_domain::{CompiledFlow, Env, NodeCall, NodeExecutor, NodeFailure, SystemEnv};
use agw_store::{ArtifactStore, FileStore, RunStore, StoreError, StoreResult};
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::{Runner, RunnerConfig, RunnerHandle, RunnerLock};
use agw_app::{DataDir, Runs, Workflows};

/// `start → <kind> → end`; `sub` is a subflow of `leaf`.
fn flow_json(kind: &str) -> Value {
    let exec = |id: &str| json!({"id": id, "label": "", "type": "execution"});
    let mut middle = json!({"id": "mid", "type": kind, "data": {"nodeType": kind,
        "inputs": [exec("exec-in")], "outputs": [exec("exec-out")]}});
    if kind == "subflow" {
        middle["data"]["subflowId"] = json!("leaf");
    }
    json!({"id": "f", "nodes": [
        {"id": "start", "type": "on_flow_start", "data": {"nodeType": "on_flow_start", "inputs": [], "outputs": [exec("exec-out")]}},
        middle,
        {"id": "end", "type": "on_flow_end", "data": {"nodeType": "on_flow_end", "inputs": [exec("exec-in")], "outputs": []}}],
     "edges": [
        {"source": "start", "sourceHandle": "exec-out", "target": "mid", "targetHandle": "exec-in"},
        {"source": "mid", "sourceHandle": "exec-out", "target": "end", "targetHandle": "exec-in"}]})
}

struct TestFlows {
    flows: HashMap<String, Arc<CompiledFlow>>,
}

impl TestFlows {
    fn new() -> Self {
        let effectful = |t: &str| matches!(t, "explode" | "stamp").then_some(false);
        let flows = [("boom", "explode"), ("ok", "stamp"), ("sub", "subflow"), ("leaf", "stamp")]
            .into_iter()
            .map(|(id, kind)| (id.to_owned(), Arc::new(CompiledFlow::compile(&flow_json(kind), &effectful).unwrap())))
            .collect();
        Self { flows }
    }
}

impl Workflows for TestFlows {
    fn compile(&self, flow: &FlowRef) -> Result<Arc<CompiledFlow>, String> {
        self.flows.get(&flow.flow_id).cloned().ok_or_else(|| format!("no flow '{}'", flow.flow_id))
    }

    fn resolve(&self, flow: &FlowRef) -> Result<FlowRef, String> {
        Ok(flow.clone())
    }

    fn flow_json(&self, _: &FlowRef) -> Option<Value> {
        None
    }

    fn executor(&self, _: &std::path::Path) -> Box<dyn NodeExecutor + Send> {
        Box::new(Nodes)
    }
}

/// `stamp` works; `explode` panics, as a bug in the host would.
struct Nodes;

impl NodeExecutor for Nodes {
    fn execute(&mut self, call: NodeCall<'_>) -> Result<Map<String, Value>, NodeFailure> {
        match call.node_type {
            "explode" => panic!("a bug met by this run"),
            _ => Ok(Map::from_iter([("result".into(), json!("stamped"))])),
        }
    }
}

/// A file store that can refuse to read the inbox or save runs, and that checks every
/// `sub_run_id` a ledger record names already exists when the record is appended, or becomes
/// readable through `read_committed` as the run's state is saved.
struct Checked {
    inner: FileStore,
    inbox_broken: AtomicBool,
    saves_broken: AtomicBool,
    dangling: Mutex<Vec<String>>,
}

impl RunStore for Checked {
    fn create_run(&self, run: &RunState) -> StoreResult<()> {
        self.inner.create_run(run)
    }
    fn save_run(&self, run: &RunState) -> StoreResult<()> {
        if self.saves_broken.load(Ordering::SeqCst) {
            let source = std::io::Error::other("test: disk full");
            return Err(StoreError::Io { path: format!("run_{}.json", run.run_id), source });
        }
        self.inner.save_run(run)?;
        // A reader right after the state is saved, before anything else of the change.
        let readable = agw_store::read_committed(&self.inner, run, 0, 1000)?;
        self.check_named_children(&readable)
    }
    fn load_run(&self, run_id: &str) -> StoreResult<Option<RunState>> {
        self.inner.load_run(run_id)
    }
    fn list_runs(&self) -> StoreResult<Vec<RunState>> {
        self.inner.list_runs()
    }
    fn append_ledger(&self, run_id: &str, records: &[StepRecord]) -> StoreResult<u64> {
        self.check_named_children(records)?;
        self.inner.append_ledger(run_id, records)
    }
    fn ledger_len(&self, run_id: &str) -> StoreResult<u64> {
        self.inner.ledger_len(run_id)
    }
    fn read_ledger(&self, run_id: &str, after: u64, limit: usize) -> StoreResult<Vec<StepRecord>> {
        self.inner.read_ledger(run_id, after, limit)
    }
    fn append_command(&self, command: NewCommand) -> StoreResult<Accepted> {
        self.inner.append_command(command)
    }
    fn commands_after(&self, after: u64, limit: usize) -> StoreResult<Vec<Command>> {
        if self.inbox_broken.load(Ordering::SeqCst) {
            return Err(StoreError::Corrupt { path: "commands.jsonl".into(), reason: "test: unreadable".into() });
        }
        self.inner.commands_after(after, limit)
    }
    fn command_cursor(&self) -> StoreResult<u64> {
        self.inner.command_cursor()
    }
    fn set_command_cursor(&self, seq: u64) -> StoreResult<()> {
        self.inner.set_command_cursor(seq)
    }
}

impl Checked {
    /// Notes every child run a record names that does not exist (yet).
    fn check_named_children(&self, records: &[StepRecord]) -> StoreResult<()> {
        for record in records {
            let text = serde_json::to_string(record).unwrap();
            for (at, _) in text.match_indices("\"sub_run_id\":\"") {
                let id: String = text[at + 14..].chars().take_while(|c| *c != '"').collect();
                if self.inner.load_run(&id)?.is_none() {
                    self.dangling.lock().unwrap().push(id);
                }
            }
        }
        Ok(())
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    store: Arc<Checked>,
    handle: RunnerHandle,
    shutdown: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Harness {
    fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Checked {
            inner: FileStore::open_with_sync(dir.path(), false).unwrap(),
            inbox_broken: AtomicBool::new(false),
            saves_broken: AtomicBool::new(false),
            dangling: Mutex::default(),
        });
        let handle = RunnerHandle::default();
        let runs = Arc::new(Runs::new(
            store.clone(),
            Arc::new(TestFlows::new()),
            Arc::new(ArtifactStore::open(dir.path().join("artifacts")).unwrap()),
            Arc::new(SystemEnv),
            DataDir::new(dir.path()),
        ));
        let config = RunnerConfig { poll: Duration::from_millis(20), ..RunnerConfig::default() };
        let runner = Arc::new(Runner::new(
            store.clone(),
            runs,
            Arc::new(SystemEnv),
            config,
            handle.clone(),
            RunnerLock::acquire(&DataDir::new(dir.path())).unwrap(),
        ));
        let (shutdown, stop) = watch::channel(false);
        let task = tokio::spawn(runner.run(stop));
        Self { _dir: dir, store, handle, shutdown, task }
    }

    fn start_run(&self, flow_id: &str) -> String {
        let run_id = SystemEnv.new_id();
        let run = RunState::new(NewRun {
            run_id: run_id.clone(),
            flow: FlowRef { bundle_id: "b".into(), bundle_version: "1".into(), flow_id: flow_id.into() },
            input_data: Map::new(),
            session_id: None,
            parent_run_id: None,
            workspace_root: String::new(),
            entry_node: "start".into(),
            now: SystemEnv.now_iso(),
        });
        self.store.create_run(&run).unwrap();
        self.handle.wake_run(&run_id);
        run_id
    }

    async fn until<T>(&self, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
        let started = Instant::now();
        loop {
            if let Some(found) = check() {
                return found;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "timed out waiting for {what}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn terminal(&self, run_id: &str) -> RunState {
        self.until(run_id, || self.store.load_run(run_id).unwrap().filter(|r| r.status.is_terminal())).await
    }

    async fn stop(self) {
        self.shutdown.send(true).unwrap();
        self.task.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_panics_fails_with_the_reason_and_the_runner_carries_on() {
    let h = Harness::start();
    let boom = h.start_run("boom");
    let failed = h.terminal(&boom).await;
    assert_eq!(failed.status, RunStatus::Failed);
    let error = failed.error.clone().unwrap_or_default();
    assert!(error.contains("internal error: a bug met by this run"), "{error}");
    // The state is saved before its records reach the ledger: wait for the records.
    let committed = failed.committed_ledger_len();
    let last = h
        .until("the failed run's records", || {
            let ledger = h.store.read_ledger(&boom, 0, 100).unwrap();
            (ledger.len() as u64 >= committed).then(|| ledger.last().cloned()).flatten()
        })
        .await;
    assert_eq!(last.idempotency_key.as_deref(), Some("system:terminal_status:failed"));
    // Every other run, and later ones, carry on.
    for _ in 0..3 {
        let ok = h.start_run("ok");
        assert_eq!(h.terminal(&ok).await.status, RunStatus::Completed);
    }
    assert_eq!(h.handle.status().error, None);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_inbox_shows_as_an_error_until_it_reads_again_and_runs_go_on() {
    let h = Harness::start();
    h.store.inbox_broken.store(true, Ordering::SeqCst);
    let error = h.until("the error", || h.handle.status().error).await;
    assert!(error.contains("cannot read the command inbox") && error.contains("test: unreadable"), "{error}");
    let ok = h.start_run("ok");
    assert_eq!(h.terminal(&ok).await.status, RunStatus::Completed, "runs still tick");
    h.store.inbox_broken.store(false, Ordering::SeqCst);
    h.until("recovery", || h.handle.status().error.is_none().then_some(())).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_that_cannot_be_saved_show_as_an_error_until_they_can_and_then_finish() {
    let h = Harness::start();
    h.store.saves_broken.store(true, Ordering::SeqCst);
    let ok = h.start_run("ok");
    let error = h.until("the error", || h.handle.status().error).await;
    assert!(error.contains(&format!("cannot tick run '{ok}'")) && error.contains("test: disk full"), "{error}");
    h.store.saves_broken.store(false, Ordering::SeqCst);
    // The next scan finds the run again; its tick succeeds and clears the error.
    assert_eq!(h.terminal(&ok).await.status, RunStatus::Completed);
    h.until("recovery", || h.handle.status().error.is_none().then_some(())).await;
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_child_exists_before_any_ledger_record_names_it() {
    let h = Harness::start();
    let parents: Vec<String> = (0..5).map(|_| h.start_run("sub")).collect();
    for parent in &parents {
        assert_eq!(h.terminal(parent).await.status, RunStatus::Completed);
    }
    let named = parents
        .iter()
        .flat_map(|p| h.store.read_ledger(p, 0, 100).unwrap())
        .filter(|r| serde_json::to_string(r).unwrap().contains("sub_run_id"))
        .count();
    assert!(named >= 5, "the parents' ledgers name their children ({named} records)");
    assert_eq!(*h.store.dangling.lock().unwrap(), Vec::<String>::new());
    h.stop().await;
}
