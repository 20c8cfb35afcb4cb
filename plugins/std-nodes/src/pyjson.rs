//! Python's `json` module on text: `json.loads`, `JSONDecoder.raw_decode` and `json.dumps`,
//! over a value type that keeps what Python keeps and JSON numbers cannot (NaN, infinities,
//! integers of any size), so `stringify_json` can render them the way the reference does.

use indexmap::IndexMap;
use serde_json::{Map, Number, Value};

use crate::pyval::{dump_str, float_repr};

/// A Python value as `json.loads` (and, after `_jsonify`, `ast.literal_eval`) produces it.
#[derive(Debug, Clone)]
pub enum Py {
    None,
    Bool(bool),
    /// An integer, as canonical decimal text (`-12`, `0`): Python ints are unbounded.
    Int(String),
    Float(f64),
    Str(String),
    List(Vec<Py>),
    /// A dict with string keys, in insertion order.
    Dict(IndexMap<String, Py>),
}

/// Why text could not be decoded.
#[derive(Debug)]
pub enum DecodeError {
    /// Python refuses the text too; the caller may try another reading.
    Syntax,
    /// Python accepts it, but its value cannot go on (a lone surrogate, an unsupported form).
    Unsupported(String),
}

impl Py {
    /// The JSON value; `Err` where Python's value has no JSON form (NaN, infinities, integers
    /// outside i64/u64).
    pub fn to_value(&self) -> Result<Value, String> {
        Ok(match self {
            Self::None => Value::Null,
            Self::Bool(b) => Value::Bool(*b),
            Self::Int(digits) => int_value(digits)?,
            Self::Float(f) => match Number::from_f64(*f) {
                Some(n) => Value::Number(n),
                None => return Err(format!("the value {} cannot be carried in JSON", float_repr(*f))),
            },
            Self::Str(s) => Value::String(s.clone()),
            Self::List(items) => Value::Array(items.iter().map(Self::to_value).collect::<Result<_, _>>()?),
            Self::Dict(entries) => {
                let mut map = Map::new();
                for (k, v) in entries {
                    map.insert(k.clone(), v.to_value()?);
                }
                Value::Object(map)
            }
        })
    }

    /// A JSON value as Python holds it after `json.loads`.
    pub fn from_value(v: &Value) -> Self {
        match v {
            Value::Null => Self::None,
            Value::Bool(b) => Self::Bool(*b),
            Value::Number(n) if n.is_f64() => Self::Float(n.as_f64().unwrap_or(f64::NAN)),
            Value::Number(n) => Self::Int(n.to_string()),
            Value::String(s) => Self::Str(s.clone()),
            Value::Array(a) => Self::List(a.iter().map(Self::from_value).collect()),
            Value::Object(o) => Self::Dict(o.iter().map(|(k, v)| (k.clone(), Self::from_value(v))).collect()),
        }
    }

    /// Whether this is `None` (Python's `parsed is None`).
    pub fn is_none(&self) -> bool {
        matches!(self, Self::None)
    }
}

fn int_value(digits: &str) -> Result<Value, String> {
    if let Ok(i) = digits.parse::<i64>() {
        return Ok(Value::from(i));
    }
    if let Ok(u) = digits.parse::<u64>() {
        return Ok(Value::from(u));
    }
    Err(format!("the integer {digits} is too large for JSON"))
}

/// Inserts like a Python dict: an existing key keeps its place and takes the new value.
pub fn dict_insert(entries: &mut IndexMap<String, Py>, key: String, value: Py) {
    entries.insert(key, value);
}

/// Canonical decimal text of an integer literal's digits (`-007` → `-7`, `-0` → `0`).
pub fn canonical_int(negative: bool, digits: &str) -> String {
    let trimmed = digits.trim_start_matches('0');
    if trimmed.is_empty() {
        "0".to_owned()
    } else if negative {
        format!("-{trimmed}")
    } else {
        trimmed.to_owned()
    }
}

/// Python's json nesting gives up (RecursionError) near the interpreter's recursion limit.
const MAX_DEPTH: usize = 900;

struct Decoder<'a> {
    s: &'a str,
    pos: usize,
}

