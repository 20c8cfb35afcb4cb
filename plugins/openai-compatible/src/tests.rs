//! The wire format and the provider table, natively:
//! `cargo test --target x86_64-unknown-linux-gnu -p openai-compatible` in `plugins/`.

use abstractgateway_sdk::Secret;
use abstractgateway_sdk::llm::{
    ChatRequest, ContentPart, Delta, Endpoint, FinishReason, ImageDetail, ImagePart, ImageSource, InlineImage,
    JsonSchemaFormat, LlmError, Message, RateLimit, ResponseFormat, Role, ToolCall, ToolChoice, ToolDefinition, Usage,
};
use abstractgateway_sdk::sse::{SseEvent, SseParser};
use serde_json::{Value, json};

use crate::providers::{self, resolve};
use crate::wire::{chat_answer, chat_body, models_answer, read_stream};

fn text(role: Role, text: &str) -> Message {
    Message { role, content: vec![ContentPart::Text(text.into())], name: None, tool_calls: vec![], tool_call_id: None }
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        provider: "openai".into(),
        model: "gpt-4o-mini".into(),
        messages,
        tools: vec![],
        tool_choice: None,
        response_format: None,
        temperature: None,
        max_tokens: None,
        seed: None,
        stop: vec![],
        stream: false,
        extra: None,
    }
}

fn endpoint() -> Endpoint {
    Endpoint::new("openai", "http://127.0.0.1:8081/v1").with_key(Some(Secret::new("sk-test-key")))
}

/// Feeds `body` through the SSE parser in `piece`-byte pieces, as a network would.
fn events(body: &str, piece: usize) -> Vec<Result<SseEvent, LlmError>> {
    let mut parser = SseParser::new();
    let mut out: Vec<SseEvent> = body.as_bytes().chunks(piece).flat_map(|c| parser.push(c)).collect();
    out.extend(parser.finish());
    out.into_iter().map(Ok).collect()
}

fn sse(chunks: &[Value], done: bool) -> String {
    let mut body: String = chunks.iter().map(|c| format!("data: {c}\n\n")).collect();
    if done {
        body.push_str("data: [DONE]\n\n");
    }
    body
}

fn stream(body: &str) -> (Result<abstractgateway_sdk::llm::ChatResponse, LlmError>, Vec<Delta>) {
    let mut deltas = Vec::new();
    let result = read_stream(&endpoint(), events(body, 7), "gpt-4o-mini", &mut |d| deltas.push(d));
    (result, deltas)
}

// --- providers ---------------------------------------------------------------------------

fn settings(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
    move |key| pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone())
}

#[test]
fn providers_default_and_configured() {
    let none = settings(&[]);
    let no_secret = |_: &str| None;
    let report = |id: &str| {
        let r = resolve(id, &none, &no_secret).unwrap();
        (r.base_url, r.configured)
    };
    assert_eq!(report("openai"), (Some("https://api.openai.com/v1".into()), false));
    assert_eq!(report("lmstudio"), (Some("http://localhost:1234/v1".into()), true));
    assert_eq!(report("ollama"), (Some("http://localhost:11434/v1".into()), true));
    assert_eq!(report("vllm"), (None, false));
    assert_eq!(report("openrouter"), (Some("https://openrouter.ai/api/v1".into()), false));
    assert_eq!(report("openai-compatible"), (None, false));
    assert!(resolve("anthropic", &none, &no_secret).is_none());

    let set = settings(&[
        ("OPENAI_BASE_URL", "http://127.0.0.1:8081/v1/"),
        ("OLLAMA_BASE_URL", "http://gpu:11434/v1"),
        ("VLLM_BASE_URL", "http://vllm:8000/v1"),
        ("OPENAI_COMPATIBLE_BASE_URL", "  "),
    ]);
    let secrets = |key: &str| (key == "OPENROUTER_API_KEY").then(|| Secret::new("or-key"));
    let openai = resolve("openai", &set, &secrets).unwrap();
    assert_eq!((openai.base_url.as_deref(), openai.configured), (Some("http://127.0.0.1:8081/v1"), true));
    assert!(openai.key.is_none(), "a base URL alone is configured, without a key");
    assert_eq!(resolve("ollama", &set, &secrets).unwrap().base_url.as_deref(), Some("http://gpu:11434/v1"));
    assert!(resolve("vllm", &set, &secrets).unwrap().configured);
    assert!(resolve("openrouter", &set, &secrets).unwrap().configured);
    assert!(!resolve("openai-compatible", &set, &secrets).unwrap().configured, "a blank value is unset");

    let openrouter = settings(&[("OPENROUTER_BASE_URL", "http://127.0.0.1:8081/v1")]);
    let r = resolve("openrouter", &openrouter, &no_secret).unwrap();
    assert_eq!((r.base_url.as_deref(), r.configured), (Some("http://127.0.0.1:8081/v1"), false), "still needs its key");

    // describe() requests exactly the table's keys and secrets.
    let mut keys: Vec<&str> = providers::PROVIDERS.iter().filter_map(|s| s.base_url_key).collect();
    let mut secrets: Vec<&str> = providers::PROVIDERS.iter().filter_map(|s| s.key_secret).collect();
    keys.sort_unstable();
    secrets.sort_unstable();
    let (mut requested_keys, mut requested_secrets) = (providers::CONFIG_KEYS.to_vec(), providers::SECRETS.to_vec());
    requested_keys.sort_unstable();
    requested_secrets.sort_unstable();
    assert_eq!((keys, secrets), (requested_keys, requested_secrets));
}

