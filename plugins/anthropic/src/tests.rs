//! The Messages API wire format, natively:
//! `cargo test --target x86_64-unknown-linux-gnu -p anthropic` in `plugins/`.

use abstractgateway_sdk::Secret;
use abstractgateway_sdk::llm::{
    ChatRequest, ChatResponse, ContentPart, Delta, Endpoint, FinishReason, ImagePart, ImageSource, InlineImage,
    JsonSchemaFormat, LlmError, Message, RateLimit, ResponseFormat, Role, ToolCall, ToolChoice, ToolDefinition, Usage,
};
use abstractgateway_sdk::sse::{SseEvent, SseParser};
use serde_json::{Value, json};

use crate::wire::{AnswerTool, base_url, chat_answer, chat_body, finish_reason, models_answer, read_stream};

fn text(role: Role, text: &str) -> Message {
    Message { role, content: vec![ContentPart::Text(text.into())], name: None, tool_calls: vec![], tool_call_id: None }
}

fn request(messages: Vec<Message>) -> ChatRequest {
    ChatRequest {
        provider: "anthropic".into(),
        model: "claude-sonnet-4-5".into(),
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
    Endpoint::new("anthropic", "https://api.anthropic.com").with_key(Some(Secret::new("sk-ant-secret")))
}

/// `event: <type>` + `data: <json>` frames, as the API streams them.
fn sse(events: &[Value]) -> String {
    events.iter().map(|e| format!("event: {}\ndata: {e}\n\n", e["type"].as_str().unwrap())).collect()
}

fn stream(body: &str, answer_tool: Option<&AnswerTool>) -> (Result<ChatResponse, LlmError>, Vec<Delta>) {
    let mut parser = SseParser::new();
    let mut events: Vec<SseEvent> = body.as_bytes().chunks(11).flat_map(|c| parser.push(c)).collect();
    events.extend(parser.finish());
    let mut deltas = Vec::new();
    let result = read_stream(&endpoint(), events.into_iter().map(Ok), "claude", answer_tool, &mut |d| deltas.push(d));
    (result, deltas)
}

#[test]
fn base_urls_with_or_without_v1() {
    assert_eq!(base_url(None), "https://api.anthropic.com");
    assert_eq!(base_url(Some(" ")), "https://api.anthropic.com");
    assert_eq!(base_url(Some("http://127.0.0.1:9000/v1/")), "http://127.0.0.1:9000");
    assert_eq!(base_url(Some("https://proxy.example/anthropic")), "https://proxy.example/anthropic");
}

#[test]
fn a_plain_request_body() {
    let mut req = request(vec![text(Role::System, "Be brief."), text(Role::User, "Hi"), text(Role::System, "Really.")]);
    req.temperature = Some(0.7);
    req.stop = vec!["END".into()];
    req.seed = Some(1);
    let (body, tool) = chat_body(&req).unwrap();
    assert_eq!(tool, None);
    assert_eq!(
        body,
        json!({
            "model": "claude-sonnet-4-5",
            "max_tokens": 1024,
            "system": "Be brief.\n\nReally.",
            "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
            "temperature": 0.7,
            "stop_sequences": ["END"],
        })
    );
    req.tool_choice = Some(ToolChoice::Auto);
    assert!(chat_body(&req).unwrap().0.get("tool_choice").is_none(), "no tools, no tool choice");
    req.max_tokens = Some(50);
    req.stream = true;
    let (body, _) = chat_body(&req).unwrap();
    assert_eq!((&body["max_tokens"], &body["stream"]), (&json!(50), &json!(true)));
}

#[test]
fn tools_tool_calls_results_and_images_in_the_body() {
    let user = Message {
        role: Role::User,
        content: vec![
            ContentPart::Text("Compare".into()),
            ContentPart::Image(ImagePart {
                source: ImageSource::Inline(InlineImage { mime_type: "image/png".into(), data: vec![1, 2, 3] }),
                detail: None,
            }),
            ContentPart::Image(ImagePart {
                source: ImageSource::Url("data:image/jpeg;base64,/9j/".into()),
                detail: None,
            }),
            ContentPart::Image(ImagePart {
                source: ImageSource::Url("https://example.com/a.png".into()),
                detail: None,
            }),
        ],
        name: None,
        tool_calls: vec![],
        tool_call_id: None,
    };
    let assistant = Message {
        tool_calls: vec![
            ToolCall { id: "toolu_1".into(), name: "lookup".into(), arguments: r#"{"q":"a"}"#.into() },
            ToolCall { id: "toolu_2".into(), name: "now".into(), arguments: String::new() },
        ],
        ..text(Role::Assistant, "Let me look.")
    };
    let result = |id: &str, t: &str| Message { tool_call_id: Some(id.into()), ..text(Role::Tool, t) };
    let mut req =
        request(vec![user, assistant, result("toolu_1", "found"), result("toolu_2", "noon"), text(Role::User, "And?")]);
    req.tools = vec![ToolDefinition {
        name: "lookup".into(),
        description: "Looks up".into(),
        parameters: r#"{"type":"object","properties":{"q":{"type":"string"}}}"#.into(),
    }];
    req.tool_choice = Some(ToolChoice::Required);
    let (body, _) = chat_body(&req).unwrap();
    assert_eq!(
        body["messages"],
        json!([
            {"role": "user", "content": [
                {"type": "text", "text": "Compare"},
                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "AQID"}},
                {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg", "data": "/9j/"}},
                {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}},
            ]},
            {"role": "assistant", "content": [
                {"type": "text", "text": "Let me look."},
                {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {"q": "a"}},
                {"type": "tool_use", "id": "toolu_2", "name": "now", "input": {}},
            ]},
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": "toolu_1", "content": "found"},
                {"type": "tool_result", "tool_use_id": "toolu_2", "content": "noon"},
                {"type": "text", "text": "And?"},
            ]},
        ])
    );
    assert_eq!(
        body["tools"],
        json!([{"name": "lookup", "description": "Looks up",
                "input_schema": {"type": "object", "properties": {"q": {"type": "string"}}}}])
    );
    assert_eq!(body["tool_choice"], json!({"type": "any"}));

    let orphan = Message { tool_call_id: None, ..text(Role::Tool, "x") };
    assert_eq!(chat_body(&request(vec![orphan])).unwrap_err(), "a tool message has no tool-call-id");
}

