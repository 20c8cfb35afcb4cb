//! `string_template`: `{{ path | filter }}` placeholders over the inputs, the `vars` object
//! and, last, the run's variables (`_run_vars`, which the engine passes as the reference's
//! executor does; their `_` keys are never read).

use serde_json::{Map, Value};

use crate::pyval::{is_py_space, json_dumps, py_str, py_strip, str_or_empty};

pub fn render(inputs: &Map<String, Value>) -> String {
    // `str(inputs.get("template", "") or "")`: every falsy template renders as "".
    let template = match inputs.get("template") {
        Some(v) if crate::pyval::truthy(v) => py_str(v),
        _ => String::new(),
    };
    let mut vars = Map::new();
    if let Some(Value::Object(run_vars)) = inputs.get("_run_vars") {
        vars.extend(run_vars.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(Value::Object(obj)) = inputs.get("vars") {
        vars.extend(obj.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (key, value) in inputs {
        if key != "template" && key != "vars" && !key.starts_with('_') {
            vars.insert(key.clone(), value.clone());
        }
    }
    substitute(&template, &Value::Object(vars))
}

/// Python's `\{\{\s*(.*?)\s*\}\}`: lazy, and the captured part (not the whitespace around
/// it) stops at a newline.
fn substitute(template: &str, vars: &Value) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        let body = &rest[open + 2..];
        match capture(body) {
            Some((group, consumed)) => {
                out.push_str(&rest[..open]);
                out.push_str(&render_expr(group, vars));
                rest = &body[consumed..];
            }
            None => {
                // No match starting here; the regex retries one character later.
                out.push_str(&rest[..open + 1]);
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The capture and the length consumed through the closing `}}`.
fn capture(body: &str) -> Option<(&str, usize)> {
    let start = body.len() - body.trim_start_matches(is_py_space).len();
    for (j, c) in body[start..].char_indices().map(|(j, c)| (j + start, c)) {
        let tail = body[j..].trim_start_matches(is_py_space);
        if tail.starts_with("}}") {
            return Some((&body[start..j], body.len() - tail.len() + 2));
        }
        if c == '\n' {
            return None;
        }
    }
    None
}

fn render_expr(expr: &str, vars: &Value) -> String {
    let parts: Vec<&str> = expr.split('|').map(py_strip).collect();
    let value = match get_path(vars, parts[0]) {
        None | Some(Value::Null) => return String::new(),
        Some(v) => v.clone(),
    };
    if parts.len() == 1 && (value.is_array() || value.is_object()) {
        return json_dumps(&value, false);
    }
    str_or_empty(Some(&apply_filters(value, &parts[1..])))
}

fn apply_filters(mut cur: Value, filters: &[&str]) -> Value {
    for f in filters.iter().map(|f| py_strip(f)) {
        cur = match f {
            "" => cur,
            "json" => Value::String(json_dumps(&cur, true)),
            "trim" => Value::String(py_strip(&str_or_empty(Some(&cur))).to_owned()),
            "lower" => Value::String(str_or_empty(Some(&cur)).to_lowercase()),
            "upper" => Value::String(str_or_empty(Some(&cur)).to_uppercase()),
            f if f.starts_with("join") => Value::String(join(&cur, join_delimiter(f))),
            _ => cur,
        };
    }
    cur
}

/// `join(", ")` / `join(-)`; a malformed call such as `joinx` keeps the default ", ".
fn join_delimiter(f: &str) -> String {
    let Some(inner) = f.strip_prefix("join(").and_then(|r| r.strip_suffix(')')) else {
        return ", ".into();
    };
    let raw = py_strip(inner);
    let quoted = raw.len() >= 2
        && ((raw.starts_with('"') && raw.ends_with('"')) || (raw.starts_with('\'') && raw.ends_with('\'')));
    if quoted { raw[1..raw.len() - 1].to_owned() } else { raw.to_owned() }
}

fn join(cur: &Value, delim: String) -> String {
    match cur {
        Value::Array(items) => items.iter().map(|x| str_or_empty(Some(x))).collect::<Vec<_>>().join(&delim),
        other => str_or_empty(Some(other)),
    }
}

/// Path tokens: `a.b` keys and `[0]` indices; stray brackets are ignored like the regex does.
fn tokens(path: &str) -> Vec<Result<String, usize>> {
    let mut out = Vec::new();
    let mut i = 0;
    let b = path.as_bytes();
    while i < b.len() {
        match b[i] {
            b'.' | b']' => i += 1,
            b'[' => {
                let digits = path[i + 1..].bytes().take_while(u8::is_ascii_digit).count();
                if digits > 0 && b.get(i + 1 + digits) == Some(&b']') {
                    if let Ok(n) = path[i + 1..i + 1 + digits].parse() {
                        out.push(Err(n));
                    }
                    i += digits + 2;
                } else {
                    i += 1;
                }
            }
            _ => {
                let len = path[i..].find(['.', '[', ']']).unwrap_or(path.len() - i);
                let key = py_strip(&path[i..i + len]);
                if !key.is_empty() {
                    out.push(Ok(key.to_owned()));
                }
                i += len;
            }
        }
    }
    out
}

fn get_path<'a>(value: &'a Value, path: &str) -> Option<&'a Value> {
    let toks = tokens(py_strip(path));
    if toks.is_empty() {
        return None;
    }
    let mut current = value;
    for tok in toks {
        current = match (current, tok) {
            (Value::Object(o), Ok(key)) => o.get(&key)?,
            (Value::Array(a), Err(idx)) => a.get(idx)?,
            (Value::Array(a), Ok(key)) if !key.is_empty() && key.bytes().all(|c| c.is_ascii_digit()) => {
                a.get(key.parse::<usize>().ok()?)?
            }
            _ => return None,
        };
    }
    Some(current)
}
