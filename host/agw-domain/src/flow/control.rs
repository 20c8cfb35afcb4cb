//! Control nodes besides the loops: `loop_limit` (a counter on an execution path),
//! `join_exec` (execution fan-in that says which way came in), the trigger nodes
//! `on_user_request` and `on_agent_message`, and the execution wire taken last (which a
//! `join_exec` reads).

use serde_json::{Map, Value, json};

use super::compile::CNode;
use super::exec::{Frame, Interp, Result, Step, failure, obj};
use super::lower::JOIN_ROUTES;

/// An entry node that reads its event from the run's input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// `on_user_request`: `message` and `context`.
    UserRequest,
    /// `on_agent_message`: `sender`, `message` and the configured `channel`.
    AgentMessage,
}

impl Trigger {
    pub fn builtin(node_type: &str) -> Option<Self> {
        match node_type {
            "on_user_request" => Some(Self::UserRequest),
            "on_agent_message" => Some(Self::AgentMessage),
            _ => None,
        }
    }
}

/// The last execution wire taken: `(node, handle)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct CameFrom(pub String, pub String);

impl Interp<'_> {
    /// Moves the cursor along `node`'s `handle` wire, remembering the wire (a `join_exec`
    /// reads it). Whether the wire exists.
    pub(super) fn take(&mut self, node: &CNode, handle: &str) -> bool {
        let next = self.flow.next(&node.id, handle).map(|n| n.id.clone());
        let taken = next.is_some();
        if taken {
            self.exec().came_from = Some(CameFrom(node.id.clone(), handle.to_owned()));
        }
        self.exec().cursor = next;
        taken
    }

    pub(super) fn trigger(&mut self, node: &CNode, trigger: Trigger) -> Result<Step> {
        // The event is the previous step's output, or the run's variables (its input) when
        // nothing ran before; wired pins and defaults are laid over it.
        let mut event = match self.exec().ambient.is_empty() {
            true => self.exec().vars.clone(),
            false => self.exec().ambient.clone(),
        };
        for (pin, value) in &node.pin_defaults {
            if node.data_inputs.contains(pin) || !event.contains_key(pin) {
                event.insert(pin.clone(), value.clone());
            }
        }
        for pin in self.flow.connected_inputs(&node.id) {
            if let Some(value) = self.input(node, pin)? {
                event.insert(pin.to_owned(), value);
            }
        }
        let take = |key: &str, default: Value| event.get(key).cloned().unwrap_or(default);
        let outputs = match trigger {
            Trigger::UserRequest => {
                json!({ "message": take("message", json!("")), "context": take("context", json!({})) })
            }
            Trigger::AgentMessage => {
                let config = node.data.get("eventConfig").and_then(Value::as_object);
                let channel = config.and_then(|c| c.get("channel")).cloned().unwrap_or_else(|| json!(""));
                json!({ "sender": take("sender", json!("unknown")), "message": take("message", json!("")), "channel": channel })
            }
        };
        self.produce(node, obj(outputs));
        self.follow(node, "exec-out")
    }

    /// `loop_limit`: lets execution through `again` at most `max` times (default 3), then once
    /// through `limit_reached`, and starts counting again. The count belongs to the current
    /// iteration of every enclosing `for`/`while`/`loop` (each new item and each new entry of
    /// such a loop starts at 0); with no enclosing loop, to the run.
    pub(super) fn loop_limit(&mut self, node: &CNode) -> Result<Step> {
        let own = self.own_inputs(node)?;
        let limit = match own.get("max") {
            None => 3,
            Some(raw) => whole_number(raw).ok_or_else(|| {
                failure(node, format!("Loop Limit: max must be a whole number, got {}", py_repr(raw)))
            })?,
        }
        .max(0);
        let scope = self.limit_scope();
        let state = self.exec().loop_limits.get(&node.id);
        let count = match state {
            Some(state) if state.get("scope").and_then(Value::as_str) == Some(scope.as_str()) => {
                state.get("count").and_then(Value::as_i64).unwrap_or(0)
            }
            _ => 0,
        };
        let (branch, count, kept) =
            if count < limit { ("again", count + 1, count + 1) } else { ("limit_reached", limit, 0) };
        self.exec().loop_limits.insert(node.id.clone(), json!({ "scope": scope, "count": kept }));
        self.produce(node, obj(json!({ "branch": branch, "count": count })));
        self.follow(node, branch)
    }

    /// Identifies the current iteration of every enclosing loop.
    fn limit_scope(&mut self) -> String {
        let parts: Vec<String> = self
            .exec()
            .frames
            .iter()
            .filter_map(|frame| match frame {
                Frame::For { node, entry, index, .. }
                | Frame::While { node, entry, index }
                | Frame::Loop { node, entry, index, .. } => Some(format!("{node}:{entry}:{index}")),
                _ => None,
            })
            .collect();
        parts.join("/")
    }

    /// `join_exec`: passes control on and outputs which of its routes came in (`which`, its
    /// index; `from`, the node; `from_handle`, the wire's handle). Its output never becomes
    /// the ambient.
    pub(super) fn join_exec(&mut self, node: &CNode) -> Result<Step> {
        let no_routes = Vec::new();
        let routes = match node.data.get(JOIN_ROUTES) {
            Some(Value::Array(routes)) => routes,
            _ => &no_routes,
        };
        let came = self.exec().came_from.clone();
        let mut which = 0;
        let mut from = Value::Null;
        let mut outputs = Map::new();
        if let Some(CameFrom(prev, handle)) = came {
            let exact = routes.iter().position(|r| route(r) == Some((prev.as_str(), handle.as_str())));
            let by_node = || routes.iter().position(|r| route(r).is_some_and(|(s, _)| s == prev));
            if let Some(i) = exact.or_else(by_node) {
                which = i;
                from = Value::String(prev);
            }
            if !handle.is_empty() {
                outputs.insert("from_handle".into(), Value::String(handle));
            }
        }
        let which = which.min(routes.len().saturating_sub(1));
        let mut out = obj(json!({ "which": which, "from": from }));
        out.extend(outputs);
        self.exec().outputs.insert(node.id.clone(), Value::Object(out));
        self.follow(node, "exec-out")
    }
}

