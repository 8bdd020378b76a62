//! The processing side of a collection run: every [`SourceMsg`] goes through parse,
//! filters, the extractor, the detectors and exclusions, and each batch is committed to
//! the [`Store`] with its progress marker; then pending alerts are delivered.
//!
//! Invariants (see `docs/architecture.md`):
//! - a batch's events, its alerts (as pending) and its progress marker are committed
//!   together, so progress never passes an unstored event;
//! - detection runs on every record read, including ones already stored (a crash between
//!   storing and alerting can only cause a repeat, which dedup absorbs), never only on new
//!   ones;
//! - an alert is marked sent only after its sink accepted it;
//! - once a task's commit fails, its later batches are stored without moving its
//!   checkpoint (a failed slice must not be skipped by a later one).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::collect::{RequestStats, SourceBatch, SourceMsg, SourceRejection, TaskStatus};
use crate::detect::{fault_record, raise_alerts};
use crate::dispatch::Dispatcher;
use crate::event::CloudTrailEvent;
use crate::filters::Filters;
use crate::report::{RaisedAlert, Summary};
use crate::sink::AlertSink;
use crate::store::{AlertRecord, Batch, EventType, Progress, Store, StoredEvent, TaskKey};
use crate::timefmt;
use crate::window::Span;

/// Collector settings.
#[derive(Debug, Clone)]
pub struct CollectSettings {
    /// Read and detect, but write nothing and deliver nothing (alerts are printed as
    /// they are raised by the caller's sink only when it asks for them).
    pub dry_run: bool,
    /// How long a dedup key suppresses repeats, in seconds.
    pub dedup_window: i64,
    /// How long sent-alert records are kept, in seconds.
    pub alert_retention: i64,
    pub max_record_bytes: usize,
    pub filters: Filters,
}

impl Default for CollectSettings {
    fn default() -> Self {
        CollectSettings {
            dry_run: false,
            // The default dedup key is detector + event id, so a long window costs nothing and
            // covers overlap re-reads even after a long pause between runs.
            dedup_window: 30 * 86_400,
            alert_retention: 30 * 86_400,
            max_record_bytes: crate::event::DEFAULT_MAX_RECORD_BYTES,
            filters: Filters::default(),
        }
    }
}

/// What happened to one task in this run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TaskReport {
    /// `None` while running (or when the source never reported an end).
    pub status: Option<TaskStatus>,
    pub error: Option<String>,
    pub window: Option<Span>,
    /// Records received from the source.
    pub read: u64,
    /// Newly stored.
    pub stored: u64,
    /// Already in the store (overlap, re-read).
    pub already_stored: u64,
    /// Records that could not be used (named in the summary's rejections).
    pub rejected: u64,
    /// Dropped by the host filters, per reason.
    pub filtered: BTreeMap<&'static str, u64>,
    /// Alerts raised and recorded for delivery.
    pub alerts: u64,
    /// Alerts whose dedup key was still live.
    pub alerts_duplicate: u64,
    /// Alerts suppressed by config exclusions.
    pub alerts_excluded: u64,
    /// Trail files completed.
    pub files_done: u64,
    pub checkpoint_before: Option<i64>,
    pub checkpoint_after: Option<i64>,
    pub requests: RequestStats,
    /// Whether a commit failed (later batches do not move the checkpoint).
    #[serde(skip)]
    pub commit_failed: bool,
}

/// The whole run.
#[derive(Debug, Clone, Default, Serialize)]
pub struct RunReport {
    pub dry_run: bool,
    /// Per task; in JSON, keyed by `region/source` (JSON keys must be strings).
    #[serde(serialize_with = "tasks_by_name")]
    pub tasks: BTreeMap<TaskKey, TaskReport>,
    /// Records read, rejections, alerts by severity, exclusions, plugin faults.
    pub summary: Summary,
    /// Alerts handed to the sink in this run (including ones left pending by earlier runs).
    pub alerts_delivered: u64,
    /// Deliveries that failed (the alert stays pending for the next run).
    pub delivery_failures: u64,
    pub delivery_errors: Vec<String>,
    /// Alerts still pending at the end.
    pub alerts_pending: u64,
    /// Store failures (each also recorded on its task).
    pub store_errors: Vec<String>,
    /// Things the operator should know (region discovery fallback, ...).
    pub warnings: Vec<String>,
}

