//! Randomness without extra crates: std seeds `RandomState` from the platform's secure
//! source (WASI `random` on wasm32-wasip2), and SipHash of a counter spreads it.

use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

thread_local! {
    static STATE: (RandomState, Cell<u64>) = (RandomState::new(), Cell::new(0));
}

pub fn next_u64() -> u64 {
    STATE.with(|(seed, counter)| {
        let n = counter.get().wrapping_add(1);
        counter.set(n);
        let mut h = seed.build_hasher();
        h.write_u64(n);
        h.finish()
    })
}
