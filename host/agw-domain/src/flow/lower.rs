//! Authoring-time rewrites applied before a flow compiles, as the reference applies them:
//!
//! - A limit on an execution wire (`edge.data.loopLimit = {max: N}`) becomes a `loop_limit`
//!   node on that wire: `S.h -> L.exec-in`, `L.again -> T`, and, when `S` is an `if`, the
//!   target of its other branch gets `L.limit_reached` (the flow goes on as if the `if` had
//!   chosen the other way). Per-path values and entry lists keyed on the rewritten wire are
//!   re-keyed to the limit's `again`.
//! - A node entered by several execution wires gets a `join_exec` in front of it, which says
//!   which way came in, and one `path_mux` per input with per-path values
//!   (`inputRouteOverrides`), which picks that way's value. Its entry list (`entryRoutes`)
//!   must name exactly its incoming wires.
//! - Every `join_exec` learns its incoming routes, in wire order (`JOIN_ROUTES` in its data).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value, json};

use super::compile::FlowError;
use super::model::{Edge, VisualFlow, VisualNode};

/// Where a `join_exec` finds its incoming routes (`[[source, handle], ...]`).
pub(super) const JOIN_ROUTES: &str = "__agw_join_routes";

/// Applies the rewrites; a flow without limits, overrides or joins comes back unchanged.
pub(super) fn lower(flow: VisualFlow) -> Result<VisualFlow, FlowError> {
    let flow = lower_loop_limits(flow)?;
    let mut flow = lower_multi_entry(flow)?;
    annotate_joins(&mut flow)?;
    Ok(flow)
}

fn invalid(message: String) -> FlowError {
    FlowError::Invalid(message)
}

fn source_handle(edge: &Edge) -> &str {
    edge.source_handle.as_deref().filter(|h| !h.trim().is_empty()).map_or("exec-out", str::trim)
}

fn is_exec_edge(edge: &Edge) -> bool {
    edge.target_handle.as_deref().is_none_or(|h| h == "exec-in")
}

fn route_key(source: &str, handle: &str) -> String {
    format!("{source}::{}", if handle.is_empty() { "exec-out" } else { handle })
}

fn new_edge(source: &str, handle: &str, target: &str, target_handle: &str) -> Edge {
    Edge {
        id: None,
        source: source.to_owned(),
        source_handle: Some(handle.to_owned()),
        target: target.to_owned(),
        target_handle: Some(target_handle.to_owned()),
        data: Map::new(),
    }
}

fn pin(id: &str, kind: &str) -> Value {
    json!({ "id": id, "label": if kind == "execution" { "" } else { id }, "type": kind })
}

/// Python's `repr` of the few values a bad `loopLimit.max` is likely to be.
fn repr(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".into(),
        Some(Value::Bool(b)) => if *b { "True" } else { "False" }.into(),
        Some(Value::String(s)) => format!("'{s}'"),
        Some(other) => other.to_string(),
    }
}

/// The limit a wire carries: `Ok(None)` without one.
fn wire_limit(edge: &Edge) -> Result<Option<u64>, FlowError> {
    let Some(Value::Object(raw)) = edge.data.get("loopLimit") else { return Ok(None) };
    match raw.get("max") {
        Some(Value::Number(n)) => {
            // Python's `max(0, int(mx))`: floats truncate toward zero.
            let max = n.as_u64().or_else(|| n.as_i64().map(|_| 0)).unwrap_or_else(|| {
                let f = n.as_f64().unwrap_or(0.0).trunc();
                if f <= 0.0 { 0 } else { f.min(u64::MAX as f64) as u64 }
            });
            Ok(Some(max))
        }
        other => Err(invalid(format!(
            "Wire {}.{} -> {}: loopLimit.max must be a number, got {}",
            edge.source,
            edge.source_handle.as_deref().unwrap_or("None"),
            edge.target,
            repr(other)
        ))),
    }
}

