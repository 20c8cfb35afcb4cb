//! Configuration from `ABSTRACTGATEWAY_*` environment variables (spec/contract.md), in groups
//! that each own their defaults: [`ServerSettings`], [`SecuritySettings`], [`StoreSettings`],
//! [`RunnerSettings`] and [`PluginSettings`]. Where a lower crate already states a default
//! (the runner, the plugin host, the API's security policy and caps, bundle limits), the group
//! starts from it rather than repeating it.

mod env;
mod secret;

use agw_app::DataDir;
use std::path::{Path, PathBuf};
use std::time::Duration;

use agw_api::{ApiConfig, SecurityPolicy};
use agw_domain::bundle::BundleLimits;
use agw_plugins::signing::TrustedKeys;
use agw_plugins::{HostConfig, LlmDefaults};
use agw_runner::RunnerConfig;
use anyhow::{Context, bail};

use self::env::Reader;
pub use self::env::{Origin, PREFIX, SETTINGS, Setting, Vars, render, unknown_variables};
pub use self::secret::Secret;

/// Where the data dir is when `ABSTRACTGATEWAY_DATA_DIR` is unset.
pub const DEFAULT_DATA_DIR: &str = "./runtime";

/// Everything the gateway reads from its environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// `DATA_DIR`: runs, ledgers, the inbox, workspaces, artifacts; the other paths default
    /// to places inside it.
    pub data_dir: PathBuf,
    pub server: ServerSettings,
    pub security: SecuritySettings,
    pub store: StoreSettings,
    pub runner: RunnerSettings,
    pub plugins: PluginSettings,
}

/// What the HTTP side serves and accepts.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    /// `FLOWS_DIR`; `None`: serve the sample bundles built into the binary.
    pub flows_dir: Option<PathBuf>,
    /// `LOG_FORMAT=json`: JSON log lines (for production); anything else is text.
    pub json_logs: bool,
    /// `MAX_SSE`: concurrent ledger streams; one more gets 429.
    pub max_sse: usize,
    /// `MAX_BUNDLE_BYTES`: largest `.flow` file an upload may carry.
    pub max_bundle_bytes: u64,
    /// `MAX_UPLOAD_BODY_BYTES` (0: the bundle cap plus 2 MiB of multipart envelope): a lower
    /// cap on the whole upload request. See [`Config::upload_body_cap`].
    pub max_upload_body_bytes: u64,
    /// What a bundle may hold (archive size and entries, flows, nodes, edges, node data, JSON
    /// size and depth), on load and on upload.
    pub bundle_limits: BundleLimits,
}

impl Default for ServerSettings {
    fn default() -> Self {
        let api = ApiConfig::default();
        Self {
            flows_dir: None,
            json_logs: false,
            max_sse: api.max_sse,
            max_bundle_bytes: api.max_bundle_bytes,
            max_upload_body_bytes: 0,
            bundle_limits: BundleLimits::default(),
        }
    }
}

/// Who may do what over HTTP.
#[derive(Debug, Clone)]
pub struct SecuritySettings {
    /// `SECURITY` (default 1); 0 turns authentication off (local development only).
    pub enabled: bool,
    /// `AUTH_TOKEN` first, then `AUTH_TOKENS` (comma-separated).
    pub tokens: Vec<Secret<String>>,
    /// Origins, body and concurrency caps, lockout, audit log.
    pub policy: SecurityPolicy,
}

impl Default for SecuritySettings {
    fn default() -> Self {
        Self { enabled: true, tokens: Vec::new(), policy: SecurityPolicy::default() }
    }
}

/// Where runs, ledgers and the inbox are kept.
#[derive(Debug, Clone)]
pub struct StoreSettings {
    /// `STORE_BACKEND`: `file` (default) or `sqlite`.
    pub backend: StoreBackend,
    /// `DB_PATH`: the SQLite database; `None` means `<data>/gateway.sqlite3` (see
    /// [`StoreSettings::db_path`]).
    pub db_path: Option<PathBuf>,
    /// `FSYNC` (default 1): fsync every durable write. 0 relies on the OS page cache: still
    /// safe when the process dies, not when the machine loses power.
    pub fsync: bool,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self { backend: StoreBackend::File, db_path: None, fsync: true }
    }
}