#[test]
fn unconfigured_providers_say_what_to_set() {
    let none = settings(&[]);
    let no_secret = |_: &str| None;
    let err = resolve("openai", &none, &no_secret).unwrap().endpoint().unwrap_err();
    assert_eq!(
        err,
        LlmError::Auth(
            "provider 'openai' (https://api.openai.com/v1) has no API key: set OPENAI_API_KEY \
             (or OPENAI_BASE_URL for an endpoint without a key)"
                .into()
        )
    );
    let err = resolve("vllm", &none, &no_secret).unwrap().endpoint().unwrap_err();
    assert_eq!(err, LlmError::Other("provider 'vllm' is not configured: set VLLM_BASE_URL".into()));
    let err = resolve("openrouter", &none, &no_secret).unwrap().endpoint().unwrap_err();
    assert_eq!(
        err,
        LlmError::Auth(
            "provider 'openrouter' (https://openrouter.ai/api/v1) has no API key: set OPENROUTER_API_KEY".into()
        )
    );
    let with_key = |_: &str| Some(Secret::new("sk-1"));
    let endpoint = resolve("openai", &none, &with_key).unwrap().endpoint().unwrap();
    assert_eq!(endpoint.key().map(Secret::expose), Some("sk-1"));
}

// --- request bodies ----------------------------------------------------------------------

#[test]
fn a_plain_request_body() {
    let mut req = request(vec![text(Role::System, "Be brief."), text(Role::User, "Hi")]);
    req.temperature = Some(0.7);
    req.tool_choice = Some(ToolChoice::None); // no tools: not sent
    req.max_tokens = Some(64);
    req.seed = Some(42);
    req.stop = vec!["END".into()];
    assert_eq!(
        chat_body(&req).unwrap(),
        json!({
            "model": "gpt-4o-mini",
            "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}],
            "temperature": 0.7,
            "max_tokens": 64,
            "seed": 42,
            "stop": ["END"],
        })
    );
}

#[test]
fn a_json_schema_request_body() {
    let mut req = request(vec![text(Role::User, "Name a colour")]);
    req.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
        name: "colour".into(),
        schema: r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#.into(),
        strict: true,
    }));
    let body = chat_body(&req).unwrap();
    assert_eq!(
        body["response_format"],
        json!({
            "type": "json_schema",
            "json_schema": {
                "name": "colour",
                "schema": {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
                "strict": true,
            },
        })
    );
    req.response_format = Some(ResponseFormat::JsonObject);
    assert_eq!(chat_body(&req).unwrap()["response_format"], json!({"type": "json_object"}));
    req.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
        name: "x".into(),
        schema: "{not json".into(),
        strict: false,
    }));
    assert!(chat_body(&req).unwrap_err().contains("the response format: the schema is not JSON"));
}

