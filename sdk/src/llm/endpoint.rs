//! A provider's endpoint: its id, base URL and key, the requests sent to it, and every way
//! they fail turned into an [`LlmError`] that names the provider and the base URL, never the
//! key.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::{LlmError, RateLimit};
use crate::config::Secret;
use crate::http::{self, HttpError, StreamingResponse};
use crate::sse::{SseEvent, SseParser};

/// Longest provider message quoted in an error.
const MAX_QUOTED: usize = 300;

/// One provider id served at one base URL, with its key when it has one.
///
/// ```
/// use abstractgateway_sdk::llm::{Endpoint, LlmError};
/// use abstractgateway_sdk::Secret;
///
/// let endpoint = Endpoint::new("openai", "https://api.openai.com/v1/").with_key(Some(Secret::new("sk-123")));
/// assert_eq!(endpoint.url("/models"), "https://api.openai.com/v1/models");
/// let error = endpoint.status_error(401, &[], br#"{"error": {"message": "Incorrect API key sk-123"}}"#);
/// assert_eq!(
///     error,
///     LlmError::Auth("provider 'openai' (https://api.openai.com/v1) answered HTTP 401: Incorrect API key ***".into())
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    provider: String,
    base_url: String,
    key: Option<Secret>,
}

impl Endpoint {
    /// `provider` at `base_url` (a trailing `/` is dropped), without a key.
    pub fn new(provider: impl Into<String>, base_url: &str) -> Self {
        Self { provider: provider.into(), base_url: base_url.trim().trim_end_matches('/').to_owned(), key: None }
    }

    /// The same endpoint with `key` (a key that is blank counts as none).
    pub fn with_key(mut self, key: Option<Secret>) -> Self {
        self.key = key.filter(|k| !k.expose().trim().is_empty());
        self
    }

    /// The provider id.
    pub fn provider(&self) -> &str {
        &self.provider
    }

    /// The base URL, without a trailing `/`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The key, when there is one.
    pub fn key(&self) -> Option<&Secret> {
        self.key.as_ref()
    }

