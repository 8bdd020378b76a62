//! The Parquet exporter end to end: a local store with fixture events (several dates, with
//! single-digit months and days, several regions, events without a region, an event whose
//! time is not a time) exported to a local directory and to S3 on moto; the files read back
//! with parquet-rs, and with pyarrow and DuckDB (independent readers).

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use iam_tracker::collect::run::stored_event;
use iam_tracker::event::CloudTrailEvent;
use iam_tracker::export::layout::{self, object_key};
use iam_tracker::export::manifest::{DateManifest, Decision};
use iam_tracker::export::object_store::{LocalDirStore, ObjectMeta, ObjectStore};
use iam_tracker::export::run::{self, ExportReport, ExportSettings, Quiet};
use iam_tracker::export::writer::{arrow_schema, WriterSettings};
use iam_tracker::store::local::LocalStore;
use iam_tracker::store::{Batch, Progress, Store, StoredEvent};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use time::macros::date;
use time::Date;

use crate::support;

/// 2024-11-01T00:00:00Z: every fixture date is closed.
const LATER: i64 = 1_730_419_200;
/// 2024-09-08T12:00:00Z: 2024-09-08 is open.
const SEPT_8_NOON: i64 = 1_725_796_800;

fn record(id: &str, time: &str, region: Option<&str>, error: Option<&str>) -> StoredEvent {
    let mut r = serde_json::json!({
        "eventVersion": "1.08",
        "eventSource": "sts.amazonaws.com",
        "eventName": "AssumeRole",
        "eventID": id,
        "eventTime": time,
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"},
        "requestParameters": {"roleArn": "arn:aws:iam::111122223333:role/admin", "roleSessionName": format!("s-{id}")},
        "responseElements": {"assumedRoleUser": {"arn": "arn:aws:sts::111122223333:assumed-role/admin/s"},
                             "credentials": {"expiration": "Sep 8, 2024, 1:00:00 PM"}},
        "recipientAccountId": "111122223333"
    });
    if let Some(region) = region {
        r["awsRegion"] = region.into();
    }
    if let Some(code) = error {
        r["errorCode"] = code.into();
        r["errorMessage"] = "denied".into();
        r["responseElements"] = serde_json::Value::Null;
    }
    let ev = CloudTrailEvent::parse(&r.to_string()).expect("fixture record parses");
    // An event whose time is not a time is dated by "now" = 2024-09-08 noon.
    stored_event(&ev, Some("alice"), SEPT_8_NOON)
}

/// 2024-09-08: 3 us-east-1 (one failed call), 2 eu-west-1, 1 without region, 1 whose time
/// is not a time. 2024-10-15: 2 us-east-1.
fn fixture() -> Vec<StoredEvent> {
    vec![
        record("a1", "2024-09-08T01:00:00Z", Some("us-east-1"), None),
        record("a2", "2024-09-08T02:00:00Z", Some("us-east-1"), Some("AccessDenied")),
        record("a3", "2024-09-08T03:00:00Z", Some("us-east-1"), None),
        record("b1", "2024-09-08T04:00:00Z", Some("eu-west-1"), None),
        record("b2", "2024-09-08T05:00:00Z", Some("eu-west-1"), None),
        record("c1", "2024-09-08T06:00:00Z", None, None),
        record("bad", "redacted", Some("us-east-1"), None),
        record("d1", "2024-10-15T10:00:00Z", Some("us-east-1"), None),
        record("d2", "2024-10-15T11:00:00Z", Some("us-east-1"), None),
    ]
}

fn store_with(dir: &Path, events: Vec<StoredEvent>) -> LocalStore {
    let mut store = LocalStore::open(dir).expect("local store");
    add(&mut store, events);
    store
}

fn add(store: &mut LocalStore, events: Vec<StoredEvent>) {
    let batch = Batch { events, alerts: Vec::new(), progress: Progress::None, task: None, now: 0 };
    store.commit(&batch).expect("commit fixture events");
}

fn settings(now: i64) -> ExportSettings {
    ExportSettings { now, ..ExportSettings::default() }
}

fn export(store: &LocalStore, sink: &dyn ObjectStore, from: Date, to: Date, s: &ExportSettings) -> ExportReport {
    run::run(store, sink, &run::date_range(from, to), s, &mut Quiet)
}

fn by_date(r: &ExportReport) -> BTreeMap<String, (Decision, u64, usize)> {
    r.dates.iter().map(|d| (d.date.clone(), (d.decision, d.rows, d.files))).collect()
}

