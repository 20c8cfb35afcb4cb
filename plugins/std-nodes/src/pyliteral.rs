//! `ast.literal_eval` for the Python-literal text LLMs often produce (`{'a': True, 'b': None}`),
//! followed by the reference's `_jsonify` (tuples become lists, dict keys become `str(key)`,
//! bytes become their `repr`).
//!
//! Supported: str and bytes literals (all quote styles, prefixes, escapes except `\N{...}`,
//! adjacent literals joined), ints (decimal, hex, octal, binary, underscores), floats, `True`,
//! `False`, `None`, one sign on a number, lists, tuples, dicts, comments and line breaks
//! inside brackets. Set, complex and `...` literals are valid Python but are reported as
//! unsupported rather than rendered with `str()` like the reference does.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::pyjson::{DecodeError, Py, canonical_int, dict_insert};
use crate::pyval::{float_repr, str_repr};

/// Python's tokenizer stops at 200 nested brackets ("too many nested parentheses").
const MAX_NESTING: usize = 200;

/// A literal before `_jsonify`.
#[derive(Debug, Clone)]
enum Lit {
    None,
    Bool(bool),
    Int(String),
    Float(f64),
    Str(String),
    Bytes(Vec<u8>),
    List(Vec<Lit>),
    Tuple(Vec<Lit>),
    Dict(Vec<(Lit, Lit)>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Str { bytes: bool, text: String },
    Int(String),
    Float(f64),
    Name(String),
    Op(char),
    Newline,
    End,
}

fn syntax<T>() -> Result<T, DecodeError> {
    Err(DecodeError::Syntax)
}

fn unsupported<T>(what: &str) -> Result<T, DecodeError> {
    Err(DecodeError::Unsupported(format!("{what} is not supported in Python-literal input")))
}

/// `_jsonify(ast.literal_eval(text))`.
pub fn literal_eval(text: &str) -> Result<Py, DecodeError> {
    let toks = tokenize(text)?;
    let mut p = Parser { toks, pos: 0 };
    let (lit, _) = p.expr_list(0, &Tok::End)?;
    while p.peek() == &Tok::Newline {
        p.pos += 1;
    }
    if p.peek() != &Tok::End {
        return syntax();
    }
    jsonify(&lit)
}

// ---------------------------------------------------------------------------------------------
// Tokens

fn tokenize(text: &str) -> Result<Vec<Tok>, DecodeError> {
    let chars: Vec<char> = text.chars().collect();
    let mut toks = Vec::new();
    let mut i = 0;
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            ' ' | '\t' | '\x0c' => i += 1,
            '\\' if chars.get(i + 1) == Some(&'\n') => i += 2,
            '\n' | '\r' => {
                if depth == 0 && toks.last().is_some_and(|t| *t != Tok::Newline) {
                    toks.push(Tok::Newline);
                }
                i += 1;
            }
            '#' => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '(' | '[' | '{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return syntax();
                }
                toks.push(Tok::Op(c));
                i += 1;
            }
            ')' | ']' | '}' => {
                depth = depth.checked_sub(1).ok_or(DecodeError::Syntax)?;
                toks.push(Tok::Op(c));
                i += 1;
            }
            ',' | ':' | '+' | '-' => {
                toks.push(Tok::Op(c));
                i += 1;
            }
            '\'' | '"' => {
                let (tok, next) = string(&chars, i, "")?;
                toks.push(tok);
                i = next;
            }
            '0'..='9' => {
                let (tok, next) = number(&chars, i)?;
                toks.push(tok);
                i = next;
            }
            '.' if chars.get(i + 1).is_some_and(char::is_ascii_digit) => {
                let (tok, next) = number(&chars, i)?;
                toks.push(tok);
                i = next;
            }
            '.' if chars[i..].starts_with(&['.', '.', '.']) => return unsupported("Ellipsis"),
            c if c == '_' || c.is_alphabetic() => {
                let start = i;
                while i < chars.len() && (chars[i] == '_' || chars[i].is_alphanumeric()) {
                    i += 1;
                }
                let name: String = chars[start..i].iter().collect();
                if matches!(chars.get(i), Some('\'' | '"')) {
                    let (tok, next) = string(&chars, i, &name.to_ascii_lowercase())?;
                    toks.push(tok);
                    i = next;
                } else {
                    toks.push(Tok::Name(name));
                }
            }
            _ => return syntax(),
        }
    }
    toks.push(Tok::End);
    Ok(toks)
}

