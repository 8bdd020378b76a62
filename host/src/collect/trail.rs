//! CloudTrail trail log files as a source: a local folder or an S3 prefix, each file read once.
//!
//! Large organisations consume CloudTrail from the files a trail delivers, not from
//! LookupEvents (2 requests/s per region, 50 events a page, cannot keep up with them).
//! A trail writes one gzipped `{"Records":[...]}` file every few minutes per account and
//! region, in a fixed layout:
//!
//! ```text
//! [prefix/]AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<YYYYMMDDTHHMMZ>_<random>.json.gz
//! [prefix/]AWSLogs/<org-id>/<account>/CloudTrail/<region>/YYYY/MM/DD/...          (organization trails)
//! ```
//!
//! The unit of progress is the file: [`run_trail`] lists the location, skips what is
//! already done (the store's `file_done`, passed in as a predicate), and sends **one**
//! [`SourceBatch`] per file with [`Progress::FileDone`], so the collector marks a file done
//! in the same commit that stores its events. A crash before that commit re-reads the file
//! next run; events are idempotent by id, so that cannot duplicate.
//!
//! - A bad record inside a readable file is a rejection in that file's batch; the file is
//!   still done (its bad records are reported, never silently dropped).
//! - A file that cannot be read as a whole (GetObject failure, corrupt gzip, invalid JSON
//!   at the top level) is a batch with one rejection naming the file and
//!   [`Progress::None`]: it is not done, so it is retried, and reported, every run.
//! - An empty file (0 bytes, or `{"Records":[]}`) is done with no records.
//! - Digest (`CloudTrail-Digest`) and Insights (`CloudTrail-Insight`) files are skipped
//!   and counted, as are names that are not record files (`*.json`, `*.json.gz`,
//!   `*.jsonl`, ... see [`input::RECORD_FILE_SUFFIXES`]). Objects outside the layout are
//!   still read.
//! - Files are read oldest first (by the delivery time in the key), with up to
//!   [`TrailSettings::prefetch`] downloads ahead of the one being sent; batches are sent in
//!   that order. The deadline is checked between files.
//!
//! Where files come from is the [`ObjectSource`] trait: [`LocalDir`] here, `S3Prefix` in
//! `crate::aws::s3`. Nothing in this module names the AWS SDK.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{Deadline, RawRecord, RequestStats, SourceBatch, SourceMsg, SourceRejection, TaskEnd, TaskStatus};
use crate::input::{self, Item, Origin, Position};
use crate::store::{Progress, TaskKey};
use crate::timefmt;

/// The `region` of every trail task's [`TaskKey`]; its `source` is the location label.
pub const TRAIL_TASK_REGION: &str = "trail";

/// Downloads kept in flight ahead of the file being sent, by default.
pub const DEFAULT_PREFETCH: usize = 4;

/// Failures of a trail location or object. Messages name the location or the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrailError {
    #[error("`{input}` is not a trail location: {reason}")]
    BadLocation { input: String, reason: String },
    /// Listing failed; `code` is the service's error code (`AccessDenied`, `NoSuchBucket`)
    /// or the I/O error kind, `status` the HTTP status when an answer came back.
    #[error("cannot list {location}: {}", with_code(.code, .detail))]
    List { location: String, code: Option<String>, status: Option<u16>, detail: String },
    /// Reading one object failed (`key` is the full URI or path).
    #[error("cannot read {key}: {}", with_code(.code, .detail))]
    Get { key: String, code: Option<String>, status: Option<u16>, detail: String },
}

fn with_code(code: &Option<String>, detail: &str) -> String {
    match code {
        Some(c) if !detail.contains(c.as_str()) => format!("{c}: {detail}"),
        _ => detail.to_string(),
    }
}

impl TrailError {
    fn code_and_status(&self) -> (Option<&str>, Option<u16>) {
        match self {
            TrailError::BadLocation { .. } => (None, None),
            TrailError::List { code, status, .. } | TrailError::Get { code, status, .. } => (code.as_deref(), *status),
        }
    }

    /// A throttling answer (`SlowDown`, `Throttling`, ...).
    pub fn is_throttle(&self) -> bool {
        let (code, _) = self.code_and_status();
        matches!(
            code,
            Some("SlowDown" | "Throttling" | "ThrottlingException" | "RequestLimitExceeded" | "TooManyRequests")
        )
    }

    /// A 5xx answer, or no answer at all (transport error, timeout).
    pub fn is_server_error(&self) -> bool {
        if self.is_throttle() || matches!(self, TrailError::BadLocation { .. }) {
            return false;
        }
        match self.code_and_status() {
            (_, Some(s)) => s >= 500,
            (code, None) => code.is_none(),
        }
    }
}

/// One listed object or file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// The full URI (`s3://bucket/key`) or absolute path; the file checkpoint key, and
    /// what [`ObjectSource::get`] takes.
    pub key: String,
    pub size: u64,
}

