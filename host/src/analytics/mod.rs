//! Analytics over the exported Parquet table: the Athena DDL, the 15 pre-built queries, and
//! the engines that run them (Athena, or DuckDB over the local export).
//!
//! - [`ddl`]: the `CREATE EXTERNAL TABLE` with partition projection, generated from
//!   [`crate::export::schema`] (the same column list as the Parquet writer).
//! - [`queries`]: the 15 query definitions (name, description, parameters, SQL text) and how
//!   their parameters are validated and rendered into the text.
//! - [`local`] (feature `local-sql`): the embedded DuckDB engine over
//!   `<dir>/iam-events/**/*.parquet`.
//! - [`output`]: how a result prints (aligned table, JSON, CSV).
//!
//! The Athena engine lives in `crate::aws::athena` (only `aws/` names the SDK). Both engines
//! implement [`QueryEngine`] and return a [`QueryResult`], so the CLI does not care which ran.

pub mod ddl;
#[cfg(feature = "local-sql")]
pub mod local;
pub mod output;
pub mod queries;

use std::time::Duration;

/// The table every query reads. On Athena it lives in the configured database (the query
/// runs with that database as its context); locally it is a view over the exported files.
pub const TABLE_NAME: &str = "iam_events";

/// What Athena charges per terabyte scanned (US regions, on-demand; stated so that the
/// estimate can be checked against the current price list).
pub const ATHENA_USD_PER_TB: f64 = 5.0;

/// The rows a query returned: column names and, per row, one text value or null per column.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryResult {
    /// Column names, in the query's order.
    pub columns: Vec<String>,
    /// Rows, each with exactly `columns.len()` values; `None` is SQL NULL.
    pub rows: Vec<Vec<Option<String>>>,
}

/// How a run went: time, and for Athena the bytes scanned and the estimated cost.
#[derive(Debug, Clone, PartialEq)]
pub struct RunStats {
    /// Wall-clock time from submission to the last result row.
    pub elapsed: Duration,
    /// The engine's own execution time, when it reports one (Athena).
    pub engine_time: Option<Duration>,
    /// Bytes scanned, when the engine reports it (Athena).
    pub data_scanned_bytes: Option<i64>,
    /// The engine's id for the run (Athena QueryExecutionId).
    pub execution_id: Option<String>,
}

impl RunStats {
    /// Estimated cost in USD at [`ATHENA_USD_PER_TB`] (Athena bills per TB scanned, 10 MB
    /// minimum per query; the minimum is not applied here, the estimate is of the scan).
    pub fn estimated_cost_usd(&self) -> Option<f64> {
        self.data_scanned_bytes.map(|b| b as f64 / 1e12 * ATHENA_USD_PER_TB)
    }

    /// One line for stderr: time, and scanned bytes and cost when known.
    pub fn summary_line(&self) -> String {
        let mut s = format!("time {:.2}s", self.elapsed.as_secs_f64());
        if let Some(t) = self.engine_time {
            s.push_str(&format!(" (engine {:.2}s)", t.as_secs_f64()));
        }
        if let (Some(b), Some(c)) = (self.data_scanned_bytes, self.estimated_cost_usd()) {
            s.push_str(&format!(
                ", data scanned {:.2} MiB, estimated cost ${c:.6} (at ${ATHENA_USD_PER_TB}/TB)",
                b as f64 / (1024.0 * 1024.0)
            ));
        }
        if let Some(id) = &self.execution_id {
            s.push_str(&format!(", execution {id}"));
        }
        s
    }
}

/// Why a query could not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// A parameter was out of range or unsafe (days, user, hours).
    #[error("bad parameter {name}: {reason}")]
    BadParameter { name: &'static str, reason: String },
    /// No query of that name.
    #[error("unknown query {0:?} (see `iam-tracker query list`)")]
    UnknownQuery(String),
    /// The local export directory has no Parquet files.
    #[error("no exported Parquet files under {0} (run `iam-tracker export` first, or pass --data DIR)")]
    NoData(String),
    /// The local engine failed (SQL error, unreadable file).
    #[error("local engine: query {query}: {detail}")]
    Local { query: String, detail: String },
    /// Athena reported the query FAILED or CANCELLED.
    #[error("athena: query {query} (execution {execution_id}) ended {state}: {reason}")]
    AthenaState { query: String, execution_id: String, state: String, reason: String },
    /// An Athena API call failed.
    #[error("athena: {operation} for query {query}: {detail}")]
    AthenaApi { query: String, operation: &'static str, detail: String },
    /// The query did not finish in time.
    #[error("athena: query {query} (execution {execution_id}) still {state} after {waited:?}")]
    Timeout { query: String, execution_id: String, state: String, waited: Duration },
    /// Configuration missing (database, output location).
    #[error("athena: {0}")]
    Config(String),
}

/// Something that runs a rendered SQL text and returns its rows.
pub trait QueryEngine {
    /// Run `sql` (already rendered for this engine) under `name` (for messages).
    fn run(&mut self, name: &str, sql: &str) -> Result<(QueryResult, RunStats), QueryError>;

    /// Which dialect's text this engine runs.
    fn dialect(&self) -> queries::Dialect;
}
