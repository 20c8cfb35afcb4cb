//! The OpenAI chat-completions wire format: the request body built from a typed
//! `chat-request`, and the answer (whole or streamed as server-sent events) read back into a
//! `chat-response`. Pure functions over JSON, so they are tested natively; the HTTP calls are
//! in `lib.rs`.

use std::collections::BTreeMap;

use abstractgateway_sdk::llm::{
    ChatRequest, ChatResponse, ContentPart, Delta, Endpoint, FinishReason, ImageDetail, ImageSource, LlmError, Message,
    ModelInfo, ResponseFormat, Role, ToolCall, ToolChoice, Usage, data_url,
};
use abstractgateway_sdk::sse::SseEvent;
use serde_json::{Map, Value, json};

/// The body of `POST {base}/chat/completions` for `request`; an error (a schema, tool
/// parameters, arguments or `extra` that are not the JSON they should be) is the message of
/// an `invalid-request`.
pub fn chat_body(request: &ChatRequest) -> Result<Value, String> {
    let mut body = Map::new();
    body.insert("model".into(), json!(request.model));
    let messages: Vec<Value> = request.messages.iter().map(message).collect::<Result<_, _>>()?;
    body.insert("messages".into(), Value::Array(messages));
    if !request.tools.is_empty() {
        let tools = request
            .tools
            .iter()
            .map(|tool| {
                let mut function = Map::new();
                function.insert("name".into(), json!(tool.name));
                if !tool.description.is_empty() {
                    function.insert("description".into(), json!(tool.description));
                }
                function.insert("parameters".into(), schema(&tool.parameters, &format!("tool '{}'", tool.name))?);
                Ok(json!({ "type": "function", "function": function }))
            })
            .collect::<Result<Vec<_>, String>>()?;
        body.insert("tools".into(), Value::Array(tools));
    }
    // A tool choice without tools is refused by the API; it has nothing to choose from anyway.
    if let Some(choice) = request.tool_choice.as_ref().filter(|_| !request.tools.is_empty()) {
        let choice = match choice {
            ToolChoice::Auto => json!("auto"),
            ToolChoice::None => json!("none"),
            ToolChoice::Required => json!("required"),
            ToolChoice::Named(name) => json!({ "type": "function", "function": { "name": name } }),
        };
        body.insert("tool_choice".into(), choice);
    }
    if let Some(format) = &request.response_format {
        let format = match format {
            ResponseFormat::Text => json!({ "type": "text" }),
            ResponseFormat::JsonObject => json!({ "type": "json_object" }),
            ResponseFormat::JsonSchema(f) => {
                let name = if f.name.is_empty() { "response" } else { f.name.as_str() };
                json!({
                    "type": "json_schema",
                    "json_schema": { "name": name, "schema": schema(&f.schema, "the response format")?, "strict": f.strict },
                })
            }
        };
        body.insert("response_format".into(), format);
    }
    if let Some(t) = request.temperature.filter(|t| t.is_finite()) {
        // Through the shortest decimal form, so 0.7f32 is sent as 0.7, not 0.699999988079071.
        body.insert("temperature".into(), json!(t.to_string().parse::<f64>().unwrap_or(f64::from(t))));
    }
    if let Some(max) = request.max_tokens {
        body.insert("max_tokens".into(), json!(max));
    }
    if let Some(seed) = request.seed {
        body.insert("seed".into(), json!(seed));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
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
        let options = body.entry("stream_options").or_insert_with(|| json!({}));
        if !options.is_object() {
            *options = json!({});
        }
        options["include_usage"] = json!(true);
    } else {
        body.remove("stream");
        body.remove("stream_options");
    }
    Ok(Value::Object(body))
}

/// A JSON Schema given as text (blank means "any object").
fn schema(text: &str, what: &str) -> Result<Value, String> {
    if text.trim().is_empty() {
        return Ok(json!({ "type": "object", "properties": {} }));
    }
    serde_json::from_str(text).map_err(|e| format!("{what}: the schema is not JSON: {e}"))
}