/// A digit run with single underscores between digits; returns its digits.
fn digit_part(chars: &[char], i: &mut usize, radix: u32) -> Option<String> {
    let mut out = String::new();
    let mut last_underscore = false;
    while let Some(&c) = chars.get(*i) {
        if c == '_' && !out.is_empty() && !last_underscore {
            last_underscore = true;
        } else if c.is_digit(radix) {
            out.push(c);
            last_underscore = false;
        } else {
            break;
        }
        *i += 1;
    }
    if last_underscore {
        return None;
    }
    (!out.is_empty()).then_some(out)
}

fn number(chars: &[char], start: usize) -> Result<(Tok, usize), DecodeError> {
    let mut i = start;
    let prefix = chars.get(i + 1).map(char::to_ascii_lowercase);
    if chars[i] == '0' && matches!(prefix, Some('x' | 'o' | 'b')) {
        let radix = match prefix {
            Some('x') => 16,
            Some('o') => 8,
            _ => 2,
        };
        i += 2;
        if chars.get(i) == Some(&'_') {
            i += 1;
        }
        let digits = digit_part(chars, &mut i, radix).ok_or(DecodeError::Syntax)?;
        end_of_number(chars, i)?;
        let value = u128::from_str_radix(&digits, radix)
            .map_err(|_| DecodeError::Unsupported("an integer this large in hex, octal or binary".into()))?;
        return Ok((Tok::Int(value.to_string()), i));
    }
    let whole = if chars[i] == '.' { None } else { Some(digit_part(chars, &mut i, 10).ok_or(DecodeError::Syntax)?) };
    let mut is_float = false;
    let mut text = whole.clone().unwrap_or_default();
    if chars.get(i) == Some(&'.') {
        i += 1;
        is_float = true;
        text.push('.');
        if chars.get(i).is_some_and(char::is_ascii_digit) {
            text.push_str(&digit_part(chars, &mut i, 10).ok_or(DecodeError::Syntax)?);
        } else if whole.is_none() {
            return syntax();
        }
    }
    if matches!(chars.get(i), Some('e' | 'E')) {
        let mut j = i + 1;
        let mut exp = String::from("e");
        if let Some(&s @ ('+' | '-')) = chars.get(j) {
            exp.push(s);
            j += 1;
        }
        if chars.get(j).is_some_and(char::is_ascii_digit) {
            exp.push_str(&digit_part(chars, &mut j, 10).ok_or(DecodeError::Syntax)?);
            text.push_str(&exp);
            i = j;
            is_float = true;
        }
    }
    if matches!(chars.get(i), Some('j' | 'J')) {
        return unsupported("a complex number");
    }
    end_of_number(chars, i)?;
    if is_float {
        let text = if text.starts_with('.') { format!("0{text}") } else { text };
        let f = text.parse::<f64>().map_err(|_| DecodeError::Syntax)?;
        return Ok((Tok::Float(f), i));
    }
    let digits = whole.unwrap_or_default();
    if digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
        return syntax(); // leading zeros in decimal integer literals are not permitted
    }
    Ok((Tok::Int(canonical_int(false, &digits)), i))
}

fn end_of_number(chars: &[char], i: usize) -> Result<(), DecodeError> {
    match chars.get(i) {
        Some(&c) if c == '_' || c.is_alphanumeric() => syntax(),
        _ => Ok(()),
    }
}

