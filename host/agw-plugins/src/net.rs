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
#[allow(clippy::unwrap_used)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::pin::Pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::thread;

    use bytes::Bytes;
    use http_body_util::{Empty, Full};

    use super::*;

    #[test]
    fn forbidden_ip_table() {
        let cases: &[(&str, Option<&str>)] = &[
            // IPv4 special ranges
            ("0.0.0.0", Some("unspecified")),
            ("0.1.2.3", Some("this-network")),
            ("0.255.255.255", Some("this-network")),
            ("127.0.0.1", Some("loopback")),
            ("127.255.255.254", Some("loopback")),
            ("10.0.0.0", Some("private")),
            ("10.1.2.3", Some("private")),
            ("10.255.255.255", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.0.1", Some("private")),
            ("192.168.255.255", Some("private")),
            ("169.254.169.254", Some("cloud metadata")),
            ("169.254.0.1", Some("link-local")),
            ("169.254.255.255", Some("link-local")),
            ("100.64.0.0", Some("CGNAT shared")),
            ("100.127.255.255", Some("CGNAT shared")),
            ("192.0.0.1", Some("IETF protocol")),
            ("192.0.2.1", Some("documentation")),
            ("198.51.100.7", Some("documentation")),
            ("203.0.113.200", Some("documentation")),
            ("198.18.0.1", Some("benchmarking")),
            ("198.19.255.255", Some("benchmarking")),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("240.0.0.1", Some("reserved")),
            ("254.1.1.1", Some("reserved")),
            ("255.255.255.255", Some("broadcast")),
            // IPv4 public, including the neighbours of every range above
            ("8.8.8.8", None),
            ("1.1.1.1", None),
            ("1.0.0.0", None),
            ("9.255.255.255", None),
            ("11.0.0.0", None),
            ("126.255.255.255", None),
            ("128.0.0.0", None),
            ("172.15.255.255", None),
            ("172.32.0.0", None),
            ("192.167.255.255", None),
            ("192.169.0.0", None),
            ("169.253.255.255", None),
            ("169.255.0.0", None),
            ("100.63.255.255", None),
            ("100.128.0.0", None),
            ("192.0.1.1", None),
            ("192.0.3.1", None),
            ("198.17.255.255", None),
            ("198.20.0.0", None),
            ("223.255.255.255", None),
            // IPv6 special ranges
            ("::", Some("unspecified")),
            ("::1", Some("loopback")),
            ("::7f00:1", Some("IPv4-compatible")),
            ("fd00:ec2::254", Some("cloud metadata")),
            ("fc00::1", Some("unique-local")),
            ("fd12:3456::1", Some("unique-local")),
            ("fe80::1", Some("link-local")),
            ("febf:ffff::1", Some("link-local")),
            ("fec0::1", Some("site-local")),
            ("ff02::1", Some("multicast")),
            ("ff0e::1", Some("multicast")),
            ("2001:db8::1", Some("documentation")),
            ("3fff::1", Some("documentation")),
            ("100::1", Some("discard-only")),
            ("2001:2::1", Some("benchmarking")),
            ("64:ff9b:1::1", Some("local NAT64")),
            // IPv4 inside IPv6 is judged by the embedded address
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("cloud metadata")),
            ("::ffff:10.0.0.1", Some("private")),
            ("64:ff9b::a00:1", Some("private")),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("64:ff9b::a9fe:a9fe", Some("cloud metadata")),
            ("2002:c0a8:101::1", Some("private")),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("2002:808:808::1", None),
            // IPv6 public
            ("2606:4700:4700::1111", None),
            ("2001:4860:4860::8888", None),
            ("fbff:ffff::1", None),
            ("fe00::1", None),
            ("2001:db9::1", None),
        ];
        for (ip, want) in cases {
            let parsed: IpAddr = ip.parse().unwrap();
            assert_eq!(forbidden_ip(parsed), *want, "{ip}");
        }
    }

    #[test]
    fn host_matches_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("*", "example.com", true),
            ("*", "127.0.0.1", true),
            ("*", "[::1]", true),
            ("*", "", false),
            ("example.com", "example.com", true),
            ("example.com", "EXAMPLE.com", true),
            ("Example.COM", "example.com", true),
            ("example.com", "example.com.", true),
            ("example.com", "api.example.com", false),
            ("example.com", "example.org", false),
            ("example.com", "notexample.com", false),
            ("*.x.com", "a.x.com", true),
            ("*.x.com", "b.a.x.com", true),
            ("*.x.com", "A.X.COM", true),
            ("*.x.com", "x.com", false),
            ("*.x.com", "ax.com", false),
            ("*.x.com", ".x.com", false),
            ("*.x.com", "x.com.evil.org", false),
            ("*.0.0.1", "127.0.0.1", false),
            ("*x.com", "ax.com", false),
            ("127.0.0.1", "127.0.0.1", true),
            ("127.0.0.1", "127.0.0.2", false),
            ("127.0.0.1", "localhost", false),
            ("::1", "[::1]", true),
            ("[::1]", "::1", true),
            ("::1", "[0:0::1]", true),
            ("2001:DB8::1", "[2001:db8::1]", true),
            ("::1", "127.0.0.1", false),
            ("", "example.com", false),
        ];
        for (pattern, host, want) in cases {
            assert_eq!(host_matches(pattern, host), *want, "pattern {pattern:?}, host {host:?}");
        }
    }

    /// A tiny HTTP/1.1 server on loopback: `/hello` answers, `/big` sends 4096 bytes,
    /// `/hang` never answers. It counts connections and keeps each request head.
    struct TestServer {
        port: u16,
        accepted: Arc<AtomicUsize>,
        heads: Arc<Mutex<Vec<String>>>,
    }

    impl TestServer {
        fn start() -> Self {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let port = listener.local_addr().unwrap().port();
            let accepted = Arc::new(AtomicUsize::new(0));
            let heads = Arc::new(Mutex::new(Vec::new()));
            let (count, log) = (Arc::clone(&accepted), Arc::clone(&heads));
            thread::spawn(move || {
                for conn in listener.incoming() {
                    let Ok(conn) = conn else { continue };
                    count.fetch_add(1, Ordering::SeqCst);
                    let log = Arc::clone(&log);
                    thread::spawn(move || serve(conn, &log));
                }
            });
            Self { port, accepted, heads }
        }

        fn accepted(&self) -> usize {
            // A connect that raced the refusal would have landed by now.
            thread::sleep(Duration::from_millis(50));
            self.accepted.load(Ordering::SeqCst)
        }
    }

    fn serve(mut conn: TcpStream, log: &Mutex<Vec<String>>) {
        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            match conn.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        let head = String::from_utf8_lossy(&head).into_owned();
        let target = head.split(' ').nth(1).unwrap_or("");
        let path = target.split('?').next().unwrap_or("").to_owned();
        log.lock().unwrap().push(head);
        let body = match path.as_str() {
            "/hello" => b"hello from test".to_vec(),
            "/big" => vec![b'x'; 4096],
            "/hang" => {
                thread::sleep(Duration::from_secs(10));
                return;
            }
            _ => b"not found".to_vec(),
        };
        let reply = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n", body.len());
        let _ = conn.write_all(reply.as_bytes()).and_then(|()| conn.write_all(&body));
    }

    fn rule(requested: &str, granted: &str, methods: &[&str], port: Option<u16>) -> HostRule {
        HostRule {
            requested: requested.into(),
            granted: granted.into(),
            methods: methods.iter().map(|m| (*m).to_owned()).collect(),
            port,
            operator_named: false,
        }
    }

    fn policy(rules: Vec<HostRule>, timeout_ms: u64, max: u64) -> NetPolicy {
        let grant = NetGrant { rules, request_timeout: Duration::from_millis(timeout_ms), max_response_bytes: max };
        NetPolicy::new(Arc::from("test-plugin"), Arc::new(grant))
    }

    fn request(method: &str, url: &str) -> Request<WasiBody> {
        let body = if method == "GET" {
            Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync()
        } else {
            Full::new(Bytes::from_static(b"payload")).map_err(|never| match never {}).boxed_unsync()
        };
        let uri: Uri = url.parse().unwrap();
        let host = uri.authority().unwrap().as_str().to_owned();
        Request::builder().method(method).uri(uri).header(http::header::HOST, host).body(body).unwrap()
    }

    /// What the guest would see: the head's status and the whole body, or the send error.
    type Outcome = Result<(u16, Result<Bytes, Error>), Error>;

    /// Runs the hook the way wasmtime's sync bindings do: `in_tokio` on the calling thread.
    fn call(policy: &NetPolicy, req: Request<WasiBody>, options: Option<RequestOptions>) -> Outcome {
        let mut hooks = policy.clone();
        let fut = hooks.send_request(req, options, Box::new(async { Ok(()) }));
        wasmtime_wasi::runtime::in_tokio(async move {
            let (response, conn) = Pin::from(fut).await?;
            let _conn = wasmtime_wasi::runtime::spawn(Pin::from(conn));
            let status = response.status().as_u16();
            let body = response.into_body().collect().await.map(|c| c.to_bytes());
            Ok((status, body))
        })
    }

    fn denial(policy: &NetPolicy) -> String {
        policy.take_denial().unwrap_or_default()
    }

    #[test]
    fn exact_ip_grant_reaches_loopback() {
        let server = TestServer::start();
        let p = policy(vec![rule("127.0.0.1", "127.0.0.1", &["GET"], Some(server.port))], 2000, 1024);
        let url = format!("http://127.0.0.1:{}/hello?key=v", server.port);
        let (status, body) = call(&p, request("GET", &url), None).unwrap();
        assert_eq!(status, 200);
        assert_eq!(body.unwrap(), Bytes::from_static(b"hello from test"));
        assert_eq!(p.take_denial(), None);
        assert!(p.host_wait() > Duration::ZERO);
        let heads = server.heads.lock().unwrap();
        assert_eq!(heads.len(), 1);
        assert!(heads[0].starts_with("GET /hello?key=v HTTP/1.1\r\n"), "{}", heads[0]);
        assert!(heads[0].to_ascii_lowercase().contains(&format!("host: 127.0.0.1:{}", server.port)), "{}", heads[0]);
    }

    #[test]
    fn wildcard_grant_does_not_reach_loopback() {
        let server = TestServer::start();
        let p = policy(vec![rule("*", "*", &["*"], None)], 2000, 1024);
        let err = call(&p, request("GET", &format!("http://127.0.0.1:{}/hello", server.port)), None).unwrap_err();
        assert!(matches!(err, Error::DestinationIpProhibited), "{err:?}");
        let why = denial(&p);
        assert!(why.contains("plugin 'test-plugin' may not send GET http://127.0.0.1:"), "{why}");
        assert!(why.contains("127.0.0.1 is a loopback address; a grant must name it explicitly"), "{why}");
        assert_eq!(server.accepted(), 0);
    }

    #[test]
    fn localhost_is_refused_even_when_named() {
        let server = TestServer::start();
        for granted in ["*", "localhost"] {
            let p = policy(vec![rule("*", granted, &["GET"], None)], 2000, 1024);
            let err = call(&p, request("GET", &format!("http://localhost:{}/hello", server.port)), None).unwrap_err();
            assert!(matches!(err, Error::DestinationIpProhibited), "{granted}: {err:?}");
            let why = denial(&p);
            assert!(why.contains("'localhost' resolves to "), "{why}");
            assert!(why.contains("a loopback address; a grant must name it explicitly"), "{why}");
        }
        assert_eq!(server.accepted(), 0);
    }

    #[test]
    fn ungranted_host_is_refused_before_connecting() {
        let server = TestServer::start();
        let p = policy(vec![rule("api.example.com", "api.example.com", &["GET"], None)], 2000, 1024);
        let err = call(&p, request("GET", &format!("http://127.0.0.1:{}/hello", server.port)), None).unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
        let why = denial(&p);
        assert!(why.contains("plugin 'test-plugin' may not send GET http://127.0.0.1:"), "{why}");
        assert!(why.ends_with("host '127.0.0.1' is not granted"), "{why}");
        // Requested but not granted, or granted but not requested, is not enough.
        let p = policy(vec![rule("*.example.com", "other.example.org", &["GET"], None)], 2000, 1024);
        let err = call(&p, request("GET", "https://api.example.com/"), None).unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
        assert!(denial(&p).ends_with("host 'api.example.com' is not granted"));
        assert_eq!(server.accepted(), 0);
    }

    #[test]
    fn empty_grant_refuses_everything() {
        let p = policy(Vec::new(), 2000, 1024);
        let err = call(&p, request("GET", "https://example.com/"), None).unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
        assert_eq!(
            denial(&p),
            "plugin 'test-plugin' may not send GET https://example.com:443: no host is granted to it"
        );
    }

    #[test]
    fn wrong_method_or_port_is_refused() {
        let server = TestServer::start();
        let p = policy(vec![rule("127.0.0.1", "127.0.0.1", &["GET"], Some(server.port))], 2000, 1024);
        let url = format!("http://127.0.0.1:{}/hello", server.port);
        let err = call(&p, request("POST", &url), None).unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
        assert!(denial(&p).ends_with("POST not allowed for host '127.0.0.1'"));
        let other_port = server.port.wrapping_add(1);
        let err = call(&p, request("GET", &format!("http://127.0.0.1:{other_port}/hello")), None).unwrap_err();
        assert!(matches!(err, Error::HttpRequestDenied), "{err:?}");
        assert!(denial(&p).ends_with(&format!("port {other_port} not allowed for host '127.0.0.1'")));
        assert_eq!(server.accepted(), 0);
    }

    #[test]
    fn body_over_cap_fails_while_reading() {
        let server = TestServer::start();
        let p = policy(vec![rule("127.0.0.1", "127.0.0.1", &["*"], None)], 2000, 1024);
        let (status, body) = call(&p, request("GET", &format!("http://127.0.0.1:{}/big", server.port)), None).unwrap();
        assert_eq!(status, 200);
        let err = body.unwrap_err();
        assert!(matches!(err, Error::HttpResponseBodySize(Some(1024))), "{err:?}");
        assert!(denial(&p).ends_with("failed: response body exceeds the 1024-byte cap"));
        // The same response fits a larger cap.
        let p = policy(vec![rule("127.0.0.1", "127.0.0.1", &["*"], None)], 2000, 4096);
        let (_, body) = call(&p, request("GET", &format!("http://127.0.0.1:{}/big", server.port)), None).unwrap();
        assert_eq!(body.unwrap().len(), 4096);
    }

    #[test]
    fn silent_server_hits_the_clamped_timeout() {
        let server = TestServer::start();
        let p = policy(vec![rule("127.0.0.1", "127.0.0.1", &["GET"], None)], 300, 1024);
        // The guest asks for ten minutes; the operator's 300 ms wins.
        let long = Some(Duration::from_secs(600));
        let options = RequestOptions { connect_timeout: long, first_byte_timeout: long, between_bytes_timeout: long };
        let started = Instant::now();
        let err =
            call(&p, request("GET", &format!("http://127.0.0.1:{}/hang", server.port)), Some(options)).unwrap_err();
        assert!(matches!(err, Error::HttpResponseTimeout), "{err:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(p.host_wait() >= Duration::from_millis(250), "{:?}", p.host_wait());
        assert!(denial(&p).ends_with("failed: no response within 300ms"));
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn metadata_and_private_addresses_are_refused_without_connecting() {
        let p = policy(vec![rule("*", "*", &["*"], None)], 60_000, 1024);
        let cases = [
            ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
            ("http://10.1.2.3:9/", "10.1.2.3 is a private address"),
            ("https://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
            ("http://100.64.0.1/", "100.64.0.1 is a CGNAT shared address"),
        ];
        for (url, reason) in cases {
            let err = call(&p, request("GET", url), None).unwrap_err();
            // A connection attempt to these would time out or fail to route instead.
            assert!(matches!(err, Error::DestinationIpProhibited), "{url}: {err:?}");
            let why = denial(&p);
            assert!(why.ends_with(&format!("{reason}; a grant must name it explicitly")), "{why}");
        }
        let err = call(&p, request("GET", "http://metadata.google.internal/computeMetadata/v1/"), None).unwrap_err();
        assert!(matches!(err, Error::DestinationIpProhibited), "{err:?}");
        assert!(
            denial(&p).ends_with(
                "'metadata.google.internal' is a cloud metadata service name; a grant must name it explicitly"
            )
        );
        assert!(p.host_wait() < Duration::from_secs(5));
    }

    #[test]
    fn tls_client_config_builds() {
        assert!(send::TLS_CONFIG.is_ok(), "{:?}", send::TLS_CONFIG.as_ref().err());
    }

    #[test]
    fn https_handshake_is_bounded_by_the_connect_timeout() {
        // The test server speaks plain HTTP and never answers a ClientHello.
        let server = TestServer::start();
        let p = policy(vec![rule("127.0.0.1", "127.0.0.1", &["GET"], None)], 300, 1024);
        let err = call(&p, request("GET", &format!("https://127.0.0.1:{}/hello", server.port)), None).unwrap_err();
        assert!(matches!(err, Error::ConnectionTimeout), "{err:?}");
        assert!(denial(&p).ends_with("failed: no connection within 300ms"));
        assert_eq!(server.accepted.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn works_on_a_spawn_blocking_thread() {
        let server = TestServer::start();
        let p = policy(vec![rule("127.0.0.1", "127.0.0.1", &["GET"], None)], 2000, 1024);
        let url = format!("http://127.0.0.1:{}/hello", server.port);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
        let outcome = runtime.block_on(async move {
            tokio::task::spawn_blocking(move || call(&p, request("GET", &url), None)).await.unwrap()
        });
        let (status, body) = outcome.unwrap();
        assert_eq!(status, 200);
        assert_eq!(body.unwrap(), Bytes::from_static(b"hello from test"));
    }

    #[test]
    fn works_on_a_plain_thread() {
        let server = TestServer::start();
        let p = policy(vec![rule("127.0.0.1", "127.0.0.1", &["GET"], None)], 2000, 1024);
        let url = format!("http://127.0.0.1:{}/hello", server.port);
        let outcome = thread::spawn(move || call(&p, request("GET", &url), None)).join().unwrap();
        assert_eq!(outcome.unwrap().0, 200);
    }
}
