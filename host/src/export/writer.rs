//! Parquet files from rows: the Arrow schema built from [`super::schema::COLUMNS`], the
//! writer settings, and [`PartitionWriter`], which writes one (date, region) file with
//! bounded memory.
//!
//! Memory: rows are appended to Arrow column builders and handed to the Parquet writer
//! every [`WriterSettings::batch_rows`] rows; the writer encodes and compresses pages as
//! they fill and keeps only the current row group, which it flushes to the file at
//! [`WriterSettings::row_group_rows`] rows or [`WriterSettings::row_group_bytes`] encoded
//! bytes, whichever comes first. A writer therefore holds at most one batch plus one row
//! group, whatever the size of the day.
//!
//! The choices (compression, row-group size, dictionary columns, statistics) and the
//! measurements behind them are in `docs/export-schema.md`, generated from the constants
//! here ([`CODEC`], [`ROW_GROUP_ROWS`], [`PLAIN_COLUMNS`], [`NO_STATS_COLUMNS`]).

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, Date32Builder, StringBuilder, TimestampMillisecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use super::row::Row;
use super::schema::{ColumnType, COLUMNS};

/// The version of the exported table layout and columns, written into every file's
/// key-value metadata (`iam_tracker.schema_version`) and every manifest. A manifest from
/// another version makes its date re-exported.
pub const SCHEMA_VERSION: u32 = 1;

/// The compression of every column: zstd level 1, which the export benchmark measured both
/// smaller and faster than level 3 on these columns (docs/export-schema.md).
pub const CODEC: Codec = Codec::Zstd(1);
/// Row groups hold at most this many rows...
pub const ROW_GROUP_ROWS: usize = 128 * 1024;
/// ... and at most about this many encoded bytes.
pub const ROW_GROUP_BYTES: usize = 64 << 20;
/// Rows appended before they are handed to the Parquet writer as one Arrow batch.
pub const BATCH_ROWS: usize = 8192;

/// Columns written without dictionary encoding: nearly unique per row (ids, times, JSON
/// payloads, session names), where a dictionary only costs memory and CPU before the
/// writer falls back to plain encoding anyway. Every other column is dictionary-encoded.
pub const PLAIN_COLUMNS: &[&str] = &[
    "event_id",
    "event_time",
    "request_parameters",
    "response_elements",
    "assumed_role_user",
    "credentials_expiration",
    "role_session_name",
    "error_message",
];

/// Columns without min/max statistics: JSON text, whose min/max no query can prune on.
/// Every other column gets page-level statistics (and the page index), which Athena/Trino
/// and DuckDB use to skip row groups and pages on `event_time`, `event_name`, `user_name`...
pub const NO_STATS_COLUMNS: &[&str] = &["request_parameters", "response_elements", "assumed_role_user"];

/// A compression codec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    /// zstd at the given level.
    Zstd(i32),
    Snappy,
    Uncompressed,
}

impl Codec {
    /// `zstd(3)`, `snappy`, `none`.
    pub fn label(self) -> String {
        match self {
            Codec::Zstd(l) => format!("zstd({l})"),
            Codec::Snappy => "snappy".into(),
            Codec::Uncompressed => "none".into(),
        }
    }

    /// From `zstd`, `zstd:LEVEL`, `snappy`, `none` (the benchmark's flag).
    pub fn parse(text: &str) -> Option<Codec> {
        match text.split_once(':') {
            Some(("zstd", l)) => l.parse().ok().filter(|l| (1..=22).contains(l)).map(Codec::Zstd),
            None if text == "zstd" => Some(Codec::Zstd(3)),
            None if text == "snappy" => Some(Codec::Snappy),
            None if text == "none" => Some(Codec::Uncompressed),
            _ => None,
        }
    }

    fn parquet(self) -> Result<Compression, WriteError> {
        Ok(match self {
            Codec::Zstd(level) => Compression::ZSTD(
                ZstdLevel::try_new(level).map_err(|e| WriteError::Settings(format!("zstd level {level}: {e}")))?,
            ),
            Codec::Snappy => Compression::SNAPPY,
            Codec::Uncompressed => Compression::UNCOMPRESSED,
        })
    }
}

/// How files are written. [`Default`] is what `iam-tracker export` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriterSettings {
    pub codec: Codec,
    pub row_group_rows: usize,
    pub row_group_bytes: usize,
    pub batch_rows: usize,
    /// Dictionary-encode the columns not in [`PLAIN_COLUMNS`] (false: no dictionaries).
    pub dictionaries: bool,
}

impl Default for WriterSettings {
    fn default() -> Self {
        WriterSettings {
            codec: CODEC,
            row_group_rows: ROW_GROUP_ROWS,
            row_group_bytes: ROW_GROUP_BYTES,
            batch_rows: BATCH_ROWS,
            dictionaries: true,
        }
    }
}

