//! Parquet export of stored events, and the table definition that Athena and the local SQL
//! engine read them with.
//!
//! - [`schema`]: the one column list. The Parquet writer, the Athena DDL and the schema
//!   document are all derived from it, so they cannot drift apart.

pub mod schema;
