//! Where collected events, collection progress and sent alerts live.
//!
//! One trait, [`Store`], with one embedded implementation ([`local::LocalStore`], SQLite
//! in WAL mode) and, later, a DynamoDB one behind the same trait. The data model mirrors
//! the DynamoDB design: events keyed by date + event id (queryable by user name and event
//! name), checkpoints per (region, source), files already read, and sent alerts with an
//! expiry.
//!
//! The invariant that makes collection lossless is [`Store::commit`]: the events of a
//! batch, the alerts they raised (as *pending*) and the progress marker that says the
//! batch is done are made durable together, events first and progress last. A crash can
//! therefore only lose progress, never events, and re-reading a batch is harmless because
//! events are idempotent by (date, event id) and alerts by dedup key.

pub mod local;
pub mod spec;
pub mod view;

use serde::Serialize;

use crate::Severity;

/// Failures of a store. Messages name the store and the operation.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the store at {path}: {detail}")]
    Open { path: String, detail: String },
    #[error("store {op} failed: {detail}")]
    Backend { op: &'static str, detail: String },
    #[error("the store's deadline passed with {pending} writes not confirmed")]
    Deadline { pending: usize },
}

/// The event families iam-tracker collects (`event_type` in the stored item).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventType {
    Iam,
    Sts,
    Signin,
    Sso,
    Other,
}

impl EventType {
    /// From a record's `eventSource` (`sso-directory`, `identitystore`, ... count as sso).
    pub fn from_source(event_source: &str) -> Self {
        match event_source.strip_suffix(".amazonaws.com").unwrap_or(event_source) {
            "iam" => EventType::Iam,
            "sts" => EventType::Sts,
            "signin" => EventType::Signin,
            "sso" | "sso-directory" | "identitystore" | "sso-oauth" => EventType::Sso,
            _ => EventType::Other,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Iam => "iam",
            EventType::Sts => "sts",
            EventType::Signin => "signin",
            EventType::Sso => "sso",
            EventType::Other => "other",
        }
    }
}

/// One stored event: the raw record plus the attributes the queries and exports use.
/// Absent facts are `None` (never empty strings pretending to be values).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StoredEvent {
    /// `YYYY-MM-DD` (UTC) of `event_time`; the partition key.
    pub event_date: String,
    pub event_id: String,
    /// RFC 3339 UTC, as normalised from the record's `eventTime`.
    pub event_time: String,
    pub event_source: String,
    pub event_name: String,
    pub event_type: EventType,
    /// The extractor's answer (`None` when it had none).
    pub user_name: Option<String>,
    pub identity_type: Option<String>,
    pub principal_arn: Option<String>,
    pub aws_region: Option<String>,
    pub source_ip: Option<String>,
    pub user_agent: Option<String>,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub recipient_account_id: Option<String>,
    /// The record as received.
    pub raw: String,
}

/// Identifies one unit of collection progress: `(region, source)` for LookupEvents
/// (`source` = `iam.amazonaws.com`, ...), or `("trail", URI prefix)` for trail files.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct TaskKey {
    pub region: String,
    pub source: String,
}

impl std::fmt::Display for TaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.region, self.source)
    }
}

/// The progress of one task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// Everything up to this time (epoch seconds) is stored.
    pub last_processed: i64,
    /// When a run last worked on this task (epoch seconds).
    pub last_execution: i64,
    /// Events stored by this task over all runs.
    pub events_processed: u64,
    /// `ok`, `partial` (deadline) or `error`.
    pub status: String,
    pub last_error: Option<String>,
}

/// What a committed batch completes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// Nothing: the events are stored but the batch is not a whole unit (e.g. a slice
    /// cut short by the deadline); the checkpoint stays.
    None,
    /// Everything of `task` up to `to` (epoch seconds) is stored. Only moves forward.
    Checkpoint { task: TaskKey, to: i64 },
    /// The trail file or object `key` (a path or `s3://...` URI) is fully read.
    FileDone { key: String, task: TaskKey },
}

/// An alert as recorded for delivery and dedup.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertRecord {
    pub dedup_key: String,
    pub detector: String,
    pub severity: Severity,
    pub title: String,
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    /// The whole alert as delivered (a [`crate::report::RaisedAlert`] as JSON).
    pub payload: String,
    /// When it was recorded (epoch seconds).
    pub created_at: i64,
    /// When delivery succeeded; `None` while pending.
    pub sent_at: Option<i64>,
    /// Until when the dedup key suppresses repeats (epoch seconds).
    pub dedup_until: i64,
    /// When the record may be deleted (epoch seconds, the table TTL).
    pub expires_at: i64,
}

