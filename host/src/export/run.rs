//! One export run: plan which dates to write ([`plan`]), then write each one ([`run`]):
//! read the date from the store in keyset pages, feed one [`PartitionWriter`] per region,
//! put the finished files, delete what no longer belongs to the date, and write its
//! manifest last.
//!
//! Memory is bounded whatever the size of a day: one page of events (default 10 000), plus
//! per region one Arrow batch and one Parquet row group (`docs/export-schema.md`). Files
//! are staged on disk (in the object store's staging directory, or the system temporary
//! directory) and handed to the store whole, which streams them.
//!
//! Failures are data: an event whose time is not a time is skipped, counted and named; a
//! date whose read or upload fails is reported and its manifest is not written (so it is
//! exported again next run), and the other dates go on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use time::Date;

use super::layout::{self, day_prefix, manifest_key, object_key, region_partition};
use super::manifest::{self, DateManifest, Decision, ManifestFile};
use super::object_store::{staging_file, ObjectMeta, ObjectStore, PARQUET_CONTENT_TYPE};
use super::row;
use super::writer::{PartitionWriter, WriterSettings, WrittenFile, SCHEMA_VERSION};
use crate::store::Store;
use crate::timefmt;

/// Events read per store page.
pub const PAGE_SIZE: usize = 10_000;
/// Default lateness window: a date stays open (re-exported on every run) until this long
/// after its end. CloudTrail delivers most events within 15 minutes, a few much later.
pub const DEFAULT_LATENESS_SECS: i64 = 2 * 86_400;
/// How many skipped events a date report names (all are counted).
const NAMED_SKIPS: usize = 10;

/// How a run behaves.
#[derive(Debug, Clone)]
pub struct ExportSettings {
    pub page_size: usize,
    /// Seconds after a date's end during which it is still open.
    pub lateness: i64,
    /// Export every date in the range, changed or not.
    pub force: bool,
    pub writer: WriterSettings,
    /// The run's time (epoch seconds), for open dates and `exported_at`.
    pub now: i64,
}

impl Default for ExportSettings {
    fn default() -> Self {
        ExportSettings {
            page_size: PAGE_SIZE,
            lateness: DEFAULT_LATENESS_SECS,
            force: false,
            writer: WriterSettings::default(),
            now: timefmt::now(),
        }
    }
}

/// What happened to one date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DateReport {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub decision: Decision,
    /// The store's count for the date.
    pub store_count: u64,
    pub rows: u64,
    pub files: usize,
    pub bytes: u64,
    /// Objects deleted because they no longer belong to the date (a region without events
    /// now, or a file in another naming).
    pub deleted: usize,
    /// Events that could not become rows.
    pub skipped: u64,
    /// The first few of them, named.
    pub skipped_events: Vec<String>,
    /// Why the date failed (nothing of it is recorded as exported).
    pub error: Option<String>,
}

