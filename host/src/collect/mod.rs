//! The collection pipeline: sources produce batches of raw CloudTrail records, the
//! collector parses, filters, extracts, detects and commits each batch to the [`Store`]
//! with its progress marker, then delivers the pending alerts.
//!
//! Sources run as async tasks (one per `(region, source)` for LookupEvents, one per trail
//! location for trail files) and send [`SourceMsg`]s over a bounded channel to the single
//! processing loop, which owns the plugins and the store. Per task, batches arrive in
//! order, so checkpoints advance in order.
//!
//! - [`lookup`]: CloudTrail LookupEvents, time slices oldest first, rate-limited per region.
//! - [`trail`]: trail log files from a folder or an S3 prefix, each file read once.
//! - [`driver`]: one whole run (sources on tokio, the collector on this thread).
//! - [`run`]: the processing loop ([`run::Collector`]) and the run report.
//! - [`progress`]: progress bars or log lines, and the summary table.
//!
//! [`Store`]: crate::store::Store

pub mod driver;
pub mod lookup;
pub mod progress;
pub mod run;
pub mod trail;

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::store::{Progress, TaskKey};
use crate::window::Span;

/// One raw record and where it came from (`file record N`, `us-east-1/iam.amazonaws.com page 3`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub text: String,
    pub origin: String,
}

/// Something a source could not read (a corrupt file, a bad page item). It is reported
/// and counted; the rest of the input goes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SourceRejection {
    pub origin: String,
    pub reason: String,
}

/// A unit of work from a source: records plus what storing them completes.
#[derive(Debug, Clone)]
pub struct SourceBatch {
    pub task: TaskKey,
    pub records: Vec<RawRecord>,
    pub rejections: Vec<SourceRejection>,
    /// Commit this marker together with the records ([`Progress::None`] for a partial
    /// slice cut by the deadline).
    pub progress: Progress,
    /// For progress display: the task's whole window and how far this batch reaches.
    pub position: Option<(Span, i64)>,
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    /// The whole window (or every file) was read.
    Complete,
    /// Stopped at the deadline between or inside slices; resumes next run.
    Deadline,
    /// Gave up on an error (retries exhausted, access denied, ...).
    Failed,
}

/// Request counters of one task, for the run report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestStats {
    /// API calls or objects fetched.
    pub requests: u64,
    /// Retries of any kind.
    pub retries: u64,
    /// `ThrottlingException` answers.
    pub throttled: u64,
    /// 5xx answers and transport errors.
    pub server_errors: u64,
}

/// The end of one task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskEnd {
    pub task: TaskKey,
    pub status: TaskStatus,
    pub error: Option<String>,
    pub stats: RequestStats,
}

/// What a source task sends to the processing loop.
#[derive(Debug, Clone)]
pub enum SourceMsg {
    /// A task is about to start, with its window (for progress bars).
    Started {
        task: TaskKey,
        window: Option<Span>,
    },
    Batch(SourceBatch),
    Done(TaskEnd),
}

/// When a run must stop starting new work. `None` = no deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Deadline(pub Option<Instant>);

impl Deadline {
    pub fn none() -> Self {
        Deadline(None)
    }

    pub fn after(d: Duration) -> Self {
        Deadline(Some(Instant::now() + d))
    }

    pub fn passed(&self) -> bool {
        self.0.is_some_and(|t| Instant::now() >= t)
    }

    /// Time left, `None` without a deadline.
    pub fn remaining(&self) -> Option<Duration> {
        self.0.map(|t| t.saturating_duration_since(Instant::now()))
    }
}