impl StoreSettings {
    /// The SQLite database path as configured (not yet checked to be inside the data dir).
    pub fn db_path(&self, data_dir: &Path) -> PathBuf {
        self.db_path.clone().unwrap_or_else(|| DataDir::new(data_dir).default_db())
    }
}

/// The runner: whether `serve` starts one, and how it ticks.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    /// `RUNNER` (default 1); 0: `serve` runs no runner.
    pub enabled: bool,
    /// `POLL_S` (also the SSE poll), `TICK_WORKERS`, `TICK_MAX_STEPS`, `TICK_SLICE_MS`,
    /// `COMMAND_BATCH_LIMIT`; defaults in [`RunnerConfig::default`].
    pub tuning: RunnerConfig,
}

impl Default for RunnerSettings {
    fn default() -> Self {
        Self { enabled: true, tuning: RunnerConfig::default() }
    }
}

/// Where plugins come from and what the plugin host allows them.
#[derive(Debug, Clone)]
pub struct PluginSettings {
    /// `PLUGINS_DIR` (default `<data>/plugins`): loaded next to the first-party plugins.
    pub dir: PathBuf,
    /// `PLUGIN_WATCH` (default 1): reload the plugins directory when it changes.
    pub watch: bool,
    /// Memory, deadline, fuel, HTTP bounds, trusted keys, required signatures and the compiled
    /// code cache (`PLUGIN_CACHE_DIR`, default `<data>/plugin-cache`); defaults in
    /// [`HostConfig::default`].
    pub host: HostConfig,
}

impl PluginSettings {
    /// The defaults for a data dir.
    pub fn new(data_dir: &Path) -> Self {
        Self {
            dir: DataDir::new(data_dir).default_plugins(),
            watch: true,
            host: HostConfig { cache_dir: Some(DataDir::new(data_dir).plugin_cache()), ..HostConfig::default() },
        }
    }
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

impl std::fmt::Display for StoreBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::File => "file",
            Self::Sqlite => "sqlite",
        })
    }
}

/// Room for the multipart envelope around an uploaded bundle, as the reference allows.
const UPLOAD_ENVELOPE_BYTES: u64 = 2 * 1024 * 1024;

impl Config {
    /// The defaults for a data dir: built-in samples, no token, every write fsynced.
    pub fn new(data_dir: PathBuf) -> Self {
        Self {
            server: ServerSettings::default(),
            security: SecuritySettings::default(),
            store: StoreSettings::default(),
            runner: RunnerSettings::default(),
            plugins: PluginSettings::new(&data_dir),
            data_dir,
        }
    }

    /// The largest upload request body: the bundle cap plus its envelope, or less when
    /// `max_upload_body_bytes` says so (the reference's 413 says `80740352 bytes` by default).
    pub fn upload_body_cap(&self) -> u64 {
        let envelope = self.server.max_bundle_bytes.saturating_add(UPLOAD_ENVELOPE_BYTES);
        match self.server.max_upload_body_bytes {
            0 => envelope,
            n => n.min(envelope),
        }
    }

    /// The process environment's configuration; an unknown `ABSTRACTGATEWAY_*` variable is
    /// logged with the setting it was probably meant to be.
    pub fn from_env() -> anyhow::Result<Self> {
        Ok(Self::from_env_explained()?.0)
    }

    /// [`from_env`](Self::from_env), with each setting's effective value and origin.
    pub fn from_env_explained() -> anyhow::Result<(Self, Vec<Setting>)> {
        let vars = Vars::from_process();
        for warning in unknown_variables(&vars) {
            tracing::warn!("{warning}");
        }
        Self::explain(&vars)
    }

    /// The configuration `vars` describe.
    pub fn from_vars(vars: &Vars) -> anyhow::Result<Self> {
        Ok(Self::explain(vars)?.0)
    }