/// Rows per file, and every file's Arrow schema checked against the writer's.
fn read_rows(path: &Path) -> (usize, usize) {
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).expect("open exported file"))
        .expect("a Parquet file");
    assert_eq!(b.schema().fields(), arrow_schema().fields(), "{}", path.display());
    let groups = b.metadata().num_row_groups();
    let rows = b.build().expect("reader").map(|batch| batch.expect("batch").num_rows()).sum();
    (rows, groups)
}

fn parquet_keys(sink: &dyn ObjectStore) -> Vec<String> {
    sink.list("iam-events/").expect("list").into_iter().map(|o| o.key).filter(|k| k.ends_with(".parquet")).collect()
}

#[test]
fn exports_one_file_per_date_and_region_with_nulls_types_and_a_named_skip() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = store_with(&tmp.path().join("store"), fixture());
    let sink = LocalDirStore::new(tmp.path().join("export")).expect("export dir");
    let r = export(&store, &sink, date!(2024 - 09 - 07), date!(2024 - 10 - 16), &settings(LATER));

    let want: BTreeMap<String, (Decision, u64, usize)> =
        [("2024-09-08".to_string(), (Decision::New, 6, 3)), ("2024-10-15".to_string(), (Decision::New, 2, 1))].into();
    assert_eq!(by_date(&r), want, "{r:#?}");
    // The record whose time is not a time is skipped, counted and named; the run says so.
    let sept = &r.dates[0];
    assert_eq!((sept.store_count, sept.skipped), (7, 1));
    assert!(sept.skipped_events[0].contains("event bad of 2024-09-08: event_time `redacted`"), "{sept:?}");
    assert_eq!(r.exit_code(), 1);

    let keys = parquet_keys(&sink);
    assert_eq!(
        keys,
        [
            "iam-events/year=2024/month=10/day=15/region=us-east-1/events-2024-10-15-us-east-1.parquet",
            "iam-events/year=2024/month=9/day=8/region=eu-west-1/events-2024-09-08-eu-west-1.parquet",
            "iam-events/year=2024/month=9/day=8/region=unknown/events-2024-09-08-unknown.parquet",
            "iam-events/year=2024/month=9/day=8/region=us-east-1/events-2024-09-08-us-east-1.parquet",
        ]
    );
    let rows: Vec<usize> = keys.iter().map(|k| read_rows(&sink.root().join(k)).0).collect();
    assert_eq!(rows, [2, 2, 1, 3]);

    // Values: nulls where absent, typed time and date, derived columns.
    let file = sink.root().join(object_key(date!(2024 - 09 - 08), "us-east-1"));
    let batch = ParquetRecordBatchReaderBuilder::try_new(File::open(file).expect("open"))
        .expect("parquet")
        .build()
        .expect("reader")
        .next()
        .expect("one batch")
        .expect("batch");
    let col = |name: &str| batch.column_by_name(name).unwrap_or_else(|| panic!("column {name}")).clone();
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, TimestampMillisecondType};
    use arrow_array::Array;
    let ids = col("event_id");
    let ids = ids.as_string::<i32>();
    let failed = (0..batch.num_rows()).find(|&i| ids.value(i) == "a2").expect("a2 exported");
    assert_eq!(col("event_time").as_primitive::<TimestampMillisecondType>().value(failed), 1_725_760_800_000);
    assert_eq!(col("event_date").as_primitive::<Date32Type>().value(failed), 19_974);
    assert!(col("is_error").as_boolean().value(failed));
    assert!(col("response_elements").is_null(failed), "JSON null is a null, not '' or 'null'");
    assert!(col("assumed_role_user").is_null(failed));
    assert!(col("user_agent").is_null(failed), "absent is null");
    assert_eq!(col("role_arn").as_string::<i32>().value(failed), "arn:aws:iam::111122223333:role/admin");
    assert_eq!(col("error_code").as_string::<i32>().value(failed), "AccessDenied");
    let ok = (0..batch.num_rows()).find(|&i| ids.value(i) == "a1").expect("a1 exported");
    assert!(!col("is_error").as_boolean().value(ok));
    assert!(col("error_code").is_null(ok));
    assert_eq!(col("credentials_expiration").as_string::<i32>().value(ok), "Sep 8, 2024, 1:00:00 PM");
    assert_eq!(col("identity_type").as_string::<i32>().value(ok), "IAMUser");

    // The manifest records what was written.
    let m = DateManifest::parse(&sink.get("iam-events/_manifest/2024-09-08.json").expect("get").expect("manifest"))
        .expect("manifest parses");
    assert_eq!((m.store_count, m.rows, m.skipped, m.closed, m.files.len()), (7, 6, 1, true, 3));
    assert_eq!(m.files.iter().map(|f| f.rows).sum::<u64>(), 6);
}

