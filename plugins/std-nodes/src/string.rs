//! String nodes. The reference turns inputs into text with Python's `str()`, so a null is
//! sometimes "" (where it guards) and sometimes "None" (where it does not); both are kept.

use serde_json::{Map, Value};

use crate::pyval::{decode_escapes, py_str, py_strip, str_or, str_or_empty, to_int, truthy};
use crate::{NodeResult, invalid};

pub fn run(node_type: &str, inputs: &Map<String, Value>, config: &Value) -> Option<NodeResult> {
    let text = || str_or(inputs.get("text"), "");
    let result = match node_type {
        "concat" => Ok(Value::String(concat(inputs, config))),
        "split" => Ok(split(inputs)),
        "join" => Ok(Value::String(join(inputs))),
        "format" => crate::format::string_format(inputs).map(Value::String),
        "string_template" => Ok(Value::String(crate::template::render(inputs))),
        "uppercase" => Ok(Value::String(text().to_uppercase())),
        "lowercase" => Ok(Value::String(text().to_lowercase())),
        "trim" => Ok(Value::String(py_strip(&text()).to_owned())),
        "substring" => substring(inputs),
        "length" => Ok(Value::from(text().chars().count())),
        "is_empty_string" => Ok(Value::Bool(str_or_empty(inputs.get("text")).is_empty())),
        "contains" => Ok(Value::Bool(contains(inputs))),
        "replace" => Ok(Value::String(replace(inputs))),
        _ => return None,
    };
    Some(result)
}

/// The reference's executor gives `concat` its own handler (not the `a + b` builtin): every
/// declared input in pin order, joined by `concatConfig.separator` (default one space).
fn concat(inputs: &Map<String, Value>, config: &Value) -> String {
    let separator = config.get("concatConfig").and_then(|c| c.get("separator")).and_then(Value::as_str).unwrap_or(" ");
    let declared: Vec<String> = config
        .get("inputs")
        .and_then(Value::as_array)
        .map(|pins| {
            pins.iter()
                .filter(|p| p.get("type").and_then(Value::as_str) != Some("execution"))
                .filter_map(|p| p.get("id").and_then(Value::as_str))
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let order = if declared.is_empty() {
        // No pin metadata: single letters a..z first, then the other keys, each sorted.
        let is_letter = |k: &str| k.len() == 1 && k.as_bytes()[0].is_ascii_lowercase();
        let mut letters: Vec<String> = inputs.keys().filter(|k| is_letter(k)).cloned().collect();
        let mut others: Vec<String> = inputs.keys().filter(|k| !is_letter(k)).cloned().collect();
        letters.sort();
        others.sort();
        letters.extend(others);
        letters
    } else {
        declared
    };
    let parts: Vec<String> = order.iter().filter_map(|pin| inputs.get(pin)).map(|v| str_or_empty(Some(v))).collect();
    parts.join(&decode_escapes(separator))
}

fn split(inputs: &Map<String, Value>) -> Value {
    let text = str_or_empty(inputs.get("text"));
    let delimiter = match inputs.get("delimiter") {
        None => ",".to_owned(),
        Some(v) => str_or_empty(Some(v)),
    };
    let delimiter = decode_escapes(&delimiter);
    let trim = inputs.get("trim").is_none_or(truthy);
    let drop_empty = inputs.get("drop_empty").is_none_or(truthy);
    let mut parts: Vec<String> = if delimiter.is_empty() {
        if text.is_empty() { Vec::new() } else { vec![text.clone()] }
    } else {
        // An unparseable maxsplit is ignored, and a negative one means "no limit".
        let maxsplit = inputs.get("maxsplit").filter(|v| !v.is_null()).and_then(|v| to_int(v).ok());
        match maxsplit {
            Some(n) if n >= 0 => {
                let limit = usize::try_from(n).unwrap_or(usize::MAX).saturating_add(1);
                text.splitn(limit, delimiter.as_str()).map(str::to_owned).collect()
            }
            _ => text.split(delimiter.as_str()).map(str::to_owned).collect(),
        }
    };
    if trim {
        parts = parts.iter().map(|p| py_strip(p).to_owned()).collect();
    }
    if drop_empty {
        parts.retain(|p| !p.is_empty());
    }
    Value::from(parts)
}

fn join(inputs: &Map<String, Value>) -> String {
    let items: Vec<&Value> = match inputs.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a.iter().collect(),
        // A non-array is one item, not a sequence of characters or keys.
        Some(other) => vec![other],
    };
    // `str(inputs.get("delimiter", ","))` with no null guard: a null delimiter is "None".
    let delimiter = decode_escapes(&str_or(inputs.get("delimiter"), ","));
    let parts: Vec<String> = items.into_iter().map(|v| str_or_empty(Some(v))).collect();
    parts.join(&delimiter)
}

/// Python slice bounds: negatives count from the end, everything clamps to the text.
fn slice_index(i: i64, len: usize) -> usize {
    let len_i = i64::try_from(len).unwrap_or(i64::MAX);
    let i = if i < 0 { i.saturating_add(len_i).max(0) } else { i.min(len_i) };
    usize::try_from(i).unwrap_or(0)
}

fn substring(inputs: &Map<String, Value>) -> NodeResult {
    let text: Vec<char> = str_or(inputs.get("text"), "").chars().collect();
    let start = match inputs.get("start") {
        None => 0,
        Some(v) => to_int(v).map_err(|e| invalid("start", &e))?,
    };
    let end = match inputs.get("end") {
        None | Some(Value::Null) => None,
        Some(v) => Some(to_int(v).map_err(|e| invalid("end", &e))?),
    };
    let s = slice_index(start, text.len());
    let e = end.map_or(text.len(), |e| slice_index(e, text.len()));
    let out: String = if s < e { text[s..e].iter().collect() } else { String::new() };
    Ok(Value::String(out))
}

fn contains(inputs: &Map<String, Value>) -> bool {
    let pattern = str_or_empty(inputs.get("pattern"));
    // An empty pattern would match everything, so the reference says no.
    !pattern.is_empty() && str_or_empty(inputs.get("text")).contains(&pattern)
}

fn replace(inputs: &Map<String, Value>) -> String {
    let text = str_or_empty(inputs.get("text"));
    let pattern = str_or_empty(inputs.get("pattern"));
    if pattern.is_empty() {
        return text;
    }
    let replacement = str_or_empty(inputs.get("replacement"));
    let mode_raw = inputs.get("mode").filter(|v| !v.is_null());
    let mode = mode_raw.map_or_else(|| "all".to_owned(), |v| py_strip(&py_str(v)).to_lowercase());
    match mode.as_str() {
        "first" | "once" | "1" => return text.replacen(&pattern, &replacement, 1),
        "all" | "*" | "global" => return text.replace(&pattern, &replacement),
        _ => {}
    }
    // A numeric mode is a replacement count; anything else means all.
    match mode_raw.map(to_int) {
        Some(Ok(n)) if n >= 0 => text.replacen(&pattern, &replacement, usize::try_from(n).unwrap_or(usize::MAX)),
        _ => text.replace(&pattern, &replacement),
    }
}
