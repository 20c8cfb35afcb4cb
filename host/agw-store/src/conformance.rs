//! The store conformance suite: what every backend must do. Backends call [`run_all`] from
//! their tests with a factory that makes a fresh, empty location and returns an opener for
//! it: every call of the opener is another handle on the same data, as a second process
//! (an API process beside a runner process) would have.

use agw_domain::command::{Accepted, NewCommand};
use agw_domain::record::{RecordCtx, StepRecord};
use agw_domain::run::{FlowRef, NewRun, RunState, RunStatus, Wait};
use serde_json::json;

use crate::{RunQuery, RunStore, StoreError, reconcile_outbox};

/// Opens a handle on one location; each call is a new handle on the same data.
pub type Opener = Box<dyn Fn() -> Box<dyn RunStore>>;
/// Makes a fresh, empty location.
pub type Factory<'a> = &'a dyn Fn() -> Opener;

/// Runs every check against stores made by `make`.
pub fn run_all(make: Factory<'_>) {
    runs_round_trip(make);
    create_refuses_existing_run(make);
    list_is_newest_first(make);
    query_filters_and_pages(make);
    ledger_appends_and_pages(make);
    commands_are_idempotent_and_ordered(make);
    cursor_persists(make);
    outbox_is_reconciled_exactly_once(make);
    committed_reads_include_the_pending_outbox(make);
    handles_share_runs_ledgers_and_survive_reopening(make);
    two_handles_share_one_inbox(make);
    concurrent_duplicates_land_once_across_handles(make);
    ledger_appends_are_atomic_batches(make);
    waiting_on_finds_exact_keys(make);
    active_runs_are_runnable_or_due(make);
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
    let store = make()();
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
    let store = make()();
    let run = sample_run("r1", "2026-01-01T00:00:00.000000+00:00");
    store.create_run(&run).expect("create");
    assert!(matches!(store.create_run(&run), Err(StoreError::RunExists(id)) if id == "r1"));
}

