//! The operator's side of capabilities: the policy file, and the grant a plugin gets, which is
//! the intersection of what it requests in `describe()` and what the policy allows.
//!
//! The policy lives next to the plugins: one `plugins.toml`, and/or a `<stem>.toml` beside a
//! `<stem>.wasm` (the same keys as one `[plugins.<name>]` table, applying to the plugin in that
//! file). Deny by default: a plugin the policy does not mention gets no workspace, no hosts,
//! no config and no secrets, and runs under the operator's default limits.
//!
//! ```toml
//! [defaults]
//! memory_mib = 64
//! deadline_ms = 2000
//!
//! [plugins.greeter]
//! workspace = "read"
//! config = { greeting = "Hello", model = { env = "GREETER_MODEL" } }
//! secrets = { api_key = { env = "GREETER_API_KEY" } }
//! hosts = [{ host = "api.example.com", methods = ["POST"] }]
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::net::{HostRule, NetGrant};
use crate::summary::CapabilitiesSummary;

/// The shared policy file's name in the plugins directory.
pub const POLICY_FILE: &str = "plugins.toml";

/// Workspace access, ordered from least to most.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    #[default]
    None,
    Read,
    ReadWrite,
}

impl Access {
    /// Parses the WIT spelling (`none`, `read`, `read-write`).
    pub(crate) fn from_wit(text: &str) -> Self {
        match text {
            "read" => Self::Read,
            "read-write" => Self::ReadWrite,
            _ => Self::None,
        }
    }
}

/// Per-call limits; every field falls back to the next level (plugin → `[defaults]` → the
/// gateway's configuration).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    pub memory_mib: Option<u32>,
    pub deadline_ms: Option<u64>,
    pub fuel: Option<u64>,
    pub http_timeout_ms: Option<u64>,
    pub http_max_response_bytes: Option<u64>,
}

impl Limits {
    fn or(&self, fallback: &Limits) -> Limits {
        Limits {
            memory_mib: self.memory_mib.or(fallback.memory_mib),
            deadline_ms: self.deadline_ms.or(fallback.deadline_ms),
            fuel: self.fuel.or(fallback.fuel),
            http_timeout_ms: self.http_timeout_ms.or(fallback.http_timeout_ms),
            http_max_response_bytes: self.http_max_response_bytes.or(fallback.http_max_response_bytes),
        }
    }
}

/// Where a configuration value comes from.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum ValueSource {
    /// Written in the policy.
    Literal(String),
    /// Read from the gateway's environment when the plugin is loaded.
    Env { env: String },
}

/// A secret always names an environment variable: secret values do not belong in files that
/// get copied around.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvRef {
    pub env: String,
}

/// An outbound host the operator allows.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostPolicy {
    pub host: String,
    pub port: Option<u16>,
    pub methods: Vec<String>,
}

/// What the operator grants one plugin.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginPolicy {
    #[serde(default)]
    pub workspace: Access,
    #[serde(default)]
    pub hosts: Vec<HostPolicy>,
    #[serde(default)]
    pub config: BTreeMap<String, ValueSource>,
    #[serde(default)]
    pub secrets: BTreeMap<String, EnvRef>,
    pub memory_mib: Option<u32>,
    pub deadline_ms: Option<u64>,
    pub fuel: Option<u64>,
    pub http_timeout_ms: Option<u64>,
    pub http_max_response_bytes: Option<u64>,
    /// Built-in policies (first-party plugins' defaults) read optional variables: an unset
    /// one is not worth a warning.
    #[serde(skip)]
    pub optional_env: bool,
}

