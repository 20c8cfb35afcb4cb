//! `ABSTRACTGATEWAY_MAX_SSE`: ledger streams past the cap are refused with 429 before they
//! open, and a stream gives its slot back when the client leaves or the run ends.

use crate::common;

use std::time::{Duration, Instant};

use common::{Options, TOKEN, TestGateway};
use futures_util::StreamExt;
use reqwest::{Response, StatusCode};
use serde_json::json;

const MAX_SSE: usize = 2;

async fn gateway(temp: &tempfile::TempDir) -> TestGateway {
    let flows = temp.path().join("flows");
    common::standard_flows(&flows);
    let mut options = Options::new(flows);
    options.tick_max_steps = 5;
    options.max_sse = MAX_SSE;
    TestGateway::start(&temp.path().join("data"), options).await
}

/// A run that stays open until cancelled: a long loop, paused.
async fn parked_run(gw: &TestGateway) -> String {
    let run_id = gw.start_run(json!({"bundle_id": "loop-n", "input_data": {"n": 9000}})).await;
    gw.command(&run_id, "pause", json!({})).await;
    gw.wait_for(&run_id, |v| v["paused"] == true).await;
    run_id
}

async fn open_stream(gw: &TestGateway, run_id: &str) -> Response {
    let url = gw.url(&format!("/api/gateway/runs/{run_id}/ledger/stream?heartbeat_s=0.2"));
    gw.client.get(url).bearer_auth(TOKEN).send().await.expect("stream request")
}

/// Opens a stream, retrying while the server still counts a stream that just went away.
async fn open_eventually(gw: &TestGateway, run_id: &str) -> Response {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = open_stream(gw, run_id).await;
        if response.status() != StatusCode::TOO_MANY_REQUESTS {
            return response;
        }
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_past_the_cap_get_429_until_one_ends() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let run_id = parked_run(&gw).await;

    let mut open = Vec::new();
    for _ in 0..MAX_SSE {
        let response = open_stream(&gw, &run_id).await;
        assert_eq!(response.status(), StatusCode::OK);
        open.push(response);
    }
    let refused = open_stream(&gw, &run_id).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.headers()["retry-after"], "1");
    assert_eq!(refused.headers()["content-type"], "application/json; charset=utf-8");
    assert!(refused.headers().contains_key("x-gateway-duration-ms"));
    let body = refused.text().await.expect("body");
    assert_eq!(body, r#"{"detail": "Too Many Requests (concurrency limit)"}"#, "the reference's words and format");
    // Other routes are not affected by the stream cap.
    let (status, _) = gw.get(&format!("/api/gateway/runs/{run_id}")).await;
    assert_eq!(status, StatusCode::OK);

    // A client that goes away gives its slot back.
    drop(open.pop());
    let replacement = open_eventually(&gw, &run_id).await;
    assert_eq!(replacement.status(), StatusCode::OK);
    open.push(replacement);
    assert_eq!(open_stream(&gw, &run_id).await.status(), StatusCode::TOO_MANY_REQUESTS);

    // Streams end with `done` when the run does, and their slots come back.
    gw.command(&run_id, "cancel", json!({})).await;
    for response in open {
        let body = tokio::time::timeout(Duration::from_secs(10), async {
            let mut body = String::new();
            let mut stream = response.bytes_stream();
            while let Some(chunk) = stream.next().await {
                body.push_str(&String::from_utf8_lossy(&chunk.expect("chunk")));
            }
            body
        })
        .await
        .expect("the stream ends with the run");
        assert!(body.contains("event: done"), "{body}");
    }
    for _ in 0..MAX_SSE {
        let response = open_eventually(&gw, &run_id).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body = tokio::time::timeout(Duration::from_secs(10), response.text()).await.expect("ends").expect("body");
        assert!(body.contains("event: done"), "{body}");
    }
    gw.stop().await;
}
