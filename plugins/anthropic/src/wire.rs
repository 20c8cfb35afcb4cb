//! Anthropic's Messages API wire format: the request body built from a typed `chat-request`,
//! and the answer (whole or streamed as server-sent events) read back into a `chat-response`.
//! Pure functions over JSON, so they are tested natively; the HTTP calls are in `lib.rs`.
//!
//! Structured output has no native switch here: a JSON response format becomes a forced tool
//! (the "answer tool") whose input is the answer, handed back as JSON text.

use std::collections::BTreeMap;

use abstractgateway_sdk::llm::{
    ChatRequest, ChatResponse, ContentPart, Delta, Endpoint, FinishReason, ImageSource, LlmError, Message, ModelInfo,
    ResponseFormat, Role, ToolCall, ToolChoice, Usage, base64,
};
use abstractgateway_sdk::sse::SseEvent;
use serde_json::{Map, Value, json};

/// `max_tokens` is required by the API; this is sent when the request sets none.
pub const DEFAULT_MAX_TOKENS: u32 = 1024;
/// The answer tool's name when the response format does not give a usable one.
const ANSWER_TOOL: &str = "json_answer";

/// The base URL from `ANTHROPIC_BASE_URL` (default the public API), without a trailing `/`
/// or `/v1`: paths are `/v1/...`.
pub fn base_url(configured: Option<&str>) -> String {
    let base = configured.map(str::trim).filter(|b| !b.is_empty()).unwrap_or("https://api.anthropic.com");
    let base = base.trim_end_matches('/');
    base.strip_suffix("/v1").unwrap_or(base).to_owned()
}

/// The forced tool standing in for a JSON response format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerTool {
    pub name: String,
    /// The schema is not an object, so it was wrapped as the `value` property of one.
    pub wrapped: bool,
}

impl AnswerTool {
    /// The answer, as JSON text, from the tool's input.
    fn answer(&self, input: &Value) -> String {
        if self.wrapped { input.get("value").unwrap_or(&Value::Null).to_string() } else { input.to_string() }
    }
}

/// The body of `POST {base}/v1/messages` for `request`, and the answer tool it forces, if any.
/// An error (JSON that is not what it should be) is the message of an `invalid-request`.
pub fn chat_body(request: &ChatRequest) -> Result<(Value, Option<AnswerTool>), String> {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    body.insert("max_tokens".into(), json!(request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS)));
    let system: Vec<String> = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(Message::text)
        .filter(|t| !t.is_empty())
        .collect();
    if !system.is_empty() {
        body.insert("system".into(), json!(system.join("\n\n")));
    }
    body.insert("messages".into(), messages(&request.messages)?);

    let mut tools: Vec<Value> = request
        .tools
        .iter()
        .map(|tool| {
            let mut out = Map::new();
            out.insert("name".into(), json!(tool.name));
            if !tool.description.is_empty() {
                out.insert("description".into(), json!(tool.description));
            }
            out.insert("input_schema".into(), schema(&tool.parameters, &format!("tool '{}'", tool.name))?);
            Ok(Value::Object(out))
        })
        .collect::<Result<_, String>>()?;
    let mut tool_choice = request.tool_choice.as_ref().map(|choice| match choice {
        ToolChoice::Auto => json!({ "type": "auto" }),
        ToolChoice::None => json!({ "type": "none" }),
        ToolChoice::Required => json!({ "type": "any" }),
        ToolChoice::Named(name) => json!({ "type": "tool", "name": name }),
    });
    let answer_tool = match &request.response_format {
        None | Some(ResponseFormat::Text) => None,
        Some(format) => {
            let (name, schema) = match format {
                ResponseFormat::JsonSchema(f) => (f.name.as_str(), schema(&f.schema, "the response format")?),
                _ => (ANSWER_TOOL, json!({ "type": "object" })),
            };
            let usable = !name.is_empty()
                && name.len() <= 64
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            let name = if usable { name } else { ANSWER_TOOL };
            let wrapped = schema.get("type") != Some(&json!("object"));
            let input_schema = if wrapped {
                json!({ "type": "object", "properties": { "value": schema }, "required": ["value"] })
            } else {
                schema
            };
            tools.push(json!({
                "name": name,
                "description": "Give your answer as this tool's input; it must satisfy the input schema.",
                "input_schema": input_schema,
            }));
            tool_choice = Some(json!({ "type": "tool", "name": name }));
            Some(AnswerTool { name: name.to_owned(), wrapped })
        }
    };
    // A tool choice without tools is refused by the API; it has nothing to choose from anyway.
    if !tools.is_empty() {
        body.insert("tools".into(), Value::Array(tools));
        if let Some(choice) = tool_choice {
            body.insert("tool_choice".into(), choice);
        }
    }
    if let Some(t) = request.temperature.filter(|t| t.is_finite()) {
        // Through the shortest decimal form, so 0.7f32 is sent as 0.7, not 0.699999988079071.
        body.insert("temperature".into(), json!(t.to_string().parse::<f64>().unwrap_or(f64::from(t))));
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), json!(request.stop));
    }
    // `seed` has no Messages API counterpart and is not sent.
    if let Some(extra) = request.extra.as_deref().filter(|e| !e.trim().is_empty()) {
        match serde_json::from_str::<Value>(extra) {
            Ok(Value::Object(extra)) => body.extend(extra),
            Ok(_) => return Err("extra must be a JSON object".into()),
            Err(e) => return Err(format!("extra is not JSON: {e}")),
        }
    }
    // Whether to stream is the request's choice, never `extra`'s: the answer is read accordingly.
    if request.stream {
        body.insert("stream".into(), json!(true));
    } else {
        body.remove("stream");
    }
    Ok((Value::Object(body), answer_tool))
}

