//! The use cases against a real file store and catalog (the durable-flows test bundles).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use agw_domain::command::CommandKind;
use agw_domain::run::RunStatus;
use agw_domain::{NodeExecutor, SystemEnv};
use agw_store::{ArtifactStore, BundleSources, FileStore, RunStore};
use serde_json::{Map, json};

use crate::{App, AppError, Catalog, DataDir, FlowChoice, NodeTypes, Runs, StartRun, SubmitCommand, Wake, Workflows};

/// No plugins; a generation the test can bump as a plugin reload would.
#[derive(Default)]
struct NoPlugins {
    generation: AtomicU64,
}

impl NodeTypes for NoPlugins {
    fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    fn provides(&self, _: &str) -> Option<bool> {
        None
    }

    fn executor(&self, _: &Path) -> Box<dyn NodeExecutor + Send> {
        unreachable!("these tests never tick")
    }
}

/// What the use cases told the runner.
#[derive(Default)]
struct Woken(Mutex<Vec<String>>);

impl Wake for Woken {
    fn inbox(&self) {
        self.0.lock().unwrap().push("inbox".into());
    }

    fn run(&self, run_id: &str) {
        self.0.lock().unwrap().push(run_id.into());
    }
}

struct Fixture {
    _dir: tempfile::TempDir,
    data: DataDir,
    store: Arc<FileStore>,
    plugins: Arc<NoPlugins>,
    catalog: Arc<Catalog>,
    runs: Arc<Runs>,
    woken: Arc<Woken>,
    app: App,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = DataDir::new(dir.path());
    let bundles = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/durable-flows/src");
    let sources = BundleSources {
        uploads_dir: data.uploads(),
        roots: vec![bundles.join("dur-sub-listener"), bundles.join("dur-on-schedule")],
        embedded: &[],
        limits: Default::default(),
        sync: false,
    };
    let plugins = Arc::new(NoPlugins::default());
    let catalog = Arc::new(Catalog::load(sources, plugins.clone()).unwrap());
    let store = Arc::new(FileStore::open_with_sync(dir.path(), false).unwrap());
    let artifacts = Arc::new(ArtifactStore::open(data.artifacts()).unwrap());
    let env = Arc::new(SystemEnv);
    let runs = Arc::new(Runs::new(store.clone(), catalog.clone(), artifacts.clone(), env.clone(), data.clone()));
    let woken = Arc::new(Woken::default());
    let app = App::new(store.clone(), artifacts, catalog.clone(), runs.clone(), env, woken.clone());
    Fixture { _dir: dir, data, store, plugins, catalog, runs, woken, app }
}

