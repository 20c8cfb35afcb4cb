//! The process's one wasmtime [`Engine`] and the thread that drives its epoch.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use serde::Serialize;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

/// How often the epoch advances; a call's CPU deadline is counted in these ticks.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Allocator {
    /// Pre-reserved slots: fast instantiation, bounded concurrency.
    Pooling,
    /// Plain mmap per instance: the fallback when the pool cannot be reserved.
    OnDemand,
}

/// Builds the engine: component model, epoch interruption, fuel metering when asked for, and
/// the pooling allocator when the machine can reserve it. Returns why pooling was given up, if
/// it was.
pub(crate) fn build(fuel: bool) -> wasmtime::Result<(Engine, Allocator, Option<String>)> {
    build_with(fuel, POOL_SLOTS)
}

/// The largest linear memory a pool slot holds: wasm32's whole address space. Each plugin's
/// own cap (the policy's, or the operator's default) is enforced per store by its limiter.
const MAX_MEMORY_BYTES: usize = 4 << 30;

/// Concurrent plugin instances (and linear memories) the pool holds.
const POOL_SLOTS: u32 = 100;

fn build_with(fuel: bool, slots: u32) -> wasmtime::Result<(Engine, Allocator, Option<String>)> {
    let mut config = base_config(fuel);
    let mut pool = PoolingAllocationConfig::new();
    // Sized for a small box (2 cores): a few dozen concurrent plugin instances. Each memory
    // slot reserves virtual address space (~4 GiB + guard), not RAM, so 100 slots is cheap.
    pool.total_component_instances(slots)
        .total_memories(slots)
        .total_tables(slots.saturating_mul(4))
        .total_core_instances(slots.saturating_mul(4))
        .total_stacks(slots)
        .max_memory_size(MAX_MEMORY_BYTES);
    config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    match Engine::new(&config) {
        Ok(engine) => Ok((engine, Allocator::Pooling, None)),
        Err(error) => {
            let reason = format!("{error:#}");
            tracing::warn!(error = %reason, "pooling allocator unavailable; falling back to on-demand allocation");
            let engine = Engine::new(&base_config(fuel))?;
            Ok((engine, Allocator::OnDemand, Some(reason)))
        }
    }
}

fn base_config(fuel: bool) -> Config {
    let mut config = Config::new();
    // Fuel changes the generated code, so it is part of the engine hash the cache keys on.
    config.wasm_component_model(true).epoch_interruption(true).consume_fuel(fuel);
    config
}

/// Advances the engine's epoch every [`EPOCH_TICK`] until dropped. Dropping closes the channel,
/// which wakes the thread at once; the drop then joins it so no thread outlives the host.
pub(crate) struct EpochTicker {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub(crate) fn start(engine: &Engine) -> std::io::Result<Self> {
        // A weak handle: the ticker must not be what keeps the engine alive.
        let engine = engine.weak();
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("agw-epoch".into()).spawn(move || {
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EPOCH_TICK) {
                match engine.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // The thread never panics; if it somehow did, there is nothing left to clean up.
            let _ = thread.join();
        }
    }
}

/// Epoch ticks that make up `deadline` (at least one, so a zero deadline still interrupts).
pub(crate) fn deadline_ticks(deadline: Duration) -> u64 {
    let tick = EPOCH_TICK.as_nanos();
    u64::try_from(deadline.as_nanos().div_ceil(tick)).unwrap_or(u64::MAX).max(1)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_round_up_to_whole_ticks() {
        assert_eq!(deadline_ticks(Duration::ZERO), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(1)), 1);
        assert_eq!(deadline_ticks(Duration::from_millis(200)), 20);
        assert_eq!(deadline_ticks(Duration::from_millis(201)), 21);
        assert_eq!(deadline_ticks(Duration::MAX), u64::MAX);
    }

    #[test]
    fn an_unreservable_pool_falls_back_to_on_demand() {
        // u32::MAX memory slots of several GiB each cannot fit any address space.
        let (engine, allocator, why) = build_with(false, u32::MAX).unwrap();
        assert_eq!(allocator, Allocator::OnDemand);
        assert!(why.is_some());
        drop(engine);
        let (_, allocator, why) = build(true).unwrap();
        assert_eq!((allocator, why), (Allocator::Pooling, None));
    }
}
