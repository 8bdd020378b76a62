//! The one wasmtime configuration of iam-tracker.
//!
//! The host and `cargo xtask build-plugins` both build their `Engine` from [`config`], so a
//! `.cwasm` precompiled by xtask always matches the host that embeds it. Change a setting
//! here and both sides change together; wasmtime refuses a mismatched artifact and the
//! host then falls back to compiling the `.wasm`.

use wasmtime::{Config, Engine, OptLevel};

/// Epoch ticks per second: the host's ticker thread increments the epoch every 10 ms.
pub const EPOCH_TICK_MS: u64 = 10;

/// The engine configuration shared by the host and the precompiler.
pub fn config() -> Config {
    let mut c = Config::new();
    c.wasm_component_model(true);
    c.cranelift_opt_level(OptLevel::Speed);
    // Wall-clock guard: a deadline in epoch ticks, re-armed before every plugin call.
    c.epoch_interruption(true);
    // Fuel is off: it costs 40% on parse-heavy guest code (research, wasm-host.md §4.4).
    c.consume_fuel(false);
    c
}

/// A new engine with [`config`].
pub fn engine() -> wasmtime::Result<Engine> {
    Engine::new(&config())
}
