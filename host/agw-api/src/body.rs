//! Typed JSON request bodies. A body that is not JSON, not an object, or has a field of the
//! wrong type (or a required one missing) is refused with the reference's 422, naming the
//! field in pydantic's words; a field of another type is never taken as absent.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// A JSON object body read into `T`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))?;
        parse(&bytes).map(Body)
    }
}

/// Reads `bytes` as a JSON object into `T`.
pub(crate) fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::invalid("json_invalid", &["body"], &format!("JSON decode error: {e}"), Value::Null))?;
    if !value.is_object() {
        return Err(ApiError::invalid("model_attributes_type", &["body"], "Input should be a valid dictionary", value));
    }
    serde_path_to_error::deserialize(&value).map_err(|error| refusal(&value, error))
}

/// The 422 for the first field `T` could not take.
fn refusal(body: &Value, error: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    use serde_path_to_error::Segment;
    let mut loc: Vec<String> = vec!["body".into()];
    let mut at = Some(body);
    for segment in error.path().iter() {
        match segment {
            Segment::Map { key } => {
                at = at.and_then(|v| v.get(key));
                loc.push(key.clone());
            }
            Segment::Seq { index } => {
                at = at.and_then(|v| v.get(index));
                loc.push(index.to_string());
            }
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    let reason = error.into_inner().to_string();
    if let Some(field) = reason.strip_prefix("missing field `").and_then(|r| r.split('`').next()) {
        // pydantic's input for a missing field is the object that lacks it.
        loc.push(field.to_owned());
        return ApiError::validation("missing", loc, "Field required", at.cloned().unwrap_or(Value::Null));
    }
    let input = at.cloned().unwrap_or(Value::Null);
    let expected = |what: &str| reason.contains(&format!("expected {what}"));
    let (kind, msg) = if expected("a string") {
        ("string_type", "Input should be a valid string".to_owned())
    } else if expected("a map") {
        ("dict_type", "Input should be a valid dictionary".to_owned())
    } else if expected("a boolean") {
        ("bool_type", "Input should be a valid boolean".to_owned())
    } else if expected("a sequence") {
        ("list_type", "Input should be a valid list".to_owned())
    } else if ["i64", "u64", "i32", "u32", "usize"].iter().any(|t| expected(t)) {
        match &input {
            Value::String(_) => {
                ("int_parsing", "Input should be a valid integer, unable to parse string as an integer".to_owned())
            }
            Value::Number(n) if n.is_f64() => {
                ("int_from_float", "Input should be a valid integer, got a number with a fractional part".to_owned())
            }
            _ => ("int_type", "Input should be a valid integer".to_owned()),
        }
    } else {
        ("value_error", format!("Value error, {reason}"))
    };
    ApiError::validation(kind, loc, &msg, input)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Sample {
        id: String,
        note: Option<String>,
        data: Option<serde_json::Map<String, Value>>,
        count: Option<i64>,
        flag: Option<bool>,
    }

    fn refused(body: Value) -> Value {
        parse::<Sample>(body.to_string().as_bytes()).expect_err("refused").detail
    }

    #[test]
    fn each_wrong_field_is_named_with_pydantics_type() {
        assert!(parse::<Sample>(br#"{"id": "a", "note": null, "extra": 1}"#).is_ok());
        let cases = [
            (json!({"id": 5}), "string_type", "id", json!(5)),
            (json!({"id": "a", "note": 1}), "string_type", "note", json!(1)),
            (json!({"id": "a", "data": []}), "dict_type", "data", json!([])),
            (json!({"id": "a", "count": "x"}), "int_parsing", "count", json!("x")),
            (json!({"id": "a", "count": 1.5}), "int_from_float", "count", json!(1.5)),
            (json!({"id": "a", "flag": "yes"}), "bool_type", "flag", json!("yes")),
            (json!({"id": null}), "string_type", "id", Value::Null),
        ];
        for (body, kind, field, input) in cases {
            let detail = refused(body.clone());
            assert_eq!(detail[0]["type"], kind, "{body}");
            assert_eq!(detail[0]["loc"], json!(["body", field]), "{body}");
            assert_eq!(detail[0]["input"], input, "{body}");
        }
    }

    #[test]
    fn a_missing_field_names_it_and_shows_the_object() {
        let detail = refused(json!({"note": "x"}));
        assert_eq!(
            detail,
            json!([{"type": "missing", "loc": ["body", "id"], "msg": "Field required", "input": {"note": "x"}}])
        );
    }

    #[test]
    fn not_json_or_not_an_object_is_refused_as_the_reference_does() {
        let error = parse::<Sample>(b"{nope").expect_err("refused");
        assert_eq!(error.detail[0]["type"], "json_invalid");
        let error = parse::<Sample>(b"[1]").expect_err("refused");
        assert_eq!(error.detail[0]["type"], "model_attributes_type");
        assert_eq!(error.detail[0]["input"], json!([1]));
    }
}