/// What [`ObjectSource::list`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    /// Every object under the location, in a deterministic order.
    pub objects: Vec<ObjectInfo>,
    /// List calls made (S3 pages, folders read), for the run report.
    pub requests: u64,
    /// Parts of the location that could not be listed (an unreadable subfolder); they are
    /// reported as rejections and the rest is read.
    pub problems: Vec<SourceRejection>,
}

/// Where trail files come from. Implementations must be cheap to share (`Arc`) and their
/// futures `Send`, because [`run_trail`] downloads from spawned tasks.
pub trait ObjectSource: Send + Sync + 'static {
    /// Every object under the location (paginated internally).
    fn list(&self) -> impl Future<Output = Result<Listing, TrailError>> + Send;
    /// The bytes of one object, by the key [`ObjectSource::list`] gave.
    fn get(&self, key: &str) -> impl Future<Output = Result<Vec<u8>, TrailError>> + Send;
}

/// A `--source trail:...` location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrailLocation {
    /// A local folder (walked recursively) or a single file.
    Local(PathBuf),
    /// `s3://bucket/prefix`; the prefix may be empty (the whole bucket).
    S3 { bucket: String, prefix: String },
}

impl TrailLocation {
    /// `s3://bucket/prefix` or a local path. Other URI schemes and malformed `s3:` URIs
    /// are refused with the reason.
    pub fn parse(text: &str) -> Result<Self, TrailError> {
        let bad = |reason: String| TrailError::BadLocation { input: text.to_string(), reason };
        let t = text.trim();
        if t.is_empty() {
            return Err(bad("it is empty; give a folder or s3://BUCKET/PREFIX".into()));
        }
        if let Some(rest) = t.get(..5).filter(|p| p.eq_ignore_ascii_case("s3://")).and_then(|_| t.get(5..)) {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("no bucket name (expected s3://BUCKET/PREFIX)".into()));
            }
            let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
            if bucket.len() < 3 || bucket.len() > 255 || !bucket.chars().all(allowed) {
                return Err(bad(format!(
                    "`{bucket}` is not an S3 bucket name (3 to 63 letters, digits, dots and hyphens)"
                )));
            }
            return Ok(TrailLocation::S3 { bucket: bucket.to_string(), prefix: prefix.to_string() });
        }
        if let Some((scheme, _)) = t.split_once("://") {
            if !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
                return Err(bad(format!("`{scheme}://` is not supported; use s3://BUCKET/PREFIX or a local folder")));
            }
        }
        if t.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("s3:")) {
            return Err(bad("malformed S3 URI (expected s3://BUCKET/PREFIX)".into()));
        }
        Ok(TrailLocation::Local(PathBuf::from(text)))
    }

    /// The canonical text: `s3://bucket/prefix`, or the path as given. Use it as the
    /// `location_label` of [`run_trail`].
    pub fn label(&self) -> String {
        match self {
            TrailLocation::Local(p) => p.display().to_string(),
            TrailLocation::S3 { bucket, prefix } => format!("s3://{bucket}/{prefix}"),
        }
    }
}

/// What kind of file a key in the trail layout is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TrailFileKind {
    /// `CloudTrail/`: the events. Read.
    Log,
    /// `CloudTrail-Digest/`: integrity digests, not events. Skipped.
    Digest,
    /// `CloudTrail-Insight/`: Insights events, not API calls. Skipped.
    Insight,
}

/// What a key in the standard layout says about its object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailKeyInfo {
    /// The organization id (`o-...`) of an organization trail.
    pub organization: Option<String>,
    pub account: String,
    pub region: String,
    /// The delivery date from the folders, `YYYY-MM-DD`.
    pub date: String,
    /// The delivery time from the file name (`..._20240501T1205Z_...`), epoch seconds,
    /// when the name has one.
    pub time: Option<i64>,
    pub kind: TrailFileKind,
}

/// Parse a key (or URI, or path) in the standard layout: the part from the last
/// `AWSLogs/` segment on must be `[<org-id>/]<account>/CloudTrail[-Digest|-Insight]/<region>/YYYY/MM/DD/<file>`.
/// `None` for anything else.
pub fn parse_trail_key(key: &str) -> Option<TrailKeyInfo> {
    let segs: Vec<&str> = key.split('/').collect();
    let at = segs.iter().rposition(|s| *s == "AWSLogs")?;
    let rest = &segs[at + 1..];
    let (organization, rest) = match rest.len() {
        7 => (None, rest),
        8 if is_org_id(rest[0]) => (Some(rest[0].to_string()), &rest[1..]),
        _ => return None,
    };
    let [account, kind, region, y, m, d, file] = rest else { return None };
    let kind = match *kind {
        "CloudTrail" => TrailFileKind::Log,
        "CloudTrail-Digest" => TrailFileKind::Digest,
        "CloudTrail-Insight" => TrailFileKind::Insight,
        _ => return None,
    };
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    let region_ok = !region.is_empty()
        && region.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && region.bytes().any(|b| b.is_ascii_lowercase());
    if !digits(account, 12) || !region_ok || !digits(y, 4) || !digits(m, 2) || !digits(d, 2) || file.is_empty() {
        return None;
    }
    let date = format!("{y}-{m}-{d}");
    timefmt::parse_date(&date)?;
    let time = file.split('_').nth(3).and_then(parse_key_time);
    Some(TrailKeyInfo { organization, account: account.to_string(), region: region.to_string(), date, time, kind })
}