#[test]
fn a_json_schema_becomes_a_forced_tool() {
    let mut req = request(vec![text(Role::User, "Name a colour")]);
    let schema = r#"{"type":"object","properties":{"name":{"type":"string"}},"required":["name"]}"#;
    req.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
        name: "colour".into(),
        schema: schema.into(),
        strict: true,
    }));
    let (body, tool) = chat_body(&req).unwrap();
    assert_eq!(tool, Some(AnswerTool { name: "colour".into(), wrapped: false }));
    assert_eq!(body["tools"][0]["name"], "colour");
    assert_eq!(body["tools"][0]["input_schema"], serde_json::from_str::<Value>(schema).unwrap());
    assert_eq!(body["tool_choice"], json!({"type": "tool", "name": "colour"}));

    // The answer comes back as JSON text, not as a tool call.
    let answer = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "tool_use", "id": "toolu_9", "name": "colour", "input": {"name": "teal"}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 20, "output_tokens": 8},
    });
    let response = chat_answer(&endpoint(), 200, &[], answer.to_string().as_bytes(), "m", tool.as_ref()).unwrap();
    assert_eq!(response.text.as_deref(), Some(r#"{"name":"teal"}"#));
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, FinishReason::Stop);

    // A schema that is not an object is wrapped, and unwrapped on the way back; a name the API
    // would refuse is replaced.
    req.response_format = Some(ResponseFormat::JsonSchema(JsonSchemaFormat {
        name: "a list!".into(),
        schema: r#"{"type":"array","items":{"type":"string"}}"#.into(),
        strict: false,
    }));
    let (body, tool) = chat_body(&req).unwrap();
    assert_eq!(tool, Some(AnswerTool { name: "json_answer".into(), wrapped: true }));
    assert_eq!(body["tools"][0]["input_schema"]["properties"]["value"]["type"], "array");
    let answer = json!({"content": [{"type": "tool_use", "id": "t", "name": "json_answer", "input": {"value": ["a", "b"]}}],
                        "stop_reason": "tool_use"});
    let response = chat_answer(&endpoint(), 200, &[], answer.to_string().as_bytes(), "m", tool.as_ref()).unwrap();
    assert_eq!(response.text.as_deref(), Some(r#"["a","b"]"#));

    req.response_format = Some(ResponseFormat::JsonObject);
    let (body, tool) = chat_body(&req).unwrap();
    assert_eq!(tool, Some(AnswerTool { name: "json_answer".into(), wrapped: false }));
    assert_eq!(body["tools"][0]["input_schema"], json!({"type": "object"}));
}

#[test]
fn a_plain_answer_and_a_tool_call_answer() {
    let answer = json!({
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
        "content": [{"type": "text", "text": "Hello"}, {"type": "text", "text": "!"}],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 10, "cache_read_input_tokens": 5, "output_tokens": 3},
    });
    let response = chat_answer(&endpoint(), 200, &[], answer.to_string().as_bytes(), "m", None).unwrap();
    assert_eq!((response.id.as_str(), response.model.as_str()), ("msg_1", "claude-sonnet-4-5-20250929"));
    assert_eq!(response.text.as_deref(), Some("Hello!"));
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!(response.usage, Some(Usage { input_tokens: 15, output_tokens: 3, total_tokens: 18 }));

    let answer = json!({
        "id": "msg_2", "model": "m",
        "content": [{"type": "tool_use", "id": "toolu_1", "name": "add", "input": {"a": 1, "b": 2}}],
        "stop_reason": "tool_use", "usage": {"input_tokens": 1, "output_tokens": 1},
    });
    let response = chat_answer(&endpoint(), 200, &[], answer.to_string().as_bytes(), "m", None).unwrap();
    assert_eq!(response.text, None);
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!(
        response.tool_calls,
        [ToolCall { id: "toolu_1".into(), name: "add".into(), arguments: r#"{"a":1,"b":2}"#.into() }]
    );

    let reasons = ["end_turn", "stop_sequence", "max_tokens", "tool_use", "refusal", "pause_turn"];
    let mapped: Vec<FinishReason> = reasons.iter().map(|r| finish_reason(Some(r))).collect();
    use FinishReason::*;
    assert_eq!(mapped, [Stop, Stop, Length, ToolCalls, ContentFilter, Other]);
}

#[test]
fn http_errors_map_and_never_show_the_key() {
    let e = endpoint();
    let body =
        br#"{"type":"error","error":{"type":"authentication_error","message":"invalid x-api-key sk-ant-secret"}}"#;
    let err = chat_answer(&e, 401, &[], body, "m", None).unwrap_err();
    assert_eq!(
        err,
        LlmError::Auth(
            "provider 'anthropic' (https://api.anthropic.com) answered HTTP 401: invalid x-api-key ***".into()
        )
    );
    let headers = vec![("retry-after".to_owned(), "12".to_owned())];
    let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"Number of requests exceeded"}}"#;
    let err = chat_answer(&e, 429, &headers, body, "m", None).unwrap_err();
    assert!(matches!(err, LlmError::RateLimited(RateLimit { retry_after_ms: Some(12_000), .. })), "{err:?}");
    let body = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#;
    let err = chat_answer(&e, 529, &[], body, "m", None).unwrap_err();
    assert_eq!(
        err,
        LlmError::Unavailable("provider 'anthropic' (https://api.anthropic.com) answered HTTP 529: Overloaded".into())
    );
    assert!(matches!(chat_answer(&e, 500, &[], b"", "m", None), Err(LlmError::Unavailable(_))));
    assert!(matches!(chat_answer(&e, 400, &[], b"{}", "m", None), Err(LlmError::InvalidRequest(_))));
    let err = chat_answer(&e, 200, &[], br#"{"content": [{"type": "te"#, "m", None).unwrap_err();
    assert!(matches!(&err, LlmError::Unavailable(m) if m.contains("answered malformed JSON")), "{err:?}");
}

fn message_start() -> Value {
    json!({"type": "message_start", "message": {"id": "msg_s", "type": "message", "role": "assistant",
        "model": "claude-sonnet-4-5-20250929", "content": [], "stop_reason": null,
        "usage": {"input_tokens": 25, "output_tokens": 1}}})
}

#[test]
fn a_streamed_answer_with_text_and_a_tool_call() {
    let body = sse(&[
        message_start(),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "ping"}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Let me "}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "check."}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "content_block_start", "index": 1,
               "content_block": {"type": "tool_use", "id": "toolu_1", "name": "lookup", "input": {}}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": ""}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"q\": \"ca"}}),
        json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "t\"}"}}),
        json!({"type": "content_block_stop", "index": 1}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use", "stop_sequence": null}, "usage": {"output_tokens": 40}}),
        json!({"type": "message_stop"}),
    ]);
    let (response, deltas) = stream(&body, None);
    let response = response.unwrap();
    let call = ToolCall { id: "toolu_1".into(), name: "lookup".into(), arguments: r#"{"q":"cat"}"#.into() };
    assert_eq!(deltas, [Delta::Text("Let me ".into()), Delta::Text("check.".into()), Delta::ToolCall(call.clone())]);
    assert_eq!(response.text.as_deref(), Some("Let me check."));
    assert_eq!(response.tool_calls, [call]);
    assert_eq!(response.finish_reason, FinishReason::ToolCalls);
    assert_eq!((response.id.as_str(), response.model.as_str()), ("msg_s", "claude-sonnet-4-5-20250929"));
    assert_eq!(response.usage, Some(Usage { input_tokens: 25, output_tokens: 40, total_tokens: 65 }));
}