/// `tasks` as a map from the task's display name (`us-east-1/iam.amazonaws.com`).
fn tasks_by_name<S: serde::Serializer>(tasks: &BTreeMap<TaskKey, TaskReport>, s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(tasks.iter().map(|(k, v)| (k.to_string(), v)))
}

impl RunReport {
    /// Every task failed (an error for Lambda, exit code 2 for the CLI).
    pub fn all_failed(&self) -> bool {
        !self.tasks.is_empty() && self.tasks.values().all(|t| t.status == Some(TaskStatus::Failed))
    }

    /// Some task failed, a delivery failed, a store write failed, records were rejected
    /// or plugins faulted.
    pub fn has_problems(&self) -> bool {
        self.tasks.values().any(|t| t.status == Some(TaskStatus::Failed) || t.commit_failed)
            || self.delivery_failures > 0
            || !self.store_errors.is_empty()
            || self.summary.exit_code() != 0
    }

    /// 0 all good, 1 finished with problems, 2 nothing worked.
    pub fn exit_code(&self) -> i32 {
        if self.all_failed() {
            2
        } else if self.has_problems() {
            1
        } else {
            0
        }
    }

    /// Totals over the tasks.
    pub fn total(&self) -> TaskReport {
        let mut t = TaskReport::default();
        for r in self.tasks.values() {
            t.add_counts(r);
        }
        t
    }
}

impl TaskReport {
    /// Add another report's counters (not its status, window or checkpoints).
    fn add_counts(&mut self, r: &TaskReport) {
        self.read += r.read;
        self.stored += r.stored;
        self.already_stored += r.already_stored;
        self.rejected += r.rejected;
        for (k, v) in &r.filtered {
            *self.filtered.entry(k).or_default() += v;
        }
        self.alerts += r.alerts;
        self.alerts_duplicate += r.alerts_duplicate;
        self.alerts_excluded += r.alerts_excluded;
        self.files_done += r.files_done;
        self.requests.requests += r.requests.requests;
        self.requests.retries += r.requests.retries;
        self.requests.throttled += r.requests.throttled;
        self.requests.server_errors += r.requests.server_errors;
    }
}

/// Observes progress (progress bars, logs). All methods default to nothing.
pub trait Observer {
    fn task_started(&mut self, _task: &TaskKey, _window: Option<Span>) {}
    fn batch_done(&mut self, _task: &TaskKey, _report: &TaskReport, _position: Option<(Span, i64)>) {}
    fn task_done(&mut self, _task: &TaskKey, _report: &TaskReport) {}
}

/// No progress output.
pub struct Quiet;
impl Observer for Quiet {}

/// The processing loop's state: plugins, store, sink and the report being built.
pub struct Collector<'a> {
    dispatcher: &'a mut Dispatcher,
    store: &'a mut dyn Store,
    sink: &'a mut dyn AlertSink,
    observer: &'a mut dyn Observer,
    settings: CollectSettings,
    report: RunReport,
    /// Dedup keys raised in this dry run (nothing is stored then).
    dry_run_keys: HashSet<String>,
}

impl<'a> Collector<'a> {
    pub fn new(
        dispatcher: &'a mut Dispatcher,
        store: &'a mut dyn Store,
        sink: &'a mut dyn AlertSink,
        observer: &'a mut dyn Observer,
        settings: CollectSettings,
    ) -> Self {
        let report = RunReport { dry_run: settings.dry_run, ..RunReport::default() };
        Collector { dispatcher, store, sink, observer, settings, report, dry_run_keys: HashSet::new() }
    }

    /// The store, to read progress before a run starts.
    pub fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The report so far.
    pub fn report(&self) -> &RunReport {
        &self.report
    }

    /// Add a warning to the report.
    pub fn warn(&mut self, w: String) {
        tracing::warn!("{w}");
        self.report.warnings.push(w);
    }

    /// Note a task's checkpoint before the run (for the report).
    pub fn note_checkpoint(&mut self, task: &TaskKey, checkpoint: Option<i64>) {
        let t = self.report.tasks.entry(task.clone()).or_default();
        t.checkpoint_before = checkpoint;
        t.checkpoint_after = checkpoint;
    }