    /// The configuration `vars` describe, with each setting's effective value and origin in
    /// [`SETTINGS`] order.
    pub fn explain(vars: &Vars) -> anyhow::Result<(Self, Vec<Setting>)> {
        let mut r = Reader::new(vars);
        let data_dir = r.path("DATA_DIR", PathBuf::from(DEFAULT_DATA_DIR));
        let d = Self::new(data_dir);
        let config = Self {
            server: ServerSettings::read(&mut r, d.server)?,
            security: SecuritySettings::read(&mut r, d.security)?,
            store: StoreSettings::read(&mut r, d.store, &d.data_dir)?,
            runner: RunnerSettings::read(&mut r, d.runner)?,
            plugins: PluginSettings::read(&mut r, d.plugins)?,
            data_dir: d.data_dir,
        };
        Ok((config, r.into_settings()))
    }

    /// The SQLite database path as configured (not yet checked to be inside the data dir).
    pub fn db_path(&self) -> PathBuf {
        self.store.db_path(&self.data_dir)
    }

    /// `serve` refuses to start without a way to authenticate (unless nothing needs it).
    pub fn check_auth(&self) -> anyhow::Result<()> {
        let s = &self.security;
        let protects = s.policy.protect_read || s.policy.protect_write;
        if s.enabled && protects && s.tokens.is_empty() {
            bail!(
                "no auth token configured: set ABSTRACTGATEWAY_AUTH_TOKEN (or ABSTRACTGATEWAY_AUTH_TOKENS), \
                 or ABSTRACTGATEWAY_SECURITY=0 for local development"
            );
        }
        Ok(())
    }
}

/// Whether `ABSTRACTGATEWAY_LOG_FORMAT` asks for JSON logs (read before the rest, so the
/// configuration's own warnings are logged in the right format).
pub fn json_logs() -> bool {
    Reader::new(&Vars::from_process()).json_logs()
}

impl Reader<'_> {
    fn json_logs(&mut self) -> bool {
        self.text("LOG_FORMAT", false, |raw| raw == "json", |json| if *json { "json" } else { "text" }.to_owned())
    }
}

impl ServerSettings {
    fn read(r: &mut Reader, d: Self) -> anyhow::Result<Self> {
        let b = d.bundle_limits;
        Ok(Self {
            flows_dir: r.text(
                "FLOWS_DIR",
                None,
                |raw| Some(PathBuf::from(raw)),
                |dir| match dir {
                    Some(dir) => dir.display().to_string(),
                    None => "(built-in samples)".to_owned(),
                },
            ),
            json_logs: r.json_logs(),
            max_sse: r.positive("MAX_SSE", d.max_sse)?,
            max_bundle_bytes: r.positive("MAX_BUNDLE_BYTES", d.max_bundle_bytes)?,
            max_upload_body_bytes: r.parsed("MAX_UPLOAD_BODY_BYTES", d.max_upload_body_bytes)?,
            bundle_limits: BundleLimits {
                max_entries: r.positive("MAX_BUNDLE_ENTRIES", b.max_entries)?,
                max_total_bytes: r.positive("MAX_BUNDLE_EXPANDED_BYTES", b.max_total_bytes)?,
                max_flows: r.positive("MAX_BUNDLE_FLOWS", b.max_flows)?,
                max_json_bytes: r.positive("MAX_BUNDLE_JSON_BYTES", b.max_json_bytes)?,
                max_flow_nodes: r.positive("MAX_FLOW_NODES", b.max_flow_nodes)?,
                max_flow_edges: r.positive("MAX_FLOW_EDGES", b.max_flow_edges)?,
                max_node_bytes: r.positive("MAX_NODE_BYTES", b.max_node_bytes)?,
                max_json_depth: r.positive("MAX_JSON_DEPTH", b.max_json_depth)?,
            },
        })
    }
}