/// A JSON Schema given as text (blank means "any object").
fn schema(text: &str, what: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(json!({ "type": "object", "properties": {} }));
    }
    serde_json::from_str(text).map_err(|e| format!("{what}: the schema is not JSON: {e}"))
}

/// The conversation without its system messages: consecutive messages of one role are merged
/// (tool results travel in a user message, which the next user message joins).
fn messages(messages: &[Message]) -> Result<Value, String> {
    let mut out: Vec<(&'static str, Vec<Value>)> = Vec::new();
    for m in messages {
        let (role, blocks) = match m.role {
            Role::System => continue,
            Role::User => ("user", content_blocks(&m.content)),
            Role::Assistant => {
                let mut blocks: Vec<Value> =
                    content_blocks(&m.content).into_iter().filter(|b| b["type"] == "text").collect();
                for call in &m.tool_calls {
                    let input = if call.arguments.trim().is_empty() {
                        json!({})
                    } else {
                        serde_json::from_str(&call.arguments)
                            .map_err(|e| format!("tool call '{}': the arguments are not JSON: {e}", call.id))?
                    };
                    blocks.push(json!({ "type": "tool_use", "id": call.id, "name": call.name, "input": input }));
                }
                ("assistant", blocks)
            }
            Role::Tool => {
                let id = m.tool_call_id.as_deref().ok_or("a tool message has no tool-call-id")?;
                let has_image = m.content.iter().any(|p| matches!(p, ContentPart::Image(_)));
                let content = if has_image { Value::Array(content_blocks(&m.content)) } else { json!(m.text()) };
                ("user", vec![json!({ "type": "tool_result", "tool_use_id": id, "content": content })])
            }
        };
        if blocks.is_empty() {
            continue;
        }
        match out.last_mut() {
            Some((last, previous)) if *last == role => previous.extend(blocks),
            _ => out.push((role, blocks)),
        }
    }
    Ok(Value::Array(out.into_iter().map(|(role, content)| json!({ "role": role, "content": content })).collect()))
}

/// Text and image blocks (empty text is left out: the API refuses it).
fn content_blocks(parts: &[ContentPart]) -> Vec<Value> {
    parts
        .iter()
        .filter_map(|part| match part {
            ContentPart::Text(text) if text.is_empty() => None,
            ContentPart::Text(text) => Some(json!({ "type": "text", "text": text })),
            ContentPart::Image(image) => {
                let source = match &image.source {
                    ImageSource::Inline(inline) => {
                        json!({ "type": "base64", "media_type": inline.mime_type, "data": base64(&inline.data) })
                    }
                    ImageSource::Url(url) => match data_url(url) {
                        Some((media_type, data)) => json!({ "type": "base64", "media_type": media_type, "data": data }),
                        None => json!({ "type": "url", "url": url }),
                    },
                };
                Some(json!({ "type": "image", "source": source }))
            }
        })
        .collect()
}

/// `data:<type>;base64,<data>` split into its type and data.
fn data_url(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type, data))
}