    /// `path` (starting with `/`) under the base URL.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// `text` with the key, if it appears, replaced by `***`.
    pub fn scrub(&self, text: &str) -> String {
        match &self.key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "***"),
            _ => text.to_owned(),
        }
    }

    /// `provider 'id' (base URL) <what>`, minus the key: the start of every error message.
    pub fn message(&self, what: &str) -> String {
        self.scrub(&format!("provider '{}' ({}) {what}", self.provider, self.base_url))
    }

    /// [`LlmError::Auth`]: `provider 'id' (base URL) <what>`.
    pub fn auth(&self, what: &str) -> LlmError {
        LlmError::Auth(self.message(what))
    }

    /// [`LlmError::InvalidRequest`]: `provider 'id' (base URL) <what>`.
    pub fn invalid_request(&self, what: &str) -> LlmError {
        LlmError::InvalidRequest(self.message(what))
    }

    /// [`LlmError::Unavailable`]: `provider 'id' (base URL) <what>`; also for a malformed or
    /// cut answer.
    pub fn unavailable(&self, what: &str) -> LlmError {
        LlmError::Unavailable(self.message(what))
    }

    /// [`LlmError::RateLimited`]: `provider 'id' (base URL) <what>`, with the wait the provider
    /// asked for, if any.
    pub fn rate_limited(&self, what: &str, retry_after_ms: Option<u64>) -> LlmError {
        LlmError::RateLimited(RateLimit { message: self.message(what), retry_after_ms })
    }

    /// [`LlmError::Other`]: `provider 'id' (base URL) <what>`.
    pub fn other(&self, what: &str) -> LlmError {
        LlmError::Other(self.message(what))
    }

    /// The error for a non-2xx answer: 401/403 are `auth`; 429 is `rate-limited`, with the
    /// wait from `retry-after-ms` or `retry-after` (seconds or an HTTP date); 400, 404, 409,
    /// 413, 415 and 422 are `invalid-request`; 408, 425 and 5xx are `unavailable`; anything
    /// else is `other`. The message quotes the provider's own (from a JSON `error.message`,
    /// `message` or `detail`, else the start of the body), minus the key.
    pub fn status_error(&self, status: u16, headers: &[(String, String)], body: &[u8]) -> LlmError {
        let quoted = provider_message(body);
        let what = if quoted.is_empty() {
            format!("answered HTTP {status}")
        } else {
            format!("answered HTTP {status}: {quoted}")
        };
        match status {
            401 | 403 => self.auth(&what),
            429 => self.rate_limited(&what, retry_after_ms(headers, SystemTime::now())),
            400 | 404 | 409 | 413 | 415 | 422 => self.invalid_request(&what),
            408 | 425 | 500..=599 => self.unavailable(&what),
            _ => self.other(&what),
        }
    }

    /// The error for a request that got no usable answer: a refused connection, a timeout,
    /// a cut or malformed body are `unavailable`; a host the gateway did not grant, an
    /// invalid URL or a body over the size limit are `other`. An [`HttpError::Status`] maps
    /// like [`Endpoint::status_error`].
    pub fn http_error(&self, error: &HttpError) -> LlmError {
        match error {
            HttpError::Status { status, body } => self.status_error(*status, &[], body.as_bytes()),
            HttpError::Timeout(_) => self.unavailable(&format!("did not answer in time: {error}")),
            HttpError::Connect(_) | HttpError::Transport(_) => self.unavailable(&format!("cannot be reached: {error}")),
            HttpError::Json(_) => self.unavailable(&format!("answered malformed data: {error}")),
            HttpError::NotGranted | HttpError::AddressProhibited => self.other(&format!(
                "cannot be called: {error}; the operator grants this plugin the hosts of the configured base URLs"
            )),
            HttpError::InvalidRequest(_) | HttpError::TooLarge(_) => self.other(&format!("cannot be called: {error}")),
        }
    }

    /// Sends `request` and answers its JSON body: a non-2xx status, a transport failure or a
    /// body that is not JSON become an [`LlmError`].
    pub fn send_json(&self, request: http::Request) -> Result<Value, LlmError> {
        let response = request.send().map_err(|e| self.http_error(&e))?;
        if !response.is_success() {
            return Err(self.status_error(response.status, &response.headers, &response.body));
        }
        serde_json::from_slice(&response.body)
            .map_err(|e| self.unavailable(&format!("answered malformed JSON (HTTP {}): {e}", response.status)))
    }

    /// Sends `request` and opens its streamed answer: events are read as they arrive with
    /// [`SseStream::next_event`]. A non-2xx status is read whole and becomes an [`LlmError`].
    pub fn open_sse(&self, request: http::Request) -> Result<SseStream<'_>, LlmError> {
        let response =
            request.header("accept", "text/event-stream").send_streaming().map_err(|e| self.http_error(&e))?;
        if !response.is_success() {
            let response = response.into_response().map_err(|e| self.http_error(&e))?;
            return Err(self.status_error(response.status, &response.headers, &response.body));
        }
        Ok(SseStream { endpoint: self, response, parser: SseParser::new(), pending: VecDeque::new(), ended: false })
    }
}

/// A streamed answer, read event by event as the body arrives.
#[derive(Debug)]
pub struct SseStream<'a> {
    endpoint: &'a Endpoint,
    response: StreamingResponse,
    parser: SseParser,
    pending: VecDeque<SseEvent>,
    ended: bool,
}

impl SseStream<'_> {
    /// Whether the server answered `text/event-stream` (a server that ignores the request
    /// to stream answers plain JSON: read it with [`SseStream::read_json`]).
    pub fn is_event_stream(&self) -> bool {
        self.response.header("content-type").is_some_and(|t| t.to_ascii_lowercase().contains("text/event-stream"))
    }

    /// The next event, as soon as it is complete; `None` once the body ended. A body cut by
    /// a transport failure is [`LlmError::Unavailable`]; whether the stream ended where it
    /// should is for the caller to judge (e.g. no `[DONE]`).
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, LlmError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(Some(event));
            }
            if self.ended {
                return Ok(None);
            }
            match self.response.next_chunk() {
                Ok(Some(chunk)) => self.pending.extend(self.parser.push(&chunk)),
                Ok(None) => {
                    self.ended = true;
                    self.pending.extend(self.parser.finish());
                }
                Err(e) => {
                    self.ended = true;
                    return Err(self.endpoint.unavailable(&format!("stream was cut: {e}")));
                }
            }
        }
    }

    /// Reads the rest of the body as one JSON document.
    pub fn read_json(self) -> Result<Value, LlmError> {
        let endpoint = self.endpoint;
        let response = self.response.into_response().map_err(|e| endpoint.http_error(&e))?;
        serde_json::from_slice(&response.body)
            .map_err(|e| endpoint.unavailable(&format!("answered malformed JSON (HTTP {}): {e}", response.status)))
    }
}

