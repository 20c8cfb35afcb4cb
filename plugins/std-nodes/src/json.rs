//! `parse_json` and `stringify_json`: JSON (or JSON-ish LLM text) to values and back.

use serde_json::{Map, Value};

use crate::pyjson::{self, DecodeError, Layout, Py};
use crate::pyliteral::literal_eval;
use crate::pyval::{py_str, py_strip, to_int, truthy};
use crate::{NodeResult, fail, invalid};

/// Only the first 64 `{`/`[` are tried as the start of an embedded value.
const MAX_STARTS: usize = 64;

/// A beautify indent beyond this fails the node instead of building a huge string.
const MAX_INDENT: i64 = 4096;

pub fn run(node_type: &str, inputs: &Map<String, Value>) -> Option<NodeResult> {
    Some(match node_type {
        "parse_json" => parse_json(inputs),
        "stringify_json" => stringify_json(inputs).map(Value::String),
        _ => return None,
    })
}

/// Drops a Markdown code fence around the text (```json ... ```).
fn strip_code_fence(text: &str) -> &str {
    let s = py_strip(text);
    if !s.starts_with("```") {
        return s;
    }
    let Some(nl) = s.find('\n') else {
        return py_strip(s.trim_matches('`'));
    };
    let body = &s[nl + 1..];
    let body = match body.rfind("```") {
        Some(end) => &body[..end],
        None => body,
    };
    py_strip(body)
}

/// What the JSON-ish reading of a text gave.
enum Reading {
    /// Strict JSON (possibly `null`).
    Json(Py),
    /// The first embedded object/array that decodes.
    Embedded(Py),
    /// Nothing decoded as JSON.
    NotJson,
}

/// `json.loads`, then the first `{`/`[` (of the first 64) where `raw_decode` succeeds.
fn read_json(text: &str) -> Result<Reading, String> {
    match pyjson::loads(text) {
        Ok(v) => return Ok(Reading::Json(v)),
        Err(DecodeError::Unsupported(why)) => return Err(why),
        Err(DecodeError::Syntax) => {}
    }
    for (i, _) in text.char_indices().filter(|(_, c)| matches!(c, '{' | '[')).take(MAX_STARTS) {
        match pyjson::raw_decode(&text[i..]) {
            Ok(v) => return Ok(Reading::Embedded(v)),
            Err(DecodeError::Unsupported(why)) => return Err(why),
            Err(DecodeError::Syntax) => {}
        }
    }
    Ok(Reading::NotJson)
}

/// The reference's best-effort parse for `stringify_json`; `None` where it gives up (and
/// where strict JSON says `null`).
fn parse_jsonish_maybe(text: &str) -> Result<Option<Py>, String> {
    let s = strip_code_fence(text);
    if s.is_empty() {
        return Ok(None);
    }
    Ok(match read_json(s)? {
        Reading::Json(v) | Reading::Embedded(v) => (!v.is_none()).then_some(v),
        Reading::NotJson => match literal_eval(s) {
            Ok(v) => (!v.is_none()).then_some(v),
            Err(DecodeError::Unsupported(why)) => return Err(why),
            Err(DecodeError::Syntax) => None,
        },
    })
}

/// `parse_json`'s reading of a text: like `parse_jsonish_maybe`, but a strict-JSON `null`
/// falls through to `ast.literal_eval` (which refuses it), and failing is an error.
pub fn parse_text(raw: &Value) -> NodeResult<Py> {
    let empty = || invalid("text", "parse_json requires a non-empty 'text' input.");
    if raw.is_null() {
        return Err(empty());
    }
    let text = py_str(raw);
    let text = strip_code_fence(&text);
    if text.is_empty() {
        return Err(empty());
    }
    let found = match read_json(text).map_err(|why| fail(&why))? {
        Reading::Json(v) | Reading::Embedded(v) if !v.is_none() => Some(v),
        _ => None,
    };
    match found {
        Some(v) => Ok(v),
        None => literal_eval(text).map_err(|e| match e {
            DecodeError::Syntax => invalid("text", "Invalid JSON"),
            DecodeError::Unsupported(why) => fail(&why),
        }),
    }
}

fn parse_json(inputs: &Map<String, Value>) -> NodeResult {
    let raw = inputs.get("text").unwrap_or(&Value::Null);
    let parsed = match raw {
        Value::Object(_) | Value::Array(_) => raw.clone(),
        other => parse_text(other)?.to_value().map_err(|why| fail(&why))?,
    };
    let wrap = inputs.get("wrap_scalar").is_none_or(truthy);
    Ok(if wrap && !(parsed.is_object() || parsed.is_array()) { serde_json::json!({ "value": parsed }) } else { parsed })
}

fn stringify_json(inputs: &Map<String, Value>) -> NodeResult<String> {
    let value = inputs.get("value").unwrap_or(&Value::Null);
    let mut mode = match inputs.get("mode") {
        Some(Value::String(s)) => py_strip(s).to_lowercase(),
        _ => String::new(),
    };
    // `int(indent)`; anything int() refuses counts as no indent.
    let indent = match inputs.get("indent") {
        None | Some(Value::Null) => None,
        Some(v) => to_int(v).ok(),
    };
    let sort_keys = matches!(inputs.get("sort_keys"), Some(Value::Bool(true)));
    if mode.is_empty() {
        mode = if indent.is_some_and(|n| n <= 0) { "minified" } else { "beautify" }.to_owned();
    }
    let beautify_indent = indent.filter(|n| *n > 0).unwrap_or(2);
    if beautify_indent > MAX_INDENT {
        return Err(invalid("indent", &format!("indent {beautify_indent} is larger than {MAX_INDENT}")));
    }

    let mut py = Py::from_value(value);
    if let Value::String(s) = value
        && !py_strip(s).is_empty()
        && let Some(parsed) = parse_jsonish_maybe(s).map_err(|why| fail(&why))?
    {
        py = parsed;
    }
    let layout = match mode.as_str() {
        "minified" => Layout { indent: None, item_sep: ",", key_sep: ":", sort_keys },
        "none" => Layout { indent: None, item_sep: ", ", key_sep: ": ", sort_keys },
        _ => Layout {
            indent: Some(usize::try_from(beautify_indent).unwrap_or(2)),
            item_sep: ",",
            key_sep: ": ",
            sort_keys,
        },
    };
    Ok(pyjson::dumps(&py, layout))
}
