//! Reading `ABSTRACTGATEWAY_*` variables: the one list of known settings, the reader that
//! records where each value came from, and the warning for a variable nobody reads.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::{Context, bail};

use super::Secret;

/// What every variable name starts with.
pub const PREFIX: &str = "ABSTRACTGATEWAY_";

/// Every setting the gateway reads, without [`PREFIX`], in the order `abstractgateway config`
/// prints them (by group: server, security, store, runner, plugins). The reader refuses a name
/// that is not here, and a test checks it reads every one, so the list cannot drift.
pub const SETTINGS: &[&str] = &[
    // server
    "DATA_DIR",
    "FLOWS_DIR",
    "LOG_FORMAT",
    "MAX_SSE",
    "MAX_BUNDLE_BYTES",
    "MAX_UPLOAD_BODY_BYTES",
    "MAX_BUNDLE_ENTRIES",
    "MAX_BUNDLE_EXPANDED_BYTES",
    "MAX_BUNDLE_FLOWS",
    "MAX_BUNDLE_JSON_BYTES",
    "MAX_FLOW_NODES",
    "MAX_FLOW_EDGES",
    "MAX_NODE_BYTES",
    "MAX_JSON_DEPTH",
    // security
    "AUTH_TOKEN",
    "AUTH_TOKENS",
    "SECURITY",
    "PROTECT_READ",
    "PROTECT_WRITE",
    "DEV_READ_NO_AUTH",
    "ALLOWED_ORIGINS",
    "MAX_BODY_BYTES",
    "MAX_CONCURRENCY",
    "LOCKOUT_AFTER",
    "LOCKOUT_BASE_S",
    "LOCKOUT_MAX_S",
    "TRUST_PROXY",
    "AUDIT_LOG",
    "AUDIT_LOG_MAX_BYTES",
    "AUDIT_LOG_ROTATIONS",
    "AUDIT_LOG_HEADERS",
    // store
    "STORE_BACKEND",
    "DB_PATH",
    "FSYNC",
    // runner
    "RUNNER",
    "POLL_S",
    "TICK_WORKERS",
    "TICK_MAX_STEPS",
    "TICK_SLICE_MS",
    "COMMAND_BATCH_LIMIT",
    // plugins
    "PLUGINS_DIR",
    "PLUGIN_CACHE_DIR",
    "PLUGIN_WATCH",
    "PLUGIN_MEMORY_MIB",
    "PLUGIN_DEADLINE_S",
    "PLUGIN_FUEL",
    "PLUGIN_HTTP_TIMEOUT_S",
    "PLUGIN_HTTP_MAX_RESPONSE_BYTES",
    "PLUGIN_TRUSTED_KEYS",
    "PLUGIN_REQUIRE_SIGNATURE",
    // llm
    "PROVIDER",
    "MODEL",
    "CAPABILITY_DEFAULTS",
];

/// The environment the configuration is read from: the process's, or a test's.
#[derive(Debug, Clone, Default)]
pub struct Vars(BTreeMap<String, String>);

impl Vars {
    /// The process environment (variables whose name or value is not Unicode are left out,
    /// as `std::env::var` would).
    pub fn from_process() -> Self {
        std::env::vars_os().filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))).collect()
    }

    /// `ABSTRACTGATEWAY_<name>`, trimmed; unset and empty are the same.
    fn get(&self, name: &str) -> Option<&str> {
        self.0.get(&format!("{PREFIX}{name}")).map(|v| v.trim()).filter(|v| !v.is_empty())
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Vars {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        Self(iter.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }
}

/// One warning per `ABSTRACTGATEWAY_*` variable that is not a setting, naming the closest one
/// (`ABSTRACTGATEWAY_AUTH_TOKN: unknown; did you mean ABSTRACTGATEWAY_AUTH_TOKEN?`).
pub fn unknown_variables(vars: &Vars) -> Vec<String> {
    vars.0
        .keys()
        .filter_map(|key| {
            let name = key.strip_prefix(PREFIX)?;
            if SETTINGS.contains(&name) {
                return None;
            }
            let closest = SETTINGS.iter().min_by_key(|known| strsim::levenshtein(name, known))?;
            Some(format!("{key}: unknown; did you mean {PREFIX}{closest}?"))
        })
        .collect()
}

/// Where a setting's value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Default,
    Environment,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "default",
            Self::Environment => "environment",
        })
    }
}

/// One effective setting as `abstractgateway config` shows it: the value as it would be
/// written in the variable (secrets as `***`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub value: String,
    pub origin: Origin,
}

impl fmt::Display for Setting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{PREFIX}{} = {} ({})", self.name, self.value, self.origin)
    }
}

/// One line per setting, in [`SETTINGS`] order.
pub fn render(settings: &[Setting]) -> String {
    settings.iter().map(|s| format!("{s}\n")).collect()
}

/// Shown for a setting with no value (an unset path, an empty list).
const NONE: &str = "(none)";