impl PluginPolicy {
    /// Grants each of `config` and `secrets` from the environment variable of the same name,
    /// when set: the built-in policy of a first-party provider, whose settings are the
    /// variables the operator already knows (`OPENAI_API_KEY`...).
    pub fn from_same_named_env(config: &[&str], secrets: &[&str]) -> Self {
        Self {
            config: config.iter().map(|k| ((*k).to_owned(), ValueSource::Env { env: (*k).to_owned() })).collect(),
            secrets: secrets.iter().map(|k| ((*k).to_owned(), EnvRef { env: (*k).to_owned() })).collect(),
            optional_env: true,
            ..Self::default()
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            memory_mib: self.memory_mib,
            deadline_ms: self.deadline_ms,
            fuel: self.fuel,
            http_timeout_ms: self.http_timeout_ms,
            http_max_response_bytes: self.http_max_response_bytes,
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    defaults: Limits,
    #[serde(default)]
    plugins: BTreeMap<String, PluginPolicy>,
}

/// A policy file that cannot be used: the message names the file and the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct PolicyError {
    pub file: String,
    pub message: String,
}

/// A plugin's policy and the file it came from.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    policy: PluginPolicy,
    file: String,
}

/// The operator's whole policy.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    defaults: Limits,
    /// From `plugins.toml`, by plugin name.
    by_name: BTreeMap<String, Entry>,
    /// From `<stem>.toml`, by the label of the plugin file beside it (`<stem>.wasm`).
    by_label: BTreeMap<String, Entry>,
}

impl Policy {
    /// Parses `plugins.toml` text; `file` names it in errors.
    pub fn parse(text: &str, file: &str) -> Result<Self, PolicyError> {
        let parsed: PolicyFile = toml::from_str(text).map_err(|e| toml_error(file, &e))?;
        validate_limits(&parsed.defaults, file, "defaults")?;
        let mut by_name = BTreeMap::new();
        for (name, policy) in parsed.plugins {
            validate(&policy, file, &format!("plugins.{name}"))?;
            by_name.insert(name, Entry { policy, file: file.to_owned() });
        }
        Ok(Self { defaults: parsed.defaults, by_name, by_label: BTreeMap::new() })
    }

    /// Adds a `<stem>.toml` policy for the plugin file `label` (`<stem>.wasm`).
    pub fn add_file_policy(&mut self, label: &str, text: &str, file: &str) -> Result<(), PolicyError> {
        let policy: PluginPolicy = toml::from_str(text).map_err(|e| toml_error(file, &e))?;
        validate(&policy, file, "")?;
        self.by_label.insert(label.to_owned(), Entry { policy, file: file.to_owned() });
        Ok(())
    }

