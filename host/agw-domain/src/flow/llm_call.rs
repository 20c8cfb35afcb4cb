//! The `llm_call` node: one chat completion through the run's LLM provider plugins.
//!
//! The node's pins become a [`ChatRequest`]; the host routes it (the node's provider and
//! model, else the `output.text` default) and answers. The step is journaled as an
//! `llm_call` effect in the reference's shape, in two checkpoints:
//!
//! 1. `started`, with the request summary; the request itself is kept in the run's state
//!    ([`PendingCall`]) and the tick ends, so the record is durable before the provider is
//!    called;
//! 2. the next tick makes the call and journals `completed` (with the answer and the provider
//!    plugin that gave it) or `failed`, and ends again, so the answer is durable before
//!    anything else runs.
//!
//! So a restart never calls the provider again for a journaled answer, and a crash during a
//! call re-issues it once, under the same step id.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::compile::CNode;
use super::effects::effect_failure;
use super::exec::Failure;
use super::exec::{Interp, Result, Step};
use super::value::{number, py_str, truthy};
use crate::llm::{CallRef, ChatAnswer, ChatRequest, Message, ToolSpec};
use crate::record::StepStatus;

/// The reference's default sampling temperature.
const DEFAULT_TEMPERATURE: f64 = 0.7;

/// What the reference tells the model about the envelope it puts before every prompt.
const GROUNDING: &str = "RUNTIME GROUNDING: a user message may begin with a machine-generated \
<runtime_metadata>{...}</runtime_metadata> envelope carrying the local date/time that message was sent (and \
optionally timezone, country, or OS user) for grounding; the newest one is the current time. It is not written \
by the user and it is not a language or locale preference. Always respond in the language of the user's request \
itself unless the user explicitly asks otherwise.";

/// A call journaled as `started` and not yet answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingCall {
    pub node_id: String,
    pub started: crate::record::StepRecord,
    pub request: ChatRequest,
}

