//! Validating one source: is it a component, does it implement a known world, can it be linked,
//! and does `describe()` / `list-nodes()` answer within the limits?

use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::bindings::{InstantiateError, LlmProviderPre, NodeExecutorPre, PluginState, worlds};
use crate::cache::Obtained;
use crate::call::bounded;
use crate::llm::LiveLlm;
use crate::policy::{Denied, Policy};
use crate::registry::LoadedPlugin;
use crate::session::{Live, explain};
use crate::summary::{CapabilitiesSummary, PluginOrigin, PluginSummary, summarize};
use crate::{PluginSource, Shared, signing};

/// The binary header of a component: magic, then version 0x0d and layer 1 (core modules have
/// version 1, layer 0).
const MAGIC: &[u8; 4] = b"\0asm";

/// Loads one source under `policy`. `before` is the version currently loaded from the same
/// label: when the bytes are the same it is reused (only its grant is worked out again, since
/// the policy or the environment may have changed). `Err` is the reason the source was
/// rejected; `obtained` says whether compiling was needed (only set once the component exists).
pub(crate) fn load_one(
    shared: &Shared,
    source: &PluginSource,
    policy: &Policy,
    before: Option<&Arc<LoadedPlugin>>,
    obtained: &mut Option<Obtained>,
) -> Result<Arc<LoadedPlugin>, String> {
    check_header(&source.bytes).map_err(|why| format!("not a WebAssembly component: {why}"))?;
    let digest: [u8; 32] = Sha256::digest(&source.bytes).into();
    let sha256 = hex::encode(digest);
    let signature = signing::check_digest(&digest, source.signature.as_deref(), &shared.config.trusted_keys);
    if shared.config.require_signature && !signature.is_trusted() {
        return Err(format!("refused: a trusted signature is required and {}", signature.describe()));
    }
    if let Some(before) = before.filter(|b| b.summary.sha256 == sha256) {
        let mut summary = before.summary.clone();
        summary.signature = signature;
        return granted(shared, policy, source, summary, before.pre.clone(), before.llm.clone());
    }
    let (component, how) = shared
        .cache
        .component(&shared.engine, &sha256, &source.bytes)
        .map_err(|e| format!("not a WebAssembly component: {e:#}"))?;
    *obtained = Some(how);

    let worlds =
        worlds(&component).map_err(|why| format!("does not implement a known world ({KNOWN_WORLDS}): {why}"))?;
    let instance_pre = shared
        .linker
        .instantiate_pre(&component)
        .map_err(|e| format!("needs imports the host does not provide: {e:#}"))?;
    let unknown = |e: wasmtime::Error| format!("does not implement a known world ({KNOWN_WORLDS}): {e:#}");
    let pre = worlds.nodes.then(|| NodeExecutorPre::new(instance_pre.clone())).transpose().map_err(unknown)?;
    let llm = worlds.llm.then(|| LlmProviderPre::new(instance_pre)).transpose().map_err(unknown)?;

    // Ask the plugin who it is, in a throwaway store with no grants and the operator's
    // default limits. Its name is not known yet: host log lines are attributed to the label.
    let label = source.label.clone();
    let probe = Arc::new(Policy::default().grant(
        &label,
        &label,
        &CapabilitiesSummary::none(),
        &shared.config.limits(),
        shared.config.fuel.is_some(),
    ));
    let (info, nodes) = match (&pre, &llm) {
        (Some(pre), _) => {
            let mut live = Live::checked(shared, Arc::from(label.as_str()), probe, None, pre).map_err(|e| match e {
                InstantiateError::Mismatch(why) => format!("does not implement a known world (node-executor): {why}"),
                failed @ InstantiateError::Failed(_) => format!("cannot be instantiated: {failed}"),
            })?;
            let clock = live.store.data().clock();
            let info = bounded(&clock, live.bindings.abstractgateway_plugin_plugin().call_describe(&mut live.store))
                .map_err(|e| format!("describe() failed: {}", explain(&e, &live.store)))?;
            live.arm();
            let clock = live.store.data().clock();
            let nodes = bounded(&clock, live.bindings.abstractgateway_plugin_nodes().call_list_nodes(&mut live.store))
                .map_err(|e| format!("list-nodes() failed: {}", explain(&e, &live.store)))?;
            (info, nodes)
        }
        (None, Some(llm)) => {
            let mut live = LiveLlm::new(shared, Arc::from(label.as_str()), probe, llm)
                .map_err(|e| format!("cannot be instantiated: {}", e.to_string().lines().next().unwrap_or_default()))?;
            let clock = live.store.data().clock();
            let info = bounded(&clock, live.bindings.abstractgateway_plugin_plugin().call_describe(&mut live.store))
                .map_err(|e| format!("describe() failed: {}", explain(&e, &live.store)))?;
            (info, Vec::new())
        }
        (None, None) => unreachable!("worlds() answers at least one world"),
    };
    if info.name.trim().is_empty() {
        return Err("describe() answered an empty plugin name".to_owned());
    }
    let mut summary = summarize(info, nodes, sha256, source.origin, label, signature);
    summary.worlds = [(worlds.nodes, "node-executor"), (worlds.llm, "llm-provider")]
        .into_iter()
        .filter(|(has, _)| *has)
        .map(|(_, world)| world.to_owned())
        .collect();
    granted(shared, policy, source, summary, pre, llm)
}

