//! The store conformance suite: what every backend must do. Backends call [`run_all`] from
//! their tests with a factory that returns a fresh, empty store each time.

use agw_domain::command::{Accepted, NewCommand};
use agw_domain::record::{RecordCtx, StepRecord};
use agw_domain::run::{FlowRef, NewRun, RunState, RunStatus};
use serde_json::json;

use crate::{RunStore, StoreError, reconcile_outbox};

/// Makes a fresh, empty store.
pub type Factory<'a> = &'a dyn Fn() -> Box<dyn RunStore>;

/// Runs every check against stores made by `make`.
pub fn run_all(make: Factory<'_>) {
    runs_round_trip(make);
    create_refuses_existing_run(make);
    list_is_newest_first(make);
    ledger_appends_and_pages(make);
    commands_are_idempotent_and_ordered(make);
    cursor_persists(make);
    outbox_is_reconciled_exactly_once(make);
    committed_reads_include_the_pending_outbox(make);
}

/// A run in a known state, for tests.
pub fn sample_run(run_id: &str, created_at: &str) -> RunState {
    RunState::new(NewRun {
        run_id: run_id.into(),
        flow: FlowRef { bundle_id: "b".into(), bundle_version: "1.0.0".into(), flow_id: "f".into() },
        input_data: json!({"a": 1}).as_object().cloned().unwrap_or_default(),
        session_id: None,
        parent_run_id: None,
        workspace_root: "/tmp/ws".into(),
        entry_node: "start".into(),
        now: created_at.into(),
    })
}

/// `n` distinct records of one run.
pub fn sample_records(run_id: &str, n: usize) -> Vec<StepRecord> {
    let ctx = RecordCtx { run_id, actor_id: "gateway", session_id: run_id };
    (0..n)
        .map(|i| ctx.terminal_status(format!("step-{i}"), "end", "completed", "2026-01-01T00:00:00.000000+00:00"))
        .collect()
}

/// A command for `run_id` with the given id.
pub fn new_command(command_id: &str, run_id: &str) -> NewCommand {
    NewCommand {
        command_id: command_id.into(),
        run_id: run_id.into(),
        kind: "pause".into(),
        payload: json!({"reason": "test"}),
        ts: "2026-01-01T00:00:00.000000+00:00".into(),
        client_id: None,
    }
}

fn runs_round_trip(make: Factory<'_>) {
    let store = make();
    assert!(store.load_run("r1").expect("load missing").is_none());
    let mut run = sample_run("r1", "2026-01-01T00:00:00.000000+00:00");
    store.create_run(&run).expect("create");
    assert_eq!(store.load_run("r1").expect("load").as_ref(), Some(&run));
    run.status = RunStatus::Completed;
    run.output = Some(json!({"x": 1.0, "success": true}));
    store.save_run(&run).expect("save");
    let loaded = store.load_run("r1").expect("load").expect("exists");
    assert_eq!(loaded, run);
    assert_eq!(loaded.output, Some(json!({"x": 1.0, "success": true})), "1.0 must stay a float");
}

fn create_refuses_existing_run(make: Factory<'_>) {
    let store = make();
    let run = sample_run("r1", "2026-01-01T00:00:00.000000+00:00");
    store.create_run(&run).expect("create");
    assert!(matches!(store.create_run(&run), Err(StoreError::RunExists(id)) if id == "r1"));
}

fn list_is_newest_first(make: Factory<'_>) {
    let store = make();
    for (id, at) in [
        ("a", "2026-01-01T00:00:01.000000+00:00"),
        ("b", "2026-01-01T00:00:03.000000+00:00"),
        ("c", "2026-01-01T00:00:02.000000+00:00"),
    ] {
        store.create_run(&sample_run(id, at)).expect("create");
    }
    let ids: Vec<_> = store.list_runs().expect("list").into_iter().map(|r| r.run_id).collect();
    assert_eq!(ids, ["b", "c", "a"]);
}

