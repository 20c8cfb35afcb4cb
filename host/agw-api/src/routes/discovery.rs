//! Discovery: what this deployment can do (`GET /discovery/capabilities`, in the reference's
//! `{"capabilities": {...}}` envelope with snake_case keys; conservative: a capability says
//! `available: true` only when a request to it can succeed here), and the LLM providers and
//! models the loaded provider plugins serve (`/discovery/providers`, in the reference's
//! `gateway_catalog_v1` shape: canonical `items` plus a `catalog` block).

use std::collections::{BTreeMap, BTreeSet};

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::error::ApiResult;
use crate::query::{Query, query_bool};
use crate::schema::ValidationError;
use crate::{AppState, LlmModel, LlmProvider, PluginProblem};

/// What the discovery answers name as their source.
const SOURCE: &str = "abstractgateway.llm_plugins";
/// The catalog contract the reference's list answers carry.
const CATALOG_CONTRACT: &str = "gateway_catalog_v1";

/// `GET /discovery/capabilities`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CapabilitiesEnvelope {
    pub capabilities: Capabilities,
}

/// What this deployment can do.
#[derive(Debug, Serialize, ToSchema)]
pub struct Capabilities {
    pub abstractgateway: GatewayCapability,
    pub plugins: PluginCapabilities,
    pub node_types: NodeTypesCapability,
    pub llm: LlmCapability,
    pub streaming: StreamingCapability,
    pub voice: Unavailable,
    pub vision: Unavailable,
    pub music: Unavailable,
    pub tools: Unavailable,
}

/// The gateway itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct GatewayCapability {
    pub installed: bool,
    pub version: String,
}

/// The loaded plugins and the sources that failed to load.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginCapabilities {
    pub loaded: Vec<LoadedPlugin>,
    pub problems: Vec<PluginProblem>,
}

/// A loaded plugin: identity, content hash, worlds, what it provides.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoadedPlugin {
    /// From the plugin's summary (any JSON value).
    pub name: Value,
    /// From the plugin's summary (any JSON value).
    pub version: Value,
    /// From the plugin's summary (any JSON value).
    pub sha256: Value,
    /// From the plugin's summary (any JSON value).
    pub worlds: Value,
    pub provides: PluginProvides,
    /// From the plugin's summary (any JSON value).
    pub signature: Value,
}

/// What a plugin provides.
#[derive(Debug, Serialize, ToSchema)]
pub struct PluginProvides {
    pub node_types: Vec<String>,
}

/// Node types flows can use.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeTypesCapability {
    pub available: bool,
    /// Node types exactly one loaded plugin provides.
    pub count: usize,
}

/// LLM calls through the loaded provider plugins.
#[derive(Debug, Serialize, ToSchema)]
pub struct LlmCapability {
    /// At least one provider is configured.
    pub available: bool,
    /// The configured provider ids, sorted.
    pub providers: Vec<String>,
    /// The plugins serving them, sorted.
    pub plugins: Vec<String>,
    /// The provider of `llm_call` nodes that name none.
    #[schema(required = true)]
    pub default_provider: Option<String>,
    /// The model of `llm_call` nodes that name none.
    #[schema(required = true)]
    pub default_model: Option<String>,
}

/// Streamed LLM text on a run's ledger stream, as the reference describes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamingCapability {
    /// Streamed text reaches SSE readers while a call runs.
    pub deltas: bool,
    /// Runs stream only when asked to.
    pub default: bool,
    /// The `input_data` field that asks for it: `_runtime.stream`.
    pub run_field: String,
    /// The SSE event names of live frames.
    pub events: Vec<String>,
    /// The stream that carries them.
    pub endpoint: String,
    /// A run's stream also carries its child runs' frames.
    pub subtree: bool,
    /// The `reason` values of `llm.delta_end` this gateway sends.
    pub end_reasons: Vec<String>,
}

/// A capability this deployment does not have.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct Unavailable {
    /// Always false.
    pub available: bool,
}

