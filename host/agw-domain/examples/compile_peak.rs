//! Peak memory of reading and compiling one big flow, for the bundle-limits issue.
//!
//! `cargo run --release -p agw-domain --example compile_peak -- 100000` packs a bundle whose
//! flow is a chain of that many `add` nodes (each with editor-style pins and defaults), reads
//! it, compiles it, drops everything, and prints the process's peak RSS (`VmHWM`) after each
//! phase. Run it under `/usr/bin/time -v` for the same figure from outside. A second argument
//! is a path to save the packed `.flow` to.

use std::collections::BTreeMap;
use std::time::Instant;

use agw_domain::CompiledFlow;
use agw_domain::bundle::{Bundle, BundleLimits, pack_zip};
use serde_json::json;

/// The flow as text, written directly so that generating it costs no memory to speak of.
fn chain(n: usize) -> String {
    use std::fmt::Write;
    let node = |out: &mut String, id: &str, node_type: &str, inputs: &str, outputs: &str, defaults: &str| {
        let _ = write!(
            out,
            r##"{{"id":"{id}","type":"custom","position":{{"x":120.5,"y":80.25}},"data":{{"nodeType":"{node_type}","label":"{node_type}","headerColor":"#4a90e2","inputs":[{inputs}],"outputs":[{outputs}],"pinDefaults":{{{defaults}}}}}}},"##
        );
    };
    let exec_in = r#"{"id":"exec-in","label":"","type":"execution"}"#;
    let exec_out = r#"{"id":"exec-out","label":"","type":"execution"}"#;
    let num = |id: &str| format!(r#"{{"id":"{id}","label":"{id}","type":"number"}}"#);
    let mut nodes = String::new();
    let mut edges = String::new();
    node(&mut nodes, "start", "on_flow_start", "", exec_out, "");
    let pins = format!("{},{}", num("a"), num("b"));
    for i in 0..n {
        node(&mut nodes, &format!("add-{i}"), "add", &pins, &num("result"), r#""a":0,"b":1"#);
        if i > 0 {
            let _ = write!(
                edges,
                r#"{{"id":"e{i}","source":"add-{}","sourceHandle":"result","target":"add-{i}","targetHandle":"a"}},"#,
                i - 1
            );
        }
    }
    node(&mut nodes, "end", "on_flow_end", &format!("{exec_in},{}", num("result")), "", "");
    nodes.pop();
    edges.push_str(r#"{"id":"x","source":"start","sourceHandle":"exec-out","target":"end","targetHandle":"exec-in"}"#);
    if n > 0 {
        let _ = write!(
            edges,
            r#",{{"id":"r","source":"add-{}","sourceHandle":"result","target":"end","targetHandle":"result"}}"#,
            n - 1
        );
    }
    format!(r#"{{"id":"main","name":"main","nodes":[{nodes}],"edges":[{edges}]}}"#)
}

fn peak_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: usize = std::env::args().nth(1).map(|a| a.parse()).transpose()?.unwrap_or(100_000);
    let manifest = json!({"bundle_format_version": "1", "bundle_id": "big", "bundle_version": "1.0.0",
                          "entrypoints": [{"flow_id": "main"}], "flows": {"main": "flows/main.json"}});
    let flow = chain(n).into_bytes();
    let files = BTreeMap::from([
        ("manifest.json".to_owned(), serde_json::to_vec(&manifest)?),
        ("flows/main.json".to_owned(), flow.clone()),
    ]);
    let packed = pack_zip(&files)?;
    drop(files);
    // A second argument saves the packed bundle (`host/agw-bench/upload_memory.sh` uploads it).
    if let Some(out) = std::env::args().nth(2) {
        std::fs::write(out, &packed)?;
    }
    println!(
        "nodes={} flow_json={} KiB packed={} KiB peak={:.0} MiB (generating)",
        n + 2,
        flow.len() / 1024,
        packed.len() / 1024,
        peak_mib()
    );
    drop(flow);

    // The default limits refuse the flow before parsing it; raised limits let it through.
    let started = Instant::now();
    match Bundle::from_zip(&packed, &BundleLimits::default()) {
        Ok(_) => println!("default limits: accepted"),
        Err(e) => println!("default limits: refused in {} ms: {e}", started.elapsed().as_millis()),
    }
    let raised = BundleLimits {
        max_json_bytes: u64::MAX,
        max_flow_nodes: usize::MAX,
        max_flow_edges: usize::MAX,
        ..BundleLimits::default()
    };
    let started = Instant::now();
    let bundle = Bundle::from_zip(&packed, &raised)?;
    println!("read:    {:>6} ms  peak={:.0} MiB", started.elapsed().as_millis(), peak_mib());

    let started = Instant::now();
    let provides = |t: &str| (t == "add").then_some(true);
    let compiled = CompiledFlow::compile(&bundle.flows["main"], &provides)?;
    println!(
        "compile: {:>6} ms  peak={:.0} MiB  nodes={}",
        started.elapsed().as_millis(),
        peak_mib(),
        compiled.nodes().len()
    );
    drop(compiled);
    drop(bundle);
    Ok(())
}
