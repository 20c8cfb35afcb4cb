//! The operator's configuration and secrets for this plugin.
//!
//! A key answers only when the plugin requested it in `describe()`
//! ([`PluginInfo::config_key`](crate::PluginInfo::config_key),
//! [`PluginInfo::secret`](crate::PluginInfo::secret)) **and** the operator's policy grants a
//! value; anything else is `None`, exactly as if it were unset. Treat `None` as "not
//! configured": fall back to a default, or fail the node with a message naming the key.

use std::fmt;

use crate::bindings::abstractgateway::plugin::config as host;

/// A non-secret configuration value, e.g. a model name or a base URL.
///
/// ```no_run
/// let model = abstractgateway_sdk::config::get("model").unwrap_or_else(|| "small".to_owned());
/// ```
pub fn get(key: &str) -> Option<String> {
    host::get(key)
}

/// A secret, such as an API key. The value is wrapped in [`Secret`] so it does not end up in
/// a log line or an error message by accident.
///
/// ```no_run
/// use abstractgateway_sdk::{NodeError, config};
///
/// let key = config::secret("api_key").ok_or_else(|| NodeError::failed("secret 'api_key' is not configured"))?;
/// let response = abstractgateway_sdk::http::post("https://api.example.com/v1/run").bearer(&key).send()?;
/// # Ok::<(), NodeError>(())
/// ```
pub fn secret(key: &str) -> Option<Secret> {
    host::get_secret(key).map(Secret)
}

/// A secret value. `Debug` and `Display` print `***`; call [`Secret::expose`] where the real
/// value is needed (an `Authorization` header, a request body).
///
/// The gateway also scrubs every secret it handed out from logs, errors, ledger records and
/// API answers, but a secret that leaves the plugin by another route (an output pin, a file in
/// the workspace, a request to another host) is the plugin's responsibility.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value (useful in tests; plugins get secrets from [`secret`]).
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret value itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn secret_prints_stars() {
        let s = Secret::new("sk-live-123");
        assert_eq!(format!("{s} {s:?} {:?}", Some(&s)), "*** *** Some(***)");
        assert_eq!(s.expose(), "sk-live-123");
    }
}
