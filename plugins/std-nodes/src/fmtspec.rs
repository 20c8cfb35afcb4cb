//! Python's format-spec mini-language (`format(value, spec)`) for the values JSON can hold.
//! Supported: fill/align, sign, `#`, `0`, width, `,`/`_` grouping, precision and the types
//! s d n b o x X c e E f F g G % (`n` as in the C locale).

use serde_json::Value;

use crate::pyval::{float_repr, py_str};

#[derive(Clone, Copy)]
struct Spec {
    fill: char,
    align: Option<char>,
    sign: char,
    alt: bool,
    zero: bool,
    width: usize,
    group: Option<char>,
    precision: Option<usize>,
    kind: Option<char>,
}

fn number_prefix(chars: &[char], mut i: usize) -> (Option<usize>, usize) {
    let start = i;
    while i < chars.len() && chars[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return (None, i);
    }
    let text: String = chars[start..i].iter().collect();
    (text.parse().ok().or(Some(usize::MAX)), i)
}

fn parse(spec: &str) -> Result<Spec, String> {
    let c: Vec<char> = spec.chars().collect();
    let is_align = |ch: char| "<>=^".contains(ch);
    let mut s = Spec {
        fill: ' ',
        align: None,
        sign: '-',
        alt: false,
        zero: false,
        width: 0,
        group: None,
        precision: None,
        kind: None,
    };
    let mut i = 0;
    if c.len() >= 2 && is_align(c[1]) {
        s.fill = c[0];
        s.align = Some(c[1]);
        i = 2;
    } else if !c.is_empty() && is_align(c[0]) {
        s.align = Some(c[0]);
        i = 1;
    }
    if i < c.len() && "+- ".contains(c[i]) {
        s.sign = c[i];
        i += 1;
    }
    if i < c.len() && c[i] == '#' {
        s.alt = true;
        i += 1;
    }
    if i < c.len() && c[i] == '0' {
        s.zero = true;
        i += 1;
    }
    let (w, next) = number_prefix(&c, i);
    s.width = w.unwrap_or(0);
    i = next;
    if i < c.len() && (c[i] == ',' || c[i] == '_') {
        s.group = Some(c[i]);
        i += 1;
    }
    if i < c.len() && c[i] == '.' {
        let (p, next) = number_prefix(&c, i + 1);
        s.precision = Some(p.ok_or("Format specifier missing precision")?);
        i = next;
    }
    if i < c.len() {
        s.kind = Some(c[i]);
        i += 1;
    }
    if i < c.len() || s.width > 100_000 || s.precision.is_some_and(|p| p > 100_000) {
        return Err("Invalid format specifier".into());
    }
    if s.zero && s.align.is_none() {
        s.fill = '0';
    }
    Ok(s)
}

/// `format(value, spec)`.
pub fn format_value(v: &Value, spec: &str) -> Result<String, String> {
    if spec.is_empty() {
        return Ok(py_str(v));
    }
    let s = parse(spec)?;
    match v {
        Value::String(text) => format_str(text, &s),
        Value::Bool(b) => format_int(i128::from(*b), &s),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => format_int(i128::from(i), &s),
            (None, Some(u)) => format_int(i128::from(u), &s),
            _ => format_float(n.as_f64().unwrap_or(f64::NAN), &s),
        },
        Value::Null => Err("unsupported format string passed to NoneType.__format__".into()),
        Value::Array(_) => Err("unsupported format string passed to list.__format__".into()),
        Value::Object(_) => Err("unsupported format string passed to dict.__format__".into()),
    }
}

fn pad(body: &str, sign: &str, s: &Spec, default_align: char) -> String {
    let len = body.chars().count() + sign.chars().count();
    let missing = s.width.saturating_sub(len);
    let fill = s.fill.to_string();
    match s.align.unwrap_or(if s.zero { '=' } else { default_align }) {
        '<' => format!("{sign}{body}{}", fill.repeat(missing)),
        '^' => format!("{}{sign}{body}{}", fill.repeat(missing / 2), fill.repeat(missing - missing / 2)),
        '=' => format!("{sign}{}{body}", fill.repeat(missing)),
        _ => format!("{}{sign}{body}", fill.repeat(missing)),
    }
}

fn format_str(text: &str, s: &Spec) -> Result<String, String> {
    if !matches!(s.kind, None | Some('s')) {
        return Err(format!("Unknown format code '{}' for object of type 'str'", s.kind.unwrap_or(' ')));
    }
    if s.sign != '-' || s.alt || s.group.is_some() || s.align == Some('=') {
        return Err("invalid format specifier for a string".into());
    }
    let body: String = match s.precision {
        Some(p) => text.chars().take(p).collect(),
        None => text.to_owned(),
    };
    let zero_str = Spec { align: s.align.or(Some('<')), ..*s };
    Ok(pad(&body, "", &zero_str, '<'))
}

fn group_digits(digits: &str, sep: char, every: usize) -> String {
    let n = digits.len();
    let mut out = String::with_capacity(n + n / every);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (n - i).is_multiple_of(every) {
            out.push(sep);
        }
        out.push(ch);
    }
    out
}

fn sign_of(neg: bool, s: &Spec) -> &'static str {
    match (neg, s.sign) {
        (true, _) => "-",
        (false, '+') => "+",
        (false, ' ') => " ",
        _ => "",
    }
}