fn list_is_newest_first(make: Factory<'_>) {
    let store = make()();
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

fn query_filters_and_pages(make: Factory<'_>) {
    let open = make();
    let (store, reader) = (open(), open());
    // Ten runs: a root every even second, the odd ones its children; every third completed;
    // two workflows and two sessions. "x" and "y" share a second: run ids break the tie.
    let mut runs = Vec::new();
    for i in 0..10u32 {
        let mut run = sample_run(&format!("r{i}"), &at(i + 1));
        if i % 2 == 1 {
            run.parent_run_id = Some(format!("r{}", i - 1));
        }
        if i % 3 == 0 {
            run.status = RunStatus::Completed;
        }
        if i >= 5 {
            run.workflow_id = "other:f".into();
        }
        run.session_id = if i < 4 { "s1".into() } else { "s2".into() };
        runs.push(run);
    }
    runs.push(sample_run("x", &at(30)));
    runs.push(sample_run("y", &at(30)));
    for run in &runs {
        store.create_run(run).expect("create");
    }
    let ids = |query: RunQuery| -> (Vec<String>, bool) {
        let page = store.query_runs(&query).expect("query");
        (page.runs.into_iter().map(|r| r.run_id).collect(), page.has_more)
    };
    let all = RunQuery { limit: 100, ..RunQuery::default() };
    let newest: Vec<String> = store.list_runs().expect("list").into_iter().map(|r| r.run_id).collect();
    assert_eq!(ids(all.clone()), (newest.clone(), false), "no filter: the list, in its order");
    assert_eq!(newest[..3], ["y", "x", "r9"]);
    assert_eq!(ids(RunQuery { limit: 3, ..all.clone() }), (newest[..3].to_vec(), true));
    assert_eq!(ids(RunQuery { limit: 3, offset: 9, ..all.clone() }), (newest[9..].to_vec(), false), "exact end");
    assert_eq!(ids(RunQuery { limit: 2, offset: 9, ..all.clone() }), (newest[9..11].to_vec(), true));
    assert_eq!(ids(RunQuery { offset: 12, ..all.clone() }), (vec![], false), "past the end");
    assert_eq!(ids(RunQuery { limit: 0, ..all.clone() }), (vec![], true));
    let completed = RunQuery { status: Some(RunStatus::Completed), ..all.clone() };
    assert_eq!(ids(completed.clone()), (vec!["r9".into(), "r6".into(), "r3".into(), "r0".into()], false));
    assert_eq!(ids(RunQuery { root_only: true, ..completed.clone() }).0, ["r6", "r0"]);
    let root = ids(RunQuery { root_only: true, ..all.clone() }).0;
    assert_eq!(root, ["y", "x", "r8", "r6", "r4", "r2", "r0"]);
    assert_eq!(ids(RunQuery { parent_run_id: Some("r2".into()), ..all.clone() }).0, ["r3"]);
    assert_eq!(ids(RunQuery { parent_run_id: Some("r3".into()), ..all.clone() }).0, Vec::<String>::new());
    let other = RunQuery { workflow_id: Some("other:f".into()), ..all.clone() };
    assert_eq!(ids(other.clone()).0, ["r9", "r8", "r7", "r6", "r5"]);
    assert_eq!(ids(RunQuery { session_id: Some("s1".into()), ..all.clone() }).0, ["r3", "r2", "r1", "r0"]);
    let combined = RunQuery { session_id: Some("s2".into()), root_only: true, limit: 1, ..other };
    assert_eq!(ids(combined.clone()), (vec!["r8".into()], true), "filters combine before paging");
    assert_eq!(ids(RunQuery { offset: 1, ..combined }), (vec!["r6".into()], false));
    // Every filter set against the reference answer: the full list, filtered, then paged.
    for query in [completed, RunQuery { parent_run_id: Some("r8".into()), ..all.clone() }] {
        let expected = query.page(store.list_runs().expect("list").into_iter().filter(|r| query.matches(r)));
        let page = store.query_runs(&query).expect("query");
        assert_eq!((page.runs, page.has_more), expected);
    }
    // The answer follows state another handle saves after this one answered.
    let completed = RunQuery { status: Some(RunStatus::Completed), limit: 2, ..RunQuery::default() };
    assert_eq!(reader.query_runs(&completed).expect("query").runs[0].run_id, "r9");
    let mut done = store.load_run("y").expect("load").expect("y");
    done.status = RunStatus::Completed;
    done.updated_at = at(31);
    store.save_run(&done).expect("save");
    let page = reader.query_runs(&completed).expect("query");
    assert_eq!(page.runs.iter().map(|r| r.run_id.as_str()).collect::<Vec<_>>(), ["y", "r9"]);
    assert!(page.has_more);
    assert_eq!(page.runs[0], done);
}

fn ledger_appends_and_pages(make: Factory<'_>) {
    let store = make()();
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
    let store = make()();
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
    let store = make()();
    assert_eq!(store.command_cursor().expect("cursor"), 0);
    store.set_command_cursor(7).expect("set");
    assert_eq!(store.command_cursor().expect("cursor"), 7);
}

fn outbox_is_reconciled_exactly_once(make: Factory<'_>) {
    let store = make()();
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
    let store = make()();
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

    // A checkpoint that spawns a child: its records are held back until the child exists.
    let more = sample_records("r1", 5);
    run.ledger_base = 3;
    run.outbox = more[3..].to_vec();
    let child = sample_run("r1-child", "2026-01-01T00:00:01.000000+00:00");
    run.spawns = vec![agw_domain::run::Spawn {
        run_id: child.run_id.clone(),
        flow: child.flow.clone(),
        input_data: serde_json::Map::new(),
        session_id: "s".into(),
        entry_node: None,
        workflow_id: None,
    }];
    assert_eq!(read_committed(store.as_ref(), &run, 0, 10).expect("held back"), records);
    store.create_run(&child).expect("child");
    assert_eq!(read_committed(store.as_ref(), &run, 3, 10).expect("served"), more[3..].to_vec());
}

fn handles_share_runs_ledgers_and_survive_reopening(make: Factory<'_>) {
    let open = make();
    let (a, b) = (open(), open());
    let mut run = sample_run("r1", "2026-01-01T00:00:00.000000+00:00");
    a.create_run(&run).expect("create");
    assert_eq!(b.load_run("r1").expect("b loads").as_ref(), Some(&run));
    assert!(matches!(b.create_run(&run), Err(StoreError::RunExists(_))), "b sees a's run");
    run.status = RunStatus::Completed;
    b.save_run(&run).expect("b saves");
    assert_eq!(a.load_run("r1").expect("a loads").as_ref(), Some(&run));
    let records = sample_records("r1", 4);
    assert_eq!(a.append_ledger("r1", &records[..2]).expect("a appends"), 2);
    assert_eq!(b.ledger_len("r1").expect("b len"), 2);
    assert_eq!(b.append_ledger("r1", &records[2..]).expect("b appends"), 4);
    assert_eq!(a.read_ledger("r1", 0, 10).expect("a reads"), records);
    a.append_command(new_command("c1", "r1")).expect("command");
    a.set_command_cursor(1).expect("cursor");
    drop((a, b));
    let c = open();
    assert_eq!(c.load_run("r1").expect("reopened").as_ref(), Some(&run));
    assert_eq!(c.list_runs().expect("list").len(), 1);
    assert_eq!(c.read_ledger("r1", 0, 10).expect("reopened ledger"), records);
    assert_eq!(c.commands_after(0, 10).expect("reopened inbox").len(), 1);
    assert_eq!(c.command_cursor().expect("reopened cursor"), 1);
}

fn two_handles_share_one_inbox(make: Factory<'_>) {
    let open = make();
    let (a, b) = (open(), open());
    assert_eq!(a.append_command(new_command("c1", "r")).expect("a"), Accepted { seq: 1, duplicate: false });
    assert_eq!(b.append_command(new_command("c2", "r")).expect("b"), Accepted { seq: 2, duplicate: false });
    assert_eq!(a.append_command(new_command("c2", "r")).expect("dup via a"), Accepted { seq: 2, duplicate: true });
    assert_eq!(b.append_command(new_command("c1", "r")).expect("dup via b"), Accepted { seq: 1, duplicate: true });
    assert_eq!(a.append_command(new_command("c3", "r")).expect("a again"), Accepted { seq: 3, duplicate: false });
    let ids = |store: &dyn RunStore| {
        store.commands_after(0, 10).expect("read").into_iter().map(|c| (c.seq, c.command_id)).collect::<Vec<_>>()
    };
    assert_eq!(ids(a.as_ref()), ids(b.as_ref()));
    assert_eq!(ids(b.as_ref()).len(), 3);
    b.set_command_cursor(2).expect("b sets the cursor");
    assert_eq!(a.command_cursor().expect("a reads it"), 2);
}

fn concurrent_duplicates_land_once_across_handles(make: Factory<'_>) {
    let open = make();
    let handles = [open(), open()];
    const IDS: usize = 12;
    let answers: Vec<Vec<(String, Accepted)>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                let store = handles[worker % 2].as_ref();
                scope.spawn(move || {
                    (0..IDS)
                        .map(|i| {
                            // Half the workers go through the ids backwards, so they collide.
                            let i = if worker % 2 == 0 { i } else { IDS - 1 - i };
                            let id = format!("c{i}");
                            (id.clone(), store.append_command(new_command(&id, "r")).expect("append"))
                        })
                        .collect()
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().expect("worker")).collect()
    });
    let stored = handles[0].commands_after(0, 100).expect("read");
    assert_eq!(stored.len(), IDS, "each command id lands once");
    assert!(stored.iter().enumerate().all(|(i, c)| c.seq == i as u64 + 1), "no gaps in the sequence");
    for (id, accepted) in answers.iter().flatten() {
        let seq = stored.iter().find(|c| &c.command_id == id).map(|c| c.seq);
        assert_eq!(Some(accepted.seq), seq, "every answer for {id} names its one seq");
    }
    let fresh = answers.iter().flatten().filter(|(_, a)| !a.duplicate).count();
    assert_eq!(fresh, IDS, "exactly one answer per id says it was new");
}

