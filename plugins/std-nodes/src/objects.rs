//! Object nodes: `get`, `set`, `merge`, `make_object`, `break_object`, `edit_json_schema`,
//! `path_mux`.

use serde_json::{Map, Value, json};

use crate::json::parse_text;
use crate::pyval::{parse_py_float, py_str, py_strip, str_or, truthy};
use crate::{NodeResult, fail, invalid};

pub fn run(node_type: &str, inputs: &Map<String, Value>, config: &Value) -> Option<NodeResult> {
    Some(match node_type {
        "get" => Ok(get(inputs)),
        "set" => set(inputs),
        "merge" => merge(inputs),
        "make_object" => Ok(make_object(inputs)),
        "break_object" => break_object(inputs, config),
        "edit_json_schema" => edit_json_schema(inputs, config),
        "path_mux" => Ok(path_mux(inputs)),
        _ => return None,
    })
}

/// One step of a `get`/`array_dedup` path: a key or a `[n]` index.
#[derive(Debug, PartialEq)]
enum Token {
    Key(String),
    Index(usize),
}

/// Splits `a.b[0].c` into keys and indices: runs of characters other than `.[]` are keys
/// (trimmed, empty ones dropped), `[digits]` is an index.
fn path_tokens(path: &str) -> Vec<Token> {
    let chars: Vec<char> = py_strip(path).chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '[' {
            let digits: String = chars[i + 1..].iter().take_while(|c| c.is_ascii_digit()).collect();
            let close = i + 1 + digits.chars().count();
            if !digits.is_empty() && chars.get(close) == Some(&']') {
                // Saturate: an index this long is out of range anyway.
                out.push(Token::Index(digits.parse().unwrap_or(usize::MAX)));
                i = close + 1;
                continue;
            }
            i += 1;
        } else if c == '.' || c == ']' {
            i += 1;
        } else {
            let key: String = chars[i..].iter().take_while(|c| !matches!(c, '.' | '[' | ']')).collect();
            i += key.chars().count();
            let key = py_strip(&key);
            if !key.is_empty() {
                out.push(Token::Key(key.to_owned()));
            }
        }
    }
    out
}

/// The reference's `_get_path`: dict keys and list indices; anything else is `None`.
pub fn get_path<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let tokens = path_tokens(path);
    if tokens.is_empty() {
        return None;
    }
    let mut current = value;
    for tok in tokens {
        current = match (current, tok) {
            (Value::Object(o), Token::Key(k)) => o.get(&k)?,
            (Value::Array(a), Token::Index(i)) => a.get(i)?,
            (Value::Array(a), Token::Key(k)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_digit()) => {
                a.get(k.parse::<usize>().unwrap_or(usize::MAX))?
            }
            _ => return None,
        };
    }
    Some(current)
}

fn get(inputs: &Map<String, Value>) -> Value {
    let empty = Value::Object(Map::new());
    let object = inputs.get("object").unwrap_or(&empty);
    let key = str_or(inputs.get("key"), "");
    let value = match get_path(object, &key) {
        Some(v) if !v.is_null() => v.clone(),
        _ => inputs.get("default").cloned().unwrap_or(Value::Null),
    };
    json!({ "value": value })
}

/// `dict(v)`: a dict is copied; a list of 2-item pairs (lists, 2-character strings, 2-key
/// dicts) builds one; anything else fails as it does in Python.
pub fn py_dict(v: &Value, pin: &str) -> NodeResult<Map<String, Value>> {
    let items = match v {
        Value::Object(o) => return Ok(o.clone()),
        Value::Array(items) => items,
        Value::String(s) if s.is_empty() => return Ok(Map::new()),
        Value::String(_) => {
            return Err(invalid(pin, "dictionary update sequence element #0 has length 1; 2 is required"));
        }
        other => return Err(invalid(pin, &format!("'{}' object is not iterable", type_name(other)))),
    };
    let mut out = Map::new();
    for (n, item) in items.iter().enumerate() {
        let pair: Vec<Value> = match item {
            Value::Array(a) => a.clone(),
            Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
            Value::Object(o) => o.keys().map(|k| Value::String(k.clone())).collect(),
            other => {
                return Err(invalid(
                    pin,
                    &format!(
                        "cannot convert dictionary update sequence element #{n} ({}) to a sequence",
                        type_name(other)
                    ),
                ));
            }
        };
        let [key, value] = <[Value; 2]>::try_from(pair).map_err(|p| {
            invalid(pin, &format!("dictionary update sequence element #{n} has length {}; 2 is required", p.len()))
        })?;
        match key {
            Value::String(k) => {
                out.insert(k, value);
            }
            Value::Array(_) | Value::Object(_) => return Err(invalid(pin, "unhashable dictionary key")),
            other => return Err(fail(&format!("a dict key {} cannot be carried in JSON", py_str(&other)))),
        }
    }
    Ok(out)
}

