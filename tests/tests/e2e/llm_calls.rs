//! LLM calls end to end, against the fake provider through the first-party `openai-compatible`
//! plugin: live `llm.delta` frames on the run's SSE stream, and rate-limit retries.

use crate::common;

use agw_fake_provider::Fault;
use common::{TOKEN, TestGateway};
use futures_util::StreamExt;
use serde_json::{Value, json};

/// An SSE frame: its event, its id, its data.
type Frame<'a> = (&'a str, Option<&'a str>, Value);

/// The whole SSE stream of a run, from its start to `done`.
async fn stream_of(gw: &TestGateway, run_id: &str) -> String {
    let url = gw.url(&format!("/api/gateway/runs/{run_id}/ledger/stream?after=0"));
    let response = gw.client.get(url).bearer_auth(TOKEN).send().await.expect("SSE request");
    let mut body = String::new();
    let mut stream = response.bytes_stream();
    let read = async {
        while let Some(chunk) = stream.next().await {
            body.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
        }
    };
    tokio::time::timeout(std::time::Duration::from_secs(30), read).await.expect("the stream ends with the run");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_streamed_call_sends_live_deltas_that_are_never_persisted() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    // `slow` asks `fake-slow-250`: its chunks come 250 ms apart, so the stream is attached
    // while the call runs.
    let run_id = gw
        .start_run(json!({"bundle_id": "dur-llm", "flow_id": "slow", "input_data": {"_runtime": {"stream": true}}}))
        .await;
    let text = stream_of(&gw, &run_id).await;

    let frames: Vec<Frame> = text
        .split("\n\n")
        .filter(|f| !f.trim().is_empty() && !f.starts_with(':'))
        .map(|frame| {
            let field = |name: &str| frame.lines().find_map(|l| l.strip_prefix(name));
            let event = field("event: ").unwrap_or_default();
            let data = serde_json::from_str(field("data: ").unwrap_or("null")).unwrap_or(Value::Null);
            (event, field("id: "), data)
        })
        .collect();
    let deltas: Vec<&Value> = frames.iter().filter(|f| f.0 == "llm.delta").map(|f| &f.2).collect();
    assert!(deltas.len() >= 2, "expected several live deltas: {text}");
    assert!(
        frames.iter().filter(|f| f.0.starts_with("llm.")).all(|f| f.1.is_none()),
        "live frames carry no id: {text}"
    );
    let end = frames.iter().find(|f| f.0 == "llm.delta_end").map(|f| &f.2).expect("a delta_end frame");
    assert_eq!(end["reason"], "completed");
    // As the reference: the `started` step, the deltas, the `completed` step, then the end.
    let at = |wanted: &dyn Fn(&Frame) -> bool| frames.iter().position(wanted).expect("frame");
    let llm_step = |status: &'static str| {
        move |f: &Frame| {
            f.0 == "step" && f.2["record"]["effect"]["type"] == "llm_call" && f.2["record"]["status"] == status
        }
    };
    let order = [
        at(&llm_step("started")),
        at(&|f| f.0 == "llm.delta"),
        at(&llm_step("completed")),
        at(&|f| f.0 == "llm.delta_end"),
    ];
    assert!(order.windows(2).all(|w| w[0] < w[1]), "frame order {order:?}: {text}");

    // The deltas are the answer, in order, and belong to the llm_call step of the ledger.
    let run = gw.wait_terminal(&run_id).await;
    let joined: String = deltas.iter().filter_map(|d| d["text"].as_str()).collect();
    assert_eq!(Some(joined.as_str()), run["output"]["response"].as_str());
    let seqs: Vec<u64> = deltas.iter().filter_map(|d| d["seq"].as_u64()).collect();
    assert_eq!(seqs, (0..seqs.len() as u64).collect::<Vec<_>>(), "numbered from 0, as the reference");
    assert_eq!(end["seq"], seqs.len(), "the end frame takes the next number");
    // The frames' fields, in the reference's order (recorded in tests/data/reference-llm).
    let reference =
        std::fs::read_to_string(common::repo().join("tests/data/reference-llm/stream-sse.txt")).expect("recording");
    let keys_of = |frame: &str| -> Vec<String> {
        let data = frame.lines().find_map(|l| l.strip_prefix("data: ")).unwrap_or("{}");
        let value: serde_json::Map<String, Value> = serde_json::from_str(data).unwrap_or_default();
        value.keys().cloned().collect()
    };
    for event in ["llm.delta", "llm.delta_end"] {
        let find = |text: &str| text.split("\n\n").find(|f| f.starts_with(&format!("event: {event}\n"))).map(keys_of);
        assert_eq!(find(&text), find(&reference), "{event} frames have the reference's fields");
    }
    let ledger = gw.ledger(&run_id).await;
    let call = ledger.iter().find(|r| r["effect"]["type"] == "llm_call").expect("an llm_call record");
    assert!(deltas.iter().all(|d| d["call_id"] == call["step_id"] && d["run_id"] == run_id.as_str()));
    // Nothing live was persisted: the ledger holds steps only, and the final record the text.
    assert!(ledger.iter().all(|r| !r.to_string().contains("llm.delta")));
    let completed = ledger.iter().find(|r| r["effect"]["type"] == "llm_call" && r["status"] == "completed");
    assert_eq!(completed.map(|r| &r["result"]["content"]), Some(&run["output"]["response"]));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_call_is_retried_within_its_step() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = TestGateway::standard(&temp, 100).await;
    let fake = gw.fake.clone().expect("the standard gateway has a fake provider");
    fake.fail_next(Fault::RateLimited { retry_after_s: 1 });
    let run_id = gw.start_run(json!({"bundle_id": "dur-llm", "flow_id": "plain"})).await;
    let run = gw.wait_terminal(&run_id).await;
    assert_eq!(run["status"], "completed", "{run}");
    let chats = fake.requests().into_iter().filter(|r| r.path == "/v1/chat/completions").count();
    assert_eq!(chats, 2, "one 429, then the answer");
    // One journaled step, which says it took two attempts.
    let ledger = gw.ledger(&run_id).await;
    let calls: Vec<&Value> = ledger.iter().filter(|r| r["effect"]["type"] == "llm_call").collect();
    assert_eq!(calls.len(), 2, "started and completed");
    assert_eq!(calls[1]["result"]["metadata"]["attempts"], 2);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_that_traps_spins_or_hoards_fails_one_step_and_others_carry_on() {
    let temp = tempfile::tempdir().expect("tempdir");
    let flows = temp.path().join("flows");
    common::standard_flows(&flows);
    common::llm_bundle(&flows, "hostile-llm", "hostile");
    let plugins = temp.path().join("plugins");
    std::fs::create_dir_all(&plugins).expect("plugins dir");
    std::fs::copy(agw_firstparty::component_path("test-hostile-llm"), plugins.join("test-hostile-llm.wasm"))
        .expect("copy plugin");
    let fake = std::sync::Arc::new(agw_fake_provider::FakeProvider::start().await.expect("fake"));
    let mut options = common::Options::new(flows);
    options.plugins_dir = Some(plugins);
    options.plugin_deadline = std::time::Duration::from_millis(500);
    options.fake_llm = Some(fake.base_url());
    let gw = TestGateway::start(&temp.path().join("data"), options).await;

    let ask = |model: &str| json!({"bundle_id": "hostile-llm", "input_data": {"prompt": "hi", "model": model}});
    let mut runs = Vec::new();
    for model in ["trap", "spin", "oom"] {
        runs.push((model, gw.start_run(ask(model)).await));
    }
    // Meanwhile a well-behaved provider serves another run, and the hostile one answers a
    // polite request.
    let plain = gw.start_run(json!({"bundle_id": "dur-llm", "flow_id": "plain"})).await;
    let polite = gw.start_run(ask("ok")).await;
    for (model, run_id) in &runs {
        let view = gw.wait_terminal(run_id).await;
        assert_eq!(view["status"], "failed", "{model}: {view}");
        let error = view["error"].as_str().unwrap_or_default();
        assert!(
            error.contains("llm_call node 'llm'") && error.contains("plugin 'test-hostile-llm'"),
            "{model}: {error}"
        );
        let cause = match *model {
            "trap" => "trapped",
            "spin" => "exceeded its deadline",
            _ => "ran out of memory",
        };
        assert!(error.contains(cause), "{model}: {error}");
    }
    assert_eq!(gw.wait_terminal(&plain).await["status"], "completed");
    let polite = gw.wait_terminal(&polite).await;
    assert_eq!((polite["status"].as_str(), polite["output"]["response"].as_str()), (Some("completed"), Some("ok")));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_provider_nobody_configured_fails_the_step_naming_what_to_set() {
    let temp = tempfile::tempdir().expect("tempdir");
    let flows = temp.path().join("flows");
    common::llm_bundle(&flows, "ask-openrouter", "openrouter");
    let fake = agw_fake_provider::FakeProvider::start().await.expect("fake");
    let mut options = common::Options::new(flows);
    options.fake_llm = Some(fake.base_url());
    let gw = TestGateway::start(&temp.path().join("data"), options).await;
    let run_id =
        gw.start_run(json!({"bundle_id": "ask-openrouter", "input_data": {"prompt": "hi", "model": "m"}})).await;
    let view = gw.wait_terminal(&run_id).await;
    assert_eq!(view["status"], "failed", "{view}");
    assert_eq!(
        view["error"],
        "llm_call node 'llm': LLM provider 'openrouter' is not configured: set OPENROUTER_API_KEY"
    );
    assert!(fake.requests().is_empty(), "nothing was sent anywhere");
    gw.stop().await;
}