impl Interp<'_> {
    pub(super) fn llm_call(&mut self, node: &CNode) -> Result<Step> {
        let pending = self.exec().pending_call.take();
        let Some(PendingCall { started, request, .. }) = pending.filter(|p| p.node_id == node.id) else {
            let (request, has_input) = self.llm_request(node)?;
            let payload = llm_payload(&request, self.resume_to(node), self.use_context(node)?);
            let started = self.started(node, "llm_call", payload);
            if !has_input {
                let message = format!(
                    "llm_call (node {}) requires payload.prompt or payload.messages; both were empty. Supply the \
                     flow's prompt input when starting the run (input_data.<prompt pin>), or connect/pin it in the flow.",
                    node.id
                );
                return Err(effect_failure(node, started, message));
            }
            self.run.outbox.push(started.clone());
            self.exec().pending_call = Some(PendingCall { node_id: node.id.clone(), started, request });
            self.exec().cursor = Some(node.id.clone());
            return Ok(Step::Checkpoint);
        };
        let call = CallRef {
            run_id: self.run.run_id.clone(),
            parent_run_id: self.run.parent_run_id.clone(),
            node_id: node.id.clone(),
            call_id: started.step_id.clone(),
        };
        let answer = match self.executor.llm(&call, &request) {
            Ok(answer) => answer,
            Err(failure) => return Err(journaled_failure(node, started, failure.message)),
        };
        let structured = match &request.response_schema {
            Some(schema) => match structured_answer(schema, &answer.text) {
                Ok(value) => Some(value),
                Err(why) => {
                    let message = format!(
                        "llm_call node '{}': the answer of '{}' does not match resp_schema: {why}",
                        node.id, answer.provider
                    );
                    return Err(journaled_failure(node, started, message));
                }
            },
            None => None,
        };
        let outputs = llm_outputs(&answer, structured.as_ref(), &call.call_id);
        let mut started = started;
        if let Some(effect) = started.effect.as_mut() {
            effect.payload["plugin"] = answer.plugin.clone();
        }
        let result = llm_result(&answer, structured);
        let done = self.run.record_ctx().effect_ended(&started, StepStatus::Completed, result, &self.env.now_iso());
        self.run.outbox.push(done);
        self.effect_output(node, outputs);
        match self.follow(node, "exec-out")? {
            Step::Continue => Ok(Step::Checkpoint),
            other => Ok(other),
        }
    }

    /// The request the node's pins (or, unwired, its `pinDefaults` and `effectConfig`) make,
    /// and whether it has anything to ask (a prompt or context messages).
    fn llm_request(&mut self, node: &CNode) -> Result<(ChatRequest, bool)> {
        let mut messages = Vec::new();
        if let Some(system) = self.text_input(node, "system")?.filter(|s| !s.is_empty()) {
            messages.push(Message::new("system", system));
        }
        messages.extend(self.context_messages(node)?);
        let prompt = self.text_input(node, "prompt")?.unwrap_or_default();
        let has_input = !prompt.trim().is_empty() || messages.iter().any(|m| m.role != "system");
        if !prompt.is_empty() || messages.iter().all(|m| m.role == "system") {
            messages.push(Message::new("user", format!("{}{prompt}", self.envelope())));
        }
        match messages.first_mut().filter(|m| m.role == "system") {
            Some(system) => system.content = format!("{}\n\n{GROUNDING}", system.content),
            None => messages.insert(0, Message::new("system", GROUNDING)),
        }
        let config = node.data.get("effectConfig");
        let number_setting = |this: &mut Self, pin: &str| -> Result<Option<f64>> {
            let wired = this.exec_input(node, pin)?.as_ref().and_then(number);
            Ok(wired.or_else(|| config.and_then(|c| c.get(pin)).and_then(number)))
        };
        let temperature = number_setting(self, "temperature")?.unwrap_or(DEFAULT_TEMPERATURE);
        let seed = number_setting(self, "seed")?.filter(|s| *s >= 0.0).map(|s| s as i64);
        let max_tokens = match number_setting(self, "max_out_tokens")? {
            Some(n) => Some(n),
            None => number_setting(self, "max_tokens")?,
        }
        .filter(|n| *n >= 1.0)
        .map(|n| n.min(f64::from(u32::MAX)) as u32);
        let tools = match self.exec_input(node, "tools")? {
            Some(value) => tool_specs(&value),
            None => Vec::new(),
        };
        let response_schema = match self.exec_input(node, "resp_schema")? {
            Some(Value::Object(schema)) if !schema.is_empty() => Some(Value::Object(unwrap_schema(schema))),
            _ => None,
        };
        let stream = self.run.input_data.get("_runtime").and_then(|r| r.get("stream")).is_some_and(truthy);
        let request = ChatRequest {
            provider: self.setting(node, "effectConfig", &["provider"])?,
            model: self.setting(node, "effectConfig", &["model"])?,
            messages,
            tools,
            response_schema,
            temperature: Some(temperature),
            max_tokens,
            seed,
            stop: Vec::new(),
            stream,
        };
        Ok((request, has_input))
    }

    /// The envelope the reference puts before every prompt: the time the message was sent.
    fn envelope(&self) -> String {
        let now = self.env.now();
        let (date, time) = (now.format("%Y-%m-%d"), now.format("%H:%M:%S"));
        format!(
            "<runtime_metadata>{{\"display\":\"[{date} {time}]\",\"local_datetime\":\"{date}T{time}+00:00\"}}</runtime_metadata>\n"
        )
    }

    /// Whether the run's context messages go with the call: the wired pin, else the node's
    /// checkbox.
    fn use_context(&mut self, node: &CNode) -> Result<bool> {
        Ok(match self.exec_input(node, "use_context")? {
            Some(value) => truthy(&value),
            None => node.data.get("effectConfig").and_then(|c| c.get("use_context")).is_some_and(truthy),
        })
    }

    /// `context.messages` of the `context` pin, else (with `use_context`) of the run's own
    /// `context` variable.
    fn context_messages(&mut self, node: &CNode) -> Result<Vec<Message>> {
        let explicit = self.exec_input(node, "context")?;
        let context = match explicit {
            Some(context @ Value::Object(_)) => Some(context),
            _ if self.use_context(node)? => self.exec().vars.get("context").cloned(),
            _ => None,
        };
        let Some(Value::Array(items)) = context.as_ref().and_then(|c| c.get("messages")) else {
            return Ok(Vec::new());
        };
        Ok(items.iter().filter_map(message_of).collect())
    }
}