    /// Handle one message from a source.
    pub fn handle(&mut self, msg: SourceMsg, now: i64) {
        match msg {
            SourceMsg::Started { task, window } => {
                self.report.tasks.entry(task.clone()).or_default().window = window;
                self.observer.task_started(&task, window);
            }
            SourceMsg::Batch(batch) => self.batch(batch, now),
            SourceMsg::Done(end) => {
                let t = self.report.tasks.entry(end.task.clone()).or_default();
                t.status = Some(end.status);
                t.error = end.error.clone();
                t.requests = end.stats;
                let status = match end.status {
                    TaskStatus::Complete if !t.commit_failed => "ok",
                    TaskStatus::Complete | TaskStatus::Deadline => "partial",
                    TaskStatus::Failed => "error",
                };
                if let Some(e) = &end.error {
                    tracing::warn!("{}: {e}", end.task);
                }
                let t = t.clone();
                if !self.settings.dry_run {
                    if let Err(e) = self.store.record_run(&end.task, now, status, end.error.as_deref()) {
                        self.report.store_errors.push(format!("{}: {e}", end.task));
                    }
                }
                self.observer.task_done(&end.task, &t);
            }
        }
    }

    fn batch(&mut self, batch: SourceBatch, now: i64) {
        let SourceBatch { task, records, rejections, progress, position } = batch;
        let mut events = Vec::with_capacity(records.len());
        let mut alerts = Vec::new();
        // This batch's counters, added to the task's once at the end.
        let mut counts = TaskReport { read: records.len() as u64, ..TaskReport::default() };
        self.report.summary.records_read += counts.read;
        for SourceRejection { origin, reason } in rejections {
            counts.rejected += 1;
            self.report.summary.reject(origin, reason);
        }
        for rec in records {
            match CloudTrailEvent::parse_with_limit(&rec.text, self.settings.max_record_bytes) {
                Err(e) => {
                    counts.rejected += 1;
                    self.report.summary.reject(rec.origin, e.to_string());
                }
                Ok(ev) => {
                    if let Some(stored) = self.record(Arc::new(ev), &rec.origin, now, &mut counts, &mut alerts) {
                        events.push(stored);
                    }
                }
            }
        }
        let t = self.report.tasks.entry(task.clone()).or_default();
        t.add_counts(&counts);
        // A slice after a failed commit must not move the checkpoint past the failed one.
        let progress = match progress {
            Progress::Checkpoint { .. } if t.commit_failed => Progress::None,
            p => p,
        };
        if self.settings.dry_run {
            // Nothing is stored or recorded as sent: each alert new to this run goes straight
            // to the dry run's sink (stdout), once.
            let mut fresh = Vec::new();
            for a in alerts {
                if self.dry_run_keys.insert(a.dedup_key.clone()) {
                    t.alerts += 1;
                    fresh.push(a);
                } else {
                    t.alerts_duplicate += 1;
                }
            }
            let t = t.clone();
            self.observer.batch_done(&task, &t, position);
            for rec in &fresh {
                if self.deliver(rec) {
                    self.report.alerts_delivered += 1;
                }
            }
            return;
        }
        let n_alerts = alerts.len();
        let result =
            self.store.commit(&Batch { events, alerts, progress: progress.clone(), task: Some(task.clone()), now });
        let t = self.report.tasks.entry(task.clone()).or_default();
        match result {
            Ok(c) => {
                t.stored += c.stored;
                t.already_stored += c.already_stored;
                t.alerts += c.alerts_pending;
                t.alerts_duplicate += c.alerts_duplicate;
                match &progress {
                    Progress::Checkpoint { to, .. } if c.checkpoint_moved => {
                        t.checkpoint_after = Some(t.checkpoint_after.map_or(*to, |c| c.max(*to)));
                    }
                    Progress::FileDone { .. } => t.files_done += 1,
                    _ => {}
                }
                let t = t.clone();
                self.observer.batch_done(&task, &t, position);
                if c.alerts_pending > 0 {
                    self.deliver_pending(now);
                }
            }
            Err(e) => {
                t.commit_failed = true;
                let msg = format!("{task}: storing a batch of {n_alerts} alerts and its events failed: {e}");
                tracing::error!("{msg}");
                t.error.get_or_insert_with(|| e.to_string());
                self.report.store_errors.push(msg);
            }
        }
    }