#[test]
fn a_streamed_json_answer_is_text() {
    let tool = AnswerTool { name: "colour".into(), wrapped: false };
    let body = sse(&[
        message_start(),
        json!({"type": "content_block_start", "index": 0,
               "content_block": {"type": "tool_use", "id": "toolu_1", "name": "colour", "input": {}}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"name\":\"teal\"}"}}),
        json!({"type": "content_block_stop", "index": 0}),
        json!({"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 9}}),
        json!({"type": "message_stop"}),
    ]);
    let (response, deltas) = stream(&body, Some(&tool));
    let response = response.unwrap();
    assert_eq!(deltas, [Delta::Text(r#"{"name":"teal"}"#.into())]);
    assert_eq!(response.text.as_deref(), Some(r#"{"name":"teal"}"#));
    assert!(response.tool_calls.is_empty());
    assert_eq!(response.finish_reason, FinishReason::Stop);
}

#[test]
fn truncated_malformed_and_failed_streams() {
    let body = sse(&[
        message_start(),
        json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
        json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hel"}}),
    ]);
    let (response, deltas) = stream(&body, None);
    assert_eq!(
        response.unwrap_err(),
        LlmError::Unavailable(
            "provider 'anthropic' (https://api.anthropic.com) stream ended before the answer was complete \
             (no stop reason, no message_stop)"
                .into()
        )
    );
    assert_eq!(deltas, [Delta::Text("Hel".into())]);

    let body = "event: message_start\ndata: {\"type\": \"message_start\", \"mess\n\n";
    let err = stream(body, None).0.unwrap_err();
    assert!(matches!(&err, LlmError::Unavailable(m) if m.contains("streamed a malformed event")), "{err:?}");

    let body = sse(&[
        message_start(),
        json!({"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}),
    ]);
    let err = stream(&body, None).0.unwrap_err();
    assert_eq!(
        err,
        LlmError::Unavailable(
            "provider 'anthropic' (https://api.anthropic.com) reported overloaded_error: Overloaded".into()
        )
    );
}

#[test]
fn model_lists() {
    let body = json!({"data": [{"type": "model", "id": "claude-sonnet-4-5-20250929", "display_name": "Claude Sonnet 4.5"},
                               {"type": "model", "id": "claude-haiku-4-5"}], "has_more": false});
    let models = models_answer(&endpoint(), 200, &[], body.to_string().as_bytes()).unwrap();
    let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["claude-sonnet-4-5-20250929", "claude-haiku-4-5"]);
    assert!(matches!(models_answer(&endpoint(), 403, &[], b"{}"), Err(LlmError::Auth(_))));
}
