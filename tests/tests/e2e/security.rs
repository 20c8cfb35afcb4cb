//! The security layers in front of `/api/gateway` (contract.md "Security"), one test per
//! rule, with status, body and headers as the reference's transcripts show them
//! (file/50–63, file2/32).

use crate::common;

use std::io::Read;
use std::path::Path;
use std::time::{Duration, Instant};

use common::{Options, TOKEN, TestGateway};
use reqwest::header::HeaderMap;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// `sha256("test-token")[:12]`, the only form in which the token may appear in the audit log.
const TOKEN_FP: &str = "4c5dc9b77089";
const JSON_UTF8: &str = "application/json; charset=utf-8";

async fn gateway_with(temp: &tempfile::TempDir, configure: impl FnOnce(&mut Options)) -> TestGateway {
    let flows = temp.path().join("flows");
    common::standard_flows(&flows);
    let mut options = Options::new(flows);
    configure(&mut options);
    TestGateway::start(&temp.path().join("data"), options).await
}

async fn gateway(temp: &tempfile::TempDir) -> TestGateway {
    gateway_with(temp, |_| {}).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default()
}

/// Status, headers and exact body bytes.
async fn parts(response: Response) -> (StatusCode, HeaderMap, String) {
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.text().await.expect("body"))
}

/// Checks a refusal as the reference's security layer writes it.
fn assert_refusal(answer: &(StatusCode, HeaderMap, String), status: StatusCode, detail: &str) {
    let (got, headers, body) = answer;
    assert_eq!(*got, status, "{body}");
    assert_eq!(body, &format!("{{\"detail\": \"{detail}\"}}"));
    assert_eq!(header(headers, "content-type"), JSON_UTF8);
    assert!(is_request_id(header(headers, "x-request-id")), "{headers:?}");
    assert_eq!(header(headers, "vary"), "Origin");
}

fn is_request_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Sends `request` as is on a new connection and reads the whole answer.
async fn raw(gw: &TestGateway, request: &[u8]) -> String {
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    tcp.write_all(request).await.expect("send");
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), tcp.read_to_end(&mut answer)).await.expect("answered").expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

fn raw_body(answer: &str) -> &str {
    answer.split("\r\n\r\n").nth(1).unwrap_or_default()
}

