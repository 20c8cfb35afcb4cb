//! The data-driven flow suite: every folder under `tests/flow-cases/` is a bundle, inputs and
//! the reference's recorded result (status, output, ledger summary). One harness runs them all
//! through the real gateway and the real std-nodes plugin.

mod common;

use common::{TestGateway, ledger_summary, repo};
use serde_json::{Value, json};

fn cases() -> Vec<(String, Value)> {
    let dir = repo().join("tests/flow-cases");
    let mut cases: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .expect("tests/flow-cases exists")
        .flatten()
        .filter(|e| e.path().join("case.json").is_file())
        .map(|e| {
            let text = std::fs::read_to_string(e.path().join("case.json")).expect("read case");
            (e.file_name().to_string_lossy().into_owned(), serde_json::from_str(&text).expect("case is JSON"))
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_case_matches_the_reference() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let cases = cases();
    assert!(cases.len() >= 10, "expected the recorded cases, found {}", cases.len());

    let mut failures = Vec::new();
    for (name, case) in &cases {
        let run_id = gw
            .start_run(
                json!({"bundle_id": case["bundle"], "flow_id": case["flow_id"], "input_data": case["input_data"]}),
            )
            .await;
        let view = gw.wait_terminal(&run_id).await;
        let expect = &case["expect"];
        let ledger = ledger_summary(&gw.ledger(&run_id).await);
        let got = json!({"status": view["status"], "output": view["output"], "ledger": ledger});
        let want = json!({"status": expect["status"], "output": expect["output"], "ledger": expect["ledger"]});
        if got != want {
            failures.push(format!("{name}:\n  want {want}\n  got  {got}"));
        }
    }
    gw.stop().await;
    assert!(failures.is_empty(), "{} of {} cases differ:\n{}", failures.len(), cases.len(), failures.join("\n"));
}
