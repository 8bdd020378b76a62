//! The cold-start bench's fixtures: the test support the e2e test uses (the shared DynamoDB
//! and moto servers of the host's tests, and the Runtime API stub), included by path.

use std::path::PathBuf;

/// The workspace root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

// Shared with the host's tests and the e2e test; the bench uses part of them.
#[allow(dead_code)]
#[path = "../../../host/tests/it/support/dynamodb.rs"]
pub mod dynamodb;
#[allow(dead_code)]
#[path = "../../../host/tests/it/support/moto.rs"]
pub mod moto;
#[allow(dead_code)]
#[path = "../../tests/support/runtime_api.rs"]
pub mod runtime_api;
