//! Reading the fields of a JSON request body as the reference's models do: a field of the
//! wrong type is a 422 in pydantic's shape that names it, never taken as absent.

use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

/// An optional string at `loc` + `key`: absent or null is `None`, any other type is refused.
pub(crate) fn optional_str(map: &Map<String, Value>, loc: &[&str], key: &str) -> ApiResult<Option<String>> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => {
            Err(ApiError::invalid("string_type", &path(loc, key), "Input should be a valid string", other.clone()))
        }
    }
}

/// A required string: absent or null is pydantic's `missing` (its input is the whole object).
pub(crate) fn required_str(map: &Map<String, Value>, loc: &[&str], key: &str) -> ApiResult<String> {
    optional_str(map, loc, key)?
        .ok_or_else(|| ApiError::invalid("missing", &path(loc, key), "Field required", Value::Object(map.clone())))
}

/// A required string of at least one character.
pub(crate) fn required_text(map: &Map<String, Value>, loc: &[&str], key: &str) -> ApiResult<String> {
    let text = required_str(map, loc, key)?;
    if text.is_empty() {
        return Err(ApiError::invalid_with_ctx(
            "string_too_short",
            &path(loc, key),
            "String should have at least 1 character",
            Value::String(text),
            serde_json::json!({ "min_length": 1 }),
        ));
    }
    Ok(text)
}

fn path<'a>(loc: &[&'a str], key: &'a str) -> Vec<&'a str> {
    let mut path = loc.to_vec();
    path.push(key);
    path
}