/// `json.loads(s)`: one value, JSON whitespace around it and nothing else.
pub fn loads(s: &str) -> Result<Py, DecodeError> {
    let mut d = Decoder { s, pos: 0 };
    d.ws();
    let value = d.value(0)?;
    d.ws();
    if d.pos == s.len() { Ok(value) } else { Err(DecodeError::Syntax) }
}

/// `JSONDecoder().raw_decode(s)`: the value at the very start of `s`; what follows is ignored.
pub fn raw_decode(s: &str) -> Result<Py, DecodeError> {
    Decoder { s, pos: 0 }.value(0)
}

impl Decoder<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, word: &str) -> bool {
        if self.s[self.pos..].starts_with(word) {
            self.pos += word.len();
            true
        } else {
            false
        }
    }

    fn value(&mut self, depth: usize) -> Result<Py, DecodeError> {
        if depth > MAX_DEPTH {
            return Err(DecodeError::Syntax);
        }
        match self.peek().ok_or(DecodeError::Syntax)? {
            b'"' => self.string().map(Py::Str),
            b'{' => self.object(depth),
            b'[' => self.array(depth),
            b'n' if self.eat("null") => Ok(Py::None),
            b't' if self.eat("true") => Ok(Py::Bool(true)),
            b'f' if self.eat("false") => Ok(Py::Bool(false)),
            b'N' if self.eat("NaN") => Ok(Py::Float(f64::NAN)),
            b'I' if self.eat("Infinity") => Ok(Py::Float(f64::INFINITY)),
            b'-' if self.eat("-Infinity") => Ok(Py::Float(f64::NEG_INFINITY)),
            b'-' | b'0'..=b'9' => self.number(),
            _ => Err(DecodeError::Syntax),
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.pos;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.pos += 1;
        }
        self.pos - start
    }

    /// `-?(0|[1-9]\d*)(\.\d+)?([eE][-+]?\d+)?`: an int without fraction or exponent.
    fn number(&mut self) -> Result<Py, DecodeError> {
        let start = self.pos;
        let negative = self.eat("-");
        let int_start = self.pos;
        if self.eat("0") {
        } else if self.digits() == 0 {
            return Err(DecodeError::Syntax);
        }
        let int_end = self.pos;
        let mut is_float = false;
        let save = self.pos;
        if self.eat(".") {
            if self.digits() == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        let save = self.pos;
        if matches!(self.peek(), Some(b'e' | b'E')) {
            self.pos += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.pos += 1;
            }
            if self.digits() == 0 {
                self.pos = save;
            } else {
                is_float = true;
            }
        }
        if is_float {
            let f = self.s[start..self.pos].parse::<f64>().map_err(|_| DecodeError::Syntax)?;
            Ok(Py::Float(f))
        } else {
            Ok(Py::Int(canonical_int(negative, &self.s[int_start..int_end])))
        }
    }

    fn hex4(&mut self) -> Result<u32, DecodeError> {
        let hex = self.s.get(self.pos..self.pos + 4).ok_or(DecodeError::Syntax)?;
        if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(DecodeError::Syntax);
        }
        self.pos += 4;
        u32::from_str_radix(hex, 16).map_err(|_| DecodeError::Syntax)
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            let rest = &self.s[self.pos..];
            let c = rest.chars().next().ok_or(DecodeError::Syntax)?;
            self.pos += c.len_utf8();
            match c {
                '"' => return Ok(out),
                '\\' => {
                    let e = self.peek().ok_or(DecodeError::Syntax)?;
                    self.pos += 1;
                    match e {
                        b'"' => out.push('"'),
                        b'\\' => out.push('\\'),
                        b'/' => out.push('/'),
                        b'b' => out.push('\u{8}'),
                        b'f' => out.push('\u{c}'),
                        b'n' => out.push('\n'),
                        b'r' => out.push('\r'),
                        b't' => out.push('\t'),
                        b'u' => out.push(self.unicode_escape()?),
                        _ => return Err(DecodeError::Syntax),
                    }
                }
                c if (c as u32) < 0x20 => return Err(DecodeError::Syntax),
                c => out.push(c),
            }
        }
    }

    /// `\uXXXX`, joined with a following `\uXXXX` low surrogate as Python does.
    fn unicode_escape(&mut self) -> Result<char, DecodeError> {
        let first = self.hex4()?;
        if (0xD800..0xDC00).contains(&first) && self.s[self.pos..].starts_with("\\u") {
            let save = self.pos;
            self.pos += 2;
            let second = self.hex4()?;
            if (0xDC00..0xE000).contains(&second) {
                let code = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                return char::from_u32(code).ok_or(DecodeError::Syntax);
            }
            self.pos = save;
        }
        char::from_u32(first)
            .ok_or_else(|| DecodeError::Unsupported("a lone surrogate cannot be carried in JSON".into()))
    }

    fn object(&mut self, depth: usize) -> Result<Py, DecodeError> {
        self.pos += 1;
        let mut entries = IndexMap::new();
        self.ws();
        if self.eat("}") {
            return Ok(Py::Dict(entries));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(DecodeError::Syntax);
            }
            let key = self.string()?;
            self.ws();
            if !self.eat(":") {
                return Err(DecodeError::Syntax);
            }
            self.ws();
            let value = self.value(depth + 1)?;
            dict_insert(&mut entries, key, value);
            self.ws();
            if self.eat("}") {
                return Ok(Py::Dict(entries));
            }
            if !self.eat(",") {
                return Err(DecodeError::Syntax);
            }
            self.ws();
        }
    }

    fn array(&mut self, depth: usize) -> Result<Py, DecodeError> {
        self.pos += 1;
        let mut items = Vec::new();
        self.ws();
        if self.eat("]") {
            return Ok(Py::List(items));
        }
        loop {
            items.push(self.value(depth + 1)?);
            self.ws();
            if self.eat("]") {
                return Ok(Py::List(items));
            }
            if !self.eat(",") {
                return Err(DecodeError::Syntax);
            }
            self.ws();
        }
    }
}