/// Python's type name for a JSON value.
pub fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

fn dict_input(inputs: &Map<String, Value>, pin: &str) -> NodeResult<Map<String, Value>> {
    match inputs.get(pin) {
        None => Ok(Map::new()),
        Some(v) => py_dict(v, pin),
    }
}

fn set(inputs: &Map<String, Value>) -> NodeResult {
    let mut object = dict_input(inputs, "object")?;
    let key = str_or(inputs.get("key"), "");
    let value = inputs.get("value").cloned().unwrap_or(Value::Null);
    let parts: Vec<&str> = key.split('.').collect();
    let (last, parents) = parts.split_last().map_or(("", &[][..]), |(l, p)| (*l, p));
    let mut current = &mut object;
    for part in parents {
        let slot = current.entry((*part).to_owned()).or_insert(Value::Null);
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        current = match slot {
            Value::Object(next) => next,
            _ => return Err(fail("unreachable: slot was just made an object")),
        };
    }
    current.insert(last.to_owned(), value);
    Ok(Value::Object(object))
}

fn merge(inputs: &Map<String, Value>) -> NodeResult {
    let mut a = dict_input(inputs, "a")?;
    let b = dict_input(inputs, "b")?;
    for (k, v) in b {
        a.insert(k, v);
    }
    Ok(Value::Object(a))
}

/// Every input except the executor's `_`-prefixed helper keys.
fn make_object(inputs: &Map<String, Value>) -> Value {
    Value::Object(inputs.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone())).collect())
}

/// The executor's own dotted lookup for `break_object`: no brackets, no trimming.
fn dotted(value: &Value, path: &str) -> Value {
    let mut current = value;
    for part in path.split('.') {
        current = match current {
            Value::Object(o) => match o.get(part) {
                Some(v) => v,
                None => return Value::Null,
            },
            Value::Array(a) if !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()) => {
                match a.get(part.parse::<usize>().unwrap_or(usize::MAX)) {
                    Some(v) => v,
                    None => return Value::Null,
                }
            }
            _ => return Value::Null,
        };
    }
    current.clone()
}

fn break_object(inputs: &Map<String, Value>, config: &Value) -> NodeResult {
    // The reference iterates `selectedPaths` whatever it is: a string gives its characters.
    let selected = match config.get("breakConfig").and_then(|c| c.get("selectedPaths")) {
        None => Vec::new(),
        Some(Value::Array(a)) => a.clone(),
        Some(Value::String(s)) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Some(Value::Object(o)) => o.keys().map(|k| Value::String(k.clone())).collect(),
        Some(other) => {
            return Err(invalid("breakConfig", &format!("'{}' object is not iterable", type_name(other))));
        }
    };
    let paths: Vec<String> =
        selected.iter().filter_map(Value::as_str).map(py_strip).filter(|p| !p.is_empty()).map(str::to_owned).collect();
    let mut source = inputs.get("object").cloned().unwrap_or(Value::Null);
    // JSON-ish text (an LLM answer) is parsed first; text that does not parse stays text.
    if let Value::String(s) = &source
        && !py_strip(s).is_empty()
        && let Ok(parsed) = parse_text(&source)
    {
        let parsed = parsed.to_value().map_err(|why| fail(&why))?;
        source = if parsed.is_object() || parsed.is_array() { parsed } else { json!({ "value": parsed }) };
    }
    let mut out = Map::new();
    for path in paths {
        let value = dotted(&source, &path);
        out.insert(path, value);
    }
    Ok(Value::Object(out))
}

