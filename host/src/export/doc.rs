//! `docs/export-schema.md`, generated from the schema ([`super::schema`]), the writer
//! settings ([`super::writer`]), the layout and the manifest rules, so the document cannot
//! drift from the code. A unit test compares the checked-in file with [`render`]; run
//! `UPDATE_SNAPSHOTS=1 cargo test -p iam-tracker --lib export::doc` to rewrite it after a
//! change.

use std::fmt::Write;

use super::layout::{self, MANIFEST_PREFIX, UNKNOWN_REGION};
use super::run::{DEFAULT_LATENESS_SECS, PAGE_SIZE};
use super::schema::{Column, COLUMNS, PARTITIONS, TABLE_PREFIX};
use super::writer::{
    arrow_type, BATCH_ROWS, CODEC, NO_STATS_COLUMNS, PLAIN_COLUMNS, ROW_GROUP_BYTES, ROW_GROUP_ROWS, SCHEMA_VERSION,
};

/// Why the writer settings are what they are (the comparison is `cargo xtask bench-export`).
const CHOICES: &str = "\
**Compression: zstd level 1.** zstd compresses text-heavy columns (JSON payloads, user
agents, ARNs) markedly better than snappy at a modest CPU cost, and every reader that
matters (Athena/Trino, DuckDB, pyarrow, Spark) reads it. Smaller files are what Athena bills
(bytes scanned) and what S3 stores. `cargo xtask bench-export` compares zstd(1/3/9), snappy,
no compression and no dictionaries on the benchmark's 1M events (time and bytes), and
`docs/benchmarks.md` records the numbers of the last run: there level 1 gave 40.0 MiB against
41.4 MiB for level 3 (and 67.8 MiB for snappy) in less time, so level 1 is the setting; level
9 saves another 3.5% for 24% more time.

**Row groups: up to 131,072 rows or 64 MiB encoded.** A row group is the unit readers skip
with statistics and read in parallel. The original wrote 10,000-row groups: a busy day
became many groups, each with its own column chunk headers and statistics, and compression
worked on small pages. 128 Ki rows keeps a typical day in one group per region file, while
the 64 MiB cap bounds the writer's memory (one open group per region) on a busy day.

**Dictionary encoding** for every column except the nearly unique ones (listed above):
event names, sources, types, regions, user names, error codes, identity types, ARNs and
account ids repeat heavily, so their pages become small integer indexes. Dictionaries on the
unique columns (ids, times, JSON payloads) would only cost memory before the writer falls
back to plain encoding.

**Statistics:** page-level min/max (and the page index) for every column but the JSON
payloads, so engines prune row groups and pages on `event_time`, `event_name`, `user_name`,
`error_code`... Min/max of JSON text prunes nothing.

**Timestamps** are INT64 `TIMESTAMP(MILLIS, isAdjustedToUTC=true)`, dates INT32 `DATE`;
Athena/Trino read them as `timestamp` and `date`, DuckDB as `TIMESTAMP WITH TIME ZONE` and
`DATE`, pyarrow as `timestamp[ms, tz=UTC]` and `date32`. Event times keep second precision
(the store normalises `eventTime` to seconds).";

fn column_rows(out: &mut String, cols: &[Column], with_arrow: bool) {
    if with_arrow {
        out.push_str("| column | Athena type | Arrow type | nullable | what |\n|---|---|---|---|---|\n");
    } else {
        out.push_str("| column | Athena type | what |\n|---|---|---|\n");
    }
    for c in cols {
        if with_arrow {
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} | {} |",
                c.name,
                c.ty.athena(),
                arrow_type(c.ty),
                if c.nullable { "yes" } else { "no" },
                c.doc.replace('|', "\\|")
            );
        } else {
            let _ = writeln!(out, "| `{}` | {} | {} |", c.name, c.ty.athena(), c.doc.replace('|', "\\|"));
        }
    }
}

fn list(names: &[&str]) -> String {
    names.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(", ")
}

