//! One call of a node: typed access to its inputs and config, and a builder for its outputs.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::NodeError;

/// One call of `execute`: the node type, its inputs keyed by pin id, and its `data` config.
#[derive(Debug)]
pub struct NodeCall<'a> {
    /// The node type being executed.
    pub node_type: &'a str,
    /// Input values keyed by pin id; unconnected pins without defaults are absent.
    pub inputs: &'a Map<String, Value>,
    /// The node's VisualFlow `data` object (per-node settings chosen in the flow editor; not
    /// the operator's configuration, which is [`config::get`](crate::config::get)).
    pub config: &'a Value,
    /// The run this call belongs to.
    pub run_id: &'a str,
    /// The workflow (flow) being run.
    pub workflow_id: &'a str,
    /// The node id inside the flow.
    pub node_id: &'a str,
}

impl NodeCall<'_> {
    /// The raw input value, `Value::Null` when absent.
    pub fn value(&self, pin: &str) -> &Value {
        self.inputs.get(pin).unwrap_or(&Value::Null)
    }

    /// The input as a string, or an error naming the pin.
    pub fn str(&self, pin: &str) -> Result<&str, NodeError> {
        self.value(pin).as_str().ok_or_else(|| NodeError::invalid(format!("input '{pin}' must be a string")))
    }

    /// The input as a number, or an error naming the pin.
    pub fn f64(&self, pin: &str) -> Result<f64, NodeError> {
        self.value(pin).as_f64().ok_or_else(|| NodeError::invalid(format!("input '{pin}' must be a number")))
    }

    /// The input as a boolean, or an error naming the pin.
    pub fn bool(&self, pin: &str) -> Result<bool, NodeError> {
        self.value(pin).as_bool().ok_or_else(|| NodeError::invalid(format!("input '{pin}' must be a boolean")))
    }

    /// The input decoded into any serde type. An absent pin decodes from `null`, so ask for
    /// an `Option<T>` when the pin is optional.
    ///
    /// ```
    /// # use abstractgateway_sdk::{NodeCall, Map, json};
    /// # let inputs = json!({ "tags": ["a", "b"] }).as_object().unwrap().clone();
    /// # let call = NodeCall { node_type: "t", inputs: &inputs, config: &json!({}), run_id: "r", workflow_id: "w", node_id: "n" };
    /// let tags: Vec<String> = call.input("tags")?;
    /// let limit: Option<u32> = call.input("limit")?;
    /// assert_eq!((tags.len(), limit), (2, None));
    /// # Ok::<(), abstractgateway_sdk::NodeError>(())
    /// ```
    pub fn input<T: DeserializeOwned>(&self, pin: &str) -> Result<T, NodeError> {
        T::deserialize(self.value(pin)).map_err(|e| NodeError::invalid(format!("input '{pin}': {e}")))
    }

    /// A value of the node's `data` config decoded into any serde type; an absent key decodes
    /// from `null` (ask for an `Option<T>` when it is optional).
    pub fn config_value<T: DeserializeOwned>(&self, key: &str) -> Result<T, NodeError> {
        T::deserialize(self.config.get(key).unwrap_or(&Value::Null))
            .map_err(|e| NodeError::invalid(format!("config '{key}': {e}")))
    }

    /// All inputs decoded into one serde type (a struct whose fields are the pin ids).
    pub fn inputs_as<T: DeserializeOwned>(&self) -> Result<T, NodeError> {
        T::deserialize(self.inputs).map_err(|e| NodeError::invalid(format!("inputs: {e}")))
    }
}

/// The outputs of a node call: an object keyed by output pin id.
///
/// ```
/// use abstractgateway_sdk::{Outputs, Value, json};
///
/// let out: Value = Outputs::new().set("status", 200).set("body", "ok").into();
/// assert_eq!(out, json!({ "status": 200, "body": "ok" }));
/// assert_eq!(Value::from(Outputs::result(true)), json!({ "result": true }));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outputs(Map<String, Value>);

impl Outputs {
    /// No outputs yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The common single-output answer, `{"result": value}`.
    pub fn result(value: impl Into<Value>) -> Self {
        Self::new().set("result", value)
    }

    /// Sets output pin `pin` to `value` (strings, numbers, booleans, vectors, options and
    /// [`Value`]s all convert).
    pub fn set(mut self, pin: &str, value: impl Into<Value>) -> Self {
        self.0.insert(pin.to_owned(), value.into());
        self
    }

    /// Sets output pin `pin` to any serializable value.
    pub fn set_serialized<T: serde::Serialize + ?Sized>(self, pin: &str, value: &T) -> Result<Self, NodeError> {
        let value = serde_json::to_value(value).map_err(|e| NodeError::failed(format!("output '{pin}': {e}")))?;
        Ok(self.set(pin, value))
    }
}

impl From<Outputs> for Value {
    fn from(outputs: Outputs) -> Self {
        Value::Object(outputs.0)
    }
}