#[test]
fn tools_tool_calls_images_extra_and_streaming_in_the_body() {
    let image = |source| ContentPart::Image(ImagePart { source, detail: Some(ImageDetail::Low) });
    let user = Message {
        role: Role::User,
        content: vec![
            ContentPart::Text("What is this?".into()),
            image(ImageSource::Url("https://example.com/cat.png".into())),
            image(ImageSource::Inline(InlineImage { mime_type: "image/png".into(), data: vec![1, 2, 3] })),
        ],
        name: Some("ada".into()),
        tool_calls: vec![],
        tool_call_id: None,
    };
    let assistant = Message {
        role: Role::Assistant,
        content: vec![],
        name: None,
        tool_calls: vec![ToolCall { id: "call_1".into(), name: "lookup".into(), arguments: r#"{"q":"cat"}"#.into() }],
        tool_call_id: None,
    };
    let tool = Message { tool_call_id: Some("call_1".into()), ..text(Role::Tool, "a cat") };
    let mut req = request(vec![user, assistant, tool]);
    req.tools = vec![ToolDefinition {
        name: "lookup".into(),
        description: "Looks things up".into(),
        parameters: r#"{"type":"object","properties":{"q":{"type":"string"}}}"#.into(),
    }];
    req.tool_choice = Some(ToolChoice::Named("lookup".into()));
    req.extra = Some(r#"{"top_p": 0.5, "stream": true, "user": "u1"}"#.into());
    let body = chat_body(&req).unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "name": "ada", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image_url", "image_url": {"url": "https://example.com/cat.png", "detail": "low"}},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AQID", "detail": "low"}},
            ]},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{\"q\":\"cat\"}"}},
            ]},
            {"role": "tool", "content": "a cat", "tool_call_id": "call_1"},
        ])
    );
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {
            "name": "lookup", "description": "Looks things up",
            "parameters": {"type": "object", "properties": {"q": {"type": "string"}}},
        }}])
    );
    assert_eq!(body["tool_choice"], json!({"type": "function", "function": {"name": "lookup"}}));
    assert_eq!((&body["top_p"], &body["user"]), (&json!(0.5), &json!("u1")));
    assert!(body.get("stream").is_none(), "extra cannot turn streaming on behind the request's back");

    req.stream = true;
    let body = chat_body(&req).unwrap();
    assert_eq!((&body["stream"], &body["stream_options"]), (&json!(true), &json!({"include_usage": true})));

    req.extra = Some("[1]".into());
    assert_eq!(chat_body(&req).unwrap_err(), "extra must be a JSON object");
    req.extra = None;
    req.tools[0].parameters = "nope".into();
    assert!(chat_body(&req).unwrap_err().starts_with("tool 'lookup': the schema is not JSON"));
}

// --- whole answers -----------------------------------------------------------------------

#[test]
fn a_plain_answer_with_usage() {
    let body = json!({
        "id": "chatcmpl-1", "model": "gpt-4o-mini-2024", "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello!"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12},
    });
    let answer = chat_answer(&endpoint(), 200, &[], body.to_string().as_bytes(), "gpt-4o-mini").unwrap();
    assert_eq!(answer.id, "chatcmpl-1");
    assert_eq!(answer.model, "gpt-4o-mini-2024");
    assert_eq!(answer.text.as_deref(), Some("Hello!"));
    assert!(answer.tool_calls.is_empty());
    assert_eq!(answer.finish_reason, FinishReason::Stop);
    assert_eq!(answer.usage, Some(Usage { input_tokens: 9, output_tokens: 3, total_tokens: 12 }));

    let cut = json!({"choices": [{"message": {"content": "Hel"}, "finish_reason": "length"}]});
    let answer = chat_answer(&endpoint(), 200, &[], cut.to_string().as_bytes(), "m").unwrap();
    assert_eq!((answer.model.as_str(), answer.finish_reason, answer.usage), ("m", FinishReason::Length, None));
}