/// `o-` and 10 to 32 lowercase letters or digits.
fn is_org_id(s: &str) -> bool {
    s.strip_prefix("o-").is_some_and(|r| {
        (10..=32).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    })
}

/// `20240501T1205Z` → epoch seconds.
fn parse_key_time(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() != 14 || b[8] != b'T' || b[13] != b'Z' {
        return None;
    }
    let num =
        |r: std::ops::Range<usize>| t.get(r).filter(|s| s.bytes().all(|c| c.is_ascii_digit()))?.parse::<i64>().ok();
    let (hh, mm) = (num(9..11)?, num(11..13)?);
    if hh > 23 || mm > 59 {
        return None;
    }
    let day = timefmt::parse_date(&format!("{}-{}-{}", t.get(0..4)?, t.get(4..6)?, t.get(6..8)?))?;
    Some(day + hh * 3600 + mm * 60)
}

/// A record file by name (`*.json`, `*.json.gz`, `*.jsonl`, ...).
fn is_record_file(key: &str) -> bool {
    let name = key.rsplit('/').next().unwrap_or(key).to_ascii_lowercase();
    input::RECORD_FILE_SUFFIXES.iter().any(|s| name.ends_with(s))
}

/// Options of a trail run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrailSettings {
    /// Skip objects whose key date (the delivery day) is before the day of this time
    /// (epoch seconds). Judged from the key, so nothing is downloaded; objects outside
    /// the layout are always read.
    pub since: Option<i64>,
    /// Read only these regions (by the key); objects outside the layout are always read.
    pub regions: Option<Vec<String>>,
    /// Downloads in flight ahead of the file being sent (at least 1).
    pub prefetch: usize,
}

impl Default for TrailSettings {
    fn default() -> Self {
        TrailSettings { since: None, regions: None, prefetch: DEFAULT_PREFETCH }
    }
}

/// What a trail run did, for the run report (returned by [`run_trail`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TrailSummary {
    /// Objects listed under the location.
    pub listed: u64,
    /// Skipped: names that are not record files (folder markers, `*.txt`, ...).
    pub skipped_not_records: u64,
    /// Skipped: `CloudTrail-Digest` files.
    pub skipped_digest: u64,
    /// Skipped: `CloudTrail-Insight` files.
    pub skipped_insight: u64,
    /// Skipped: the key date is before `since`.
    pub skipped_before_since: u64,
    /// Skipped: the key's region is not in `regions`.
    pub skipped_other_region: u64,
    /// Skipped: already done in an earlier run.
    pub skipped_done: u64,
    /// Read although outside the standard layout.
    pub outside_layout: u64,
    /// Files read completely and sent with `FileDone`.
    pub files_done: u64,
    /// Files that could not be read (not done: retried next run).
    pub files_unreadable: u64,
    /// Files left for the next run by the deadline.
    pub files_left: u64,
    /// Parts of the location that could not be listed.
    pub list_problems: u64,
    /// Records sent.
    pub records: u64,
    /// Records rejected inside readable files.
    pub record_rejections: u64,
    /// Bytes downloaded (compressed).
    pub bytes: u64,
}

/// One object to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub key: String,
    pub size: u64,
    /// `None` outside the standard layout.
    pub info: Option<TrailKeyInfo>,
}

/// Decide what to read: drop digests, Insights, non-record names, other regions, keys
/// dated before `since` and files already done (counting each), and order the rest
/// oldest first: by the delivery time in the key (the folder date when the name has no
/// time), then by key. Objects outside the layout come first, in key order.
///
/// `is_done` is asked only about objects that passed every other filter.
pub fn plan(
    objects: Vec<ObjectInfo>,
    settings: &TrailSettings,
    mut is_done: impl FnMut(&str) -> bool,
    summary: &mut TrailSummary,
) -> Vec<Planned> {
    let since_day = settings.since.map(timefmt::date_of);
    let mut out = Vec::new();
    for o in objects {
        summary.listed += 1;
        let info = parse_trail_key(&o.key);
        let kind = info.as_ref().map(|i| i.kind);
        if kind == Some(TrailFileKind::Digest) || (info.is_none() && o.key.contains("CloudTrail-Digest")) {
            summary.skipped_digest += 1;
            continue;
        }
        if kind == Some(TrailFileKind::Insight) {
            summary.skipped_insight += 1;
            continue;
        }
        if !is_record_file(&o.key) {
            summary.skipped_not_records += 1;
            continue;
        }
        if let Some(i) = &info {
            if settings.regions.as_ref().is_some_and(|rs| !rs.iter().any(|r| r == &i.region)) {
                summary.skipped_other_region += 1;
                continue;
            }
            // `YYYY-MM-DD` strings compare as dates.
            if since_day.as_ref().is_some_and(|s| i.date < *s) {
                summary.skipped_before_since += 1;
                continue;
            }
        }
        if is_done(&o.key) {
            summary.skipped_done += 1;
            continue;
        }
        if info.is_none() {
            summary.outside_layout += 1;
            tracing::debug!(key = %o.key, "object outside the CloudTrail layout: read anyway");
        }
        out.push(Planned { key: o.key, size: o.size, info });
    }
    out.sort_by(|a, b| sort_time(a).cmp(&sort_time(b)).then_with(|| a.key.cmp(&b.key)));
    out
}

