//! `agent_trace_report` (an agent scratchpad's node traces as a Markdown timeline) and
//! `system_datetime` (the current time, as the reference reports it).
//!
//! The report follows abstractruntime 0.13.0's `render_agent_trace_markdown` with its default
//! configuration (no timestamps, JSON blocks beautified with two spaces, keys unsorted).

use serde_json::{Map, Value, json};

use crate::NodeResult;
use crate::pyjson::{self, Layout, Py};
use crate::pyval::{is_py_space, py_str, py_strip};

pub fn run(node_type: &str, inputs: &Map<String, Value>) -> Option<NodeResult> {
    Some(match node_type {
        "agent_trace_report" => Ok(Value::String(render(inputs.get("scratchpad")))),
        "system_datetime" => Ok(system_datetime(std::time::SystemTime::now())),
        _ => return None,
    })
}

const TITLE: &str = "# Agent Trace Report";

fn text(v: Option<&Value>) -> Option<&str> {
    v.and_then(Value::as_str)
}

/// A non-empty string.
fn name(v: Option<&Value>) -> Option<&str> {
    text(v).filter(|s| !s.is_empty())
}

/// A fenced block: JSON beautified, anything else as Python's `str()` (`""` for None).
fn code_block(value: Option<&Value>, language: &str) -> String {
    let body = match (language, value) {
        ("json", v) => {
            let py = v.map_or(Py::None, Py::from_value);
            pyjson::dumps(&py, Layout { indent: Some(2), item_sep: ",", key_sep: ": ", sort_keys: false })
        }
        (_, None | Some(Value::Null)) => String::new(),
        (_, Some(v)) => py_str(v),
    };
    format!("```{language}\n{body}\n```")
}

fn render_tool_call(call: &Map<String, Value>, result: Option<&Map<String, Value>>) -> String {
    let tool = call.get("name").map_or_else(|| "None".to_owned(), py_str);
    // `call.get("call_id") or call.get("id") or ""`: Python's `or` skips every falsy value.
    let call_id = [call.get("call_id"), call.get("id")].into_iter().flatten().find(|v| crate::pyval::truthy(v));
    let args = match call.get("arguments") {
        None => json!({}),
        Some(v) => v.clone(),
    };
    let mut title = format!("#### Tool: `{tool}`");
    if let Some(Value::String(id)) = call_id {
        title.push_str(&format!(" (call_id={id})"));
    }
    let mut lines = vec![title, String::new(), "**Arguments**".into(), code_block(Some(&args), "json")];
    let Some(result) = result else {
        lines.extend(["".into(), "**Result**".into(), "_missing tool result in trace entry_".into()]);
        return lines.join("\n");
    };
    lines.extend([String::new(), "**Result**".into()]);
    if let Some(Value::Bool(success)) = result.get("success") {
        lines.push(format!("- **success**: {success}"));
    }
    if let Some(error) = result.get("error").filter(|e| !e.is_null()) {
        lines.push(format!("- **error**: {}", py_str(error)));
    }
    let output = result.get("output");
    let language = match output {
        Some(Value::String(_)) => "text",
        _ => "json",
    };
    lines.push(code_block(output, language));
    lines.join("\n")
}

/// `call_id` -> result, from a tool-calls outcome's `results`.
fn results_by_call_id(result: Option<&Map<String, Value>>) -> Map<String, Value> {
    let mut out = Map::new();
    let results = result.and_then(|r| r.get("results")).and_then(Value::as_array);
    for r in results.into_iter().flatten() {
        if let Some(id) = r.as_object().and_then(|r| name(r.get("call_id"))) {
            out.insert(id.to_owned(), r.clone());
        }
    }
    out
}

