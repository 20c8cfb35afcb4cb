//! What one bundle may hold, so that no upload or file can make the gateway take gigabytes.
//!
//! Every cap has a default generous for real bundles (the largest known one has 6 flows, 26
//! nodes, 37 edges, 35 KB of flow JSON, 4 KB of data in one node and JSON 7 levels deep) and an
//! `ABSTRACTGATEWAY_*` variable that raises it. A refusal names the limit, the value and the
//! variable. The checks run on the raw bytes and the parsed JSON before anything is compiled.

use serde_json::Value;

use super::BundleError;

/// Caps on a bundle's archive and on what its flows may contain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BundleLimits {
    /// Entries in the zip, or files in a directory bundle (`ABSTRACTGATEWAY_MAX_BUNDLE_ENTRIES`).
    pub max_entries: usize,
    /// Bytes the archive may expand to, assets included (`ABSTRACTGATEWAY_MAX_BUNDLE_EXPANDED_BYTES`).
    pub max_total_bytes: u64,
    /// Flows listed in the manifest (`ABSTRACTGATEWAY_MAX_BUNDLE_FLOWS`).
    pub max_flows: usize,
    /// Bytes of JSON parsed from a bundle: its manifest and flow files together
    /// (`ABSTRACTGATEWAY_MAX_BUNDLE_JSON_BYTES`). Parsed JSON takes 10-20 times its size.
    pub max_json_bytes: u64,
    /// Nodes in one flow (`ABSTRACTGATEWAY_MAX_FLOW_NODES`).
    pub max_flow_nodes: usize,
    /// Edges in one flow (`ABSTRACTGATEWAY_MAX_FLOW_EDGES`).
    pub max_flow_edges: usize,
    /// Bytes of one node's `data` as JSON: its pins, pin defaults and config
    /// (`ABSTRACTGATEWAY_MAX_NODE_BYTES`).
    pub max_node_bytes: u64,
    /// Nesting depth of any JSON file in the bundle (`ABSTRACTGATEWAY_MAX_JSON_DEPTH`). The
    /// JSON parser stops at 128 levels whatever this says.
    pub max_json_depth: usize,
}

impl Default for BundleLimits {
    fn default() -> Self {
        Self {
            max_entries: 2_000,
            max_total_bytes: 256 * 1024 * 1024,
            max_flows: 100,
            max_json_bytes: 8 * 1024 * 1024,
            max_flow_nodes: 10_000,
            max_flow_edges: 50_000,
            max_node_bytes: 256 * 1024,
            max_json_depth: 64,
        }
    }
}

/// The error for `subject` having `value` `unit` where `limit` is allowed.
pub(crate) fn over(
    subject: impl Into<String>,
    value: u64,
    unit: &'static str,
    limit: u64,
    var: &'static str,
) -> BundleError {
    BundleError::OverLimit { subject: subject.into(), value, unit, limit, var }
}

fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

impl BundleLimits {
    pub(crate) fn check_flow_count(&self, flows: usize) -> Result<(), BundleError> {
        if flows > self.max_flows {
            return Err(over(
                "bundle",
                count(flows),
                "flows",
                count(self.max_flows),
                "ABSTRACTGATEWAY_MAX_BUNDLE_FLOWS",
            ));
        }
        Ok(())
    }

    /// Adds `bytes` of `file` to the JSON parsed so far (`total`) and checks its nesting,
    /// before it is parsed.
    pub(crate) fn check_json_file(&self, file: &str, bytes: &[u8], total: &mut u64) -> Result<(), BundleError> {
        *total = total.saturating_add(count(bytes.len()));
        if *total > self.max_json_bytes {
            return Err(over(
                format!("bundle (at '{file}')"),
                *total,
                "bytes of manifest and flow JSON",
                self.max_json_bytes,
                "ABSTRACTGATEWAY_MAX_BUNDLE_JSON_BYTES",
            ));
        }
        let depth = json_depth(bytes);
        if depth > self.max_json_depth {
            return Err(over(
                format!("'{file}'"),
                count(depth),
                "levels of JSON nesting",
                count(self.max_json_depth),
                "ABSTRACTGATEWAY_MAX_JSON_DEPTH",
            ));
        }
        Ok(())
    }

    /// Nodes, edges and each node's data size of one parsed flow.
    pub(crate) fn check_flow(&self, flow_id: &str, flow: &Value) -> Result<(), BundleError> {
        let list = |key: &str| flow.get(key).and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
        let (nodes, edges) = (list("nodes"), list("edges"));
        if nodes.len() > self.max_flow_nodes {
            return Err(over(
                format!("flow '{flow_id}'"),
                count(nodes.len()),
                "nodes",
                count(self.max_flow_nodes),
                "ABSTRACTGATEWAY_MAX_FLOW_NODES",
            ));
        }
        if edges.len() > self.max_flow_edges {
            return Err(over(
                format!("flow '{flow_id}'"),
                count(edges.len()),
                "edges",
                count(self.max_flow_edges),
                "ABSTRACTGATEWAY_MAX_FLOW_EDGES",
            ));
        }
        for node in nodes {
            let Some(data) = node.get("data") else { continue };
            let size = json_len(data);
            if size > self.max_node_bytes {
                let id = node.get("id").and_then(Value::as_str).unwrap_or("?");
                let id: String = id.chars().take(64).collect();
                return Err(over(
                    format!("node '{id}' of flow '{flow_id}'"),
                    size,
                    "bytes of data (pins, pin defaults and config)",
                    self.max_node_bytes,
                    "ABSTRACTGATEWAY_MAX_NODE_BYTES",
                ));
            }
        }
        Ok(())
    }
}

/// How deep arrays and objects nest in JSON text, found without parsing it (so a hostile
/// file costs one pass and no memory). Brackets inside strings do not count.
pub(crate) fn json_depth(bytes: &[u8]) -> usize {
    let (mut depth, mut deepest) = (0usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &b in bytes {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

/// The length of `value` serialized as compact JSON, without building the text.
fn json_len(value: &Value) -> u64 {
    struct Count(u64);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 = self.0.saturating_add(count(buf.len()));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Count(0);
    // Writing a `Value` to a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}
