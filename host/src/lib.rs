//! iam-tracker: watches the IAM side of an AWS account.
//!
//! The library holds the pure domain core and the plugin host; `main.rs` is a thin CLI.
//! See `docs/architecture.md` for the code map and the invariants.
//!
//! - [`event`]: one CloudTrail record, parsed once, with the getters plugins read.
//! - [`input`]: turns files, folders, gzip and stdin into records, rejecting bad ones
//!   one by one with the file and record named.
//! - [`plugin`]: the wasmtime host: loading, sandboxing, calling and fault isolation.
//! - [`dispatch`]: routes each event to the extractor and the subscribed detectors.
//! - [`config`]: the `--config` file.
//! - [`filters`]: the host-side event filters (service-linked roles, `FILTERED_ROLES`).
//! - [`detect`]: the pipeline from input bytes to alerts and a summary.
//! - [`window`]: the LookupEvents collection window and its slices.
//! - [`report`]: alerts and the run summary, and how they are printed.
//! - [`sink`]: where alerts go (stdout, a file, an SNS topic through [`aws`]).
//! - [`alert_text`]: an alert as a notification: subject, readable body, attributes.
//! - [`store`]: events, checkpoints and sent alerts (embedded SQLite; DynamoDB later).
//! - [`collect`]: the collection pipeline and its sources (LookupEvents, trail files).
//! - [`aws`]: the AWS SDK adapters (feature `aws`).
//! - [`export`]: the Parquet export: schema, rows, writer, layout, manifest, object stores.
//! - [`analytics`]: the Athena DDL, the 15 pre-built queries and their engines (Athena, DuckDB).
//! - [`timefmt`]: event times in every shape CloudTrail writes, dates, `--since`.

pub mod alert_text;
pub mod analytics;
#[cfg(feature = "aws")]
pub mod aws;
pub mod collect;
pub mod config;
pub mod detect;
pub mod dispatch;
pub mod event;
pub mod export;
pub mod filters;
pub mod input;
pub mod plugin;
pub mod report;
pub mod sink;
pub mod store;
pub mod timefmt;
pub mod window;

pub use iam_tracker_plugin_sdk::Severity;