fn start(flow_id: &str) -> StartRun {
    StartRun {
        flow: FlowChoice {
            bundle_id: Some("dur-sub-listener".into()),
            flow_id: Some(flow_id.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

#[test]
fn a_client_start_creates_the_run_its_workspace_and_snapshot_then_wakes_the_runner() {
    let f = fixture();
    let started = f.app.start(start("listener")).unwrap();
    assert_eq!(started.resolved.flow.workflow_id(), "dur-sub-listener@0.1.0:listener");
    let run = f.store.load_run(&started.run_id).unwrap().expect("stored");
    assert_eq!(run.status, RunStatus::Running);
    assert_eq!(run.session_id, started.run_id, "no session id: the run's own");
    assert!(f.data.workspace(&started.run_id).is_dir());
    assert_eq!(run.workspace_root, f.data.workspace(&started.run_id).display().to_string());
    let artifacts = ArtifactStore::open(f.data.artifacts()).unwrap();
    assert_eq!(artifacts.list(&started.run_id).unwrap().len(), 1, "the flow snapshot");
    assert_eq!(*f.woken.0.lock().unwrap(), std::slice::from_ref(&started.run_id));
}

#[test]
fn listeners_start_with_a_client_start_but_not_with_a_child_run() {
    // As the reference does (flow case subflow-child-on-event).
    let f = fixture();
    let started = f.app.start(start("listener")).unwrap();
    let run = f.store.load_run(&started.run_id).unwrap().unwrap();
    assert_eq!(run.spawns.len(), 1, "one listener for the on_event node");
    assert_eq!(run.spawns[0].entry_node.as_deref(), Some("ev"));

    let spawn = agw_domain::run::Spawn {
        run_id: "child-1".into(),
        flow: run.flow.clone(),
        input_data: Map::new(),
        session_id: run.session_id.clone(),
        entry_node: None,
        workflow_id: None,
    };
    let (child, snapshot) = f.runs.child(&run, &spawn);
    assert!(child.run.spawns.is_empty(), "a child starts no listeners");
    assert!(child.first_tick.is_none(), "only a listener ticks before it is stored");
    assert_eq!(child.run.parent_run_id.as_deref(), Some(started.run_id.as_str()));
    assert!(snapshot.is_some());
    f.runs.create(&child.run, snapshot.as_ref()).unwrap();
    assert!(f.store.load_run("child-1").unwrap().is_some());
}

#[test]
fn a_child_whose_bundle_is_gone_starts_failed() {
    let f = fixture();
    let started = f.app.start(start("listener")).unwrap();
    let parent = f.store.load_run(&started.run_id).unwrap().unwrap();
    let mut flow = parent.flow.clone();
    flow.bundle_id = "gone".into();
    let spawn = agw_domain::run::Spawn {
        run_id: "child-2".into(),
        flow,
        input_data: Map::new(),
        session_id: "s".into(),
        entry_node: None,
        workflow_id: None,
    };
    let (child, snapshot) = f.runs.child(&parent, &spawn);
    assert_eq!(child.run.status, RunStatus::Failed);
    assert!(
        child.run.error.as_deref().unwrap_or_default().contains("bundle 'gone@0.1.0' is not loaded"),
        "{:?}",
        child.run.error
    );
    assert!(snapshot.is_none());
}

#[test]
fn refusals_say_what_the_caller_must_change() {
    let f = fixture();
    let missing = |choice: FlowChoice| f.app.start(StartRun { flow: choice, ..Default::default() }).unwrap_err();
    assert!(matches!(missing(FlowChoice::default()), AppError::Refused(m) if m.contains("flow_id is required")));
    let error = missing(FlowChoice { bundle_id: Some("nope".into()), ..Default::default() });
    assert!(matches!(&error, AppError::NotFound(m) if m == "Bundle 'nope' not found"), "{error:?}");
    let error = missing(FlowChoice {
        bundle_id: Some("dur-sub-listener@0.1.0".into()),
        bundle_version: Some("9".into()),
        ..Default::default()
    });
    assert!(matches!(error, AppError::Refused(m) if m.contains("conflicts")));
    assert!(f.woken.0.lock().unwrap().is_empty(), "nothing started, nothing woken");
}

#[test]
fn commands_are_checked_at_the_door_and_then_wake_the_runner() {
    let f = fixture();
    let started = f.app.start(start("parent")).unwrap();
    let command = |kind, payload: serde_json::Value| SubmitCommand {
        command_id: format!("c-{}", f.woken.0.lock().unwrap().len()),
        run_id: started.run_id.clone(),
        kind,
        payload: payload.as_object().cloned().unwrap(),
        ts: None,
        client_id: None,
    };
    let error = f.app.submit(command(CommandKind::EmitEvent, json!({"name": "ping", "scope": 5}))).unwrap_err();
    assert!(
        matches!(&error, AppError::InvalidField(field) if field.kind == "string_type" && field.loc == ["body", "payload", "scope"])
    );
    let error = f.app.submit(command(CommandKind::UpdateSchedule, json!({"interval": "1h"}))).unwrap_err();
    assert!(matches!(&error, AppError::Unprocessable(m) if m.contains("is not a scheduled run")), "{error:?}");
    let mut unknown = command(CommandKind::Pause, json!({}));
    unknown.run_id = "no-such-run".into();
    assert!(matches!(f.app.submit(unknown), Err(AppError::RunNotFound(id)) if id == "no-such-run"));

    let accepted = f.app.submit(command(CommandKind::Pause, json!({}))).unwrap();
    assert!(!accepted.duplicate);
    assert_eq!(f.woken.0.lock().unwrap().last().map(String::as_str), Some("inbox"));
    assert_eq!(f.store.commands_after(0, 10).unwrap().len(), 1);
}

#[test]
fn compiled_flows_are_cached_until_the_plugins_change() {
    let f = fixture();
    let flow = f.app.start(start("parent")).unwrap().resolved.flow;
    let first = f.catalog.compile(&flow).unwrap();
    assert!(Arc::ptr_eq(&first, &f.catalog.compile(&flow).unwrap()), "a hit");
    assert_eq!(f.catalog.cached_flows(), 1);
    f.plugins.generation.fetch_add(1, Ordering::SeqCst);
    assert!(!Arc::ptr_eq(&first, &f.catalog.compile(&flow).unwrap()), "a reload compiles again");
    assert_eq!(f.catalog.cached_flows(), 1);
}
