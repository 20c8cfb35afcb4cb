//! Logging through the host, attributed to this plugin and the current run.
//!
//! Lines go to the gateway's structured log, not to stdout (which the sandbox discards). The
//! gateway replaces every secret it handed to the plugin with `***` before the line is
//! written, but do not log secrets on purpose.

use crate::bindings::abstractgateway::plugin::host::{self, LogLevel};

/// Logs at trace level.
pub fn trace(message: &str) {
    host::log(LogLevel::Trace, message);
}

/// Logs at debug level.
pub fn debug(message: &str) {
    host::log(LogLevel::Debug, message);
}

/// Logs at info level.
pub fn info(message: &str) {
    host::log(LogLevel::Info, message);
}

/// Logs at warn level.
pub fn warn(message: &str) {
    host::log(LogLevel::Warn, message);
}

/// Logs at error level.
pub fn error(message: &str) {
    host::log(LogLevel::Error, message);
}
