//! Parquet export of stored events, and the table definition that Athena and the local SQL
//! engine read them with.
//!
//! - [`schema`]: the one column list. The Parquet writer, the Athena DDL and the schema
//!   document are all derived from it, so they cannot drift apart.
//! - [`row`]: a stored event as a row (derived columns, nulls for absent values); pure.
//! - [`writer`]: the Arrow schema, the Parquet settings, one file per (date, region) with
//!   bounded memory.
//! - [`layout`]: `iam-events/year=YYYY/month=M/day=D/region=R/`, one spelling for writing
//!   and for checking.
//! - [`manifest`]: what was exported per date, and when a date is exported again.
//! - [`object_store`]: the [`object_store::ObjectStore`] trait and the local directory
//!   adapter (S3 is `crate::aws::s3_put`).
//! - [`run`]: one export run over a [`crate::store::Store`] and an object store.
//! - [`progress`]: progress bar or log lines, and the summary table.
//! - [`doc`]: `docs/export-schema.md`, generated from the above.

pub mod doc;
pub mod layout;
pub mod manifest;
pub mod object_store;
pub mod progress;
pub mod row;
pub mod run;
pub mod schema;
pub mod writer;