/// Failures while writing a file. Messages name the file.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    #[error("cannot create {path}: {detail}")]
    Create { path: String, detail: String },
    #[error("cannot write {path}: {detail}")]
    Write { path: String, detail: String },
    #[error("bad writer settings: {0}")]
    Settings(String),
    #[error("column `{0}` of the schema has no row value of its type (export::writer and export::schema disagree)")]
    Column(&'static str),
}

/// The Arrow type of a column type.
pub fn arrow_type(ty: ColumnType) -> DataType {
    match ty {
        ColumnType::String => DataType::Utf8,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        ColumnType::Date => DataType::Date32,
        ColumnType::Boolean => DataType::Boolean,
        ColumnType::Int => DataType::Int32,
    }
}

/// The Arrow schema of the data columns, from [`COLUMNS`] (names, types, nullability).
pub fn arrow_schema() -> SchemaRef {
    Arc::new(Schema::new(COLUMNS.iter().map(|c| Field::new(c.name, arrow_type(c.ty), c.nullable)).collect::<Vec<_>>()))
}

/// The Parquet writer properties for `settings`.
pub fn writer_properties(settings: &WriterSettings) -> Result<WriterProperties, WriteError> {
    if settings.row_group_rows == 0 || settings.row_group_bytes == 0 || settings.batch_rows == 0 {
        return Err(WriteError::Settings("row group and batch sizes must be at least 1".into()));
    }
    let mut b = WriterProperties::builder()
        .set_compression(settings.codec.parquet()?)
        .set_max_row_group_row_count(Some(settings.row_group_rows))
        .set_max_row_group_bytes(Some(settings.row_group_bytes))
        .set_dictionary_enabled(settings.dictionaries)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("iam-tracker version {} (parquet-rs)", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "iam_tracker.schema_version".to_string(),
            SCHEMA_VERSION.to_string(),
        )]));
    for name in PLAIN_COLUMNS {
        b = b.set_column_dictionary_enabled(ColumnPath::from(*name), false);
    }
    for name in NO_STATS_COLUMNS {
        b = b.set_column_statistics_enabled(ColumnPath::from(*name), EnabledStatistics::None);
    }
    Ok(b.build())
}

type StrOf = for<'r, 'a> fn(&'r Row<'a>) -> Option<&'r str>;