fn message(m: &Message) -> Result<Value, String> {
    let mut out = Map::new();
    out.insert("role".into(), json!(m.role.as_str()));
    let has_image = m.content.iter().any(|p| matches!(p, ContentPart::Image(_)));
    let content = if has_image {
        Value::Array(m.content.iter().map(part).collect())
    } else if m.content.is_empty() && m.role == Role::Assistant && !m.tool_calls.is_empty() {
        Value::Null
    } else {
        json!(m.text())
    };
    out.insert("content".into(), content);
    if let Some(name) = &m.name {
        out.insert("name".into(), json!(name));
    }
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| {
                let arguments = if c.arguments.trim().is_empty() { "{}" } else { c.arguments.as_str() };
                json!({ "id": c.id, "type": "function", "function": { "name": c.name, "arguments": arguments } })
            })
            .collect();
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &m.tool_call_id {
        out.insert("tool_call_id".into(), json!(id));
    }
    Ok(Value::Object(out))
}

fn part(p: &ContentPart) -> Value {
    match p {
        ContentPart::Text(text) => json!({ "type": "text", "text": text }),
        ContentPart::Image(image) => {
            let url = match &image.source {
                ImageSource::Url(url) => url.clone(),
                ImageSource::Inline(inline) => data_url(inline),
            };
            let mut image_url = json!({ "url": url });
            if let Some(detail) = image.detail {
                image_url["detail"] = json!(match detail {
                    ImageDetail::Low => "low",
                    ImageDetail::High => "high",
                    ImageDetail::Auto => "auto",
                });
            }
            json!({ "type": "image_url", "image_url": image_url })
        }
    }
}

/// `finish_reason` as the WIT enum.
pub fn finish_reason(reason: Option<&str>) -> FinishReason {
    match reason {
        Some("stop") => FinishReason::Stop,
        Some("length") => FinishReason::Length,
        Some("tool_calls" | "function_call") => FinishReason::ToolCalls,
        Some("content_filter") => FinishReason::ContentFilter,
        _ => FinishReason::Other,
    }
}

fn usage(value: &Value) -> Option<Usage> {
    let n = |key: &str| value[key].as_u64().map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    let input = n("prompt_tokens")?;
    let output = n("completion_tokens").unwrap_or(0);
    Some(Usage {
        input_tokens: input,
        output_tokens: output,
        total_tokens: n("total_tokens").unwrap_or(input + output),
    })
}

/// Arguments as a JSON object's text: a server that sends an object gets it re-encoded, and
/// nothing at all means `{}`.
fn arguments(value: &Value) -> String {
    match value {
        Value::String(s) if s.trim().is_empty() => "{}".into(),
        Value::String(s) => s.clone(),
        Value::Null => "{}".into(),
        other => other.to_string(),
    }
}

/// The text of `content`, a string or (some servers) a list of text parts.
fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts.iter().filter_map(|p| p["text"].as_str()).collect(),
        _ => String::new(),
    }
}

/// Text is absent only when the model called tools instead of answering.
fn text_or_none(text: String, tool_calls: &[ToolCall]) -> Option<String> {
    (!text.is_empty() || tool_calls.is_empty()).then_some(text)
}

/// Some servers say `stop` when they called tools.
fn finish(reason: Option<&str>, tool_calls: &[ToolCall]) -> FinishReason {
    match finish_reason(reason) {
        FinishReason::Stop if !tool_calls.is_empty() => FinishReason::ToolCalls,
        other => other,
    }
}

/// An error object inside a 200 answer or a stream (OpenRouter and some servers report
/// failures that way): by its numeric `code` when it has one, else `unavailable`.
fn embedded_error(endpoint: &Endpoint, error: &Value) -> LlmError {
    let body = json!({ "error": error }).to_string();
    match error["code"].as_u64().and_then(|c| u16::try_from(c).ok()).filter(|c| (400..600).contains(c)) {
        Some(status) => endpoint.status_error(status, &[], body.as_bytes()),
        None => endpoint.unavailable(&format!(
            "reported an error: {}",
            abstractgateway_sdk::llm::provider_message(body.as_bytes())
        )),
    }
}