    /// Reads `plugins.toml` and every `<stem>.toml` that has a `<stem>.wasm` beside it. A
    /// missing directory or file is an empty policy; an unreadable or invalid one is an error.
    pub fn from_dir(dir: &Path) -> Result<Self, PolicyError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map_err(|e| PolicyError { file: path.display().to_string(), message: format!("cannot read: {e}") })
        };
        let shared = dir.join(POLICY_FILE);
        let mut policy = if shared.is_file() {
            Self::parse(&read(&shared)?, &shared.display().to_string())?
        } else {
            Self::default()
        };
        let Ok(entries) = std::fs::read_dir(dir) else { return Ok(policy) };
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for path in paths {
            let (Some(stem), Some("toml")) =
                (path.file_stem().and_then(|s| s.to_str()), path.extension().and_then(|e| e.to_str()))
            else {
                continue;
            };
            let label = format!("{stem}.wasm");
            if stem == "plugins" || !dir.join(&label).is_file() {
                continue;
            }
            policy.add_file_policy(&label, &read(&path)?, &path.display().to_string())?;
        }
        Ok(policy)
    }

    /// This policy, with `fallback` for the plugin `name` when the operator's files say nothing
    /// about it.
    pub(crate) fn with_fallback(&self, name: &str, label: &str, fallback: &PluginPolicy) -> Policy {
        let mut policy = self.clone();
        if self.entry(name, label).is_none() {
            let entry = Entry { policy: fallback.clone(), file: "built-in".to_owned() };
            policy.by_name.insert(name.to_owned(), entry);
        }
        policy
    }

    /// The policy for the plugin `name` loaded from `label`: the file beside it wins.
    fn entry(&self, name: &str, label: &str) -> Option<&Entry> {
        self.by_label.get(label).or_else(|| self.by_name.get(name))
    }

    /// The grant of the plugin `name` (from `label`) that requests `requested`.
    pub(crate) fn grant(
        &self,
        name: &str,
        label: &str,
        requested: &CapabilitiesSummary,
        operator: &Limits,
        fuel_metering: bool,
    ) -> Grant {
        let entry = self.entry(name, label);
        let empty = PluginPolicy::default();
        let policy = entry.map_or(&empty, |e| &e.policy);
        // Every limit but fuel is set once the gateway's own defaults are the last fallback.
        let limits = policy.limits().or(&self.defaults.or(operator)).or(&crate::HostConfig::default().limits());
        let mut notes = Vec::new();

        let workspace = Access::from_wit(&requested.workspace).min(policy.workspace);

        let mut rules = Vec::new();
        for request in &requested.outbound_hosts {
            for allowed in &policy.hosts {
                if !patterns_overlap(&request.host, &allowed.host) {
                    continue;
                }
                let methods: Vec<String> = request
                    .methods
                    .iter()
                    .map(|m| m.to_ascii_uppercase())
                    .filter(|m| allowed.methods.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(m)) || m == "*")
                    .flat_map(|m| if m == "*" { allowed.methods.clone() } else { vec![m] })
                    .collect();
                if !methods.is_empty() {
                    rules.push(HostRule {
                        requested: request.host.clone(),
                        granted: allowed.host.clone(),
                        methods,
                        port: allowed.port,
                        operator_named: false,
                    });
                }
            }
        }

        let mut config = BTreeMap::new();
        for key in &requested.config_keys {
            match policy.config.get(key) {
                Some(ValueSource::Literal(value)) => {
                    config.insert(key.clone(), value.clone());
                }
                Some(ValueSource::Env { env }) => match std::env::var(env) {
                    Ok(value) => {
                        config.insert(key.clone(), value);
                    }
                    Err(_) if policy.optional_env => {}
                    Err(_) => notes.push(format!("config '{key}': environment variable {env} is not set")),
                },
                None => {}
            }
        }
        let mut secrets = BTreeMap::new();
        for key in &requested.secrets {
            if let Some(EnvRef { env }) = policy.secrets.get(key) {
                match std::env::var(env) {
                    Ok(value) if !value.is_empty() => {
                        secrets.insert(key.clone(), Secret(value.into()));
                    }
                    _ if policy.optional_env => {}
                    _ => notes.push(format!("secret '{key}': environment variable {env} is not set")),
                }
            }
        }

        let granted_mib = limits.memory_mib.unwrap_or_default();
        let memory_mib = requested.memory_mib.map_or(granted_mib, |asked| asked.min(granted_mib));
        Grant {
            workspace,
            net: Arc::new(NetGrant {
                rules,
                request_timeout: Duration::from_millis(limits.http_timeout_ms.unwrap_or_default()),
                max_response_bytes: limits.http_max_response_bytes.unwrap_or_default(),
            }),
            config,
            secrets,
            memory_bytes: (memory_mib as usize) << 20,
            deadline: Duration::from_millis(limits.deadline_ms.unwrap_or_default()),
            fuel: if fuel_metering { Some(limits.fuel.unwrap_or(u64::MAX)) } else { None },
            policy_file: entry.map(|e| e.file.clone()),
            notes,
        }
    }
}

/// A secret value: prints as `***`, never serialized.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Box<str>);