fn sort_time(p: &Planned) -> Option<i64> {
    p.info.as_ref().and_then(|i| i.time.or_else(|| timefmt::parse_date(&i.date)))
}

/// One file, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileOutcome {
    /// Its records (`<key> record N`) and per-record rejections: the file is done.
    Read { records: Vec<RawRecord>, rejections: Vec<SourceRejection> },
    /// It cannot be read as a whole (corrupt gzip, not JSON): not done.
    Unreadable(SourceRejection),
}

/// Decode (gunzip) and split one downloaded file.
pub fn read_object(key: &str, bytes: Vec<u8>) -> FileOutcome {
    let text = match input::decode(bytes) {
        Ok(t) => t,
        Err(reason) => return FileOutcome::Unreadable(SourceRejection { origin: key.to_string(), reason }),
    };
    let mut records = Vec::new();
    let mut rejections = Vec::new();
    let mut whole = None;
    input::split_records(&text, |position, item| {
        let origin = Origin { file: key.to_string(), position }.to_string();
        match (position, item) {
            (Position::File, Item::Rejected(reason)) => whole = Some(SourceRejection { origin, reason }),
            (_, Item::Rejected(reason)) => rejections.push(SourceRejection { origin, reason }),
            (_, Item::Record(r)) => records.push(RawRecord { text: r.to_string(), origin }),
        }
    });
    match whole {
        Some(r) => FileOutcome::Unreadable(r),
        None => FileOutcome::Read { records, rejections },
    }
}

/// A download and its decoding, run ahead of the file being sent.
struct Fetched {
    key: String,
    bytes: u64,
    outcome: Result<FileOutcome, TrailError>,
}

fn spawn_fetch<S: ObjectSource>(src: Arc<S>, key: String) -> JoinHandle<Fetched> {
    tokio::spawn(async move {
        match src.get(&key).await {
            Ok(bytes) => {
                let n = bytes.len() as u64;
                let k = key.clone();
                // Gunzip and split off the async workers.
                let outcome = match tokio::task::spawn_blocking(move || read_object(&k, bytes)).await {
                    Ok(o) => o,
                    Err(e) => FileOutcome::Unreadable(SourceRejection {
                        origin: key.clone(),
                        reason: format!("decoding the file failed: {e}"),
                    }),
                };
                Fetched { key, bytes: n, outcome: Ok(outcome) }
            }
            Err(e) => Fetched { key, bytes: 0, outcome: Err(e) },
        }
    })
}

/// The task of a trail location: `("trail", label)`, under which its files are recorded.
pub fn trail_task(location_label: String) -> TaskKey {
    TaskKey { region: TRAIL_TASK_REGION.to_string(), source: location_label }
}