pub fn render(scratchpad: Option<&Value>) -> String {
    let Some(Value::Object(sp)) = scratchpad else {
        return format!("{TITLE}\n\n_No scratchpad provided._\n");
    };
    let wrapped;
    let traces = match sp.get("node_traces") {
        Some(Value::Object(traces)) => traces,
        // The traces of one node may be passed directly.
        _ if sp.contains_key("steps") && sp.contains_key("node_id") => {
            let id = sp.get("node_id").map(py_str).unwrap_or_default();
            wrapped = Map::from_iter([(id, Value::Object(sp.clone()))]);
            &wrapped
        }
        _ => return format!("{TITLE}\n\n_No node_traces found in scratchpad._\n"),
    };

    let mut lines: Vec<String> = vec![TITLE.into()];
    if let Some(id) = name(sp.get("sub_run_id")) {
        lines.push(format!("- **sub_run_id**: `{id}`"));
    }
    if let Some(id) = name(sp.get("workflow_id")) {
        lines.push(format!("- **workflow_id**: `{id}`"));
    }
    lines.push(String::new());

    let mut steps: Vec<(&str, &str, &Map<String, Value>)> = Vec::new();
    for (node_id, trace) in traces {
        let entries = trace.get("steps").and_then(Value::as_array);
        for entry in entries.into_iter().flatten().filter_map(Value::as_object) {
            steps.push((text(entry.get("ts")).unwrap_or(""), node_id, entry));
        }
    }
    // A stable sort by time: ISO timestamps sort as text.
    steps.sort_by(|a, b| a.0.cmp(b.0));
    if steps.is_empty() {
        lines.extend(["_No trace steps found._".into(), String::new()]);
        return lines.join("\n");
    }
    lines.extend(["## Timeline".into(), String::new()]);

    for (idx, (_, node_id, entry)) in steps.into_iter().enumerate() {
        let status = text(entry.get("status")).unwrap_or("");
        let empty = Map::new();
        let effect = entry.get("effect").and_then(Value::as_object).unwrap_or(&empty);
        let effect_type = text(effect.get("type")).unwrap_or("");
        lines.push(format!("### {}. `{node_id}` — `{effect_type}` ({status})", idx + 1));
        // `isinstance(d, (int, float))`: a bool is an int to Python.
        let duration = match entry.get("duration_ms") {
            Some(Value::Number(n)) => n.as_f64(),
            Some(Value::Bool(b)) => Some(f64::from(u8::from(*b))),
            _ => None,
        };
        if let Some(ms) = duration.filter(|ms| *ms >= 0.0) {
            lines.push(format!("- **duration_ms**: {ms:.3}"));
        }

        if status == "failed" {
            if let Some(error) = entry.get("error").filter(|e| !e.is_null()) {
                lines.extend([String::new(), "**Error**".into(), code_block(Some(error), "text")]);
            }
            lines.push(String::new());
            continue;
        }

        let result = entry.get("result").and_then(Value::as_object);
        if effect_type == "llm_call" {
            let field = |key: &str| result.and_then(|r| r.get(key));
            if let Some(model) = name(field("model")) {
                lines.push(format!("- **model**: `{model}`"));
            }
            if let Some(reason) = name(field("finish_reason")) {
                lines.push(format!("- **finish_reason**: `{reason}`"));
            }
            match field("tool_calls").and_then(Value::as_array).filter(|calls| !calls.is_empty()) {
                Some(calls) => {
                    lines.push("- **tool_calls_requested**:".into());
                    for call in calls.iter().filter_map(Value::as_object) {
                        let Some(tool) = name(call.get("name")) else { continue };
                        let id = call.get("call_id").filter(|v| crate::pyval::truthy(v));
                        let suffix = match id {
                            Some(Value::String(id)) => format!(" (call_id={id})"),
                            _ => String::new(),
                        };
                        lines.push(format!("  - `{tool}`{suffix}"));
                    }
                }
                None => lines.push("- **tool_calls_requested**: none".into()),
            }
            if let Some(content) = text(field("content")).filter(|c| !py_strip(c).is_empty()) {
                let content = Value::String(content.to_owned());
                lines.extend([String::new(), "**Assistant content**".into(), code_block(Some(&content), "markdown")]);
            }
            lines.push(String::new());
            continue;
        }

        if effect_type == "tool_calls" {
            let calls = effect.get("payload").and_then(Value::as_object).and_then(|p| p.get("tool_calls"));
            if let Some(Value::Object(calls)) = calls
                && calls.contains_key("$artifact")
            {
                let artifact = calls.get("$artifact").map_or_else(|| "None".to_owned(), py_str);
                lines.push(format!(
                    "- **tool_calls**: _offloaded to artifact `{artifact}` (trace entry exceeded the inline cap; the ledger STARTED record holds the full calls)_"
                ));
                lines.push(String::new());
                continue;
            }
            let calls: Vec<&Value> = match calls {
                Some(Value::Array(calls)) => calls.iter().collect(),
                None | Some(Value::Null) => Vec::new(),
                Some(other) => vec![other],
            };
            let results = results_by_call_id(result);
            if calls.is_empty() {
                lines.extend(["- **tool_calls**: none".into(), String::new()]);
                continue;
            }
            lines.push(String::new());
            for call in calls.into_iter().filter_map(Value::as_object) {
                if call.contains_key("$artifact") {
                    continue;
                }
                let found = name(call.get("call_id")).and_then(|id| results.get(id)).and_then(Value::as_object);
                lines.push(render_tool_call(call, found));
                lines.push(String::new());
            }
            continue;
        }

        if let Some(result) = entry.get("result").filter(|r| r.is_object()) {
            lines.extend([String::new(), "**Result (raw)**".into(), code_block(Some(result), "json"), String::new()]);
        }
    }
    let report = lines.join("\n");
    format!("{}\n", report.trim_end_matches(is_py_space))
}

/// The current time with the host's zone, which a plugin has no view of: UTC, and no locale.
fn system_datetime(now: std::time::SystemTime) -> Value {
    let since = now.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    json!({
        "iso": iso_utc(since.as_secs(), since.subsec_micros()),
        "timezone": "UTC",
        "utc_offset_minutes": 0,
        "locale": "",
    })
}

/// Python's `isoformat()` of an aware UTC time: microseconds unless zero, `+00:00`.
pub(crate) fn iso_utc(secs: u64, micros: u32) -> String {
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    let time = format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    let fraction = if micros == 0 { String::new() } else { format!(".{micros:06}") };
    format!("{year:04}-{month:02}-{day:02}T{time}{fraction}+00:00")
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_times_as_python_formats_them() {
        assert_eq!(iso_utc(0, 0), "1970-01-01T00:00:00+00:00");
        assert_eq!(iso_utc(1_800_000_000, 5), "2027-01-15T08:00:00.000005+00:00");
        assert_eq!(iso_utc(951_782_400, 0), "2000-02-29T00:00:00+00:00");
        assert_eq!(iso_utc(4_107_542_399, 999_999), "2100-02-28T23:59:59.999999+00:00");
    }

    #[test]
    fn system_datetime_is_utc_now() {
        let out = system_datetime(std::time::UNIX_EPOCH + std::time::Duration::from_secs(86_400));
        assert_eq!(
            out,
            json!({"iso": "1970-01-02T00:00:00+00:00", "timezone": "UTC", "utc_offset_minutes": 0, "locale": ""})
        );
    }
}