fn ledger_appends_are_atomic_batches(make: Factory<'_>) {
    const BATCH: usize = 5;
    let store = make()();
    let store = store.as_ref();
    let lens: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|worker| {
                scope.spawn(move || {
                    let ctx = RecordCtx { run_id: "r1", actor_id: "gateway", session_id: "r1" };
                    (0..8)
                        .map(|batch| {
                            let records: Vec<_> = (0..BATCH)
                                .map(|i| {
                                    let id = format!("w{worker}-b{batch}-{i}");
                                    ctx.terminal_status(id, "end", "completed", "2026-01-01T00:00:00.000000+00:00")
                                })
                                .collect();
                            store.append_ledger("r1", &records).expect("append")
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers.into_iter().flat_map(|w| w.join().expect("worker")).collect()
    });
    let mut sorted = lens.clone();
    sorted.sort_unstable();
    let expected: Vec<u64> = (1..=32).map(|n| n * BATCH as u64).collect();
    assert_eq!(sorted, expected, "each append reports the length its whole batch ends at");
    let ledger = store.read_ledger("r1", 0, 1000).expect("read");
    assert_eq!(ledger.len(), 32 * BATCH);
    for batch in ledger.chunks(BATCH) {
        let prefix = batch[0].step_id.rsplit_once('-').map(|(p, _)| p.to_owned()).unwrap_or_default();
        for (i, record) in batch.iter().enumerate() {
            assert_eq!(record.step_id, format!("{prefix}-{i}"), "batches never interleave");
        }
    }
}

/// A run waiting on `wait`, paused or not.
fn waiting_run(run_id: &str, created_at: &str, wait: Wait, paused: bool) -> RunState {
    let mut run = sample_run(run_id, created_at);
    run.status = RunStatus::Waiting;
    run.waiting = Some(wait);
    run.paused = paused;
    run
}

fn timer(until: Option<&str>) -> Wait {
    Wait { reason: agw_domain::run::WaitReason::Until, until: until.map(str::to_owned), ..Wait::event(String::new()) }
}

fn at(second: u32) -> String {
    format!("2026-01-01T00:00:{second:02}.000000+00:00")
}

fn waiting_on_finds_exact_keys(make: Factory<'_>) {
    let store = make()();
    let key = "evt:session:s1:go";
    for run in [
        waiting_run("a", &at(1), Wait::event(key.into()), false),
        waiting_run("b", &at(3), Wait::event(key.into()), true),
        waiting_run("c", &at(2), Wait::event("evt:session:s1:go2".into()), false),
        waiting_run("d", &at(4), Wait::event("evt:session:s1:*".into()), false),
        sample_run("e", &at(5)),
    ] {
        store.create_run(&run).expect("create");
    }
    assert_eq!(store.waiting_on(key).expect("key"), ["b", "a"], "exact key, newest first, paused included");
    assert_eq!(store.waiting_on("evt:session:s1:*").expect("wildcard"), ["d"]);
    assert!(store.waiting_on("evt:session:s1").expect("prefix").is_empty());
    let mut done = store.load_run("b").expect("load").expect("b");
    done.status = RunStatus::Completed;
    done.waiting = None;
    store.save_run(&done).expect("save");
    assert_eq!(store.waiting_on(key).expect("after"), ["a"], "a saved state leaves the index");
}

fn active_runs_are_runnable_or_due(make: Factory<'_>) {
    let store = make()();
    let now = chrono::DateTime::parse_from_rfc3339("2026-06-01T12:00:00+00:00").expect("now").to_utc();
    let mut paused = sample_run("running-paused", &at(2));
    paused.paused = true;
    let mut done = sample_run("completed", &at(3));
    done.status = RunStatus::Completed;
    for run in [
        sample_run("running", &at(1)),
        paused,
        done,
        waiting_run("past", &at(4), timer(Some("2026-06-01T11:59:59.999999+00:00")), false),
        waiting_run("exact", &at(5), timer(Some("2026-06-01T14:00:00+02:00")), false),
        waiting_run("future", &at(6), timer(Some("2026-06-01T12:00:00.000001+00:00")), false),
        waiting_run("past-paused", &at(7), timer(Some("2026-01-01T00:00:00+00:00")), true),
        waiting_run("no-time", &at(8), timer(None), false),
        waiting_run("bad-time", &at(9), timer(Some("tomorrow")), false),
        waiting_run("event", &at(10), Wait::event("evt:global:global:x".into()), false),
    ] {
        store.create_run(&run).expect("create");
    }
    let expected = ["bad-time", "no-time", "exact", "past", "running"];
    assert_eq!(store.active_runs(now).expect("active"), expected);
    let later = now + chrono::Duration::seconds(1);
    assert_eq!(store.active_runs(later).expect("later"), ["bad-time", "no-time", "future", "exact", "past", "running"]);
    // The index follows saved state: a resumed timer leaves it, an unpaused one joins it.
    let mut resumed = store.load_run("past").expect("load").expect("past");
    resumed.status = RunStatus::Running;
    resumed.waiting = None;
    resumed.paused = true;
    store.save_run(&resumed).expect("save");
    let mut unpaused = store.load_run("past-paused").expect("load").expect("past-paused");
    unpaused.paused = false;
    store.save_run(&unpaused).expect("save");
    assert_eq!(store.active_runs(now).expect("after"), ["bad-time", "no-time", "past-paused", "exact", "running"]);
}
