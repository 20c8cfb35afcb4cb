//! Agent-context helpers: `make_context`, `make_meta`, `make_scratchpad`, `tools_allowlist`,
//! `tool_parameters`, and `add_message` without execution pins (the message it builds; the
//! engine's `add_message` with execution pins also appends it to the run's context).

use serde_json::{Map, Value, json};

use crate::objects::int_of;
use crate::pyval::{py_str, py_strip};
use crate::{NodeResult, fail};

pub fn run(node_type: &str, inputs: &Map<String, Value>, config: &Value) -> Option<NodeResult> {
    Some(match node_type {
        "make_context" => Ok(json!({ "context": context(inputs) })),
        "make_meta" => make_meta(inputs).map(|meta| json!({ "meta": meta })),
        "make_scratchpad" => Ok(json!({ "scratchpad": scratchpad(inputs) })),
        "tools_allowlist" => Ok(tools_allowlist(config)),
        "tool_parameters" => Ok(tool_parameters(inputs, config)),
        "add_message" => Ok(json!({ "message": message(inputs, std::time::SystemTime::now()) })),
        _ => return None,
    })
}

fn dict_copy(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// A list stays a list, null becomes `[]`, anything else is wrapped.
fn as_list(v: Option<&Value>) -> Value {
    match v {
        Some(Value::Array(a)) => Value::Array(a.clone()),
        None | Some(Value::Null) => json!([]),
        Some(other) => json!([other]),
    }
}

/// `""` for null, the text itself, else `str(task)`.
fn task_text(v: Option<&Value>) -> Value {
    match v {
        None | Some(Value::Null) => json!(""),
        Some(v) => Value::String(py_str(v)),
    }
}

/// A stripped non-blank string, or nothing.
fn clean_str(v: Option<&Value>) -> Option<String> {
    match v {
        Some(Value::String(s)) => Some(py_strip(s)).filter(|s| !s.is_empty()).map(str::to_owned),
        _ => None,
    }
}

fn context(inputs: &Map<String, Value>) -> Value {
    let mut out = dict_copy(inputs.get("context_extra"));
    out.insert("task".into(), task_text(inputs.get("task")));
    out.insert("messages".into(), as_list(inputs.get("messages")));
    Value::Object(out)
}

/// An integer JSON can carry, or a node failure (Python would hold a bigger int).
fn int_value(i: i128) -> NodeResult {
    if let Ok(v) = i64::try_from(i) {
        Ok(json!(v))
    } else if let Ok(v) = u64::try_from(i) {
        Ok(json!(v))
    } else {
        Err(fail(&format!("the integer {i} is too large for JSON")))
    }
}

/// The reference's count fields: bools ignored, numbers truncated, non-blank strings read as
/// `int(float(s))`; whatever fails to convert is left out.
fn count(v: Option<&Value>) -> Option<i128> {
    match v {
        Some(v @ (Value::Number(_) | Value::String(_))) => int_of(v),
        _ => None,
    }
}

/// A non-blank string stripped, else `str(value).strip()` when that is not blank.
fn name_field(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(v) => Some(py_strip(&py_str(v)).to_owned()).filter(|s| !s.is_empty()),
    }
}

fn make_meta(inputs: &Map<String, Value>) -> NodeResult<Value> {
    let mut out = dict_copy(inputs.get("extra"));
    let schema = clean_str(inputs.get("schema")).unwrap_or_else(|| "abstractcode.agent.v1.meta".into());
    let version = match inputs.get("version") {
        Some(Value::Bool(_)) => Some(1),
        v => count(v),
    };
    out.insert("schema".into(), json!(schema));
    out.insert("version".into(), int_value(version.unwrap_or(1))?);
    if let Some(mode) = clean_str(inputs.get("output_mode")) {
        out.insert("output_mode".into(), json!(mode));
    }
    for key in ["provider", "model"] {
        if let Some(v) = name_field(inputs.get(key)) {
            out.insert(key.into(), json!(v));
        }
    }
    if let Some(id) = clean_str(inputs.get("sub_run_id")) {
        out.insert("sub_run_id".into(), json!(id));
    }
    for key in ["iterations", "tool_calls", "tool_results"] {
        if let Some(n) = count(inputs.get(key)) {
            out.insert(key.into(), int_value(n)?);
        }
    }
    if let Some(reason) = clean_str(inputs.get("finish_reason")) {
        out.insert("finish_reason".into(), json!(reason));
    }
    for key in ["gen_time", "ttft_ms"] {
        match inputs.get(key) {
            None | Some(Value::Null | Value::Bool(_)) => {}
            Some(v) => {
                out.insert(key.into(), v.clone());
            }
        }
    }
    if let Some(Value::Object(usage)) = inputs.get("usage") {
        out.insert("usage".into(), Value::Object(usage.clone()));
    }
    match inputs.get("trace") {
        Some(Value::Object(trace)) => {
            out.insert("trace".into(), Value::Object(trace.clone()));
        }
        v => {
            if let Some(id) = clean_str(v) {
                out.insert("trace".into(), json!({ "trace_id": id }));
            }
        }
    }
    if let Some(id) = clean_str(inputs.get("trace_id")) {
        let mut trace = dict_copy(out.get("trace"));
        trace.insert("trace_id".into(), json!(id));
        out.insert("trace".into(), Value::Object(trace));
    }
    match inputs.get("warnings") {
        Some(Value::Array(items)) => {
            let kept: Vec<Value> =
                items.iter().map(py_str).filter(|s| !py_strip(s).is_empty()).map(Value::String).collect();
            out.insert("warnings".into(), Value::Array(kept));
        }
        v => {
            if let Some(w) = clean_str(v) {
                out.insert("warnings".into(), json!([w]));
            }
        }
    }
    match inputs.get("debug") {
        None | Some(Value::Null) => {}
        Some(v) => {
            out.insert("debug".into(), v.clone());
        }
    }
    Ok(Value::Object(out))
}

