//! Configuration from `ABSTRACTGATEWAY_*` environment variables (spec/contract.md).

use std::path::PathBuf;
use std::time::Duration;

use agw_api::SecurityPolicy;
use agw_domain::bundle::BundleLimits;
use agw_plugins::signing::TrustedKeys;
use anyhow::{Context, bail};

/// Everything the gateway reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    /// `None`: serve the sample bundles built into the binary.
    pub flows_dir: Option<PathBuf>,
    pub plugins_dir: PathBuf,
    /// Compiled plugin code, keyed by component digest and engine (default `<data>/plugin-cache`).
    pub plugin_cache_dir: PathBuf,
    pub tokens: Vec<String>,
    /// `ABSTRACTGATEWAY_SECURITY=0` turns authentication off (local development only).
    pub security: bool,
    pub runner_enabled: bool,
    pub poll: Duration,
    pub tick_workers: usize,
    pub tick_max_steps: u32,
    /// `ABSTRACTGATEWAY_TICK_SLICE_MS`: a tick yields after this long (at its next step).
    pub tick_slice: Duration,
    pub command_batch: usize,
    /// `ABSTRACTGATEWAY_FSYNC` (default 1): fsync every durable write. 0 relies on the OS
    /// page cache: still safe when the process dies, not when the machine loses power.
    pub fsync: bool,
    /// `ABSTRACTGATEWAY_STORE_BACKEND`: `file` (default) or `sqlite`.
    pub store_backend: StoreBackend,
    /// `ABSTRACTGATEWAY_DB_PATH`: the SQLite database; `None` means `<data>/gateway.sqlite3`
    /// (see [`Config::db_path`]).
    pub db_path: Option<PathBuf>,
    pub plugin_memory_mib: usize,
    pub plugin_deadline: Duration,
    /// Fuel metering: each call's budget (`ABSTRACTGATEWAY_PLUGIN_FUEL`; unset = off, `max` =
    /// metered without a limit). The ledger then reports each plugin step's cost.
    pub plugin_fuel: Option<u64>,
    /// Bound on one outbound plugin HTTP request.
    pub plugin_http_timeout: Duration,
    /// Largest HTTP response body a plugin may read.
    pub plugin_http_max_response_bytes: u64,
    /// Reload the plugins directory when it changes.
    pub plugin_watch: bool,
    /// `ABSTRACTGATEWAY_MAX_SSE` (32): concurrent ledger streams; one more gets 429.
    pub max_sse: usize,
    /// `ABSTRACTGATEWAY_MAX_BUNDLE_BYTES` (75 MiB): largest `.flow` file an upload may carry.
    pub max_bundle_bytes: u64,
    /// `ABSTRACTGATEWAY_MAX_UPLOAD_BODY_BYTES` (0: the bundle cap plus 2 MiB of multipart
    /// envelope): a lower cap on the whole upload request. See [`Config::upload_body_cap`].
    pub max_upload_body_bytes: u64,
    /// What a bundle may hold (archive size and entries, flows, nodes, edges, node data,
    /// JSON size and depth), on load and on upload. See [`bundle_limits`].
    pub bundle_limits: BundleLimits,
    /// Origins, body and concurrency caps, lockout, audit log (see [`security_policy`]).
    pub policy: SecurityPolicy,
    /// `ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS`: public keys (`ed25519:<base64>`, separated by
    /// commas or whitespace) whose plugin signatures are trusted; a bad item fails loading.
    pub plugin_trusted_keys: TrustedKeys,
    /// `ABSTRACTGATEWAY_PLUGIN_REQUIRE_SIGNATURE` (default 0): load only plugins signed by a
    /// trusted key. Loading the config fails when it is on with no trusted key.
    pub plugin_require_signature: bool,
}

/// Where runs, ledgers and the inbox live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreBackend {
    /// Plain files in the data dir (the reference's layout).
    #[default]
    File,
    /// One SQLite database inside the data dir.
    Sqlite,
}