    /// Filter, extract, detect one event; the stored form unless filtered.
    fn record(
        &mut self,
        ev: Arc<CloudTrailEvent>,
        origin: &str,
        now: i64,
        counts: &mut TaskReport,
        alerts: &mut Vec<AlertRecord>,
    ) -> Option<StoredEvent> {
        let (actor, fault) = self.dispatcher.extract_actor(&ev);
        if let Some((plugin, f)) = fault {
            self.report.summary.fault(fault_record(plugin, f, &ev, &origin));
        }
        let user_name = actor.as_deref().unwrap_or("unknown");
        if let Some(reason) = self.settings.filters.check(&ev, user_name) {
            *counts.filtered.entry(reason.as_str()).or_default() += 1;
            return None;
        }
        let outcome = self.dispatcher.detect(ev.clone(), actor.clone());
        for (plugin, f) in outcome.faults {
            self.report.summary.fault(fault_record(plugin, f, &ev, &origin));
        }
        let stored = stored_event(&ev, actor.as_deref(), now);
        let excluded_before = self.report.summary.alerts_excluded;
        let settings = &self.settings;
        raise_alerts(
            self.dispatcher,
            &ev,
            user_name,
            outcome.alerts,
            (Some(&stored.event_id), Some(&stored.event_time)),
            &origin,
            &mut self.report.summary,
            &mut |raised| alerts.push(alert_record(&raised, now, settings)),
        );
        counts.alerts_excluded += self.report.summary.alerts_excluded - excluded_before;
        Some(stored)
    }

    /// Deliver every pending alert (oldest first); each is marked sent only after the sink
    /// accepted it. A failure leaves it pending for the next run.
    pub fn deliver_pending(&mut self, now: i64) {
        if self.settings.dry_run {
            return;
        }
        let pending = match self.store.pending_alerts() {
            Ok(p) => p,
            Err(e) => {
                self.report.store_errors.push(format!("reading pending alerts: {e}"));
                return;
            }
        };
        for rec in pending {
            if self.deliver(&rec) {
                match self.store.mark_sent(&rec.dedup_key, now) {
                    Ok(()) => self.report.alerts_delivered += 1,
                    Err(e) => self.report.store_errors.push(format!("marking alert {} sent: {e}", rec.dedup_key)),
                }
            }
        }
    }

    /// Hand one recorded alert to the sink; a failure is counted and reported. Returns
    /// whether the sink accepted it.
    fn deliver(&mut self, rec: &AlertRecord) -> bool {
        let alert: RaisedAlert = match serde_json::from_str(&rec.payload) {
            Ok(a) => a,
            Err(e) => {
                // A record this version cannot read: deliver what the record itself says.
                tracing::warn!("alert {} has an unreadable payload ({e}); delivering its summary", rec.dedup_key);
                summary_alert(rec)
            }
        };
        match self.sink.deliver(&alert) {
            Ok(()) => true,
            Err(e) => {
                self.report.delivery_failures += 1;
                if self.report.delivery_errors.len() < crate::report::DETAIL_LIMIT {
                    self.report.delivery_errors.push(format!("{}: {e}", rec.dedup_key));
                }
                false
            }
        }
    }

    /// Deliver what is pending, close the sink, count what is left, and return the report.
    pub fn finish(mut self, now: i64) -> RunReport {
        self.deliver_pending(now);
        if let Err(e) = self.sink.finish() {
            self.report.delivery_errors.push(e.to_string());
            self.report.delivery_failures += 1;
        }
        if !self.settings.dry_run {
            match self.store.pending_alerts() {
                Ok(p) => self.report.alerts_pending = p.len() as u64,
                Err(e) => self.report.store_errors.push(format!("reading pending alerts: {e}")),
            }
        }
        crate::detect::finish(self.dispatcher, &mut self.report.summary);
        self.report
    }
}

/// How an alert is recorded for delivery and dedup.
fn alert_record(raised: &RaisedAlert, now: i64, settings: &CollectSettings) -> AlertRecord {
    AlertRecord {
        dedup_key: raised.dedup_key.clone(),
        detector: raised.detector.clone(),
        severity: raised.severity,
        title: raised.title.clone(),
        event_id: raised.event_id.clone(),
        event_time: raised.event_time.clone(),
        payload: serde_json::to_string(raised).unwrap_or_default(),
        created_at: now,
        sent_at: None,
        dedup_until: now + settings.dedup_window,
        expires_at: now + settings.alert_retention.max(settings.dedup_window),
    }
}

