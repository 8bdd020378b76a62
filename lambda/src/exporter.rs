//! The `exporter` function: built once per container ([`Exporter::cold_start`]), then one
//! Parquet export per scheduled invocation ([`Exporter::run`]).
//!
//! Cold start reads the configuration (an invalid variable fails it, named) and connects the
//! DynamoDB store over `EVENTS_TABLE_NAME` and the S3 target, the bucket
//! `ANALYTICS_BUCKET_NAME` (objects under `iam-events/`, as `iam-tracker export` writes them
//! when that variable names its target). Every run reuses both.
//!
//! A run looks at the last `EXPORT_DAYS_BACK` days up to today ([`dates`], the CLI's rule) and
//! decides each date exactly as `iam-tracker export` does (`export::run`: new, changed and
//! open dates are written; closed, unchanged ones skipped). The export code has no deadline of
//! its own, so the run goes one date at a time, oldest first, and starts a date only while
//! the Lambda deadline leaves room for it (a safety margin plus the longest date so far). The
//! dates it cannot start are *deferred*: reported, counted as a problem, and picked up by the
//! next run, since nothing of them was recorded as exported. A single date that outlasts the
//! whole timeout is not cut short; the function times out and the date is exported again.

use std::time::{Duration, Instant};

use iam_tracker::export::manifest::Decision;
use iam_tracker::export::object_store::{ObjectStore, ObjectStoreError};
use iam_tracker::export::run::{self, DateReport, ExportObserver, ExportReport, ExportSettings};
use iam_tracker::export::{layout, progress};
use iam_tracker::store::{Store, StoreError};
use serde::Serialize;
use serde_json::{json, Value};
use time::Date;

use crate::config::ExporterConfig;

/// The time kept back from the Lambda deadline before starting a date.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(30);

/// The names given to the tables the exporter never touches. The store wants three tables;
/// the exporter only Queries the events table (`date_count`, `events_page`), so any stray
/// call to another one fails on this name, and the IAM policy grants nothing on it.
const UNUSED_TABLE: &str = "unused-by-the-exporter";

/// A cold start that cannot complete. The message says what and why.
#[derive(Debug, thiserror::Error)]
pub enum ColdStartError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("store: {0}")]
    Store(#[from] StoreError),
    #[error("export target: {0}")]
    Target(#[from] ObjectStoreError),
}

/// Everything a run needs, built once per container.
pub struct Exporter {
    cfg: ExporterConfig,
    store: Box<dyn Store + Send>,
    sink: Box<dyn ObjectStore + Send>,
}

/// What one invocation did: the export report, and the dates the deadline left for the next
/// run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Outcome {
    pub report: ExportReport,
    /// `YYYY-MM-DD` of every date not started because the deadline was near.
    pub deferred: Vec<String>,
}

impl Exporter {
    /// Build the container's state: the DynamoDB store over the events table and the S3
    /// target. Blocking (both adapters own a runtime): call it from a plain thread.
    pub fn cold_start(cfg: ExporterConfig) -> Result<Self, ColdStartError> {
        use iam_tracker::aws::dynamodb::{DynamoOptions, DynamoStore, TableNames};
        let tables =
            TableNames { events: cfg.events_table.clone(), control: UNUSED_TABLE.into(), alerts: UNUSED_TABLE.into() };
        let label = format!("dynamodb:{}", tables.events);
        let store = DynamoStore::connect(tables, label, None, DynamoOptions::default())?;
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
            ObjectStoreError::Io { op: "start", location: format!("s3://{}/", cfg.bucket), detail: e.to_string() }
        })?;
        let conf = rt.block_on(iam_tracker::aws::sdk_config(None));
        drop(rt);
        let sink = iam_tracker::aws::s3_put::S3ObjectStore::from_sdk_config(&conf, cfg.bucket.clone(), "")?;
        Ok(Self::from_parts(cfg, Box::new(store), Box::new(sink)))
    }

    /// Over any store and target (the tests use the embedded store and a local directory).
    pub fn from_parts(cfg: ExporterConfig, store: Box<dyn Store + Send>, sink: Box<dyn ObjectStore + Send>) -> Self {
        Exporter { cfg, store, sink }
    }

    /// Export the dates of [`dates`]`(now, EXPORT_DAYS_BACK)`, starting each only while
    /// `deadline` (minus [`SAFETY_MARGIN`] and the longest date so far) allows. Blocking.
    pub fn run(&self, now: i64, deadline: Instant) -> Outcome {
        let settings = ExportSettings { now, ..ExportSettings::default() };
        let mut outcome = Outcome {
            report: ExportReport {
                store: self.store.describe(),
                target: self.sink.describe(),
                ..ExportReport::default()
            },
            deferred: Vec::new(),
        };
        let started = Instant::now();
        let mut longest = Duration::ZERO;
        let mut observer = DateLogs(progress::Logs);
        let dates = dates(now, self.cfg.days_back);
        if let (Some(first), Some(last)) = (dates.first(), dates.last()) {
            tracing::info!(
                from = %layout::iso(*first),
                to = %layout::iso(*last),
                target = %outcome.report.target,
                "export run"
            );
        }
        for date in dates {
            let left = deadline.saturating_duration_since(Instant::now());
            if left < SAFETY_MARGIN + longest {
                outcome.deferred.push(layout::iso(date));
                continue;
            }
            let t = Instant::now();
            let one = run::run(self.store.as_ref(), self.sink.as_ref(), &[date], &settings, &mut observer);
            longest = longest.max(t.elapsed());
            outcome.report.dates.extend(one.dates);
        }
        if !outcome.deferred.is_empty() {
            tracing::warn!(deferred = ?outcome.deferred, "the deadline is near: these dates are left for the next run");
        }
        outcome.report.seconds = started.elapsed().as_secs_f64();
        outcome
    }
}