/// A `[source, handle]` route of a join.
fn route(r: &Value) -> Option<(&str, &str)> {
    Some((r.get(0)?.as_str()?, r.get(1)?.as_str()?))
}

/// Python's `int()` of a pin value, saturating: `None` when it raises.
fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Bool(b) => Some(i64::from(*b)),
        Value::Number(n) => n.as_i64().or_else(|| {
            let f = n.as_f64()?;
            f.is_finite().then(|| f.trunc().clamp(i64::MIN as f64, i64::MAX as f64) as i64)
        }),
        Value::String(s) => {
            let digits = s.trim().replace('_', "");
            let body = digits.strip_prefix(['+', '-']).unwrap_or(&digits);
            if body.is_empty() || !body.bytes().all(|b| b.is_ascii_digit()) || s.contains("__") {
                return None;
            }
            Some(digits.parse::<i64>().unwrap_or(if digits.starts_with('-') { i64::MIN } else { i64::MAX }))
        }
        _ => None,
    }
}

/// Python's `repr()` for a value shown in an error.
fn py_repr(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => format!("'{s}'"),
        Value::Array(items) => format!("[{}]", items.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => {
            let items: Vec<String> = map.iter().map(|(k, v)| format!("'{k}': {}", py_repr(v))).collect();
            format!("{{{}}}", items.join(", "))
        }
        Value::Number(_) => super::value::py_str(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_numbers_as_python_int() {
        assert_eq!(whole_number(&json!(2)), Some(2));
        assert_eq!(whole_number(&json!(2.9)), Some(2));
        assert_eq!(whole_number(&json!(-2.9)), Some(-2));
        assert_eq!(whole_number(&json!(" 7 ")), Some(7));
        assert_eq!(whole_number(&json!("1_000")), Some(1000));
        assert_eq!(whole_number(&json!("2.5")), None);
        assert_eq!(whole_number(&json!("")), None);
        assert_eq!(whole_number(&json!(true)), Some(1));
        assert_eq!(whole_number(&json!(null)), None);
        assert_eq!(whole_number(&json!([1])), None);
        assert_eq!(py_repr(&json!({"a": [1, "x", null]})), "{'a': [1, 'x', None]}");
    }
}
