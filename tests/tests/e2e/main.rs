//! The end-to-end tests, one binary (each test binary links the whole gateway and wasmtime
//! again): the gateway as the binary wires it, on port 0, with real plugins.

mod common;

mod commands;
mod flow_cases;
mod hostile_bundles;
mod http_contract;
mod ledger_shapes;
mod llm_calls;
mod llm_guide;
mod openapi;
mod openapi_shapes;
mod plugin_steps;
mod plugin_views;
mod restart;
mod run_views;
mod sandbox;
mod schedules;
mod security;
mod sse_cap;
mod store_backends;
mod subflows;
mod uploads;
mod upstream_bundles;