impl std::str::FromStr for StoreBackend {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "file" => Ok(Self::File),
            "sqlite" => Ok(Self::Sqlite),
            _ => Err("use file or sqlite".into()),
        }
    }
}

/// Room for the multipart envelope around an uploaded bundle, as the reference allows.
const UPLOAD_ENVELOPE_BYTES: u64 = 2 * 1024 * 1024;

fn var(name: &str) -> Option<String> {
    std::env::var(format!("ABSTRACTGATEWAY_{name}")).ok().map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

fn parsed<T: std::str::FromStr>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    match var(name) {
        None => Ok(default),
        Some(raw) => raw.parse().map_err(|e| anyhow::anyhow!("ABSTRACTGATEWAY_{name}={raw:?} is invalid: {e}")),
    }
}

fn flag(name: &str, default: bool) -> anyhow::Result<bool> {
    match var(name).as_deref().map(str::to_ascii_lowercase).as_deref() {
        None => Ok(default),
        Some("1" | "true" | "yes" | "on") => Ok(true),
        Some("0" | "false" | "no" | "off") => Ok(false),
        Some(other) => bail!("ABSTRACTGATEWAY_{name}={other:?} is not a boolean (use 1 or 0)"),
    }
}

fn positive<T: std::str::FromStr + PartialOrd + Default>(name: &str, default: T) -> anyhow::Result<T>
where
    T::Err: std::fmt::Display,
{
    let value = parsed(name, default)?;
    if value <= T::default() {
        bail!("ABSTRACTGATEWAY_{name} must be at least 1");
    }
    Ok(value)
}

fn seconds(name: &str, default: f64) -> anyhow::Result<Duration> {
    let value: f64 = parsed(name, default)?;
    Duration::try_from_secs_f64(value)
        .with_context(|| format!("ABSTRACTGATEWAY_{name} must be a positive number of seconds"))
}

impl Config {
    /// The defaults for a data dir: built-in samples, no token, every write fsynced.
    pub fn new(data_dir: PathBuf) -> Self {
        // The plugin host's own defaults, so they are stated once.
        let plugins = agw_plugins::HostConfig::default();
        Self {
            plugins_dir: data_dir.join("plugins"),
            plugin_cache_dir: data_dir.join("plugin-cache"),
            flows_dir: None,
            data_dir,
            tokens: Vec::new(),
            security: true,
            runner_enabled: true,
            poll: Duration::from_millis(250),
            tick_workers: 4,
            tick_max_steps: 100,
            tick_slice: agw_runner::RunnerConfig::default().tick_slice,
            command_batch: 200,
            fsync: true,
            store_backend: StoreBackend::File,
            db_path: None,
            plugin_memory_mib: plugins.memory_limit_bytes >> 20,
            plugin_deadline: plugins.call_deadline,
            plugin_fuel: plugins.fuel,
            plugin_http_timeout: plugins.http_timeout,
            plugin_http_max_response_bytes: plugins.http_max_response_bytes,
            plugin_watch: true,
            max_sse: 32,
            max_bundle_bytes: 75 * 1024 * 1024,
            max_upload_body_bytes: 0,
            bundle_limits: BundleLimits::default(),
            policy: SecurityPolicy::default(),
            plugin_trusted_keys: plugins.trusted_keys,
            plugin_require_signature: plugins.require_signature,
        }
    }

    /// The largest upload request body: the bundle cap plus its envelope, or less when
    /// `max_upload_body_bytes` says so (the reference's 413 says `80740352 bytes` by default).
    pub fn upload_body_cap(&self) -> u64 {
        let envelope = self.max_bundle_bytes.saturating_add(UPLOAD_ENVELOPE_BYTES);
        match self.max_upload_body_bytes {
            0 => envelope,
            n => n.min(envelope),
        }
    }