/// The capabilities envelope: the gateway's version, the loaded plugins and what they
/// provide, the node types flows can use, the LLM providers and streaming.
#[utoipa::path(
    get,
    path = "/discovery/capabilities",
    tag = "discovery",
    summary = "What this deployment can do",
    responses((status = 200, description = "The capabilities", body = CapabilitiesEnvelope)),
)]
pub async fn capabilities(State(state): State<AppState>) -> Json<CapabilitiesEnvelope> {
    let plugins = state.plugins.plugins();
    let loaded: Vec<LoadedPlugin> = plugins.iter().map(loaded_entry).collect();
    let node_types = usable_node_types(&plugins);
    // No plugin world provides voice, vision, music or tools yet, and no route calls one: a
    // client asking for them would fail, so they are not available.
    let unavailable = Unavailable { available: false };
    Json(CapabilitiesEnvelope {
        capabilities: Capabilities {
            abstractgateway: GatewayCapability { installed: true, version: env!("CARGO_PKG_VERSION").into() },
            plugins: PluginCapabilities { loaded, problems: state.plugins.problems() },
            node_types: NodeTypesCapability { available: node_types > 0, count: node_types },
            llm: llm_capability(&state.plugins.llm_providers(), state.plugins.llm_defaults()),
            streaming: streaming_capability(),
            voice: unavailable,
            vision: unavailable,
            music: unavailable,
            tools: unavailable,
        },
    })
}

fn llm_capability(providers: &[LlmProvider], defaults: crate::LlmDefaultRoute) -> LlmCapability {
    let configured: Vec<&LlmProvider> = providers.iter().filter(|p| p.configured).collect();
    let ids: BTreeSet<String> = configured.iter().map(|p| p.id.clone()).collect();
    let plugins: BTreeSet<String> = configured.iter().map(|p| p.plugin.clone()).collect();
    LlmCapability {
        available: !ids.is_empty(),
        providers: ids.into_iter().collect(),
        plugins: plugins.into_iter().collect(),
        default_provider: defaults.provider,
        default_model: defaults.model,
    }
}

fn streaming_capability() -> StreamingCapability {
    let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
    StreamingCapability {
        deltas: true,
        default: false,
        run_field: "_runtime.stream".into(),
        events: strings(&["llm.delta", "llm.delta_end"]),
        endpoint: "/api/gateway/runs/{run_id}/ledger/stream".into(),
        subtree: true,
        end_reasons: strings(&["completed", "failed"]),
    }
}

/// The `catalog` block of a list answer (`gateway_catalog_v1`): what kind of list it is, its
/// items field, and whether it could be answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct Catalog {
    /// `gateway_catalog_v1`.
    pub contract: String,
    /// 1.
    pub version: u32,
    /// `providers` or `models`.
    pub kind: String,
    /// `text`.
    pub scope: String,
    /// `items`: the field holding the canonical items.
    pub primary_items_field: String,
    /// `abstractgateway.catalog`.
    pub source: String,
    /// The answer's `source`.
    pub route_source: String,
    pub available: bool,
    pub route_available: bool,
    /// The provider whose models these are (`models` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    /// Why the list is empty (`models` only, when it could not be had).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether model lists were asked for (`providers` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub include_models: Option<bool>,
}

impl Catalog {
    fn new(kind: &str, available: bool) -> Self {
        Self {
            contract: CATALOG_CONTRACT.into(),
            version: 1,
            kind: kind.into(),
            scope: "text".into(),
            primary_items_field: "items".into(),
            source: "abstractgateway.catalog".into(),
            route_source: SOURCE.into(),
            available,
            route_available: true,
            provider: None,
            error: None,
            include_models: None,
        }
    }
}

/// `GET /discovery/providers`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProvidersView {
    /// Every provider id a loaded plugin serves, configured or not, sorted by id.
    pub items: Vec<ProviderItem>,
    /// At least one provider is configured.
    pub available: bool,
    /// Always true: the route can be answered.
    pub route_available: bool,
    /// `abstractgateway.llm_plugins`.
    pub source: String,
    /// The provider of `llm_call` nodes that name none.
    #[schema(required = true)]
    pub default_provider: Option<String>,
    /// The model of `llm_call` nodes that name none.
    #[schema(required = true)]
    pub default_model: Option<String>,
    /// Where the default route was configured (an environment variable or a file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_source: Option<String>,
    /// What is missing from the default route, when a part of it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_error: Option<String>,
    pub catalog: Catalog,
}

