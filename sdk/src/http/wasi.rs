//! The transport: one request over `wasi:http/outgoing-handler`, blocking on pollables.
//!
//! Resource rules that shape this code: a child resource (a stream, a pollable, a header
//! list) must be dropped before its parent, or the host traps the plugin; a body must be
//! finished after its stream is dropped; and the body is written only after `handle` has taken
//! the request, because the host buffers little and would wait for a reader forever.

use std::time::Duration;

use wasip2::clocks::monotonic_clock;
use wasip2::http::outgoing_handler;
use wasip2::http::types::{
    Fields, HeaderError, IncomingBody, IncomingResponse, InputStream, IoError, Method, OutgoingBody, OutgoingRequest,
    OutputStream, RequestOptions, Scheme,
};
use wasip2::io::poll::{Pollable, poll};
use wasip2::io::streams::StreamError;

use super::url::Url;
use super::{HttpError, Response, StreamingResponse};

/// Bytes asked for per read; the host may hand back fewer.
const READ_CHUNK: u64 = 64 * 1024;
/// `wasi:io` lets one write carry at most 4096 bytes.
const WRITE_CHUNK: usize = 4096;

pub(super) fn send(
    method: &str,
    url: &Url<'_>,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Option<Duration>,
) -> Result<Response, HttpError> {
    let deadline = Deadline::start(timeout);
    let response = exchange(method, url, headers, body, timeout, &deadline)?;
    read_response(response, &deadline)
}

/// Like [`send`], but hands back the response as soon as its head has arrived; the body is
/// read piece by piece through the returned [`BodyStream`].
pub(super) fn open(
    method: &str,
    url: &Url<'_>,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Option<Duration>,
) -> Result<StreamingResponse, HttpError> {
    let deadline = Deadline::start(timeout);
    let response = exchange(method, url, headers, body, timeout, &deadline)?;
    let (status, headers) = head(&response);
    let body = BodyStream::new(response, deadline)?;
    Ok(StreamingResponse { status, headers, body })
}

/// Sends the request and waits for the response head.
fn exchange(
    method: &str,
    url: &Url<'_>,
    headers: &[(String, String)],
    body: &[u8],
    timeout: Option<Duration>,
    deadline: &Deadline,
) -> Result<IncomingResponse, HttpError> {
    let request = build_request(method, url, headers, body)?;
    let outgoing_body = if body.is_empty() {
        None
    } else {
        Some(request.body().map_err(|()| HttpError::Transport("the request body was already taken".into()))?)
    };
    let options = timeout.map(request_options);
    let future = outgoing_handler::handle(request, options).map_err(HttpError::from)?;

    // A failed write usually means the host gave up on the request (refused, unreachable);
    // the response future then holds the real reason, so it wins over the write error.
    let written = match outgoing_body {
        Some(outgoing) => write_body(outgoing, body, deadline),
        None => Ok(()),
    };

    let response = {
        let ready = future.subscribe();
        let waited = deadline.wait(&ready, "waiting for the response");
        drop(ready);
        waited?;
        match future.get() {
            Some(Ok(Ok(response))) => response,
            Some(Ok(Err(code))) => return Err(code.into()),
            Some(Err(())) | None => {
                written?;
                return Err(HttpError::Transport("the response future was not ready".into()));
            }
        }
    };
    drop(future);
    // A server may answer before it has read the whole body (e.g. 413); its answer counts.
    let _ = written;
    Ok(response)
}