/// The provider's own words in an error body: a JSON `error.message`, `error` (text),
/// `message` or `detail`, else the start of the body; at most 300 characters.
pub fn provider_message(body: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(body) {
        Ok(json) => {
            let candidates = [&json["error"]["message"], &json["error"], &json["message"], &json["detail"]];
            match candidates.iter().find_map(|v| v.as_str()) {
                Some(message) => message.to_owned(),
                None => String::from_utf8_lossy(body).into_owned(),
            }
        }
        Err(_) => String::from_utf8_lossy(body).into_owned(),
    };
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(MAX_QUOTED) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

/// How long a rate-limited caller should wait, in milliseconds, from the response headers:
/// `retry-after-ms` (milliseconds), else `retry-after` in seconds or as an HTTP date (a date
/// in the past means 0). `None` when neither is present or readable.
pub fn retry_after_ms(headers: &[(String, String)], now: SystemTime) -> Option<u64> {
    let header = |name: &str| headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.trim());
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok()).filter(|ms| ms.is_finite()) {
        return Some(ms.max(0.0).round() as u64);
    }
    let value = header("retry-after")?;
    if let Ok(seconds) = value.parse::<f64>() {
        return seconds.is_finite().then(|| (seconds.max(0.0) * 1000.0).round() as u64);
    }
    let at = http_date(value)?;
    let now = now.duration_since(UNIX_EPOCH).ok()?.as_millis();
    let at = u128::from(at) * 1000;
    Some(u64::try_from(at.saturating_sub(now)).unwrap_or(u64::MAX))
}