/// Reads settings from [`Vars`], noting each value and where it came from.
pub(crate) struct Reader<'a> {
    vars: &'a Vars,
    seen: Vec<Setting>,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(vars: &'a Vars) -> Self {
        Self { vars, seen: Vec::new() }
    }

    /// What was read, in [`SETTINGS`] order.
    pub(crate) fn into_settings(mut self) -> Vec<Setting> {
        self.seen.sort_by_key(|s| SETTINGS.iter().position(|known| *known == s.name));
        self.seen
    }

    /// A variable outside the gateway's own prefix that a setting falls back to (AbstractCore's
    /// `ABSTRACTCORE_CONFIG_FILE`).
    pub(crate) fn foreign(&self, name: &str) -> Option<&'a str> {
        self.vars.0.get(name).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    pub(crate) fn raw(&self, name: &'static str) -> Option<&'a str> {
        assert!(SETTINGS.contains(&name), "{PREFIX}{name} is read but missing from config::SETTINGS");
        self.vars.get(name)
    }

    /// The setting `name`: `default` when unset, else what `parse` makes of it; `show` says
    /// how `abstractgateway config` prints the result.
    pub(crate) fn value<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> anyhow::Result<T>,
        show: impl FnOnce(&T) -> String,
    ) -> anyhow::Result<T> {
        let raw = self.raw(name);
        let value = match raw {
            None => default,
            Some(raw) => parse(raw)?,
        };
        self.note(name, raw.is_some(), show(&value));
        Ok(value)
    }

    /// Like [`value`](Self::value) for a setting any text is good for.
    pub(crate) fn text<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> T,
        show: impl FnOnce(&T) -> String,
    ) -> T {
        let raw = self.raw(name);
        let value = raw.map_or(default, parse);
        self.note(name, raw.is_some(), show(&value));
        value
    }

    fn note(&mut self, name: &'static str, set: bool, shown: String) {
        let origin = if set { Origin::Environment } else { Origin::Default };
        let value = if shown.is_empty() { NONE.to_owned() } else { shown };
        self.seen.push(Setting { name, value, origin });
    }

    pub(crate) fn parsed<T: FromStr + fmt::Display>(&mut self, name: &'static str, default: T) -> anyhow::Result<T>
    where
        T::Err: fmt::Display,
    {
        self.value(name, default, |raw| parse(name, raw), T::to_string)
    }

    /// A number that must be at least 1.
    pub(crate) fn positive<T>(&mut self, name: &'static str, default: T) -> anyhow::Result<T>
    where
        T: FromStr + PartialOrd + Default + fmt::Display,
        T::Err: fmt::Display,
    {
        self.value(name, default, |raw| positive(name, raw), T::to_string)
    }

    pub(crate) fn flag(&mut self, name: &'static str, default: bool) -> anyhow::Result<bool> {
        let parse = |raw: &str| match raw.to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "on" => Ok(true),
            "0" | "false" | "no" | "off" => Ok(false),
            other => bail!("{PREFIX}{name}={other:?} is not a boolean (use 1 or 0)"),
        };
        self.value(name, default, parse, |on| if *on { "1" } else { "0" }.to_owned())
    }

    /// A duration written in (fractional) seconds.
    pub(crate) fn seconds(&mut self, name: &'static str, default: Duration) -> anyhow::Result<Duration> {
        let parse = |raw: &str| {
            let value: f64 = parse(name, raw)?;
            Duration::try_from_secs_f64(value)
                .with_context(|| format!("{PREFIX}{name} must be a positive number of seconds"))
        };
        self.value(name, default, parse, |d| d.as_secs_f64().to_string())
    }

    pub(crate) fn path(&mut self, name: &'static str, default: PathBuf) -> PathBuf {
        self.text(name, default, |raw| PathBuf::from(raw), |p| p.display().to_string())
    }

    /// A comma-separated list (blank items dropped).
    pub(crate) fn list(&mut self, name: &'static str, default: Vec<String>) -> Vec<String> {
        self.text(name, default, |raw| items(raw).map(str::to_owned).collect(), |items| items.join(","))
    }

    /// A secret, or a comma-separated list of them with `list`, shown as `***`.
    pub(crate) fn secrets(&mut self, name: &'static str, list: bool) -> Vec<Secret<String>> {
        let parse = |raw: &str| if list { items(raw).map(Secret::from).collect() } else { vec![Secret::from(raw)] };
        self.text(name, Vec::new(), parse, |s| if s.is_empty() { String::new() } else { "***".to_owned() })
    }
}

fn items(raw: &str) -> impl Iterator<Item = &str> {
    raw.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn parse<T: FromStr>(name: &str, raw: &str) -> anyhow::Result<T>
where
    T::Err: fmt::Display,
{
    raw.parse().map_err(|e| anyhow::anyhow!("{PREFIX}{name}={raw:?} is invalid: {e}"))
}

pub(crate) fn positive<T: FromStr + PartialOrd + Default>(name: &str, raw: &str) -> anyhow::Result<T>
where
    T::Err: fmt::Display,
{
    let value = parse(name, raw)?;
    if value <= T::default() {
        bail!("{PREFIX}{name} must be at least 1");
    }
    Ok(value)
}