/// How `json.dumps` lays a value out.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// `indent=`: `None` keeps everything on one line.
    pub indent: Option<usize>,
    /// Separator between items (`", "`, `","`).
    pub item_sep: &'static str,
    /// Separator between a key and its value (`": "`, `":"`).
    pub key_sep: &'static str,
    pub sort_keys: bool,
}

/// `json.dumps(value, ensure_ascii=False, ...)`.
pub fn dumps(value: &Py, layout: Layout) -> String {
    let mut out = String::new();
    dump(value, layout, 0, &mut out);
    out
}

fn newline(layout: Layout, level: usize, out: &mut String) {
    if let Some(n) = layout.indent {
        out.push('\n');
        out.push_str(&" ".repeat(n * level));
    }
}

fn dump(value: &Py, layout: Layout, level: usize, out: &mut String) {
    match value {
        Py::None => out.push_str("null"),
        Py::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Py::Int(digits) => out.push_str(digits),
        Py::Float(f) if f.is_nan() => out.push_str("NaN"),
        Py::Float(f) if f.is_infinite() => out.push_str(if *f > 0.0 { "Infinity" } else { "-Infinity" }),
        Py::Float(f) => out.push_str(&float_repr(*f)),
        Py::Str(s) => dump_str(s, out),
        Py::List(items) if items.is_empty() => out.push_str("[]"),
        Py::List(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(layout.item_sep);
                }
                newline(layout, level + 1, out);
                dump(item, layout, level + 1, out);
            }
            newline(layout, level, out);
            out.push(']');
        }
        Py::Dict(entries) if entries.is_empty() => out.push_str("{}"),
        Py::Dict(entries) => {
            let mut entries: Vec<(&String, &Py)> = entries.iter().collect();
            if layout.sort_keys {
                // Python sorts str keys by code point, which is UTF-8 byte order.
                entries.sort_by(|a, b| a.0.cmp(b.0));
            }
            out.push('{');
            for (i, (k, v)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(layout.item_sep);
                }
                newline(layout, level + 1, out);
                dump_str(k, out);
                out.push_str(layout.key_sep);
                dump(v, layout, level + 1, out);
            }
            newline(layout, level, out);
            out.push('}');
        }
    }
}
