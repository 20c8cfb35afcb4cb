//! Outbound HTTP for plugins: the host-side policy behind `wasi:http/outgoing-handler`.
//!
//! Every request a plugin sends reaches [`NetPolicy`]'s [`WasiHttpHooks::send_request`], which
//! decides in the host, before any byte leaves:
//! 1. a [`HostRule`] must match host, port and method, else `HTTP-request-denied`;
//! 2. the host is resolved here and every address classified by [`forbidden_ip`]: loopback,
//!    private, link-local, metadata and other special ranges are refused
//!    (`destination-IP-prohibited`) unless the URL is the IP literal a grant names exactly;
//! 3. the connection goes to the checked address ([`send`]), never to a second resolution, so
//!    DNS rebinding cannot swap the destination after the check;
//! 4. the guest's timeouts are clamped to the operator's, and connect plus response head are
//!    bounded together; the response body is capped while it streams.
//!
//! The guest only ever sees an error code, so the host keeps the reason
//! ([`NetPolicy::take_denial`]) for the step error.

mod send;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;
use std::time::{Duration, Instant};

use http::{Method, Request, Response, Uri};
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, SizeHint};
use rustls::pki_types::ServerName;
use wasmtime_wasi_http::{Error, RequestOptions, WasiBody, WasiHttpHooks};

use self::send::{ConnFuture, Limits};

/// One effective outbound rule: the intersection of what the plugin requested and what the
/// operator granted.
#[derive(Debug, Clone)]
pub(crate) struct HostRule {
    /// Host pattern from `describe()`: exact host, IP literal, `*.example.com` or `*`.
    pub(crate) requested: String,
    /// Host pattern from the operator policy, same syntax.
    pub(crate) granted: String,
    /// Uppercase methods allowed (already intersected); `*` means any.
    pub(crate) methods: Vec<String>,
    /// `None` allows any port.
    pub(crate) port: Option<u16>,
    /// Named by the operator's own settings (an LLM provider's base URL): its addresses may be
    /// loopback or private, as for an IP literal a grant names.
    pub(crate) operator_named: bool,
}

/// The host and port an `http://` or `https://` URL points at (the scheme's port by default).
pub(crate) fn url_host_port(url: &str) -> Option<(String, u16)> {
    let uri: http::Uri = url.trim().parse().ok()?;
    let default_port = match uri.scheme_str()? {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let host = normalize_host(uri.host()?);
    (!host.is_empty()).then(|| (host, uri.port_u16().unwrap_or(default_port)))
}

/// Everything a plugin may do on the network.
#[derive(Debug, Clone)]
pub(crate) struct NetGrant {
    /// Empty refuses every request.
    pub(crate) rules: Vec<HostRule>,
    /// Bound of one request: connect, first byte and each gap between body bytes are clamped
    /// to it, and connect plus response head together may not take longer.
    pub(crate) request_timeout: Duration,
    /// Response body bytes one request may receive.
    pub(crate) max_response_bytes: u64,
}

/// Whether `host` (from a URL, IPv6 possibly bracketed) matches a grant `pattern`: `*` matches
/// any host, `*.x.com` any name below `x.com` (not `x.com` itself, never an IP literal), anything
/// else that exact name or IP address. Case and one trailing dot are ignored.
pub(crate) fn host_matches(pattern: &str, host: &str) -> bool {
    let (pattern, host) = (normalize_host(pattern), normalize_host(host));
    if host.is_empty() || pattern.is_empty() {
        return false;
    }
    if pattern == "*" {
        return true;
    }
    let host_ip = host.parse::<IpAddr>().ok();
    if let Some(suffix) = pattern.strip_prefix('*') {
        return suffix.starts_with('.')
            && host_ip.is_none()
            && host.len() > suffix.len()
            && host.ends_with(suffix)
            && !host[..host.len() - suffix.len()].ends_with('.');
    }
    match (pattern.parse::<IpAddr>().ok(), host_ip) {
        (Some(a), Some(b)) => a == b,
        (None, None) => pattern == host,
        _ => false,
    }
}

/// Lowercase, without IPv6 brackets or a trailing dot.
fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    let host = host.strip_suffix('.').unwrap_or(host);
    host.to_ascii_lowercase()
}