fn build_request(
    method: &str,
    url: &Url<'_>,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<OutgoingRequest, HttpError> {
    let mut entries: Vec<(String, Vec<u8>)> = headers.iter().map(|(n, v)| (n.clone(), v.as_bytes().to_vec())).collect();
    if !body.is_empty() && !headers.iter().any(|(n, _)| n == "content-length") {
        entries.push(("content-length".into(), body.len().to_string().into_bytes()));
    }
    let fields = Fields::from_list(&entries).map_err(|e| {
        let why = match e {
            HeaderError::Forbidden => "a header is set by the gateway and cannot be set by a plugin",
            HeaderError::InvalidSyntax => "a header name or value is not valid",
            HeaderError::Immutable => "the headers cannot be changed",
        };
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        HttpError::InvalidRequest(format!("{why} (headers: {})", names.join(", ")))
    })?;
    let request = OutgoingRequest::new(fields);
    let invalid = |what: &str| HttpError::InvalidRequest(format!("the {what} is not valid"));
    request.set_method(&wasi_method(method)).map_err(|()| invalid("method"))?;
    request.set_scheme(Some(if url.https { &Scheme::Https } else { &Scheme::Http })).map_err(|()| invalid("scheme"))?;
    request.set_authority(Some(url.authority)).map_err(|()| invalid("host"))?;
    request.set_path_with_query(Some(&url.path_with_query)).map_err(|()| invalid("path"))?;
    Ok(request)
}

fn wasi_method(method: &str) -> Method {
    match method {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        "POST" => Method::Post,
        "PUT" => Method::Put,
        "DELETE" => Method::Delete,
        "CONNECT" => Method::Connect,
        "OPTIONS" => Method::Options,
        "TRACE" => Method::Trace,
        "PATCH" => Method::Patch,
        other => Method::Other(other.to_owned()),
    }
}

fn request_options(timeout: Duration) -> RequestOptions {
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let options = RequestOptions::new();
    // A host that does not support one of these keeps its own limit; not an error.
    let _ = options.set_connect_timeout(Some(nanos));
    let _ = options.set_first_byte_timeout(Some(nanos));
    let _ = options.set_between_bytes_timeout(Some(nanos));
    options
}

fn write_body(outgoing: OutgoingBody, body: &[u8], deadline: &Deadline) -> Result<(), HttpError> {
    let stream =
        outgoing.write().map_err(|()| HttpError::Transport("the request body stream was already taken".into()))?;
    let written = write_all(&stream, body, deadline);
    drop(stream);
    written?;
    OutgoingBody::finish(outgoing, None).map_err(HttpError::from)
}

fn write_all(stream: &OutputStream, mut rest: &[u8], deadline: &Deadline) -> Result<(), HttpError> {
    let ready = stream.subscribe();
    let result = (|| {
        while !rest.is_empty() {
            let allowed = stream.check_write().map_err(stream_error)?;
            if allowed == 0 {
                deadline.wait(&ready, "sending the request body")?;
                continue;
            }
            let n = rest.len().min(WRITE_CHUNK).min(usize::try_from(allowed).unwrap_or(usize::MAX));
            stream.write(&rest[..n]).map_err(stream_error)?;
            rest = &rest[n..];
        }
        stream.flush().map_err(stream_error)?;
        // The flush is done when the stream accepts writes again.
        while stream.check_write().map_err(stream_error)? == 0 {
            deadline.wait(&ready, "sending the request body")?;
        }
        Ok(())
    })();
    drop(ready);
    result
}

fn head(response: &IncomingResponse) -> (u16, Vec<(String, String)>) {
    let status = response.status();
    let fields = response.headers();
    let entries = fields.entries();
    drop(fields);
    let headers =
        entries.into_iter().map(|(n, v)| (n.to_ascii_lowercase(), String::from_utf8_lossy(&v).into_owned())).collect();
    (status, headers)
}

fn read_response(response: IncomingResponse, deadline: &Deadline) -> Result<Response, HttpError> {
    let (status, headers) = head(&response);
    let incoming =
        response.consume().map_err(|()| HttpError::Transport("the response body was already taken".into()))?;
    let stream =
        incoming.stream().map_err(|()| HttpError::Transport("the response body stream was already taken".into()))?;
    let body = read_all(&stream, deadline);
    drop(stream);
    // Trailers are not used; finishing and dropping releases the body.
    drop(IncomingBody::finish(incoming));
    drop(response);
    Ok(Response { status, headers, body: body? })
}