/// A whole (non-streamed) answer: the HTTP status, headers and body of the call.
pub fn chat_answer(
    endpoint: &Endpoint,
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
    requested_model: &str,
) -> Result<ChatResponse, LlmError> {
    if !(200..300).contains(&status) {
        return Err(endpoint.status_error(status, headers, body));
    }
    let answer: Value = serde_json::from_slice(body)
        .map_err(|e| endpoint.unavailable(&format!("answered malformed JSON (HTTP {status}): {e}")))?;
    parse_chat(endpoint, &answer, requested_model)
}

/// A whole answer, already decoded.
pub fn parse_chat(endpoint: &Endpoint, answer: &Value, requested_model: &str) -> Result<ChatResponse, LlmError> {
    if answer.get("choices").is_none() && !answer["error"].is_null() {
        return Err(embedded_error(endpoint, &answer["error"]));
    }
    let choice = answer["choices"].get(0).ok_or_else(|| endpoint.unavailable("answered no choices"))?;
    let message = &choice["message"];
    if !message.is_object() {
        return Err(endpoint.unavailable("answered a choice without a message"));
    }
    let tool_calls: Vec<ToolCall> = message["tool_calls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .enumerate()
        .map(|(i, call)| ToolCall {
            id: call["id"].as_str().filter(|id| !id.is_empty()).map_or_else(|| format!("call_{i}"), str::to_owned),
            name: call["function"]["name"].as_str().unwrap_or_default().to_owned(),
            arguments: arguments(&call["function"]["arguments"]),
        })
        .collect();
    let text = content_text(&message["content"]);
    Ok(ChatResponse {
        id: answer["id"].as_str().unwrap_or_default().to_owned(),
        model: answer["model"].as_str().unwrap_or(requested_model).to_owned(),
        finish_reason: finish(choice["finish_reason"].as_str(), &tool_calls),
        text: text_or_none(text, &tool_calls),
        usage: usage(&answer["usage"]),
        tool_calls,
    })
}

/// A tool call being streamed in fragments.
#[derive(Debug, Default)]
struct PartialCall {
    id: String,
    name: String,
    arguments: String,
    emitted: bool,
}

impl PartialCall {
    fn call(&self, index: u64) -> ToolCall {
        ToolCall {
            id: if self.id.is_empty() { format!("call_{index}") } else { self.id.clone() },
            name: self.name.clone(),
            arguments: if self.arguments.trim().is_empty() { "{}".into() } else { self.arguments.clone() },
        }
    }
}

/// A streamed answer being assembled from its chunks (`data:` events).
#[derive(Debug)]
pub struct StreamState {
    id: String,
    model: String,
    text: String,
    calls: BTreeMap<u64, PartialCall>,
    finish_reason: Option<String>,
    usage: Option<Usage>,
    done: bool,
}

impl StreamState {
    pub fn new(requested_model: &str) -> Self {
        Self {
            id: String::new(),
            model: requested_model.to_owned(),
            text: String::new(),
            calls: BTreeMap::new(),
            finish_reason: None,
            usage: None,
            done: false,
        }
    }

    /// Whether `[DONE]` arrived.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Takes one event: text deltas are emitted at once, tool calls once the next one starts
    /// or the choice finishes.
    pub fn on_event(
        &mut self,
        endpoint: &Endpoint,
        event: &SseEvent,
        emit: &mut dyn FnMut(Delta),
    ) -> Result<(), LlmError> {
        let data = event.data.trim();
        if data == "[DONE]" {
            self.done = true;
            self.emit_calls(None, emit);
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| endpoint.unavailable(&format!("streamed a malformed chunk: {e}")))?;
        if !chunk["error"].is_null() || event.event.as_deref() == Some("error") {
            let error = if chunk["error"].is_null() { &chunk } else { &chunk["error"] };
            return Err(embedded_error(endpoint, error));
        }
        if let Some(id) = chunk["id"].as_str().filter(|id| !id.is_empty()) {
            self.id = id.to_owned();
        }
        if let Some(model) = chunk["model"].as_str().filter(|m| !m.is_empty()) {
            self.model = model.to_owned();
        }
        if let Some(usage) = usage(&chunk["usage"]) {
            self.usage = Some(usage);
        }
        let Some(choice) =
            chunk["choices"].as_array().and_then(|c| c.iter().find(|c| c["index"].as_u64().unwrap_or(0) == 0))
        else {
            return Ok(());
        };
        let delta = &choice["delta"];
        let text = content_text(&delta["content"]);
        if !text.is_empty() {
            self.text.push_str(&text);
            emit(Delta::Text(text));
        }
        for (position, fragment) in
            delta["tool_calls"].as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate()
        {
            let index = fragment["index"].as_u64().unwrap_or(position as u64);
            // A call with a higher index has started: the ones before it are complete.
            self.emit_calls(Some(index), emit);
            let call = self.calls.entry(index).or_default();
            if let Some(id) = fragment["id"].as_str().filter(|id| !id.is_empty()) {
                call.id = id.to_owned();
            }
            if let Some(name) = fragment["function"]["name"].as_str().filter(|n| !n.is_empty()) {
                call.name = name.to_owned();
            }
            match &fragment["function"]["arguments"] {
                Value::String(piece) => call.arguments.push_str(piece),
                Value::Null => {}
                other => call.arguments = other.to_string(),
            }
        }
        if let Some(reason) = choice["finish_reason"].as_str() {
            self.finish_reason = Some(reason.to_owned());
            self.emit_calls(None, emit);
        }
        Ok(())
    }

    /// Emits the calls not emitted yet whose index is below `before` (all when `None`).
    fn emit_calls(&mut self, before: Option<u64>, emit: &mut dyn FnMut(Delta)) {
        for (&index, call) in self.calls.iter_mut() {
            if before.is_some_and(|b| index >= b) {
                break;
            }
            if !call.emitted {
                call.emitted = true;
                emit(Delta::ToolCall(call.call(index)));
            }
        }
    }

    /// The whole answer once the stream ended. A stream that ended with neither `[DONE]` nor
    /// a finish reason was cut: `unavailable`.
    pub fn finish(mut self, endpoint: &Endpoint, emit: &mut dyn FnMut(Delta)) -> Result<ChatResponse, LlmError> {
        if !self.done && self.finish_reason.is_none() {
            return Err(
                endpoint.unavailable("stream ended before the answer was complete (no finish reason, no [DONE])")
            );
        }
        self.emit_calls(None, emit);
        let tool_calls: Vec<ToolCall> = self.calls.iter().map(|(&i, c)| c.call(i)).collect();
        Ok(ChatResponse {
            id: self.id,
            model: self.model,
            finish_reason: finish(self.finish_reason.as_deref(), &tool_calls),
            text: text_or_none(self.text, &tool_calls),
            usage: self.usage,
            tool_calls,
        })
    }
}

/// Reads a streamed answer from its events (`Err` items are transport failures), emitting
/// deltas as they come; stops at `[DONE]`.
pub fn read_stream(
    endpoint: &Endpoint,
    events: impl IntoIterator<Item = Result<SseEvent, LlmError>>,
    requested_model: &str,
    emit: &mut dyn FnMut(Delta),
) -> Result<ChatResponse, LlmError> {
    let mut state = StreamState::new(requested_model);
    for event in events {
        state.on_event(endpoint, &event?, emit)?;
        if state.is_done() {
            break;
        }
    }
    state.finish(endpoint, emit)
}

/// A whole answer to a request that asked to stream (a server that does not stream): its
/// text and tool calls are emitted at once.
pub fn emit_whole(response: &ChatResponse, emit: &mut dyn FnMut(Delta)) {
    if let Some(text) = response.text.as_ref().filter(|t| !t.is_empty()) {
        emit(Delta::Text(text.clone()));
    }
    for call in &response.tool_calls {
        emit(Delta::ToolCall(call.clone()));
    }
}

/// `GET {base}/models`.
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
    Ok(models
        .iter()
        .filter_map(|m| {
            let id = m["id"].as_str()?;
            let context = ["context_length", "max_model_len", "context_window"]
                .iter()
                .find_map(|k| m[*k].as_u64())
                .map(|n| u32::try_from(n).unwrap_or(u32::MAX));
            Some(ModelInfo {
                id: id.to_owned(),
                owned_by: m["owned_by"].as_str().map(str::to_owned),
                context_length: context,
            })
        })
        .collect())
}