fn lower_loop_limits(mut flow: VisualFlow) -> Result<VisualFlow, FlowError> {
    let mut limited = Vec::new();
    for (index, edge) in flow.edges.iter().enumerate() {
        if let Some(max) = wire_limit(edge)? {
            limited.push((index, max));
        }
    }
    if limited.is_empty() {
        return Ok(flow);
    }
    let types: HashMap<String, String> = flow.nodes.iter().map(|n| (n.id.clone(), n.kind().to_owned())).collect();
    let original = flow.edges.clone();
    // target id -> {old route key: new route key}; exit target id -> entries to add.
    let mut rekey: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut new_entries: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    let mut limits: Vec<(Edge, String)> = Vec::new();
    for (index, max) in limited {
        let wire = original[index].clone();
        if !is_exec_edge(&wire) {
            return Err(invalid(format!(
                "Wire {}.{} -> {}.{} carries a loop limit but is not an execution wire.",
                wire.source,
                wire.source_handle.as_deref().unwrap_or("None"),
                wire.target,
                wire.target_handle.as_deref().unwrap_or("None"),
            )));
        }
        let handle = wire.source_handle.clone().unwrap_or_default();
        let limit_id = format!("loop-limit:{}.{}->{}", wire.source, handle, wire.target);
        let data = json!({
            "nodeType": "loop_limit",
            "label": format!("Loop limit {max}"),
            "inputs": [pin("exec-in", "execution"), pin("max", "number")],
            "outputs": [pin("again", "execution"), pin("limit_reached", "execution"), pin("count", "number")],
            "pinDefaults": {"max": max},
        });
        flow.nodes.push(VisualNode {
            id: limit_id.clone(),
            node_type: "loop_limit".into(),
            data: data.as_object().cloned().unwrap_or_default(),
        });
        let mut plain = wire.data.clone();
        plain.remove("loopLimit");
        flow.edges[index] =
            Edge { target: limit_id.clone(), target_handle: Some("exec-in".into()), data: plain, ..wire.clone() };
        flow.edges.push(new_edge(&limit_id, "again", &wire.target, wire.target_handle.as_deref().unwrap_or("exec-in")));
        rekey
            .entry(wire.target.clone())
            .or_default()
            .insert(route_key(&wire.source, &handle), route_key(&limit_id, "again"));
        limits.push((wire, limit_id));
    }

    // At the limit, an `if` goes on down its other branch, unless that branch is limited too
    // (both loop back: the path ends at the limit instead).
    let limited_wires: HashSet<(String, String)> =
        limits.iter().map(|(w, _)| (w.source.clone(), w.source_handle.clone().unwrap_or_default())).collect();
    // The first execution wire out of each (node, handle).
    let mut exits: HashMap<(&str, &str), &str> = HashMap::new();
    for x in &original {
        if let (Some(handle), Some("exec-in")) = (x.source_handle.as_deref(), x.target_handle.as_deref()) {
            exits.entry((x.source.as_str(), handle)).or_insert(x.target.as_str());
        }
    }
    for (wire, limit_id) in &limits {
        if types.get(&wire.source).map(String::as_str) != Some("if") {
            continue;
        }
        let other = match wire.source_handle.as_deref() {
            Some("true") => "false",
            Some("false") => "true",
            _ => continue,
        };
        if limited_wires.contains(&(wire.source.clone(), other.to_owned())) {
            continue;
        }
        let Some(&exit) = exits.get(&(wire.source.as_str(), other)) else { continue };
        flow.edges.push(new_edge(limit_id, "limit_reached", exit, "exec-in"));
        new_entries.entry(exit.to_owned()).or_default().push(json!({
            "key": route_key(limit_id, "limit_reached"), "sourceNodeId": limit_id, "sourceHandle": "limit_reached",
        }));
    }

    for node in &mut flow.nodes {
        let keys = rekey.get(&node.id);
        if let Some(keys) = keys
            && let Some(Value::Object(overrides)) = node.data.get("inputRouteOverrides")
        {
            let mut rewritten = Map::new();
            for (pin, per_route) in overrides {
                let Value::Object(per_route) = per_route else { continue };
                let routes =
                    per_route.iter().map(|(rk, r)| (keys.get(rk).cloned().unwrap_or_else(|| rk.clone()), r.clone()));
                rewritten.insert(pin.clone(), Value::Object(routes.collect()));
            }
            node.data.insert("inputRouteOverrides".into(), Value::Object(rewritten));
        }
        let added = new_entries.get(&node.id);
        if keys.is_none() && added.is_none() {
            continue;
        }
        let Some(Value::Array(routes)) = node.data.get("entryRoutes") else { continue };
        let mut rewritten = Vec::with_capacity(routes.len());
        for route in routes {
            let mut route = route.clone();
            if let (Value::Object(r), Some(keys)) = (&mut route, keys) {
                let source = text(r.get("sourceNodeId")).or_else(|| text(r.get("source"))).unwrap_or_default();
                let handle = text(r.get("sourceHandle")).unwrap_or_else(|| "exec-out".into());
                if let Some(new_key) = keys.get(&route_key(&source, &handle)) {
                    let limit_id = new_key.split("::").next().unwrap_or_default().to_owned();
                    r.insert("key".into(), json!(new_key));
                    r.insert("sourceNodeId".into(), json!(limit_id));
                    r.insert("sourceHandle".into(), json!("again"));
                }
            }
            rewritten.push(route);
        }
        rewritten.extend(added.into_iter().flatten().cloned());
        node.data.insert("entryRoutes".into(), Value::Array(rewritten));
    }
    Ok(flow)
}