/// The CLI's log lines, without the plan line of each date that has nothing to write (the
/// run plans one date at a time).
struct DateLogs(progress::Logs);

impl ExportObserver for DateLogs {
    fn planned(&mut self, dates: usize, events: u64) {
        if dates > 0 {
            self.0.planned(dates, events);
        }
    }
    fn date_started(&mut self, date: &str, decision: Decision, events: u64) {
        self.0.date_started(date, decision, events);
    }
    fn events_done(&mut self, n: u64) {
        self.0.events_done(n);
    }
    fn date_done(&mut self, report: &DateReport) {
        self.0.date_done(report);
    }
}

/// The dates a run looks at: from `days_back` days before `now` to today (UTC), oldest
/// first, as `iam-tracker export` without `--date`/`--since`.
pub fn dates(now: i64, days_back: u32) -> Vec<Date> {
    let day = |epoch: i64| layout::parse_iso(&iam_tracker::timefmt::date_of(epoch));
    match (day(now - i64::from(days_back) * 86_400), day(now)) {
        (Some(from), Some(to)) => run::date_range(from, to),
        _ => Vec::new(),
    }
}

/// The dates that were written or tried (not the unchanged ones).
fn attempted(report: &ExportReport) -> impl Iterator<Item = &DateReport> {
    report.dates.iter().filter(|d| d.decision.exports() || d.error.is_some())
}

impl Outcome {
    /// Every date that was tried failed (and at least one was): the invocation fails, as
    /// `iam-tracker export` exits 2.
    pub fn failed(&self) -> bool {
        let mut tried = attempted(&self.report).peekable();
        tried.peek().is_some() && tried.all(|d| d.error.is_some())
    }

    fn dates_failed(&self) -> usize {
        self.report.dates.iter().filter(|d| d.error.is_some()).count()
    }

    /// `ok`, `partial` (a date failed, events were skipped or dates deferred) or `failed`.
    pub fn status(&self) -> &'static str {
        if self.failed() {
            "failed"
        } else if self.report.exit_code() != 0 || !self.deferred.is_empty() {
            "partial"
        } else {
            "ok"
        }
    }

    /// One line per failed date: `YYYY-MM-DD: why`.
    pub fn errors(&self) -> Vec<String> {
        self.report.dates.iter().filter_map(|d| d.error.as_ref().map(|e| format!("{}: {e}", d.date))).collect()
    }
}

/// The invocation's response: totals first, then the whole export report.
pub fn response(o: &Outcome) -> Value {
    let (rows, files, bytes, skipped) = o.report.totals();
    let exported: Vec<&str> =
        o.report.dates.iter().filter(|d| d.decision.exports() && d.error.is_none()).map(|d| d.date.as_str()).collect();
    let unchanged: Vec<&str> =
        o.report.dates.iter().filter(|d| d.decision == Decision::Unchanged).map(|d| d.date.as_str()).collect();
    json!({
        "status": o.status(),
        "dates_exported": exported,
        "dates_unchanged": unchanged,
        "dates_failed": o.dates_failed(),
        "dates_deferred": o.deferred,
        "rows": rows,
        "files": files,
        "bytes": bytes,
        "deleted": o.report.dates.iter().map(|d| d.deleted).sum::<usize>(),
        "events_skipped": skipped,
        "errors": o.errors(),
        "report": o.report,
    })
}