/// Read every new file of one trail location and feed the collector.
///
/// Sends [`SourceMsg::Started`], then one [`SourceBatch`] per file read (see the module
/// docs for what is done and what is retried) plus one for listing problems if any, then
/// [`SourceMsg::Done`]. The task is `TaskKey { region: "trail", source: location_label }`.
///
/// `is_done(key)` says whether a file was fully read in an earlier run: pass
/// `move |k| done.contains(k)` for a `HashSet<String>`, or a closure over a read-only
/// store connection (`Store::file_done`). Answer `false` when unsure (a store read
/// error): re-reading a file is harmless, skipping an unread one loses its events.
///
/// Returns the counts for the run report. Stops early, without `Done`, if the receiver
/// is dropped.
pub async fn run_trail<S: ObjectSource>(
    src: Arc<S>,
    location_label: String,
    is_done: impl FnMut(&str) -> bool + Send,
    settings: TrailSettings,
    deadline: Deadline,
    tx: mpsc::Sender<SourceMsg>,
) -> TrailSummary {
    let task = trail_task(location_label);
    let mut summary = TrailSummary::default();
    let mut stats = RequestStats::default();
    if tx.send(SourceMsg::Started { task: task.clone(), window: None }).await.is_err() {
        return summary;
    }
    let end = |status, error, stats| SourceMsg::Done(TaskEnd { task: task.clone(), status, error, stats });
    if deadline.passed() {
        let _ = tx.send(end(TaskStatus::Deadline, None, stats)).await;
        return summary;
    }

    let listing = match src.list().await {
        Ok(l) => l,
        Err(e) => {
            stats.requests += 1;
            count_error(&e, &mut stats);
            tracing::warn!(task = %task, error = %e, "trail: listing failed");
            let _ = tx.send(end(TaskStatus::Failed, Some(e.to_string()), stats)).await;
            return summary;
        }
    };
    stats.requests += listing.requests;
    if !listing.problems.is_empty() {
        summary.list_problems = listing.problems.len() as u64;
        let batch = SourceBatch {
            task: task.clone(),
            records: Vec::new(),
            rejections: listing.problems,
            progress: Progress::None,
            position: None,
        };
        if tx.send(SourceMsg::Batch(batch)).await.is_err() {
            return summary;
        }
    }
    let todo = plan(listing.objects, &settings, is_done, &mut summary);
    tracing::info!(
        task = %task, listed = summary.listed, to_read = todo.len(), done_before = summary.skipped_done,
        "trail: listed"
    );

    let prefetch = settings.prefetch.max(1);
    let mut queue = todo.into_iter();
    let mut inflight: VecDeque<JoinHandle<Fetched>> = VecDeque::new();
    let mut status = TaskStatus::Complete;
    loop {
        while inflight.len() < prefetch {
            match queue.next() {
                Some(p) => inflight.push_back(spawn_fetch(src.clone(), p.key)),
                None => break,
            }
        }
        if inflight.is_empty() {
            break;
        }
        if deadline.passed() {
            status = TaskStatus::Deadline;
            summary.files_left = (inflight.len() + queue.len()) as u64;
            break;
        }
        let Some(handle) = inflight.pop_front() else { break };
        let fetched = match handle.await {
            Ok(f) => f,
            Err(e) => {
                // The fetch task panicked or was cancelled: report it, keep going; the
                // file is not done.
                summary.files_unreadable += 1;
                let batch = SourceBatch {
                    task: task.clone(),
                    records: Vec::new(),
                    rejections: vec![SourceRejection {
                        origin: task.source.clone(),
                        reason: format!("a download task failed: {e}"),
                    }],
                    progress: Progress::None,
                    position: None,
                };
                if tx.send(SourceMsg::Batch(batch)).await.is_err() {
                    abort_all(&mut inflight);
                    return summary;
                }
                continue;
            }
        };
        stats.requests += 1;
        summary.bytes += fetched.bytes;
        let batch = match fetched.outcome {
            Ok(FileOutcome::Read { records, rejections }) => {
                summary.files_done += 1;
                summary.records += records.len() as u64;
                summary.record_rejections += rejections.len() as u64;
                SourceBatch {
                    task: task.clone(),
                    records,
                    rejections,
                    progress: Progress::FileDone { key: fetched.key, task: task.clone() },
                    position: None,
                }
            }
            Ok(FileOutcome::Unreadable(rejection)) => {
                summary.files_unreadable += 1;
                tracing::warn!(key = %fetched.key, reason = %rejection.reason, "trail: unreadable file (retried next run)");
                SourceBatch {
                    task: task.clone(),
                    records: Vec::new(),
                    rejections: vec![rejection],
                    progress: Progress::None,
                    position: None,
                }
            }
            Err(e) => {
                summary.files_unreadable += 1;
                count_error(&e, &mut stats);
                tracing::warn!(key = %fetched.key, error = %e, "trail: cannot download (retried next run)");
                SourceBatch {
                    task: task.clone(),
                    records: Vec::new(),
                    rejections: vec![SourceRejection { origin: fetched.key, reason: e.to_string() }],
                    progress: Progress::None,
                    position: None,
                }
            }
        };
        if tx.send(SourceMsg::Batch(batch)).await.is_err() {
            abort_all(&mut inflight);
            return summary;
        }
    }
    abort_all(&mut inflight);

    let error = (summary.files_unreadable > 0)
        .then(|| format!("{} file(s) could not be read; they are retried next run", summary.files_unreadable));
    tracing::info!(
        task = %task, files = summary.files_done, unreadable = summary.files_unreadable, left = summary.files_left,
        records = summary.records, "trail: finished"
    );
    let _ = tx.send(end(status, error, stats)).await;
    summary
}

fn abort_all(inflight: &mut VecDeque<JoinHandle<Fetched>>) {
    for h in inflight.drain(..) {
        h.abort();
    }
}

fn count_error(e: &TrailError, stats: &mut RequestStats) {
    if e.is_throttle() {
        stats.throttled += 1;
    } else if e.is_server_error() {
        stats.server_errors += 1;
    }
}