#[test]
fn closed_dates_are_skipped_until_their_count_changes() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut store = store_with(&tmp.path().join("store"), fixture());
    let sink = LocalDirStore::new(tmp.path().join("export")).expect("export dir");
    let (from, to) = (date!(2024 - 09 - 01), date!(2024 - 10 - 31));
    export(&store, &sink, from, to, &settings(LATER));
    let manifest_before = sink.get("iam-events/_manifest/2024-10-15.json").expect("get");

    let again = export(&store, &sink, from, to, &settings(LATER + 3600));
    let decisions: Vec<Decision> = again.dates.iter().map(|d| d.decision).collect();
    assert_eq!(decisions, [Decision::Unchanged, Decision::Unchanged], "{again:#?}");
    assert_eq!((again.totals().0, again.totals().1), (0, 0), "nothing written");
    assert_eq!(sink.get("iam-events/_manifest/2024-10-15.json").expect("get"), manifest_before, "not rewritten");

    // A late event for 2024-10-15: that date, and only it, is exported again, replacing its file.
    add(&mut store, vec![record("d3", "2024-10-15T12:00:00Z", Some("us-east-1"), None)]);
    let third = export(&store, &sink, from, to, &settings(LATER + 7200));
    assert_eq!(
        by_date(&third),
        [
            ("2024-09-08".to_string(), (Decision::Unchanged, 0, 0)),
            ("2024-10-15".to_string(), (Decision::CountChanged, 3, 1)),
        ]
        .into()
    );
    let key = object_key(date!(2024 - 10 - 15), "us-east-1");
    assert_eq!(read_rows(&sink.root().join(&key)).0, 3);
    assert_eq!(parquet_keys(&sink).len(), 4, "replaced, not added");

    // --force rewrites unchanged dates.
    let forced = export(&store, &sink, from, to, &ExportSettings { force: true, ..settings(LATER + 9000) });
    assert!(forced.dates.iter().all(|d| d.decision == Decision::Forced), "{forced:#?}");
}

/// The original wrote `month=9/day=8` but looked for `month=09/day=08`, so 2024-09-08 was
/// exported again on every run as a new file and its rows multiplied in Athena. Here a date
/// with a single-digit month and day, exported twice (it is open, so it must be), has one
/// object per region and each event once; a file left by the original's naming under the
/// date, and a region that has no events any more, are removed.
#[test]
fn a_single_digit_date_exported_twice_has_one_object_per_region_and_no_duplicate_rows() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = store_with(&tmp.path().join("store"), fixture());
    let sink = LocalDirStore::new(tmp.path().join("export")).expect("export dir");
    let d = date!(2024 - 09 - 08);
    let leftovers = [
        "iam-events/year=2024/month=9/day=8/region=us-east-1/events_2024-09-08_101112.parquet".to_string(),
        object_key(d, "ap-south-1"),
    ];
    for k in &leftovers {
        sink.put_bytes(k, b"stale", &ObjectMeta::default()).expect("seed a stale object");
    }
    let first = export(&store, &sink, d, d, &settings(SEPT_8_NOON));
    assert_eq!(first.dates[0].deleted, 2, "{first:#?}");
    let manifest = DateManifest::parse(&sink.get(&layout::manifest_key(d)).expect("get").expect("manifest"))
        .expect("manifest parses");
    assert!(!manifest.closed, "exported while open");

    let second = export(&store, &sink, d, d, &settings(SEPT_8_NOON + 60));
    assert_eq!(second.dates[0].decision, Decision::Open, "an open date is exported again");
    let keys = parquet_keys(&sink);
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with("iam-events/year=2024/month=9/day=8/")), "{keys:?}");
    let total: usize = keys.iter().map(|k| read_rows(&sink.root().join(k)).0).sum();
    assert_eq!(total, 6, "each event once (the 7th has no valid time)");

    // Once the date has closed: one last export marks it closed, then it is left alone.
    let closing = export(&store, &sink, d, d, &settings(LATER));
    assert_eq!(closing.dates[0].decision, Decision::Open);
    let after = export(&store, &sink, d, d, &settings(LATER + 60));
    assert_eq!(after.dates[0].decision, Decision::Unchanged);
}

