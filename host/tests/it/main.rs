//! Host integration tests: the real wasmtime host running the real built components.
//!
//! They need `cargo xtask build-plugins` to have run, and the S3 tests a moto server from
//! `cargo xtask moto` (the README's test command, `cargo xtask test`, does both).

#[cfg(feature = "local-sql")]
mod analytics;
#[cfg(feature = "aws")]
mod athena;
mod cases;
mod cli;
#[cfg(feature = "aws")]
mod collect;
mod faults;
mod loading;
#[cfg(feature = "aws")]
mod lookup;
mod store;
mod support;
mod trail;
