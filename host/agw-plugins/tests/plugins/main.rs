//! The plugin host's integration tests, one binary: real components from `plugins/`.
#![allow(clippy::unwrap_used)]

mod common;

mod capabilities;
mod hot_reload;
mod loading;
mod sandbox;
mod sdk_example;
mod signatures;
mod std_nodes;
mod ticker;
mod wit_contract;