/// The call failed after its `started` record was journaled.
fn journaled_failure(node: &CNode, started: crate::record::StepRecord, message: String) -> Failure {
    Failure { journaled: true, ..effect_failure(node, started, message) }
}

/// A context message (`{role, content}`); anything else is skipped.
fn message_of(value: &Value) -> Option<Message> {
    let role = value.get("role")?.as_str()?;
    if !matches!(role, "system" | "user" | "assistant" | "tool") {
        return None;
    }
    let content = match value.get("content") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(text)) => text.clone(),
        Some(other) => py_str(other),
    };
    let mut message = Message::new(role, content);
    message.tool_call_id = value.get("tool_call_id").and_then(Value::as_str).map(str::to_owned);
    message.name = value.get("name").and_then(Value::as_str).map(str::to_owned);
    Some(message)
}

/// Tool specs from the `tools` pin: `{name, description, parameters}` objects (OpenAI's
/// `{type: function, function: {...}}` too); bare names get an open parameter schema.
fn tool_specs(value: &Value) -> Vec<ToolSpec> {
    let Value::Array(items) = value else { return Vec::new() };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(name) if !name.trim().is_empty() => Some(ToolSpec {
                name: name.trim().to_owned(),
                description: String::new(),
                parameters: json!({"type": "object", "properties": {}}),
            }),
            Value::Object(spec) => {
                let spec = spec.get("function").and_then(Value::as_object).unwrap_or(spec);
                let name = spec.get("name")?.as_str()?.trim();
                (!name.is_empty()).then(|| ToolSpec {
                    name: name.to_owned(),
                    description: spec.get("description").and_then(Value::as_str).unwrap_or_default().to_owned(),
                    parameters: spec
                        .get("parameters")
                        .or_else(|| spec.get("input_schema"))
                        .filter(|p| p.is_object())
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object", "properties": {}})),
                })
            }
            _ => None,
        })
        .collect()
}

/// A `resp_schema` given as `{schema: {...}}` (the json_schema node's shape) or bare.
fn unwrap_schema(schema: Map<String, Value>) -> Map<String, Value> {
    match schema.get("schema") {
        Some(Value::Object(inner)) if !schema.contains_key("type") => inner.clone(),
        _ => schema,
    }
}

/// The answer parsed as JSON and checked against `schema`.
fn structured_answer(schema: &Value, text: &str) -> std::result::Result<Value, String> {
    let trimmed = text.trim();
    let body = trimmed
        .strip_prefix("```json")
        .or_else(|| trimmed.strip_prefix("```"))
        .and_then(|rest| rest.strip_suffix("```"))
        .unwrap_or(trimmed);
    let value: Value = serde_json::from_str(body.trim()).map_err(|e| format!("it is not JSON ({e})"))?;
    let validator = jsonschema::validator_for(schema).map_err(|e| format!("the schema itself is invalid ({e})"))?;
    let errors: Vec<String> =
        validator.iter_errors(&value).take(3).map(|e| format!("{} at '{}'", e, e.instance_path())).collect();
    if errors.is_empty() { Ok(value) } else { Err(errors.join("; ")) }
}

