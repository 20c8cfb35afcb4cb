//! The engine's pure readers of run variables besides `get_var`: `get_vars`, `get_context`,
//! `bool_var` and `var_decl`, with the reference's outputs and fallbacks. Each reads the
//! variables as they are when it is read. Also the run variables `string_template` reads.

use serde_json::{Map, Value, json};

use super::compile::{CNode, VarRead};
use super::value::{get_path, py_str, truthy};

/// The outputs of `read` on `node` over the run's variables.
pub(super) fn read(read: VarRead, node: &CNode, vars: &Map<String, Value>) -> Map<String, Value> {
    let outputs = match read {
        // One output per declared data output, its id the variable's path; unset reads null.
        VarRead::Vars => {
            return node
                .data_outputs
                .iter()
                .map(|name| (name.clone(), get_path(vars, name).cloned().unwrap_or(Value::Null)))
                .collect();
        }
        VarRead::Context => {
            let context = vars.get("context").and_then(Value::as_object).cloned().unwrap_or_default();
            let task = match context.get("task") {
                Some(Value::String(task)) => task.clone(),
                Some(other) if truthy(other) => py_str(other),
                _ => String::new(),
            };
            let messages = match context.get("messages") {
                Some(Value::Array(items)) => items.clone(),
                None | Some(Value::Null) => Vec::new(),
                Some(other) => vec![other.clone()],
            };
            json!({ "context": context, "task": task, "messages": messages })
        }
        VarRead::Bool => {
            let (name, default) = match node.data.get("literalValue") {
                Some(Value::String(name)) => (name.trim().to_owned(), false),
                Some(Value::Object(config)) => (
                    config.get("name").and_then(Value::as_str).map(str::trim).unwrap_or_default().to_owned(),
                    config.get("default").and_then(Value::as_bool).unwrap_or(false),
                ),
                _ => (String::new(), false),
            };
            let value = get_path(vars, &name).filter(|_| !name.is_empty()).and_then(Value::as_bool);
            json!({ "name": name, "value": value.unwrap_or(default) })
        }
        VarRead::Decl => {
            let config = node.data.get("literalValue").and_then(Value::as_object);
            let text = |key: &str| config.and_then(|c| c.get(key)).and_then(Value::as_str).map(str::trim);
            let name = text("name").unwrap_or_default().to_owned();
            const TYPES: [&str; 5] = ["boolean", "number", "string", "object", "array"];
            let kind = text("type").filter(|kind| TYPES.contains(kind)).unwrap_or("any");
            let default = config.and_then(|c| c.get("default")).cloned().unwrap_or(Value::Null);
            let fallback = || if matches(kind, &default) { default.clone() } else { zero(kind) };
            let value = if name.is_empty() {
                fallback()
            } else {
                // A missing variable reads as null, which an `any` declaration accepts.
                let raw = get_path(vars, &name).cloned().unwrap_or(Value::Null);
                if matches(kind, &raw) { raw } else { fallback() }
            };
            json!({ "name": name, "value": value })
        }
    };
    match outputs {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// What a plugin node is called with: its inputs, and for `string_template` the run's
/// variables too (`_run_vars`, read after its pins and `vars`), as the reference's executor
/// gives them.
pub(super) fn plugin_inputs(
    node: &CNode,
    mut inputs: Map<String, Value>,
    vars: &Map<String, Value>,
) -> Map<String, Value> {
    if node.node_type == "string_template" {
        let visible = vars.iter().filter(|(k, _)| !k.starts_with('_')).map(|(k, v)| (k.clone(), v.clone()));
        inputs.insert("_run_vars".into(), Value::Object(visible.collect()));
    }
    inputs
}

/// Whether `value` has the declared type.
fn matches(kind: &str, value: &Value) -> bool {
    match kind {
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "string" => value.is_string(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => true,
    }
}

/// The empty value of a declared type.
fn zero(kind: &str) -> Value {
    match kind {
        "boolean" => json!(false),
        "number" => json!(0),
        "string" => json!(""),
        "array" => json!([]),
        "object" => json!({}),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(node_type: &str, data: Value, outputs: &[&str]) -> CNode {
        CNode {
            id: "n".into(),
            node_type: node_type.into(),
            kind: super::super::NodeKind::builtin(node_type).expect("builtin"),
            data: data.as_object().cloned().unwrap_or_default(),
            pin_defaults: Map::new(),
            data_inputs: Vec::new(),
            input_kinds: Default::default(),
            data_outputs: outputs.iter().map(|s| (*s).to_owned()).collect(),
            exec_outputs: Vec::new(),
        }
    }

    fn vars() -> Map<String, Value> {
        json!({"flag": true, "n": 3, "user": {"name": "ada", "tags": ["x", "y"]}, "off": null,
               "context": {"task": 7, "messages": {"role": "user"}}})
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    fn run(node_type: &str, data: Value, outputs: &[&str], vars: &Map<String, Value>) -> Value {
        let node = node(node_type, data, outputs);
        let super::super::NodeKind::VarRead(kind) = node.kind else { panic!("{node_type} is not a var read") };
        Value::Object(read(kind, &node, vars))
    }

    #[test]
    fn get_vars_has_one_output_per_path_and_null_for_unset() {
        let out = run("get_vars", json!({}), &["user.name", "user.tags.1", "nope", "off"], &vars());
        assert_eq!(out, json!({"user.name": "ada", "user.tags.1": "y", "nope": null, "off": null}));
    }

    #[test]
    fn get_context_coerces_task_and_messages_as_the_reference() {
        assert_eq!(
            run("get_context", json!({}), &[], &vars()),
            json!({"context": {"task": 7, "messages": {"role": "user"}}, "task": "7", "messages": [{"role": "user"}]})
        );
        assert_eq!(run("get_context", json!({}), &[], &Map::new()), json!({"context": {}, "task": "", "messages": []}));
        let falsy = json!({"context": {"task": 0, "messages": null}}).as_object().cloned().unwrap_or_default();
        assert_eq!(run("get_context", json!({}), &[], &falsy)["task"], "");
    }

    #[test]
    fn bool_var_reads_only_booleans_else_its_default() {
        let vars = vars();
        assert_eq!(
            run("bool_var", json!({"literalValue": " flag "}), &[], &vars),
            json!({"name": "flag", "value": true})
        );
        let config = json!({"literalValue": {"name": "n", "default": true}});
        assert_eq!(run("bool_var", config, &[], &vars), json!({"name": "n", "value": true}), "3 is not a boolean");
        assert_eq!(run("bool_var", json!({"literalValue": "missing"}), &[], &vars)["value"], false);
        assert_eq!(run("bool_var", json!({}), &[], &vars), json!({"name": "", "value": false}));
    }

    #[test]
    fn var_decl_returns_a_value_of_its_type_or_the_default_or_zero() {
        let vars = vars();
        let decl = |config: Value| run("var_decl", json!({ "literalValue": config }), &[], &vars)["value"].clone();
        assert_eq!(decl(json!({"name": "n", "type": "number", "default": 9})), json!(3));
        assert_eq!(decl(json!({"name": "flag", "type": "number", "default": 9})), json!(9), "true is not a number");
        assert_eq!(decl(json!({"name": "flag", "type": "number", "default": "x"})), json!(0), "a bad default");
        assert_eq!(decl(json!({"name": "user", "type": "object"})), json!({"name": "ada", "tags": ["x", "y"]}));
        assert_eq!(decl(json!({"name": "missing", "type": "array"})), json!([]));
        assert_eq!(decl(json!({"name": "missing", "type": "any", "default": 5})), Value::Null, "any accepts null");
        assert_eq!(
            decl(json!({"name": "missing", "type": "weird", "default": 5})),
            Value::Null,
            "unknown types are any"
        );
        assert_eq!(decl(json!({"type": "string", "default": "d"})), json!("d"), "no name: the default");
    }
}
