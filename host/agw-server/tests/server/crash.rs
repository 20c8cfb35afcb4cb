//! Crash safety, proven on the real binary: hundreds of runs in flight (pure loops, waits
//! woken by events, schedules) while the gateway is killed with SIGKILL at random moments,
//! again and again. Afterwards every acknowledged command has been applied exactly once,
//! no ledger has a missing, duplicated or torn record, and every run ends as it should.
//!
//! `CRASH_CYCLES` (default 20) and `CRASH_SEED` (default: from the clock, printed) let a
//! failure be replayed.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use agw_store::RunStore;
use common::{Http, Proc, Setup};
use serde_json::{Value, json};

const BACKENDS: &[&str] = &["file", "sqlite"];
const LOOPS: usize = 120;
const WAITS: usize = 80;
const SCHEDULES: usize = 6;

/// A small deterministic generator, so a seed replays a run of the test.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low)
    }
}

#[derive(Debug, Clone)]
enum Kind {
    /// `loop-n` with `n` iterations: completes with `counter = n - 1`.
    Loop { n: u64 },
    /// `wait-event` on its own session: completes once its event arrives.
    Wait,
    /// A schedule of `pure-math` launching three children a second apart.
    Schedule,
}

#[derive(Debug)]
struct Spec {
    session: String,
    kind: Kind,
    started: bool,
    event_sent: bool,
}

impl Spec {
    fn start(&self) -> (&'static str, Value) {
        match self.kind {
            Kind::Loop { n } => {
                ("/runs/start", json!({"bundle_id": "loop-n", "session_id": self.session, "input_data": {"n": n}}))
            }
            Kind::Wait => (
                "/runs/start",
                json!({"bundle_id": "wait-event", "session_id": self.session,
                       "input_data": {"event_key": format!("evt:session:{}:go", self.session)}}),
            ),
            Kind::Schedule => (
                "/runs/schedule",
                json!({"bundle_id": "pure-math", "session_id": self.session, "input_data": {"a": 1, "b": 2},
                       "interval": "1s", "repeat_count": 3}),
            ),
        }
    }
}

/// Iterations of the `i`-th loop: enough for dozens of checkpoints each.
fn loop_n(i: u64) -> u64 {
    200 + (i * 37) % 400
}

fn workload() -> Vec<Spec> {
    let spec = |session: String, kind| Spec { session, kind, started: false, event_sent: false };
    let mut specs = Vec::new();
    for i in 0..LOOPS {
        specs.push(spec(format!("loop-{i}"), Kind::Loop { n: loop_n(i as u64) }));
    }
    for i in 0..WAITS {
        specs.push(spec(format!("wait-{i}"), Kind::Wait));
    }
    for i in 0..SCHEDULES {
        specs.push(spec(format!("sched-{i}"), Kind::Schedule));
    }
    specs
}

/// Sends what is still unacknowledged: up to `quota` new starts, then the events of runs
/// seen waiting.
/// Returns when `deadline` passes; requests cut short by a kill are simply retried later
/// with the same ids.
async fn drive(http: &Http, proc: &Proc, specs: &mut [Spec], deadline: Instant, mut quota: usize) {
    while Instant::now() < deadline {
        let pending: Vec<usize> = (0..specs.len()).filter(|&i| !specs[i].started).take(quota.min(30)).collect();
        let starts = pending.iter().map(|&i| {
            let (path, body) = specs[i].start();
            let url = proc.url(path);
            async move { (i, http.post(&url, &body).await) }
        });
        for (i, answer) in futures_util::future::join_all(starts).await {
            if let Ok((200, _)) = answer {
                specs[i].started = true;
                quota = quota.saturating_sub(1);
            }
        }
        let waiting: Vec<usize> = (0..specs.len())
            .filter(|&i| matches!(specs[i].kind, Kind::Wait) && specs[i].started && !specs[i].event_sent)
            .collect();
        if !waiting.is_empty()
            && let Ok((200, page)) = http.get(&proc.url("/runs?status=waiting&limit=500")).await
        {
            let ready: BTreeSet<String> = page["items"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["session_id"].as_str().map(str::to_owned))
                .collect();
            let ready: Vec<usize> = waiting.into_iter().filter(|&i| ready.contains(&specs[i].session)).collect();
            for i in ready {
                let session = specs[i].session.clone();
                let payload = json!({"name": "go", "payload": {"session": session}});
                if let Ok((200, _)) =
                    http.command(proc, &format!("go-{session}"), &session, "emit_event", payload).await
                {
                    specs[i].event_sent = true;
                }
            }
        }
        if specs.iter().all(|s| s.started && (s.event_sent || !matches!(s.kind, Kind::Wait))) {
            tokio::time::sleep(deadline.saturating_duration_since(Instant::now())).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(15)).await;
    }
}

