//! The engine's writers of run state besides `set_var`: `set_vars`, `set_var_property`,
//! `add_to_list` and an `add_message` wired into the execution chain (which appends to the
//! run's `context.messages`; without execution pins `add_message` is std-nodes' pure
//! message builder). As in the reference they never change the ambient (`_last_output`):
//! their outputs are reachable through edges only.

use serde_json::{Map, Value, json};

use super::compile::CNode;
use super::exec::{Interp, Result, Step, failure, obj};
use super::value::{py_str, truthy};

/// Which writer a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarWrite {
    /// `set_vars`: an `updates` object plus one pin per variable.
    SetVars,
    /// `set_var_property`: one key of an object variable.
    SetVarProperty,
    /// `add_to_list`: `item` and/or `items` appended to a list variable.
    AddToList,
    /// `add_message` with execution pins: a message appended to `context.messages`.
    AddMessage,
}

impl VarWrite {
    pub(super) const ADD_MESSAGE: super::compile::NodeKind = super::compile::NodeKind::VarWrite(Self::AddMessage);

    pub fn builtin(node_type: &str) -> Option<Self> {
        Some(match node_type {
            "set_vars" => Self::SetVars,
            "set_var_property" => Self::SetVarProperty,
            "add_to_list" => Self::AddToList,
            "add_message" => Self::AddMessage,
            _ => return None,
        })
    }
}

impl Interp<'_> {
    pub(super) fn var_write(&mut self, node: &CNode, write: VarWrite) -> Result<Step> {
        let outputs = match write {
            VarWrite::SetVars => self.set_vars(node)?,
            VarWrite::SetVarProperty => self.set_var_property(node)?,
            VarWrite::AddToList => self.add_to_list(node)?,
            VarWrite::AddMessage => self.add_message(node)?,
        };
        self.exec().outputs.insert(node.id.clone(), Value::Object(outputs));
        self.follow(node, "exec-out")
    }

    /// The inputs of a node that reads only its own pins (never the ambient): each declared
    /// data input that is wired or has a default, in declaration order.
    pub(super) fn own_inputs(&mut self, node: &CNode) -> Result<Map<String, Value>> {
        let mut own = Map::new();
        for pin in &node.data_inputs {
            let wired = self.flow.source_of(&node.id, pin).is_some();
            if (wired || node.pin_defaults.contains_key(pin))
                && let Some(value) = self.input(node, pin)?
            {
                own.insert(pin.clone(), value);
            }
        }
        Ok(own)
    }

    fn set_vars(&mut self, node: &CNode) -> Result<Map<String, Value>> {
        let mut own = self.own_inputs(node)?;
        let mut updates = match own.remove("updates") {
            Some(Value::Object(map)) => map,
            Some(Value::String(text)) if !text.trim().is_empty() => match serde_json::from_str(&text) {
                Ok(Value::Object(map)) => map,
                _ => Map::new(),
            },
            _ => Map::new(),
        };
        // One pin per variable (the editor's rows); they win over `updates`.
        updates.extend(own);
        let mut normalized = Map::new();
        for (key, value) in updates {
            let name = key.trim();
            if name.is_empty() {
                return Err(failure(node, "Set Variables requires non-empty variable names in updates."));
            }
            if name.starts_with('_') {
                return Err(failure(node, reserved(name)));
            }
            normalized.insert(name.to_owned(), value);
        }
        for (name, value) in &normalized {
            set_by_path(&mut self.exec().vars, name, value.clone())
                .map_err(|e| failure(node, format!("Failed to set variables: {e}")))?;
        }
        Ok(obj(json!({ "updates": normalized })))
    }

    fn set_var_property(&mut self, node: &CNode) -> Result<Map<String, Value>> {
        let name = self.exec_input(node, "name")?.map(|v| name_text(&v)).unwrap_or_default();
        if name.is_empty() {
            return Err(failure(node, "Set Variable Property requires a non-empty variable name."));
        }
        if name.starts_with('_') {
            return Err(failure(node, reserved(&name)));
        }
        let key = self.exec_input(node, "key")?.map(|v| name_text(&v)).unwrap_or_default();
        if key.is_empty() {
            return Err(failure(node, "Set Variable Property requires a non-empty key."));
        }
        let value = self.exec_input(node, "value")?.unwrap_or(Value::Null);
        let vars = &mut self.exec().vars;
        let mut base = match get_by_path(vars, &name) {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        // A key of only dots names nothing: the object is written back unchanged.
        let _ = set_by_path(&mut base, &key, value);
        set_by_path(vars, &name, Value::Object(base.clone()))
            .map_err(|e| failure(node, format!("Failed to set variable property '{name}.{key}': {e}")))?;
        Ok(obj(json!({ "value": base })))
    }

    fn add_to_list(&mut self, node: &CNode) -> Result<Map<String, Value>> {
        let own = self.own_inputs(node)?;
        let name = own.get("name").map(name_text).unwrap_or_default();
        if name.is_empty() {
            return Err(failure(node, "Add to List Variable requires a variable name."));
        }
        if name.starts_with('_') {
            return Err(failure(node, reserved(&name)));
        }
        let items = match own.get("items") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(other) => {
                let kind = py_type(other);
                return Err(failure(node, format!("Add to List Variable '{name}': items must be a list, got {kind}.")));
            }
        };
        let vars = &mut self.exec().vars;
        let mut list = match get_by_path(vars, &name) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list.clone(),
            Some(other) => {
                let kind = py_type(other);
                return Err(failure(node, format!("Add to List Variable: '{name}' holds a {kind}, not a list.")));
            }
        };
        if let Some(item) = own.get("item").filter(|v| !v.is_null()) {
            list.push(item.clone());
        }
        list.extend(items);
        set_by_path(vars, &name, Value::Array(list.clone()))
            .map_err(|e| failure(node, format!("Failed to set variable '{name}': {e}")))?;
        Ok(obj(json!({ "list": list })))
    }

    fn add_message(&mut self, node: &CNode) -> Result<Map<String, Value>> {
        let role = match self.exec_input(node, "role")? {
            None | Some(Value::Null) => "user".to_owned(),
            Some(value) => py_str(&value),
        };
        let content = match self.exec_input(node, "content")? {
            None | Some(Value::Null) => String::new(),
            Some(value) => py_str(&value),
        };
        let id = self.env.new_id().replace('-', "");
        let message = json!({
            "role": role,
            "content": content,
            "timestamp": self.env.now_iso(),
            "metadata": { "message_id": format!("msg_{id}") },
        });
        let vars = &mut self.exec().vars;
        if !vars.get("context").is_some_and(Value::is_object) {
            vars.insert("context".into(), json!({}));
        }
        let Some(Value::Object(context)) = vars.get_mut("context") else { return Ok(Map::new()) };
        if !context.get("messages").is_some_and(Value::is_array) {
            context.insert("messages".into(), json!([]));
        }
        if let Some(Value::Array(messages)) = context.get_mut("messages") {
            messages.push(message.clone());
        }
        let task = match context.get("task") {
            Some(Value::String(task)) => task.clone(),
            Some(other) if truthy(other) => py_str(other),
            _ => String::new(),
        };
        let messages = context.get("messages").cloned().unwrap_or_else(|| json!([]));
        Ok(obj(json!({ "message": message, "context": context.clone(), "task": task, "messages": messages })))
    }
}

