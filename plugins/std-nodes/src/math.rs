//! Math nodes. The reference converts every operand with `float()`, so results are always
//! floats except `random_int`.

use serde_json::{Map, Value};

use crate::pyval::{to_float, to_int};
use crate::{NodeResult, fail, invalid, number};

/// `float(inputs.get(pin, default))`: absent takes the default, but an explicit null fails.
fn operand(inputs: &Map<String, Value>, pin: &str, default: f64) -> Result<f64, crate::Error> {
    match inputs.get(pin) {
        None => Ok(default),
        Some(v) => to_float(v).map_err(|e| invalid(pin, &e)),
    }
}

pub fn run(node_type: &str, inputs: &Map<String, Value>) -> Option<NodeResult> {
    let result = match node_type {
        "add" => binary(inputs, |a, b| Ok(a + b)),
        "subtract" => binary(inputs, |a, b| Ok(a - b)),
        "multiply" => binary(inputs, |a, b| Ok(a * b)),
        "divide" => divide(inputs),
        "modulo" => modulo(inputs),
        "power" => power(inputs),
        "abs" => operand(inputs, "value", 0.0).and_then(|v| number(v.abs())),
        "round" => round(inputs),
        "random_int" => Ok(random_int(inputs)),
        "random_float" => random_float(inputs),
        _ => return None,
    };
    Some(result)
}

fn binary(inputs: &Map<String, Value>, op: fn(f64, f64) -> NodeResult<f64>) -> NodeResult {
    let a = operand(inputs, "a", 0.0)?;
    let b = operand(inputs, "b", 0.0)?;
    number(op(a, b)?)
}

// The reference reads `b` (defaulting to 1) before `a`, so a bad `b` is the reported error.
fn divide(inputs: &Map<String, Value>) -> NodeResult {
    let b = operand(inputs, "b", 1.0)?;
    if b == 0.0 {
        return Err(invalid("b", "Division by zero"));
    }
    let a = operand(inputs, "a", 0.0)?;
    number(a / b)
}

/// Python's float `%`: the result takes the divisor's sign.
pub fn py_mod(a: f64, b: f64) -> f64 {
    let m = a % b;
    if m != 0.0 { if (b < 0.0) != (m < 0.0) { m + b } else { m } } else { 0.0_f64.copysign(b) }
}

fn modulo(inputs: &Map<String, Value>) -> NodeResult {
    let b = operand(inputs, "b", 1.0)?;
    if b == 0.0 {
        return Err(invalid("b", "Modulo by zero"));
    }
    let a = operand(inputs, "a", 0.0)?;
    number(py_mod(a, b))
}

fn power(inputs: &Map<String, Value>) -> NodeResult {
    let base = operand(inputs, "base", 0.0)?;
    let exp = operand(inputs, "exp", 1.0)?;
    if base == 0.0 && exp < 0.0 {
        return Err(invalid("base", "0.0 cannot be raised to a negative power"));
    }
    if base < 0.0 && base.is_finite() && exp.is_finite() && exp.fract() != 0.0 {
        // Python answers with a complex number, which JSON cannot carry.
        return Err(invalid("exp", "a negative base with a fractional exponent has a complex result"));
    }
    let r = base.powf(exp);
    if r.is_infinite() && base.is_finite() && exp.is_finite() {
        return Err(fail("power: numerical result out of range"));
    }
    number(r)
}

fn round(inputs: &Map<String, Value>) -> NodeResult {
    let value = operand(inputs, "value", 0.0)?;
    let decimals = match inputs.get("decimals") {
        None => 0,
        Some(v) => to_int(v).map_err(|e| invalid("decimals", &e))?,
    };
    number(py_round(value, decimals)?)
}

/// `round(float, ndigits)`: correctly rounded, ties to even on the exact binary value
/// (Rust's exact float formatting rounds the same way as CPython's dtoa).
pub fn py_round(x: f64, nd: i64) -> NodeResult<f64> {
    if !x.is_finite() || nd > 323 {
        return Ok(x);
    }
    if nd < -308 {
        return Ok(0.0 * x);
    }
    let r = if nd >= 0 {
        format!("{:.*}", nd as usize, x).parse::<f64>().unwrap_or(x)
    } else {
        round_left_of_point(x, (-nd) as usize)
    };
    if r.is_infinite() {
        return Err(fail("round: rounded value too large to represent"));
    }
    Ok(r)
}

/// Rounds to a multiple of 10^places using the exact decimal expansion of `x`.
fn round_left_of_point(x: f64, places: usize) -> f64 {
    let exact = format!("{:.1100}", x.abs());
    let (int_part, frac) = exact.split_once('.').unwrap_or((&exact, ""));
    let neg = x.is_sign_negative();
    let signed = |v: f64| if neg { -v } else { v };
    if int_part.len() < places {
        // |x| < 10^places / 10: below half a unit unless it reaches 5 * 10^(places-1).
        return signed(0.0);
    }
    let cut = int_part.len() - places;
    let (keep, dropped) = int_part.split_at(cut);
    let mut digits: Vec<u8> = keep.bytes().map(|b| b - b'0').collect();
    let first = dropped.as_bytes().first().map_or(0, |b| b - b'0');
    let rest_nonzero = dropped.bytes().skip(1).any(|b| b != b'0') || frac.bytes().any(|b| b != b'0');
    let last_odd = digits.last().is_some_and(|d| d % 2 == 1);
    let up = first > 5 || (first == 5 && (rest_nonzero || last_odd));
    if up {
        let mut i = digits.len();
        loop {
            if i == 0 {
                digits.insert(0, 1);
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    let mut text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    if text.is_empty() {
        text.push('0');
    }
    text.push_str(&"0".repeat(places));
    signed(text.parse::<f64>().unwrap_or(f64::INFINITY))
}

/// The reference falls back to the default when `float()`/`int()` fails, including for null.
fn lenient(inputs: &Map<String, Value>, pin: &str, default: f64) -> f64 {
    inputs.get(pin).and_then(|v| to_float(v).ok()).unwrap_or(default)
}

fn random_int(inputs: &Map<String, Value>) -> Value {
    let as_int = |f: f64, default: i64| if f.is_finite() { f as i64 } else { default };
    let mut lo = as_int(lenient(inputs, "min", 0.0), 0);
    let mut hi = as_int(lenient(inputs, "max", 100.0), 100);
    if hi < lo {
        std::mem::swap(&mut lo, &mut hi);
    }
    let span = (i128::from(hi) - i128::from(lo) + 1) as u128;
    let pick = (u128::from(crate::rng::next_u64()) * (1 << 64) + u128::from(crate::rng::next_u64())) % span;
    Value::from((i128::from(lo) + pick as i128) as i64)
}

fn random_float(inputs: &Map<String, Value>) -> NodeResult {
    let mut lo = lenient(inputs, "min", 0.0);
    let mut hi = lenient(inputs, "max", 1.0);
    if hi < lo {
        std::mem::swap(&mut lo, &mut hi);
    }
    if hi == lo {
        return number(lo);
    }
    // 53 random bits, like Python's random.random().
    let unit = (crate::rng::next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    number(lo + (hi - lo) * unit)
}