#[test]
fn small_pages_and_row_groups_keep_every_row_in_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let events: Vec<StoredEvent> = (0..250)
        .map(|i| {
            let region = ["us-east-1", "eu-west-1", "ap-southeast-2"][i % 3];
            record(&format!("e{i:04}"), &format!("2025-01-05T{:02}:{:02}:00Z", i / 60, i % 60), Some(region), None)
        })
        .collect();
    let store = store_with(&tmp.path().join("store"), events);
    let sink = LocalDirStore::new(tmp.path().join("export")).expect("export dir");
    let writer = WriterSettings { batch_rows: 7, row_group_rows: 20, ..WriterSettings::default() };
    let s = ExportSettings { page_size: 13, writer, ..settings(LATER + 100 * 86_400) };
    let r = export(&store, &sink, date!(2025 - 01 - 05), date!(2025 - 01 - 05), &s);
    assert_eq!((r.dates[0].rows, r.dates[0].files, r.exit_code()), (250, 3, 0), "{r:#?}");
    let mut rows = 0;
    for k in parquet_keys(&sink) {
        let (n, groups) = read_rows(&sink.root().join(&k));
        assert_eq!(groups, n.div_ceil(20), "{k}: row groups of at most 20 rows");
        rows += n;
    }
    assert_eq!(rows, 250);
}

/// The Parquet schema of an exported file, as text, is checked in: a change to a column's
/// type, name, nullability or logical type shows up in review.
#[test]
fn the_parquet_schema_matches_the_snapshot() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = store_with(&tmp.path().join("store"), fixture());
    let sink = LocalDirStore::new(tmp.path().join("export")).expect("export dir");
    export(&store, &sink, date!(2024 - 10 - 15), date!(2024 - 10 - 15), &settings(LATER));
    let path = sink.root().join(object_key(date!(2024 - 10 - 15), "us-east-1"));
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(path).expect("open")).expect("parquet");
    let mut text = String::from("# Arrow schema (name: type, nullable)\n");
    for f in b.schema().fields() {
        text.push_str(&format!("{}: {}{}\n", f.name(), f.data_type(), if f.is_nullable() { "" } else { " NOT NULL" }));
    }
    text.push_str("\n# Parquet schema\n");
    let mut buf = Vec::new();
    parquet::schema::printer::print_schema(&mut buf, b.metadata().file_metadata().schema());
    text.push_str(&String::from_utf8(buf).expect("utf-8 schema text"));
    let kv = b.metadata().file_metadata().key_value_metadata().cloned().unwrap_or_default();
    let version = kv.iter().find(|k| k.key == "iam_tracker.schema_version").and_then(|k| k.value.clone());
    text.push_str(&format!("\n# key-value metadata\niam_tracker.schema_version = {}\n", version.unwrap_or_default()));
    let snapshot = support::root().join("host/tests/snapshots/export-schema.txt");
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(snapshot.parent().expect("parent")).expect("mkdir");
        std::fs::write(&snapshot, &text).expect("write snapshot");
    }
    let have = std::fs::read_to_string(&snapshot).unwrap_or_default();
    assert!(
        have == text,
        "the exported schema changed; review and run `UPDATE_SNAPSHOTS=1 cargo test -p iam-tracker --test it export::`\n{text}"
    );
}

