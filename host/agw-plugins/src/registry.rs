//! The loaded plugin set and its node-type index. A registry is immutable once built; a reload
//! builds a new one and swaps it in, so sessions already running keep the set they started with.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::bindings::{LlmProviderPre, NodeExecutorPre, PluginState};
use crate::policy::Grant;
use crate::summary::{LoadProblem, PluginSummary};

/// A plugin that passed validation: its summary and the prepared (linked) component.
pub(crate) struct LoadedPlugin {
    pub(crate) name: Arc<str>,
    pub(crate) summary: PluginSummary,
    /// Built once per plugin version; every instance of it starts from here. `None` when the
    /// component does not implement `node-executor`.
    pub(crate) pre: Option<NodeExecutorPre<PluginState>>,
    /// The same for `llm-provider`.
    pub(crate) llm: Option<LlmProviderPre<PluginState>>,
    /// What this version may do, fixed at load: a session keeps it even if a reload changes it.
    pub(crate) grant: Arc<Grant>,
}

/// Who provides a node type.
enum Provider {
    One(usize),
    /// Several plugins claim it: withheld, since picking one silently would make a flow's
    /// behaviour depend on load order.
    Conflict(Vec<usize>),
}

/// Numbers every registry built in this process, so a newer set is told apart from an older one.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// The loaded set.
#[derive(Default)]
pub(crate) struct Registry {
    /// Which load built it (0: nothing loaded yet).
    pub(crate) generation: u64,
    plugins: Vec<Arc<LoadedPlugin>>,
    index: HashMap<String, Provider>,
    /// LLM provider ids (`openai`, `lmstudio`...) to the plugins serving them.
    llm_index: HashMap<String, Provider>,
    problems: Vec<LoadProblem>,
}

impl Registry {
    /// Indexes `plugins` by node type and by LLM provider id; every contested name becomes a
    /// problem.
    pub(crate) fn build(plugins: Vec<Arc<LoadedPlugin>>, mut problems: Vec<LoadProblem>) -> Self {
        let index = build_index(&plugins, &mut problems, "node type", |p| {
            p.summary.nodes.iter().map(|n| n.node_type.as_str()).collect()
        });
        let llm_index = build_index(&plugins, &mut problems, "LLM provider", |p| {
            p.summary.llm_providers.iter().map(|n| n.id.as_str()).collect()
        });
        Self { generation: GENERATIONS.fetch_add(1, Ordering::Relaxed), plugins, index, llm_index, problems }
    }

    /// The one plugin serving LLM provider `id`, or why there is none.
    pub(crate) fn llm_provider(&self, id: &str) -> Result<&Arc<LoadedPlugin>, String> {
        match self.llm_index.get(id) {
            Some(Provider::One(i)) => Ok(&self.plugins[*i]),
            Some(Provider::Conflict(list)) => {
                let names: Vec<String> = list.iter().map(|&i| describe(&self.plugins[i])).collect();
                Err(format!("LLM provider '{id}' is withheld: several plugins serve it ({})", names.join(", ")))
            }
            None => Err(format!("no loaded plugin serves the LLM provider '{id}'")),
        }
    }

    pub(crate) fn plugins(&self) -> impl Iterator<Item = &Arc<LoadedPlugin>> {
        self.plugins.iter()
    }

    pub(crate) fn problems(&self) -> &[LoadProblem] {
        &self.problems
    }

    /// `Some(pure)` when exactly one plugin provides `node_type`.
    pub(crate) fn provides(&self, node_type: &str) -> Option<bool> {
        let (_, plugin) = self.provider(node_type).ok()?;
        plugin.summary.nodes.iter().find(|n| n.node_type == node_type).map(|n| n.pure)
    }

    /// The one plugin providing `node_type`, or why there is none (as a failure message).
    pub(crate) fn provider(&self, node_type: &str) -> Result<(usize, &Arc<LoadedPlugin>), String> {
        match self.index.get(node_type) {
            Some(Provider::One(i)) => Ok((*i, &self.plugins[*i])),
            Some(Provider::Conflict(list)) => {
                let names: Vec<String> = list.iter().map(|&i| describe(&self.plugins[i])).collect();
                Err(format!("node type '{node_type}' is withheld: several plugins provide it ({})", names.join(", ")))
            }
            None => Err(format!("no loaded plugin provides node type '{node_type}'")),
        }
    }
}

/// Indexes the names `names` gives for each plugin; a name claimed by several is a conflict.
fn build_index(
    plugins: &[Arc<LoadedPlugin>],
    problems: &mut Vec<LoadProblem>,
    what: &str,
    names: impl Fn(&LoadedPlugin) -> Vec<&str>,
) -> HashMap<String, Provider> {
    let mut providers: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for (i, plugin) in plugins.iter().enumerate() {
        for name in names(plugin) {
            let list = providers.entry(name).or_default();
            if list.is_empty() {
                order.push(name);
            }
            // A plugin listing a name twice still provides it once.
            if !list.contains(&i) {
                list.push(i);
            }
        }
    }
    let mut index = HashMap::new();
    for name in order {
        let list = providers.remove(name).unwrap_or_default();
        let provider = match list.as_slice() {
            [one] => Provider::One(*one),
            _ => {
                let owners: Vec<String> = list.iter().map(|&i| describe(&plugins[i])).collect();
                let last = list.last().map(|&i| plugins[i].summary.label.clone()).unwrap_or_default();
                problems.push(LoadProblem {
                    label: last,
                    reason: format!(
                        "{what} '{name}' is provided by several plugins ({}); it is withheld until only one provides it",
                        owners.join(", ")
                    ),
                });
                Provider::Conflict(list)
            }
        };
        index.insert(name.to_owned(), provider);
    }
    index
}

/// `'std-nodes' (std_nodes.wasm)`: the name and where it came from, to tell copies apart.
fn describe(plugin: &LoadedPlugin) -> String {
    format!("'{}' ({})", plugin.name, plugin.summary.label)
}
