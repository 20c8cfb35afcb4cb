//! The outbound HTTP policy: rules, address checks, limits and waits, against local servers.

#![allow(clippy::unwrap_used)]

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
    assert_eq!(denial(&p), "plugin 'test-plugin' may not send GET https://example.com:443: no host is granted to it");
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
    let err = call(&p, request("GET", &format!("http://127.0.0.1:{}/hang", server.port)), Some(options)).unwrap_err();
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
        denial(&p)
            .ends_with("'metadata.google.internal' is a cloud metadata service name; a grant must name it explicitly")
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
