//! The local SQL engine (feature `local-sql`): embedded DuckDB over the exported Parquet in
//! `<dir>/iam-events/year=YYYY/month=M/day=D/region=R/*.parquet`, no AWS involved.
//!
//! DuckDB was chosen over DataFusion for dialect fit (see `docs/queries.md`, with the measured
//! build times): it runs the Athena (Trino) texts nearly unchanged. What differs is bridged
//! here, once, rather than in every query:
//! - a view `iam_events` with the same columns and types as the Athena table: the data columns
//!   from the files, the partition columns from the hive path (`year`, `month`, `day` as
//!   INTEGER, `region` as VARCHAR), and `event_time` as a plain UTC TIMESTAMP (the files hold
//!   an instant, which DuckDB reads as TIMESTAMPTZ; Athena reads it as a UTC `timestamp`);
//! - macros `json_extract_scalar(json, path)` (Trino semantics: NULL for objects and arrays)
//!   and `day_of_week(ts)` (ISO: Monday 1 to Sunday 7, like Trino's).
//!
//! Extension auto-install and auto-load are off: the parquet and json extensions are compiled
//! in, and the engine never reaches the network.

use std::path::{Path, PathBuf};
use std::time::Instant;

use duckdb::{Config, Connection};

use crate::analytics::queries::Dialect;
use crate::analytics::{QueryEngine, QueryError, QueryResult, RunStats, TABLE_NAME};
use crate::export::schema::TABLE_PREFIX;

/// The compatibility macros that let the Athena texts run on DuckDB.
pub const COMPAT_MACROS: &str = "
CREATE OR REPLACE TEMP MACRO json_extract_scalar(j, p) AS
    CASE WHEN json_type(j, p) IN ('OBJECT', 'ARRAY') THEN NULL ELSE json_extract_string(j, p) END;
CREATE OR REPLACE TEMP MACRO day_of_week(ts) AS isodow(ts);
";

/// DuckDB over one export directory.
pub struct LocalEngine {
    conn: Connection,
    root: PathBuf,
}

fn local_err(query: &str, e: impl std::fmt::Display) -> QueryError {
    QueryError::Local { query: query.to_string(), detail: e.to_string() }
}

/// Whether `dir` holds a `.parquet` file at any depth.
fn has_parquet(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return false };
    entries.flatten().any(|e| {
        let p = e.path();
        if p.is_dir() {
            has_parquet(&p)
        } else {
            p.extension().is_some_and(|x| x == "parquet")
        }
    })
}

impl LocalEngine {
    /// An engine over `<root>/iam-events/`. Fails with [`QueryError::NoData`] when there is no
    /// Parquet file there.
    pub fn open(root: &Path) -> Result<Self, QueryError> {
        let table_dir = root.join(TABLE_PREFIX);
        if !has_parquet(&table_dir) {
            return Err(QueryError::NoData(table_dir.display().to_string()));
        }
        let config = Config::default()
            .enable_autoload_extension(false)
            .and_then(|c| c.with("autoinstall_known_extensions", "false"))
            .map_err(|e| local_err("(open)", e))?;
        let conn = Connection::open_in_memory_with_flags(config).map_err(|e| local_err("(open)", e))?;
        let glob = format!("{}/**/*.parquet", table_dir.display()).replace('\'', "''");
        let setup = format!(
            "{COMPAT_MACROS}
CREATE OR REPLACE TEMP VIEW {TABLE_NAME} AS
SELECT * REPLACE (CAST(event_time AS TIMESTAMP) AS event_time)
FROM read_parquet('{glob}', hive_partitioning = true, union_by_name = true,
    hive_types = {{'year': INTEGER, 'month': INTEGER, 'day': INTEGER, 'region': VARCHAR}});"
        );
        conn.execute_batch(&setup).map_err(|e| local_err("(setup)", e))?;
        Ok(LocalEngine { conn, root: root.to_path_buf() })
    }

    /// The export directory this engine reads.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl QueryEngine for LocalEngine {
    fn run(&mut self, name: &str, sql: &str) -> Result<(QueryResult, RunStats), QueryError> {
        let started = Instant::now();
        // Every column as text, so the result looks the same whatever the engine's types.
        let wrapped = format!("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM (\n{sql}\n) AS q");
        let mut stmt = self.conn.prepare(&wrapped).map_err(|e| local_err(name, e))?;
        let mut rows = stmt.query([]).map_err(|e| local_err(name, e))?;
        let columns = rows.as_ref().map(|s| s.column_names()).unwrap_or_default();
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(|e| local_err(name, e))? {
            let mut values = Vec::with_capacity(columns.len());
            for i in 0..columns.len() {
                values.push(row.get::<_, Option<String>>(i).map_err(|e| local_err(name, e))?);
            }
            out.push(values);
        }
        let stats =
            RunStats { elapsed: started.elapsed(), engine_time: None, data_scanned_bytes: None, execution_id: None };
        Ok((QueryResult { columns, rows: out }, stats))
    }

    fn dialect(&self) -> Dialect {
        Dialect::DuckDb
    }
}
