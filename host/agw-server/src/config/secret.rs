//! A value that must never reach a log line or a `{:?}`.

use std::fmt;

/// Holds a secret (an auth token): `Debug` and `Display` print `***`, and the value itself is
/// reached only through [`Secret::expose`], so every place that uses it says so.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself: for the code that checks it, never for printing.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn prints_stars_and_exposes_on_request() {
        let secret: Secret<String> = Secret::from("hunter2-token");
        assert_eq!(format!("{secret:?} {secret} {secret:#?}"), "*** *** ***");
        assert_eq!(secret.expose(), "hunter2-token");
    }
}
