//! The AbstractGateway plugin SDK.
//!
//! A plugin is a WASI preview 2 component built with
//! `cargo build --release --target wasm32-wasip2`; the gateway loads it from its plugins
//! directory and runs it in a sandbox. This crate hides the generated WIT bindings: implement
//! [`NodePlugin`] for a type and export it with [`export_node_executor!`] (a node plugin), or
//! [`llm::LlmProvider`] and [`export_llm_provider!`] (an LLM provider adapter).
//!
//! ```ignore
//! use abstractgateway_sdk::prelude::*;
//!
//! struct Greeter;
//!
//! impl NodePlugin for Greeter {
//!     fn describe() -> PluginInfo {
//!         PluginInfo::new("greeter", env!("CARGO_PKG_VERSION")).config_key("greeting")
//!     }
//!     fn nodes() -> Vec<NodeSpec> {
//!         vec![NodeSpec::pure("greet", "text").input("name", "string").output("result", "string")]
//!     }
//!     fn execute(call: NodeCall<'_>) -> Result<Value, NodeError> {
//!         let greeting = config::get("greeting").unwrap_or_else(|| "Hello".into());
//!         Ok(json!({ "result": format!("{greeting}, {}!", call.str("name")?) }))
//!     }
//! }
//!
//! export_node_executor!(Greeter);
//! ```
//!
//! What else a plugin can use, each only as far as the operator grants it:
//! - [`config`]: operator configuration and [`Secret`]s,
//! - [`http`]: a blocking HTTP client over `wasi:http`,
//! - [`workspace`]: the run's files under `/workspace`,
//! - [`log`]: the gateway's log,
//! - [`llm`]: the records, errors, endpoint helpers and streaming of LLM provider plugins,
//! - [`sse`]: an incremental parser for server-sent events.
//!
//! `docs/plugin-authoring.md` in the gateway's repository walks through writing, building,
//! granting and shipping a plugin.

#![warn(missing_docs)]

mod call;
pub mod config;
mod error;
pub mod http;
mod info;
pub mod llm;
pub mod log;
mod node;
pub mod sse;
pub mod workspace;

pub use call::{NodeCall, Outputs};
pub use config::Secret;
pub use error::NodeError;
pub use info::{NodeSpec, PluginInfo, Workspace};
pub use node::NodePlugin;
pub use serde_json::{self, Map, Value, json};

/// The SDK version reported by `describe()`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything a plugin usually needs: `use abstractgateway_sdk::prelude::*;`.
///
/// It brings the modules [`config`], [`http`], [`llm`], [`log`] and [`workspace`] into scope by
/// name (an LLM provider also imports `abstractgateway_sdk::llm::*` for the records). A
/// plugin that also depends on the `http` or `log` crates should import what it needs by path
/// instead (`use abstractgateway_sdk::{NodePlugin, ...}`), or the names are ambiguous.
pub mod prelude {
    pub use crate::{
        Map, NodeCall, NodeError, NodePlugin, NodeSpec, Outputs, PluginInfo, Secret, Value, Workspace, config,
        export_llm_provider, export_node_executor, http, json, llm, log, workspace,
    };
}

/// Generated bindings for the gateway's WIT package. Plugin code should not need these
/// directly; they are public so the export macros can reach them.
#[doc(hidden)]
#[allow(missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "node-executor",
        pub_export_macro: true,
        export_macro_name: "__export_node_executor_world",
        default_bindings_module: "abstractgateway_sdk::bindings",
    });
}

/// Generated bindings for the `llm-provider` world, from their own crate: both worlds export
/// `plugin`, and two `generate!` calls in one crate would define the same exported macro.
#[doc(hidden)]
pub use abstractgateway_sdk_llm_bindings as llm_bindings;

/// Exports a type implementing [`NodePlugin`] as the component's `node-executor` world.
/// Call it once, at the top level of the plugin crate, with a plain type name.
#[macro_export]
macro_rules! export_node_executor {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __AgwNodeExecutor;

        impl $crate::bindings::exports::abstractgateway::plugin::plugin::Guest for __AgwNodeExecutor {
            fn describe() -> $crate::bindings::abstractgateway::plugin::types::PluginInfo {
                $crate::__private::describe::<$plugin>()
            }
        }

        impl $crate::bindings::exports::abstractgateway::plugin::nodes::Guest for __AgwNodeExecutor {
            fn list_nodes() -> Vec<$crate::bindings::exports::abstractgateway::plugin::nodes::NodeSpec> {
                $crate::__private::list_nodes::<$plugin>()
            }
            fn execute(
                node_type: String,
                config: String,
                inputs: String,
                ctx: $crate::bindings::exports::abstractgateway::plugin::nodes::NodeContext,
            ) -> Result<String, $crate::bindings::exports::abstractgateway::plugin::nodes::NodeError> {
                $crate::__private::execute::<$plugin>(&node_type, &config, &inputs, ctx)
            }
        }

        $crate::bindings::__export_node_executor_world!(__AgwNodeExecutor);
    };
}

/// Exports a type implementing [`llm::LlmProvider`] as the component's `llm-provider` world.
/// Call it once, at the top level of the plugin crate, with a plain type name. A component
/// exports one world of the SDK: this macro or [`export_node_executor!`], not both.
#[macro_export]
macro_rules! export_llm_provider {
    ($plugin:ty) => {
        #[doc(hidden)]
        pub struct __AgwLlmProvider;

        impl $crate::llm_bindings::exports::abstractgateway::plugin::plugin::Guest for __AgwLlmProvider {
            fn describe() -> $crate::llm_bindings::abstractgateway::plugin::types::PluginInfo {
                $crate::llm::glue::describe::<$plugin>()
            }
        }

        impl $crate::llm_bindings::exports::abstractgateway::plugin::llm::Guest for __AgwLlmProvider {
            fn providers() -> Vec<$crate::llm::ProviderInfo> {
                $crate::llm::glue::providers::<$plugin>()
            }
            fn list_models(provider: String) -> Result<Vec<$crate::llm::ModelInfo>, $crate::llm::LlmError> {
                $crate::llm::glue::list_models::<$plugin>(&provider)
            }
            fn chat(request: $crate::llm::ChatRequest) -> Result<$crate::llm::ChatResponse, $crate::llm::LlmError> {
                $crate::llm::glue::chat::<$plugin>(request)
            }
        }

        $crate::llm_bindings::__export_llm_provider_world!(__AgwLlmProvider);
    };
}

#[doc(hidden)]
#[allow(missing_docs)]
pub mod __private {
    pub use crate::node::glue::{describe, execute, list_nodes};
}
