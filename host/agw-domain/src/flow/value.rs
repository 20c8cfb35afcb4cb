//! JSON value coercions with the reference's (Python's) meaning.

use serde_json::{Map, Value};

/// Python truthiness: null, false, 0, "", [] and {} are false; the string "false" is true.
pub fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// A number from a number, a numeric string or a bool; `None` otherwise.
pub fn number(value: &Value) -> Option<f64> {
    match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        _ => None,
    }
}

/// Python's `str()` of a JSON value, as the reference's `switch` compares them: `1` → "1",
/// `1.0` → "1.0", `true` → "True", null → "".
pub fn py_str(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => i.to_string(),
            (_, Some(u), _) => u.to_string(),
            (_, _, Some(f)) => py_float(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// Python's `repr(float)` for the common range: always a decimal point.
fn py_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 { format!("{f:.1}") } else { format!("{f}") }
}

/// Reads a dotted path (`a.b.1`) through objects and arrays.
pub fn get_path<'v>(root: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.');
    let mut current = root.get(parts.next()?)?;
    for part in parts {
        current = match current {
            Value::Object(map) => map.get(part)?,
            Value::Array(items) => items.get(part.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_truthiness() {
        for falsy in [json!(null), json!(false), json!(0), json!(0.0), json!(""), json!([]), json!({})] {
            assert!(!truthy(&falsy), "{falsy} should be falsy");
        }
        for truth in [json!(1), json!("false"), json!("0"), json!("no"), json!(true), json!([0])] {
            assert!(truthy(&truth), "{truth} should be truthy");
        }
    }

    #[test]
    fn python_str_of_scalars() {
        assert_eq!(py_str(&json!(1)), "1");
        assert_eq!(py_str(&json!(1.0)), "1.0");
        assert_eq!(py_str(&json!(2.5)), "2.5");
        assert_eq!(py_str(&json!(true)), "True");
        assert_eq!(py_str(&json!(null)), "");
        assert_eq!(py_str(&json!("apple")), "apple");
    }

    #[test]
    fn dotted_paths_read() {
        let mut vars = Map::new();
        vars.insert("a".into(), json!({"b": {"c": 1}}));
        vars.insert("obj".into(), json!({"list": [10, 20]}));
        assert_eq!(get_path(&vars, "a.b.c"), Some(&json!(1)));
        assert_eq!(get_path(&vars, "obj.list.1"), Some(&json!(20)));
        assert_eq!(get_path(&vars, "a.b.missing"), None);
    }
}