/// `stop_reason` as the WIT enum.
pub fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("end_turn" | "stop_sequence") => FinishReason::Stop,
        Some("max_tokens" | "model_context_window_exceeded") => FinishReason::Length,
        Some("tool_use") => FinishReason::ToolCalls,
        Some("refusal") => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

/// The finish reason, where the answer tool's call is an ordinary end of turn.
fn finish(reason: Option<&str>, answered_by_tool: bool) -> FinishReason {
    match finish_reason(reason) {
        FinishReason::ToolCalls if answered_by_tool => FinishReason::Stop,
        other => other,
    }
}

fn tokens(value: &Value) -> u32 {
    value.as_u64().map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
}

/// Input tokens, cached ones included (the API counts them apart).
fn input_tokens(usage: &Value) -> Option<u32> {
    usage.get("input_tokens")?;
    let parts = ["input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"];
    Some(parts.iter().map(|k| tokens(&usage[*k])).fold(0, u32::saturating_add))
}

/// An `error` object (a streamed `error` event, or an error body with a 200) by its type.
fn api_error(endpoint: &Endpoint, error: &Value) -> LlmError {
    let message = error["message"].as_str().unwrap_or("no message");
    let kind = error["type"].as_str().unwrap_or("error");
    let what = format!("reported {kind}: {message}");
    match kind {
        "authentication_error" | "permission_error" => endpoint.auth(&what),
        "rate_limit_error" => endpoint.rate_limited(&what, None),
        "invalid_request_error" | "not_found_error" | "request_too_large" => endpoint.invalid_request(&what),
        _ => endpoint.unavailable(&what),
    }
}

/// A whole (non-streamed) answer: the HTTP status, headers and body of the call.
pub fn chat_answer(
    endpoint: &Endpoint,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    requested_model: &str,
    answer_tool: Option<&AnswerTool>,
) -> Result<ChatResponse, LlmError> {
    if !(200..300).contains(&status) {
        return Err(endpoint.status_error(status, headers, body));
    }
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| endpoint.unavailable(&format!("answered malformed JSON (HTTP {status}): {e}")))?;
    parse_message(endpoint, &answer, requested_model, answer_tool)
}

/// A whole answer, already decoded.
pub fn parse_message(
    endpoint: &Endpoint,
    answer: &Value,
    requested_model: &str,
    answer_tool: Option<&AnswerTool>,
) -> Result<ChatResponse, LlmError> {
    if answer["type"] == "error" {
        return Err(api_error(endpoint, &answer["error"]));
    }
    let blocks = answer["content"].as_array().ok_or_else(|| endpoint.unavailable("answered no content"))?;
    let mut text = String::new();
    let mut tool_calls = Vec::new();
    let mut answered = None;
    for block in blocks {
        match block["type"].as_str() {
            Some("text") => text.push_str(block["text"].as_str().unwrap_or_default()),
            Some("tool_use") => {
                let name = block["name"].as_str().unwrap_or_default();
                match answer_tool.filter(|t| t.name == name) {
                    Some(tool) => answered = Some(tool.answer(&block["input"])),
                    None => tool_calls.push(ToolCall {
                        id: block["id"].as_str().unwrap_or_default().to_owned(),
                        name: name.to_owned(),
                        arguments: block["input"].to_string(),
                    }),
                }
            }
            _ => {} // thinking and other blocks are not part of the answer
        }
    }
    let answered_by_tool = answered.is_some();
    let text = answered.unwrap_or(text);
    let usage = &answer["usage"];
    Ok(ChatResponse {
        id: answer["id"].as_str().unwrap_or_default().to_owned(),
        model: answer["model"].as_str().unwrap_or(requested_model).to_owned(),
        finish_reason: finish(answer["stop_reason"].as_str(), answered_by_tool),
        text: (!text.is_empty() || tool_calls.is_empty()).then_some(text),
        usage: input_tokens(usage).map(|input| {
            let output = tokens(&usage["output_tokens"]);
            Usage { input_tokens: input, output_tokens: output, total_tokens: input.saturating_add(output) }
        }),
        tool_calls,
    })
}