impl SecuritySettings {
    fn read(r: &mut Reader, d: Self) -> anyhow::Result<Self> {
        // The defaults hold no token; `AUTH_TOKEN` comes first.
        let mut tokens = d.tokens;
        tokens.extend(r.secrets("AUTH_TOKEN", false));
        tokens.extend(r.secrets("AUTH_TOKENS", true));
        let p = d.policy;
        Ok(Self {
            enabled: r.flag("SECURITY", d.enabled)?,
            tokens,
            policy: SecurityPolicy {
                protect_read: r.flag("PROTECT_READ", p.protect_read)?,
                protect_write: r.flag("PROTECT_WRITE", p.protect_write)?,
                dev_read_no_auth: r.flag("DEV_READ_NO_AUTH", p.dev_read_no_auth)?,
                allowed_origins: r.list("ALLOWED_ORIGINS", p.allowed_origins),
                max_body_bytes: r.parsed("MAX_BODY_BYTES", p.max_body_bytes)?,
                max_concurrency: r.positive("MAX_CONCURRENCY", p.max_concurrency)?,
                lockout_after: r.positive("LOCKOUT_AFTER", p.lockout_after)?,
                lockout_base: r.seconds("LOCKOUT_BASE_S", p.lockout_base)?,
                lockout_max: r.seconds("LOCKOUT_MAX_S", p.lockout_max)?,
                trust_proxy: r.flag("TRUST_PROXY", p.trust_proxy)?,
                audit_log: r.flag("AUDIT_LOG", p.audit_log)?,
                audit_log_max_bytes: r.parsed("AUDIT_LOG_MAX_BYTES", p.audit_log_max_bytes)?,
                audit_log_rotations: r.parsed("AUDIT_LOG_ROTATIONS", p.audit_log_rotations)?,
                audit_log_headers: r.list("AUDIT_LOG_HEADERS", p.audit_log_headers),
            },
        })
    }
}

impl StoreSettings {
    fn read(r: &mut Reader, d: Self, data_dir: &Path) -> anyhow::Result<Self> {
        let db_default = d.db_path(data_dir);
        Ok(Self {
            backend: r.parsed("STORE_BACKEND", d.backend)?,
            db_path: r.text(
                "DB_PATH",
                d.db_path,
                |raw| Some(PathBuf::from(raw)),
                |path| path.as_ref().unwrap_or(&db_default).display().to_string(),
            ),
            fsync: r.flag("FSYNC", d.fsync)?,
        })
    }
}

impl RunnerSettings {
    fn read(r: &mut Reader, d: Self) -> anyhow::Result<Self> {
        let t = d.tuning;
        let slice_ms = u64::try_from(t.tick_slice.as_millis()).unwrap_or(u64::MAX);
        Ok(Self {
            enabled: r.flag("RUNNER", d.enabled)?,
            tuning: RunnerConfig {
                poll: r.seconds("POLL_S", t.poll)?,
                tick_workers: r.parsed("TICK_WORKERS", t.tick_workers)?,
                tick_max_steps: r.parsed("TICK_MAX_STEPS", t.tick_max_steps)?,
                tick_slice: Duration::from_millis(r.positive("TICK_SLICE_MS", slice_ms)?),
                command_batch: r.parsed("COMMAND_BATCH_LIMIT", t.command_batch)?,
            },
        })
    }
}