/// One durable unit of work.
#[derive(Debug, Clone)]
pub struct Batch {
    pub events: Vec<StoredEvent>,
    /// New alerts; each is recorded as pending unless its dedup key is still live.
    pub alerts: Vec<AlertRecord>,
    pub progress: Progress,
    /// The task the batch belongs to, so that events stored without progress (a slice cut
    /// by the deadline) still count in its `events_processed`.
    pub task: Option<TaskKey>,
    /// The time of the commit (epoch seconds), for dedup and `last_execution`.
    pub now: i64,
}

/// What a commit did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CommitReport {
    /// Events newly stored.
    pub stored: u64,
    /// Events already there (the overlap, or a re-read after a crash).
    pub already_stored: u64,
    /// Alerts recorded as pending.
    pub alerts_pending: u64,
    /// Alerts whose dedup key was still live (already pending or sent).
    pub alerts_duplicate: u64,
    /// Whether the checkpoint moved (false when it was already further).
    pub checkpoint_moved: bool,
}

/// A read-back query. Dates are `YYYY-MM-DD`; times are epoch seconds.
#[derive(Debug, Clone, Default)]
pub struct EventQuery {
    /// Dates to read, inclusive; both `None` reads every date.
    pub from_date: Option<String>,
    pub to_date: Option<String>,
    /// Only events at or after this time.
    pub since: Option<i64>,
    pub user_name: Option<String>,
    pub event_name: Option<String>,
    pub limit: Option<usize>,
}

/// Events, progress and alerts. Implementations must make [`Store::commit`] durable
/// before returning and apply its parts in the documented order.
pub trait Store {
    /// A short description for logs (`local:/path`, `dynamodb:stack`).
    fn describe(&self) -> String;

    /// Store a batch: events (idempotent by date + id), then alerts (pending unless the
    /// dedup key is live), then the progress marker. On error nothing after the failing
    /// part is applied, so re-running the batch is always safe.
    fn commit(&mut self, batch: &Batch) -> Result<CommitReport, StoreError>;

    /// The checkpoint of one task, if any.
    fn checkpoint(&self, task: &TaskKey) -> Result<Option<Checkpoint>, StoreError>;

    /// Every checkpoint (for `status`-like reports).
    fn checkpoints(&self) -> Result<Vec<(TaskKey, Checkpoint)>, StoreError>;

    /// Record how a run ended for a task (`last_execution`, `status`, `last_error`)
    /// without moving its checkpoint.
    fn record_run(&mut self, task: &TaskKey, now: i64, status: &str, error: Option<&str>) -> Result<(), StoreError>;

    /// Whether a trail file or object was fully read.
    fn file_done(&self, key: &str) -> Result<bool, StoreError>;

    /// Every file fully read by a trail task (its location), to skip them without a
    /// lookup per file.
    fn files_done(&self, task: &TaskKey) -> Result<std::collections::HashSet<String>, StoreError>;

    /// Alerts recorded but not yet delivered, oldest first.
    fn pending_alerts(&self) -> Result<Vec<AlertRecord>, StoreError>;

    /// Mark a pending alert delivered.
    fn mark_sent(&mut self, dedup_key: &str, sent_at: i64) -> Result<(), StoreError>;

    /// Stored events matching a query, ordered by event time then id.
    fn events(&self, query: &EventQuery) -> Result<Vec<StoredEvent>, StoreError>;

    /// Alerts recorded at or after `since` (epoch seconds), oldest first.
    fn alerts(&self, since: Option<i64>) -> Result<Vec<AlertRecord>, StoreError>;

    /// One page of the events of one date partition (`YYYY-MM-DD`), in `event_id` order,
    /// starting after `after` (exclusive; `None` starts at the beginning), at most `limit`
    /// events. An empty page means the partition is exhausted. This is how the exporter
    /// reads a whole day with bounded memory: a keyset page on the partition key, never a
    /// scan of the table.
    fn events_page(&self, date: &str, after: Option<&str>, limit: usize) -> Result<Vec<StoredEvent>, StoreError>;

    /// How many events the date partition (`YYYY-MM-DD`) holds.
    fn date_count(&self, date: &str) -> Result<u64, StoreError>;
}