/// The `started` payload, as the reference writes it.
fn llm_payload(request: &ChatRequest, resume_to: Option<String>, include_context: bool) -> Value {
    let text_of = |role: &str| {
        let text = request.messages.iter().filter(|m| m.role == role).map(|m| m.content.as_str()).collect::<Vec<_>>();
        let text = text.join("\n\n");
        text.strip_suffix(GROUNDING).unwrap_or(&text).trim_end().to_owned()
    };
    let mut params = Map::new();
    params.insert("temperature".into(), json!(request.temperature));
    if let Some(seed) = request.seed {
        params.insert("seed".into(), json!(seed));
    }
    if let Some(max) = request.max_tokens {
        params.insert("max_output_tokens".into(), json!(max));
    }
    let mut payload = json!({
        "type": "llm_call",
        "prompt": request.messages.iter().rev().find(|m| m.role == "user").map(|m| m.content.clone()).unwrap_or_default(),
        "system_prompt": text_of("system"),
        "tools": request.tools,
        "params": params,
        "provider": request.provider,
        "model": request.model,
        "include_context": include_context,
        "resume_to_node": resume_to,
    });
    if let Some(schema) = &request.response_schema {
        payload["response_schema"] = schema.clone();
    }
    if request.messages.len() > 2 {
        payload["messages"] = json!(request.messages);
    }
    payload
}

fn usage_of(answer: &ChatAnswer) -> Value {
    match answer.usage {
        Some(u) => json!({
            "input_tokens": u.input_tokens,
            "output_tokens": u.output_tokens,
            "total_tokens": u.total_tokens,
            "prompt_tokens": u.input_tokens,
            "completion_tokens": u.output_tokens,
        }),
        None => Value::Null,
    }
}

/// Tool calls as the node outputs them: `{name, arguments, call_id}`.
fn tool_calls_of(answer: &ChatAnswer) -> Vec<Value> {
    answer.tool_calls.iter().map(|c| json!({"name": c.name, "arguments": c.arguments, "call_id": c.id})).collect()
}

/// The `completed` result, as the reference writes it, plus who answered.
/// As the reference, a structured answer is only `data`: its text, usage and model are null.
fn llm_result(answer: &ChatAnswer, structured: Option<Value>) -> Value {
    let is_structured = structured.is_some();
    let unless_structured = |value: Value| if is_structured { Value::Null } else { value };
    json!({
        "content": unless_structured(json!(answer.text)),
        "reasoning": null,
        "data": structured,
        "tool_calls": if answer.tool_calls.is_empty() { Value::Null } else { json!(tool_calls_of(answer)) },
        "usage": unless_structured(usage_of(answer)),
        "model": unless_structured(json!(answer.model)),
        "finish_reason": answer.finish_reason,
        "metadata": { "provider": answer.provider, "model": answer.model, "attempts": answer.attempts },
    })
}

/// The node's outputs: `response`, `success`, `meta` and `tool_calls`.
/// The structured answer is `response` as compact JSON text, and `meta` says only its mode.
fn llm_outputs(answer: &ChatAnswer, structured: Option<&Value>, trace_id: &str) -> Map<String, Value> {
    let response = match structured {
        Some(value) => Value::String(value.to_string()),
        None => Value::String(answer.text.clone()),
    };
    let mut meta = json!({
        "schema": "abstractflow.llm_call.v1.meta",
        "version": 1,
        "output_mode": if structured.is_some() { "structured" } else { "unstructured" },
        "tool_calls": answer.tool_calls.len(),
    });
    if structured.is_none() {
        meta["model"] = json!(answer.model);
        meta["finish_reason"] = json!(answer.finish_reason);
        meta["usage"] = usage_of(answer);
        // As the reference: a streamed call's meta has the time to first text, not a trace.
        match answer.ttft_ms {
            Some(ttft) => meta["ttft_ms"] = json!((ttft * 10.0).round() / 10.0),
            None => meta["trace"] = json!({ "trace_id": trace_id }),
        }
        meta["gen_time"] = json!((answer.elapsed_ms * 10.0).round() / 10.0);
    }
    let mut outputs = Map::new();
    outputs.insert("response".into(), response);
    outputs.insert("success".into(), Value::Bool(true));
    outputs.insert("meta".into(), meta);
    outputs.insert("tool_calls".into(), json!(tool_calls_of(answer)));
    outputs
}
