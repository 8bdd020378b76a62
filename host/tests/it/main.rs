//! Host integration tests: the real wasmtime host running the real built components.
//!
//! They need `cargo xtask build-plugins` to have run, the S3 and SNS tests a moto server from
//! `cargo xtask moto`, and the DynamoDB store tests DynamoDB Local from `cargo xtask
//! dynamodb-local` (else they use moto; see `support/dynamodb.rs`). The README's test command,
//! `cargo xtask test`, does all three.

#[cfg(feature = "local-sql")]
mod analytics;
#[cfg(feature = "aws")]
mod athena;
mod cases;
mod cli;
#[cfg(feature = "aws")]
mod collect;
mod export;
mod faults;
mod loading;
#[cfg(feature = "aws")]
mod lookup;
#[cfg(feature = "aws")]
mod sns;
mod store;
mod store_contract;
#[cfg(feature = "aws")]
mod store_dynamodb;
mod support;
mod trail;