impl DateReport {
    fn new(date: Date, decision: Decision, store_count: u64) -> Self {
        DateReport {
            date: layout::iso(date),
            decision,
            store_count,
            rows: 0,
            files: 0,
            bytes: 0,
            deleted: 0,
            skipped: 0,
            skipped_events: Vec::new(),
            error: None,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExportReport {
    /// The store read (`local:/dir`).
    pub store: String,
    /// The object store written (`file:/dir`, `s3://bucket/prefix`).
    pub target: String,
    pub dates: Vec<DateReport>,
    pub seconds: f64,
}

impl ExportReport {
    /// 0: everything exported; 1: some date failed or some events were skipped.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.dates.iter().any(|d| d.error.is_some() || d.skipped > 0))
    }

    /// Totals over the dates: (rows, files, bytes, skipped events).
    pub fn totals(&self) -> (u64, usize, u64, u64) {
        self.dates.iter().fold((0, 0, 0, 0), |(r, f, b, s), d| (r + d.rows, f + d.files, b + d.bytes, s + d.skipped))
    }
}

/// Progress callbacks (bars on a terminal, log lines otherwise).
pub trait ExportObserver {
    /// The plan: the dates to write and their events in total.
    fn planned(&mut self, _dates: usize, _events: u64) {}
    /// A date starts.
    fn date_started(&mut self, _date: &str, _decision: Decision, _events: u64) {}
    /// `n` more events of the current date were read and written.
    fn events_done(&mut self, _n: u64) {}
    /// A date ended (written, unchanged, or failed).
    fn date_done(&mut self, _report: &DateReport) {}
}

/// An observer that ignores everything.
pub struct Quiet;
impl ExportObserver for Quiet {}

/// One date of the plan.
#[derive(Debug, Clone)]
pub struct PlannedDate {
    pub date: Date,
    pub decision: Decision,
    pub store_count: u64,
    pub previous: Option<DateManifest>,
}

/// Every date from `from` to `to`, inclusive.
pub fn date_range(from: Date, to: Date) -> Vec<Date> {
    let mut out = Vec::new();
    let mut d = from;
    while d <= to {
        out.push(d);
        match d.next_day() {
            Some(n) => d = n,
            None => break,
        }
    }
    out
}

/// Midnight UTC of a date, in epoch seconds.
fn midnight(date: Date) -> i64 {
    date.midnight().assume_utc().unix_timestamp()
}

/// Decide every date of `dates`: the store's count, the manifest, the rule of
/// [`manifest::decide`]. A store or manifest read that fails is that date's error.
// The error side is the date's whole report, which the caller keeps as is; boxing it would
// only add an allocation per failed date.
#[allow(clippy::result_large_err)]
pub fn plan(
    store: &dyn Store,
    sink: &dyn ObjectStore,
    dates: &[Date],
    settings: &ExportSettings,
) -> Vec<Result<PlannedDate, DateReport>> {
    dates
        .iter()
        .map(|&date| {
            let iso = layout::iso(date);
            let fail = |decision, e: String| {
                let mut r = DateReport::new(date, decision, 0);
                r.error = Some(e);
                r
            };
            let store_count = store.date_count(&iso).map_err(|e| fail(Decision::New, e.to_string()))?;
            let previous = sink
                .get(&manifest_key(date))
                .map_err(|e| fail(Decision::New, format!("cannot read the manifest: {e}")))?
                .and_then(|b| DateManifest::parse(&b));
            let open = manifest::is_open(midnight(date), settings.now, settings.lateness);
            let decision = manifest::decide(store_count, open, previous.as_ref(), settings.force);
            Ok(PlannedDate { date, decision, store_count, previous })
        })
        .collect()
}

/// Plan and write `dates`.
pub fn run(
    store: &dyn Store,
    sink: &dyn ObjectStore,
    dates: &[Date],
    settings: &ExportSettings,
    observer: &mut dyn ExportObserver,
) -> ExportReport {
    let started = Instant::now();
    let planned = plan(store, sink, dates, settings);
    let (n, events) = planned
        .iter()
        .filter_map(|p| p.as_ref().ok())
        .filter(|p| p.decision.exports())
        .fold((0, 0), |(n, e), p| (n + 1, e + p.store_count));
    observer.planned(n, events);
    let mut report = ExportReport { store: store.describe(), target: sink.describe(), ..ExportReport::default() };
    for p in planned {
        let r = match p {
            Err(r) => r,
            Ok(p) if !p.decision.exports() => DateReport::new(p.date, p.decision, p.store_count),
            Ok(p) => {
                observer.date_started(&layout::iso(p.date), p.decision, p.store_count);
                export_date(store, sink, &p, settings, observer)
            }
        };
        observer.date_done(&r);
        // Dates with no events and nothing exported are not worth a line.
        if r.decision != Decision::Empty || r.error.is_some() {
            report.dates.push(r);
        }
    }
    report.seconds = started.elapsed().as_secs_f64();
    report
}

/// The metadata of an exported Parquet object.
pub fn parquet_meta(settings: &WriterSettings) -> ObjectMeta {
    let metadata = [
        ("format", "parquet".to_string()),
        ("compression", settings.codec.label()),
        ("created_by", format!("iam-tracker {}", env!("CARGO_PKG_VERSION"))),
        ("schema_version", SCHEMA_VERSION.to_string()),
    ];
    ObjectMeta {
        content_type: PARQUET_CONTENT_TYPE.into(),
        metadata: metadata.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
    }
}

/// Where files are staged before they are put.
fn staging_dir(sink: &dyn ObjectStore) -> Result<PathBuf, String> {
    let dir = sink.staging_dir().unwrap_or_else(|| std::env::temp_dir().join("iam-tracker-export"));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create the staging directory {}: {e}", dir.display()))?;
    Ok(dir)
}

/// Write one date; never panics, failures land in the report.
fn export_date(
    store: &dyn Store,
    sink: &dyn ObjectStore,
    p: &PlannedDate,
    settings: &ExportSettings,
    observer: &mut dyn ExportObserver,
) -> DateReport {
    let mut report = DateReport::new(p.date, p.decision, p.store_count);
    let mut staged: Vec<PathBuf> = Vec::new();
    if let Err(e) = write_date(store, sink, p, settings, observer, &mut report, &mut staged) {
        report.error = Some(e);
    }
    for path in staged {
        let _ = std::fs::remove_file(path);
    }
    report
}

fn write_date(
    store: &dyn Store,
    sink: &dyn ObjectStore,
    p: &PlannedDate,
    settings: &ExportSettings,
    observer: &mut dyn ExportObserver,
    report: &mut DateReport,
    staged: &mut Vec<PathBuf>,
) -> Result<(), String> {
    let iso = layout::iso(p.date);
    let dir = staging_dir(sink)?;
    let mut writers: BTreeMap<String, PartitionWriter> = BTreeMap::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.events_page(&iso, after.as_deref(), settings.page_size.max(1)).map_err(|e| e.to_string())?;
        let Some(last) = page.last() else { break };
        after = Some(last.event_id.clone());
        for ev in &page {
            let row = match row::derive(ev) {
                Ok(r) => r,
                Err(e) => {
                    report.skipped += 1;
                    if report.skipped_events.len() < NAMED_SKIPS {
                        report.skipped_events.push(e.to_string());
                    }
                    continue;
                }
            };
            let region = region_partition(row.aws_region);
            if !writers.contains_key(region) {
                let path = staging_file(&dir, &format!("events-{iso}-{region}"));
                staged.push(path.clone());
                let w = PartitionWriter::create(&path, &settings.writer).map_err(|e| e.to_string())?;
                writers.insert(region.to_string(), w);
            }
            if let Some(w) = writers.get_mut(region) {
                w.push(&row).map_err(|e| e.to_string())?;
            }
        }
        observer.events_done(page.len() as u64);
    }
    // Finish every file before putting any, so a write error leaves the target untouched.
    let mut finished: Vec<(String, WrittenFile)> = Vec::new();
    for (region, w) in writers {
        finished.push((region, w.finish().map_err(|e| e.to_string())?));
    }
    let meta = parquet_meta(&settings.writer);
    let mut files = Vec::new();
    for (region, f) in finished {
        let key = object_key(p.date, &region);
        let bytes = sink.put_file(&key, &f.path, &meta).map_err(|e| e.to_string())?;
        report.rows += f.rows;
        report.files += 1;
        report.bytes += bytes;
        files.push(ManifestFile { region, key, rows: f.rows, bytes });
    }
    // Everything else under the date's prefix is stale: a region with no events any more,
    // or a file in another naming (e.g. the original's `events_<date>_<HHMMSS>.parquet`,
    // whose rows would otherwise be counted twice).
    let keep: BTreeSet<&str> = files.iter().map(|f| f.key.as_str()).collect();
    for obj in sink.list(&day_prefix(p.date)).map_err(|e| e.to_string())? {
        if !keep.contains(obj.key.as_str()) {
            sink.delete(&obj.key).map_err(|e| e.to_string())?;
            report.deleted += 1;
        }
    }
    let manifest = DateManifest {
        date: iso,
        schema_version: SCHEMA_VERSION,
        store_count: p.store_count,
        rows: report.rows,
        skipped: report.skipped,
        closed: !manifest::is_open(midnight(p.date), settings.now, settings.lateness),
        exported_at: timefmt::rfc3339(settings.now),
        files,
    };
    let json_meta = ObjectMeta { content_type: "application/json".into(), metadata: BTreeMap::new() };
    sink.put_bytes(&manifest_key(p.date), &manifest.to_json(), &json_meta).map_err(|e| e.to_string())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn date_ranges_are_inclusive_and_cross_months() {
        let r = date_range(date!(2024 - 08 - 30), date!(2024 - 09 - 02));
        let iso: Vec<String> = r.into_iter().map(layout::iso).collect();
        assert_eq!(iso, ["2024-08-30", "2024-08-31", "2024-09-01", "2024-09-02"]);
        assert!(date_range(date!(2024 - 09 - 02), date!(2024 - 09 - 01)).is_empty());
    }

    #[test]
    fn the_exit_code_counts_failures_and_skips() {
        let mut r = ExportReport::default();
        r.dates.push(DateReport::new(date!(2024 - 09 - 08), Decision::New, 3));
        assert_eq!(r.exit_code(), 0);
        r.dates[0].skipped = 1;
        assert_eq!(r.exit_code(), 1);
        r.dates[0].skipped = 0;
        r.dates[0].error = Some("boom".into());
        assert_eq!(r.exit_code(), 1);
    }
}