/// A deliverable alert from a record whose payload cannot be read.
fn summary_alert(rec: &AlertRecord) -> RaisedAlert {
    RaisedAlert {
        event_id: rec.event_id.clone(),
        event_time: rec.event_time.clone(),
        event_source: String::new(),
        event_name: String::new(),
        user_name: "unknown".into(),
        aws_region: None,
        source_ip: None,
        detector: rec.detector.clone(),
        severity: rec.severity,
        title: rec.title.clone(),
        message: rec.title.clone(),
        dedup_key: rec.dedup_key.clone(),
        source: "store".into(),
        context: Vec::new(),
    }
}

/// The stored form of an event. A record without `eventID` gets a stable id derived from
/// its text (`noid-…`), so re-reading it stays idempotent. An `eventTime` that is not a
/// time is kept as is, and the event is dated by when it was collected.
pub fn stored_event(ev: &CloudTrailEvent, user_name: Option<&str>, now: i64) -> StoredEvent {
    let epoch = ev.event_time.as_deref().and_then(timefmt::parse_event_time);
    let event_time = match (epoch, &ev.event_time) {
        (Some(e), _) => timefmt::rfc3339(e),
        (None, Some(raw)) => raw.clone(),
        (None, None) => String::new(),
    };
    StoredEvent {
        event_date: timefmt::date_of(epoch.unwrap_or(now)),
        event_id: ev.event_id.clone().filter(|i| !i.is_empty()).unwrap_or_else(|| synthetic_id(ev.raw_json())),
        event_time,
        event_source: ev.event_source.clone(),
        event_name: ev.event_name.clone(),
        event_type: EventType::from_source(&ev.event_source),
        user_name: user_name.map(str::to_string),
        identity_type: ev.identity.identity_type.clone(),
        principal_arn: ev.identity.arn.clone(),
        aws_region: ev.aws_region.clone(),
        source_ip: ev.source_ip_address.clone(),
        user_agent: ev.user_agent.clone(),
        error_code: ev.error_code.clone(),
        error_message: ev.error_message.clone(),
        recipient_account_id: ev.recipient_account_id.clone(),
        raw: ev.raw_json().to_string(),
    }
}

/// `noid-` + 128 bits of two FNV-1a hashes of the text (stable across versions).
fn synthetic_id(raw: &str) -> String {
    let fnv = |offset: u64| raw.bytes().fold(offset, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("noid-{:016x}{:016x}", fnv(0xcbf2_9ce4_8422_2325), fnv(0x6c62_272e_07bb_0142))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_run_report_serializes_to_json_with_task_names_as_keys() {
        let mut report = RunReport::default();
        let task = TaskKey { region: "us-east-1".into(), source: "iam.amazonaws.com".into() };
        report.tasks.insert(task, TaskReport { stored: 3, ..TaskReport::default() });
        let json: serde_json::Value =
            serde_json::to_value(&report).expect("the run report must serialize (the CLI's --report-json)");
        assert_eq!(json["tasks"]["us-east-1/iam.amazonaws.com"]["stored"], 3);
    }

    #[test]
    fn stored_events_keep_odd_times_and_get_stable_ids() {
        let ev = CloudTrailEvent::parse(
            r#"{"eventSource":"iam.amazonaws.com","eventName":"CreateUser","eventTime":"2024-05-01 12:00:00.5"}"#,
        )
        .expect("record");
        let s = stored_event(&ev, Some("alice"), 0);
        assert_eq!((s.event_time.as_str(), s.event_date.as_str()), ("2024-05-01T12:00:00Z", "2024-05-01"));
        assert_eq!(s.event_type, EventType::Iam);
        assert!(s.event_id.starts_with("noid-") && s.event_id.len() == 37, "{}", s.event_id);
        assert_eq!(stored_event(&ev, None, 0).event_id, s.event_id, "the same text gives the same id");

        let odd = CloudTrailEvent::parse(
            r#"{"eventSource":"sts.amazonaws.com","eventName":"AssumeRole","eventID":"e1","eventTime":"redacted"}"#,
        )
        .expect("record");
        let s = stored_event(&odd, None, 1_714_564_800);
        assert_eq!(
            (s.event_time.as_str(), s.event_date.as_str(), s.event_id.as_str()),
            ("redacted", "2024-05-01", "e1")
        );
    }
}