fn object_or_empty(v: Option<&Value>) -> Map<String, Value> {
    v.and_then(Value::as_object).cloned().unwrap_or_default()
}

/// Iterating `x or []` in Python: lists give items, strings characters, dicts keys; falsy
/// values give nothing; other truthy values raise (the reference then fails).
fn iterate_or_empty(v: Option<&Value>) -> Result<Vec<Value>, String> {
    let Some(v) = v.filter(|v| truthy(v)) else { return Ok(Vec::new()) };
    Ok(match v {
        Value::Array(a) => a.clone(),
        Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Value::Object(o) => o.keys().map(|k| Value::String(k.clone())).collect(),
        other => return Err(format!("'{}' object is not iterable", type_name(other))),
    })
}

fn required_names(v: Option<&Value>, allowed: impl Fn(&str) -> bool, seen: &mut Vec<String>) -> Result<(), String> {
    for item in iterate_or_empty(v)? {
        if let Value::String(s) = item
            && !py_strip(&s).is_empty()
            && !seen.contains(&s)
            && allowed(&s)
        {
            seen.push(s);
        }
    }
    Ok(())
}

/// Adds the authored fields (`literalValue`) to a schema without changing existing ones.
fn add_schema_fields(base: Option<&Value>, additions: Option<&Value>) -> Result<Map<String, Value>, String> {
    let base_root = object_or_empty(base);
    let additions_root = object_or_empty(additions);
    if base_root.is_empty() {
        return Ok(additions_root);
    }
    if additions_root.is_empty() {
        return Ok(base_root);
    }
    let mut properties = object_or_empty(base_root.get("properties"));
    let mut added: Vec<String> = Vec::new();
    for (name, spec) in object_or_empty(additions_root.get("properties")) {
        if name.is_empty() || properties.contains_key(&name) {
            continue;
        }
        properties.insert(name.clone(), spec);
        added.push(name);
    }
    let mut required = Vec::new();
    required_names(base_root.get("required"), |_| true, &mut required)?;
    required_names(additions_root.get("required"), |s| added.iter().any(|a| a == s), &mut required)?;

    let mut merged = base_root.clone();
    let schema_type = [base_root.get("type"), additions_root.get("type")]
        .into_iter()
        .flatten()
        .find(|t| truthy(t))
        .cloned()
        .unwrap_or_else(|| json!("object"));
    merged.insert("type".into(), schema_type);
    merged.insert("properties".into(), Value::Object(properties));
    for defs_key in ["$defs", "definitions"] {
        let additions_defs = object_or_empty(additions_root.get(defs_key));
        if additions_defs.is_empty() {
            continue;
        }
        let mut next = object_or_empty(base_root.get(defs_key));
        for (name, spec) in additions_defs {
            next.entry(name).or_insert(spec);
        }
        merged.insert(defs_key.into(), Value::Object(next));
    }
    if required.is_empty() {
        merged.remove("required");
    } else {
        merged.insert("required".into(), Value::Array(required.into_iter().map(Value::String).collect()));
    }
    Ok(merged)
}

fn edit_json_schema(inputs: &Map<String, Value>, config: &Value) -> NodeResult {
    let schema = add_schema_fields(inputs.get("schema"), config.get("literalValue"))
        .map_err(|why| invalid("schema", &format!("required: {why}")))?;
    Ok(json!({ "schema": schema }))
}

/// `int(float(text))`, `int(x)` for numbers: `None` where Python raises.
pub fn int_of(v: &Value) -> Option<i128> {
    let f = match v {
        Value::Bool(b) => return Some(i128::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => return Some(i128::from(i)),
            None => match n.as_u64() {
                Some(u) => return Some(i128::from(u)),
                None => n.as_f64()?,
            },
        },
        Value::String(s) if !py_strip(s).is_empty() => parse_py_float(s)?,
        _ => return None,
    };
    // `as` truncates toward zero and saturates beyond i128, far past any index used here.
    f.is_finite().then_some(f as i128)
}

fn path_mux(inputs: &Map<String, Value>) -> Value {
    let index = inputs.get("select").and_then(int_of).unwrap_or(0);
    let key = format!("in{index}");
    let out = inputs.get(&key).or_else(|| inputs.get("fallback")).cloned().unwrap_or(Value::Null);
    json!({ "out": out })
}
