use super::*;
use crate::RunQuery;
use crate::conformance::{self, Opener};

/// Each fresh location is a new database file; its opener opens handles on that file.
fn locations(root: &Path, sync: bool) -> impl Fn() -> Opener {
    let root = root.to_owned();
    let counter = std::sync::atomic::AtomicUsize::new(0);
    move || {
        let db = root.join(format!("{}.sqlite3", counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed)));
        Box::new(move || Box::new(SqliteStore::open_with_sync(&db, sync).expect("open")) as Box<dyn RunStore>)
    }
}

#[test]
fn conformance() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance::run_all(&locations(dir.path(), true));
}

#[test]
fn conformance_without_fsync() {
    let dir = tempfile::tempdir().expect("tempdir");
    conformance::run_all(&locations(dir.path(), false));
}

#[test]
fn opens_in_wal_mode_at_the_current_schema_and_migrates_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("nested/gateway.sqlite3");
    let a = SqliteStore::open(&path).expect("open");
    let b = SqliteStore::open(&path).expect("second handle migrates nothing");
    drop((a, b));
    let conn = Connection::open(&path).expect("raw");
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).expect("mode");
    assert_eq!(mode, "wal");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version");
    assert_eq!(version, schema_len());
}

fn schema_len() -> i64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let conn = Connection::open(dir.path().join("x.sqlite3")).expect("open");
    schema::migrate(&conn).expect("migrate");
    conn.query_row("PRAGMA user_version", [], |r| r.get(0)).expect("version")
}

#[test]
fn refuses_a_database_from_a_newer_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway.sqlite3");
    drop(SqliteStore::open(&path).expect("open"));
    Connection::open(&path).expect("raw").pragma_update(None, "user_version", 999).expect("bump");
    let error = SqliteStore::open(&path).expect_err("newer schema");
    assert!(error.to_string().contains("schema version 999 is newer"), "{error}");
}

#[test]
fn lookups_use_the_indexes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("gateway.sqlite3");
    drop(SqliteStore::open(&path).expect("open"));
    let conn = Connection::open(&path).expect("raw");
    let plan_with = |sql: &str, params: Vec<rusqlite::types::Value>| -> String {
        let mut query = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).expect("plan");
        let rows = query.query_map(rusqlite::params_from_iter(params), |r| r.get::<_, String>(3)).expect("rows");
        rows.map(|r| r.expect("row")).collect::<Vec<_>>().join("; ")
    };
    let plan = |sql: &str| plan_with(sql, Vec::new());
    let waiting = plan("SELECT run_id FROM runs WHERE wait_key = 'k' ORDER BY created_at DESC, run_id DESC");
    assert!(waiting.contains("idx_runs_wait_key"), "{waiting}");
    let active = plan(
        "SELECT run_id, created_at FROM runs INDEXED BY idx_runs_runnable WHERE status = 'running' AND paused = 0
         UNION
         SELECT runs.run_id, runs.created_at FROM wait_index JOIN runs USING (run_id) WHERE due_ns <= 5
         ORDER BY 2 DESC, 1 DESC",
    );
    assert!(active.contains("idx_runs_runnable") && active.contains("idx_wait_index_due"), "{active}");
    // The only scan is of the partial index, which holds just the runnable runs.
    assert!(
        active.split("; ").filter(|step| step.contains("SCAN")).all(|step| step.contains("idx_runs_runnable")),
        "{active}"
    );
    // `query_runs`: each filter reads its index in list order, never sorts, never scans the table.
    let runs = |query: RunQuery, index: &str| {
        let (sql, params) = query::statement(&query);
        let found = plan_with(&sql, params);
        assert!(found.contains(index) && !found.contains("TEMP B-TREE"), "{query:?}: {found}");
        assert!(!found.contains("SCAN runs") || found.contains("USING INDEX"), "{query:?}: {found}");
    };
    runs(RunQuery::default(), "idx_runs_created");
    runs(RunQuery { root_only: true, ..RunQuery::default() }, "idx_runs_root");
    runs(RunQuery { parent_run_id: Some("p".into()), ..RunQuery::default() }, "idx_runs_parent");
    runs(RunQuery { status: Some(agw_domain::run::RunStatus::Waiting), ..RunQuery::default() }, "idx_runs_status");
    runs(RunQuery { workflow_id: Some("w".into()), ..RunQuery::default() }, "idx_runs_workflow");
    runs(RunQuery { session_id: Some("s".into()), ..RunQuery::default() }, "idx_runs_session");
    let ledger = plan("SELECT record_json FROM ledger WHERE run_id = 'r' AND seq > 3 ORDER BY seq LIMIT 10");
    assert!(ledger.contains("PRIMARY KEY") && !ledger.contains("TEMP B-TREE"), "{ledger}");
}

#[test]
fn hostile_run_ids_are_refused_like_the_file_backend() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("gateway.sqlite3")).expect("open");
    assert!(store.load_run("../../etc/passwd").expect("load").is_none());
    assert_eq!(store.ledger_len("../x").expect("len"), 0);
    let run = conformance::sample_run("../x", "2026-01-01T00:00:00.000000+00:00");
    assert!(matches!(store.create_run(&run), Err(StoreError::RunNotFound(_))));
}

#[test]
fn a_failed_write_undoes_only_itself() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = std::sync::Arc::new(SqliteStore::open(dir.path().join("gateway.sqlite3")).expect("open"));
    let run = conformance::sample_run("r1", "2026-01-01T00:00:00.000000+00:00");
    store.create_run(&run).expect("create");
    // Many writers at once share transactions; the refused duplicates change nothing.
    std::thread::scope(|scope| {
        for i in 0..8 {
            let store = store.clone();
            let run = run.clone();
            scope.spawn(move || {
                assert!(matches!(store.create_run(&run), Err(StoreError::RunExists(_))));
                let other = conformance::sample_run(&format!("other-{i}"), "2026-01-01T00:00:01.000000+00:00");
                store.create_run(&other).expect("create other");
            });
        }
    });
    assert_eq!(store.list_runs().expect("list").len(), 9);
    assert_eq!(store.load_run("r1").expect("load").as_ref(), Some(&run));
}
