//! Rule 1: a request carrying an `Origin` that is not on `ABSTRACTGATEWAY_ALLOWED_ORIGINS`
//! gets 403, whatever its credentials (a page elsewhere must not drive the gateway through
//! a user's browser).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::{Guard, reject};

/// The origins a browser page may call from: exact strings or glob patterns as Python's
/// `fnmatch` reads them (`*`, `?`, `[...]`, `[!...]`).
#[derive(Debug, Clone)]
pub(super) struct Allowlist {
    patterns: Vec<String>,
}

impl Allowlist {
    pub fn new(patterns: &[String]) -> Self {
        Self { patterns: patterns.iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect() }
    }

    pub fn allows(&self, origin: &str) -> bool {
        let origin = origin.trim();
        origin.is_empty() || self.patterns.iter().any(|p| glob(p.as_bytes(), origin.as_bytes()))
    }

    /// Whether the `Origin` header, if any, is allowed. An unreadable value is not.
    pub fn allows_header(&self, value: Option<&HeaderValue>) -> bool {
        value.is_none_or(|v| v.to_str().is_ok_and(|o| self.allows(o)))
    }
}

pub(super) async fn check(State(guard): State<Arc<Guard>>, request: Request, next: Next) -> Response {
    if guard.guards(request.uri().path()) && !guard.origins.allows_header(request.headers().get(header::ORIGIN)) {
        return reject(StatusCode::FORBIDDEN, "Forbidden (origin not allowed)", &[]);
    }
    next.run(request).await
}

/// Case-sensitive glob matching (`fnmatch.fnmatchcase`), iterative with backtracking on the
/// last `*`, so no pattern can make it slow.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        let step = match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
                continue;
            }
            Some(b'?') => Some(1),
            Some(b'[') => class(&pattern[p..], text[t]),
            Some(&c) => (c == text[t]).then_some(1),
            None => None,
        };
        match (step, star) {
            (Some(len), _) => {
                p += len;
                t += 1;
            }
            (None, Some((sp, st))) => {
                p = sp + 1;
                t = st + 1;
                star = Some((sp, st + 1));
            }
            (None, None) => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Matches `c` against the class at the start of `pattern` (`[abc]`, `[a-z]`, `[!x]`);
/// returns the class's length when it matches. A `[` without its `]` is a literal.
fn class(pattern: &[u8], c: u8) -> Option<usize> {
    let negate = pattern.get(1) == Some(&b'!');
    let start = if negate { 2 } else { 1 };
    // A `]` right after the opening is part of the set, as in fnmatch.
    let Some(end) = pattern.iter().skip(start + 1).position(|&b| b == b']').map(|i| i + start + 1) else {
        return (c == b'[').then_some(1);
    };
    let set = &pattern[start..end];
    let mut hit = false;
    let mut i = 0;
    while i < set.len() {
        if i + 2 < set.len() && set[i + 1] == b'-' {
            hit |= (set[i]..=set[i + 2]).contains(&c);
            i += 3;
        } else {
            hit |= set[i] == c;
            i += 1;
        }
    }
    (hit != negate).then_some(end + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allowlist(patterns: &[&str]) -> Allowlist {
        Allowlist::new(&patterns.iter().map(|p| (*p).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn default_patterns_allow_local_pages_only() {
        let list = allowlist(&["http://localhost:*", "http://127.0.0.1:*"]);
        for ok in ["http://localhost:3000", "http://127.0.0.1:5173", ""] {
            assert!(list.allows(ok), "{ok}");
        }
        for bad in ["http://evil.example", "https://localhost:3000", "null", "http://localhost"] {
            assert!(!list.allows(bad), "{bad}");
        }
    }

    #[test]
    fn globs_follow_fnmatch() {
        assert!(glob(b"https://*.ngrok-free.app", b"https://a-b.ngrok-free.app"));
        assert!(!glob(b"https://*.ngrok-free.app", b"https://ngrok-free.app"));
        assert!(glob(b"*", b"anything"));
        assert!(glob(b"http://h:30?0", b"http://h:3010"));
        assert!(glob(b"http://h:[0-9][!a]", b"http://h:5b"));
        assert!(!glob(b"http://h:[0-9]", b"http://h:x"));
        assert!(glob(b"a[b", b"a[b"), "an unclosed class is a literal");
        assert!(glob(b"a*b*c", b"axxbyyc"));
        assert!(!glob(b"a*b*c", b"axxbyy"));
        assert!(!allowlist(&[]).allows("http://localhost:1"), "an empty list allows nothing");
    }
}