fn hex_escape(chars: &[char], i: &mut usize, n: usize) -> Result<u32, DecodeError> {
    let text: String = chars.get(*i..*i + n).ok_or(DecodeError::Syntax)?.iter().collect();
    if text.len() != n || !text.chars().all(|c| c.is_ascii_hexdigit()) {
        return syntax();
    }
    *i += n;
    u32::from_str_radix(&text, 16).map_err(|_| DecodeError::Syntax)
}

/// A string literal at `start` (the opening quote), with `prefix` already read.
fn string(chars: &[char], start: usize, prefix: &str) -> Result<(Tok, usize), DecodeError> {
    let (raw, bytes) = match prefix {
        "" | "u" => (false, false),
        "r" => (true, false),
        "b" => (false, true),
        "br" | "rb" => (true, true),
        _ => return syntax(), // f-strings are not literals; anything else is a name
    };
    let q = chars[start];
    let triple = chars.get(start + 1) == Some(&q) && chars.get(start + 2) == Some(&q);
    let mut i = start + if triple { 3 } else { 1 };
    let mut out: Vec<u32> = Vec::new();
    loop {
        let c = *chars.get(i).ok_or(DecodeError::Syntax)?;
        if c == q && (!triple || (chars.get(i + 1) == Some(&q) && chars.get(i + 2) == Some(&q))) {
            i += if triple { 3 } else { 1 };
            break;
        }
        if c == '\n' && !triple {
            return syntax();
        }
        if bytes && !c.is_ascii() {
            return syntax();
        }
        i += 1;
        if c != '\\' {
            out.push(c as u32);
            continue;
        }
        let e = *chars.get(i).ok_or(DecodeError::Syntax)?;
        i += 1;
        if raw {
            out.push('\\' as u32);
            out.push(e as u32);
            continue;
        }
        match e {
            '\n' => {}
            '\\' | '\'' | '"' => out.push(e as u32),
            'a' => out.push(7),
            'b' => out.push(8),
            'f' => out.push(12),
            'n' => out.push(10),
            'r' => out.push(13),
            't' => out.push(9),
            'v' => out.push(11),
            '0'..='7' => {
                let mut value = e.to_digit(8).unwrap_or(0);
                for _ in 0..2 {
                    match chars.get(i).and_then(|c| c.to_digit(8)) {
                        Some(d) => {
                            value = value * 8 + d;
                            i += 1;
                        }
                        None => break,
                    }
                }
                if bytes && value > 0xff {
                    return unsupported("an octal escape above \\377 in bytes");
                }
                out.push(value);
            }
            'x' => out.push(hex_escape(chars, &mut i, 2)?),
            'u' if !bytes => out.push(hex_escape(chars, &mut i, 4)?),
            'U' if !bytes => {
                let v = hex_escape(chars, &mut i, 8)?;
                if v > 0x10FFFF {
                    return syntax();
                }
                out.push(v);
            }
            'N' if !bytes => return unsupported("a \\N{...} escape"),
            other => {
                out.push('\\' as u32);
                out.push(other as u32);
            }
        }
    }
    let text = if bytes {
        out.iter().map(|&b| char::from(u8::try_from(b).unwrap_or(b'?'))).collect()
    } else {
        out.iter()
            .map(|&c| char::from_u32(c).ok_or_else(|| DecodeError::Unsupported("a lone surrogate".into())))
            .collect::<Result<String, _>>()?
    };
    Ok((Tok::Str { bytes, text }, i))
}

