//! A deterministic OpenAI-compatible server on loopback, the one fixture that stands in for
//! the outside world in tests and when recording the Python gateway.
//!
//! - `GET /v1/models`;
//! - `POST /v1/chat/completions`: plain or streamed (`stream: true`, SSE chunks ending in
//!   `data: [DONE]`), tool calls (when the request offers tools and the last message is the
//!   user's), and JSON-schema answers (`response_format.type == "json_schema"`: a value built
//!   from the schema).
//!
//! The same request always gets the same answer. Faults are injected either by queueing them
//! ([`FakeProvider::fail_next`]) or by the model's name, so a flow can ask for one:
//! `fake-401`, `fake-429` (with `retry-after: 1`), `fake-500`, `fake-slow-<ms>`,
//! `fake-truncated`. Every request is logged for assertions ([`FakeProvider::requests`]).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

/// What the fake does instead of answering normally.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answers this status with an OpenAI-style error body (401, 500...).
    Status(u16),
    /// 429 with `retry-after` in seconds.
    RateLimited { retry_after_s: u64 },
    /// Waits this long before answering (and between stream chunks).
    Slow(Duration),
    /// Sends half of the answer and closes the connection.
    Truncated,
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    /// The `authorization` header as sent.
    pub authorization: Option<String>,
    /// The JSON body (`null` when there was none or it was not JSON).
    pub body: Value,
}

#[derive(Debug, Default)]
struct Shared {
    faults: Mutex<VecDeque<Fault>>,
    log: Mutex<Vec<Recorded>>,
    /// When each streamed text chunk was handed to the connection, oldest first.
    sent: Mutex<Vec<std::time::Instant>>,
}

impl Shared {
    fn record(&self, method: &str, path: &str, headers: &HeaderMap, body: Value) -> usize {
        let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        log.push(Recorded { method: method.into(), path: path.into(), authorization, body });
        log.len()
    }

    fn next_fault(&self, model: &str) -> Option<Fault> {
        let queued = self.faults.lock().unwrap_or_else(PoisonError::into_inner).pop_front();
        queued.or_else(|| fault_for_model(model))
    }
}

/// The fault a model name asks for.
fn fault_for_model(model: &str) -> Option<Fault> {
    match model {
        "fake-401" => Some(Fault::Status(401)),
        "fake-429" => Some(Fault::RateLimited { retry_after_s: 1 }),
        "fake-500" => Some(Fault::Status(500)),
        "fake-truncated" => Some(Fault::Truncated),
        _ => model.strip_prefix("fake-slow-")?.parse().ok().map(|ms| Fault::Slow(Duration::from_millis(ms))),
    }
}