/// A non-blank string, trimmed.
fn text(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

/// The ways into `node`, in the order of its `entryRoutes` (else of its incoming wires):
/// `(key, source, handle)`, checked against the wires as the reference checks them.
fn entry_routes(node: &VisualNode, incoming: &[&Edge]) -> Result<Vec<Route>, FlowError> {
    let mut routes = Vec::new();
    if let Some(Value::Array(raw)) = node.data.get("entryRoutes") {
        for r in raw {
            let Value::Object(r) = r else { continue };
            let Some(source) = text(r.get("sourceNodeId")).or_else(|| text(r.get("source"))) else { continue };
            let handle = text(r.get("sourceHandle")).unwrap_or_else(|| "exec-out".into());
            let key = text(r.get("key")).unwrap_or_else(|| route_key(&source, &handle));
            routes.push((key, source, handle));
        }
    }
    if routes.is_empty() {
        for edge in incoming {
            let handle = source_handle(edge).to_owned();
            routes.push((route_key(&edge.source, &handle), edge.source.clone(), handle));
        }
    }
    let mut seen = HashSet::new();
    let dups: Vec<&str> = routes.iter().filter(|(k, ..)| !seen.insert(k.as_str())).map(|(k, ..)| k.as_str()).collect();
    if !dups.is_empty() {
        let dups: Vec<String> = dups.iter().map(|k| format!("'{k}'")).collect();
        return Err(invalid(format!("Node '{}' has duplicate entryRoutes keys: [{}]", node.id, dups.join(", "))));
    }
    let pairs: Vec<(String, String)> =
        incoming.iter().map(|e| (e.source.clone(), source_handle(e).to_owned())).collect();
    let mut counts: HashMap<&(String, String), usize> = HashMap::new();
    for pair in &pairs {
        *counts.entry(pair).or_default() += 1;
    }
    let mut shown = HashSet::new();
    let twice: Vec<String> =
        pairs.iter().filter(|p| counts[p] > 1 && shown.insert(*p)).map(|(s, h)| format!("('{s}', '{h}')")).collect();
    if !twice.is_empty() {
        return Err(invalid(format!(
            "Node '{}' has duplicate incoming exec edges (ambiguous routes): [{}]. Ensure each exec entry is unique by (source node id, source handle).",
            node.id,
            twice.join(", ")
        )));
    }
    let route_pairs: Vec<(String, String)> = routes.iter().map(|(_, s, h)| (s.clone(), h.clone())).collect();
    let show = |list: Vec<&(String, String)>| {
        format!("[{}]", list.iter().map(|(s, h)| format!("('{s}', '{h}')")).collect::<Vec<_>>().join(", "))
    };
    let routed: HashSet<&(String, String)> = route_pairs.iter().collect();
    let missing: Vec<&(String, String)> = route_pairs.iter().filter(|p| !counts.contains_key(p)).collect();
    let extra: Vec<&(String, String)> = pairs.iter().filter(|p| !routed.contains(p)).collect();
    if !missing.is_empty() || !extra.is_empty() {
        return Err(invalid(format!(
            "Node '{}' entryRoutes mismatch with incoming exec edges. missing={} extra={}. Reconnect the exec wires or resave the flow.",
            node.id,
            show(missing),
            show(extra)
        )));
    }
    Ok(routes)
}

/// A way in: `(route key, source node, source handle)`.
type Route = (String, String, String);

/// `inputRouteOverrides`: each pin with its `(route key, source, handle)` values, pins sorted.
fn overrides(node: &VisualNode) -> Vec<(String, Vec<Route>)> {
    let Some(Value::Object(raw)) = node.data.get("inputRouteOverrides") else { return Vec::new() };
    let mut out = Vec::new();
    for (pin, per_route) in raw {
        let Value::Object(per_route) = per_route else { continue };
        if pin.is_empty() {
            continue;
        }
        let mut routes = Vec::new();
        for (key, reference) in per_route {
            let Value::Object(r) = reference else { continue };
            let key = key.trim();
            let source = text(r.get("sourceNodeId")).or_else(|| text(r.get("source")));
            let handle = text(r.get("sourceHandle")).or_else(|| text(r.get("handle")));
            if let (false, Some(source), Some(handle)) = (key.is_empty(), source, handle) {
                routes.push((key.to_owned(), source, handle));
            }
        }
        if !routes.is_empty() {
            out.push((pin.clone(), routes));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn lower_multi_entry(mut flow: VisualFlow) -> Result<VisualFlow, FlowError> {
    let mut incoming: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, edge) in flow.edges.iter().enumerate() {
        if is_exec_edge(edge) {
            incoming.entry(edge.target.clone()).or_default().push(i);
        }
    }
    let index: HashMap<String, usize> = flow.nodes.iter().enumerate().map(|(i, n)| (n.id.clone(), i)).collect();
    let mut used: HashSet<String> = index.keys().cloned().collect();
    // Data wires by (target, pin), for the value a path_mux falls back to.
    let mut data_into: HashMap<(String, String), Vec<usize>> = HashMap::new();
    for (i, edge) in flow.edges.iter().enumerate() {
        if !is_exec_edge(edge) {
            let pin = edge.target_handle.clone().unwrap_or_default();
            data_into.entry((edge.target.clone(), pin)).or_default().push(i);
        }
    }
    let mut removed: HashSet<usize> = HashSet::new();
    let mut added_nodes = Vec::new();
    let mut added_edges = Vec::new();
    for (target, wires) in &incoming {
        let Some(&at) = index.get(target) else { continue };
        let node = &flow.nodes[at];
        let pins = overrides(node);
        if wires.len() < 2 {
            continue;
        }
        let ins: Vec<&Edge> = wires.iter().map(|&i| &flow.edges[i]).collect();
        let routes = entry_routes(node, &ins)?;
        let position: HashMap<&str, usize> = routes.iter().enumerate().map(|(i, (k, ..))| (k.as_str(), i)).collect();
        let join = format!("__internal_join_exec__{target}");
        if !used.insert(join.clone()) {
            return Err(invalid(format!("Internal join_exec id collision: '{join}' already exists")));
        }
        added_nodes.push(VisualNode {
            id: join.clone(),
            node_type: "join_exec".into(),
            data: json!({"_internal": true}).as_object().cloned().unwrap_or_default(),
        });
        removed.extend(wires.iter().copied());
        for (_, source, handle) in &routes {
            added_edges.push(new_edge(source, handle, &join, "exec-in"));
        }
        added_edges.push(new_edge(&join, "exec-out", target, "exec-in"));

        for (pin, per_route) in &pins {
            for (key, source, _) in per_route {
                if !position.contains_key(key.as_str()) {
                    return Err(invalid(format!(
                        "Node '{target}' override for pin '{pin}' references unknown route '{key}'. Ensure entryRoutes is up to date."
                    )));
                }
                if !index.contains_key(source) {
                    return Err(invalid(format!(
                        "Node '{target}' override for pin '{pin}' references missing node '{source}'."
                    )));
                }
            }
            let mux = format!("__internal_path_mux__{target}__{pin}");
            if !used.insert(mux.clone()) {
                return Err(invalid(format!("Internal path_mux id collision: '{mux}' already exists")));
            }
            let mut data = json!({"_internal": true}).as_object().cloned().unwrap_or_default();
            let wired = data_into.get(&(target.clone(), pin.clone())).map(Vec::as_slice).unwrap_or_default();
            let base: Vec<usize> = wired.iter().copied().filter(|i| !removed.contains(i)).collect();
            if base.len() > 1 {
                return Err(invalid(format!(
                    "Node '{target}' has multiple incoming data edges to pin '{pin}'. Use inputRouteOverrides (per-entry overrides) instead of multi-wiring."
                )));
            }
            match base.first() {
                Some(&i) => {
                    removed.insert(i);
                    let e = &flow.edges[i];
                    added_edges.push(new_edge(&e.source, e.source_handle.as_deref().unwrap_or(""), &mux, "fallback"));
                }
                None => {
                    let default = flow.nodes[at].data.get("pinDefaults").and_then(|d| d.get(pin.as_str()));
                    if let Some(default) = default {
                        data.insert("pinDefaults".into(), json!({ "fallback": default }));
                    }
                }
            }
            added_nodes.push(VisualNode { id: mux.clone(), node_type: "path_mux".into(), data });
            added_edges.push(new_edge(&join, "which", &mux, "select"));
            for (key, source, handle) in per_route {
                added_edges.push(new_edge(source, handle, &mux, &format!("in{}", position[key.as_str()])));
            }
            added_edges.push(new_edge(&mux, "out", target, pin));
        }
    }
    if added_nodes.is_empty() {
        return Ok(flow);
    }
    flow.nodes.extend(added_nodes);
    let kept = std::mem::take(&mut flow.edges).into_iter().enumerate().filter(|(i, _)| !removed.contains(i));
    flow.edges = kept.map(|(_, e)| e).chain(added_edges).collect();
    Ok(flow)
}

/// Gives every `join_exec` its incoming routes, and refuses one that leads nowhere.
fn annotate_joins(flow: &mut VisualFlow) -> Result<(), FlowError> {
    let joins: Vec<usize> = (0..flow.nodes.len()).filter(|&i| flow.nodes[i].kind() == "join_exec").collect();
    if joins.is_empty() {
        return Ok(());
    }
    let mut routes: HashMap<&str, Vec<Value>> = HashMap::new();
    let mut leads: HashSet<&str> = HashSet::new();
    for e in flow.edges.iter().filter(|e| is_exec_edge(e)) {
        let handle = e.source_handle.as_deref().filter(|h| !h.is_empty()).unwrap_or("exec-out");
        routes.entry(e.target.as_str()).or_default().push(json!([e.source, handle]));
        leads.insert(e.source.as_str());
    }
    let mut annotated = Vec::with_capacity(joins.len());
    for i in joins {
        let id = flow.nodes[i].id.as_str();
        if !leads.contains(id) {
            return Err(invalid(format!("Join Exec node '{id}' must have an outgoing exec edge.")));
        }
        annotated.push((i, routes.remove(id).unwrap_or_default()));
    }
    for (i, routes) in annotated {
        flow.nodes[i].data.insert(JOIN_ROUTES.into(), Value::Array(routes));
    }
    Ok(())
}
