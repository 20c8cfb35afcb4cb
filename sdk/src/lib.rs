//! The AbstractGateway plugin SDK.
//!
//! A plugin is a WASI preview 2 component built with
//! `cargo build --target wasm32-wasip2 --release`. This crate hides the generated WIT bindings:
//! implement [`NodePlugin`] for a type and export it with [`export_node_executor!`].
//!
//! ```ignore
//! use abstractgateway_sdk::prelude::*;
//!
//! struct Greeter;
//!
//! impl NodePlugin for Greeter {
//!     fn describe() -> PluginInfo { PluginInfo::new("greeter", env!("CARGO_PKG_VERSION")) }
//!     fn nodes() -> Vec<NodeSpec> {
//!         vec![NodeSpec::pure("greet", "string").input("name", "string").output("result", "string")]
//!     }
//!     fn execute(call: NodeCall<'_>) -> Result<Value, NodeError> {
//!         Ok(json!({ "result": format!("Hello {}!", call.str("name")?) }))
//!     }
//! }
//!
//! export_node_executor!(Greeter);
//! ```

mod node;

pub use node::{NodeCall, NodeError, NodePlugin, NodeSpec, PluginInfo};
pub use serde_json::{self, Map, Value, json};

/// The SDK version reported by `describe()`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Everything a plugin usually needs.
pub mod prelude {
    pub use crate::{
        Map, NodeCall, NodeError, NodePlugin, NodeSpec, PluginInfo, Value, export_node_executor, json, log,
    };
}

/// Generated bindings for the gateway's WIT package. Plugin code should not need these
/// directly; they are public so the export macros can reach them.
#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "node-executor",
        pub_export_macro: true,
        export_macro_name: "__export_node_executor_world",
        default_bindings_module: "abstractgateway_sdk::bindings",
    });
}

/// Logging through the host, attributed to this plugin and the current run.
pub mod log {
    use crate::bindings::abstractgateway::plugin::host::{self, LogLevel};

    /// Logs at info level.
    pub fn info(message: &str) {
        host::log(LogLevel::Info, message);
    }
    /// Logs at warn level.
    pub fn warn(message: &str) {
        host::log(LogLevel::Warn, message);
    }
    /// Logs at error level.
    pub fn error(message: &str) {
        host::log(LogLevel::Error, message);
    }
    /// Logs at debug level.
    pub fn debug(message: &str) {
        host::log(LogLevel::Debug, message);
    }
}

/// Exports a type implementing [`NodePlugin`] as the component's `node-executor` world.
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

#[doc(hidden)]
pub mod __private {
    pub use crate::node::glue::{describe, execute, list_nodes};
}
