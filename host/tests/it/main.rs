//! Host integration tests: the real wasmtime host running the real built components.
//!
//! They need `cargo xtask build-plugins` to have run (the README's test command does it).

mod cases;
mod cli;
mod faults;
mod loading;
#[cfg(feature = "aws")]
mod lookup;
mod support;