/// Seconds since the Unix epoch of an HTTP date in any of its three forms
/// (`Sun, 06 Nov 1994 08:49:37 GMT`, `Sunday, 06-Nov-94 08:49:37 GMT`,
/// `Sun Nov  6 08:49:37 1994`).
fn http_date(value: &str) -> Option<u64> {
    const MONTHS: [&str; 12] = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    let (mut day, mut month, mut year, mut time) = (None, None, None, None);
    for token in value.split([' ', ',', '-']).filter(|t| !t.is_empty()) {
        let lower = token.to_ascii_lowercase();
        if let Some(m) = MONTHS.iter().position(|m| lower == *m) {
            month = Some(m as u64 + 1);
        } else if token.contains(':') {
            let parts: Vec<u64> = token.split(':').map(|p| p.parse().ok()).collect::<Option<_>>()?;
            let [h, m, s] = parts[..] else { return None };
            (h < 24 && m < 60 && s < 61).then_some(())?;
            time = Some(h * 3600 + m * 60 + s);
        } else if let Ok(n) = token.parse::<u64>() {
            if token.len() <= 2 && day.is_none() {
                day = Some(n);
            } else {
                // Two-digit years (RFC 850) are read as 19xx/20xx around 1970.
                year = Some(match (token.len(), n) {
                    (2, n) if n < 70 => 2000 + n,
                    (2, n) => 1900 + n,
                    _ => n,
                });
            }
        }
    }
    let (day, month, year, time) = (day?, month?, year?, time?);
    if !(1..=31).contains(&day) || year < 1970 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm), for years from 1970.
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86_400 + time)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect()
    }

    fn endpoint() -> Endpoint {
        Endpoint::new("openai", "https://api.openai.com/v1/").with_key(Some(Secret::new("sk-secret")))
    }

    #[test]
    fn http_dates_in_all_three_forms() {
        let expected = 784_111_777; // 1994-11-06T08:49:37Z
        assert_eq!(http_date("Sun, 06 Nov 1994 08:49:37 GMT"), Some(expected));
        assert_eq!(http_date("Sunday, 06-Nov-94 08:49:37 GMT"), Some(expected));
        assert_eq!(http_date("Sun Nov  6 08:49:37 1994"), Some(expected));
        assert_eq!(http_date("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0));
        assert_eq!(http_date("Tue, 29 Feb 2028 23:59:59 GMT"), Some(1_835_481_599));
        assert_eq!(http_date("soon"), None);
        assert_eq!(http_date("Sun, 06 Nov 1994 25:00:00 GMT"), None);
    }

    #[test]
    fn retry_after_in_seconds_dates_and_ms() {
        let now = UNIX_EPOCH + Duration::from_secs(784_111_770);
        assert_eq!(retry_after_ms(&headers(&[("retry-after", "7")]), now), Some(7000));
        assert_eq!(retry_after_ms(&headers(&[("Retry-After", "1.5")]), now), Some(1500));
        assert_eq!(retry_after_ms(&headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:37 GMT")]), now), Some(7000));
        assert_eq!(retry_after_ms(&headers(&[("retry-after", "Sun, 06 Nov 1994 08:49:00 GMT")]), now), Some(0));
        let both = headers(&[("retry-after", "2"), ("retry-after-ms", "250")]);
        assert_eq!(retry_after_ms(&both, now), Some(250));
        assert_eq!(retry_after_ms(&headers(&[("retry-after", "later")]), now), None);
        assert_eq!(retry_after_ms(&[], now), None);
    }

    #[test]
    fn statuses_map_to_kinds_and_never_show_the_key() {
        let e = endpoint();
        let auth = e.status_error(401, &[], br#"{"error":{"message":"Incorrect API key provided: sk-secret"}}"#);
        assert_eq!(
            auth,
            LlmError::Auth(
                "provider 'openai' (https://api.openai.com/v1) answered HTTP 401: Incorrect API key provided: ***"
                    .into()
            )
        );
        assert!(matches!(e.status_error(403, &[], b""), LlmError::Auth(m) if m.ends_with("answered HTTP 403")));

        let limited = e.status_error(429, &headers(&[("retry-after", "3")]), b"slow down");
        let LlmError::RateLimited(RateLimit { message, retry_after_ms }) = limited else { panic!("{limited:?}") };
        assert_eq!(retry_after_ms, Some(3000));
        assert_eq!(message, "provider 'openai' (https://api.openai.com/v1) answered HTTP 429: slow down");

        for status in [400, 404, 422] {
            assert!(matches!(e.status_error(status, &[], b"{}"), LlmError::InvalidRequest(_)), "{status}");
        }
        for status in [500, 502, 503, 529] {
            assert!(matches!(e.status_error(status, &[], b"<html>"), LlmError::Unavailable(_)), "{status}");
        }
        assert!(matches!(e.status_error(402, &[], b""), LlmError::Other(_)));
    }

    #[test]
    fn transport_failures_map_to_kinds() {
        let e = endpoint();
        let unavailable = [
            HttpError::Connect("the connection was refused [ConnectionRefused]".into()),
            HttpError::Timeout("waiting for the response [HttpResponseTimeout]".into()),
            HttpError::Transport("boom".into()),
            HttpError::Json("not JSON".into()),
        ];
        for error in unavailable {
            let mapped = e.http_error(&error);
            assert!(
                matches!(&mapped, LlmError::Unavailable(m) if m.starts_with("provider 'openai' (https://api.openai.com/v1)")),
                "{mapped:?}"
            );
        }
        assert!(matches!(e.http_error(&HttpError::NotGranted), LlmError::Other(m) if m.contains("HttpRequestDenied")));
        let status = HttpError::Status { status: 500, body: "down".into() };
        assert!(matches!(e.http_error(&status), LlmError::Unavailable(m) if m.ends_with("HTTP 500: down")));
    }

    #[test]
    fn provider_messages_are_found_and_bounded() {
        assert_eq!(provider_message(br#"{"error":{"message":"bad model","type":"x"}}"#), "bad model");
        assert_eq!(provider_message(br#"{"error":"plain"}"#), "plain");
        assert_eq!(provider_message(br#"{"detail":"Not Found"}"#), "Not Found");
        assert_eq!(provider_message(b"  line one\n line two  "), "line one line two");
        let long = "x".repeat(400);
        assert_eq!(provider_message(long.as_bytes()).chars().count(), 301);
        assert_eq!(provider_message(b""), "");
    }
}