/// A local folder of trail files (walked recursively, hidden entries skipped), or one file.
/// Keys are absolute paths under the folder's canonical path, so they stay the same
/// whatever the working directory.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// Open a folder (or a file); it must exist.
    pub fn new(path: impl AsRef<Path>) -> Result<Self, TrailError> {
        let path = path.as_ref();
        let root = std::fs::canonicalize(path).map_err(|e| TrailError::BadLocation {
            input: path.display().to_string(),
            reason: format!("cannot open it: {e}"),
        })?;
        Ok(LocalDir { root })
    }

    /// The canonical path of the folder.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl ObjectSource for LocalDir {
    async fn list(&self) -> Result<Listing, TrailError> {
        let root = self.root.clone();
        let label = root.display().to_string();
        tokio::task::spawn_blocking(move || walk_dir(&root)).await.map_err(|e| TrailError::List {
            location: label,
            code: None,
            status: None,
            detail: format!("the listing task failed: {e}"),
        })?
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, TrailError> {
        let path = PathBuf::from(key);
        let read = tokio::task::spawn_blocking(move || std::fs::read(path)).await;
        let get_err =
            |code: Option<String>, detail: String| TrailError::Get { key: key.to_string(), code, status: None, detail };
        match read {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(e)) => Err(get_err(Some(format!("{:?}", e.kind())), e.to_string())),
            Err(e) => Err(get_err(None, format!("the read task failed: {e}"))),
        }
    }
}

