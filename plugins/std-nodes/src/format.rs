//! The `format` node: Python's `template.format(**values)` with keyword fields only.

use serde_json::{Map, Value};

use crate::fmtspec::format_value;
use crate::pyval::{py_repr, str_or};
use crate::{NodeResult, invalid};

pub fn string_format(inputs: &Map<String, Value>) -> NodeResult<String> {
    let template = str_or(inputs.get("template"), "");
    match inputs.get("values") {
        // Absent values default to {}, so the template is still formatted (and can fail).
        None => render(&template, &Map::new(), 0),
        Some(Value::Object(values)) => render(&template, values, 0),
        Some(_) => Ok(template),
    }
    .map_err(|e| invalid("template", &e))
}

fn render(template: &str, values: &Map<String, Value>, depth: u8) -> Result<String, String> {
    if depth > 1 {
        return Err("Max string recursion exceeded".into());
    }
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '{' if chars.get(i + 1) == Some(&'{') => {
                out.push('{');
                i += 2;
            }
            '}' if chars.get(i + 1) == Some(&'}') => {
                out.push('}');
                i += 2;
            }
            '}' => return Err("Single '}' encountered in format string".into()),
            '{' => {
                let end = field_end(&chars, i + 1)?;
                let field: String = chars[i + 1..end].iter().collect();
                out.push_str(&replace_field(&field, values, depth)?);
                i = end + 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Index of the `}` closing the field that starts at `start`; nested braces (in the
/// spec) are counted, and `[...]` in the name is skipped as Python does.
fn field_end(chars: &[char], start: usize) -> Result<usize, String> {
    let mut depth = 1;
    let mut i = start;
    let mut in_name = true;
    while i < chars.len() {
        match chars[i] {
            '[' if in_name => {
                while i < chars.len() && chars[i] != ']' {
                    i += 1;
                }
            }
            ':' | '!' if in_name => in_name = false,
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Ok(i);
                }
            }
            _ => {}
        }
        i += 1;
    }
    Err("expected '}' before end of string".into())
}

fn replace_field(field: &str, values: &Map<String, Value>, depth: u8) -> Result<String, String> {
    let chars: Vec<char> = field.chars().collect();
    let mut i = 0;
    while i < chars.len() && chars[i] != '!' && chars[i] != ':' {
        if chars[i] == '[' {
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
        }
        if chars.get(i) == Some(&'{') {
            return Err("unexpected '{' in field name".into());
        }
        i += 1;
    }
    let name: String = chars[..i.min(chars.len())].iter().collect();
    let mut conversion = None;
    if chars.get(i) == Some(&'!') {
        conversion = Some(*chars.get(i + 1).ok_or("end of string while looking for conversion specifier")?);
        i += 2;
        if i < chars.len() && chars[i] != ':' {
            return Err("expected ':' after conversion specifier".into());
        }
    }
    let spec: String = if i < chars.len() { chars[i + 1..].iter().collect() } else { String::new() };
    let spec = if spec.contains('{') { render(&spec, values, depth + 1)? } else { spec };
    let value = lookup(&name, values)?;
    let converted = match conversion {
        None => value,
        Some('s') => Value::String(crate::pyval::py_str(&value)),
        Some('r') => Value::String(py_repr(&value)),
        Some('a') => Value::String(ascii(&py_repr(&value))),
        Some(c) => return Err(format!("Unknown conversion specifier {c}")),
    };
    format_value(&converted, &spec)
}

/// `ascii()`: `repr()` with every non-ASCII character escaped.
fn ascii(repr: &str) -> String {
    repr.chars()
        .map(|c| match c as u32 {
            n if n < 0x80 => c.to_string(),
            n if n < 0x100 => format!("\\x{n:02x}"),
            n if n < 0x10000 => format!("\\u{n:04x}"),
            n => format!("\\U{n:08x}"),
        })
        .collect()
}

/// Resolves `key`, `key[0]`, `key[name]`; positional fields fail (there are no positional
/// arguments), and attribute access is refused because dict/str attributes are Python objects.
fn lookup(name: &str, values: &Map<String, Value>) -> Result<Value, String> {
    let first_end = name.find(['.', '[']).unwrap_or(name.len());
    let first = &name[..first_end];
    if first.is_empty() || first.chars().all(|c| c.is_ascii_digit()) {
        let index = if first.is_empty() { "0" } else { first };
        return Err(format!("Replacement index {index} out of range for positional args tuple"));
    }
    let mut current = values.get(first).cloned().ok_or_else(|| format!("KeyError: '{first}'"))?;
    let mut rest = &name[first_end..];
    while !rest.is_empty() {
        if rest.starts_with('.') {
            return Err(format!("attribute access is not supported: {name}"));
        }
        let close = rest.find(']').ok_or("Missing ']' in format string")?;
        let key = &rest[1..close];
        if key.is_empty() {
            return Err("Empty attribute in format string".into());
        }
        current = index_into(&current, key)?;
        rest = &rest[close + 1..];
        if !rest.is_empty() && !rest.starts_with(['.', '[']) {
            return Err("Only '.' or '[' may follow ']' in format field specifier".into());
        }
    }
    Ok(current)
}

fn index_into(v: &Value, key: &str) -> Result<Value, String> {
    let as_index = key.chars().all(|c| c.is_ascii_digit()).then(|| key.parse::<usize>().ok()).flatten();
    match (v, as_index) {
        (Value::Array(a), Some(i)) => a.get(i).cloned().ok_or_else(|| "list index out of range".into()),
        (Value::String(s), Some(i)) => {
            s.chars().nth(i).map(|c| Value::String(c.to_string())).ok_or_else(|| "string index out of range".into())
        }
        (Value::Object(o), None) => o.get(key).cloned().ok_or_else(|| format!("KeyError: '{key}'")),
        (Value::Object(_), Some(i)) => Err(format!("KeyError: {i}")),
        (Value::Array(_), None) => Err("list indices must be integers or slices, not str".into()),
        (Value::String(_), None) => Err("string indices must be integers, not 'str'".into()),
        _ => Err("object is not subscriptable".into()),
    }
}
