//! The loaded plugin set and its node-type index. A registry is immutable once built; a reload
//! builds a new one and swaps it in, so sessions already running keep the set they started with.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::bindings::{NodeExecutorPre, PluginState};
use crate::policy::Grant;
use crate::summary::{LoadProblem, PluginSummary};

/// A plugin that passed validation: its summary and the prepared (linked) component.
pub(crate) struct LoadedPlugin {
    pub(crate) name: Arc<str>,
    pub(crate) summary: PluginSummary,
    /// Built once per plugin version; every instance of it starts from here.
    pub(crate) pre: NodeExecutorPre<PluginState>,
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
    problems: Vec<LoadProblem>,
}

impl Registry {
    /// Indexes `plugins` by node type; every contested type becomes a problem.
    pub(crate) fn build(plugins: Vec<Arc<LoadedPlugin>>, mut problems: Vec<LoadProblem>) -> Self {
        let mut providers: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut order: Vec<&str> = Vec::new();
        for (i, plugin) in plugins.iter().enumerate() {
            for node in &plugin.summary.nodes {
                let list = providers.entry(&node.node_type).or_default();
                if list.is_empty() {
                    order.push(&node.node_type);
                }
                // A plugin listing a type twice still provides it once.
                if !list.contains(&i) {
                    list.push(i);
                }
            }
        }
        let mut index = HashMap::new();
        for node_type in order {
            let list = providers.remove(node_type).unwrap_or_default();
            let provider = match list.as_slice() {
                [one] => Provider::One(*one),
                _ => {
                    let names: Vec<String> = list.iter().map(|&i| describe(&plugins[i])).collect();
                    let last = list.last().map(|&i| plugins[i].summary.label.clone()).unwrap_or_default();
                    problems.push(LoadProblem {
                        label: last,
                        reason: format!(
                            "node type '{node_type}' is provided by several plugins ({}); it is withheld until only one provides it",
                            names.join(", ")
                        ),
                    });
                    Provider::Conflict(list)
                }
            };
            index.insert(node_type.to_owned(), provider);
        }
        Self { generation: GENERATIONS.fetch_add(1, Ordering::Relaxed), plugins, index, problems }
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

/// `'std-nodes' (std_nodes.wasm)`: the name and where it came from, to tell copies apart.
fn describe(plugin: &LoadedPlugin) -> String {
    format!("'{}' ({})", plugin.name, plugin.summary.label)
}
