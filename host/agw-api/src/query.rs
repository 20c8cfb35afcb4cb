//! Query strings read into typed structs, refusals in the reference's shape: a value that
//! does not parse is a 422 naming `["query", <field>]` with pydantic's error type, never a
//! plain-text 400.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::ApiError;

/// `Query<T>` with the reference's 422 on a bad value.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse(parts.uri.query().unwrap_or_default()).map(Query)
    }
}

fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded_pairs(query));
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let field = error.path().to_string();
        let input = form_urlencoded_pairs(query)
            .find(|(key, _)| *key == field)
            .map_or(Value::Null, |(_, value)| Value::String(value.into_owned()));
        let reason = error.into_inner().to_string();
        let (kind, msg) = if reason.contains("invalid digit") || reason.contains("number too large") {
            ("int_parsing", "Input should be a valid integer, unable to parse string as an integer".to_owned())
        } else if reason.contains("`true` or `false`") {
            ("bool_parsing", "Input should be a valid boolean, unable to interpret input".to_owned())
        } else {
            ("value_error", format!("Value error, {reason}"))
        };
        ApiError::invalid(kind, &["query", &field], &msg, input)
    })
}

/// A boolean query value as FastAPI reads one (`true`/`1`/`yes`/`on`/`t`/`y` and their
/// opposites, any case); `default` when absent; otherwise the reference's 422.
pub(crate) fn query_bool(name: &str, raw: Option<&str>, default: bool) -> Result<bool, ApiError> {
    match raw.map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("true" | "1" | "yes" | "on" | "t" | "y") => Ok(true),
        Some("false" | "0" | "no" | "off" | "f" | "n") => Ok(false),
        Some(_) => Err(ApiError::invalid(
            "bool_parsing",
            &["query", name],
            "Input should be a valid boolean, unable to interpret input",
            Value::String(raw.unwrap_or_default().to_owned()),
        )),
    }
}

fn form_urlencoded_pairs(query: &str) -> form_urlencoded::Parse<'_> {
    form_urlencoded::parse(query.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        limit: Option<usize>,
        root_only: Option<bool>,
    }

    #[test]
    fn bad_values_are_named_in_the_reference_shape() {
        let page: Page = parse("limit=5&root_only=true").expect("parses");
        assert_eq!((page.limit, page.root_only), (Some(5), Some(true)));
        let error = parse::<Page>("limit=abc").expect_err("refused");
        assert_eq!(error.status, axum::http::StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error.detail,
            serde_json::json!([{"type": "int_parsing", "loc": ["query", "limit"],
                "msg": "Input should be a valid integer, unable to parse string as an integer", "input": "abc"}])
        );
        let error = parse::<Page>("root_only=maybe").expect_err("refused");
        assert_eq!(error.detail[0]["type"], "bool_parsing");
        assert_eq!(error.detail[0]["loc"], serde_json::json!(["query", "root_only"]));
    }
}