impl Secret {
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// What one plugin version may do: fixed when it is loaded.
#[derive(Debug, Clone)]
pub(crate) struct Grant {
    pub(crate) workspace: Access,
    pub(crate) net: Arc<NetGrant>,
    pub(crate) config: BTreeMap<String, String>,
    pub(crate) secrets: BTreeMap<String, Secret>,
    pub(crate) memory_bytes: usize,
    pub(crate) deadline: Duration,
    /// Fuel per call, when the engine meters fuel (`u64::MAX`: metered, not limited).
    pub(crate) fuel: Option<u64>,
    /// The policy file that granted it, if any mentioned the plugin.
    pub(crate) policy_file: Option<String>,
    /// Grants that could not be honoured (an unset environment variable), by key name.
    pub(crate) notes: Vec<String>,
}

impl Grant {
    /// Adds GET and POST to the host and port of each of `urls` (an LLM provider's configured
    /// base URLs), allowing loopback and private addresses there: the operator named them.
    pub(crate) fn add_base_url_hosts<'a>(&mut self, urls: impl Iterator<Item = &'a str>) {
        let mut net = (*self.net).clone();
        for url in urls {
            let Some((host, port)) = crate::net::url_host_port(url) else {
                self.notes.push(format!("base URL '{url}' is not an http(s) URL; no host granted for it"));
                continue;
            };
            if net.rules.iter().any(|r| r.operator_named && r.granted == host && r.port == Some(port)) {
                continue;
            }
            net.rules.push(HostRule {
                requested: host.clone(),
                granted: host,
                methods: vec!["GET".to_owned(), "POST".to_owned()],
                port: Some(port),
                operator_named: true,
            });
        }
        self.net = Arc::new(net);
    }

    /// Replaces every occurrence of a granted secret's value in `text` with `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in self.secrets.values() {
            if secret.expose().len() >= 4 && text.contains(secret.expose()) {
                text = text.replace(secret.expose(), "***");
            }
        }
        text
    }

    /// [`Grant::scrub`] over every string in a JSON value.
    pub(crate) fn scrub_json(&self, value: &mut serde_json::Value) {
        if self.secrets.is_empty() {
            return;
        }
        match value {
            serde_json::Value::String(s) => *s = self.scrub(s),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.scrub_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.scrub_json(v)),
            _ => {}
        }
    }

    /// What is granted, for views and the load log: names only, never values.
    pub(crate) fn summary(&self) -> GrantSummary {
        GrantSummary {
            workspace: self.workspace,
            outbound_hosts: self
                .net
                .rules
                .iter()
                .map(|r| GrantedHost {
                    host: narrower(&r.requested, &r.granted).to_owned(),
                    port: r.port,
                    methods: r.methods.clone(),
                })
                .collect(),
            config_keys: self.config.keys().cloned().collect(),
            secrets: self.secrets.keys().cloned().collect(),
            memory_mib: (self.memory_bytes >> 20) as u64,
            deadline_ms: self.deadline.as_millis() as u64,
            fuel: self.fuel.filter(|f| *f != u64::MAX),
            http_timeout_ms: self.net.request_timeout.as_millis() as u64,
            http_max_response_bytes: self.net.max_response_bytes,
            policy_file: self.policy_file.clone(),
            notes: self.notes.clone(),
        }
    }
}

/// A grant as views show it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct GrantSummary {
    pub workspace: Access,
    pub outbound_hosts: Vec<GrantedHost>,
    pub config_keys: Vec<String>,
    /// Names of granted secrets that have a value.
    pub secrets: Vec<String>,
    pub memory_mib: u64,
    pub deadline_ms: u64,
    pub fuel: Option<u64>,
    pub http_timeout_ms: u64,
    pub http_max_response_bytes: u64,
    pub policy_file: Option<String>,
    pub notes: Vec<String>,
}

/// An outbound host a plugin may reach.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GrantedHost {
    pub host: String,
    pub port: Option<u16>,
    pub methods: Vec<String>,
}

/// What a plugin requested and did not get.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Denied {
    pub workspace: Option<String>,
    pub outbound_hosts: Vec<String>,
    pub config_keys: Vec<String>,
    pub secrets: Vec<String>,
}