fn raw_header<'a>(answer: &'a str, name: &str) -> Option<&'a str> {
    answer.split("\r\n\r\n").next()?.lines().find_map(|line| {
        let (key, value) = line.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// The audit log's lines once it holds at least `count` of them.
async fn audit_lines(data_dir: &Path, count: usize) -> Vec<Value> {
    let path = data_dir.join("audit_log.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("a JSON line")).collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(Instant::now() < deadline, "the audit log has {} lines, expected {count}: {text}", lines.len());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_gets_401_on_reads_and_writes() {
    // file/50, file/51.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let read = parts(gw.client.get(gw.url("/api/gateway/runs")).send().await.expect("read")).await;
    let write = parts(
        gw.client
            .post(gw.url("/api/gateway/runs/start"))
            .json(&json!({"bundle_id": "pure-math"}))
            .send()
            .await
            .expect("write"),
    )
    .await;
    let unknown = parts(gw.client.get(gw.url("/api/gateway/no-such-route")).send().await.expect("unknown")).await;
    for answer in [&read, &write, &unknown] {
        assert_refusal(answer, StatusCode::UNAUTHORIZED, "Unauthorized");
        assert_eq!(header(&answer.1, "www-authenticate"), "Bearer");
    }
    // A bearer scheme in another case is still a bearer token.
    let response = gw.client.get(gw.url("/api/gateway/runs")).header("authorization", format!("bearer {TOKEN}"));
    assert_eq!(response.send().await.expect("read").status(), StatusCode::OK);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_token_in_the_query_opens_reads_only() {
    // file/57: EventSource clients cannot set headers, so reads take `?access_token=`.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let read = gw.client.get(gw.url(&format!("/api/gateway/bundles?access_token={TOKEN}"))).send().await.expect("read");
    assert_eq!(read.status(), StatusCode::OK);
    let write = gw
        .client
        .post(gw.url(&format!("/api/gateway/runs/start?access_token={TOKEN}")))
        .json(&json!({"bundle_id": "pure-math"}))
        .send()
        .await
        .expect("write");
    let write = parts(write).await;
    assert_refusal(&write, StatusCode::UNAUTHORIZED, "Unauthorized");
    assert_eq!(header(&write.1, "www-authenticate"), "Bearer");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_origin_off_the_allowlist_gets_403_whatever_its_token() {
    // file/52. Unlike the reference (file/63), the refusal does not let the page read it.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    for origin in ["http://evil.example", "https://localhost:3000", "null"] {
        let response = gw
            .client
            .get(gw.url("/api/gateway/bundles"))
            .bearer_auth(TOKEN)
            .header("origin", origin)
            .send()
            .await
            .expect("get");
        let answer = parts(response).await;
        assert_refusal(&answer, StatusCode::FORBIDDEN, "Forbidden (origin not allowed)");
        assert!(!answer.1.contains_key("access-control-allow-origin"), "{origin}");
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allowed_origin_gets_cors_headers() {
    // file/53 and file/63 ("GET with allowed Origin").
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    for origin in ["http://localhost:3000", "http://127.0.0.1:5173"] {
        let response = gw
            .client
            .get(gw.url("/api/gateway/runs"))
            .bearer_auth(TOKEN)
            .header("origin", origin)
            .send()
            .await
            .expect("get");
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(header(headers, "content-type"), "application/json");
        assert_eq!(header(headers, "access-control-allow-origin"), origin);
        assert_eq!(header(headers, "access-control-allow-credentials"), "true");
        assert_eq!(header(headers, "access-control-expose-headers"), "*");
        assert_eq!(header(headers, "vary"), "Origin");
        assert!(is_request_id(header(headers, "x-request-id")));
    }
    gw.stop().await;

    // ALLOWED_ORIGINS replaces the default list; its entries are globs.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| o.policy.allowed_origins = vec!["https://*.example.org".into()]).await;
    let get = |origin: &'static str| {
        gw.client.get(gw.url("/api/gateway/runs")).bearer_auth(TOKEN).header("origin", origin).send()
    };
    assert_eq!(get("https://app.example.org").await.expect("get").status(), StatusCode::OK);
    assert_eq!(get("http://localhost:3000").await.expect("get").status(), StatusCode::FORBIDDEN);
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preflights_are_approved_for_allowed_origins_only() {
    // file/54 and file/63 ("CORS preflight (no auth)"): answered before authentication.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let preflight = |origin: &'static str| {
        gw.client
            .request(reqwest::Method::OPTIONS, gw.url("/api/gateway/runs/start"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization,content-type")
            .send()
    };
    let (status, headers, body) = parts(preflight("http://localhost:3000").await.expect("preflight")).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "OK"));
    for (name, value) in [
        (
            "vary",
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, Access-Control-Request-Private-Network",
        ),
        ("access-control-allow-methods", "DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, QUERY"),
        ("access-control-max-age", "600"),
        ("access-control-allow-credentials", "true"),
        ("access-control-allow-origin", "http://localhost:3000"),
        ("access-control-allow-headers", "authorization,content-type"),
        ("content-type", "text/plain; charset=utf-8"),
        ("content-length", "2"),
    ] {
        assert_eq!(header(&headers, name), value, "{name}");
    }

    // The reference approves this one too (file/63); here it is refused like any request
    // from that origin, and the browser never sends the real request.
    let refused = parts(preflight("http://evil.example").await.expect("preflight")).await;
    assert_refusal(&refused, StatusCode::FORBIDDEN, "Forbidden (origin not allowed)");
    assert!(!refused.1.contains_key("access-control-allow-origin"));
    assert!(!refused.1.contains_key("access-control-allow-methods"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declared_body_over_the_cap_gets_413_before_it_is_read() {
    // file/55: headers only; the answer must not wait for 10 MiB that never come.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let answer = raw(
        &gw,
        format!(
            "POST /api/gateway/runs/start HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nContent-Length: 10485761\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert_eq!(raw_body(&answer), r#"{"detail": "Payload Too Large (10485761 bytes > 10485760 bytes)"}"#);
    assert_eq!(raw_header(&answer, "content-length"), Some("65"));
    assert_eq!(raw_header(&answer, "content-type"), Some(JSON_UTF8));
    assert_eq!(raw_header(&answer, "vary"), Some("Origin"));
    assert!(raw_header(&answer, "x-request-id").is_some_and(is_request_id), "{answer}");

    // file/56: uploads keep their own, larger cap.
    let answer = raw(
        &gw,
        format!(
            "POST /api/gateway/bundles/upload HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 81788929\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 413 "), "{answer}");
    assert_eq!(raw_body(&answer), r#"{"detail": "Payload Too Large (81788929 bytes > 80740352 bytes)"}"#);
    assert_eq!(raw_header(&answer, "content-length"), Some("65"));
    gw.stop().await;
}

/// Reads one answer off a connection kept open: the head, then `Content-Length` bytes.
async fn read_answer(tcp: &mut tokio::net::TcpStream) -> std::io::Result<String> {
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        if tcp.read(&mut byte).await? == 0 {
            return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "server disconnected"));
        }
        answer.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&answer).into_owned();
    let length: usize = raw_header(&head, "content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; length];
    tcp.read_exact(&mut body).await?;
    Ok(head + &String::from_utf8_lossy(&body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_refused_unread_does_not_break_a_keep_alive_client() {
    // A keep-alive client (httpx, requests.Session, http.client) sends its body, reads the
    // answer and sends its next request on the same connection, unless the answer says
    // `Connection: close`. A refusal does not read the body, and the connection is closed.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |options| options.policy.max_body_bytes = 1024).await;
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let body = format!("{{\"bundle_id\": \"pure-math\", \"pad\": \"{}\"}}", "x".repeat(64 * 1024));
    let post = |auth: &str| {
        format!(
            "POST /api/gateway/runs/start HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let next =
        format!("GET /api/gateway/runs?limit=1 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\r\n");
    let refusals = [
        (post(&format!("Authorization: Bearer {TOKEN}\r\n")), "413"),
        (post(""), "401"),
        (post(&format!("Authorization: Bearer {TOKEN}\r\nOrigin: http://evil.example\r\n")), "403"),
    ];
    for (request, status) in refusals {
        let mut tcp = tokio::net::TcpStream::connect(&addr).await.expect("connect");
        tcp.write_all(request.as_bytes()).await.expect("send");
        let answer = read_answer(&mut tcp).await.expect("the refusal");
        assert!(answer.starts_with(&format!("HTTP/1.1 {status} ")), "{answer}");
        if raw_header(&answer, "connection") == Some("close") {
            tcp = tokio::net::TcpStream::connect(&addr).await.expect("reconnect");
        }
        let sent = tcp.write_all(next.as_bytes()).await;
        let answer = match sent {
            Ok(()) => read_answer(&mut tcp).await,
            Err(e) => Err(e),
        };
        let answer = answer.unwrap_or_else(|e| panic!("the request after a {status}: {e}"));
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
    }

    // A refusal of a request without a body keeps the connection.
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    tcp.write_all(b"GET /api/gateway/runs HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").await.expect("send");
    let answer = read_answer(&mut tcp).await.expect("the refusal");
    assert!(answer.starts_with("HTTP/1.1 401 ") && raw_header(&answer, "connection").is_none(), "{answer}");
    tcp.write_all(next.as_bytes()).await.expect("send");
    assert!(read_answer(&mut tcp).await.expect("answer").starts_with("HTTP/1.1 200 "));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chunked_body_is_refused_once_it_passes_the_cap_and_uploads_have_their_own() {
    let temp = tempfile::tempdir().expect("tempdir");
    let empty_flows = temp.path().join("no-flows");
    std::fs::create_dir_all(&empty_flows).expect("flows dir");
    let mut options = Options::new(empty_flows);
    options.policy.max_body_bytes = 1024;
    let gw = TestGateway::start(&temp.path().join("data"), options).await;

    let chunked = |payload: &[u8]| {
        let mut request = format!(
            "POST /api/gateway/runs/start HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n",
            payload.len()
        )
        .into_bytes();
        request.extend_from_slice(payload);
        request.extend_from_slice(b"\r\n0\r\n\r\n");
        request
    };
    let big = format!("{{\"bundle_id\": \"pure-math\", \"input_data\": {{\"pad\": \"{}\"}}}}", "x".repeat(2000));
    let answer = raw(&gw, &chunked(big.as_bytes())).await;
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    let detail: Value = serde_json::from_str(raw_body(&answer)).expect("json");
    let detail = detail["detail"].as_str().expect("detail");
    let read: u64 = detail
        .strip_prefix("Payload Too Large (")
        .and_then(|d| d.strip_suffix(" bytes > 1024 bytes)"))
        .and_then(|n| n.parse().ok())
        .expect(detail);
    assert!(read > 1024, "{detail}");

    // A bundle upload is larger than the general cap and passes: it has its own.
    let bundle = std::fs::read(common::repo().join("tests/data/reference-flows/pure-math@0.1.0.flow")).expect("flow");
    let boundary = "agw-security-test";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"pure-math@0.1.0.flow\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&bundle);
    form.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert!(form.len() > 1024);
    let response = gw
        .client
        .post(gw.url("/api/gateway/bundles/upload"))
        .bearer_auth(TOKEN)
        .header("content-type", format!("multipart/form-data; boundary={boundary}"))
        .body(form)
        .send()
        .await
        .expect("upload");
    let (status, _, body) = parts(response).await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A chunked body within the cap goes through.
    let answer = raw(&gw, &chunked(br#"{"bundle_id": "pure-math"}"#)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_over_the_concurrency_cap_get_429_and_streams_are_not_counted() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| o.policy.max_concurrency = 1).await;
    let run_id = gw.start_run(json!({"bundle_id": "pure-math", "input_data": {"a": 1, "b": 2}})).await;
    gw.wait_terminal(&run_id).await;

    // A write whose body never finishes holds the only slot while its handler waits.
    let addr = gw.base.trim_start_matches("http://").to_owned();
    let mut held = tokio::net::TcpStream::connect(&addr).await.expect("connect");
    let head = format!(
        "POST /api/gateway/runs/start HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"bundle_id\""
    );
    held.write_all(head.as_bytes()).await.expect("send");

    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        let response = gw.client.get(gw.url("/api/gateway/runs")).bearer_auth(TOKEN).send().await.expect("get");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            break parts(response).await;
        }
        assert!(Instant::now() < deadline, "the held request never took the slot");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_refusal(&refused, StatusCode::TOO_MANY_REQUESTS, "Too Many Requests (concurrency limit)");
    assert_eq!(header(&refused.1, "retry-after"), "1");
    // A chunked body is read before the handler runs, and only in a slot of its own: this one
    // never ends, and is refused without being read.
    let chunked = format!(
        "POST /api/gateway/runs/start HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{{}}\r\n"
    );
    let answer = raw(&gw, chunked.as_bytes()).await;
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");

    // Ledger streams have their own cap.
    let stream = gw
        .client
        .get(gw.url(&format!("/api/gateway/runs/{run_id}/ledger/stream")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("stream");
    assert_eq!(stream.status(), StatusCode::OK);
    assert!(stream.text().await.expect("body").contains("event: done"));

    // The slot comes back when the held request ends.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, _) = gw.get("/api/gateway/runs").await;
        if status == StatusCode::OK {
            break;
        }
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "the slot never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_bad_tokens_lock_the_ip_out_and_a_valid_token_still_passes() {
    // file/58-62.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let ping = |token: &'static str| gw.client.get(gw.url("/api/gateway/runs")).bearer_auth(token).send();
    for attempt in 1..=9 {
        let answer = parts(ping("wrong-token").await.expect("get")).await;
        assert_refusal(&answer, StatusCode::UNAUTHORIZED, "Unauthorized");
        assert_eq!(header(&answer.1, "www-authenticate"), "Bearer", "attempt {attempt}");
        assert!(!answer.1.contains_key("retry-after"));
    }
    let tenth = parts(ping("wrong-token").await.expect("get")).await;
    assert_refusal(&tenth, StatusCode::TOO_MANY_REQUESTS, "Too Many Requests (auth lockout)");
    assert_eq!(header(&tenth.1, "retry-after"), "1");
    assert!(!tenth.1.contains_key("www-authenticate"));
    let eleventh = parts(ping("wrong-token").await.expect("get")).await;
    assert_refusal(&eleventh, StatusCode::TOO_MANY_REQUESTS, "Too Many Requests (auth lockout)");
    assert_eq!(header(&eleventh.1, "retry-after"), "2");

    // No credential is a login prompt, not a guess: 401, and it does not count.
    let prompt = parts(gw.client.get(gw.url("/api/gateway/runs")).send().await.expect("get")).await;
    assert_refusal(&prompt, StatusCode::UNAUTHORIZED, "Unauthorized");

    // A valid token passes while locked, and clears the count.
    assert_eq!(ping(TOKEN).await.expect("get").status(), StatusCode::OK);
    assert_eq!(ping("wrong-token").await.expect("get").status(), StatusCode::UNAUTHORIZED);
    gw.stop().await;
}

/// Sends bad tokens as `forwarded_for` (or as the socket peer) and returns the statuses.
async fn bad_tokens(gw: &TestGateway, forwarded_for: Option<&str>, count: usize) -> Vec<u16> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        let mut request = gw.client.get(gw.url("/api/gateway/runs")).bearer_auth("wrong");
        if let Some(ip) = forwarded_for {
            request = request.header("x-forwarded-for", format!("{ip}, 10.0.0.1"));
        }
        statuses.push(request.send().await.expect("get").status().as_u16());
    }
    statuses
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trust_proxy_decides_whose_ip_is_locked_out() {
    let temp = tempfile::tempdir().expect("tempdir");
    let trusted = gateway_with(&temp, |o| {
        o.policy.trust_proxy = true;
        o.policy.lockout_after = 2;
    })
    .await;
    assert_eq!(bad_tokens(&trusted, Some("203.0.113.7"), 2).await, [401, 429]);
    assert_eq!(bad_tokens(&trusted, Some("203.0.113.8"), 1).await, [401], "another client behind the proxy");
    assert_eq!(bad_tokens(&trusted, None, 1).await, [401], "the proxy itself");
    trusted.stop().await;

    // Without TRUST_PROXY the header is the client's word: every request is the socket peer's.
    let temp = tempfile::tempdir().expect("tempdir");
    let direct = gateway_with(&temp, |o| o.policy.lockout_after = 2).await;
    assert_eq!(bad_tokens(&direct, Some("203.0.113.7"), 2).await, [401, 429]);
    assert_eq!(bad_tokens(&direct, Some("203.0.113.8"), 1).await, [429], "a new header does not escape");
    direct.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_sse_stream_needs_a_token() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let run_id = gw.start_run(json!({"bundle_id": "pure-math", "input_data": {"a": 1, "b": 2}})).await;
    let url = gw.url(&format!("/api/gateway/runs/{run_id}/ledger/stream"));
    let answer = parts(gw.client.get(&url).send().await.expect("stream")).await;
    assert_refusal(&answer, StatusCode::UNAUTHORIZED, "Unauthorized");
    assert_eq!(header(&answer.1, "www-authenticate"), "Bearer");
    let wrong = gw.client.get(format!("{url}?access_token=wrong")).send().await.expect("stream");
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let ok = gw.client.get(format!("{url}?access_token={TOKEN}")).send().await.expect("stream");
    assert_eq!(ok.status(), StatusCode::OK);
    assert!(ok.text().await.expect("body").contains("event: done"));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dev_read_no_auth_opens_reads_from_loopback_only() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| {
        o.policy.dev_read_no_auth = true;
        o.policy.trust_proxy = true;
    })
    .await;
    let read = gw.client.get(gw.url("/api/gateway/runs")).send().await.expect("read");
    assert_eq!(read.status(), StatusCode::OK);
    let remote =
        gw.client.get(gw.url("/api/gateway/runs")).header("x-forwarded-for", "203.0.113.9").send().await.expect("read");
    assert_eq!(remote.status(), StatusCode::UNAUTHORIZED, "a remote client behind a local proxy");
    let write = gw.client.post(gw.url("/api/gateway/runs/start")).json(&json!({"bundle_id": "pure-math"})).send().await;
    assert_eq!(write.expect("write").status(), StatusCode::UNAUTHORIZED, "writes still need a token");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protect_read_and_protect_write_choose_what_needs_a_token() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| o.policy.protect_read = false).await;
    assert_eq!(gw.client.get(gw.url("/api/gateway/runs")).send().await.expect("read").status(), StatusCode::OK);
    let write = gw.client.post(gw.url("/api/gateway/runs/start")).json(&json!({"bundle_id": "pure-math"})).send();
    assert_eq!(write.await.expect("write").status(), StatusCode::UNAUTHORIZED);
    gw.stop().await;

    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| o.policy.protect_write = false).await;
    assert_eq!(
        gw.client.get(gw.url("/api/gateway/runs")).send().await.expect("read").status(),
        StatusCode::UNAUTHORIZED
    );
    let write = gw.client.post(gw.url("/api/gateway/runs/start")).json(&json!({"bundle_id": "pure-math"})).send();
    assert_eq!(write.await.expect("write").status(), StatusCode::OK);
    let lines = audit_lines(&gw.data_dir, 1).await;
    assert_eq!(
        (&lines[0]["auth_required"], &lines[0]["principal_user_id"], lines[0].get("auth_token_fp")),
        (&json!(false), &json!("admin"), None)
    );
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_configured_requests_get_503() {
    // `serve` refuses to start like this; a gateway assembled another way still refuses.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| o.tokens = Vec::new()).await;
    for response in [
        gw.client.get(gw.url("/api/gateway/runs")).bearer_auth(TOKEN).send().await.expect("read"),
        gw.client.post(gw.url("/api/gateway/runs/start")).json(&json!({})).send().await.expect("write"),
    ] {
        let answer = parts(response).await;
        assert_refusal(&answer, StatusCode::SERVICE_UNAVAILABLE, "Gateway auth required but no token configured");
    }
    let health = gw.client.get(gw.url("/api/health")).send().await.expect("health");
    assert_eq!(health.status(), StatusCode::OK, "health stays public");
    gw.stop().await;

    // With security off nothing is checked and nothing is audited.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| {
        o.tokens = Vec::new();
        o.security = false;
    })
    .await;
    let write = gw.client.post(gw.url("/api/gateway/runs/start")).json(&json!({"bundle_id": "pure-math"})).send();
    assert_eq!(write.await.expect("write").status(), StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!gw.data_dir.join("audit_log.jsonl").exists());
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rejection_carries_a_request_id() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| o.policy.lockout_after = 1).await;
    let get = || gw.client.get(gw.url("/api/gateway/runs")).header("x-request-id", "client-chosen-id");
    for (request, status) in [
        (get(), StatusCode::UNAUTHORIZED),
        (get().bearer_auth(TOKEN).header("origin", "http://evil.example"), StatusCode::FORBIDDEN),
        (get().bearer_auth("wrong"), StatusCode::TOO_MANY_REQUESTS),
    ] {
        let response = request.send().await.expect("get");
        assert_eq!(response.status(), status);
        assert_eq!(header(response.headers(), "x-request-id"), "client-chosen-id");
    }
    let fresh = gw.client.get(gw.url("/api/gateway/runs")).send().await.expect("get");
    assert_eq!(fresh.status(), StatusCode::UNAUTHORIZED);
    assert!(is_request_id(header(fresh.headers(), "x-request-id")));
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_records_writes_with_redactions_and_token_fingerprints() {
    // file2/32: one line per write, rejected ones too; reads are not logged.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let start = |path: &str| gw.client.post(gw.url(path)).json(&json!({"bundle_id": "pure-math"}));

    let ok = start(&format!("/api/gateway/runs/start?note=shh&access_token={TOKEN}"))
        .bearer_auth(TOKEN)
        .header("user-agent", "agw-test/1")
        .header("origin", "http://localhost:3000")
        .header("x-client-id", "suite")
        .send()
        .await
        .expect("start");
    assert_eq!(ok.status(), StatusCode::OK);
    let ok_id = header(ok.headers(), "x-request-id").to_owned();
    assert_eq!(start("/api/gateway/runs/start").send().await.expect("401").status(), StatusCode::UNAUTHORIZED);
    let forbidden = start("/api/gateway/runs/start").bearer_auth(TOKEN).header("origin", "http://evil.example");
    assert_eq!(forbidden.send().await.expect("403").status(), StatusCode::FORBIDDEN);
    let too_large = format!(
        "POST /api/gateway/runs/start HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n\
         Content-Type: application/json\r\nContent-Length: 10485761\r\nConnection: close\r\n\r\n"
    );
    assert!(raw(&gw, too_large.as_bytes()).await.starts_with("HTTP/1.1 413"));
    for _ in 0..10 {
        start("/api/gateway/runs/start").bearer_auth("wrong").send().await.expect("bad token");
    }
    gw.get("/api/gateway/runs").await;
    let (status, _) = gw.get(&format!("/api/gateway/bundles?access_token={TOKEN}")).await;
    assert_eq!(status, StatusCode::OK);

    let lines = audit_lines(&gw.data_dir, 14).await;
    let text = std::fs::read_to_string(gw.data_dir.join("audit_log.jsonl")).expect("log");
    assert_eq!(lines.len(), 14, "writes only: {text}");
    assert!(!text.contains(TOKEN) && !text.contains("shh") && !text.contains("wrong"), "{text}");

    let first = lines[0].as_object().expect("object");
    assert_eq!(
        first.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "ts",
            "request_id",
            "ip",
            "method",
            "path",
            "query",
            "status",
            "duration_ms",
            "auth_required",
            "auth_token_fp",
            "principal_user_id",
            "principal_tenant_id",
            "origin",
            "user_agent",
            "bytes_in",
            "headers",
        ]
    );
    let ts = first["ts"].as_str().expect("ts");
    assert!(chrono::DateTime::parse_from_rfc3339(ts).is_ok() && ts.ends_with("+00:00"), "{ts}");
    assert!(first["duration_ms"].is_u64());
    let mut expected = lines[0].clone();
    for volatile in ["ts", "duration_ms"] {
        expected.as_object_mut().expect("object").remove(volatile);
    }
    assert_eq!(
        expected,
        json!({
            "request_id": ok_id, "ip": "127.0.0.1", "method": "POST", "path": "/api/gateway/runs/start",
            "query": "note=<redacted>&access_token=<redacted>", "status": 200, "auth_required": true,
            "auth_token_fp": TOKEN_FP, "principal_user_id": "admin", "principal_tenant_id": "default",
            "origin": "http://localhost:3000", "user_agent": "agw-test/1", "bytes_in": 25,
            "headers": {"x-client-id": "suite"},
        })
    );

    let summary = |line: &Value| {
        json!([line["status"], line["auth_required"], line.get("auth_token_fp"), line.get("principal_user_id")])
    };
    assert_eq!(summary(&lines[1]), json!([401, true, null, null]), "no token, no principal");
    assert_eq!(summary(&lines[2]), json!([403, false, null, null]), "refused before authentication");
    assert_eq!(lines[2]["origin"], "http://evil.example");
    assert_eq!(summary(&lines[3]), json!([413, true, TOKEN_FP, "admin"]), "authenticated, then too large");
    assert_eq!(lines[3]["bytes_in"], 10485761);
    let wrong_fp = lines[4]["auth_token_fp"].as_str().expect("fingerprint of the wrong token").to_owned();
    assert_ne!(wrong_fp, TOKEN_FP);
    assert_eq!(summary(&lines[12]), json!([401, true, wrong_fp, null]));
    assert_eq!(summary(&lines[13]), json!([429, true, wrong_fp, null]), "the tenth bad token");
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_rotates_by_size() {
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway_with(&temp, |o| {
        o.policy.audit_log_max_bytes = 1;
        o.policy.audit_log_rotations = 2;
    })
    .await;
    let mut ids = Vec::new();
    for _ in 0..5 {
        let response = gw.client.post(gw.url("/api/gateway/runs/start")).json(&json!({})).send().await.expect("post");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        ids.push(header(response.headers(), "x-request-id").to_owned());
    }
    // Every line finds the file full: each rotation moves one line aside, two are kept.
    let live = gw.data_dir.join("audit_log.jsonl");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !std::fs::read_to_string(&live).unwrap_or_default().contains(&ids[4]) {
        assert!(Instant::now() < deadline, "the last line never landed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(std::fs::read_to_string(&live).expect("live").lines().count(), 1);
    let mut rotated: Vec<String> = std::fs::read_dir(&gw.data_dir)
        .expect("data dir")
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.starts_with("audit_log.") && n != "audit_log.jsonl")
        .collect();
    rotated.sort();
    assert_eq!(rotated.len(), 2, "{rotated:?}");
    for (name, id) in rotated.iter().zip(&ids[2..4]) {
        // `audit_log.20261121T053216.659304+0000.jsonl`, as the reference names them.
        let stamp = name.strip_prefix("audit_log.").and_then(|n| n.strip_suffix("+0000.jsonl")).expect(name);
        assert!(stamp.len() >= 15 && stamp.as_bytes()[8] == b'T', "{name}");
        let mut text = String::new();
        std::fs::File::open(gw.data_dir.join(name)).expect("open").read_to_string(&mut text).expect("read");
        assert_eq!(text.lines().count(), 1, "{name}");
        assert!(text.contains(id.as_str()), "{name} holds request {id}: {text}");
    }
    gw.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_json_answers_are_gzipped_and_sse_never_is() {
    // file/63: gzip on request for answers of 1 KiB or more.
    let temp = tempfile::tempdir().expect("tempdir");
    let gw = gateway(&temp).await;
    let bundles = |encoding: Option<&'static str>| {
        let request = gw.client.get(gw.url("/api/gateway/bundles")).bearer_auth(TOKEN);
        match encoding {
            Some(e) => request.header("accept-encoding", e),
            None => request,
        }
        .send()
    };
    let plain = bundles(None).await.expect("plain");
    assert!(!plain.headers().contains_key("content-encoding"));
    // The reference says `vary: Origin` here; naming Accept-Encoding too is what caches need.
    assert_eq!(header(plain.headers(), "vary"), "Origin, Accept-Encoding");
    let plain = plain.bytes().await.expect("body");
    assert!(plain.len() >= 1024, "the answer is large enough to compress: {}", plain.len());

    let gzipped = bundles(Some("gzip, deflate")).await.expect("gzip");
    assert_eq!(gzipped.status(), StatusCode::OK);
    assert_eq!(header(gzipped.headers(), "content-encoding"), "gzip");
    assert_eq!(header(gzipped.headers(), "content-type"), "application/json");
    assert_eq!(header(gzipped.headers(), "vary"), "Origin, Accept-Encoding");
    assert!(is_request_id(header(gzipped.headers(), "x-request-id")));
    let compressed = gzipped.bytes().await.expect("body");
    let mut inflated = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..]).read_to_end(&mut inflated).expect("gunzip");
    let (a, b): (Value, Value) =
        (serde_json::from_slice(&inflated).expect("json"), serde_json::from_slice(&plain).expect("json"));
    assert_eq!(a, b);

    // Small answers stay as they are.
    let small = gw.client.get(gw.url("/api/gateway/runs/nope")).bearer_auth(TOKEN).header("accept-encoding", "gzip");
    let small = small.send().await.expect("small");
    assert_eq!(small.status(), StatusCode::NOT_FOUND);
    assert!(!small.headers().contains_key("content-encoding"));

    // A ledger stream is never compressed, even when asked.
    let run_id = gw.start_run(json!({"bundle_id": "pure-math", "input_data": {"a": 1, "b": 2}})).await;
    let stream = gw
        .client
        .get(gw.url(&format!("/api/gateway/runs/{run_id}/ledger/stream")))
        .bearer_auth(TOKEN)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .expect("stream");
    assert!(header(stream.headers(), "content-type").starts_with("text/event-stream"));
    assert!(!stream.headers().contains_key("content-encoding"));
    let text = stream.text().await.expect("body");
    assert!(text.starts_with("id: 1\nevent: step\n") && text.contains("event: done"), "{text}");
    gw.stop().await;
}