/// A provider id, as the reference's items name it (`name` = `id` = `provider`), with the
/// plugin serving it, its base URL and whether it is configured.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProviderItem {
    pub name: String,
    pub display_name: String,
    /// `llm`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `"unknown"` unless the models were listed.
    pub model_count: ModelCount,
    /// `available` (configured; with `include_models`, listed some models), `unconfigured`,
    /// `no_models` or `error` (with `include_models`).
    pub status: String,
    /// Its model ids, sorted (with `include_models`; otherwise empty).
    pub models: Vec<String>,
    /// Why its models could not be listed (with `include_models`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub id: String,
    pub label: String,
    pub provider: String,
    /// The plugin serving it.
    pub plugin: String,
    /// The base URL it calls (never a key).
    #[schema(required = true)]
    pub base_url: Option<String>,
    /// The operator configured it (a base URL or key is set, or it needs none).
    pub configured: bool,
}

/// A model count, or `"unknown"` when the models were not listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(untagged)]
pub enum ModelCount {
    Known(usize),
    Unknown(String),
}

/// What the provider list asks for.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProvidersQuery {
    /// Also list each configured provider's models (one call to each, concurrently; may be
    /// slow). Boolean, default false.
    #[param(value_type = Option<bool>)]
    include_models: Option<String>,
}

/// The LLM provider ids the loaded plugins serve, with the default route; with
/// `include_models`, each configured provider's models too (a failing provider gets
/// `status: "error"` and its `error`, never a failed answer).
#[utoipa::path(
    get,
    path = "/discovery/providers",
    tag = "discovery",
    summary = "LLM providers the loaded plugins serve",
    params(ProvidersQuery),
    responses(
        (status = 200, description = "The providers", body = ProvidersView),
        (status = 422, description = "`include_models` that does not parse", body = ValidationError),
    ),
)]
pub async fn providers(
    State(state): State<AppState>,
    Query(query): Query<ProvidersQuery>,
) -> ApiResult<Json<ProvidersView>> {
    let include_models = query_bool("include_models", query.include_models.as_deref(), false)?;
    let mut providers = state.plugins.llm_providers();
    providers.sort_by(|a, b| a.id.cmp(&b.id));
    // Each listing is a blocking network call through the plugin: all at once, off the runtime.
    let listings: Vec<_> = providers
        .iter()
        .map(|p| (include_models && p.configured).then(|| spawn_listing(&state, p.id.clone())))
        .collect();
    let mut items = Vec::with_capacity(providers.len());
    for (provider, listing) in providers.iter().zip(listings) {
        let listing = match listing {
            Some(task) => Some(task.await.unwrap_or_else(|e| Err(format!("model listing failed: {e}")))),
            None => None,
        };
        items.push(provider_item(provider, listing));
    }
    let defaults = state.plugins.llm_defaults();
    let default_error = default_route_error(&defaults);
    let available = providers.iter().any(|p| p.configured);
    let mut catalog = Catalog::new("providers", available);
    catalog.include_models = Some(include_models);
    Ok(Json(ProvidersView {
        items,
        available,
        route_available: true,
        source: SOURCE.into(),
        default_provider: defaults.provider,
        default_model: defaults.model,
        default_source: defaults.source,
        default_error,
        catalog,
    }))
}

/// `provider`'s models, listed on the blocking pool.
fn spawn_listing(state: &AppState, provider: String) -> tokio::task::JoinHandle<Result<Vec<LlmModel>, String>> {
    let plugins = state.plugins.clone();
    tokio::task::spawn_blocking(move || plugins.llm_models(&provider))
}

fn provider_item(provider: &LlmProvider, listing: Option<Result<Vec<LlmModel>, String>>) -> ProviderItem {
    let (model_count, status, models, error) = match listing {
        None if provider.configured => (ModelCount::Unknown("unknown".into()), "available", Vec::new(), None),
        None => (ModelCount::Unknown("unknown".into()), "unconfigured", Vec::new(), None),
        Some(Ok(models)) => {
            let ids = model_ids(&models);
            let status = if ids.is_empty() { "no_models" } else { "available" };
            (ModelCount::Known(ids.len()), status, ids, None)
        }
        Some(Err(error)) => (ModelCount::Known(0), "error", Vec::new(), Some(listing_error(provider, &error))),
    };
    ProviderItem {
        name: provider.id.clone(),
        display_name: provider.display_name.clone(),
        kind: "llm".into(),
        model_count,
        status: status.into(),
        models,
        error,
        id: provider.id.clone(),
        label: provider.display_name.clone(),
        provider: provider.id.clone(),
        plugin: provider.plugin.clone(),
        base_url: provider.base_url.clone(),
        configured: provider.configured,
    }
}