impl Denied {
    pub(crate) fn between(requested: &CapabilitiesSummary, granted: &GrantSummary) -> Self {
        let asked = Access::from_wit(&requested.workspace);
        Denied {
            workspace: (asked > granted.workspace).then(|| requested.workspace.clone()),
            outbound_hosts: requested
                .outbound_hosts
                .iter()
                .flat_map(|h| h.methods.iter().map(move |m| (h, m.to_ascii_uppercase())))
                .filter(|(h, m)| {
                    !granted.outbound_hosts.iter().any(|g| {
                        patterns_overlap(&h.host, &g.host)
                            && (g.methods.contains(m) || g.methods.iter().any(|x| x == "*"))
                    })
                })
                .map(|(h, m)| format!("{m} {}", h.host))
                .collect(),
            config_keys: requested.config_keys.iter().filter(|k| !granted.config_keys.contains(k)).cloned().collect(),
            secrets: requested.secrets.iter().filter(|k| !granted.secrets.contains(k)).cloned().collect(),
        }
    }
}

/// Whether two host patterns (`*`, `*.example.com`, or an exact host) can match one host.
pub(crate) fn patterns_overlap(a: &str, b: &str) -> bool {
    let (a, b) = (a.to_ascii_lowercase(), b.to_ascii_lowercase());
    match (a.strip_prefix("*."), b.strip_prefix("*.")) {
        _ if a == "*" || b == "*" => true,
        (Some(sa), Some(sb)) => sa == sb || sa.ends_with(&format!(".{sb}")) || sb.ends_with(&format!(".{sa}")),
        (Some(suffix), None) => b.ends_with(&format!(".{suffix}")),
        (None, Some(suffix)) => a.ends_with(&format!(".{suffix}")),
        (None, None) => a == b,
    }
}

/// The narrower of two overlapping patterns (what the grant effectively allows).
fn narrower<'a>(a: &'a str, b: &'a str) -> &'a str {
    let rank = |p: &str| match p {
        "*" => 0,
        p if p.starts_with("*.") => 1,
        _ => 2,
    };
    if rank(a) >= rank(b) { a } else { b }
}

fn toml_error(file: &str, error: &toml::de::Error) -> PolicyError {
    PolicyError { file: file.to_owned(), message: error.to_string().trim().replace('\n', " ") }
}

fn validate_limits(limits: &Limits, file: &str, at: &str) -> Result<(), PolicyError> {
    let fail =
        |key: &str, why: &str| PolicyError { file: file.to_owned(), message: format!("{}: {why}", join(at, key)) };
    if limits.memory_mib == Some(0) || limits.memory_mib.is_some_and(|m| m > 4096) {
        return Err(fail("memory_mib", "must be between 1 and 4096"));
    }
    if limits.deadline_ms == Some(0) {
        return Err(fail("deadline_ms", "must be at least 1"));
    }
    if limits.http_timeout_ms == Some(0) {
        return Err(fail("http_timeout_ms", "must be at least 1"));
    }
    Ok(())
}

fn validate(policy: &PluginPolicy, file: &str, at: &str) -> Result<(), PolicyError> {
    validate_limits(&policy.limits(), file, at)?;
    let fail = |key: String, why: String| PolicyError { file: file.to_owned(), message: format!("{key}: {why}") };
    for (i, host) in policy.hosts.iter().enumerate() {
        let key = |field: &str| join(at, &format!("hosts[{i}].{field}"));
        if let Err(why) = check_host_pattern(&host.host) {
            return Err(fail(key("host"), why));
        }
        if host.methods.is_empty() {
            return Err(fail(key("methods"), "list at least one method (or \"*\")".into()));
        }
        for method in &host.methods {
            if method != "*" && !KNOWN_METHODS.contains(&method.to_ascii_uppercase().as_str()) {
                return Err(fail(key("methods"), format!("'{method}' is not an HTTP method")));
            }
        }
    }
    for (key, source) in &policy.config {
        if let ValueSource::Env { env } = source
            && env.trim().is_empty()
        {
            return Err(fail(join(at, &format!("config.{key}.env")), "names no variable".into()));
        }
    }
    for (key, EnvRef { env }) in &policy.secrets {
        if env.trim().is_empty() {
            return Err(fail(join(at, &format!("secrets.{key}.env")), "names no variable".into()));
        }
    }
    Ok(())
}

