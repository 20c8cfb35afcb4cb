//! VisualFlow: the JSON model, its compilation into an executable graph, and the interpreter.

mod compile;
mod effects;
mod exec;
mod llm_call;
mod model;
mod resolve;
mod value;
mod vars;
mod waits;

pub use compile::{CompiledFlow, FlowError, NodeKind, VarRead};
pub use effects::{EffectKind, WaitStep};
pub use exec::{ExecState, NodeCall, NodeExecutor, NodeFailure, TickLimits, TickOutcome, tick};
pub use model::{Edge, Pin, VisualFlow, VisualNode};

#[cfg(test)]
mod tests;