/// Model ids, deduplicated and sorted as the reference lists them.
fn model_ids(models: &[LlmModel]) -> Vec<String> {
    let ids: BTreeSet<&str> = models.iter().map(|m| m.id.trim()).filter(|id| !id.is_empty()).collect();
    ids.into_iter().map(str::to_owned).collect()
}

/// A listing failure as answers show it: naming the provider and its base URL (the plugin's
/// message usually does; otherwise they are added). Never a key: the host scrubs granted
/// secrets from plugin errors.
fn listing_error(provider: &LlmProvider, error: &str) -> String {
    let names_provider = error.contains(&provider.id);
    let names_base = provider.base_url.as_deref().is_none_or(|base| error.contains(base));
    match (&provider.base_url, names_provider && names_base) {
        (_, true) => error.to_owned(),
        (Some(base), false) => format!("provider '{}' ({base}): {error}", provider.id),
        (None, false) => format!("provider '{}' (no base URL): {error}", provider.id),
    }
}

/// What is missing from the default route, if anything.
fn default_route_error(defaults: &crate::LlmDefaultRoute) -> Option<String> {
    match (&defaults.provider, &defaults.model) {
        (Some(_), Some(_)) => None,
        (Some(provider), None) => Some(format!(
            "no default model is configured for provider '{provider}': set ABSTRACTGATEWAY_MODEL, or the \
             output.text route of ABSTRACTGATEWAY_CAPABILITY_DEFAULTS"
        )),
        (None, _) => Some(
            "no default LLM route is configured: set ABSTRACTGATEWAY_PROVIDER and ABSTRACTGATEWAY_MODEL, or the \
             output.text route of ABSTRACTGATEWAY_CAPABILITY_DEFAULTS"
                .into(),
        ),
    }
}

/// `GET /discovery/providers/{provider_name}/models`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelsView {
    pub provider: String,
    /// The model ids, deduplicated and sorted.
    pub models: Vec<String>,
    /// It listed at least one model.
    pub available: bool,
    /// Always true: the route can be answered.
    pub route_available: bool,
    /// `abstractgateway.llm_plugins`.
    pub source: String,
    /// Why the list is empty: an unknown provider (`Unknown provider: <id>`), or one that is
    /// not configured or cannot be reached (naming it and its base URL, never a key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The canonical items, in `models` order.
    pub items: Vec<ModelItem>,
    pub catalog: Catalog,
}

/// A model as the catalog lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelItem {
    pub id: String,
    pub label: String,
    pub provider: String,
    /// As the provider reports it, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owned_by: Option<String>,
    /// In tokens, when the provider reports it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub context_length: Option<u32>,
}

/// The models a provider lists, asked of the plugin serving it (one call to the provider).
/// Always 200: an unknown, unconfigured or unreachable provider answers an empty list with
/// `available: false` and the reason in `error`.
#[utoipa::path(
    get,
    path = "/discovery/providers/{provider_name}/models",
    tag = "discovery",
    summary = "Models an LLM provider lists",
    params(("provider_name" = String, Path, description = "A provider id, e.g. `lmstudio`")),
    responses((status = 200, description = "The models, or why there are none", body = ModelsView)),
)]
pub async fn provider_models(State(state): State<AppState>, Path(provider_name): Path<String>) -> Json<ModelsView> {
    let id = provider_name.trim().to_owned();
    let provider = state.plugins.llm_providers().into_iter().find(|p| p.id == id);
    let listing = match &provider {
        None => Err(format!("Unknown provider: {id}")),
        Some(p) => match spawn_listing(&state, id.clone()).await {
            Ok(Ok(models)) => Ok(models),
            Ok(Err(error)) => Err(listing_error(p, &error)),
            Err(error) => Err(listing_error(p, &format!("model listing failed: {error}"))),
        },
    };
    Json(models_view(&id, listing))
}

