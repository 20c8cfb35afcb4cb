//! Test-only: one node per capability, so the host's tests can check what a plugin can and
//! cannot reach. Paths are used exactly as given (no SDK checks), so the tests exercise the
//! sandbox itself; failures carry the underlying error text.

use abstractgateway_sdk::prelude::*;

struct Sandbox;

impl NodePlugin for Sandbox {
    fn describe() -> PluginInfo {
        PluginInfo::new("test-sandbox", env!("CARGO_PKG_VERSION"))
            .description("Test-only: exercises workspace, HTTP, config and secrets")
            .workspace(Workspace::ReadWrite)
            .outbound_host("*", &["GET", "POST"])
            .config_key("greeting")
            .secret("api_key")
    }

    fn nodes() -> Vec<NodeSpec> {
        let node = |node_type: &str| NodeSpec::effectful(node_type, "test");
        vec![
            node("test_fs_read").input("path", "string").output("result", "string"),
            node("test_fs_write").input("path", "string").input("text", "string").output("result", "boolean"),
            node("test_fs_list").input("path", "string").output("result", "array"),
            node("test_http")
                .input("method", "string")
                .input("url", "string")
                .input("body", "string")
                .output("status", "number")
                .output("body", "string"),
            node("test_config").input("key", "string").output("result", "string"),
            node("test_secret").input("key", "string").output("result", "string"),
            node("test_log_secret").input("key", "string").output("result", "string"),
        ]
    }

    fn execute(call: NodeCall<'_>) -> Result<Value, NodeError> {
        match call.node_type {
            "test_fs_read" => {
                let path = call.str("path")?;
                let text = std::fs::read_to_string(path).map_err(|e| fail("read", path, e))?;
                Ok(Outputs::result(text).into())
            }
            "test_fs_write" => {
                let path = call.str("path")?;
                std::fs::write(path, call.str("text")?).map_err(|e| fail("write", path, e))?;
                Ok(Outputs::result(true).into())
            }
            "test_fs_list" => {
                let path = call.str("path")?;
                let mut names = Vec::new();
                for entry in std::fs::read_dir(path).map_err(|e| fail("list", path, e))? {
                    let entry = entry.map_err(|e| fail("list", path, e))?;
                    names.push(entry.file_name().to_string_lossy().into_owned());
                }
                names.sort();
                Ok(Outputs::result(names).into())
            }
            "test_http" => {
                let mut request = http::request(call.str("method")?, call.str("url")?);
                if let Some(body) = call.input::<Option<String>>("body")? {
                    request = request.body(body);
                }
                let response = request.send().map_err(|e| NodeError::failed(format!("HTTP request failed: {e}")))?;
                Ok(Outputs::new().set("status", response.status).set("body", response.text()).into())
            }
            "test_config" => Ok(Outputs::result(config::get(call.str("key")?)).into()),
            "test_secret" => {
                // Exposed on purpose: the host's tests check that it is scrubbed downstream.
                let secret = config::secret(call.str("key")?);
                Ok(Outputs::result(secret.as_ref().map(|s| s.expose().to_owned())).into())
            }
            "test_log_secret" => {
                let key = call.str("key")?;
                let secret =
                    config::secret(key).ok_or_else(|| NodeError::failed(format!("secret '{key}' is not set")))?;
                log::info(&format!("the secret {key} is {}", secret.expose()));
                Ok(Outputs::result("logged").into())
            }
            other => Err(NodeError::unknown_node(other)),
        }
    }
}

fn fail(op: &str, path: &str, error: std::io::Error) -> NodeError {
    NodeError::failed(format!("cannot {op} {path}: {error}"))
}

export_node_executor!(Sandbox);
