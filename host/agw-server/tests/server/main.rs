//! The binary's integration tests, one binary: the real `abstractgateway` process.

mod common;

mod cli;
mod crash;
mod llm_crash;
mod migrate;
mod plugin_signing;
mod samples;
mod split;