/// Why a plugin may not reach `ip` unless a grant names it: the address category (loopback,
/// private, link-local, cloud metadata, CGNAT shared, ...), or `None` for a public address.
/// IPv4 inside IPv6 (mapped, NAT64 `64:ff9b::/96`, 6to4) is judged by the embedded address.
pub(crate) fn forbidden_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    let reason = if ip.is_unspecified() {
        "unspecified"
    } else if a == 0 {
        "this-network"
    } else if ip.is_loopback() {
        "loopback"
    } else if ip.is_private() {
        "private"
    } else if ip == Ipv4Addr::new(169, 254, 169, 254) {
        "cloud metadata"
    } else if ip.is_link_local() {
        "link-local"
    } else if a == 100 && b & 0xc0 == 64 {
        "CGNAT shared"
    } else if a == 192 && b == 0 && c == 0 {
        "IETF protocol"
    } else if ip.is_documentation() {
        "documentation"
    } else if a == 198 && b & 0xfe == 18 {
        "benchmarking"
    } else if ip.is_broadcast() {
        "broadcast"
    } else if ip.is_multicast() {
        "multicast"
    } else if a >= 240 {
        "reserved"
    } else {
        return None;
    };
    Some(reason)
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    let s = ip.segments();
    let embedded = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return forbidden_v4(embedded(s[6], s[7]));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(embedded(s[1], s[2]));
    }
    let reason = if ip.is_unspecified() {
        "unspecified"
    } else if ip.is_loopback() {
        "loopback"
    } else if s[..6] == [0; 6] {
        "IPv4-compatible"
    } else if s == [0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x254] {
        "cloud metadata"
    } else if s[0] & 0xfe00 == 0xfc00 {
        "unique-local"
    } else if s[0] & 0xffc0 == 0xfe80 {
        "link-local"
    } else if s[0] & 0xffc0 == 0xfec0 {
        "site-local"
    } else if s[0] & 0xff00 == 0xff00 {
        "multicast"
    } else if (s[0] == 0x2001 && s[1] == 0x0db8) || s[0] & 0xfff0 == 0x3ff0 {
        "documentation"
    } else if s[..4] == [0x100, 0, 0, 0] {
        "discard-only"
    } else if s[..3] == [0x2001, 0x0002, 0] {
        "benchmarking"
    } else if s[..3] == [0x64, 0xff9b, 1] {
        "local NAT64"
    } else {
        return None;
    };
    Some(reason)
}

/// "a loopback", "an unspecified".
fn with_article(reason: &str) -> String {
    let article = if matches!(reason, "unspecified" | "IETF protocol" | "IPv4-compatible") { "an" } else { "a" };
    format!("{article} {reason}")
}

/// Names that reach a cloud provider's metadata service whatever address they resolve to.
const METADATA_NAMES: [&str; 2] = ["metadata.google.internal", "metadata"];

/// The network policy of one plugin, installed as the `wasi:http` hooks of its store. Cheap
/// to clone; clones share the denial slot and the wait clock.
#[derive(Debug, Clone)]
pub(crate) struct NetPolicy {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    plugin: Arc<str>,
    grant: Arc<NetGrant>,
    denial: Mutex<Option<String>>,
    waits: Mutex<Waits>,
}

/// Time spent with at least one request in flight: overlapping requests count once, and a
/// request still waiting counts up to now.
#[derive(Debug, Default)]
struct Waits {
    in_flight: u32,
    since: Option<Instant>,
    done: Duration,
}

/// A request the rules let through, and where it goes.
struct Target {
    /// `METHOD scheme://host:port` for messages; never the path, which may hold secrets.
    label: String,
    /// As in the URL, without brackets: what DNS resolves.
    host: String,
    port: u16,
    /// Set when the URL host is an IP literal.
    literal: Option<IpAddr>,
    /// A matching rule grants exactly this IP literal, so a special-range address is allowed.
    named_exactly: bool,
    tls: Option<ServerName<'static>>,
}

type SendFuture = Box<dyn Future<Output = Result<(Response<WasiBody>, ConnFuture), Error>> + Send>;

impl NetPolicy {
    /// The policy of `plugin` under `grant`.
    pub(crate) fn new(plugin: Arc<str>, grant: Arc<NetGrant>) -> Self {
        let inner = Inner { plugin, grant, denial: Mutex::new(None), waits: Mutex::default() };
        Self { inner: Arc::new(inner) }
    }

    /// The last reason the host refused or cut short a request (not granted, forbidden
    /// address, timeout, body cap), cleared by taking it. The guest sees only an error code,
    /// so the step error should quote this.
    pub(crate) fn take_denial(&self) -> Option<String> {
        self.inner.denial.lock().unwrap_or_else(PoisonError::into_inner).take()
    }

    /// Wall time spent so far inside request futures (resolve, connect, wait for the response
    /// head), including a wait still in progress, so it need not count against the plugin's
    /// deadline.
    pub(crate) fn host_wait(&self) -> Duration {
        let waits = self.waits();
        waits.done + waits.since.map_or(Duration::ZERO, |since| since.elapsed())
    }

