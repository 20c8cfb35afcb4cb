//! VisualFlow: the JSON model, its compilation into an executable graph, and the interpreter.

mod compile;
mod control;
mod effects;
mod exec;
mod llm_call;
mod lower;
mod model;
mod resolve;
mod value;
mod vars;
mod waits;
mod writes;

pub use compile::{CompiledFlow, FlowError, NodeKind, VarRead};
pub use control::Trigger;
pub use effects::{EffectKind, WaitStep};
pub use exec::{ExecState, NodeCall, NodeExecutor, NodeFailure, TickLimits, TickOutcome, tick};
pub use model::{Edge, Pin, VisualFlow, VisualNode};
pub use writes::VarWrite;

#[cfg(test)]
mod tests;
