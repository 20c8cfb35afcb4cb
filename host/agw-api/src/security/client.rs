//! Who is asking: the client IP that lockouts, loopback checks and audit lines use.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request};

/// The client of one request.
#[derive(Debug, Clone)]
pub(super) struct Client {
    /// The IP the lockout counts against and the audit log records: the socket peer, or
    /// with `TRUST_PROXY` the first `X-Forwarded-For` entry.
    pub ip: String,
    /// Both the socket peer and `ip` are loopback addresses. A proxy on this machine
    /// forwarding a remote client is not loopback once it is trusted to say so.
    pub loopback: bool,
}

impl Client {
    pub fn of(request: &Request, trust_proxy: bool) -> Self {
        let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_canonical());
        let forwarded = trust_proxy.then(|| first_forwarded(request)).flatten();
        let ip = forwarded.or(peer);
        Self {
            ip: ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string()),
            loopback: peer.is_some_and(|p| p.is_loopback()) && ip.is_some_and(|ip| ip.is_loopback()),
        }
    }
}

/// The first `X-Forwarded-For` entry when it is an IP address. Anything else is ignored, so
/// a lockout key is never an arbitrary string.
fn first_forwarded(request: &Request) -> Option<IpAddr> {
    let value = request.headers().get("x-forwarded-for")?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    first.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(peer: &str, forwarded: Option<&str>) -> Request {
        let mut builder = Request::builder().uri("/api/gateway/runs");
        if let Some(value) = forwarded {
            builder = builder.header("x-forwarded-for", value);
        }
        let mut request = builder.body(axum::body::Body::empty()).expect("request");
        let addr: SocketAddr = peer.parse().expect("addr");
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    }

    #[test]
    fn forwarded_for_counts_only_behind_a_trusted_proxy() {
        let r = request("127.0.0.1:5000", Some("203.0.113.7, 10.0.0.1"));
        let direct = Client::of(&r, false);
        assert_eq!((direct.ip.as_str(), direct.loopback), ("127.0.0.1", true));
        let proxied = Client::of(&r, true);
        assert_eq!((proxied.ip.as_str(), proxied.loopback), ("203.0.113.7", false));
    }

    #[test]
    fn mapped_ipv4_and_garbage_forwarded_for() {
        let r = request("[::ffff:127.0.0.1]:5000", Some("not-an-ip"));
        let client = Client::of(&r, true);
        assert_eq!((client.ip.as_str(), client.loopback), ("127.0.0.1", true));
        let remote = Client::of(&request("192.0.2.1:80", Some("127.0.0.1")), true);
        assert_eq!((remote.ip.as_str(), remote.loopback), ("127.0.0.1", false), "a remote peer is never loopback");
    }
}