    fn waits(&self) -> std::sync::MutexGuard<'_, Waits> {
        self.inner.waits.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn note(&self, reason: String) {
        tracing::info!(plugin = %self.inner.plugin, "{reason}");
        *self.inner.denial.lock().unwrap_or_else(PoisonError::into_inner) = Some(reason);
    }

    /// Records why and returns the error the guest sees.
    fn refuse(&self, error: Error, label: &str, why: String) -> Error {
        self.note(format!("plugin '{}' may not send {label}: {why}", self.inner.plugin));
        error
    }

    fn failed(&self, label: &str, error: Error, limits: &Limits) -> Error {
        let why = match &error {
            Error::ConnectionTimeout => format!("no connection within {:?}", limits.connect),
            Error::HttpResponseTimeout => format!("no response within {:?}", limits.first_byte),
            Error::ConnectionReadTimeout => format!("response body stalled for {:?}", limits.between_bytes),
            Error::HttpResponseBodySize(_) => format!("response body exceeds the {}-byte cap", limits.max_body),
            other => other.to_string(),
        };
        self.note(format!("plugin '{}': {label} failed: {why}", self.inner.plugin));
        error
    }

    /// Step 1: the rules. Nothing here touches the network.
    fn authorize(&self, method: &Method, uri: &Uri) -> Result<Target, Error> {
        let tls = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(Error::HttpProtocolError),
        };
        let Some(url_host) = uri.host().filter(|h| !h.is_empty()) else {
            return Err(Error::HttpRequestUriInvalid);
        };
        let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
        let scheme = if tls { "https" } else { "http" };
        let label = format!("{method} {scheme}://{url_host}:{port}");
        let host = url_host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(url_host);
        let rules = &self.inner.grant.rules;
        if rules.is_empty() {
            return Err(self.refuse(Error::HttpRequestDenied, &label, "no host is granted to it".into()));
        }
        let for_host: Vec<&HostRule> =
            rules.iter().filter(|r| host_matches(&r.requested, host) && host_matches(&r.granted, host)).collect();
        if for_host.is_empty() {
            return Err(self.refuse(Error::HttpRequestDenied, &label, format!("host '{host}' is not granted")));
        }
        let for_port: Vec<&HostRule> = for_host.into_iter().filter(|r| r.port.is_none_or(|p| p == port)).collect();
        if for_port.is_empty() {
            let why = format!("port {port} not allowed for host '{host}'");
            return Err(self.refuse(Error::HttpRequestDenied, &label, why));
        }
        let matching: Vec<&HostRule> = for_port
            .into_iter()
            .filter(|r| r.methods.iter().any(|m| m == "*" || m.eq_ignore_ascii_case(method.as_str())))
            .collect();
        if matching.is_empty() {
            let why = format!("{method} not allowed for host '{host}'");
            return Err(self.refuse(Error::HttpRequestDenied, &label, why));
        }
        let normalized = normalize_host(host);
        let granted_exactly = |name: &str| matching.iter().any(|r| normalize_host(&r.granted) == name);
        if METADATA_NAMES.contains(&normalized.as_str()) && !granted_exactly(&normalized) {
            let why = format!("'{host}' is a cloud metadata service name; a grant must name it explicitly");
            return Err(self.refuse(Error::DestinationIpProhibited, &label, why));
        }
        let literal = normalized.parse::<IpAddr>().ok();
        let named_exactly = matching.iter().any(|r| r.operator_named)
            || literal.is_some_and(|ip| {
                matching.iter().any(|r| normalize_host(&r.granted).parse::<IpAddr>().is_ok_and(|g| g == ip))
            });
        let tls = match (tls, literal) {
            (false, _) => None,
            (true, Some(ip)) => Some(ServerName::from(ip)),
            (true, None) => Some(ServerName::try_from(normalized.clone()).map_err(Error::from)?),
        };
        Ok(Target { label, host: host.to_owned(), port, literal, named_exactly, tls })
    }

    /// Step 2: where the host points, each address checked.
    async fn resolve(&self, target: &Target, deadline: tokio::time::Instant) -> Result<Vec<SocketAddr>, Error> {
        let addrs: Vec<SocketAddr> = match target.literal {
            Some(ip) => vec![SocketAddr::new(ip, target.port)],
            None => {
                let lookup = tokio::net::lookup_host((target.host.as_str(), target.port));
                let timeout = self.inner.grant.request_timeout;
                match tokio::time::timeout_at(deadline, lookup).await {
                    Err(_) => {
                        let why = format!("DNS lookup of '{}' took longer than {timeout:?}", target.host);
                        return Err(self.refuse(Error::DnsTimeout, &target.label, why));
                    }
                    Ok(Err(e)) => {
                        let why = format!("DNS lookup of '{}' failed: {e}", target.host);
                        return Err(self.refuse(Error::DnsError { rcode: None, info_code: None }, &target.label, why));
                    }
                    Ok(Ok(found)) => found.collect(),
                }
            }
        };
        let mut checked: Vec<SocketAddr> = Vec::with_capacity(addrs.len());
        for addr in addrs {
            if let Some(reason) = forbidden_ip(addr.ip()).filter(|_| !target.named_exactly) {
                let (ip, kind) = (addr.ip(), with_article(reason));
                let why = match target.literal {
                    Some(_) => format!("{ip} is {kind} address; a grant must name it explicitly"),
                    None => {
                        format!("'{}' resolves to {ip}, {kind} address; a grant must name it explicitly", target.host)
                    }
                };
                return Err(self.refuse(Error::DestinationIpProhibited, &target.label, why));
            }
            if !checked.contains(&addr) {
                checked.push(addr);
            }
        }
        if checked.is_empty() {
            let why = format!("'{}' resolves to no address", target.host);
            return Err(self.refuse(Error::DnsError { rcode: None, info_code: None }, &target.label, why));
        }
        Ok(checked)
    }

    async fn send(
        self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
    ) -> Result<(Response<WasiBody>, ConnFuture), Error> {
        let _clock = WaitClock::start(&self);
        let bound = self.inner.grant.request_timeout;
        let deadline = tokio::time::Instant::now() + bound;
        let target = self.authorize(request.method(), request.uri())?;
        let addrs = self.resolve(&target, deadline).await?;
        let clamp = |guest: Option<Duration>| guest.map_or(bound, |g| g.min(bound));
        let limits = Limits {
            connect: clamp(options.and_then(|o| o.connect_timeout)),
            first_byte: clamp(options.and_then(|o| o.first_byte_timeout)),
            between_bytes: clamp(options.and_then(|o| o.between_bytes_timeout)),
            deadline,
            max_body: self.inner.grant.max_response_bytes,
        };
        let (response, conn) = send::send(&addrs, target.tls, request, limits)
            .await
            .map_err(|e| self.failed(&target.label, e, &limits))?;
        let policy = self.clone();
        let waits = self.clone();
        let label = target.label;
        let response = response.map(move |body| {
            let inner = body.map_err(move |e| policy.failed(&label, e, &limits)).boxed_unsync();
            WaitingBody { inner, policy: waits, waiting: false }.boxed_unsync()
        });
        Ok((response, conn))
    }
}