/// The interpreter with pyarrow and duckdb: `$IAM_TRACKER_ARROW_PYTHON`, else
/// `target/arrow-venv/bin/python` (`cargo xtask pyarrow`). Missing is a failure, never a
/// silent skip: CI installs it (`cargo xtask test`).
fn arrow_python() -> PathBuf {
    let p = std::env::var_os("IAM_TRACKER_ARROW_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| support::root().join("target/arrow-venv/bin/python"));
    assert!(p.exists(), "{} is missing: run `cargo xtask pyarrow` (installs pyarrow, pandas, duckdb)", p.display());
    p
}

const READ_BACK: &str = r#"
import json, sys, glob, os
import pyarrow.parquet as pq, duckdb
root = sys.argv[1]
files = sorted(glob.glob(os.path.join(root, "iam-events/**/*.parquet"), recursive=True))
out = {"pyarrow": {}, "duckdb": {}}
for f in files:
    t = pq.read_table(f)
    out["pyarrow"][os.path.relpath(f, root)] = {"rows": t.num_rows, "types": {fld.name: str(fld.type) for fld in t.schema}}
pattern = os.path.join(root, "iam-events/*/*/*/*/*.parquet")
con = duckdb.connect()
rel = con.sql(f"SELECT * FROM read_parquet('{pattern}', hive_partitioning = true)")
out["duckdb"]["types"] = dict(zip(rel.columns, [str(t) for t in rel.types]))
out["duckdb"]["partitions"] = con.sql(
    f"SELECT year, month, day, region, count(*) FROM read_parquet('{pattern}', hive_partitioning = true) "
    "GROUP BY ALL ORDER BY ALL").fetchall()
out["duckdb"]["errors"] = con.sql(
    f"SELECT count(*) FROM read_parquet('{pattern}') WHERE is_error AND event_time < TIMESTAMPTZ '2024-09-09 00:00:00+00'"
).fetchall()[0][0]
print(json.dumps(out, default=str))
"#;

#[test]
fn pyarrow_and_duckdb_read_the_files_with_the_right_types() {
    let python = arrow_python();
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = store_with(&tmp.path().join("store"), fixture());
    let sink = LocalDirStore::new(tmp.path().join("export")).expect("export dir");
    export(&store, &sink, date!(2024 - 09 - 01), date!(2024 - 10 - 31), &settings(LATER));
    let out = std::process::Command::new(&python)
        .args(["-c", READ_BACK])
        .arg(sink.root())
        .output()
        .expect("run the Python reader");
    assert!(out.status.success(), "python failed:\n{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("reader prints JSON");

    let files = v["pyarrow"].as_object().expect("files");
    assert_eq!(files.len(), 4);
    let rows: u64 = files.values().map(|f| f["rows"].as_u64().expect("rows")).sum();
    assert_eq!(rows, 8);
    let one = &files["iam-events/year=2024/month=9/day=8/region=us-east-1/events-2024-09-08-us-east-1.parquet"];
    assert_eq!(one["rows"], 3);
    let types = &one["types"];
    assert_eq!(types["event_time"], "timestamp[ms, tz=UTC]");
    assert_eq!(types["event_date"], "date32[day]");
    assert_eq!(types["is_error"], "bool");
    assert_eq!(types["event_id"], "string");
    assert_eq!(types["request_parameters"], "string");
    assert_eq!(types.as_object().expect("types").len(), iam_tracker::export::schema::COLUMNS.len());

    let d = &v["duckdb"];
    assert_eq!(d["types"]["event_time"], "TIMESTAMP WITH TIME ZONE");
    assert_eq!(d["types"]["event_date"], "DATE");
    assert_eq!(d["types"]["is_error"], "BOOLEAN");
    assert_eq!(d["types"]["month"], "BIGINT", "hive partitions without leading zeros read as numbers");
    let parts: Vec<String> = d["partitions"]
        .as_array()
        .expect("partitions")
        .iter()
        .map(|p| {
            p.as_array().expect("row").iter().map(|c| c.to_string().replace('"', "")).collect::<Vec<_>>().join(" ")
        })
        .collect();
    assert_eq!(
        parts,
        ["2024 9 8 eu-west-1 2", "2024 9 8 unknown 1", "2024 9 8 us-east-1 3", "2024 10 15 us-east-1 2"],
        "{d}"
    );
    assert_eq!(d["errors"], 1, "typed predicates work on the typed columns");
}

#[cfg(feature = "aws")]
mod s3 {
    use super::*;
    use crate::support::moto;
    use iam_tracker::aws::s3_put::S3ObjectStore;

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime")
    }

    fn client(rt: &tokio::runtime::Runtime) -> (aws_config::SdkConfig, aws_sdk_s3::Client) {
        let conf = rt.block_on(moto::sdk_config());
        let client =
            aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
        (conf, client)
    }

    #[test]
    fn exports_to_s3_with_content_type_metadata_and_layout() {
        let rt = rt();
        let (conf, client) = client(&rt);
        let bucket = moto::unique_name("export");
        rt.block_on(client.create_bucket().bucket(&bucket).send()).expect("create bucket");
        let sink = S3ObjectStore::from_sdk_config(&conf, &bucket, "analytics/").expect("s3 store");
        assert_eq!(sink.describe(), format!("s3://{bucket}/analytics/"));

        let tmp = tempfile::tempdir().expect("tempdir");
        let store = store_with(&tmp.path().join("store"), fixture());
        let (from, to) = (date!(2024 - 09 - 01), date!(2024 - 10 - 31));
        let r = export(&store, &sink, from, to, &settings(LATER));
        assert_eq!(by_date(&r).values().map(|v| v.1).sum::<u64>(), 8, "{r:#?}");
        assert!(r.dates.iter().all(|d| d.error.is_none()), "{r:#?}");

        let listed = rt.block_on(client.list_objects_v2().bucket(&bucket).prefix("analytics/").send()).expect("list");
        let keys: Vec<&str> = listed.contents().iter().filter_map(|o| o.key()).collect();
        assert_eq!(
            keys,
            [
                "analytics/iam-events/_manifest/2024-09-08.json",
                "analytics/iam-events/_manifest/2024-10-15.json",
                "analytics/iam-events/year=2024/month=10/day=15/region=us-east-1/events-2024-10-15-us-east-1.parquet",
                "analytics/iam-events/year=2024/month=9/day=8/region=eu-west-1/events-2024-09-08-eu-west-1.parquet",
                "analytics/iam-events/year=2024/month=9/day=8/region=unknown/events-2024-09-08-unknown.parquet",
                "analytics/iam-events/year=2024/month=9/day=8/region=us-east-1/events-2024-09-08-us-east-1.parquet",
            ]
        );
        let key = format!("analytics/{}", object_key(date!(2024 - 09 - 08), "us-east-1"));
        let head = rt.block_on(client.head_object().bucket(&bucket).key(&key).send()).expect("head");
        assert_eq!(head.content_type(), Some("application/vnd.apache.parquet"));
        let meta = head.metadata().cloned().unwrap_or_default();
        assert_eq!(meta.get("format").map(String::as_str), Some("parquet"));
        assert_eq!(meta.get("compression").map(String::as_str), Some("zstd(1)"));
        assert_eq!(meta.get("schema_version").map(String::as_str), Some("1"));
        assert!(meta.get("created_by").is_some_and(|c| c.starts_with("iam-tracker ")), "{meta:?}");

        // The object is a Parquet file with the exported rows.
        let body = rt
            .block_on(async {
                client.get_object().bucket(&bucket).key(&key).send().await?.body.collect().await.map_err(Into::into)
            })
            .map_err(|e: Box<dyn std::error::Error>| e.to_string())
            .expect("get");
        let reader =
            ParquetRecordBatchReaderBuilder::try_new(body.into_bytes()).expect("parquet").build().expect("reader");
        assert_eq!(reader.map(|b| b.expect("batch").num_rows()).sum::<usize>(), 3);

        // Re-running finds the manifests on S3: nothing is written again.
        let again = export(&store, &sink, from, to, &settings(LATER + 60));
        assert!(again.dates.iter().all(|d| d.decision == Decision::Unchanged), "{again:#?}");
    }

    #[test]
    fn large_files_go_up_as_multipart_uploads_streamed_from_disk() {
        let rt = rt();
        let (conf, client) = client(&rt);
        let bucket = moto::unique_name("export-mpu");
        rt.block_on(client.create_bucket().bucket(&bucket).send()).expect("create bucket");
        let sink =
            S3ObjectStore::from_sdk_config(&conf, &bucket, "").expect("s3 store").with_multipart(5 << 20, 5 << 20);
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("big.parquet");
        let data: Vec<u8> = (0..(11u32 << 20)).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
        std::fs::write(&path, &data).expect("write the big file");
        let meta = run::parquet_meta(&WriterSettings::default());
        assert_eq!(sink.put_file("iam-events/big.parquet", &path, &meta).expect("multipart put"), data.len() as u64);
        let head =
            rt.block_on(client.head_object().bucket(&bucket).key("iam-events/big.parquet").send()).expect("head");
        assert_eq!(head.content_type(), Some("application/vnd.apache.parquet"));
        assert!(head.e_tag().is_some_and(|t| t.contains("-3")), "3 parts: {:?}", head.e_tag());
        assert_eq!(sink.get("iam-events/big.parquet").expect("get"), Some(data));
        assert_eq!(sink.get("iam-events/none.parquet").expect("get"), None);
        sink.delete("iam-events/big.parquet").expect("delete");
        assert_eq!(sink.list("iam-events/").expect("list"), []);
    }
}