impl PluginSettings {
    fn read(r: &mut Reader, d: Self) -> anyhow::Result<Self> {
        let h = d.host;
        let cache_dir = r.text(
            "PLUGIN_CACHE_DIR",
            h.cache_dir,
            |raw| Some(PathBuf::from(raw)),
            |dir| dir.as_ref().map(|dir| dir.display().to_string()).unwrap_or_default(),
        );
        let memory_mib = r.parsed("PLUGIN_MEMORY_MIB", h.memory_limit_bytes >> 20)?;
        let fuel = r.value("PLUGIN_FUEL", h.fuel, parse_fuel, |fuel| match fuel {
            None => "off".to_owned(),
            Some(u64::MAX) => "max".to_owned(),
            Some(n) => n.to_string(),
        })?;
        let trusted_keys: TrustedKeys = r.parsed("PLUGIN_TRUSTED_KEYS", h.trusted_keys)?;
        let require_signature = r.flag("PLUGIN_REQUIRE_SIGNATURE", h.require_signature)?;
        if require_signature && trusted_keys.is_empty() {
            bail!(
                "ABSTRACTGATEWAY_PLUGIN_REQUIRE_SIGNATURE=1 requires ABSTRACTGATEWAY_PLUGIN_TRUSTED_KEYS \
                 (the public keys, ed25519:<base64>, whose signatures plugins must carry)"
            );
        }
        Ok(Self {
            dir: r.path("PLUGINS_DIR", d.dir),
            watch: r.flag("PLUGIN_WATCH", d.watch)?,
            host: HostConfig {
                cache_dir,
                memory_limit_bytes: memory_mib.saturating_mul(1024 * 1024),
                call_deadline: r.seconds("PLUGIN_DEADLINE_S", h.call_deadline)?,
                fuel,
                http_timeout: r.seconds("PLUGIN_HTTP_TIMEOUT_S", h.http_timeout)?,
                http_max_response_bytes: r.positive("PLUGIN_HTTP_MAX_RESPONSE_BYTES", h.http_max_response_bytes)?,
                trusted_keys,
                require_signature,
                llm_defaults: llm_defaults(r)?,
            },
        })
    }
}

/// The `output.text` route for `llm_call` nodes that name no provider or model: the
/// capability-defaults file (`CAPABILITY_DEFAULTS`, else the `capability_defaults` section of
/// `ABSTRACTCORE_CONFIG_FILE`), then `PROVIDER` / `MODEL`.
fn llm_defaults(r: &mut Reader) -> anyhow::Result<LlmDefaults> {
    let opt = |raw: &str| Some(raw.to_owned());
    let show = |v: &Option<String>| v.clone().unwrap_or_default();
    let provider = r.text("PROVIDER", None, opt, show);
    let model = r.text("MODEL", None, opt, show);
    let file = r.text(
        "CAPABILITY_DEFAULTS",
        None,
        |raw| Some(PathBuf::from(raw)),
        |p| p.as_ref().map(|p| p.display().to_string()).unwrap_or_default(),
    );
    let file = file.or_else(|| r.foreign("ABSTRACTCORE_CONFIG_FILE").map(PathBuf::from));
    if let Some(path) = file {
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the capability defaults file {}", path.display()))?;
        if let Some(route) =
            text_route(&text).with_context(|| format!("capability defaults file {}", path.display()))?
        {
            return Ok(LlmDefaults {
                provider: route.0.or(provider),
                model: route.1.or(model),
                source: Some(path.display().to_string()),
            });
        }
    }
    let source = provider.as_ref().map(|_| format!("{PREFIX}PROVIDER"));
    Ok(LlmDefaults { provider, model, source })
}

/// The `output.text` route (else `input.text`, which AbstractCore derives it from) of a
/// capability-defaults document: `{"capability_defaults": {"routes": {...}}}` or the section
/// itself. `None` when it has neither route.
fn text_route(text: &str) -> anyhow::Result<Option<(Option<String>, Option<String>)>> {
    let doc: serde_json::Value = serde_json::from_str(text).context("is not JSON")?;
    let section = doc.get("capability_defaults").unwrap_or(&doc);
    let routes = section.get("routes");
    let route = routes.and_then(|r| r.get("output.text").or_else(|| r.get("input.text")));
    let Some(route) = route else { return Ok(None) };
    let field = |key: &str| -> anyhow::Result<Option<String>> {
        match route.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_owned())),
            Some(other) => bail!("routes.output.text.{key} must be a non-empty string, not {other}"),
        }
    };
    Ok(Some((field("provider")?, field("model")?)))
}

/// `PLUGIN_FUEL`: `0` or `off` is no metering, `max` meters without a limit, a number is each
/// call's budget.
fn parse_fuel(raw: &str) -> anyhow::Result<Option<u64>> {
    Ok(match raw {
        "0" | "off" => None,
        "max" => Some(u64::MAX),
        _ => Some(env::positive("PLUGIN_FUEL", raw)?),
    })
}

#[cfg(test)]
mod tests;