    pub fn from_env() -> anyhow::Result<Self> {
        let d = Self::new(var("DATA_DIR").map_or_else(|| PathBuf::from("./runtime"), PathBuf::from));
        let mut tokens: Vec<String> = var("AUTH_TOKENS")
            .map(|list| list.split(',').map(|t| t.trim().to_owned()).filter(|t| !t.is_empty()).collect())
            .unwrap_or_default();
        if let Some(token) = var("AUTH_TOKEN") {
            tokens.insert(0, token);
        }
        let plugin_trusted_keys: TrustedKeys = parsed("PLUGIN_TRUSTED_KEYS", d.plugin_trusted_keys)?;
        let plugin_require_signature = flag("PLUGIN_REQUIRE_SIGNATURE", d.plugin_require_signature)?;
        if plugin_require_signature && plugin_trusted_keys.is_empty() {
            bail!(
                "ABSTRACTGATEWAY_PLUGIN_REQUIRE_SIGNATURE=1 requires ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS \
                 (the public keys, ed25519:<base64>, whose signatures plugins must carry)"
            );
        }
        Ok(Self {
            plugins_dir: var("PLUGINS_DIR").map_or(d.plugins_dir, PathBuf::from),
            plugin_cache_dir: var("PLUGIN_CACHE_DIR").map_or(d.plugin_cache_dir, PathBuf::from),
            flows_dir: var("FLOWS_DIR").map(PathBuf::from),
            data_dir: d.data_dir,
            tokens,
            security: flag("SECURITY", d.security)?,
            runner_enabled: flag("RUNNER", d.runner_enabled)?,
            poll: seconds("POLL_S", d.poll.as_secs_f64())?,
            tick_workers: parsed("TICK_WORKERS", d.tick_workers)?,
            tick_max_steps: parsed("TICK_MAX_STEPS", d.tick_max_steps)?,
            tick_slice: Duration::from_millis(positive("TICK_SLICE_MS", d.tick_slice.as_millis() as u64)?),
            command_batch: parsed("COMMAND_BATCH_LIMIT", d.command_batch)?,
            fsync: flag("FSYNC", d.fsync)?,
            store_backend: parsed("STORE_BACKEND", d.store_backend)?,
            db_path: var("DB_PATH").map(PathBuf::from),
            plugin_memory_mib: parsed("PLUGIN_MEMORY_MIB", d.plugin_memory_mib)?,
            plugin_deadline: seconds("PLUGIN_DEADLINE_S", d.plugin_deadline.as_secs_f64())?,
            plugin_fuel: match var("PLUGIN_FUEL").as_deref() {
                None | Some("") | Some("0") | Some("off") => None,
                Some("max") => Some(u64::MAX),
                Some(_) => Some(positive("PLUGIN_FUEL", 1u64)?),
            },
            plugin_http_timeout: seconds("PLUGIN_HTTP_TIMEOUT_S", d.plugin_http_timeout.as_secs_f64())?,
            plugin_http_max_response_bytes: positive(
                "PLUGIN_HTTP_MAX_RESPONSE_BYTES",
                d.plugin_http_max_response_bytes,
            )?,
            plugin_watch: flag("PLUGIN_WATCH", d.plugin_watch)?,
            max_sse: positive("MAX_SSE", d.max_sse)?,
            max_bundle_bytes: positive("MAX_BUNDLE_BYTES", d.max_bundle_bytes)?,
            max_upload_body_bytes: parsed("MAX_UPLOAD_BODY_BYTES", d.max_upload_body_bytes)?,
            bundle_limits: bundle_limits(&d.bundle_limits)?,
            policy: security_policy(&d.policy)?,
            plugin_trusted_keys,
            plugin_require_signature,
        })
    }

    /// The SQLite database path as configured (not yet checked to be inside the data dir).
    pub fn db_path(&self) -> PathBuf {
        self.db_path.clone().unwrap_or_else(|| self.data_dir.join("gateway.sqlite3"))
    }

    /// `serve` refuses to start without a way to authenticate (unless nothing needs it).
    pub fn check_auth(&self) -> anyhow::Result<()> {
        let protects = self.policy.protect_read || self.policy.protect_write;
        if self.security && protects && self.tokens.is_empty() {
            bail!(
                "no auth token configured: set ABSTRACTGATEWAY_AUTH_TOKEN (or ABSTRACTGATEWAY_AUTH_TOKENS), \
                 or ABSTRACTGATEWAY_SECURITY=0 for local development"
            );
        }
        Ok(())
    }
}