/// Every run, children included.
async fn all_runs(http: &Http, proc: &Proc) -> Vec<Value> {
    let mut runs = Vec::new();
    loop {
        let (_, page) = http.get(&proc.url(&format!("/runs?limit=500&offset={}", runs.len()))).await.expect("list");
        runs.extend(page["items"].as_array().cloned().unwrap_or_default());
        if page["has_more"] != true {
            return runs;
        }
    }
}

/// Checks one ledger's records: none torn (each parses, with the fields a record has), none
/// duplicated (a step id appears once per status), effectful steps well formed, and the
/// run's final records last and once.
fn check_ledger(run: &Value, ledger: &[Value]) -> Result<(), String> {
    let mut seen = BTreeSet::new();
    for record in ledger {
        for key in ["run_id", "step_id", "node_id", "status", "started_at"] {
            if !record[key].is_string() {
                return Err(format!("record without {key}: {record}"));
            }
        }
        if record["run_id"] != run["run_id"] {
            return Err(format!("a record of another run: {record}"));
        }
        let id =
            (record["step_id"].as_str().unwrap_or("").to_owned(), record["status"].as_str().unwrap_or("").to_owned());
        if !seen.insert(id.clone()) {
            return Err(format!("duplicated record {id:?}"));
        }
    }
    for (i, record) in ledger.iter().enumerate() {
        if record["status"] == "started" {
            let closed = ledger.get(i + 1).is_some_and(|next| next["step_id"] == record["step_id"]);
            if !closed {
                return Err(format!("started step {} is not closed by the next record", record["step_id"]));
            }
        }
    }
    let finals =
        ledger.iter().filter(|r| r["idempotency_key"].as_str().is_some_and(|k| k.starts_with("system:"))).count();
    let tail = &ledger[ledger.len().saturating_sub(2)..];
    let ends_right = tail.len() == 2
        && tail[0]["idempotency_key"].as_str().is_some_and(|k| k.starts_with("system:completion:"))
        && tail[1]["idempotency_key"] == "system:terminal_status:completed";
    if finals != 2 || !ends_right {
        return Err("the completion and the terminal status must end the ledger, once".into());
    }
    Ok(())
}

async fn check(http: &Http, proc: &Proc, setup: &Setup) -> Result<(usize, usize), String> {
    let runs = all_runs(http, proc).await;
    let by_id: BTreeMap<String, &Value> =
        runs.iter().filter_map(|r| Some((r["run_id"].as_str()?.to_owned(), r))).collect();
    let mut children: BTreeMap<String, usize> = BTreeMap::new();
    let mut resumes = 0;
    for listed in &runs {
        let id = listed["run_id"].as_str().unwrap_or_default();
        // The list has summaries (no `output`, as in the reference): read the whole view.
        let (_, run) = http.get(&proc.url(&format!("/runs/{id}"))).await.map_err(|e| e.to_string())?;
        let run = &run;
        if run["status"] != "completed" {
            return Err(format!("run {id} ended {}: {run}", run["status"]));
        }
        let (_, page) =
            http.get(&proc.url(&format!("/runs/{id}/ledger?limit=5000"))).await.map_err(|e| e.to_string())?;
        let ledger = page["items"].as_array().cloned().unwrap_or_default();
        check_ledger(run, &ledger).map_err(|e| format!("run {id}: {e}"))?;
        if let Some(parent) = run["parent_run_id"].as_str() {
            *children.entry(parent.to_owned()).or_default() += 1;
            if run["output"]["sum"] != 3.0 {
                return Err(format!("child {id}: {}", run["output"]));
            }
            continue;
        }
        let session = run["session_id"].as_str().unwrap_or_default();
        if let Some(i) = session.strip_prefix("loop-").and_then(|i| i.parse::<u64>().ok()) {
            let n = loop_n(i);
            if run["output"] != json!({"counter": (n - 1) as f64, "success": true}) || ledger.len() != 2 {
                return Err(format!("loop {id}: {} with {} records", run["output"], ledger.len()));
            }
        } else if session.starts_with("wait-") {
            let resumed: Vec<&Value> = ledger.iter().filter(|r| r["effect"]["type"] == "resume").collect();
            resumes += resumed.len();
            if resumed.len() != 1 || ledger.len() != 5 {
                return Err(format!("wait {id}: {} resumes, {} records", resumed.len(), ledger.len()));
            }
            if run["output"]["event"]["payload"]["session"] != session {
                return Err(format!("wait {id} got another run's event: {}", run["output"]));
            }
        } else if !session.starts_with("sched-") {
            return Err(format!("a run nobody started: {run}"));
        }
    }
    for (id, run) in &by_id {
        if run["is_scheduled"] == true && children.get(id).copied().unwrap_or(0) != 3 {
            return Err(format!("schedule {id} launched {:?} children, not 3", children.get(id)));
        }
    }
    // Temp files of writes cut short by a kill are gone once a gateway has opened the data dir
    // again; only the live process's own may exist, mid-write.
    let leftovers = temp_files(&setup.data, &format!("-{}-", proc.child.id()));
    if !leftovers.is_empty() {
        return Err(format!("temp files of killed processes left behind: {leftovers:?}"));
    }
    // Each acknowledged event is in the inbox once (the inbox refuses a repeated id).
    let store: Box<dyn RunStore> = match setup.backend {
        "sqlite" => {
            Box::new(agw_store::SqliteStore::open(setup.data.join("gateway.sqlite3")).map_err(|e| e.to_string())?)
        }
        _ => Box::new(agw_store::FileStore::open(&setup.data).map_err(|e| e.to_string())?),
    };
    let inbox = store.commands_after(0, usize::MAX).map_err(|e| e.to_string())?;
    for i in 0..WAITS {
        let id = format!("go-wait-{i}");
        let count = inbox.iter().filter(|c| c.command_id == id).count();
        if count != 1 {
            return Err(format!("event {id} is in the inbox {count} times"));
        }
    }
    Ok((runs.len(), resumes))
}