const KNOWN_METHODS: [&str; 9] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE"];

fn check_host_pattern(pattern: &str) -> Result<(), String> {
    let host = pattern.strip_prefix("*.").unwrap_or(pattern);
    if pattern == "*" {
        return Ok(());
    }
    if host.parse::<std::net::IpAddr>().is_ok() && !pattern.starts_with("*.") {
        return Ok(());
    }
    let valid = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') && !label.starts_with('-')
        });
    if valid { Ok(()) } else { Err(format!("'{pattern}' is not a host name, an IP address, '*.domain' or '*'")) }
}

fn join(at: &str, key: &str) -> String {
    if at.is_empty() { key.to_owned() } else { format!("{at}.{key}") }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::summary::HostRequestSummary;

    fn requested(workspace: &str, hosts: &[(&str, &[&str])], config: &[&str], secrets: &[&str]) -> CapabilitiesSummary {
        CapabilitiesSummary {
            outbound_hosts: hosts
                .iter()
                .map(|(h, m)| HostRequestSummary {
                    host: (*h).to_owned(),
                    methods: m.iter().map(|s| (*s).to_owned()).collect(),
                })
                .collect(),
            workspace: workspace.to_owned(),
            config_keys: config.iter().map(|s| (*s).to_owned()).collect(),
            secrets: secrets.iter().map(|s| (*s).to_owned()).collect(),
            memory_mib: None,
        }
    }

    const POLICY: &str = r#"
        [defaults]
        memory_mib = 32
        [plugins.greeter]
        workspace = "read"
        deadline_ms = 500
        config = { greeting = "Hello", missing = { env = "AGW_POLICY_TEST_UNSET_VAR" } }
        secrets = { api_key = { env = "AGW_POLICY_TEST_KEY" } }
        hosts = [{ host = "api.example.com", methods = ["POST"] }, { host = "127.0.0.1", port = 8081, methods = ["GET"] }]
    "#;

    #[test]
    fn a_plugin_gets_the_intersection_of_request_and_policy() {
        // SAFETY-free: tests in this module only read this variable.
        let policy = Policy::parse(POLICY, "plugins.toml").unwrap();
        let asked = requested(
            "read-write",
            &[("api.example.com", &["GET", "POST"]), ("*", &["GET"]), ("evil.example.org", &["POST"])],
            &["greeting", "missing", "unlisted"],
            &["api_key", "other"],
        );
        let grant = policy.grant("greeter", "greeter.wasm", &asked, &Limits::default(), false);
        assert_eq!(grant.workspace, Access::Read);
        let hosts: Vec<_> = grant.net.rules.iter().map(|r| (r.granted.as_str(), r.methods.clone(), r.port)).collect();
        assert_eq!(
            hosts,
            vec![("api.example.com", vec!["POST".to_owned()], None), ("127.0.0.1", vec!["GET".to_owned()], Some(8081))]
        );
        assert_eq!(grant.config.keys().collect::<Vec<_>>(), vec!["greeting"]);
        assert!(grant.notes.iter().any(|n| n.contains("AGW_POLICY_TEST_UNSET_VAR")), "{:?}", grant.notes);
        assert!(grant.secrets.is_empty(), "the key's variable is not set");
        assert_eq!(grant.memory_bytes, 32 << 20);
        assert_eq!(grant.deadline, Duration::from_millis(500));
        let summary = grant.summary();
        let denied = Denied::between(&asked, &summary);
        assert_eq!(denied.workspace.as_deref(), Some("read-write"));
        assert_eq!(denied.outbound_hosts, vec!["GET api.example.com", "POST evil.example.org"]);
        assert_eq!(denied.config_keys, vec!["missing", "unlisted"]);
        assert_eq!(denied.secrets, vec!["api_key", "other"]);
    }

    #[test]
    fn an_unmentioned_plugin_gets_nothing_but_default_limits() {
        let policy = Policy::parse(POLICY, "plugins.toml").unwrap();
        let asked = requested("read-write", &[("*", &["GET"])], &["greeting"], &["api_key"]);
        let operator = Limits { deadline_ms: Some(1500), ..Limits::default() };
        let grant = policy.grant("stranger", "stranger.wasm", &asked, &operator, true);
        assert_eq!(grant.workspace, Access::None);
        assert!(grant.net.rules.is_empty());
        assert!(grant.config.is_empty() && grant.secrets.is_empty());
        assert_eq!((grant.memory_bytes, grant.deadline), (32 << 20, Duration::from_millis(1500)));
        assert_eq!(grant.fuel, Some(u64::MAX));
    }

    #[test]
    fn a_file_beside_the_plugin_replaces_its_shared_entry() {
        let mut policy = Policy::parse(POLICY, "plugins.toml").unwrap();
        policy.add_file_policy("greeter.wasm", "workspace = \"read-write\"\nmemory_mib = 8", "greeter.toml").unwrap();
        let asked = requested("read-write", &[("api.example.com", &["POST"])], &["greeting"], &[]);
        let grant = policy.grant("greeter", "greeter.wasm", &asked, &Limits::default(), false);
        assert_eq!(grant.workspace, Access::ReadWrite);
        assert!(grant.net.rules.is_empty() && grant.config.is_empty());
        assert_eq!(grant.memory_bytes, 8 << 20);
        assert_eq!(grant.policy_file.as_deref(), Some("greeter.toml"));
    }

    #[test]
    fn bad_policies_are_refused_naming_file_and_key() {
        let cases = [
            ("[plugins.x]\nworkspace = \"write\"", "workspace"),
            ("[plugins.x]\nhosts = [{ host = \"a b\", methods = [\"GET\"] }]", "plugins.x.hosts[0].host"),
            ("[plugins.x]\nhosts = [{ host = \"a.com\", methods = [\"FETCH\"] }]", "'FETCH' is not an HTTP method"),
            ("[plugins.x]\nhosts = [{ host = \"a.com\", methods = [] }]", "plugins.x.hosts[0].methods"),
            ("[plugins.x]\nsecrets = { k = \"literal\" }", "secrets"),
            ("[plugins.x]\nmemory_mb = 3", "memory_mb"),
            ("[defaults]\nmemory_mib = 0", "defaults.memory_mib"),
            ("[plugins.x]\ndeadline_ms = 0", "plugins.x.deadline_ms"),
            ("not toml", "plugins.toml"),
        ];
        for (text, expected) in cases {
            let error = Policy::parse(text, "plugins.toml").unwrap_err();
            assert_eq!(error.file, "plugins.toml");
            assert!(error.to_string().contains(expected), "{text:?} gave {error}");
        }
    }

    #[test]
    fn host_patterns_overlap_as_sets_of_hosts() {
        assert!(patterns_overlap("*", "a.com"));
        assert!(patterns_overlap("*.a.com", "x.a.com"));
        assert!(patterns_overlap("*.a.com", "*.x.a.com"));
        assert!(!patterns_overlap("*.a.com", "a.com"));
        assert!(!patterns_overlap("a.com", "b.com"));
        assert!(patterns_overlap("API.a.com", "api.A.com"));
    }

    #[test]
    fn secrets_are_scrubbed_from_text_and_json() {
        let grant = Grant {
            secrets: BTreeMap::from([("k".to_owned(), Secret("s3cr3t-xyz".into()))]),
            ..Policy::default().grant("p", "p.wasm", &requested("none", &[], &[], &[]), &Limits::default(), false)
        };
        assert_eq!(grant.scrub("key=s3cr3t-xyz!"), "key=***!");
        let mut value = serde_json::json!({ "a": ["s3cr3t-xyz"], "b": { "c": "x s3cr3t-xyz" } });
        grant.scrub_json(&mut value);
        assert_eq!(value, serde_json::json!({ "a": ["***"], "b": { "c": "x ***" } }));
        assert_eq!(format!("{:?}", grant.secrets), "{\"k\": ***}");
    }
}