// ---------------------------------------------------------------------------------------------
// Parser

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).unwrap_or(&Tok::End)
    }

    fn next(&mut self) -> Tok {
        let t = self.peek().clone();
        self.pos += 1;
        t
    }

    fn at_op(&self, c: char) -> bool {
        self.peek() == &Tok::Op(c)
    }

    /// `expr` or `expr, expr, ...` (a tuple) up to `closer`, at the top level or in parens;
    /// the flag says the result is a bare number literal (see `atom`).
    fn expr_list(&mut self, depth: usize, closer: &Tok) -> Result<(Lit, bool), DecodeError> {
        if self.peek() == closer {
            return if *closer == Tok::End { syntax() } else { Ok((Lit::Tuple(Vec::new()), false)) };
        }
        let (first, plain) = self.expr(depth)?;
        if !self.at_op(',') {
            return Ok((first, plain));
        }
        let mut items = vec![first];
        while self.at_op(',') {
            self.pos += 1;
            if self.peek() == closer || (*closer == Tok::End && self.peek() == &Tok::Newline) {
                break;
            }
            items.push(self.expr(depth)?.0);
        }
        Ok((Lit::Tuple(items), false))
    }

    /// One expression; a sign applies only to a bare number literal (`-(1)` is fine,
    /// `--1` and `-True` are not).
    fn expr(&mut self, depth: usize) -> Result<(Lit, bool), DecodeError> {
        if let Tok::Op(sign @ ('+' | '-')) = *self.peek() {
            self.pos += 1;
            let value = match self.atom(depth)? {
                (Lit::Int(d), true) if sign == '-' => Lit::Int(negate(&d)),
                (Lit::Float(f), true) if sign == '-' => Lit::Float(-f),
                (v @ (Lit::Int(_) | Lit::Float(_)), true) => v,
                _ => return syntax(),
            };
            return Ok((value, false));
        }
        self.atom(depth)
    }

    /// An atom, and whether it is a bare number literal (possibly in parentheses).
    fn atom(&mut self, depth: usize) -> Result<(Lit, bool), DecodeError> {
        match self.next() {
            Tok::Int(d) => Ok((Lit::Int(d), true)),
            Tok::Float(f) => Ok((Lit::Float(f), true)),
            Tok::Name(n) => match n.as_str() {
                "True" => Ok((Lit::Bool(true), false)),
                "False" => Ok((Lit::Bool(false), false)),
                "None" => Ok((Lit::None, false)),
                _ => syntax(),
            },
            Tok::Str { bytes, mut text } => {
                while let Tok::Str { bytes: b2, text: more } = self.peek().clone() {
                    if b2 != bytes {
                        return syntax();
                    }
                    text.push_str(&more);
                    self.pos += 1;
                }
                let lit =
                    if bytes { Lit::Bytes(text.chars().map(|c| c as u32 as u8).collect()) } else { Lit::Str(text) };
                Ok((lit, false))
            }
            Tok::Op('(') => {
                let closer = Tok::Op(')');
                let inner = self.expr_list(depth + 1, &closer)?;
                if self.next() != closer {
                    return syntax();
                }
                Ok(inner)
            }
            Tok::Op('[') => {
                let mut items = Vec::new();
                while !self.at_op(']') {
                    items.push(self.expr(depth + 1)?.0);
                    if !self.at_op(',') {
                        break;
                    }
                    self.pos += 1;
                }
                if self.next() != Tok::Op(']') {
                    return syntax();
                }
                Ok((Lit::List(items), false))
            }
            Tok::Op('{') => self.dict(depth).map(|d| (d, false)),
            _ => syntax(),
        }
    }

    fn dict(&mut self, depth: usize) -> Result<Lit, DecodeError> {
        let mut entries: Vec<(Lit, Lit)> = Vec::new();
        while !self.at_op('}') {
            let key = self.expr(depth + 1)?.0;
            if !self.at_op(':') {
                return if matches!(self.peek(), Tok::Op(',' | '}')) { unsupported("a set literal") } else { syntax() };
            }
            self.pos += 1;
            let value = self.expr(depth + 1)?.0;
            entries.push((key, value));
            if !self.at_op(',') {
                break;
            }
            self.pos += 1;
        }
        if self.next() != Tok::Op('}') {
            return syntax();
        }
        // `dict(zip(keys, values))`: keys must be hashable; equal keys (1, 1.0, True) merge.
        let mut out: Vec<(Lit, Lit)> = Vec::new();
        let mut index: HashMap<String, usize> = HashMap::new();
        for (k, v) in entries {
            let id = key_id(&k).ok_or(DecodeError::Syntax)?;
            match index.get(&id) {
                Some(&at) => out[at].1 = v,
                None => {
                    index.insert(id, out.len());
                    out.push((k, v));
                }
            }
        }
        Ok(Lit::Dict(out))
    }
}

