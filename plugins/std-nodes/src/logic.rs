//! Logic nodes, with Python's `==`, ordering and truthiness on JSON values.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value};

use crate::pyval::{py_str, truthy};
use crate::{NodeResult, invalid};

pub fn run(node_type: &str, inputs: &Map<String, Value>, config: &Value) -> Option<NodeResult> {
    let flag = |pin: &str| inputs.get(pin).is_some_and(truthy);
    let result = match node_type {
        "compare" => compare(inputs),
        "not" => Ok(Value::Bool(!flag("value"))),
        "and" => Ok(Value::Bool(flag("a") && flag("b"))),
        "or" => Ok(Value::Bool(flag("a") || flag("b"))),
        "coalesce" => Ok(coalesce(inputs, config)),
        _ => return None,
    };
    Some(result)
}

fn compare(inputs: &Map<String, Value>) -> NodeResult {
    let a = inputs.get("a").unwrap_or(&Value::Null);
    let b = inputs.get("b").unwrap_or(&Value::Null);
    // `str(op)`: a null op becomes "None" and is rejected like any unknown operator.
    let op = inputs.get("op").map_or_else(|| "==".to_owned(), py_str);
    let ord = || py_cmp(a, b);
    let result = match op.as_str() {
        "==" => py_eq(a, b),
        "!=" => !py_eq(a, b),
        // Python raises TypeError for unorderable pairs; the reference answers False.
        "<" => ord().is_some_and(|o| o == Ordering::Less),
        "<=" => ord().is_some_and(|o| o != Ordering::Greater),
        ">" => ord().is_some_and(|o| o == Ordering::Greater),
        ">=" => ord().is_some_and(|o| o != Ordering::Less),
        _ => return Err(invalid("op", &format!("Unknown comparison operator: {op}"))),
    };
    Ok(Value::Bool(result))
}

/// A JSON number or bool as Python sees it: an exact integer or a float.
enum Num {
    Int(i128),
    Float(f64),
}

fn as_num(v: &Value) -> Option<Num> {
    match v {
        Value::Bool(b) => Some(Num::Int(i128::from(*b))),
        Value::Number(n) => Some(num_of(n)),
        _ => None,
    }
}

fn num_of(n: &Number) -> Num {
    if let Some(i) = n.as_i64() {
        Num::Int(i128::from(i))
    } else if let Some(u) = n.as_u64() {
        Num::Int(i128::from(u))
    } else {
        Num::Float(n.as_f64().unwrap_or(f64::NAN))
    }
}

/// Exact int-vs-float ordering, as CPython does it (no rounding of the int).
fn cmp_int_float(i: i128, f: f64) -> Option<Ordering> {
    if f.is_nan() {
        return None;
    }
    if f >= 1.7e38 {
        return Some(Ordering::Less);
    }
    if f <= -1.7e38 {
        return Some(Ordering::Greater);
    }
    let fl = f.floor();
    match i.cmp(&(fl as i128)) {
        Ordering::Equal if f > fl => Some(Ordering::Less),
        other => Some(other),
    }
}

fn num_cmp(a: &Num, b: &Num) -> Option<Ordering> {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => Some(x.cmp(y)),
        (Num::Float(x), Num::Float(y)) => x.partial_cmp(y),
        (Num::Int(x), Num::Float(y)) => cmp_int_float(*x, *y),
        (Num::Float(x), Num::Int(y)) => cmp_int_float(*y, *x).map(Ordering::reverse),
    }
}

/// Python `==`: numbers and bools compare by value, containers element-wise.
pub fn py_eq(a: &Value, b: &Value) -> bool {
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return num_cmp(&x, &y) == Some(Ordering::Equal);
    }
    match (a, b) {
        (Value::Null, Value::Null) => true,
        (Value::String(x), Value::String(y)) => x == y,
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(p, q)| py_eq(p, q)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| py_eq(v, w)))
        }
        _ => false,
    }
}

/// Python ordering; `None` where Python raises TypeError. Lists compare lexicographically
/// by the first unequal pair, then by length.
fn py_cmp(a: &Value, b: &Value) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (as_num(a), as_num(b)) {
        return num_cmp(&x, &y);
    }
    match (a, b) {
        // Rust compares `str` by UTF-8 bytes, which is code point order like Python.
        (Value::String(x), Value::String(y)) => Some(x.as_str().cmp(y.as_str())),
        (Value::Array(x), Value::Array(y)) => {
            for (p, q) in x.iter().zip(y) {
                if !py_eq(p, q) {
                    return py_cmp(p, q);
                }
            }
            Some(x.len().cmp(&y.len()))
        }
        _ => None,
    }
}

/// First non-null input in pin order: the node's declared data inputs when the config lists
/// them (the reference's `_pin_order`), otherwise `a` then `b`.
fn coalesce(inputs: &Map<String, Value>, config: &Value) -> Value {
    let declared: Vec<&str> = config
        .get("inputs")
        .and_then(Value::as_array)
        .map(|pins| {
            pins.iter()
                .filter(|p| p.get("type").and_then(Value::as_str) != Some("execution"))
                .filter_map(|p| p.get("id").and_then(Value::as_str))
                .filter(|id| !id.is_empty())
                .collect()
        })
        .unwrap_or_default();
    let order = if declared.is_empty() { vec!["a", "b"] } else { declared };
    order.into_iter().filter_map(|pin| inputs.get(pin)).find(|v| !v.is_null()).cloned().unwrap_or(Value::Null)
}
