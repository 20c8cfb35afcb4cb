//! What a plugin says about itself: identity, requested capabilities, node types.

/// Workspace access a plugin asks for. The operator grants at most this much.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Workspace {
    /// No filesystem at all (the default).
    #[default]
    None,
    /// Read the run's workspace, mounted at `/workspace`.
    Read,
    /// Read and write the run's workspace.
    ReadWrite,
}

/// Who the plugin is and what it requests, answered by `describe()`.
///
/// Capabilities default to none; each builder call requests one more. The gateway grants the
/// intersection of this request and the operator's policy, so asking is never enough on its
/// own, and anything not asked for here is denied even when the policy would allow it.
///
/// ```
/// use abstractgateway_sdk::{PluginInfo, Workspace};
///
/// let info = PluginInfo::new("summarizer", "0.1.0")
///     .description("Summarizes workspace files with an LLM")
///     .outbound_host("api.example.com", &["POST"])
///     .workspace(Workspace::Read)
///     .config_key("model")
///     .secret("api_key")
///     .memory_mib(128);
/// assert_eq!(info.name(), "summarizer");
/// ```
#[derive(Debug, Clone)]
pub struct PluginInfo {
    pub(crate) name: String,
    pub(crate) version: String,
    pub(crate) description: String,
    pub(crate) hosts: Vec<(String, Vec<String>)>,
    pub(crate) workspace: Workspace,
    pub(crate) config_keys: Vec<String>,
    pub(crate) secrets: Vec<String>,
    pub(crate) memory_mib: Option<u32>,
}

impl PluginInfo {
    /// A plugin named `name` at `version` (use `env!("CARGO_PKG_VERSION")`). The name is how
    /// the operator's policy file refers to the plugin (`[plugins.<name>]`).
    pub fn new(name: impl Into<String>, version: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: version.into(),
            description: String::new(),
            hosts: Vec::new(),
            workspace: Workspace::None,
            config_keys: Vec::new(),
            secrets: Vec::new(),
            memory_mib: None,
        }
    }

    /// A one-line description shown by `plugins list` and discovery.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }

    /// Requests outbound HTTP to `host` (a host name, an IP literal, or `*` for any host) with
    /// the given methods (`"GET"`, `"POST"`...). Call once per host.
    pub fn outbound_host(mut self, host: impl Into<String>, methods: &[&str]) -> Self {
        self.hosts.push((host.into(), methods.iter().map(|m| m.to_ascii_uppercase()).collect()));
        self
    }

    /// Requests access to the run's workspace directory, mounted at `/workspace`.
    pub fn workspace(mut self, access: Workspace) -> Self {
        self.workspace = access;
        self
    }

    /// Requests a non-secret configuration key, read with [`config::get`](crate::config::get).
    pub fn config_key(mut self, key: impl Into<String>) -> Self {
        self.config_keys.push(key.into());
        self
    }

    /// Requests a secret, read with [`config::secret`](crate::config::secret).
    pub fn secret(mut self, key: impl Into<String>) -> Self {
        self.secrets.push(key.into());
        self
    }

    /// Asks for a memory ceiling of `mib` MiB. The plugin gets the smaller of this and the
    /// operator's limit for it, so this can lower the limit, never raise it past the policy.
    pub fn memory_mib(mut self, mib: u32) -> Self {
        self.memory_mib = Some(mib);
        self
    }

    /// The plugin's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plugin's version.
    pub fn version(&self) -> &str {
        &self.version
    }
}

/// One node type a plugin provides, with its pins.
#[derive(Debug, Clone)]
pub struct NodeSpec {
    pub(crate) node_type: String,
    pub(crate) category: String,
    pub(crate) description: String,
    pub(crate) inputs: Vec<(String, String)>,
    pub(crate) outputs: Vec<(String, String)>,
    pub(crate) pure: bool,
}

impl NodeSpec {
    /// A pure node: no side effects, evaluated by the engine whenever its output is read.
    pub fn pure(node_type: impl Into<String>, category: impl Into<String>) -> Self {
        Self {
            node_type: node_type.into(),
            category: category.into(),
            description: String::new(),
            inputs: Vec::new(),
            outputs: Vec::new(),
            pure: true,
        }
    }

    /// An effectful node: it runs once as a durable step of the run and its outputs are
    /// recorded in the ledger. Use this for anything that reads or writes the outside world
    /// (HTTP, files, time, randomness).
    pub fn effectful(node_type: impl Into<String>, category: impl Into<String>) -> Self {
        Self { pure: false, ..Self::pure(node_type, category) }
    }

    /// Adds an input pin (`kind` is the VisualFlow pin type: `number`, `string`, `boolean`,
    /// `object`, `array`, `any`...).
    pub fn input(mut self, id: &str, kind: &str) -> Self {
        self.inputs.push((id.to_owned(), kind.to_owned()));
        self
    }

    /// Adds an output pin.
    pub fn output(mut self, id: &str, kind: &str) -> Self {
        self.outputs.push((id.to_owned(), kind.to_owned()));
        self
    }

    /// A one-line description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = text.into();
        self
    }
}