/// Digits with separators; with `0`/`=` padding Python grows the zero run, separators
/// included, until the number fills the width.
fn grouped_number(digits: &str, rest: &str, lead: &str, s: &Spec, every: usize) -> String {
    let Some(sep) = s.group else {
        return pad(&format!("{digits}{rest}"), lead, s, '>');
    };
    let zero_fill = s.fill == '0' && s.align.unwrap_or(if s.zero { '=' } else { '>' }) == '=';
    if !zero_fill {
        return pad(&format!("{}{rest}", group_digits(digits, sep, every)), lead, s, '>');
    }
    let min = s.width.saturating_sub(lead.chars().count() + rest.chars().count());
    let mut len = digits.len().max(1);
    while len + (len - 1) / every < min {
        len += 1;
    }
    let padded = format!("{}{digits}", "0".repeat(len - digits.len()));
    format!("{lead}{}{rest}", group_digits(&padded, sep, every))
}

fn format_int(i: i128, s: &Spec) -> Result<String, String> {
    let kind = s.kind.unwrap_or('d');
    if "eEfFgG%".contains(kind) {
        return format_float(i as f64, s);
    }
    if s.precision.is_some() {
        return Err("Precision not allowed in integer format specifier".into());
    }
    let mag = i.unsigned_abs();
    let (digits, prefix, every) = match kind {
        // `n` is locale-aware; the reference never sets a locale, so it is plain `d`.
        'd' | 'n' => (mag.to_string(), "", 3),
        'b' => (format!("{mag:b}"), "0b", 4),
        'o' => (format!("{mag:o}"), "0o", 4),
        'x' => (format!("{mag:x}"), "0x", 4),
        'X' => (format!("{mag:X}"), "0X", 4),
        'c' => {
            let ch = u32::try_from(i).ok().and_then(char::from_u32).ok_or("%c arg not in range(0x110000)")?;
            return Ok(pad(&ch.to_string(), "", s, '<'));
        }
        other => return Err(format!("Unknown format code '{other}' for object of type 'int'")),
    };
    if s.group == Some(',') && kind != 'd' {
        return Err(format!("Cannot specify ',' with '{kind}'."));
    }
    let lead = format!("{}{}", sign_of(i < 0, s), if s.alt { prefix } else { "" });
    Ok(grouped_number(&digits, "", &lead, s, every))
}

/// Rust's `{:e}` exponent as Python writes it: sign and at least two digits.
fn py_exp(rust: &str, upper: bool) -> String {
    let (mant, exp) = rust.split_once('e').unwrap_or((rust, "0"));
    let e: i32 = exp.parse().unwrap_or(0);
    let letter = if upper { 'E' } else { 'e' };
    format!("{mant}{letter}{}{:02}", if e < 0 { '-' } else { '+' }, e.abs())
}

fn strip_zeros(text: &str) -> String {
    match text.split_once(['e', 'E']) {
        Some((m, e)) => format!("{}{}{}", strip_zeros(m), &text[m.len()..m.len() + 1], e),
        None if text.contains('.') => text.trim_end_matches('0').trim_end_matches('.').to_owned(),
        None => text.to_owned(),
    }
}

/// `g`-style: scientific when the exponent is below -4 or at least `limit`.
fn general(x: f64, p: usize, alt: bool, upper: bool, repr_like: bool) -> String {
    let p = p.max(1);
    let sci = format!("{:.*e}", p - 1, x);
    let exp: i64 = sci.split_once('e').and_then(|(_, e)| e.parse().ok()).unwrap_or(0);
    let limit = if repr_like { p as i64 - 1 } else { p as i64 };
    let mut text = if exp < -4 || exp >= limit {
        py_exp(&sci, upper)
    } else {
        format!("{:.*}", (p as i64 - 1 - exp).max(0) as usize, x)
    };
    if !alt {
        text = strip_zeros(&text);
    }
    if repr_like && !text.contains(['.', 'e', 'E']) {
        text.push_str(".0");
    }
    text
}

fn format_float(x: f64, s: &Spec) -> Result<String, String> {
    let upper = matches!(s.kind, Some('E' | 'F' | 'G'));
    let mag = x.abs();
    let body = if !x.is_finite() {
        let word = if x.is_nan() { "nan" } else { "inf" };
        let word = if upper { word.to_uppercase() } else { word.to_owned() };
        if s.kind == Some('%') { format!("{word}%") } else { word }
    } else {
        let p = s.precision.unwrap_or(6);
        match s.kind {
            None if s.precision.is_none() => float_repr(mag),
            None => general(mag, p, s.alt, false, true),
            Some('f' | 'F') => format!("{:.*}", p, mag),
            Some('e' | 'E') => py_exp(&format!("{:.*e}", p, mag), upper),
            Some('g' | 'G' | 'n') => general(mag, p, s.alt, upper, false),
            Some('%') => format!("{:.*}%", p, mag * 100.0),
            Some(other) => return Err(format!("Unknown format code '{other}' for object of type 'float'")),
        }
    };
    let body = if s.alt && !body.contains('.') && matches!(s.kind, Some('f' | 'F' | 'e' | 'E' | '%')) {
        match body.find(['e', 'E', '%']) {
            Some(at) => format!("{}.{}", &body[..at], &body[at..]),
            None => format!("{body}."),
        }
    } else {
        body
    };
    let lead = sign_of(x.is_sign_negative() && !x.is_nan(), s);
    if !x.is_finite() {
        return Ok(pad(&body, lead, s, '>'));
    }
    let split = body.find(|c: char| !c.is_ascii_digit()).unwrap_or(body.len());
    Ok(grouped_number(&body[..split], &body[split..], lead, s, 3))
}
