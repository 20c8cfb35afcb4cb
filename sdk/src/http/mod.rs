//! A small blocking HTTP client over `wasi:http/outgoing-handler`.
//!
//! Node code is synchronous, and so is this client: [`Request::send`] returns when the whole
//! response has arrived; [`Request::send_streaming`] returns once the response head is in and
//! hands out the body piece by piece as it arrives (for server-sent events, say). Every request passes through the gateway, which lets it out only to
//! the hosts (and methods) the plugin requested with
//! [`PluginInfo::outbound_host`](crate::PluginInfo::outbound_host) **and** the operator
//! granted; anything else fails with [`HttpError::NotGranted`]. Loopback, private, link-local
//! and cloud-metadata addresses are refused after DNS resolution ([`HttpError::AddressProhibited`])
//! unless the operator's grant names the IP literally.
//!
//! ```no_run
//! use abstractgateway_sdk::{config, http, NodeError};
//! use std::time::Duration;
//!
//! #[derive(serde::Deserialize)]
//! struct Answer { text: String }
//!
//! let key = config::secret("api_key").ok_or_else(|| NodeError::failed("secret 'api_key' is not configured"))?;
//! let answer: Answer = http::post("https://api.example.com/v1/complete")
//!     .bearer(&key)
//!     .json(&serde_json::json!({ "prompt": "Hello" }))
//!     .timeout(Duration::from_secs(20))
//!     .send()?
//!     .error_for_status()?
//!     .json()?;
//! # Ok::<(), NodeError>(())
//! ```

mod error;
mod url;
mod wasi;

use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::config::Secret;

pub use error::HttpError;

/// Starts a `GET` request.
pub fn get(url: &str) -> Request {
    request("GET", url)
}

/// Starts a `POST` request.
pub fn post(url: &str) -> Request {
    request("POST", url)
}

/// Starts a `PUT` request.
pub fn put(url: &str) -> Request {
    request("PUT", url)
}

/// Starts a `PATCH` request.
pub fn patch(url: &str) -> Request {
    request("PATCH", url)
}

/// Starts a `DELETE` request.
pub fn delete(url: &str) -> Request {
    request("DELETE", url)
}

/// Starts a request with any method (`"HEAD"`, `"OPTIONS"`...).
pub fn request(method: &str, url: &str) -> Request {
    Request {
        method: method.to_ascii_uppercase(),
        url: url.to_owned(),
        headers: Vec::new(),
        body: Vec::new(),
        timeout: None,
        deferred: None,
    }
}

/// An HTTP request being built; nothing is sent until [`Request::send`].
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Option<Duration>,
    /// A builder step that failed (e.g. `.json()` could not serialize); reported by `send`.
    deferred: Option<HttpError>,
}

impl Request {
    /// Adds a header. Hop-by-hop headers (`host`, `connection`, `transfer-encoding`...) are
    /// set by the gateway and refused here.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    /// Adds `Authorization: Bearer <secret>`.
    pub fn bearer(self, token: &Secret) -> Self {
        self.header("authorization", format!("Bearer {}", token.expose()))
    }

    /// Sends `value` as a JSON body, with `Content-Type: application/json`.
    pub fn json<T: Serialize + ?Sized>(mut self, value: &T) -> Self {
        match serde_json::to_vec(value) {
            Ok(body) => {
                self.body = body;
                self.set_default_header("content-type", "application/json")
            }
            Err(e) => {
                self.deferred = Some(HttpError::Json(format!("cannot encode the request body: {e}")));
                self
            }
        }
    }

    /// Sends raw bytes as the body (set a `content-type` header yourself).
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Gives up after `timeout`: it bounds connecting, the wait for the response head, every
    /// pause between body chunks, and the whole exchange. The operator's limit applies as
    /// well, whichever is shorter.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    fn set_default_header(mut self, name: &str, value: &str) -> Self {
        if !self.headers.iter().any(|(n, _)| n == name) {
            self.headers.push((name.to_owned(), value.to_owned()));
        }
        self
    }

    /// Sends the request and reads the whole response. Any status is a response, not an
    /// error; use [`Response::error_for_status`] to turn 4xx/5xx into an [`HttpError`].
    pub fn send(self) -> Result<Response, HttpError> {
        if let Some(e) = self.deferred {
            return Err(e);
        }
        let url = url::Url::parse(&self.url)?;
        wasi::send(&self.method, &url, &self.headers, &self.body, self.timeout)
    }

    /// Sends the request and returns as soon as the response head (status and headers) has
    /// arrived; read the body as it comes with [`StreamingResponse::next_chunk`]. The timeout
    /// still bounds the whole exchange, body included.
    ///
    /// ```no_run
    /// let mut response = abstractgateway_sdk::http::get("https://api.example.com/events").send_streaming()?;
    /// while let Some(chunk) = response.next_chunk()? {
    ///     abstractgateway_sdk::log::debug(&format!("{} bytes", chunk.len()));
    /// }
    /// # Ok::<(), abstractgateway_sdk::http::HttpError>(())
    /// ```
    pub fn send_streaming(self) -> Result<StreamingResponse, HttpError> {
        if let Some(e) = self.deferred {
            return Err(e);
        }
        let url = url::Url::parse(&self.url)?;
        wasi::open(&self.method, &url, &self.headers, &self.body, self.timeout)
    }
}

/// A response whose body is read as it arrives ([`Request::send_streaming`]). Dropping it
/// before the end abandons the rest of the body.
pub struct StreamingResponse {
    /// The status code.
    pub status: u16,
    /// The headers in arrival order, names in lower case.
    pub headers: Vec<(String, String)>,
    body: wasi::BodyStream,
}

impl std::fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamingResponse").field("status", &self.status).field("headers", &self.headers).finish()
    }
}

impl StreamingResponse {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The next piece of the body, as soon as one has arrived; `None` once the body ended.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        self.body.next_chunk()
    }

    /// Reads the rest of the body and returns the whole response.
    pub fn into_response(mut self) -> Result<Response, HttpError> {
        let mut body = Vec::new();
        while let Some(chunk) = self.body.next_chunk()? {
            body.extend_from_slice(&chunk);
        }
        Ok(Response { status: self.status, headers: std::mem::take(&mut self.headers), body })
    }
}

/// A complete HTTP response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The headers in arrival order, names in lower case.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// Whether the status is 2xx.
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// The body as text (invalid UTF-8 is replaced with `�`).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body decoded from JSON.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, HttpError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            HttpError::Json(format!("the response body (status {}) is not the expected JSON: {e}", self.status))
        })
    }

    /// The response itself when the status is 2xx, [`HttpError::Status`] otherwise (with the
    /// start of the body, which usually says why).
    pub fn error_for_status(self) -> Result<Self, HttpError> {
        if self.is_success() {
            return Ok(self);
        }
        let mut body = self.text();
        if body.len() > 500 {
            let cut = (0..=500).rev().find(|&i| body.is_char_boundary(i)).unwrap_or(0);
            body.truncate(cut);
            body.push('…');
        }
        Err(HttpError::Status { status: self.status, body })
    }
}