/// The run output of a flow whose chain ends at a writer, as the reference builds it.
pub(super) fn end_output(write: VarWrite, outputs: Option<&Value>, ambient: Map<String, Value>) -> Map<String, Value> {
    let field = |key: &str| outputs.and_then(|o| o.get(key)).cloned().unwrap_or(Value::Null);
    let result = Value::Object(ambient);
    match write {
        VarWrite::SetVars => obj(json!({ "success": true, "updates": field("updates"), "result": result })),
        VarWrite::SetVarProperty => obj(json!({ "success": true, "value": field("value"), "result": result })),
        VarWrite::AddToList => obj(json!({ "success": true, "result": result })),
        VarWrite::AddMessage => obj(json!({ "success": true, "message": field("message") })),
    }
}

fn reserved(name: &str) -> String {
    format!("Invalid variable name '{name}': names starting with '_' are reserved.")
}

/// A name as the reference reads it: a string as is, a falsy value as "", else `str()`;
/// then stripped.
fn name_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.trim().to_owned(),
        other if truthy(other) => py_str(other).trim().to_owned(),
        _ => String::new(),
    }
}

/// Python's type name of a JSON value.
pub(super) fn py_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "NoneType",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float",
        Value::Number(_) => "int",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

/// The reference's dotted read of run variables: through objects only, empty parts skipped.
fn get_by_path<'v>(root: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut parts = path.split('.').filter(|p| !p.is_empty());
    let mut current = root.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}

/// The reference's dotted write: empty parts skipped, intermediate non-objects replaced by
/// `{}`; a path with no part is refused.
pub(super) fn set_by_path(
    root: &mut Map<String, Value>,
    path: &str,
    value: Value,
) -> std::result::Result<(), &'static str> {
    let mut parts: Vec<&str> = path.split('.').filter(|p| !p.is_empty()).collect();
    let Some(last) = parts.pop() else { return Err("Variable name must be non-empty") };
    let mut current = root;
    for part in parts {
        let slot = current.entry(part.to_owned()).or_insert_with(|| Value::Object(Map::new()));
        if !slot.is_object() {
            *slot = Value::Object(Map::new());
        }
        let Value::Object(next) = slot else { return Ok(()) };
        current = next;
    }
    current.insert(last.to_owned(), value);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_paths_skip_empty_parts_and_read_objects_only() {
        let mut vars = Map::new();
        assert_eq!(set_by_path(&mut vars, "a..b.", json!(1)), Ok(()));
        assert_eq!(Value::Object(vars.clone()), json!({"a": {"b": 1}}));
        assert_eq!(set_by_path(&mut vars, "..", json!(1)), Err("Variable name must be non-empty"));
        vars.insert("list".into(), json!([{"x": 1}]));
        assert_eq!(get_by_path(&vars, "list.0.x"), None, "lists are not indexed");
        assert_eq!(get_by_path(&vars, ".a.b"), Some(&json!(1)));
    }

    #[test]
    fn names_are_read_like_python_str() {
        assert_eq!(name_text(&json!(" x ")), "x");
        assert_eq!(name_text(&json!(0)), "");
        assert_eq!(name_text(&json!(false)), "");
        assert_eq!(name_text(&json!(5)), "5");
        assert_eq!(name_text(&json!(true)), "True");
    }
}