/// A content block being streamed.
#[derive(Debug)]
enum Block {
    Text,
    Tool { id: String, name: String, json: String, done: bool },
    Other,
}

/// A streamed answer being assembled from its events.
#[derive(Debug)]
pub struct StreamState {
    id: String,
    model: String,
    text: String,
    blocks: BTreeMap<u64, Block>,
    tool_calls: Vec<ToolCall>,
    answered: Option<String>,
    answer_tool: Option<AnswerTool>,
    input_tokens: Option<u32>,
    output_tokens: u32,
    stop_reason: Option<String>,
    done: bool,
}

impl StreamState {
    pub fn new(requested_model: &str, answer_tool: Option<&AnswerTool>) -> Self {
        Self {
            id: String::new(),
            model: requested_model.to_owned(),
            text: String::new(),
            blocks: BTreeMap::new(),
            tool_calls: Vec::new(),
            answered: None,
            answer_tool: answer_tool.cloned(),
            input_tokens: None,
            output_tokens: 0,
            stop_reason: None,
            done: false,
        }
    }

    /// Whether `message_stop` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes one event: text deltas are emitted at once, a tool call when its block stops.
    pub fn on_event(
        &mut self,
        endpoint: &Endpoint,
        event: &SseEvent,
        emit: &mut dyn FnMut(Delta),
    ) -> Result<(), LlmError> {
        if event.data.trim().is_empty() {
            return Ok(());
        }
        let data: Value = serde_json::from_str(&event.data)
            .map_err(|e| endpoint.unavailable(&format!("streamed a malformed event: {e}")))?;
        let kind = data["type"].as_str().or(event.event.as_deref()).unwrap_or_default();
        let index = data["index"].as_u64().unwrap_or(0);
        match kind {
            "message_start" => {
                let message = &data["message"];
                if let Some(id) = message["id"].as_str() {
                    self.id = id.to_owned();
                }
                if let Some(model) = message["model"].as_str() {
                    self.model = model.to_owned();
                }
                self.input_tokens = input_tokens(&message["usage"]).or(self.input_tokens);
                self.output_tokens = tokens(&message["usage"]["output_tokens"]);
            }
            "content_block_start" => {
                let block = &data["content_block"];
                let started = match block["type"].as_str() {
                    Some("text") => {
                        self.text_delta(block["text"].as_str().unwrap_or_default(), emit);
                        Block::Text
                    }
                    Some("tool_use") => Block::Tool {
                        id: block["id"].as_str().unwrap_or_default().to_owned(),
                        name: block["name"].as_str().unwrap_or_default().to_owned(),
                        json: String::new(),
                        done: false,
                    },
                    _ => Block::Other,
                };
                self.blocks.insert(index, started);
            }
            "content_block_delta" => {
                let delta = &data["delta"];
                match (delta["type"].as_str(), self.blocks.get_mut(&index)) {
                    (Some("text_delta"), _) => self.text_delta(delta["text"].as_str().unwrap_or_default(), emit),
                    (Some("input_json_delta"), Some(Block::Tool { json, .. })) => {
                        json.push_str(delta["partial_json"].as_str().unwrap_or_default());
                    }
                    _ => {} // thinking, signatures, citations
                }
            }
            "content_block_stop" => self.block_done(endpoint, index, emit)?,
            "message_delta" => {
                if let Some(reason) = data["delta"]["stop_reason"].as_str() {
                    self.stop_reason = Some(reason.to_owned());
                }
                let usage = &data["usage"];
                if usage.get("output_tokens").is_some() {
                    self.output_tokens = tokens(&usage["output_tokens"]);
                }
                self.input_tokens = input_tokens(usage).or(self.input_tokens);
            }
            "message_stop" => self.done = true,
            "error" => return Err(api_error(endpoint, &data["error"])),
            _ => {} // ping, and events added later
        }
        Ok(())
    }