/// The partial-failure metrics of a run, for [`crate::emf::line`]: `Problems` (what the
/// template's `*-exporter-problems` alarm watches) is failed dates + skipped events +
/// deferred dates.
pub fn metrics(o: &Outcome) -> Vec<(&'static str, u64)> {
    let (rows, files, _, skipped) = o.report.totals();
    let failed = o.dates_failed() as u64;
    let deferred = o.deferred.len() as u64;
    vec![
        ("DatesFailed", failed),
        ("EventsSkipped", skipped),
        ("DatesDeferred", deferred),
        ("Problems", failed + skipped + deferred),
        ("RowsExported", rows),
        ("FilesWritten", files as u64),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use iam_tracker::collect::run::stored_event;
    use iam_tracker::event::CloudTrailEvent;
    use iam_tracker::export::object_store::LocalDirStore;
    use iam_tracker::store::local::LocalStore;
    use iam_tracker::store::{Batch, Progress, StoredEvent};

    /// 2024-09-10T12:00:00Z.
    const NOW: i64 = 1_725_969_600;

    fn event(id: &str, time: &str, region: &str) -> StoredEvent {
        let r = json!({
            "eventVersion": "1.08", "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
            "eventID": id, "eventTime": time, "awsRegion": region,
            "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"},
        });
        stored_event(&CloudTrailEvent::parse(&r.to_string()).expect("fixture parses"), Some("alice"), NOW)
    }

    fn cfg(days_back: u32) -> ExporterConfig {
        ExporterConfig { events_table: "t".into(), bucket: "b".into(), days_back, log_filter: "info".into() }
    }

    /// An embedded store with 2 events on 2024-09-05 (closed at NOW), 1 on 2024-09-10 (open).
    fn exporter(dir: &std::path::Path, days_back: u32) -> Exporter {
        let mut store = LocalStore::open(&dir.join("store")).expect("store");
        let events = vec![
            event("a", "2024-09-05T01:00:00Z", "us-east-1"),
            event("b", "2024-09-05T02:00:00Z", "eu-west-1"),
            event("c", "2024-09-10T03:00:00Z", "us-east-1"),
        ];
        store
            .commit(&Batch { events, alerts: vec![], progress: Progress::None, task: None, now: NOW })
            .expect("commit");
        let sink = LocalDirStore::new(dir.join("export")).expect("export dir");
        Exporter::from_parts(cfg(days_back), Box::new(store), Box::new(sink))
    }

    fn far() -> Instant {
        Instant::now() + Duration::from_secs(600)
    }

    #[test]
    fn dates_run_from_days_back_to_today_like_the_cli() {
        let iso: Vec<String> = dates(NOW, 2).into_iter().map(layout::iso).collect();
        assert_eq!(iso, ["2024-09-08", "2024-09-09", "2024-09-10"]);
        assert_eq!(dates(NOW, 0).len(), 1);
    }

    #[test]
    fn closed_dates_are_exported_once_and_open_ones_every_run() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ex = exporter(tmp.path(), 6);
        let first = ex.run(NOW, far());
        let body = response(&first);
        assert_eq!(body["status"], "ok", "{body:#}");
        assert_eq!(body["dates_exported"], json!(["2024-09-05", "2024-09-10"]), "{body:#}");
        assert_eq!((body["rows"].as_u64(), body["files"].as_u64()), (Some(3), Some(3)), "{body:#}");
        let second = response(&ex.run(NOW + 60, far()));
        assert_eq!(second["dates_unchanged"], json!(["2024-09-05"]), "{second:#}");
        assert_eq!(second["dates_exported"], json!(["2024-09-10"]), "the open date again: {second:#}");
        assert_eq!(second["files"], 1, "{second:#}");
        assert_eq!(metrics(&first).iter().find(|(n, _)| *n == "Problems"), Some(&("Problems", 0)));
    }

    #[test]
    fn a_near_deadline_defers_every_date_and_writes_nothing() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ex = exporter(tmp.path(), 6);
        let o = ex.run(NOW, Instant::now() + SAFETY_MARGIN / 2);
        assert_eq!(o.deferred.len(), 7);
        assert!(o.report.dates.is_empty());
        assert!(!o.failed(), "nothing was tried, nothing failed");
        assert_eq!(o.status(), "partial");
        assert_eq!(metrics(&o).iter().find(|(n, _)| *n == "Problems"), Some(&("Problems", 7)));
        assert!(!tmp.path().join("export/iam-events").exists());
    }

    #[test]
    fn every_date_failing_fails_the_run_and_names_the_dates() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ex = exporter(tmp.path(), 6);
        // The manifests can be read (there are none), but no Parquet file can be put: a file
        // is in the way of `iam-events/year=2024/`.
        std::fs::create_dir_all(tmp.path().join("export/iam-events")).expect("mkdir");
        std::fs::write(tmp.path().join("export/iam-events/year=2024"), b"in the way").expect("block the target");
        let o = ex.run(NOW, far());
        assert!(o.failed(), "{o:#?}");
        assert_eq!(o.status(), "failed");
        let errors = o.errors();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors[0].starts_with("2024-09-05: "), "{errors:?}");
        assert_eq!(metrics(&o).iter().find(|(n, _)| *n == "DatesFailed"), Some(&("DatesFailed", 2)));
    }
}