fn models_view(provider: &str, listing: Result<Vec<LlmModel>, String>) -> ModelsView {
    let (models, items, error) = match listing {
        Ok(models) => {
            let ids = model_ids(&models);
            let by_id: BTreeMap<&str, &LlmModel> = models.iter().map(|m| (m.id.trim(), m)).rev().collect();
            let items = ids
                .iter()
                .map(|id| ModelItem {
                    id: id.clone(),
                    label: id.clone(),
                    provider: provider.to_owned(),
                    owned_by: by_id.get(id.as_str()).and_then(|m| m.owned_by.clone()),
                    context_length: by_id.get(id.as_str()).and_then(|m| m.context_length),
                })
                .collect();
            (ids, items, None)
        }
        Err(error) => (Vec::new(), Vec::new(), Some(error)),
    };
    let available = !models.is_empty();
    let mut catalog = Catalog::new("models", available);
    catalog.provider = Some(provider.to_owned());
    catalog.error = error.clone();
    ModelsView {
        provider: provider.to_owned(),
        models,
        available,
        route_available: true,
        source: SOURCE.into(),
        error,
        items,
        catalog,
    }
}

/// A loaded plugin as discovery lists it.
fn loaded_entry(summary: &Value) -> LoadedPlugin {
    LoadedPlugin {
        name: summary["name"].clone(),
        version: summary["version"].clone(),
        sha256: summary["sha256"].clone(),
        worlds: summary["worlds"].clone(),
        provides: PluginProvides { node_types: node_types_of(summary).map(str::to_owned).collect() },
        signature: summary["signature"].clone(),
    }
}

fn node_types_of(summary: &Value) -> impl Iterator<Item = &str> {
    summary["nodes"].as_array().into_iter().flatten().filter_map(|n| n["node_type"].as_str())
}

/// Node types a flow can use: those exactly one loaded plugin provides. The host withholds
/// a type several plugins claim (and lists the conflict as a problem), so it is not counted.
fn usable_node_types(plugins: &[Value]) -> usize {
    let mut providers: BTreeMap<&str, usize> = BTreeMap::new();
    for node_type in plugins.iter().flat_map(node_types_of) {
        *providers.entry(node_type).or_default() += 1;
    }
    providers.values().filter(|&&n| n == 1).count()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::{LlmModel, LlmProvider, listing_error, models_view, usable_node_types};

    #[test]
    fn a_node_type_claimed_twice_is_not_usable() {
        let a = json!({"nodes": [{"node_type": "add"}, {"node_type": "concat"}]});
        let b = json!({"nodes": [{"node_type": "add"}]});
        assert_eq!(usable_node_types(&[a, b]), 1);
    }

    fn lmstudio(base_url: Option<&str>) -> LlmProvider {
        LlmProvider {
            plugin: "openai-compatible".into(),
            id: "lmstudio".into(),
            display_name: "LM Studio".into(),
            base_url: base_url.map(str::to_owned),
            configured: true,
        }
    }

    #[test]
    fn listing_errors_name_the_provider_and_its_base_url() {
        let p = lmstudio(Some("http://127.0.0.1:9/v1"));
        let full = "unavailable: provider 'lmstudio' (http://127.0.0.1:9/v1) cannot be reached: refused";
        assert_eq!(listing_error(&p, full), full);
        assert_eq!(listing_error(&p, "refused"), "provider 'lmstudio' (http://127.0.0.1:9/v1): refused");
        assert_eq!(listing_error(&lmstudio(None), "no URL"), "provider 'lmstudio' (no base URL): no URL");
    }

    #[test]
    fn models_are_deduplicated_and_sorted_with_their_details() {
        let model = |id: &str, owner: Option<&str>| LlmModel {
            id: id.into(),
            owned_by: owner.map(str::to_owned),
            context_length: None,
        };
        let view = models_view(
            "lmstudio",
            Ok(vec![model("b", None), model("a", Some("me")), model("b", None), model(" ", None)]),
        );
        assert_eq!(view.models, ["a", "b"]);
        let items = serde_json::to_value(&view.items).expect("json");
        assert_eq!(
            items,
            json!([{"id": "a", "label": "a", "provider": "lmstudio", "owned_by": "me"},
                   {"id": "b", "label": "b", "provider": "lmstudio"}])
        );
        assert!(view.available && view.error.is_none());
        let view = serde_json::to_value(models_view("nope", Err("Unknown provider: nope".into()))).expect("json");
        assert_eq!(view["available"], false);
        assert_eq!(view["catalog"]["error"], "Unknown provider: nope");
        assert_eq!(view["catalog"]["contract"], "gateway_catalog_v1");
    }
}
