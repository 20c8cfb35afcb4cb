//! Just enough URL parsing to fill a `wasi:http` request: scheme, authority, path and query.
//! (A full URL crate would add tens of kilobytes to every plugin.)

use super::HttpError;

/// `scheme://authority/path?query`, split the way `wasi:http` wants it.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Url<'a> {
    pub https: bool,
    /// `host`, `host:port` or `[v6]:port`, without user info.
    pub authority: &'a str,
    /// Starts with `/`; includes the query, never the fragment.
    pub path_with_query: String,
}

impl<'a> Url<'a> {
    pub fn parse(url: &'a str) -> Result<Self, HttpError> {
        let invalid = |why: &str| HttpError::InvalidRequest(format!("URL '{url}': {why}"));
        let (scheme, rest) = url.split_once("://").ok_or_else(|| invalid("expected http:// or https://"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "https" => true,
            "http" => false,
            _ => return Err(invalid("only http and https are supported")),
        };
        let rest = rest.split('#').next().unwrap_or_default();
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        if authority.is_empty() {
            return Err(invalid("no host"));
        }
        if authority.contains('@') {
            return Err(invalid("user info in URLs is not supported; use a header"));
        }
        if authority.chars().any(|c| c.is_whitespace() || c.is_control()) || tail.chars().any(char::is_control) {
            return Err(invalid("contains whitespace or control characters"));
        }
        let path_with_query = match tail.chars().next() {
            None => "/".to_owned(),
            Some('?') => format!("/{tail}"),
            Some(_) => tail.to_owned(),
        };
        Ok(Self { https, authority, path_with_query })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(url: &str) -> (bool, String, String) {
        let u = Url::parse(url).unwrap();
        (u.https, u.authority.to_owned(), u.path_with_query)
    }

    #[test]
    fn splits_urls() {
        assert_eq!(parts("https://api.example.com"), (true, "api.example.com".into(), "/".into()));
        assert_eq!(parts("http://127.0.0.1:8081/a/b?x=1#frag"), (false, "127.0.0.1:8081".into(), "/a/b?x=1".into()));
        assert_eq!(parts("HTTP://h?q=1"), (false, "h".into(), "/?q=1".into()));
        assert_eq!(parts("http://[::1]:80/"), (false, "[::1]:80".into(), "/".into()));
    }

    #[test]
    fn rejects_what_wasi_http_cannot_send() {
        for bad in ["api.example.com/x", "ftp://h/", "http:///x", "http://user:pw@h/", "http://h /x"] {
            assert!(matches!(Url::parse(bad), Err(HttpError::InvalidRequest(_))), "{bad}");
        }
    }
}
