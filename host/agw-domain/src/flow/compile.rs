//! Turns VisualFlow JSON into an executable graph, checking every connected node type.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};

use serde::Deserialize;
use serde_json::{Map, Value};

use super::control::Trigger;
use super::effects::EffectKind;
use super::model::{Pin, VisualFlow, VisualNode};
use super::writes::VarWrite;

/// Why a flow cannot run.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FlowError {
    #[error("flow is not valid VisualFlow JSON: {0}")]
    Invalid(String),
    #[error("node '{node_id}' has type '{node_type}', which no engine builtin or loaded plugin provides")]
    UnknownNodeType { node_id: String, node_type: String },
    #[error("edge '{edge}' points at node '{node_id}', which does not exist")]
    DanglingEdge { edge: String, node_id: String },
    #[error("input '{target}' is wired from both '{first}' and '{second}'; a pin takes one data edge")]
    DuplicateInput { target: String, first: String, second: String },
    #[error("flow has no entry node (no execution node without an incoming execution edge)")]
    NoEntry,
}

/// How the engine treats a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    FlowStart,
    FlowEnd,
    Literal,
    GetVar,
    /// A pure read of the run's variables configured by the node's `data`.
    VarRead(VarRead),
    SetVar,
    If,
    Switch,
    For,
    While,
    Loop,
    Sequence,
    Reroute,
    /// Provided by a plugin; `pure` nodes are evaluated on demand.
    Plugin {
        pure: bool,
    },
    /// A durable wait, an event or a subflow.
    Effect(EffectKind),
    /// Writes run variables or the context (see `flow::writes`).
    VarWrite(VarWrite),
    /// `sequence` that then runs its `completed` chain (see `flow::control`).
    Parallel,
    LoopLimit,
    JoinExec,
    /// `on_user_request`, `on_agent_message`.
    Trigger(Trigger),
}

impl NodeKind {
    /// The engine's own node types.
    pub fn builtin(node_type: &str) -> Option<Self> {
        Some(match node_type {
            "on_flow_start" => Self::FlowStart,
            "on_flow_end" => Self::FlowEnd,
            "literal_string" | "literal_number" | "literal_boolean" | "literal_json" | "literal_array"
            | "json_schema" => Self::Literal,
            "get_var" => Self::GetVar,
            "get_vars" => Self::VarRead(VarRead::Vars),
            "get_context" => Self::VarRead(VarRead::Context),
            "bool_var" => Self::VarRead(VarRead::Bool),
            "var_decl" => Self::VarRead(VarRead::Decl),
            "set_var" => Self::SetVar,
            "if" => Self::If,
            "switch" => Self::Switch,
            "for" => Self::For,
            "while" => Self::While,
            "loop" => Self::Loop,
            "sequence" => Self::Sequence,
            "reroute" => Self::Reroute,
            "parallel" => Self::Parallel,
            "loop_limit" => Self::LoopLimit,
            "join_exec" => Self::JoinExec,
            other => {
                return EffectKind::builtin(other)
                    .map(Self::Effect)
                    .or_else(|| VarWrite::builtin(other).map(Self::VarWrite))
                    .or_else(|| Trigger::builtin(other).map(Self::Trigger));
            }
        })
    }

    /// Whether the node is evaluated on demand rather than stepped through.
    pub fn is_pure(self) -> bool {
        matches!(self, Self::Literal | Self::GetVar | Self::VarRead(_) | Self::Reroute | Self::Plugin { pure: true })
    }
}

/// The engine's pure readers of run variables besides `get_var` (see `flow::vars`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarRead {
    /// `get_vars`: one output per declared output pin, named by the variable's dotted path.
    Vars,
    /// `get_context`: `context`, its `task` and its `messages`.
    Context,
    /// `bool_var`: a boolean variable, with a default.
    Bool,
    /// `var_decl`: a typed variable, with a default.
    Decl,
}