#[test]
fn a_tool_call_answer() {
    let body = json!({
        "id": "c2", "model": "m",
        "choices": [{"message": {"content": null, "tool_calls": [
            {"id": "call_a", "type": "function", "function": {"name": "add", "arguments": "{\"a\":1,\"b\":2}"}},
            {"type": "function", "function": {"name": "now", "arguments": ""}},
        ]}, "finish_reason": "tool_calls"}],
    });
    let answer = chat_answer(&endpoint(), 200, &[], body.to_string().as_bytes(), "m").unwrap();
    assert_eq!(answer.text, None);
    assert_eq!(answer.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        answer.tool_calls,
        [
            ToolCall { id: "call_a".into(), name: "add".into(), arguments: r#"{"a":1,"b":2}"#.into() },
            ToolCall { id: "call_1".into(), name: "now".into(), arguments: "{}".into() },
        ]
    );
}

#[test]
fn http_errors_map_and_never_show_the_key() {
    let e = endpoint();
    let unauthorized =
        br#"{"error": {"message": "Incorrect API key provided: sk-test-key", "type": "invalid_request_error"}}"#;
    let err = chat_answer(&e, 401, &[], unauthorized, "m").unwrap_err();
    assert_eq!(
        err,
        LlmError::Auth(
            "provider 'openai' (http://127.0.0.1:8081/v1) answered HTTP 401: Incorrect API key provided: ***".into()
        )
    );
    assert!(!format!("{err:?}").contains("sk-test-key"));

    let headers = vec![("retry-after".to_owned(), "1".to_owned())];
    let err = chat_answer(&e, 429, &headers, br#"{"error": {"message": "Rate limit reached"}}"#, "m").unwrap_err();
    assert_eq!(
        err,
        LlmError::RateLimited(RateLimit {
            message: "provider 'openai' (http://127.0.0.1:8081/v1) answered HTTP 429: Rate limit reached".into(),
            retry_after_ms: Some(1000),
        })
    );

    let err = chat_answer(&e, 500, &[], b"Internal Server Error", "m").unwrap_err();
    assert_eq!(
        err,
        LlmError::Unavailable(
            "provider 'openai' (http://127.0.0.1:8081/v1) answered HTTP 500: Internal Server Error".into()
        )
    );
    let err = chat_answer(&e, 404, &[], br#"{"error":{"message":"The model `x` does not exist"}}"#, "x").unwrap_err();
    assert!(matches!(err, LlmError::InvalidRequest(m) if m.ends_with("The model `x` does not exist")));
}

#[test]
fn malformed_answers_are_unavailable() {
    let e = endpoint();
    let err = chat_answer(&e, 200, &[], br#"{"id": "x", "choices": [{"message": {"content": "Hel"#, "m").unwrap_err();
    assert!(
        matches!(&err, LlmError::Unavailable(m) if m.starts_with("provider 'openai' (http://127.0.0.1:8081/v1) answered malformed JSON (HTTP 200)")),
        "{err:?}"
    );
    let err = chat_answer(&e, 200, &[], br#"{"choices": []}"#, "m").unwrap_err();
    assert!(matches!(err, LlmError::Unavailable(m) if m.ends_with("answered no choices")));
    // OpenRouter reports upstream failures inside a 200.
    let err = chat_answer(&e, 200, &[], br#"{"error": {"code": 429, "message": "upstream busy"}}"#, "m").unwrap_err();
    assert!(matches!(err, LlmError::RateLimited(RateLimit { message, .. }) if message.ends_with("upstream busy")));
}

// --- streamed answers --------------------------------------------------------------------

fn chunk(delta: Value, finish: Option<&str>) -> Value {
    json!({"id": "chatcmpl-s", "model": "gpt-4o-mini-2024", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
}

#[test]
fn a_streamed_plain_answer_emits_text_as_it_comes() {
    let body = sse(
        &[
            chunk(json!({"role": "assistant", "content": ""}), None),
            chunk(json!({"content": "Hel"}), None),
            chunk(json!({"content": "lo, wörld"}), None),
            chunk(json!({}), Some("stop")),
            json!({"id": "chatcmpl-s", "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}}),
        ],
        true,
    );
    let (answer, deltas) = stream(&body);
    let answer = answer.unwrap();
    assert_eq!(deltas, [Delta::Text("Hel".into()), Delta::Text("lo, wörld".into())]);
    assert_eq!(answer.text.as_deref(), Some("Hello, wörld"));
    assert_eq!((answer.id.as_str(), answer.model.as_str()), ("chatcmpl-s", "gpt-4o-mini-2024"));
    assert_eq!(answer.finish_reason, FinishReason::Stop);
    assert_eq!(answer.usage, Some(Usage { input_tokens: 5, output_tokens: 2, total_tokens: 7 }));
}

#[test]
fn streamed_tool_calls_are_assembled_from_fragments() {
    let call = |index: u64, id: Option<&str>, name: Option<&str>, args: &str| {
        let mut f = json!({"index": index, "function": {"arguments": args}});
        if let Some(id) = id {
            f["id"] = json!(id);
            f["type"] = json!("function");
        }
        if let Some(name) = name {
            f["function"]["name"] = json!(name);
        }
        chunk(json!({"tool_calls": [f]}), None)
    };
    let body = sse(
        &[
            chunk(json!({"role": "assistant", "content": null}), None),
            call(0, Some("call_a"), Some("add"), ""),
            call(0, None, None, "{\"a\":"),
            call(0, None, None, "1,\"b\":2}"),
            call(1, Some("call_b"), Some("lookup"), "{\"q\""),
            call(1, None, None, ":\"cat\"}"),
            chunk(json!({}), Some("tool_calls")),
        ],
        true,
    );
    let mut deltas = Vec::new();
    let answer = read_stream(&endpoint(), events(&body, 5), "m", &mut |d| deltas.push(d)).unwrap();
    let add = ToolCall { id: "call_a".into(), name: "add".into(), arguments: r#"{"a":1,"b":2}"#.into() };
    let lookup = ToolCall { id: "call_b".into(), name: "lookup".into(), arguments: r#"{"q":"cat"}"#.into() };
    assert_eq!(answer.tool_calls, [add.clone(), lookup.clone()]);
    assert_eq!(answer.text, None);
    assert_eq!(answer.finish_reason, FinishReason::ToolCalls);
    // Each call is emitted once, as soon as it is complete.
    assert_eq!(deltas, [Delta::ToolCall(add), Delta::ToolCall(lookup)]);
}

#[test]
fn the_first_call_is_emitted_when_the_second_starts() {
    let mut state = crate::wire::StreamState::new("m");
    let mut deltas = Vec::new();
    let e = endpoint();
    let feed = |state: &mut crate::wire::StreamState, deltas: &mut Vec<Delta>, v: Value| {
        let event = SseEvent { data: v.to_string(), ..SseEvent::default() };
        state.on_event(&e, &event, &mut |d| deltas.push(d)).unwrap();
    };
    feed(
        &mut state,
        &mut deltas,
        chunk(json!({"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}}]}), None),
    );
    assert!(deltas.is_empty(), "not complete yet");
    feed(
        &mut state,
        &mut deltas,
        chunk(json!({"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}}]}), None),
    );
    assert_eq!(deltas, [Delta::ToolCall(ToolCall { id: "a".into(), name: "f".into(), arguments: "{}".into() })]);
}

#[test]
fn a_truncated_stream_is_unavailable() {
    // Cut before the finish reason and without [DONE], as the fake provider's `fake-truncated`.
    let body = sse(&[chunk(json!({"content": "Hel"}), None), chunk(json!({"content": "lo"}), None)], false);
    let (answer, deltas) = stream(&body);
    let err = answer.unwrap_err();
    assert_eq!(
        err,
        LlmError::Unavailable(
            "provider 'openai' (http://127.0.0.1:8081/v1) stream ended before the answer was complete \
             (no finish reason, no [DONE])"
                .into()
        )
    );
    assert_eq!(deltas.len(), 2, "what arrived was still streamed");

    // A finish reason without [DONE] is a complete answer.
    let body = sse(&[chunk(json!({"content": "Hi"}), Some("stop"))], false);
    assert_eq!(stream(&body).0.unwrap().text.as_deref(), Some("Hi"));
}

#[test]
fn malformed_or_failed_streams_are_errors() {
    let body = "data: {\"choices\": [{\"delta\": {\"content\": \"Hi\"}}\n\ndata: [DONE]\n\n";
    let err = stream(body).0.unwrap_err();
    assert!(matches!(&err, LlmError::Unavailable(m) if m.contains("streamed a malformed chunk")), "{err:?}");

    let body = sse(&[json!({"error": {"message": "model overloaded", "type": "server_error"}})], false);
    let err = stream(&body).0.unwrap_err();
    assert!(matches!(&err, LlmError::Unavailable(m) if m.ends_with("reported an error: model overloaded")), "{err:?}");

    let cut = vec![
        Ok(SseEvent { data: chunk(json!({"content": "Hi"}), None).to_string(), ..SseEvent::default() }),
        Err(endpoint().unavailable("stream was cut: the connection was closed early")),
    ];
    let err = read_stream(&endpoint(), cut, "m", &mut |_| {}).unwrap_err();
    assert!(matches!(err, LlmError::Unavailable(m) if m.ends_with("stream was cut: the connection was closed early")));
}

// --- models ------------------------------------------------------------------------------

#[test]
fn model_lists() {
    let body = json!({"object": "list", "data": [
        {"id": "gpt-4o", "object": "model", "owned_by": "openai"},
        {"id": "qwen", "max_model_len": 32768},
        {"id": "llama", "context_length": 8192},
        {"object": "model"},
    ]});
    let models = models_answer(&endpoint(), 200, &[], body.to_string().as_bytes()).unwrap();
    let summary: Vec<_> = models.iter().map(|m| (m.id.as_str(), m.owned_by.as_deref(), m.context_length)).collect();
    assert_eq!(summary, [("gpt-4o", Some("openai"), None), ("qwen", None, Some(32768)), ("llama", None, Some(8192))]);
    assert!(matches!(models_answer(&endpoint(), 401, &[], b"{}"), Err(LlmError::Auth(_))));
    assert!(matches!(models_answer(&endpoint(), 200, &[], b"[]"), Err(LlmError::Unavailable(_))));
}