/// Depth-first, children in name order; symlinked folders are followed once.
fn walk_dir(root: &Path) -> Result<Listing, TrailError> {
    let list_err = |e: std::io::Error| TrailError::List {
        location: root.display().to_string(),
        code: Some(format!("{:?}", e.kind())),
        status: None,
        detail: e.to_string(),
    };
    let mut out = Listing::default();
    let meta = std::fs::metadata(root).map_err(list_err)?;
    if !meta.is_dir() {
        out.objects.push(ObjectInfo { key: root.display().to_string(), size: meta.len() });
        return Ok(out);
    }
    let mut seen: HashSet<PathBuf> = HashSet::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        if let Ok(real) = std::fs::canonicalize(&dir) {
            if !seen.insert(real) {
                continue;
            }
        }
        out.requests += 1;
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if dir == root => return Err(list_err(e)),
            Err(e) => {
                out.problems.push(SourceRejection {
                    origin: dir.display().to_string(),
                    reason: format!("cannot read folder: {e}"),
                });
                continue;
            }
        };
        let mut children: Vec<PathBuf> = Vec::new();
        for entry in entries {
            match entry {
                Ok(e) => children.push(e.path()),
                Err(e) => out.problems.push(SourceRejection {
                    origin: dir.display().to_string(),
                    reason: format!("cannot read a folder entry: {e}"),
                }),
            }
        }
        children.sort();
        let mut subdirs = Vec::new();
        for child in children {
            let hidden = child.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            match std::fs::metadata(&child) {
                Ok(m) if m.is_dir() => subdirs.push(child),
                Ok(m) => out.objects.push(ObjectInfo { key: child.display().to_string(), size: m.len() }),
                Err(e) => out
                    .problems
                    .push(SourceRejection { origin: child.display().to_string(), reason: format!("cannot read: {e}") }),
            }
        }
        // Popped in name order.
        stack.extend(subdirs.into_iter().rev());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACCOUNT: &str = "111122223333";

    fn key(region: &str, day: &str, hhmm: &str) -> String {
        let (y, m, d) = (&day[0..4], &day[5..7], &day[8..10]);
        format!(
            "AWSLogs/{ACCOUNT}/CloudTrail/{region}/{y}/{m}/{d}/{ACCOUNT}_CloudTrail_{region}_{y}{m}{d}T{hhmm}Z_abcDEF123.json.gz"
        )
    }

    #[test]
    fn parses_the_standard_layout() {
        let k = format!("s3://bucket/some/prefix/{}", key("eu-west-1", "2024-05-01", "1205"));
        let info = parse_trail_key(&k).expect("standard key");
        assert_eq!(info.organization, None);
        assert_eq!(info.account, ACCOUNT);
        assert_eq!(info.region, "eu-west-1");
        assert_eq!(info.date, "2024-05-01");
        assert_eq!(info.time, Some(1_714_521_600 + 12 * 3600 + 5 * 60));
        assert_eq!(info.kind, TrailFileKind::Log);
    }

    #[test]
    fn parses_organization_trails() {
        let k = "AWSLogs/o-exampleorgid/111122223333/CloudTrail/us-east-1/2024/12/31/111122223333_CloudTrail_us-east-1_20241231T2355Z_x.json.gz";
        let info = parse_trail_key(k).expect("org key");
        assert_eq!(info.organization.as_deref(), Some("o-exampleorgid"));
        assert_eq!(info.account, ACCOUNT);
        assert_eq!(info.region, "us-east-1");
        assert_eq!(info.date, "2024-12-31");
        assert!(info.time.is_some());
    }

    #[test]
    fn recognises_digest_and_insight_files() {
        let d = "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20240501T120000Z.json.gz";
        let info = parse_trail_key(d).expect("digest key");
        assert_eq!(info.kind, TrailFileKind::Digest);
        // Digest names carry seconds: no time from the name, the folder date orders it.
        assert_eq!(info.time, None);
        let i = "AWSLogs/o-exampleorgid/111122223333/CloudTrail-Insight/us-east-1/2024/05/01/f.json.gz";
        assert_eq!(parse_trail_key(i).map(|i| i.kind), Some(TrailFileKind::Insight));
    }

    #[test]
    fn odd_keys_are_outside_the_layout() {
        for k in [
            "",
            "AWSLogs/",
            "trail.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01",
            "AWSLogs/12345/CloudTrail/us-east-1/2024/05/01/f.json.gz",
            "AWSLogs/111122223333/Config/us-east-1/2024/05/01/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/US_EAST/2024/05/01/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/13/01/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/5/01/f.json.gz",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/",
            "AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/extra/f.json.gz",
            "AWSLogs/not-an-org/111122223333/CloudTrail/us-east-1/2024/05/01/f.json.gz",
        ] {
            assert_eq!(parse_trail_key(k), None, "{k}");
        }
        // A name without the timestamp field still parses; only the time is missing.
        let info = parse_trail_key("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/f.json.gz").expect("key");
        assert_eq!((info.date.as_str(), info.time), ("2024-05-01", None));
        assert_eq!(parse_key_time("20240501T2460Z"), None);
        assert_eq!(parse_key_time("2024050lT1200Z"), None);
    }

    #[test]
    fn locations_parse_and_bad_ones_say_why() {
        assert_eq!(
            TrailLocation::parse("s3://my-bucket/AWSLogs/"),
            Ok(TrailLocation::S3 { bucket: "my-bucket".into(), prefix: "AWSLogs/".into() })
        );
        assert_eq!(
            TrailLocation::parse("s3://my-bucket"),
            Ok(TrailLocation::S3 { bucket: "my-bucket".into(), prefix: String::new() })
        );
        assert_eq!(TrailLocation::parse("s3://my-bucket/p").map(|l| l.label()), Ok("s3://my-bucket/p".into()));
        assert_eq!(TrailLocation::parse("./trails"), Ok(TrailLocation::Local(PathBuf::from("./trails"))));
        let cases = [
            ("", "empty"),
            ("   ", "empty"),
            ("s3://", "no bucket"),
            ("s3:///prefix", "no bucket"),
            ("s3://a/x", "not an S3 bucket name"),
            ("s3://bad bucket/x", "not an S3 bucket name"),
            ("gs://bucket/x", "`gs://` is not supported"),
            ("https://bucket.s3.amazonaws.com/x", "`https://` is not supported"),
            ("s3:/bucket/x", "malformed S3 URI"),
            ("s3:bucket", "malformed S3 URI"),
        ];
        for (input, want) in cases {
            match TrailLocation::parse(input) {
                Err(e @ TrailError::BadLocation { .. }) => {
                    let msg = e.to_string();
                    assert!(msg.contains(want), "{input:?}: {msg}");
                    assert!(msg.contains(&format!("`{input}`")), "the message names the input: {msg}");
                }
                other => panic!("{input:?}: expected an error, got {other:?}"),
            }
        }
    }

    #[test]
    fn errors_name_the_key_and_code_and_classify() {
        let e = TrailError::Get {
            key: "s3://b/k.json.gz".into(),
            code: Some("NoSuchKey".into()),
            status: Some(404),
            detail: "the key does not exist".into(),
        };
        assert_eq!(e.to_string(), "cannot read s3://b/k.json.gz: NoSuchKey: the key does not exist");
        assert!(!e.is_server_error() && !e.is_throttle());
        let slow =
            TrailError::Get { key: "k".into(), code: Some("SlowDown".into()), status: Some(503), detail: "x".into() };
        assert!(slow.is_throttle() && !slow.is_server_error());
        let io = TrailError::List { location: "l".into(), code: None, status: None, detail: "timed out".into() };
        assert!(io.is_server_error());
    }

    fn obj(key: &str) -> ObjectInfo {
        ObjectInfo { key: key.to_string(), size: 1 }
    }

    #[test]
    fn plan_filters_counts_and_orders_by_time() {
        let objects = vec![
            obj(&key("us-east-1", "2024-05-02", "0000")),
            obj(&key("eu-west-1", "2024-05-01", "2355")),
            obj(&key("us-east-1", "2024-05-01", "0005")),
            obj(&key("us-east-1", "2024-04-30", "2355")),
            obj(&key("ap-south-1", "2024-05-03", "0000")),
            obj("AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/d.json.gz"),
            obj("AWSLogs/111122223333/CloudTrail-Insight/us-east-1/2024/05/01/i.json.gz"),
            obj("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/"),
            obj("AWSLogs/111122223333/CloudTrail/us-east-1/2024/05/01/notes.txt"),
            obj("exports/zz.json"),
            obj("exports/aa.jsonl"),
            obj("odd/111122223333_CloudTrail-Digest_x.json.gz"),
        ];
        let done_key = key("us-east-1", "2024-05-02", "0000");
        let settings = TrailSettings {
            since: timefmt::parse_since("2024-05-01T18:00:00Z", 0).ok(),
            regions: Some(vec!["us-east-1".into(), "eu-west-1".into()]),
            prefetch: 2,
        };
        let mut asked = Vec::new();
        let mut summary = TrailSummary::default();
        let todo = plan(
            objects,
            &settings,
            |k| {
                asked.push(k.to_string());
                k == done_key
            },
            &mut summary,
        );
        let keys: Vec<&str> = todo.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "exports/aa.jsonl",
                "exports/zz.json",
                key("us-east-1", "2024-05-01", "0005").as_str(),
                key("eu-west-1", "2024-05-01", "2355").as_str(),
            ]
        );
        assert_eq!(
            summary,
            TrailSummary {
                listed: 12,
                skipped_not_records: 2,
                skipped_digest: 2,
                skipped_insight: 1,
                skipped_before_since: 1,
                skipped_other_region: 1,
                skipped_done: 1,
                outside_layout: 2,
                ..TrailSummary::default()
            }
        );
        // Only objects that passed the cheap filters reach the done check.
        assert_eq!(asked.len(), 5);
    }

    #[test]
    fn read_object_separates_record_and_file_problems() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(br#"{"Records":[{"eventSource":"iam.amazonaws.com"},{"eventSource":"sts.amazonaws.com"}]}"#)
            .expect("gzip");
        let gz = gz.finish().expect("gzip");
        match read_object("/t/a.json.gz", gz.clone()) {
            FileOutcome::Read { records, rejections } => {
                assert_eq!(records.len(), 2);
                assert_eq!(records[1].origin, "/t/a.json.gz record 1");
                assert!(rejections.is_empty());
            }
            other => panic!("{other:?}"),
        }
        let mut cut = gz;
        cut.truncate(cut.len() / 2);
        assert!(
            matches!(read_object("k", cut), FileOutcome::Unreadable(r) if r.origin == "k" && r.reason.contains("gzip"))
        );
        assert!(
            matches!(read_object("k", b"{\"Records\":[{}".to_vec()), FileOutcome::Unreadable(r) if r.origin == "k")
        );
        assert_eq!(read_object("k", Vec::new()), FileOutcome::Read { records: vec![], rejections: vec![] });
        assert_eq!(
            read_object("k", b"{\"Records\":[]}".to_vec()),
            FileOutcome::Read { records: vec![], rejections: vec![] }
        );
        match read_object("k.jsonl", b"{\"a\":1}\n{bad\n".to_vec()) {
            FileOutcome::Read { records, rejections } => {
                assert_eq!(records.len(), 1);
                assert_eq!(rejections.len(), 1);
                assert_eq!(rejections[0].origin, "k.jsonl line 2");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn local_dir_lists_in_name_order_and_skips_hidden() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        for (p, body) in [
            ("b/2.json.gz", "x"),
            ("b/1.json", "xy"),
            ("a.jsonl", ""),
            ("c/notes.txt", "n"),
            (".hidden/x.json", "{}"),
            ("b/.tmp.json", "{}"),
            ("b/c/3.json", "{}"),
        ] {
            let path = root.join(p);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, body).expect("write");
        }
        let src = LocalDir::new(root).expect("open");
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let listing = rt.block_on(src.list()).expect("list");
        let base = src.root().display().to_string();
        let keys: Vec<String> =
            listing.objects.iter().map(|o| o.key.strip_prefix(&base).unwrap_or(&o.key).to_string()).collect();
        assert_eq!(keys, ["/a.jsonl", "/b/1.json", "/b/2.json.gz", "/b/c/3.json", "/c/notes.txt"]);
        assert_eq!(listing.objects[1].size, 2);
        assert!(listing.problems.is_empty());
        // The planner then drops what is not a record file, and counts it.
        let mut summary = TrailSummary::default();
        let todo = plan(listing.objects, &TrailSettings::default(), |_| false, &mut summary);
        assert_eq!(todo.len(), 4);
        assert_eq!((summary.skipped_not_records, summary.outside_layout), (1, 4));
        // Keys are absolute, whatever path the folder was opened with.
        assert!(todo.iter().all(|p| Path::new(&p.key).is_absolute()));
        assert!(matches!(LocalDir::new(root.join("missing")), Err(TrailError::BadLocation { .. })));
    }
}
