//! The gateway's domain: bundles, the VisualFlow model and interpreter, run state, step
//! records and commands.
//!
//! This crate does no I/O: callers hand it bytes and get values back. Time and ids come in
//! through [`Env`] so tests can fake them, and node types that plugins provide are reached
//! through the [`NodeExecutor`] trait.

pub mod bundle;
pub mod command;
pub mod env;
pub mod flow;
pub mod llm;
pub mod record;
pub mod run;
pub mod schedule;

pub use env::{Env, SystemEnv};
pub use flow::{CompiledFlow, FlowError, NodeCall, NodeExecutor, NodeFailure};