fn negate(digits: &str) -> String {
    match digits.strip_prefix('-') {
        Some(rest) => rest.to_owned(),
        None if digits == "0" => digits.to_owned(),
        None => format!("-{digits}"),
    }
}

/// What makes two dict keys the same key in Python (`True == 1 == 1.0`, tuples item by
/// item); `None` for an unhashable key (a list or dict, which makes Python raise).
fn key_id(k: &Lit) -> Option<String> {
    Some(match k {
        Lit::None => "N".into(),
        Lit::Bool(b) => format!("n{}", i32::from(*b)),
        Lit::Int(d) => format!("n{d}"),
        // An integral float is the int it equals; others keep their repr.
        Lit::Float(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e38 => format!("n{}", *f as i128),
        Lit::Float(f) => format!("f{}", float_repr(*f)),
        Lit::Str(s) => format!("s{s}"),
        Lit::Bytes(b) => format!("b{}", bytes_repr(b)),
        Lit::Tuple(items) => {
            let ids: Option<Vec<String>> = items.iter().map(key_id).collect();
            format!("t({})", ids?.iter().map(|id| format!("{}:{id}", id.len())).collect::<String>())
        }
        Lit::List(_) | Lit::Dict(_) => return None,
    })
}

/// `repr(bytes)`.
fn bytes_repr(b: &[u8]) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') { '"' } else { '\'' };
    let mut out = format!("b{quote}");
    for &byte in b {
        match byte {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if char::from(c) == quote => {
                out.push('\\');
                out.push(quote);
            }
            c if !(0x20..0x7f).contains(&c) => out.push_str(&format!("\\x{c:02x}")),
            c => out.push(char::from(c)),
        }
    }
    out.push(quote);
    out
}

/// `str(key)` for a dict key (`repr` for the items of a tuple).
fn key_str(k: &Lit) -> String {
    match k {
        Lit::Str(s) => s.clone(),
        other => lit_repr(other),
    }
}

fn lit_repr(k: &Lit) -> String {
    match k {
        Lit::None => "None".into(),
        Lit::Bool(true) => "True".into(),
        Lit::Bool(false) => "False".into(),
        Lit::Int(d) => d.clone(),
        Lit::Float(f) => float_repr(*f),
        Lit::Str(s) => str_repr(s),
        Lit::Bytes(b) => bytes_repr(b),
        Lit::Tuple(items) if items.len() == 1 => format!("({},)", lit_repr(&items[0])),
        Lit::Tuple(items) => format!("({})", items.iter().map(lit_repr).collect::<Vec<_>>().join(", ")),
        // Unhashable: never a key.
        Lit::List(_) | Lit::Dict(_) => String::new(),
    }
}

fn jsonify(lit: &Lit) -> Result<Py, DecodeError> {
    Ok(match lit {
        Lit::None => Py::None,
        Lit::Bool(b) => Py::Bool(*b),
        Lit::Int(d) => Py::Int(d.clone()),
        Lit::Float(f) => Py::Float(*f),
        Lit::Str(s) => Py::Str(s.clone()),
        Lit::Bytes(b) => Py::Str(bytes_repr(b)),
        Lit::List(items) | Lit::Tuple(items) => Py::List(items.iter().map(jsonify).collect::<Result<_, _>>()?),
        Lit::Dict(entries) => {
            let mut out = IndexMap::new();
            for (k, v) in entries {
                dict_insert(&mut out, key_str(k), jsonify(v)?);
            }
            Py::Dict(out)
        }
    })
}