/// A running fake server.
pub struct FakeProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl FakeProvider {
    /// Serves on `127.0.0.1` at an unused port.
    pub async fn start() -> std::io::Result<Self> {
        Self::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    /// Serves on `addr`.
    pub async fn bind(addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let app = Router::new()
            .route("/v1/models", get(models))
            .route("/v1/chat/completions", post(chat))
            .with_state(shared.clone());
        let task = tokio::spawn(async move {
            if let Err(error) = axum::serve(listener, app).await {
                eprintln!("fake provider stopped: {error}");
            }
        });
        Ok(Self { addr, shared, task })
    }

    /// `http://127.0.0.1:<port>/v1`, as `OPENAI_BASE_URL` takes it.
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// The next request to a model endpoint gets `fault` (faults queue up in order).
    pub fn fail_next(&self, fault: Fault) {
        self.shared.faults.lock().unwrap_or_else(PoisonError::into_inner).push_back(fault);
    }

    /// Every request so far, oldest first.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// When each streamed text chunk was sent, oldest first, and forgets them (for measuring
    /// how long a chunk takes to reach a client through the gateway).
    pub fn take_chunk_times(&self) -> Vec<std::time::Instant> {
        std::mem::take(&mut *self.shared.sent.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Stops serving.
    pub fn stop(self) {
        self.task.abort();
    }
}

/// The models the fake lists.
pub const MODELS: &[&str] = &["fake-chat", "fake-tools", "fake-json"];

async fn models(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    shared.record("GET", "/v1/models", &headers, Value::Null);
    let data: Vec<Value> =
        MODELS.iter().map(|id| json!({"id": id, "object": "model", "created": 0, "owned_by": "fake"})).collect();
    axum::Json(json!({"object": "list", "data": data})).into_response()
}

fn error(status: StatusCode, kind: &str, message: &str) -> Response {
    (status, axum::Json(json!({"error": {"message": message, "type": kind, "param": null, "code": kind}})))
        .into_response()
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let n = shared.record("POST", "/v1/chat/completions", &headers, request.clone());
    let Some(request) = request.as_object() else {
        return error(StatusCode::BAD_REQUEST, "invalid_request_error", "the body must be a JSON object");
    };
    let model = request.get("model").and_then(Value::as_str).unwrap_or("fake-chat").to_owned();
    let mut delay = Duration::ZERO;
    let mut truncated = false;
    match shared.next_fault(&model) {
        Some(Fault::Status(401)) => {
            return error(StatusCode::UNAUTHORIZED, "invalid_api_key", "Incorrect API key provided");
        }
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error(status, "server_error", "The fake provider failed on purpose");
        }
        Some(Fault::RateLimited { retry_after_s }) => {
            let mut response = error(StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded", "Rate limit reached");
            if let Ok(value) = HeaderValue::from_str(&retry_after_s.to_string()) {
                response.headers_mut().insert(header::RETRY_AFTER, value);
            }
            return response;
        }
        Some(Fault::Slow(wait)) => delay = wait,
        Some(Fault::Truncated) => truncated = true,
        None => {}
    }
    tokio::time::sleep(delay).await;
    let answer = Answer::for_request(request);
    let id = format!("chatcmpl-fake-{n}");
    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let usage = request.get("stream_options").and_then(|o| o.get("include_usage")).and_then(Value::as_bool);
        return stream(shared.clone(), id, model, answer, usage == Some(true), delay, truncated);
    }
    let mut message = Map::new();
    message.insert("role".into(), json!("assistant"));
    message.insert("content".into(), answer.content.clone().map_or(Value::Null, Value::String));
    if !answer.tool_calls.is_empty() {
        message.insert("tool_calls".into(), Value::Array(answer.tool_calls.clone()));
    }
    let full = json!({
        "id": id,
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": answer.finish_reason()}],
        "usage": answer.usage,
    })
    .to_string();
    if truncated {
        let half = full.len() / 2;
        return ([(header::CONTENT_TYPE, "application/json")], full[..half].to_owned()).into_response();
    }
    ([(header::CONTENT_TYPE, "application/json")], full).into_response()
}

/// What the fake answers a chat request, the same every time.
#[derive(Debug, Clone)]
struct Answer {
    content: Option<String>,
    tool_calls: Vec<Value>,
    usage: Value,
}

impl Answer {
    fn for_request(request: &Map<String, Value>) -> Self {
        let messages = request.get("messages").and_then(Value::as_array).cloned().unwrap_or_default();
        let last_user = messages.iter().rev().find(|m| m["role"] == "user").map(message_text).unwrap_or_default();
        let last_is_user = messages.last().is_some_and(|m| m["role"] == "user");
        let tools = request.get("tools").and_then(Value::as_array).cloned().unwrap_or_default();
        let choice = request.get("tool_choice");
        let wants_tools = !tools.is_empty() && choice != Some(&json!("none")) && last_is_user;
        let (content, tool_calls) = if let Some(schema) = json_schema(request) {
            (Some(example(schema).to_string()), Vec::new())
        } else if wants_tools {
            let named = choice.and_then(|c| c["function"]["name"].as_str());
            let tool = tools.iter().find(|t| Some(t["function"]["name"].as_str().unwrap_or_default()) == named);
            let tool = tool.or(tools.first()).map(|t| &t["function"]).cloned().unwrap_or(Value::Null);
            let call = json!({
                "id": "call_fake_0",
                "type": "function",
                "function": {
                    "name": tool["name"].as_str().unwrap_or("tool"),
                    "arguments": example(&tool["parameters"]).to_string(),
                },
            });
            (None, vec![call])
        } else {
            (Some(format!("Fake answer to: {last_user}")), Vec::new())
        };
        let words = |text: &str| text.split_whitespace().count() as u64;
        let prompt_tokens: u64 = messages.iter().map(|m| words(&message_text(m))).sum();
        let completion_tokens = content.as_deref().map_or(1, words);
        let usage = json!({
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        });
        Self { content, tool_calls, usage }
    }

    fn finish_reason(&self) -> &'static str {
        if self.tool_calls.is_empty() { "stop" } else { "tool_calls" }
    }
}

/// A message's text: its string content, or its text parts joined.
fn message_text(message: &Value) -> String {
    match &message["content"] {
        Value::String(text) => text.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(" "),
        _ => String::new(),
    }
}

/// The schema of a `response_format` of type `json_schema`.
fn json_schema(request: &Map<String, Value>) -> Option<&Value> {
    let format = request.get("response_format")?;
    (format["type"] == "json_schema").then(|| &format["json_schema"]["schema"])
}

/// A value that fits `schema`, the same every time: the first enum value, `"fake"` for a
/// string, 1 for a number, true, one item for an array, every property for an object.
pub fn example(schema: &Value) -> Value {
    if let Some(first) = schema["enum"].as_array().and_then(|values| values.first()) {
        return first.clone();
    }
    if let Some(constant) = schema.get("const") {
        return constant.clone();
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(first) = schema[key].as_array().and_then(|options| options.first()) {
            return example(first);
        }
    }
    let kind = match &schema["type"] {
        Value::Array(kinds) => kinds.iter().filter_map(Value::as_str).find(|k| *k != "null").unwrap_or("null"),
        Value::String(kind) => kind.as_str(),
        _ if schema.get("properties").is_some() => "object",
        _ => "string",
    };
    match kind {
        "object" => {
            let properties = schema["properties"].as_object().cloned().unwrap_or_default();
            Value::Object(properties.iter().map(|(name, sub)| (name.clone(), example(sub))).collect())
        }
        "array" => json!([example(&schema["items"])]),
        "integer" => json!(1),
        "number" => json!(1.5),
        "boolean" => json!(true),
        "null" => Value::Null,
        _ => json!("fake"),
    }
}

/// The answer as SSE chunks: the role, the text a word at a time (or the tool calls), the
/// finish reason, the usage when asked, then `[DONE]`.
fn stream(
    shared: Arc<Shared>,
    id: String,
    model: String,
    answer: Answer,
    usage: bool,
    delay: Duration,
    truncated: bool,
) -> Response {
    let chunk = move |delta: Value, finish: Value| {
        json!({
            "id": id,
            "object": "chat.completion.chunk",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })
    };
    let mut chunks = vec![chunk(json!({"role": "assistant", "content": ""}), Value::Null)];
    if let Some(content) = &answer.content {
        for word in content.split_inclusive(' ') {
            chunks.push(chunk(json!({"content": word}), Value::Null));
        }
    }
    if !answer.tool_calls.is_empty() {
        let calls: Vec<Value> = answer
            .tool_calls
            .iter()
            .enumerate()
            .map(|(i, call)| {
                let mut call = call.clone();
                call["index"] = json!(i);
                call
            })
            .collect();
        chunks.push(chunk(json!({"tool_calls": calls}), Value::Null));
    }
    let mut last = chunk(json!({}), json!(answer.finish_reason()));
    if usage {
        last["usage"] = answer.usage.clone();
    }
    chunks.push(last);
    if truncated {
        chunks.truncate(chunks.len() / 2);
    }
    let body = async_stream::stream! {
        for chunk in chunks {
            let text = chunk["choices"][0]["delta"]["content"].as_str().is_some_and(|t| !t.is_empty());
            if text {
                shared.sent.lock().unwrap_or_else(PoisonError::into_inner).push(std::time::Instant::now());
            }
            yield Ok::<Bytes, Infallible>(Bytes::from(format!("data: {chunk}\n\n")));
            tokio::time::sleep(delay).await;
        }
        if !truncated {
            yield Ok(Bytes::from_static(b"data: [DONE]\n\n"));
        }
    };
    let mut response = Body::from_stream(body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    response
}

#[cfg(test)]
mod tests;