fn ledger_appends_and_pages(make: Factory<'_>) {
    let store = make();
    assert_eq!(store.ledger_len("r1").expect("len"), 0);
    assert!(store.read_ledger("r1", 0, 10).expect("read empty").is_empty());
    let records = sample_records("r1", 5);
    assert_eq!(store.append_ledger("r1", &records[..2]).expect("append"), 2);
    assert_eq!(store.append_ledger("r1", &records[2..]).expect("append"), 5);
    assert_eq!(store.read_ledger("r1", 0, 100).expect("read"), records);
    assert_eq!(store.read_ledger("r1", 1, 2).expect("page"), records[1..3].to_vec());
    assert!(store.read_ledger("r1", 5, 10).expect("past end").is_empty());
    assert!(store.read_ledger("r1", 99, 10).expect("far past end").is_empty());
    assert_eq!(store.ledger_len("other").expect("other run"), 0);
}

fn commands_are_idempotent_and_ordered(make: Factory<'_>) {
    let store = make();
    assert_eq!(store.append_command(new_command("c1", "r1")).expect("c1"), Accepted { seq: 1, duplicate: false });
    assert_eq!(store.append_command(new_command("c2", "r2")).expect("c2"), Accepted { seq: 2, duplicate: false });
    assert_eq!(store.append_command(new_command("c1", "r1")).expect("c1 again"), Accepted { seq: 1, duplicate: true });
    let all = store.commands_after(0, 10).expect("all");
    assert_eq!(all.iter().map(|c| (c.seq, c.command_id.as_str())).collect::<Vec<_>>(), [(1, "c1"), (2, "c2")]);
    assert_eq!(store.commands_after(1, 10).expect("after 1").len(), 1);
    assert_eq!(store.commands_after(0, 1).expect("limit").len(), 1);
    assert_eq!(all[0].payload, json!({"reason": "test"}));
}

fn cursor_persists(make: Factory<'_>) {
    let store = make();
    assert_eq!(store.command_cursor().expect("cursor"), 0);
    store.set_command_cursor(7).expect("set");
    assert_eq!(store.command_cursor().expect("cursor"), 7);
}

fn outbox_is_reconciled_exactly_once(make: Factory<'_>) {
    let store = make();
    let mut run = sample_run("r1", "2026-01-01T00:00:00.000000+00:00");
    let records = sample_records("r1", 3);
    store.append_ledger("r1", &records[..1]).expect("first tick");
    // The checkpoint promised records 1..3, but the crash came after one of them landed.
    run.ledger_base = 1;
    run.outbox = records[1..].to_vec();
    store.append_ledger("r1", &records[1..2]).expect("partial append");
    assert_eq!(reconcile_outbox(store.as_ref(), &run).expect("reconcile"), 3);
    assert_eq!(reconcile_outbox(store.as_ref(), &run).expect("again"), 3, "reconciling twice appends nothing");
    assert_eq!(store.read_ledger("r1", 0, 10).expect("read"), records);
}

fn committed_reads_include_the_pending_outbox(make: Factory<'_>) {
    use crate::{committed_len, read_committed};
    let store = make();
    let mut run = sample_run("r1", "2026-01-01T00:00:00.000000+00:00");
    let records = sample_records("r1", 3);
    store.append_ledger("r1", &records[..1]).expect("first record");
    // Saved state promises two more records the ledger does not have yet.
    run.ledger_base = 1;
    run.outbox = records[1..].to_vec();
    assert_eq!(committed_len(store.as_ref(), &run).expect("len"), 3);
    assert_eq!(read_committed(store.as_ref(), &run, 0, 10).expect("all"), records);
    assert_eq!(read_committed(store.as_ref(), &run, 1, 1).expect("page"), records[1..2].to_vec());
    assert!(read_committed(store.as_ref(), &run, 3, 10).expect("past end").is_empty());
    // Once appended, nothing is served twice.
    store.append_ledger("r1", &records[1..]).expect("append");
    assert_eq!(read_committed(store.as_ref(), &run, 0, 10).expect("all"), records);
}
