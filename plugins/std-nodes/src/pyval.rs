//! Python's conversions of JSON values (`str`, `repr`, `float`, `int`, `bool`, `json.dumps`),
//! because the reference builtins apply them to every input.

use serde_json::{Number, Value};

/// `bool(v)` for a JSON-decoded value.
pub fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// `str.isspace()` for one character: Unicode White_Space plus the ASCII information
/// separators, which Python counts and Rust does not.
pub fn is_py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// `str.strip()` with no argument.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(is_py_space)
}

/// `repr(float)`: shortest round-trip digits, laid out the way CPython does.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let sci = format!("{:e}", f.abs());
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mant.chars().filter(|c| *c != '.').collect();
    let decpt = exp.parse::<i32>().unwrap_or(0) + 1;
    let sign = if f.is_sign_negative() { "-" } else { "" };
    let n = digits.len() as i32;
    let body = if decpt <= -4 || decpt > 16 {
        let rest = if n > 1 { format!(".{}", &digits[1..]) } else { String::new() };
        let e = decpt - 1;
        format!("{}{}e{}{:02}", &digits[..1], rest, if e < 0 { '-' } else { '+' }, e.abs())
    } else if decpt <= 0 {
        format!("0.{}{}", "0".repeat((-decpt) as usize), digits)
    } else if decpt >= n {
        format!("{}{}.0", digits, "0".repeat((decpt - n) as usize))
    } else {
        format!("{}.{}", &digits[..decpt as usize], &digits[decpt as usize..])
    };
    format!("{sign}{body}")
}

fn number_str(n: &Number) -> String {
    if n.is_f64() { float_repr(n.as_f64().unwrap_or(f64::NAN)) } else { n.to_string() }
}

/// `repr(str)`: single quotes unless the text holds a single quote and no double quote.
pub fn str_repr(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || (0x7f..0xa0).contains(&(c as u32)) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push(quote);
    out
}

/// `repr(v)`, as used for items inside containers.
pub fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => str_repr(s),
        other => py_str(other),
    }
}

/// `str(v)` for a JSON-decoded value: `None`, `True`, `1.0`, `[1, 'a']`, `{'k': None}`.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Number(n) => number_str(n),
        Value::String(s) => s.clone(),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => {
            let items: Vec<String> = o.iter().map(|(k, v)| format!("{}: {}", str_repr(k), py_repr(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
    }
}

/// `"" if v is None else str(v)`, the reference's usual guard.
pub fn str_or_empty(v: Option<&Value>) -> String {
    match v {
        None | Some(Value::Null) => String::new(),
        Some(v) => py_str(v),
    }
}

/// `str(inputs.get(pin, default))`: an absent pin takes the default, an explicit null is "None".
pub fn str_or(v: Option<&Value>, default: &str) -> String {
    v.map_or_else(|| default.to_owned(), py_str)
}

/// Python's numeric literal grammar for `float()`/`int()`: `_` only between digits.
fn strip_underscores(s: &str) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    for (i, c) in chars.iter().enumerate() {
        if *c == '_' {
            let ok = i > 0 && i + 1 < chars.len() && chars[i - 1].is_ascii_digit() && chars[i + 1].is_ascii_digit();
            if !ok {
                return None;
            }
        }
    }
    Some(chars.into_iter().filter(|c| *c != '_').collect())
}

/// `float(s)` for a string; `None` where Python raises ValueError.
pub fn parse_py_float(s: &str) -> Option<f64> {
    let t = py_strip(s);
    let body = t.strip_prefix(['+', '-']).unwrap_or(t);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        return t.parse::<f64>().ok();
    }
    // Rust also accepts forms Python refuses (and vice versa) only around these characters.
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit() || "._eE+-".contains(c)) {
        return None;
    }
    let clean = strip_underscores(t)?;
    let mantissa = clean.trim_start_matches(['+', '-']);
    let mantissa = mantissa.split(['e', 'E']).next().unwrap_or("");
    if !mantissa.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    clean.parse::<f64>().ok()
}

