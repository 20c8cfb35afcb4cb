//! Array nodes: `make_array`, `array_concat`, `array_map`, `array_filter`, `array_length`,
//! `has_tools`, `array_append`, `array_dedup`, `get_element`, `get_random_element`.

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use crate::logic::py_eq;
use crate::objects::{get_path, int_of, type_name};
use crate::pyjson::{self, Layout, Py};
use crate::pyval::{float_repr, py_str, py_strip, str_or, truthy};
use crate::{NodeResult, invalid, rng};

pub fn run(node_type: &str, inputs: &Map<String, Value>, config: &Value) -> Option<NodeResult> {
    let array = inputs.get("array").and_then(Value::as_array);
    Some(match node_type {
        "make_array" => Ok(make_array(inputs, config, false)),
        "array_concat" => Ok(make_array(inputs, config, true)),
        "array_map" => array_map(inputs),
        "array_filter" => array_filter(inputs),
        "array_length" => Ok(json!(array.map_or(0, Vec::len))),
        "has_tools" => Ok(json!(array.is_some_and(|a| !a.is_empty()))),
        "array_append" => Ok(array_append(inputs)),
        "array_dedup" => Ok(array_dedup(inputs)),
        "get_element" => Ok(get_element(inputs)),
        "get_random_element" => Ok(get_random_element(inputs)),
        _ => return None,
    })
}

/// The node's declared data input pins in order (`_pin_order`), else `a`, `b`.
pub fn pin_order(config: &Value) -> Vec<String> {
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
    if declared.is_empty() { vec!["a".into(), "b".into()] } else { declared }
}

/// The non-null inputs in pin order; `flatten` (array_concat) splices arrays in.
fn make_array(inputs: &Map<String, Value>, config: &Value, flatten: bool) -> Value {
    let mut out = Vec::new();
    for pin in pin_order(config) {
        match inputs.get(&pin) {
            None | Some(Value::Null) => {}
            Some(Value::Array(items)) if flatten => out.extend(items.iter().cloned()),
            Some(v) => out.push(v.clone()),
        }
    }
    Value::Array(out)
}

/// `for item in items` over whatever arrived: list items, string characters, dict keys.
fn iterate(v: &Value, pin: &str) -> NodeResult<Vec<Value>> {
    Ok(match v {
        Value::Array(a) => a.clone(),
        Value::String(s) => s.chars().map(|c| Value::String(c.to_string())).collect(),
        Value::Object(o) => o.keys().map(|k| Value::String(k.clone())).collect(),
        other => return Err(invalid(pin, &format!("'{}' object is not iterable", type_name(other)))),
    })
}

fn items_input(inputs: &Map<String, Value>) -> NodeResult<Vec<Value>> {
    inputs.get("items").map_or_else(|| Ok(Vec::new()), |v| iterate(v, "items"))
}

fn array_map(inputs: &Map<String, Value>) -> NodeResult {
    let key = str_or(inputs.get("key"), "");
    let items = items_input(inputs)?;
    Ok(Value::Array(
        items
            .into_iter()
            .map(|item| match item {
                Value::Object(o) => o.get(&key).cloned().unwrap_or(Value::Null),
                other => other,
            })
            .collect(),
    ))
}

fn array_filter(inputs: &Map<String, Value>) -> NodeResult {
    let key = str_or(inputs.get("key"), "");
    let wanted = inputs.get("value").unwrap_or(&Value::Null);
    let items = items_input(inputs)?;
    Ok(Value::Array(
        items
            .into_iter()
            .filter(|item| match item {
                Value::Object(o) => py_eq(o.get(&key).unwrap_or(&Value::Null), wanted),
                other => py_eq(other, wanted),
            })
            .collect(),
    ))
}

fn array_append(inputs: &Map<String, Value>) -> Value {
    let mut out = match inputs.get("array") {
        Some(Value::Array(items)) => items.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(other) => vec![other.clone()],
    };
    out.push(inputs.get("item").cloned().unwrap_or(Value::Null));
    Value::Array(out)
}

/// The reference's identity of a value for dedup: `type:str(v)` for scalars, compact
/// sorted JSON for containers.
fn fingerprint(v: &Value) -> String {
    match v {
        Value::Null => "NoneType:None".into(),
        Value::Bool(_) | Value::String(_) => format!("{}:{}", crate::objects::type_name(v), py_str(v)),
        Value::Number(n) if n.is_f64() => format!("float:{}", float_repr(n.as_f64().unwrap_or(f64::NAN))),
        Value::Number(n) => format!("int:{n}"),
        container => pyjson::dumps(
            &Py::from_value(container),
            Layout { indent: None, item_sep: ",", key_sep: ":", sort_keys: true },
        ),
    }
}

fn array_dedup(inputs: &Map<String, Value>) -> Value {
    let Some(items) = inputs.get("array").and_then(Value::as_array) else { return json!([]) };
    let key_path = match inputs.get("key") {
        Some(k) if truthy(k) => py_strip(&py_str(k)).to_owned(),
        _ => String::new(),
    };
    let mut seen: HashSet<String> = HashSet::new();
    let mut out = Vec::new();
    for item in items {
        let keyed = if key_path.is_empty() { None } else { get_path(item, &key_path).filter(|k| !k.is_null()) };
        if seen.insert(fingerprint(keyed.unwrap_or(item))) {
            out.push(item.clone());
        }
    }
    Value::Array(out)
}

fn get_element(inputs: &Map<String, Value>) -> Value {
    let empty = Vec::new();
    let array = inputs.get("array").and_then(Value::as_array).unwrap_or(&empty);
    let index = match inputs.get("index") {
        Some(Value::Bool(_)) | None => 0,
        Some(v) => int_of(v).unwrap_or(0),
    };
    let len = i128::try_from(array.len()).unwrap_or(i128::MAX);
    let index = if index < 0 { len + index } else { index };
    match usize::try_from(index).ok().and_then(|i| array.get(i)) {
        Some(v) => json!({ "result": v, "found": true }),
        None => json!({ "result": inputs.get("default").cloned().unwrap_or(Value::Null), "found": false }),
    }
}

fn get_random_element(inputs: &Map<String, Value>) -> Value {
    match inputs.get("array").and_then(Value::as_array).filter(|a| !a.is_empty()) {
        Some(array) => {
            let len = u64::try_from(array.len()).unwrap_or(u64::MAX);
            let pick = usize::try_from(rng::next_u64() % len).unwrap_or(0);
            json!({ "result": array.get(pick).cloned().unwrap_or(Value::Null), "found": true })
        }
        None => json!({ "result": inputs.get("default").cloned().unwrap_or(Value::Null), "found": false }),
    }
}