    fn text_delta(&mut self, text: &str, emit: &mut dyn FnMut(Delta)) {
        if !text.is_empty() {
            self.text.push_str(text);
            emit(Delta::Text(text.to_owned()));
        }
    }

    /// A block ended: a tool call is complete (the answer tool's input is the answer).
    fn block_done(&mut self, endpoint: &Endpoint, index: u64, emit: &mut dyn FnMut(Delta)) -> Result<(), LlmError> {
        let Some(Block::Tool { id, name, json, done }) = self.blocks.get_mut(&index) else {
            return Ok(());
        };
        if *done {
            return Ok(());
        }
        *done = true;
        let input: Value = if json.trim().is_empty() {
            json!({})
        } else {
            serde_json::from_str(json)
                .map_err(|e| endpoint.unavailable(&format!("streamed malformed tool input for '{name}': {e}")))?
        };
        match self.answer_tool.as_ref().filter(|t| t.name == *name) {
            Some(tool) => {
                let answer = tool.answer(&input);
                emit(Delta::Text(answer.clone()));
                self.answered = Some(answer);
            }
            None => {
                let call = ToolCall { id: id.clone(), name: name.clone(), arguments: input.to_string() };
                emit(Delta::ToolCall(call.clone()));
                self.tool_calls.push(call);
            }
        }
        Ok(())
    }

    /// The whole answer once the stream ended. A stream that ended with neither
    /// `message_stop` nor a stop reason was cut: `unavailable`.
    pub fn finish(mut self, endpoint: &Endpoint, emit: &mut dyn FnMut(Delta)) -> Result<ChatResponse, LlmError> {
        if !self.done && self.stop_reason.is_none() {
            return Err(
                endpoint.unavailable("stream ended before the answer was complete (no stop reason, no message_stop)")
            );
        }
        let open: Vec<u64> = self.blocks.keys().copied().collect();
        for index in open {
            self.block_done(endpoint, index, emit)?;
        }
        let answered_by_tool = self.answered.is_some();
        let text = self.answered.take().unwrap_or(self.text);
        Ok(ChatResponse {
            id: self.id,
            model: self.model,
            finish_reason: finish(self.stop_reason.as_deref(), answered_by_tool),
            text: (!text.is_empty() || self.tool_calls.is_empty()).then_some(text),
            usage: self.input_tokens.map(|input| Usage {
                input_tokens: input,
                output_tokens: self.output_tokens,
                total_tokens: input.saturating_add(self.output_tokens),
            }),
            tool_calls: self.tool_calls,
        })
    }
}

/// Reads a streamed answer from its events (`Err` items are transport failures), emitting
/// deltas as they come; stops at `message_stop`.
pub fn read_stream(
    endpoint: &Endpoint,
    events: impl IntoIterator<Item = Result<SseEvent, LlmError>>,
    requested_model: &str,
    answer_tool: Option<&AnswerTool>,
    emit: &mut dyn FnMut(Delta),
) -> Result<ChatResponse, LlmError> {
    let mut state = StreamState::new(requested_model, answer_tool);
    for event in events {
        state.on_event(endpoint, &event?, emit)?;
        if state.is_done() {
            break;
        }
    }
    state.finish(endpoint, emit)
}

/// A whole answer to a request that asked to stream: its text and tool calls are emitted at once.
pub fn emit_whole(response: &ChatResponse, emit: &mut dyn FnMut(Delta)) {
    if let Some(text) = response.text.as_ref().filter(|t| !t.is_empty()) {
        emit(Delta::Text(text.clone()));
    }
    for call in &response.tool_calls {
        emit(Delta::ToolCall(call.clone()));
    }
}

/// `GET {base}/v1/models`.
pub fn models_answer(
    endpoint: &Endpoint,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Vec<ModelInfo>, LlmError> {
    if !(200..300).contains(&status) {
        return Err(endpoint.status_error(status, headers, body));
    }
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| endpoint.unavailable(&format!("answered malformed JSON (HTTP {status}): {e}")))?;
    let models = answer["data"].as_array().ok_or_else(|| endpoint.unavailable("answered no model list (`data`)"))?;
    Ok(models.iter().filter_map(|m| m["id"].as_str()).map(ModelInfo::new).collect())
}