/// One node, ready to execute.
#[derive(Debug, Clone)]
pub struct CNode {
    pub id: String,
    pub node_type: String,
    pub kind: NodeKind,
    pub data: Map<String, Value>,
    pub pin_defaults: Map<String, Value>,
    /// Declared data input pins (execution pins left out).
    pub data_inputs: Vec<String>,
    /// Declared type of each data input pin (`number`, `string`...).
    pub input_kinds: HashMap<String, String>,
    /// Declared data output pins.
    pub data_outputs: Vec<String>,
    /// Execution output handles, in declaration order (`then:0`, `then:1`... for sequences).
    pub exec_outputs: Vec<String>,
}

/// A flow whose edges are resolved and whose node types are all known.
///
/// Its size is linear in the flow's: each node's `data` once (moved out of the parsed flow,
/// never copied), and one entry per edge.
#[derive(Debug, Clone)]
pub struct CompiledFlow {
    pub flow_id: String,
    pub entry: String,
    nodes: Vec<CNode>,
    index: HashMap<String, usize>,
    exec_next: HashMap<(usize, String), usize>,
    data_in: HashMap<(usize, String), (usize, String)>,
    /// Each node's connected data input pins, in edge order.
    connected: Vec<Vec<String>>,
}

fn is_exec_pin(pin: &Pin) -> bool {
    pin.kind.as_deref() == Some("execution")
}