/// Counts one request in flight from its start until it is dropped, finished or not.
struct WaitClock<'a> {
    policy: &'a NetPolicy,
}

impl<'a> WaitClock<'a> {
    fn start(policy: &'a NetPolicy) -> Self {
        policy.begin_wait();
        Self { policy }
    }
}

impl Drop for WaitClock<'_> {
    fn drop(&mut self) {
        self.policy.end_wait();
    }
}

impl NetPolicy {
    /// The host starts waiting on the network for the guest.
    fn begin_wait(&self) {
        let mut waits = self.waits();
        waits.in_flight += 1;
        waits.since.get_or_insert_with(Instant::now);
    }

    /// One wait begun by [`NetPolicy::begin_wait`] is over.
    fn end_wait(&self) {
        let mut waits = self.waits();
        waits.in_flight = waits.in_flight.saturating_sub(1);
        if waits.in_flight == 0 {
            let span = waits.since.take().map_or(Duration::ZERO, |since| since.elapsed());
            waits.done += span;
        }
    }
}

/// A response body whose pending reads count as host waits: a streamed answer that arrives
/// slowly (an LLM's tokens) is the remote host's time, not the guest's, so it does not use up
/// the plugin's deadline. Each gap between bytes is still bounded by the request's timeout.
struct WaitingBody<B> {
    inner: B,
    policy: NetPolicy,
    waiting: bool,
}

impl<B: Body + Unpin> Body for WaitingBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match (polled.is_pending(), this.waiting) {
            (true, false) => this.policy.begin_wait(),
            (false, true) => this.policy.end_wait(),
            _ => {}
        }
        this.waiting = polled.is_pending();
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for WaitingBody<B> {
    fn drop(&mut self) {
        if self.waiting {
            self.policy.end_wait();
        }
    }
}

impl WasiHttpHooks for NetPolicy {
    fn send_request(
        &mut self,
        request: Request<WasiBody>,
        options: Option<RequestOptions>,
        _fut: Box<dyn Future<Output = Result<(), Error>> + Send>,
    ) -> SendFuture {
        Box::new(self.clone().send(request, options))
    }
}

#[cfg(test)]
mod tests;
