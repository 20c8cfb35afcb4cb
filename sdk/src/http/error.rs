//! What can go wrong with an HTTP request, in words an operator understands.

use std::fmt;

use wasip2::http::types::ErrorCode;

/// Why an HTTP request failed. `Display` says what happened and, for failures reported by the
/// gateway, ends with the `wasi:http` error code in brackets, e.g.
/// `the gateway refused the request (host, port or method not granted to this plugin) [HttpRequestDenied]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The URL, method or a header cannot be used (checked before anything is sent).
    InvalidRequest(String),
    /// The gateway refused the request: this host (or this port or method on it) is not granted
    /// to the plugin. Request it in `describe()` and ask the operator to grant it.
    NotGranted,
    /// The gateway refused the destination address: it resolved to a loopback, private,
    /// link-local or metadata address that no grant names literally.
    AddressProhibited,
    /// The request took too long; the text says which phase.
    Timeout(String),
    /// A request or response part is larger than allowed; the text says which.
    TooLarge(String),
    /// The host name did not resolve, or the server could not be reached.
    Connect(String),
    /// The server answered with a non-2xx status (only from
    /// [`Response::error_for_status`](super::Response::error_for_status)).
    Status {
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// A JSON body could not be encoded or decoded.
    Json(String),
    /// Any other transport failure.
    Transport(String),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidRequest(m) => write!(f, "invalid HTTP request: {m}"),
            Self::NotGranted => f.write_str(
                "the gateway refused the request (host, port or method not granted to this plugin) [HttpRequestDenied]",
            ),
            Self::AddressProhibited => f.write_str(
                "the gateway refused the destination address (loopback, private, link-local or metadata addresses \
                 need a grant naming the IP) [DestinationIpProhibited]",
            ),
            Self::Timeout(m) => write!(f, "the HTTP request timed out: {m}"),
            Self::TooLarge(m) => f.write_str(m),
            Self::Connect(m) => write!(f, "cannot reach the server: {m}"),
            Self::Status { status, body } if body.is_empty() => write!(f, "the server answered HTTP {status}"),
            Self::Status { status, body } => write!(f, "the server answered HTTP {status}: {body}"),
            Self::Json(m) => f.write_str(m),
            Self::Transport(m) => write!(f, "the HTTP request failed: {m}"),
        }
    }
}

impl std::error::Error for HttpError {}

fn limit<T: fmt::Display>(what: &str, max: Option<T>) -> String {
    match max {
        Some(max) => format!("{what} is larger than the limit of {max}"),
        None => format!("{what} is larger than allowed"),
    }
}

impl From<ErrorCode> for HttpError {
    fn from(code: ErrorCode) -> Self {
        use ErrorCode as C;
        let name = format!("{code:?}");
        let name = name.strip_prefix("ErrorCode::").unwrap_or(&name);
        let name = name.split('(').next().unwrap_or(name).to_owned();
        let with_code = |text: String| format!("{text} [{name}]");
        match code {
            C::HttpRequestDenied => Self::NotGranted,
            C::DestinationIpProhibited => Self::AddressProhibited,
            C::DnsTimeout => Self::Timeout(with_code("resolving the host name".into())),
            C::ConnectionTimeout => Self::Timeout(with_code("connecting".into())),
            C::HttpResponseTimeout => Self::Timeout(with_code("waiting for the response".into())),
            C::ConnectionReadTimeout => Self::Timeout(with_code("the response body stalled".into())),
            C::ConnectionWriteTimeout => Self::Timeout(with_code("sending the request".into())),
            C::HttpResponseBodySize(max) => Self::TooLarge(with_code(limit("the response body", max.map(bytes)))),
            C::HttpRequestBodySize(max) => Self::TooLarge(with_code(limit("the request body", max.map(bytes)))),
            C::HttpResponseHeaderSectionSize(max) => {
                Self::TooLarge(with_code(limit("the response headers", max.map(|m| bytes(m.into())))))
            }
            C::HttpRequestHeaderSectionSize(max) => {
                Self::TooLarge(with_code(limit("the request headers", max.map(|m| bytes(m.into())))))
            }
            C::DnsError(p) => Self::Connect(with_code(format!(
                "the host name did not resolve{}",
                p.rcode.map(|r| format!(" ({r})")).unwrap_or_default()
            ))),
            C::DestinationNotFound => Self::Connect(with_code("the host name did not resolve".into())),
            C::DestinationUnavailable | C::DestinationIpUnroutable => {
                Self::Connect(with_code("the server is unreachable".into()))
            }
            C::ConnectionRefused => Self::Connect(with_code("the connection was refused".into())),
            C::ConnectionTerminated => Self::Connect(with_code("the connection was closed early".into())),
            C::TlsProtocolError | C::TlsCertificateError | C::TlsAlertReceived(_) => {
                Self::Connect(with_code("the TLS handshake failed".into()))
            }
            C::HttpRequestMethodInvalid => Self::InvalidRequest(with_code("the method is not valid".into())),
            C::HttpRequestUriInvalid | C::HttpRequestUriTooLong => {
                Self::InvalidRequest(with_code("the URL is not valid".into()))
            }
            C::InternalError(Some(detail)) => Self::Transport(with_code(detail)),
            _ => Self::Transport(with_code("the gateway reported an error".into())),
        }
    }
}

fn bytes(n: u64) -> String {
    format!("{n} bytes")
}