fn scratchpad(inputs: &Map<String, Value>) -> Value {
    let mut out = Map::new();
    for key in ["sub_run_id", "workflow_id"] {
        if let Some(v) = clean_str(inputs.get(key)) {
            out.insert(key.into(), json!(v));
        }
    }
    out.insert("task".into(), task_text(inputs.get("task")));
    out.insert("messages".into(), as_list(inputs.get("messages")));
    if let Some(Value::Object(extra)) = inputs.get("context_extra") {
        out.insert("context_extra".into(), Value::Object(extra.clone()));
    }
    out.insert("node_traces".into(), Value::Object(dict_copy(inputs.get("node_traces"))));
    for key in ["steps", "tool_calls", "tool_results"] {
        out.insert(key.into(), as_list(inputs.get(key)));
    }
    Value::Object(out)
}

/// The tools chosen in the editor (`literalValue`): trimmed, non-blank, first occurrence.
fn tools_allowlist(config: &Value) -> Value {
    let mut tools: Vec<String> = Vec::new();
    if let Some(Value::Array(items)) = config.get("literalValue") {
        for name in items.iter().filter_map(|v| clean_str(Some(v))) {
            if !tools.contains(&name) {
                tools.push(name);
            }
        }
    }
    json!({ "tools": tools })
}

/// Each declared parameter pin passes through, and `tool_call` bundles the non-null ones
/// with the configured tool name.
fn tool_parameters(inputs: &Map<String, Value>, config: &Value) -> Value {
    let cfg = config.get("toolParametersConfig");
    let truthy_field = |k: &str| cfg.and_then(|c| c.get(k)).filter(|v| crate::pyval::truthy(v));
    let tool_name = match truthy_field("tool").or_else(|| truthy_field("name")) {
        Some(Value::String(s)) => py_strip(s).to_owned(),
        _ => String::new(),
    };
    let params: Vec<String> = config
        .get("inputs")
        .and_then(Value::as_array)
        .map(|pins| {
            pins.iter()
                .filter(|p| p.get("type").and_then(Value::as_str) != Some("execution"))
                .filter_map(|p| clean_str(p.get("id")))
                .collect()
        })
        .unwrap_or_default();
    let mut out = Map::new();
    let mut args = Map::new();
    for pid in params {
        let value = inputs.get(&pid).cloned().unwrap_or(Value::Null);
        if !value.is_null() {
            args.insert(pid.clone(), value.clone());
        }
        out.insert(pid, value);
    }
    out.insert("tool_call".into(), json!({ "name": tool_name, "arguments": args }));
    Value::Object(out)
}

/// A canonical context message: `role` (default `user`) and `content` as Python's `str()`,
/// the UTC time and a `msg_<uuid4 hex>` id.
fn message(inputs: &Map<String, Value>, now: std::time::SystemTime) -> Value {
    let text = |pin: &str, default: &str| match inputs.get(pin) {
        None | Some(Value::Null) => default.to_owned(),
        Some(v) => py_str(v),
    };
    let since = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    json!({
        "role": text("role", "user"),
        "content": text("content", ""),
        "timestamp": crate::report::iso_utc(since.as_secs(), since.subsec_micros()),
        "metadata": { "message_id": format!("msg_{}", uuid4_hex()) },
    })
}

/// `uuid.uuid4().hex`: 32 hex digits, version 4, RFC 4122 variant.
fn uuid4_hex() -> String {
    let (hi, lo) = (crate::rng::next_u64(), crate::rng::next_u64());
    let hi = (hi & !0xF000) | 0x4000;
    let lo = (lo & !(0b11 << 62)) | (0b10 << 62);
    format!("{hi:016x}{lo:016x}")
}