/// The text of `docs/export-schema.md`.
pub fn render() -> String {
    let mut out = String::new();
    out.push_str(
        "# Exported table: schema, layout, files\n\n\
         <!-- Generated from host/src/export/ (schema.rs, writer.rs, layout.rs, manifest.rs) by\n     \
         host/src/export/doc.rs. Do not edit: change the code and run\n     \
         UPDATE_SNAPSHOTS=1 cargo test -p iam-tracker --lib export::doc -->\n\n",
    );
    let _ = writeln!(
        out,
        "`iam-tracker export` writes the stored events as Parquet files, one per (date, region), \
         under `{TABLE_PREFIX}/` in a local directory (default: `DIR/export/` beside the embedded \
         store in `DIR`) or an S3 prefix (`--to s3://bucket/prefix`). Athena reads them with \
         partition projection; `iam-tracker query --engine local` reads the local copy.\n\n\
         Schema version: {SCHEMA_VERSION} (in every file's key-value metadata as \
         `iam_tracker.schema_version`, and in every manifest).\n"
    );
    out.push_str("## Data columns (file order)\n\n");
    column_rows(&mut out, COLUMNS, true);
    out.push_str("\n## Partition columns (from the path, not stored in the files)\n\n");
    column_rows(&mut out, PARTITIONS, false);
    let d = time::macros::date!(2024 - 09 - 08);
    let _ = writeln!(
        out,
        "\n## Layout\n\n\
         ```\n{}\n```\n\n\
         - Month and day have **no leading zeros** (`month=9`, `day=8`), matching the projection \
         ranges `1,12` and `1,31`. One function (`export::layout`) spells the path for writing \
         and for checking what exists, so the original's bug (written as `month=9`, looked up as \
         `month=09`, so single-digit dates were re-exported with duplicate rows on every run) \
         cannot come back.\n\
         - One object per (date, region), with a deterministic name: exporting a date again \
         **replaces** its files. After writing a date, every other object under \
         `{}` is deleted (a region that has no events any more, or files in another naming such \
         as the original's `events_<date>_<HHMMSS>.parquet`).\n\
         - `region` is the event's `aws_region` when it is a region-like name (lowercase letters, \
         digits, `-`), else `{UNKNOWN_REGION}` (absent, or not safe as a path segment); the \
         `aws_region` column keeps the recorded value. The Athena region enum must list \
         `{UNKNOWN_REGION}` for those rows to be visible.\n",
        layout::object_key(d, "us-east-1"),
        layout::day_prefix(d),
    );
    let _ = writeln!(
        out,
        "## Manifest and idempotency\n\n\
         One JSON object per date, `{MANIFEST_PREFIX}YYYY-MM-DD.json` (Athena and Glue ignore \
         paths starting with `_`): the schema version, the store's event count for the date when \
         it was read, rows written, events skipped, whether the date was closed, `exported_at`, \
         and per file its region, key, rows and bytes. It is written last, after the files are in \
         place and stale ones deleted, so a crash mid-date only makes the next run export the \
         date again.\n\n\
         A date in the range is exported when:\n\
         - it has no manifest (never exported, or the manifest is unreadable), or\n\
         - the store's count for it differs from the manifest's (late events arrived, or events \
         expired; a date whose events are all gone gets its files deleted), or\n\
         - it is **open**: less than the lateness window (`--lateness`, `EXPORT_LATENESS`, \
         default {} days) has passed since its end (midnight UTC after it), or it was still open \
         at its last export; so a day is re-exported on every run until one export happens after \
         it closed, or\n\
         - the manifest has another schema version, or `--force` is given.\n\n\
         Otherwise it is skipped as unchanged. Without `--date`/`--since` a run looks at the last \
         `EXPORT_DAYS_BACK` days (default 7) up to today; `--since D` backfills from D.\n\n\
         Events whose `event_time` is not a time (the store keeps such records as received) are \
         skipped, counted in the manifest and named in the run summary, and the run exits 1.\n",
        DEFAULT_LATENESS_SECS / 86_400
    );
    let _ = writeln!(
        out,
        "## Writer settings and why\n\n\
         | setting | value |\n|---|---|\n\
         | compression | {} |\n\
         | row group | at most {ROW_GROUP_ROWS} rows or {} MiB encoded |\n\
         | batch handed to the writer | {BATCH_ROWS} rows |\n\
         | store page | {PAGE_SIZE} events |\n\
         | plain (no dictionary) columns | {} |\n\
         | columns without statistics | {} |\n\
         | statistics | page level (column index and offset index) |\n\
         | Parquet format | 1.0 data pages (the most widely read) |\n\
         | S3 object | `Content-Type: application/vnd.apache.parquet`, metadata `format`, `compression`, `created_by`, `schema_version` |\n\n\
         {CHOICES}\n\n\
         **Memory** stays bounded whatever the size of a day: one store page, plus per region one \
         Arrow batch and one open row group. Files are staged on disk and then put whole: renamed \
         into place locally (atomic), streamed to S3 (`PutObject` from the file, multipart above \
         64 MiB in 16 MiB parts).",
        CODEC.label(),
        ROW_GROUP_BYTES >> 20,
        list(PLAIN_COLUMNS),
        list(NO_STATS_COLUMNS),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_document_is_current() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/export-schema.md");
        let want = render();
        if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
            std::fs::write(&path, &want).expect("write docs/export-schema.md");
        }
        let have = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            have == want,
            "docs/export-schema.md is stale: run `UPDATE_SNAPSHOTS=1 cargo test -p iam-tracker --lib export::doc`"
        );
    }
}