/// Why a conversion failed, in Python's words (TypeError vs ValueError matters little here).
pub type ConvError = String;

/// `float(v)`.
pub fn to_float(v: &Value) -> Result<f64, ConvError> {
    match v {
        Value::Bool(b) => Ok(if *b { 1.0 } else { 0.0 }),
        Value::Number(n) => n.as_f64().ok_or_else(|| "number out of range".into()),
        Value::String(s) => {
            parse_py_float(s).ok_or_else(|| format!("could not convert string to float: {}", str_repr(s)))
        }
        Value::Null => Err("float() argument must be a string or a real number, not 'NoneType'".into()),
        Value::Array(_) => Err("float() argument must be a string or a real number, not 'list'".into()),
        Value::Object(_) => Err("float() argument must be a string or a real number, not 'dict'".into()),
    }
}

/// `int(v)`, saturated to i64 (far beyond any index, count or digit count the nodes use).
pub fn to_int(v: &Value) -> Result<i64, ConvError> {
    match v {
        Value::Bool(b) => Ok(i64::from(*b)),
        Value::Number(n) => {
            if let Some(i) = n.as_i64() {
                Ok(i)
            } else if n.is_u64() {
                Ok(i64::MAX)
            } else {
                let f = n.as_f64().unwrap_or(f64::NAN);
                if f.is_nan() {
                    Err("cannot convert float NaN to integer".into())
                } else if f.is_infinite() {
                    Err("cannot convert float infinity to integer".into())
                } else {
                    // `as` truncates toward zero and saturates, like int() then clamping.
                    Ok(f as i64)
                }
            }
        }
        Value::String(s) => {
            parse_py_int(s).ok_or_else(|| format!("invalid literal for int() with base 10: {}", str_repr(s)))
        }
        Value::Null => {
            Err("int() argument must be a string, a bytes-like object or a real number, not 'NoneType'".into())
        }
        Value::Array(_) => {
            Err("int() argument must be a string, a bytes-like object or a real number, not 'list'".into())
        }
        Value::Object(_) => {
            Err("int() argument must be a string, a bytes-like object or a real number, not 'dict'".into())
        }
    }
}

/// `int(s)` in base 10, saturated to i64.
pub fn parse_py_int(s: &str) -> Option<i64> {
    let t = py_strip(s);
    let (neg, body) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if body.is_empty() || !body.chars().all(|c| c.is_ascii_digit() || c == '_') {
        return None;
    }
    let digits = strip_underscores(body)?;
    let mut acc: i128 = 0;
    for c in digits.chars() {
        acc = (acc * 10 + i128::from(c as u8 - b'0')).min(i128::from(i64::MAX) + 1);
    }
    let signed = if neg { -acc } else { acc };
    Some(signed.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// `json.dumps(v, ensure_ascii=False)` with Python's default separators.
pub fn json_dumps(v: &Value, sort_keys: bool) -> String {
    let mut out = String::new();
    dump_into(v, sort_keys, &mut out);
    out
}

/// A JSON string literal, `ensure_ascii=False`.
pub fn dump_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn dump_into(v: &Value, sort_keys: bool, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_str(n)),
        Value::String(s) => dump_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, item) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump_into(item, sort_keys, out);
            }
            out.push(']');
        }
        Value::Object(o) => {
            let mut entries: Vec<(&String, &Value)> = o.iter().collect();
            if sort_keys {
                // Python sorts str keys by code point, which is UTF-8 byte order.
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                dump_str(k, out);
                out.push_str(": ");
                dump_into(item, sort_keys, out);
            }
            out.push('}');
        }
    }
}

/// The UI stores some escapes literally; the reference decodes these three.
pub fn decode_escapes(s: &str) -> String {
    s.replace("\\n", "\n").replace("\\t", "\t").replace("\\r", "\r")
}
