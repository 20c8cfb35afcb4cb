//! The transport under [`super::NetPolicy`]: one HTTP/1.1 exchange with an address the policy
//! already checked.
//!
//! Adapted from `default_send_request` in wasmtime-wasi-http 48.0.8
//! (`src/default_send_request.rs`), Copyright the Wasmtime Project Developers, licensed
//! Apache-2.0 WITH LLVM-exception. Changes: it connects to pre-checked socket addresses instead
//! of resolving the authority again (so DNS rebinding cannot swap the destination after the
//! check), takes the TLS server name from the caller, bounds every phase by the caller's
//! limits and a shared deadline, and caps the response body.

use std::net::SocketAddr;
use std::pin::{Pin, pin};
use std::sync::{Arc, LazyLock};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep, timeout_at};
use wasmtime_wasi_http::io::TokioIo;
use wasmtime_wasi_http::{Error, WasiBody};

/// What drives the connection after the response head arrived; wasmtime spawns it.
pub(super) type ConnFuture = Box<dyn Future<Output = Result<(), Error>> + Send>;

/// Bounds of one exchange, already clamped to the operator's limits.
#[derive(Debug, Clone, Copy)]
pub(super) struct Limits {
    /// Bound of TCP connect, TLS and HTTP handshakes together.
    pub(super) connect: Duration,
    /// Bound from sending the request to the response head.
    pub(super) first_byte: Duration,
    /// Longest silence allowed while the response body streams.
    pub(super) between_bytes: Duration,
    /// Nothing before the response head may end later than this.
    pub(super) deadline: Instant,
    /// Response body bytes allowed; one more fails the body stream.
    pub(super) max_body: u64,
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Stream for T {}

/// Sends `req` to the first of `addrs` that accepts a connection, with TLS when `tls` names
/// the server. The request URI keeps its scheme and authority until here (the `Host` header
/// is already set); only the path and query go on the wire.
pub(super) async fn send(
    addrs: &[SocketAddr],
    tls: Option<ServerName<'static>>,
    mut req: Request<WasiBody>,
    limits: Limits,
) -> Result<(Response<WasiBody>, ConnFuture), Error> {
    let connect_by = limits.deadline.min(Instant::now() + limits.connect);
    let tcp = connect(addrs, connect_by).await?;
    let stream: Box<dyn Stream> = match tls {
        Some(name) => {
            let config = TLS_CONFIG.as_ref().map_err(|e| Error::InternalError(Some(e.clone())))?;
            let connector = tokio_rustls::TlsConnector::from(Arc::clone(config));
            let tls = timeout_at(connect_by, connector.connect(name, tcp))
                .await
                .map_err(|_| Error::ConnectionTimeout)?
                .map_err(Error::Tls)?;
            Box::new(tls)
        }
        None => Box::new(tcp),
    };
    let (mut sender, conn) =
        timeout_at(connect_by, hyper::client::conn::http1::Builder::new().handshake(TokioIo::new(stream)))
            .await
            .map_err(|_| Error::ConnectionTimeout)??;

    // Origin form: scheme and authority belong on the wire only when talking to a proxy.
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    *req.uri_mut() = Uri::builder().path_and_query(path).build().map_err(|_| Error::HttpRequestUriInvalid)?;

    let head_by = limits.deadline.min(Instant::now() + limits.first_byte);
    let mut send = pin!(async move {
        timeout_at(head_by, sender.send_request(req))
            .await
            .map_err(|_| Error::HttpResponseTimeout)?
            .map_err(Error::from)
    });
    let mut conn = Some(conn);
    // Drive the connection while waiting for the head, as hyper's client requires.
    let res = std::future::poll_fn(|cx| match send.as_mut().poll(cx) {
        Poll::Ready(res) => Poll::Ready(res),
        Poll::Pending => {
            let Some(fut) = conn.as_mut() else {
                return Poll::Pending;
            };
            let done = ready!(Pin::new(fut).poll(cx));
            conn = None;
            match done {
                Ok(()) => send.as_mut().poll(cx),
                Err(err) => Poll::Ready(Err(Error::from(err))),
            }
        }
    })
    .await?;

    let idle = Box::pin(tokio::time::sleep(limits.between_bytes));
    let res = res.map(|incoming| {
        CappedBody { incoming, idle, between_bytes: limits.between_bytes, read: 0, max: limits.max_body, done: false }
            .boxed_unsync()
    });
    let io = async move {
        let Some(conn) = conn else {
            return Ok(());
        };
        conn.await.map_err(|err| if err.is_timeout() { Error::HttpResponseTimeout } else { Error::from(err) })
    };
    Ok((res, Box::new(io)))
}

/// Connects to the first address that accepts, all within `by`.
async fn connect(addrs: &[SocketAddr], by: Instant) -> Result<TcpStream, Error> {
    let mut last = None;
    for addr in addrs {
        match timeout_at(by, TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => return Ok(stream),
            Ok(Err(err)) => last = Some(err),
            Err(_) => return Err(Error::ConnectionTimeout),
        }
    }
    Err(last.map_or(Error::DestinationNotFound, Error::Connect))
}

/// Web PKI roots with the ring provider, built once. Naming the provider keeps this working
/// even if another crate in the tree enables a second rustls backend.
pub(super) static TLS_CONFIG: LazyLock<Result<Arc<rustls::ClientConfig>, String>> = LazyLock::new(|| {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.into() };
    rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map(|builder| Arc::new(builder.with_root_certificates(roots).with_no_client_auth()))
        .map_err(|e| format!("TLS client setup failed: {e}"))
});

/// The response body: fails once more than `max` bytes arrived or when the server stays
/// silent for `between_bytes`; yields nothing after its first error.
struct CappedBody {
    incoming: Incoming,
    idle: Pin<Box<Sleep>>,
    between_bytes: Duration,
    read: u64,
    max: u64,
    done: bool,
}

impl Body for CappedBody {
    type Data = Bytes;
    type Error = Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        let failed = match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(None) => {
                this.done = true;
                return Poll::Ready(None);
            }
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.read = this.read.saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
                }
                if this.read <= this.max {
                    let next = Instant::now() + this.between_bytes;
                    this.idle.as_mut().reset(next);
                    return Poll::Ready(Some(Ok(frame)));
                }
                Error::HttpResponseBodySize(Some(this.max))
            }
            Poll::Ready(Some(Err(err))) if err.is_timeout() => Error::HttpResponseTimeout,
            Poll::Ready(Some(Err(err))) => Error::from(err),
            Poll::Pending => {
                ready!(this.idle.as_mut().poll(cx));
                Error::ConnectionReadTimeout
            }
        };
        this.done = true;
        Poll::Ready(Some(Err(failed)))
    }

    fn is_end_stream(&self) -> bool {
        self.done || self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        let hint = self.incoming.size_hint();
        // Never promise more than the cap lets through.
        if hint.upper().is_some_and(|upper| upper <= self.max) { hint } else { SizeHint::default() }
    }
}