/// The security settings besides the tokens, from `ABSTRACTGATEWAY_PROTECT_READ`,
/// `PROTECT_WRITE`, `DEV_READ_NO_AUTH`, `ALLOWED_ORIGINS`, `MAX_BODY_BYTES`, `MAX_CONCURRENCY`,
/// `LOCKOUT_AFTER`, `LOCKOUT_BASE_S`, `LOCKOUT_MAX_S`, `TRUST_PROXY`, `AUDIT_LOG`,
/// `AUDIT_LOG_MAX_BYTES`, `AUDIT_LOG_ROTATIONS` and `AUDIT_LOG_HEADERS`.
pub fn security_policy(d: &SecurityPolicy) -> anyhow::Result<SecurityPolicy> {
    let list = |name: &str, default: &[String]| {
        var(name).map_or_else(
            || default.to_vec(),
            |raw| raw.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect(),
        )
    };
    Ok(SecurityPolicy {
        protect_read: flag("PROTECT_READ", d.protect_read)?,
        protect_write: flag("PROTECT_WRITE", d.protect_write)?,
        dev_read_no_auth: flag("DEV_READ_NO_AUTH", d.dev_read_no_auth)?,
        allowed_origins: list("ALLOWED_ORIGINS", &d.allowed_origins),
        max_body_bytes: parsed("MAX_BODY_BYTES", d.max_body_bytes)?,
        max_concurrency: positive("MAX_CONCURRENCY", d.max_concurrency)?,
        lockout_after: positive("LOCKOUT_AFTER", d.lockout_after)?,
        lockout_base: seconds("LOCKOUT_BASE_S", d.lockout_base.as_secs_f64())?,
        lockout_max: seconds("LOCKOUT_MAX_S", d.lockout_max.as_secs_f64())?,
        trust_proxy: flag("TRUST_PROXY", d.trust_proxy)?,
        audit_log: flag("AUDIT_LOG", d.audit_log)?,
        audit_log_max_bytes: parsed("AUDIT_LOG_MAX_BYTES", d.audit_log_max_bytes)?,
        audit_log_rotations: parsed("AUDIT_LOG_ROTATIONS", d.audit_log_rotations)?,
        audit_log_headers: list("AUDIT_LOG_HEADERS", &d.audit_log_headers),
    })
}

/// What a bundle may hold, from `ABSTRACTGATEWAY_MAX_BUNDLE_ENTRIES`, `MAX_BUNDLE_EXPANDED_BYTES`,
/// `MAX_BUNDLE_FLOWS`, `MAX_BUNDLE_JSON_BYTES`, `MAX_FLOW_NODES`, `MAX_FLOW_EDGES`,
/// `MAX_NODE_BYTES` and `MAX_JSON_DEPTH` (defaults in [`BundleLimits::default`]).
pub fn bundle_limits(d: &BundleLimits) -> anyhow::Result<BundleLimits> {
    Ok(BundleLimits {
        max_entries: positive("MAX_BUNDLE_ENTRIES", d.max_entries)?,
        max_total_bytes: positive("MAX_BUNDLE_EXPANDED_BYTES", d.max_total_bytes)?,
        max_flows: positive("MAX_BUNDLE_FLOWS", d.max_flows)?,
        max_json_bytes: positive("MAX_BUNDLE_JSON_BYTES", d.max_json_bytes)?,
        max_flow_nodes: positive("MAX_FLOW_NODES", d.max_flow_nodes)?,
        max_flow_edges: positive("MAX_FLOW_EDGES", d.max_flow_edges)?,
        max_node_bytes: positive("MAX_NODE_BYTES", d.max_node_bytes)?,
        max_json_depth: positive("MAX_JSON_DEPTH", d.max_json_depth)?,
    })
}
