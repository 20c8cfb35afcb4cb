//! `format_tool_results`: a one-line-per-call digest of a Tool Calls node's `results`.

use serde_json::{Map, Value};

use crate::NodeResult;
use crate::pyjson::{self, Layout, Py};
use crate::pyval::{py_str, py_strip};

/// The primary-argument order of the reference's default tools (abstractruntime 0.13.0's
/// `list_default_tool_specs()`: `required_args`, else the parameter names), which picks the
/// argument shown in `name(arg)`.
const PRIMARY_KEYS: &[(&str, &[&str])] = &[
    ("list_files", &["directory_path", "pattern", "recursive", "include_hidden", "head_limit"]),
    ("skim_folders", &["paths"]),
    ("search_files", &["pattern"]),
    ("analyze_code", &["file_path"]),
    ("analyze_media", &["file_path"]),
    ("skim_files", &["paths"]),
    ("read_file", &["file_path"]),
    ("write_file", &["content", "file_path"]),
    ("edit_file", &["file_path", "pattern"]),
    ("open_attachment", &["artifact_id", "handle", "expected_sha256", "start_line", "end_line", "max_chars"]),
    ("skim_websearch", &["query"]),
    ("skim_url", &["url"]),
    ("web_search", &["query"]),
    ("fetch_url", &["url"]),
    ("browser_probe", &["target"]),
    ("execute_command", &["command"]),
    ("local_helper_start", &["command"]),
    ("local_helper_status", &["helper_id"]),
    ("local_helper_stop", &["helper_id"]),
];

pub fn run(node_type: &str, inputs: &Map<String, Value>) -> Option<NodeResult> {
    (node_type == "format_tool_results").then(|| Ok(Value::String(format_tool_results(inputs))))
}

/// At most `max_len` characters, the last one an ellipsis when cut.
fn clamp(text: &str, max_len: usize) -> String {
    let s = py_strip(text);
    if s.chars().count() <= max_len {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max_len.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Non-blank lines joined with spaces.
fn one_line(text: &str) -> String {
    let s = text.replace("\r\n", "\n").replace('\r', "\n");
    let parts: Vec<&str> = s.split('\n').filter(|p| !py_strip(p).is_empty()).collect();
    py_strip(&parts.join(" ")).to_owned()
}

fn format_value(value: &Value, max_len: usize) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(b) => (if *b { "true" } else { "false" }).to_owned(),
        Value::Number(_) => py_str(value),
        Value::String(s) => clamp(&one_line(s), max_len),
        container => {
            let layout = Layout { indent: None, item_sep: ",", key_sep: ":", sort_keys: true };
            clamp(&one_line(&pyjson::dumps(&Py::from_value(container), layout)), max_len)
        }
    }
}

fn primary_key_order(name: &str, args: &Map<String, Value>, out: &Map<String, Value>) -> Vec<String> {
    if let Some((_, keys)) = PRIMARY_KEYS.iter().find(|(tool, _)| *tool == name) {
        return keys.iter().map(|k| (*k).to_owned()).collect();
    }
    let mut order: Vec<String> = Vec::new();
    for k in args.keys().chain(out.keys()) {
        let stripped = py_strip(k);
        if !stripped.is_empty() && !order.iter().any(|o| o == k) {
            order.push(stripped.to_owned());
        }
    }
    order
}

fn signature(tool: &str, args: &Map<String, Value>, out: &Map<String, Value>) -> String {
    let order = primary_key_order(tool, args, out);
    let present = |obj: &Map<String, Value>| order.iter().find_map(|k| obj.get(k).filter(|v| !v.is_null()).cloned());
    match present(args).or_else(|| present(out)) {
        Some(v) => format!("{tool}({})", format_value(&v, 160)),
        None => format!("{tool}()"),
    }
}

fn line(item: &Map<String, Value>) -> String {
    let truthy_field = |k: &str| item.get(k).filter(|v| crate::pyval::truthy(v));
    let name = truthy_field("name").or_else(|| truthy_field("tool")).map(py_str).unwrap_or_default();
    let name = match py_strip(&name) {
        "" => "tool".to_owned(),
        n => n.to_owned(),
    };
    let success = item.get("success").and_then(Value::as_bool);
    let error = match item.get("error") {
        None | Some(Value::Null) => String::new(),
        Some(e) => py_strip(&py_str(e)).to_owned(),
    };
    let output = item.get("output").unwrap_or(&Value::Null);
    let empty = Map::new();
    let args = item.get("arguments").and_then(Value::as_object).unwrap_or(&empty);
    let out_obj = output.as_object().unwrap_or(&empty);
    let sig = signature(&name, args, out_obj);
    let status = match success {
        Some(true) => "SUCCESS",
        Some(false) => "FAILURE",
        None => "DONE",
    };
    let obs = if success == Some(false) && !error.is_empty() {
        error
    } else {
        match output {
            Value::Object(o) => match o.get("rendered") {
                Some(Value::String(r)) if !py_strip(r).is_empty() => py_strip(r).to_owned(),
                _ => format_value(output, 420),
            },
            Value::String(s) => clamp(&one_line(s), 420),
            Value::Null => "(no output)".to_owned(),
            other => clamp(&one_line(&py_str(other)), 420),
        }
    };
    let obs = if py_strip(&obs).is_empty() { "(no output)".to_owned() } else { obs };
    format!("- {sig} [{status}] : {obs}")
}

fn format_tool_results(inputs: &Map<String, Value>) -> String {
    let raw = match inputs.get("tool_results") {
        None | Some(Value::Null) => inputs.get("results").unwrap_or(&Value::Null),
        Some(v) => v,
    };
    let items: Vec<&Value> = match raw {
        Value::Null => Vec::new(),
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    };
    let lines: Vec<String> = items.into_iter().filter_map(Value::as_object).map(line).collect();
    py_strip(&lines.join("\n")).to_owned()
}