/// One column's builder and how to read its value from a row.
enum ColumnBuilder {
    Str(StringBuilder, StrOf),
    Time(TimestampMillisecondBuilder, fn(&Row<'_>) -> i64),
    Date(Date32Builder, fn(&Row<'_>) -> i32),
    Bool(BooleanBuilder, fn(&Row<'_>) -> bool),
}

/// The row value of a string column.
fn str_of(name: &str) -> Option<StrOf> {
    Some(match name {
        "event_id" => |r| Some(r.event_id),
        "event_name" => |r| Some(r.event_name),
        "event_source" => |r| Some(r.event_source),
        "event_type" => |r| Some(r.event_type),
        "aws_region" => |r| r.aws_region,
        "user_name" => |r| r.user_name,
        "source_ip" => |r| r.source_ip,
        "user_agent" => |r| r.user_agent,
        "error_code" => |r| r.error_code,
        "error_message" => |r| r.error_message,
        "request_parameters" => |r| r.request_parameters,
        "response_elements" => |r| r.response_elements,
        "role_arn" => |r| r.role_arn.as_deref(),
        "role_session_name" => |r| r.role_session_name.as_deref(),
        "policy_arn" => |r| r.policy_arn.as_deref(),
        "user_name_param" => |r| r.user_name_param.as_deref(),
        "group_name" => |r| r.group_name.as_deref(),
        "assumed_role_user" => |r| r.assumed_role_user.as_deref(),
        "credentials_expiration" => |r| r.credentials_expiration.as_deref(),
        "identity_type" => |r| r.identity_type,
        "principal_arn" => |r| r.principal_arn,
        "recipient_account_id" => |r| r.recipient_account_id,
        _ => return None,
    })
}

/// A builder for every column of [`COLUMNS`], in order.
fn builders(capacity: usize) -> Result<Vec<ColumnBuilder>, WriteError> {
    COLUMNS
        .iter()
        .map(|c| {
            Ok(match (c.ty, c.name) {
                (ColumnType::String, name) => ColumnBuilder::Str(
                    StringBuilder::with_capacity(capacity, capacity * 16),
                    str_of(name).ok_or(WriteError::Column(c.name))?,
                ),
                (ColumnType::Timestamp, "event_time") => ColumnBuilder::Time(
                    TimestampMillisecondBuilder::with_capacity(capacity).with_timezone("UTC"),
                    |r| r.event_time,
                ),
                (ColumnType::Date, "event_date") => {
                    ColumnBuilder::Date(Date32Builder::with_capacity(capacity), |r| r.event_date)
                }
                (ColumnType::Boolean, "is_error") => {
                    ColumnBuilder::Bool(BooleanBuilder::with_capacity(capacity), |r| r.is_error)
                }
                _ => return Err(WriteError::Column(c.name)),
            })
        })
        .collect()
}

/// What a finished file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenFile {
    pub path: PathBuf,
    pub rows: u64,
    pub row_groups: usize,
    pub bytes: u64,
}

/// Writes one Parquet file, row by row, with bounded memory (see the module docs).
pub struct PartitionWriter {
    path: PathBuf,
    schema: SchemaRef,
    writer: ArrowWriter<BufWriter<File>>,
    builders: Vec<ColumnBuilder>,
    batch_rows: usize,
    buffered: usize,
    rows: u64,
}

impl PartitionWriter {
    /// Create (truncate) `path` and start a file.
    pub fn create(path: &Path, settings: &WriterSettings) -> Result<Self, WriteError> {
        let props = writer_properties(settings)?;
        let schema = arrow_schema();
        let builders = builders(settings.batch_rows)?;
        let file = File::create(path)
            .map_err(|e| WriteError::Create { path: path.display().to_string(), detail: e.to_string() })?;
        let writer = ArrowWriter::try_new(BufWriter::with_capacity(1 << 20, file), schema.clone(), Some(props))
            .map_err(|e| WriteError::Create { path: path.display().to_string(), detail: e.to_string() })?;
        Ok(PartitionWriter {
            path: path.to_path_buf(),
            schema,
            writer,
            builders,
            batch_rows: settings.batch_rows,
            buffered: 0,
            rows: 0,
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> WriteError {
        WriteError::Write { path: self.path.display().to_string(), detail: e.to_string() }
    }

    /// Append one row.
    pub fn push(&mut self, row: &Row<'_>) -> Result<(), WriteError> {
        for b in &mut self.builders {
            match b {
                ColumnBuilder::Str(b, get) => b.append_option(get(row)),
                ColumnBuilder::Time(b, get) => b.append_value(get(row)),
                ColumnBuilder::Date(b, get) => b.append_value(get(row)),
                ColumnBuilder::Bool(b, get) => b.append_value(get(row)),
            }
        }
        self.buffered += 1;
        self.rows += 1;
        if self.buffered >= self.batch_rows {
            self.write_batch()?;
        }
        Ok(())
    }

    /// Rows appended so far.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    fn write_batch(&mut self) -> Result<(), WriteError> {
        if self.buffered == 0 {
            return Ok(());
        }
        let arrays: Vec<ArrayRef> = self
            .builders
            .iter_mut()
            .map(|b| -> ArrayRef {
                match b {
                    ColumnBuilder::Str(b, _) => Arc::new(b.finish()),
                    ColumnBuilder::Time(b, _) => Arc::new(b.finish()),
                    ColumnBuilder::Date(b, _) => Arc::new(b.finish()),
                    ColumnBuilder::Bool(b, _) => Arc::new(b.finish()),
                }
            })
            .collect();
        self.buffered = 0;
        let batch = RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| self.err(e))?;
        self.writer.write(&batch).map_err(|e| self.err(e))
    }

    /// Write what is buffered, the footer, and sync the file.
    pub fn finish(mut self) -> Result<WrittenFile, WriteError> {
        self.write_batch()?;
        let meta = self.writer.finish().map_err(|e| self.err(e))?;
        let row_groups = meta.num_row_groups();
        let PartitionWriter { path, writer, rows, .. } = self;
        let err =
            |e: &dyn std::fmt::Display| WriteError::Write { path: path.display().to_string(), detail: e.to_string() };
        // `finish` wrote the footer; `into_inner` would finish again, so flush the buffer and
        // sync the file through the writer instead.
        let mut writer = writer;
        std::io::Write::flush(writer.inner_mut()).map_err(|e| err(&e))?;
        let file = writer.inner().get_ref();
        file.sync_all().map_err(|e| err(&e))?;
        let bytes = file.metadata().map_err(|e| err(&e))?.len();
        Ok(WrittenFile { path, rows, row_groups, bytes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_column_has_a_row_value_of_its_type() {
        let b = builders(1).expect("COLUMNS and Row agree");
        assert_eq!(b.len(), COLUMNS.len());
    }

    #[test]
    fn the_encoding_lists_name_real_columns() {
        for name in PLAIN_COLUMNS.iter().chain(NO_STATS_COLUMNS) {
            assert!(COLUMNS.iter().any(|c| c.name == *name), "{name} is not a column");
        }
    }

    #[test]
    fn codecs_parse() {
        assert_eq!(Codec::parse("zstd"), Some(Codec::Zstd(3)));
        assert_eq!(Codec::parse("zstd:9"), Some(Codec::Zstd(9)));
        assert_eq!(Codec::parse("snappy"), Some(Codec::Snappy));
        assert_eq!(Codec::parse("zstd:99"), None);
        assert_eq!(Codec::parse("gzip"), None);
    }
}