/// A response body being read as it arrives. It owns the response's resources and releases
/// them children first (pollable, stream, body, response), when the body ends or on drop.
pub(super) struct BodyStream {
    ready: Option<Pollable>,
    stream: Option<InputStream>,
    body: Option<IncomingBody>,
    response: Option<IncomingResponse>,
    deadline: Deadline,
}

impl BodyStream {
    fn new(response: IncomingResponse, deadline: Deadline) -> Result<Self, HttpError> {
        let body =
            response.consume().map_err(|()| HttpError::Transport("the response body was already taken".into()))?;
        let stream = match body.stream() {
            Ok(stream) => stream,
            Err(()) => {
                drop(body);
                return Err(HttpError::Transport("the response body stream was already taken".into()));
            }
        };
        let ready = stream.subscribe();
        Ok(Self { ready: Some(ready), stream: Some(stream), body: Some(body), response: Some(response), deadline })
    }

    /// The next piece of the body as soon as the host has one, `None` once the body ended.
    pub(super) fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, HttpError> {
        let (Some(stream), Some(ready)) = (&self.stream, &self.ready) else {
            return Ok(None);
        };
        let result = loop {
            match stream.read(READ_CHUNK) {
                Ok(chunk) if chunk.is_empty() => {
                    if let Err(e) = self.deadline.wait(ready, "reading the response body") {
                        break Err(e);
                    }
                }
                Ok(chunk) => return Ok(Some(chunk)),
                Err(StreamError::Closed) => break Ok(None),
                Err(StreamError::LastOperationFailed(e)) => break Err(io_error(e)),
            }
        };
        self.release();
        result
    }

    fn release(&mut self) {
        drop(self.ready.take());
        drop(self.stream.take());
        if let Some(body) = self.body.take() {
            drop(IncomingBody::finish(body));
        }
        drop(self.response.take());
    }
}

impl Drop for BodyStream {
    fn drop(&mut self) {
        self.release();
    }
}

fn read_all(stream: &InputStream, deadline: &Deadline) -> Result<Vec<u8>, HttpError> {
    let ready = stream.subscribe();
    let mut body = Vec::new();
    let result = loop {
        match stream.read(READ_CHUNK) {
            Ok(chunk) if chunk.is_empty() => {
                if let Err(e) = deadline.wait(&ready, "reading the response body") {
                    break Err(e);
                }
            }
            Ok(chunk) => body.extend_from_slice(&chunk),
            Err(StreamError::Closed) => break Ok(body),
            Err(StreamError::LastOperationFailed(e)) => break Err(io_error(e)),
        }
    };
    drop(ready);
    result
}

fn stream_error(e: StreamError) -> HttpError {
    match e {
        StreamError::Closed => HttpError::Transport("the connection was closed".into()),
        StreamError::LastOperationFailed(e) => io_error(e),
    }
}

fn io_error(e: IoError) -> HttpError {
    match wasip2::http::types::http_error_code(&e) {
        Some(code) => HttpError::from(code),
        None => HttpError::Transport(e.to_debug_string()),
    }
}

/// The plugin's own overall timeout, as a clock pollable raced against each wait.
struct Deadline {
    timer: Option<Pollable>,
    timeout: Option<Duration>,
}

impl Deadline {
    fn start(timeout: Option<Duration>) -> Self {
        let timer =
            timeout.map(|t| monotonic_clock::subscribe_duration(u64::try_from(t.as_nanos()).unwrap_or(u64::MAX)));
        Self { timer, timeout }
    }

    /// Blocks until `ready` fires, or fails when the deadline passes first.
    fn wait(&self, ready: &Pollable, phase: &str) -> Result<(), HttpError> {
        let Some(timer) = &self.timer else {
            ready.block();
            return Ok(());
        };
        let fired = poll(&[ready, timer]);
        if fired.contains(&0) {
            return Ok(());
        }
        let ms = self.timeout.map(|t| t.as_millis()).unwrap_or_default();
        Err(HttpError::Timeout(format!("{phase} took longer than the request's timeout of {ms} ms")))
    }
}