/// The worlds a component may implement, as load errors name them.
const KNOWN_WORLDS: &str = "node-executor, llm-provider";

/// The loaded plugin with its grant worked out, logged once.
///
/// An LLM provider is asked which provider ids it serves (with the grant's configuration), and
/// a first-party one is granted the hosts of the base URLs it reports for configured providers:
/// the operator's settings name them, so loopback and private addresses are allowed there.
fn granted(
    shared: &Shared,
    policy: &Policy,
    source: &PluginSource,
    mut summary: PluginSummary,
    pre: Option<NodeExecutorPre<PluginState>>,
    llm: Option<LlmProviderPre<PluginState>>,
) -> Result<Arc<LoadedPlugin>, String> {
    let with_fallback;
    let policy = match &source.default_policy {
        Some(fallback) => {
            with_fallback = policy.with_fallback(&summary.name, &summary.label, fallback);
            &with_fallback
        }
        None => policy,
    };
    let mut grant = policy.grant(
        &summary.name,
        &summary.label,
        &summary.capabilities,
        &shared.config.limits(),
        shared.config.fuel.is_some(),
    );
    if let Some(llm) = &llm {
        let providers = crate::llm::providers(shared, &summary.name, Arc::new(grant.clone()), llm)?;
        if summary.origin == PluginOrigin::FirstParty {
            grant.add_base_url_hosts(providers.iter().filter(|p| p.configured).filter_map(|p| p.base_url.as_deref()));
        }
        summary.llm_providers = providers;
    }
    summary.granted = grant.summary();
    summary.denied = Denied::between(&summary.capabilities, &summary.granted);
    let g = &summary.granted;
    let hosts: Vec<String> = g.outbound_hosts.iter().map(|h| format!("{} {}", h.methods.join("|"), h.host)).collect();
    tracing::info!(
        name = %summary.name,
        version = %summary.version,
        sha256 = %summary.sha256,
        nodes = summary.nodes.len(),
        signature = %summary.signature.describe(),
        workspace = ?g.workspace,
        hosts = ?hosts,
        config = ?g.config_keys,
        secrets = ?g.secrets,
        memory_mib = g.memory_mib,
        deadline_ms = g.deadline_ms,
        policy = g.policy_file.as_deref().unwrap_or("none"),
        "plugin loaded with grant"
    );
    for note in &g.notes {
        tracing::warn!(plugin = %summary.name, %note, "grant not honoured");
    }
    Ok(Arc::new(LoadedPlugin { name: Arc::from(summary.name.as_str()), summary, pre, llm, grant: Arc::new(grant) }))
}

fn check_header(bytes: &[u8]) -> Result<(), &'static str> {
    match bytes {
        [m0, m1, m2, m3, _, _, layer0, layer1, ..] if [*m0, *m1, *m2, *m3] == *MAGIC => {
            if [*layer0, *layer1] == [0, 0] {
                Err("this is a core WebAssembly module; build a component (e.g. for wasm32-wasip2)")
            } else {
                Ok(())
            }
        }
        _ => Err("the file is not WebAssembly at all"),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::check_header;

    #[test]
    fn only_component_binaries_pass_the_header_check() {
        assert!(check_header(b"").is_err());
        assert!(check_header(b"\0asm").is_err());
        assert!(check_header(b"\0asm\x01\0\0\0").unwrap_err().contains("core WebAssembly module"));
        assert!(check_header(b"\0asm\x0d\0\x01\0").is_ok());
        assert!(check_header(b"\x7fELF\x02\x01\x01\0").unwrap_err().contains("not WebAssembly"));
    }
}