impl CompiledFlow {
    /// Compiles `flow`. `plugin_node` answers whether a plugin provides a node type and if
    /// that node is pure.
    pub fn compile(flow: &Value, plugin_node: &dyn Fn(&str) -> Option<bool>) -> Result<Self, FlowError> {
        // Read from the borrowed JSON: cloning the whole flow first doubled the peak.
        let flow = VisualFlow::deserialize(flow).map_err(|e| FlowError::Invalid(e.to_string()))?;
        let flow = super::lower::lower(flow)?;
        let VisualFlow { id: flow_id, nodes: visual_nodes, edges, entry_node, .. } = flow;
        let mut touched: HashSet<&str> = HashSet::with_capacity(edges.len() * 2);
        {
            let node_ids: HashSet<&str> = visual_nodes.iter().map(|n| n.id.as_str()).collect();
            for edge in &edges {
                for end in [&edge.source, &edge.target] {
                    if !node_ids.contains(end.as_str()) {
                        return Err(FlowError::DanglingEdge {
                            edge: edge.id.clone().unwrap_or_default(),
                            node_id: end.clone(),
                        });
                    }
                    touched.insert(end.as_str());
                }
            }
        }

        let mut nodes = Vec::with_capacity(visual_nodes.len());
        let mut index = HashMap::with_capacity(visual_nodes.len());
        let mut is_exec = Vec::with_capacity(visual_nodes.len());
        for node in visual_nodes {
            let node_type = node.kind().to_owned();
            let inputs = node.pins("inputs");
            let outputs = node.pins("outputs");
            let declares_exec = inputs.iter().chain(&outputs).any(is_exec_pin);
            // `add_message` is the engine's only with execution pins; without, std-nodes' pure one.
            let engine = NodeKind::builtin(&node_type).filter(|k| declares_exec || *k != VarWrite::ADD_MESSAGE);
            let kind = match engine {
                Some(kind) => kind,
                None => match plugin_node(&node_type) {
                    Some(pure) => NodeKind::Plugin { pure },
                    // Disconnected unknown nodes are editor leftovers: ignore them.
                    None if !touched.contains(node.id.as_str()) => continue,
                    None => {
                        return Err(FlowError::UnknownNodeType { node_id: node.id, node_type });
                    }
                },
            };
            let no_pins = inputs.is_empty() && outputs.is_empty();
            is_exec.push(kind != NodeKind::Literal && (declares_exec || (no_pins && !kind.is_pure())));
            let pin_defaults = node.pin_defaults();
            let VisualNode { id, data, .. } = node;
            index.insert(id.clone(), nodes.len());
            nodes.push(CNode {
                id,
                kind,
                data,
                pin_defaults,
                input_kinds: inputs.iter().filter_map(|p| Some((p.id.clone(), p.kind.clone()?))).collect(),
                data_inputs: inputs.iter().filter(|p| !is_exec_pin(p)).map(|p| p.id.clone()).collect(),
                data_outputs: outputs.iter().filter(|p| !is_exec_pin(p)).map(|p| p.id.clone()).collect(),
                exec_outputs: outputs.iter().filter(|p| is_exec_pin(p)).map(|p| p.id.clone()).collect(),
                node_type,
            });
        }
        drop(touched);

        let mut exec_next = HashMap::new();
        let mut data_in: HashMap<(usize, String), (usize, String)> = HashMap::new();
        let mut connected = vec![Vec::new(); nodes.len()];
        let mut has_exec_in = vec![false; nodes.len()];
        for edge in edges {
            let (Some(&src), Some(&dst)) = (index.get(&edge.source), index.get(&edge.target)) else {
                continue; // an edge of an ignored node
            };
            let source_handle = edge.source_handle.unwrap_or_else(|| "exec-out".into());
            let target_handle = edge.target_handle.unwrap_or_else(|| "exec-in".into());
            if target_handle == "exec-in" {
                exec_next.entry((src, source_handle)).or_insert(dst);
                has_exec_in[dst] = true;
            } else if source_handle != "exec-out" {
                match data_in.entry((dst, target_handle)) {
                    Entry::Occupied(taken) => {
                        let (prev, prev_handle) = taken.get();
                        return Err(FlowError::DuplicateInput {
                            target: format!("{}.{}", nodes[dst].id, taken.key().1),
                            first: format!("{}.{}", nodes[*prev].id, prev_handle),
                            second: format!("{}.{}", nodes[src].id, source_handle),
                        });
                    }
                    Entry::Vacant(slot) => {
                        connected[dst].push(slot.key().1.clone());
                        slot.insert((src, source_handle));
                    }
                }
            }
        }

        // The reference: `entryNode` when it names an execution node, else the first
        // execution node (document order) without an incoming execution edge, else the first.
        let named = entry_node.as_ref().and_then(|id| index.get(id)).copied().filter(|&i| is_exec[i]);
        let entry = named
            .or_else(|| (0..nodes.len()).find(|&i| is_exec[i] && !has_exec_in[i]))
            .or_else(|| (0..nodes.len()).find(|&i| is_exec[i]))
            .map(|i| nodes[i].id.clone())
            .ok_or(FlowError::NoEntry)?;
        Ok(Self { flow_id, entry, nodes, index, exec_next, data_in, connected })
    }

    pub fn node(&self, id: &str) -> Option<&CNode> {
        self.index.get(id).map(|&i| &self.nodes[i])
    }

    pub fn nodes(&self) -> &[CNode] {
        &self.nodes
    }

    /// The node an execution handle leads to.
    pub fn next(&self, node_id: &str, handle: &str) -> Option<&CNode> {
        let &i = self.index.get(node_id)?;
        self.exec_next.get(&(i, handle.to_owned())).map(|&j| &self.nodes[j])
    }

    /// The source (node, handle) feeding a data input pin.
    pub fn source_of(&self, node_id: &str, pin: &str) -> Option<(&CNode, &str)> {
        let &i = self.index.get(node_id)?;
        self.data_in.get(&(i, pin.to_owned())).map(|(j, handle)| (&self.nodes[*j], handle.as_str()))
    }

    /// Every connected data input pin of a node, in edge order.
    pub fn connected_inputs(&self, node_id: &str) -> Vec<&str> {
        let Some(&i) = self.index.get(node_id) else { return Vec::new() };
        self.connected[i].iter().map(String::as_str).collect()
    }
}