/// Temp files (`*.tmp-<pid>-<n>`, `.upload-<pid>-<n>.tmp`) under `dir` whose name does not
/// hold `live` (`-<pid>-`).
fn temp_files(dir: &std::path::Path, live: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if path.is_dir() {
            found.extend(temp_files(&path, live));
        } else if (name.contains(".tmp-") || name.starts_with(".upload-")) && !name.contains(live) {
            found.push(path);
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_loses_and_duplicates_nothing() {
    let cycles: usize = std::env::var("CRASH_CYCLES").ok().and_then(|c| c.parse().ok()).unwrap_or(20);
    let seed: u64 = std::env::var("CRASH_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(7) | 1
    });
    println!("CRASH_SEED={seed} CRASH_CYCLES={cycles}");
    for backend in BACKENDS {
        let mut rng = Rng(seed);
        let temp = tempfile::tempdir().expect("tempdir");
        let mut setup = Setup::new(temp.path(), backend);
        setup.env.push(("ABSTRACTGATEWAY_TICK_MAX_STEPS".into(), "10".into()));
        let http = Http::default();
        let mut specs = workload();
        // Spread the starts over the first two thirds of the cycles, so kills land while runs
        // are being started, worked, woken and scheduled.
        let quota = specs.len().div_ceil((cycles * 2 / 3).max(1));
        let started = Instant::now();
        for cycle in 0..cycles {
            let proc = setup.serve(&[]);
            let budget = Duration::from_millis(rng.between(100, 900));
            drive(&http, &proc, &mut specs, Instant::now() + budget, quota).await;
            proc.kill();
            let acked = specs.iter().filter(|s| s.started).count();
            println!("{backend} cycle {cycle}: killed after {budget:?}, {acked} starts acknowledged");
        }
        let proc = setup.serve(&[]);
        let settle = Instant::now() + Duration::from_secs(120);
        while specs.iter().any(|s| !s.started || (matches!(s.kind, Kind::Wait) && !s.event_sent)) {
            assert!(Instant::now() < settle, "the workload could not be submitted");
            drive(&http, &proc, &mut specs, Instant::now() + Duration::from_millis(200), usize::MAX).await;
        }
        let outcome = loop {
            let runs = all_runs(&http, &proc).await;
            let busy = runs.iter().any(|r| r["status"] == "running" || r["status"] == "waiting");
            let scheduled_children = runs.iter().filter(|r| r["parent_run_id"].is_string()).count();
            if !busy && scheduled_children >= SCHEDULES * 3 {
                break check(&http, &proc, &setup).await;
            }
            if Instant::now() > settle {
                break check(&http, &proc, &setup).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (runs, resumes) = outcome.unwrap_or_else(|e| panic!("{backend}, CRASH_SEED={seed}: {e}"));
        println!(
            "{backend}: {cycles} kill cycles, {runs} runs checked, {resumes} acknowledged events applied once, {:?}",
            started.elapsed()
        );
        proc.stop();
    }
}
