//! CloudTrail LookupEvents as a source: one task per (region, source), time slices oldest
//! first, every page read, rate-limited per region, stopping cleanly at the deadline.
//!
//! This module is the pure core: it talks to AWS only through [`LookupApi`] (the SDK
//! adapter is `crate::aws::cloudtrail::SdkLookup`), so it runs against fakes and the local
//! test server alike.
//!
//! # Tasks
//! [`plan_tasks`] makes one [`TaskKey`] per (region, event source):
//! `iam.amazonaws.com` and `signin.amazonaws.com` in us-east-1 only, `sts.amazonaws.com` in
//! every enabled region, `sso.amazonaws.com` in us-east-1 plus [`SourceSettings::sso_region`].
//! The enabled regions come from EC2 DescribeRegions ([`discover_regions`]); when it fails,
//! the regions enabled by default ([`DEFAULT_ENABLED_REGIONS`]) are used and a warning says so.
//!
//! # One task ([`run_task`])
//! LookupEvents answers newest first, 50 events a page, with both time bounds inclusive.
//! To lose nothing, a task walks its window ([`task_window`]: from the checkpoint minus the
//! overlap, or 90 days back, to now minus the buffer) in slices **oldest first** and pages
//! each slice to the end. The batch that completes a slice carries
//! [`Progress::Checkpoint`] `to = slice end`; the collector commits it with the events, so
//! the checkpoint never passes an unstored event. A long slice is handed over every
//! [`SliceTuning::flush_pages`] pages without progress (bounded memory), and a slice cut
//! by the deadline or an error is handed over the same way: nothing read is wasted, and the
//! checkpoint stays at the last complete slice.
//!
//! Slices touch (`[a, b]`, `[b, c]`): an event exactly at `b` is returned by both queries;
//! the second copy is dropped by event id, so it is delivered exactly once per run. The
//! slice length adapts to the event density ([`SliceTuning`]).
//!
//! # Rate limits and retries
//! Every call first takes a token from the region's bucket in [`RegionLimiter`] (shared by
//! all tasks of the region). `ThrottlingException` halves the region's rate and is retried
//! after an exponential backoff with full jitter; a server error (5xx, transport, timeout)
//! is retried the same way; anything else fails the task at once. No wait ever extends
//! past the deadline: the task stops with [`TaskStatus::Deadline`] instead (or
//! [`TaskStatus::Failed`] with the last error, when no call of the run was ever answered). The SDK's own
//! retries are off, so [`RequestStats`] counts every request made.

mod limiter;
mod settings;

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

pub use limiter::{RegionLimiter, WouldPassDeadline, CUT_COOLDOWN, MIN_RATE_FRACTION, RECOVERY_DOUBLING};
pub use settings::{
    valid_region_name, RetryPolicy, SettingsError, SliceTuning, SourceSettings, ENV_VARS, MAX_WORKERS,
    PROCESS_IAM_EVENTS, PROCESS_SIGNIN_EVENTS, PROCESS_SSO_EVENTS, PROCESS_STS_EVENTS, SSO_REGION,
};

use crate::collect::{Deadline, RawRecord, RequestStats, SourceBatch, SourceMsg, SourceRejection, TaskEnd, TaskStatus};
use crate::store::{Progress, TaskKey};
use crate::timefmt;
use crate::window::{self, Span};

/// The region of the global services (IAM, sign-in) and of the default SSO task.
pub const HOME_REGION: &str = "us-east-1";
pub const IAM_SOURCE: &str = "iam.amazonaws.com";
pub const STS_SOURCE: &str = "sts.amazonaws.com";
pub const SIGNIN_SOURCE: &str = "signin.amazonaws.com";
pub const SSO_SOURCE: &str = "sso.amazonaws.com";

/// The commercial regions enabled by default in every account (opt-in not required), used
/// when DescribeRegions fails. Opt-in regions (ap-east-1, me-south-1, ...) are missing from
/// it on purpose: calling them in an account that has not opted in fails.
pub const DEFAULT_ENABLED_REGIONS: [&str; 17] = [
    "us-east-1",
    "us-east-2",
    "us-west-1",
    "us-west-2",
    "ca-central-1",
    "sa-east-1",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "eu-central-1",
    "eu-north-1",
    "ap-south-1",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-southeast-1",
    "ap-southeast-2",
];

/// Whether a DescribeRegions `OptInStatus` means the account can call the region.
pub fn opt_in_enabled(status: &str) -> bool {
    matches!(status, "opt-in-not-required" | "opted-in")
}

/// One item of a LookupEvents page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LookedUp {
    /// The record (`CloudTrailEvent`); empty when the API sent none, which is reported as a
    /// rejection.
    pub cloudtrail_event: String,
    pub event_id: Option<String>,
    /// `EventTime`, epoch seconds (fraction dropped).
    pub event_time: Option<i64>,
}

/// One LookupEvents answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LookupPage {
    pub events: Vec<LookedUp>,
    /// `None` on the last page.
    pub next_token: Option<String>,
}

/// Why a call failed, as far as retrying is concerned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LookupError {
    /// `ThrottlingException` (or another throttling code): slow down and retry.
    #[error("throttled (rate exceeded)")]
    Throttled,
    /// HTTP 5xx, a transport failure or a timeout: retry.
    #[error("server error{}: {detail}", status.map(|s| format!(" (HTTP {s})")).unwrap_or_default())]
    Server { status: Option<u16>, detail: String },
    /// Anything else (access denied, validation, ...): retrying will not help.
    #[error("{code}: {detail}")]
    Fatal { code: String, detail: String },
}

impl LookupError {
    pub fn is_retryable(&self) -> bool {
        !matches!(self, LookupError::Fatal { .. })
    }
}

/// The two AWS calls the source needs. Implementations make exactly one request per call
/// (no retries of their own: the source's limiter and retry policy are the only ones).
pub trait LookupApi: Send + Sync + 'static {
    /// One LookupEvents page in `region` for `EventSource = event_source`, `StartTime =
    /// start`, `EndTime = end` (epoch seconds, both inclusive), 50 events at most.
    fn lookup_page(
        &self,
        region: &str,
        event_source: &str,
        start: i64,
        end: i64,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<LookupPage, LookupError>> + Send;

    /// The regions the account can use (DescribeRegions with `AllRegions`, kept when
    /// [`opt_in_enabled`]).
    fn enabled_regions(&self) -> impl Future<Output = Result<Vec<String>, LookupError>> + Send;
}

/// The tasks to run, sorted by (region, source), without duplicates.
pub fn plan_tasks(settings: &SourceSettings, enabled_regions: &[String]) -> Vec<TaskKey> {
    let allowed = |region: &str| settings.regions.as_ref().is_none_or(|only| only.iter().any(|r| r == region));
    let mut tasks = BTreeSet::new();
    let mut add = |region: &str, source: &str| {
        if allowed(region) {
            tasks.insert(TaskKey { region: region.to_owned(), source: source.to_owned() });
        }
    };
    if settings.process_iam {
        add(HOME_REGION, IAM_SOURCE);
    }
    if settings.process_signin {
        add(HOME_REGION, SIGNIN_SOURCE);
    }
    if settings.process_sso {
        add(HOME_REGION, SSO_SOURCE);
        if let Some(r) = &settings.sso_region {
            add(r, SSO_SOURCE);
        }
    }
    if settings.process_sts {
        for r in enabled_regions {
            add(r, STS_SOURCE);
        }
    }
    tasks.into_iter().collect()
}

/// The enabled regions, and a warning when they could not be listed (then the
/// [`DEFAULT_ENABLED_REGIONS`] are returned). Retryable errors are tried 3 times.
pub async fn discover_regions<A: LookupApi>(api: &A, deadline: Deadline) -> (Vec<String>, Option<String>) {
    let mut rng = fastrand::Rng::new();
    let policy = RetryPolicy { max_attempts: 3, base: Duration::from_millis(200), cap: Duration::from_secs(2) };
    let mut attempt = 0;
    let problem = loop {
        attempt += 1;
        match api.enabled_regions().await {
            Ok(regions) if !regions.is_empty() => return (regions, None),
            Ok(_) => break "DescribeRegions listed no enabled region".to_owned(),
            Err(e) if e.is_retryable() && attempt < policy.max_attempts => {
                let pause = policy.backoff(attempt, &mut rng);
                if deadline.remaining().is_some_and(|left| left < pause) {
                    break format!("DescribeRegions failed: {e}");
                }
                tokio::time::sleep(pause).await;
            }
            Err(e) => break format!("DescribeRegions failed: {e}"),
        }
    };
    let fallback: Vec<String> = DEFAULT_ENABLED_REGIONS.iter().map(|r| (*r).to_owned()).collect();
    let warning = format!(
        "cannot list the enabled regions ({problem}); using the {} regions enabled by default instead \
         (opt-in regions are skipped this run): {}",
        fallback.len(),
        fallback.join(", ")
    );
    tracing::warn!(%problem, "region discovery failed, using the default regions");
    (fallback, Some(warning))
}

/// The window a task reads this run: [`window::window`] from its checkpoint, started no
/// later than `since` (a backfill), never before the lookback floor.
pub fn task_window(checkpoint: Option<i64>, now: i64, settings: &SourceSettings) -> Option<Span> {
    let cfg = &settings.window;
    let base = window::window(checkpoint, now, cfg);
    let Some(since) = settings.since else { return base };
    let since = since.max(now - cfg.lookback);
    let end = now - cfg.buffer;
    match base {
        Some(w) => Some(Span { start: w.start.min(since), end: w.end }),
        None => (since < end).then_some(Span { start: since, end }),
    }
}

/// The length of the next slice after one of `len` seconds held `events` events.
///
/// After an empty slice the next one is 4× longer, past [`SliceTuning::max`]: an empty
/// slice costs one request whatever its length, so capping it only adds requests (an
/// initial load whose events are all in its last days paid 14 requests per task for the
/// empty part, 5 now). `max` bounds slices sized from a measured density.
pub fn next_slice_len(len: i64, events: usize, tuning: &SliceTuning) -> i64 {
    let len = len.max(1);
    let min = tuning.min.max(1);
    if events == 0 {
        return len.saturating_mul(4).max(min);
    }
    let wanted = (len as f64 * tuning.target_events.max(1) as f64 / events as f64) as i64;
    wanted.clamp((len / 4).max(1), len.saturating_mul(4)).clamp(min, tuning.max.max(min))
}

/// Why a task stopped early.
enum Stop {
    Deadline,
    Failed(String),
    /// The receiver is gone: nobody is listening any more.
    Closed,
}

/// What a slice has read and not yet handed over.
#[derive(Default)]
struct Pending {
    records: Vec<RawRecord>,
    rejections: Vec<SourceRejection>,
}

struct TaskRun<A> {
    api: Arc<A>,
    limiter: Arc<RegionLimiter>,
    task: TaskKey,
    settings: Arc<SourceSettings>,
    deadline: Deadline,
    tx: mpsc::Sender<SourceMsg>,
    stats: RequestStats,
    rng: fastrand::Rng,
    /// Whether any call of this run got an answer.
    answered: bool,
}

impl<A: LookupApi> TaskRun<A> {
    /// How to stop when the deadline cuts the retries after `last` failed: a task that never
    /// got a single answer failed (else a run against an unreachable endpoint and a short
    /// deadline reported every task as merely "stopped at the deadline", with exit code 0
    /// and no error); one that made progress stopped at the deadline.
    fn cut(&self, last: Option<&LookupError>) -> Stop {
        match last {
            Some(e) if !self.answered => {
                Stop::Failed(format!("LookupEvents never answered before the deadline; last error: {e}"))
            }
            _ => Stop::Deadline,
        }
    }

    /// One page, with the limiter and the retry policy.
    async fn page(&mut self, slice: Span, token: Option<&str>) -> Result<LookupPage, Stop> {
        let policy = self.settings.retry;
        let mut attempt = 0u32;
        let mut last: Option<LookupError> = None;
        loop {
            attempt += 1;
            if self.deadline.passed() {
                return Err(self.cut(last.as_ref()));
            }
            if self.limiter.acquire(&self.task.region, self.deadline).await.is_err() {
                return Err(self.cut(last.as_ref()));
            }
            self.stats.requests += 1;
            let call = self.api.lookup_page(
                &self.task.region,
                &self.task.source,
                slice.start,
                slice.end,
                token.map(str::to_owned),
            );
            let result = match self.deadline.remaining() {
                Some(left) => match tokio::time::timeout(left, call).await {
                    Ok(r) => r,
                    Err(_) => return Err(self.cut(last.as_ref())),
                },
                None => call.await,
            };
            let err = match result {
                Ok(page) => {
                    self.answered = true;
                    return Ok(page);
                }
                Err(e) => e,
            };
            match &err {
                LookupError::Throttled => {
                    self.stats.throttled += 1;
                    self.limiter.on_throttle(&self.task.region);
                }
                LookupError::Server { .. } => self.stats.server_errors += 1,
                LookupError::Fatal { .. } => return Err(Stop::Failed(format!("LookupEvents: {err}"))),
            }
            if attempt >= policy.max_attempts.max(1) {
                return Err(Stop::Failed(format!("LookupEvents failed {attempt} times, last: {err}")));
            }
            let pause = policy.backoff(attempt, &mut self.rng);
            if self.deadline.remaining().is_some_and(|left| left < pause) {
                return Err(self.cut(Some(&err)));
            }
            self.stats.retries += 1;
            tracing::debug!(task = %self.task, attempt, error = %err, pause_ms = pause.as_millis() as u64, "retrying");
            last = Some(err);
            tokio::time::sleep(pause).await;
        }
    }

    async fn send(&self, msg: SourceMsg) -> Result<(), Stop> {
        self.tx.send(msg).await.map_err(|_| Stop::Closed)
    }

    /// Hands over what was read. Without progress, only when there is something.
    async fn flush(&self, span: Span, reach: i64, pending: &mut Pending, progress: Progress) -> Result<(), Stop> {
        if progress == Progress::None && pending.records.is_empty() && pending.rejections.is_empty() {
            return Ok(());
        }
        let batch = SourceBatch {
            task: self.task.clone(),
            records: std::mem::take(&mut pending.records),
            rejections: std::mem::take(&mut pending.rejections),
            progress,
            position: Some((span, reach)),
        };
        self.send(SourceMsg::Batch(batch)).await
    }

    /// Reads one slice to its last page. `seen_at_start` holds the ids delivered with the
    /// previous slice at its end time (this slice's start): they are not delivered again.
    /// Returns the events the slice held and the ids at its own end time.
    async fn read_slice(
        &mut self,
        span: Span,
        slice: Span,
        seen_at_start: &HashSet<String>,
    ) -> Result<(usize, HashSet<String>), Stop> {
        let label = format!("{} slice {}", self.task, timefmt::rfc3339(slice.start));
        let flush_pages = self.settings.slicing.flush_pages.max(1);
        let mut pending = Pending::default();
        let mut at_end = HashSet::new();
        let (mut token, mut page_no, mut unflushed_pages, mut events) = (None::<String>, 0usize, 0usize, 0usize);
        loop {
            let page = match self.page(slice, token.as_deref()).await {
                Ok(p) => p,
                Err(stop) => {
                    // Hand over what this slice has read; the checkpoint stays where it is.
                    self.flush(span, slice.start, &mut pending, Progress::None).await?;
                    return Err(stop);
                }
            };
            page_no += 1;
            unflushed_pages += 1;
            for (i, ev) in page.events.into_iter().enumerate() {
                events += 1;
                if let Some(id) = &ev.event_id {
                    if seen_at_start.contains(id) {
                        continue;
                    }
                    if ev.event_time.is_none_or(|t| t >= slice.end) {
                        at_end.insert(id.clone());
                    }
                }
                let origin = format!("{label} page {page_no} item {}", i + 1);
                if ev.cloudtrail_event.trim().is_empty() {
                    let id = ev.event_id.as_deref().unwrap_or("none");
                    let reason = format!("the LookupEvents item (event id {id}) has no CloudTrailEvent");
                    pending.rejections.push(SourceRejection { origin, reason });
                } else {
                    pending.records.push(RawRecord { text: ev.cloudtrail_event, origin });
                }
            }
            match page.next_token {
                Some(t) => {
                    token = Some(t);
                    if unflushed_pages >= flush_pages {
                        self.flush(span, slice.start, &mut pending, Progress::None).await?;
                        unflushed_pages = 0;
                    }
                }
                None => break,
            }
        }
        let done = Progress::Checkpoint { task: self.task.clone(), to: slice.end };
        self.flush(span, slice.end, &mut pending, done).await?;
        Ok((events, at_end))
    }

    async fn walk(&mut self, span: Span) -> Result<(), Stop> {
        let tuning = self.settings.slicing;
        let mut len = self.settings.window.slice.max(1);
        let mut start = span.start;
        let mut seen = HashSet::new();
        while start < span.end {
            if self.deadline.passed() {
                return Err(Stop::Deadline);
            }
            let slice = Span { start, end: start.saturating_add(len).min(span.end) };
            let (events, at_end) = self.read_slice(span, slice, &seen).await?;
            tracing::debug!(task = %self.task, start = slice.start, end = slice.end, events, "slice done");
            seen = at_end;
            len = next_slice_len(slice.end - slice.start, events, &tuning);
            start = slice.end;
        }
        Ok(())
    }
}

/// Runs one (region, source) task to the end of its window, the deadline or a fatal error,
/// sending [`SourceMsg::Started`], the batches and [`SourceMsg::Done`] on `tx`.
#[allow(clippy::too_many_arguments)]
pub async fn run_task<A: LookupApi>(
    api: Arc<A>,
    limiter: Arc<RegionLimiter>,
    task: TaskKey,
    checkpoint: Option<i64>,
    settings: Arc<SourceSettings>,
    now: i64,
    deadline: Deadline,
    tx: mpsc::Sender<SourceMsg>,
) {
    let span = task_window(checkpoint, now, &settings);
    let mut run = TaskRun {
        api,
        limiter,
        task: task.clone(),
        settings,
        deadline,
        tx,
        stats: RequestStats::default(),
        rng: fastrand::Rng::new(),
        answered: false,
    };
    if run.send(SourceMsg::Started { task: task.clone(), window: span }).await.is_err() {
        return;
    }
    tracing::info!(task = %task, window = ?span.map(|w| (timefmt::rfc3339(w.start), timefmt::rfc3339(w.end))), "task started");
    let outcome = match span {
        Some(span) => run.walk(span).await,
        None => Ok(()),
    };
    let (status, error) = match outcome {
        Ok(()) => (TaskStatus::Complete, None),
        Err(Stop::Deadline) => (TaskStatus::Deadline, None),
        Err(Stop::Failed(e)) => (TaskStatus::Failed, Some(e)),
        Err(Stop::Closed) => return,
    };
    tracing::info!(task = %task, ?status, error = error.as_deref().unwrap_or(""), requests = run.stats.requests, "task ended");
    let end = TaskEnd { task, status, error, stats: std::mem::take(&mut run.stats) };
    let _ = run.send(SourceMsg::Done(end)).await;
}

/// Discovers the regions (unless [`SourceSettings::regions`] lists them), plans the tasks
/// and runs them, at most [`SourceSettings::max_workers`] at once, feeding `tx`. Returns
/// the run's warnings (region fallback, a task that crashed). One task failing never stops
/// the others; each reports its own [`TaskEnd`].
///
/// Workers go first to the regions with the fewest running tasks (then the most waiting),
/// so concurrent tasks spread over regions instead of queueing on one region's rate limit.
pub async fn run_all<A: LookupApi>(
    api: Arc<A>,
    settings: &SourceSettings,
    checkpoints: HashMap<TaskKey, i64>,
    now: i64,
    deadline: Deadline,
    tx: mpsc::Sender<SourceMsg>,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let enabled = match &settings.regions {
        Some(only) => only.clone(),
        None => {
            let (regions, warning) = discover_regions(api.as_ref(), deadline).await;
            warnings.extend(warning);
            regions
        }
    };
    let tasks = plan_tasks(settings, &enabled);
    if tasks.is_empty() {
        warnings.push("no LookupEvents task to run: every source is turned off or outside --regions".to_owned());
    }
    let limiter = Arc::new(RegionLimiter::new(settings.rate_per_region));
    let settings = Arc::new(settings.clone());
    let workers = settings.max_workers.max(1);

    let mut queues: BTreeMap<String, VecDeque<TaskKey>> = BTreeMap::new();
    for t in tasks {
        queues.entry(t.region.clone()).or_default().push_back(t);
    }
    let mut running: HashMap<String, usize> = HashMap::new();
    let mut ids = HashMap::new();
    let mut set = JoinSet::new();
    loop {
        while set.len() < workers {
            let next = queues
                .iter()
                .min_by_key(|(region, queue)| (running.get(*region).copied().unwrap_or(0), Reverse(queue.len())))
                .map(|(region, _)| region.clone());
            let Some(region) = next else { break };
            let Some(task) = queues.get_mut(&region).and_then(VecDeque::pop_front) else { break };
            if queues.get(&region).is_some_and(VecDeque::is_empty) {
                queues.remove(&region);
            }
            *running.entry(region).or_default() += 1;
            let fut = run_task(
                api.clone(),
                limiter.clone(),
                task.clone(),
                checkpoints.get(&task).copied(),
                settings.clone(),
                now,
                deadline,
                tx.clone(),
            );
            ids.insert(set.spawn(fut).id(), task);
        }
        let Some(joined) = set.join_next_with_id().await else { break };
        let id = match &joined {
            Ok((id, ())) => *id,
            Err(e) => e.id(),
        };
        let Some(task) = ids.remove(&id) else { continue };
        if let Some(n) = running.get_mut(&task.region) {
            *n = n.saturating_sub(1);
        }
        if let Err(e) = joined {
            let error = format!("task {task} stopped abnormally: {e}");
            tracing::error!(%task, error = %e, "task crashed");
            warnings.push(error.clone());
            let end = TaskEnd { task, status: TaskStatus::Failed, error: Some(error), stats: RequestStats::default() };
            let _ = tx.send(SourceMsg::Done(end)).await;
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    const NOW: i64 = 1_800_000_000;

    /// An in-memory LookupEvents: events `(id, time)` per region, pages of `page_size`,
    /// newest first, both bounds inclusive; scripted failures are served first.
    #[derive(Default)]
    struct FakeApi {
        events: Vec<(String, i64)>,
        page_size: usize,
        failures: Mutex<VecDeque<(usize, LookupError)>>,
        calls: Mutex<usize>,
    }

    impl FakeApi {
        fn new(events: &[(&str, i64)], page_size: usize) -> Self {
            let events = events.iter().map(|(id, t)| ((*id).to_owned(), *t)).collect();
            FakeApi { events, page_size, ..FakeApi::default() }
        }

        /// Fail the call numbered `at` (1-based, counting every call) with `err`.
        fn fail_at(self, at: usize, err: LookupError) -> Self {
            self.failures.lock().expect("lock").push_back((at, err));
            self
        }
    }

    impl LookupApi for FakeApi {
        async fn lookup_page(
            &self,
            _region: &str,
            _source: &str,
            start: i64,
            end: i64,
            next_token: Option<String>,
        ) -> Result<LookupPage, LookupError> {
            let call = {
                let mut c = self.calls.lock().expect("lock");
                *c += 1;
                *c
            };
            {
                let mut f = self.failures.lock().expect("lock");
                if f.front().is_some_and(|(at, _)| *at == call) {
                    if let Some((_, e)) = f.pop_front() {
                        return Err(e);
                    }
                }
            }
            let mut hits: Vec<&(String, i64)> = self.events.iter().filter(|(_, t)| *t >= start && *t <= end).collect();
            hits.sort_by_key(|(id, t)| Reverse((*t, id.clone())));
            let from: usize = next_token.map_or(0, |t| t.parse().expect("our token"));
            let to = (from + self.page_size).min(hits.len());
            let events = hits[from..to]
                .iter()
                .map(|(id, t)| LookedUp {
                    cloudtrail_event: if id.starts_with("blank") {
                        String::new()
                    } else {
                        format!("{{\"eventID\":\"{id}\"}}")
                    },
                    event_id: Some(id.clone()),
                    event_time: Some(*t),
                })
                .collect();
            Ok(LookupPage { events, next_token: (to < hits.len()).then(|| to.to_string()) })
        }

        async fn enabled_regions(&self) -> Result<Vec<String>, LookupError> {
            Err(LookupError::Server { status: Some(503), detail: "down".into() })
        }
    }

    fn task() -> TaskKey {
        TaskKey { region: "us-east-1".into(), source: IAM_SOURCE.into() }
    }

    fn fast_settings() -> SourceSettings {
        SourceSettings {
            rate_per_region: 0.0,
            retry: RetryPolicy { max_attempts: 4, base: Duration::from_millis(1), cap: Duration::from_millis(5) },
            ..SourceSettings::default()
        }
    }

    /// Runs one task and collects every message.
    async fn run(api: FakeApi, checkpoint: Option<i64>, settings: SourceSettings) -> Vec<SourceMsg> {
        let (tx, mut rx) = mpsc::channel(16);
        let limiter = Arc::new(RegionLimiter::new(settings.rate_per_region));
        let h = tokio::spawn(run_task(
            Arc::new(api),
            limiter,
            task(),
            checkpoint,
            Arc::new(settings),
            NOW,
            Deadline::none(),
            tx,
        ));
        let mut out = Vec::new();
        while let Some(m) = rx.recv().await {
            out.push(m);
        }
        h.await.expect("task");
        out
    }

    fn batches(msgs: &[SourceMsg]) -> Vec<&SourceBatch> {
        msgs.iter()
            .filter_map(|m| match m {
                SourceMsg::Batch(b) => Some(b),
                _ => None,
            })
            .collect()
    }

    fn ids(b: &SourceBatch) -> Vec<String> {
        b.records
            .iter()
            .map(|r| {
                let v: serde_json::Value = serde_json::from_str(&r.text).expect("json");
                v["eventID"].as_str().expect("id").to_owned()
            })
            .collect()
    }

    fn end(msgs: &[SourceMsg]) -> &TaskEnd {
        match msgs.last() {
            Some(SourceMsg::Done(e)) => e,
            other => panic!("last message is not Done: {other:?}"),
        }
    }

    #[tokio::test]
    async fn boundary_events_are_delivered_once_and_window_edges_are_included() {
        let settings =
            SourceSettings { window: window::WindowConfig { slice: 3600, ..Default::default() }, ..fast_settings() };
        let cp = NOW - 4 * 3600;
        let w = task_window(Some(cp), NOW, &settings).expect("window");
        let boundary = w.start + 3600; // end of the first slice, start of the second
        let api = FakeApi::new(
            &[
                ("first", w.start),
                ("edge", boundary),
                ("before-edge", boundary - 1),
                ("last", w.end),
                ("late", w.end + 1),
            ],
            2,
        );
        let msgs = run(api, Some(cp), settings).await;
        let all: Vec<String> = batches(&msgs).iter().flat_map(|b| ids(b)).collect();
        let mut sorted = all.clone();
        sorted.sort();
        assert_eq!(sorted, ["before-edge", "edge", "first", "last"], "{all:?}");
        assert_eq!(end(&msgs).status, TaskStatus::Complete);
        // The checkpoints walk the window oldest first and end at its end.
        let cps: Vec<i64> = batches(&msgs)
            .iter()
            .filter_map(|b| match &b.progress {
                Progress::Checkpoint { to, .. } => Some(*to),
                _ => None,
            })
            .collect();
        assert_eq!(cps.first(), Some(&boundary));
        assert_eq!(cps.last(), Some(&w.end));
        assert!(cps.windows(2).all(|p| p[0] < p[1]), "{cps:?}");
        assert!(matches!(msgs.first(), Some(SourceMsg::Started { window: Some(x), .. }) if *x == w));
    }

    #[tokio::test]
    async fn long_slices_are_handed_over_every_n_pages_and_blank_items_rejected() {
        let mut settings = fast_settings();
        settings.slicing.flush_pages = 2;
        let cp = NOW - 3600;
        let events: Vec<(String, i64)> = (0..11).map(|i| (format!("e{i:02}"), NOW - 3000 + i)).collect();
        let mut refs: Vec<(&str, i64)> = events.iter().map(|(id, t)| (id.as_str(), *t)).collect();
        refs.push(("blank-1", NOW - 2000));
        let msgs = run(FakeApi::new(&refs, 2), Some(cp), settings).await;
        let b = batches(&msgs);
        // 12 items in 6 pages of 2, one slice: flushes after pages 2 and 4, then the checkpoint.
        let shape: Vec<(usize, bool)> =
            b.iter().map(|b| (b.records.len() + b.rejections.len(), b.progress != Progress::None)).collect();
        assert_eq!(shape, [(4, false), (4, false), (4, true)]);
        let rejected: Vec<&SourceRejection> = b.iter().flat_map(|b| &b.rejections).collect();
        assert_eq!(rejected.len(), 1);
        assert!(rejected[0].reason.contains("blank-1"), "{rejected:?}");
        assert!(rejected[0].origin.starts_with("us-east-1/iam.amazonaws.com slice "), "{}", rejected[0].origin);
        assert!(b[0].records[0].origin.ends_with("page 1 item 2"), "{}", b[0].records[0].origin);
        assert_eq!(b.iter().map(|b| b.records.len()).sum::<usize>(), 11);
    }

    #[tokio::test]
    async fn a_fatal_error_mid_slice_hands_over_what_was_read_without_progress() {
        let settings =
            SourceSettings { window: window::WindowConfig { slice: 3600, ..Default::default() }, ..fast_settings() };
        let cp = NOW - 3 * 3600;
        let w = task_window(Some(cp), NOW, &settings).expect("window");
        // Slice 1 holds one event (1 call); slice 2 holds 5 (3 calls); the 3rd call fails.
        let mut ev = vec![("old", w.start + 10)];
        let names = ["a", "b", "c", "d", "e"];
        for (i, n) in names.iter().enumerate() {
            ev.push((n, w.start + 3600 + 100 + i as i64));
        }
        let denied = LookupError::Fatal { code: "AccessDeniedException".into(), detail: "no".into() };
        let api = FakeApi::new(&ev, 2).fail_at(3, denied);
        let msgs = run(api, Some(cp), settings).await;
        let b = batches(&msgs);
        assert_eq!(b.len(), 2, "{b:?}");
        assert_eq!(b[0].progress, Progress::Checkpoint { task: task(), to: w.start + 3600 });
        assert_eq!((ids(b[1]), &b[1].progress), (vec!["e".to_owned(), "d".into()], &Progress::None));
        let e = end(&msgs);
        assert_eq!(e.status, TaskStatus::Failed);
        assert!(e.error.as_deref().is_some_and(|m| m.contains("AccessDeniedException")), "{e:?}");
        assert_eq!((e.stats.requests, e.stats.retries), (3, 0));
    }

    #[tokio::test]
    async fn retryable_errors_are_retried_and_counted_until_the_attempts_run_out() {
        let cp = NOW - 3600;
        let api = FakeApi::new(&[("x", NOW - 1000)], 50)
            .fail_at(1, LookupError::Throttled)
            .fail_at(2, LookupError::Server { status: Some(503), detail: "busy".into() });
        let msgs = run(api, Some(cp), fast_settings()).await;
        let e = end(&msgs);
        assert_eq!(e.status, TaskStatus::Complete);
        assert_eq!(e.stats, RequestStats { requests: 3, retries: 2, throttled: 1, server_errors: 1 });
        assert_eq!(batches(&msgs).iter().map(|b| b.records.len()).sum::<usize>(), 1);

        let mut api = FakeApi::new(&[("x", NOW - 1000)], 50);
        for at in 1..=4 {
            api = api.fail_at(at, LookupError::Server { status: None, detail: "connection refused".into() });
        }
        let msgs = run(api, Some(cp), fast_settings()).await;
        let e = end(&msgs);
        assert_eq!(e.status, TaskStatus::Failed);
        assert_eq!(e.stats, RequestStats { requests: 4, retries: 3, throttled: 0, server_errors: 4 });
        assert!(e.error.as_deref().is_some_and(|m| m.contains("4 times") && m.contains("connection refused")));
        assert!(batches(&msgs).is_empty(), "no checkpoint without a complete slice");
    }

    #[tokio::test]
    async fn nothing_to_read_completes_at_once() {
        let msgs = run(FakeApi::new(&[], 50), Some(NOW + 1000), fast_settings()).await;
        assert!(matches!(msgs.first(), Some(SourceMsg::Started { window: None, .. })));
        assert_eq!(end(&msgs).status, TaskStatus::Complete);
        assert_eq!(msgs.len(), 2);
    }

    #[test]
    fn windows_honour_since_and_the_floor() {
        let s = SourceSettings::default();
        let cp = NOW - 3600;
        assert_eq!(task_window(Some(cp), NOW, &s), Some(Span { start: cp - 900, end: NOW - 300 }));
        let back = SourceSettings { since: Some(NOW - 10 * 86_400), ..SourceSettings::default() };
        assert_eq!(task_window(Some(cp), NOW, &back).map(|w| w.start), Some(NOW - 10 * 86_400));
        // Even past the end of the window (a checkpoint in the future), since re-reads.
        assert_eq!(task_window(Some(NOW + 1000), NOW, &back), Some(Span { start: NOW - 10 * 86_400, end: NOW - 300 }));
        let too_far = SourceSettings { since: Some(NOW - 400 * 86_400), ..SourceSettings::default() };
        assert_eq!(task_window(None, NOW, &too_far).map(|w| w.start), Some(NOW - 90 * 86_400));
        // A since later than the checkpoint changes nothing.
        let late = SourceSettings { since: Some(NOW - 60), ..SourceSettings::default() };
        assert_eq!(task_window(Some(cp), NOW, &late), task_window(Some(cp), NOW, &s));
    }

    #[test]
    fn slices_grow_when_sparse_and_shrink_when_busy() {
        let t = SliceTuning::default();
        let h6 = 6 * 3600;
        assert_eq!(next_slice_len(h6, 0, &t), 4 * h6);
        assert_eq!(next_slice_len(3 * 86_400, 0, &t), 12 * 86_400, "empty slices grow past max");
        assert_eq!(next_slice_len(12 * 86_400, 1, &t), t.max, "slices that held events are capped");
        assert_eq!(next_slice_len(60, 0, &t), t.min);
        assert_eq!(next_slice_len(h6, 500, &t), 2 * h6, "about target_events next time");
        assert_eq!(next_slice_len(h6, 1000, &t), h6);
        assert_eq!(next_slice_len(h6, 100_000, &t), h6 / 4, "at most 4x shorter at once");
        assert_eq!(next_slice_len(600, 100_000, &t), t.min);
        // An empty 90-day initial load takes a handful of slices.
        let (mut len, mut at, mut n) = (h6, 0, 0);
        while at < 90 * 86_400 {
            at += len;
            len = next_slice_len(len, 0, &t);
            n += 1;
        }
        assert!(n <= 6, "{n} slices");
    }

    #[test]
    fn tasks_follow_the_sources_and_regions() {
        let enabled: Vec<String> = ["us-east-1", "eu-west-1", "ap-east-1"].iter().map(|s| (*s).to_owned()).collect();
        let key = |r: &str, s: &str| TaskKey { region: r.into(), source: s.into() };
        let s = SourceSettings { sso_region: Some("eu-west-1".into()), ..SourceSettings::default() };
        assert_eq!(
            plan_tasks(&s, &enabled),
            [
                key("ap-east-1", STS_SOURCE),
                key("eu-west-1", SSO_SOURCE),
                key("eu-west-1", STS_SOURCE),
                key("us-east-1", IAM_SOURCE),
                key("us-east-1", SIGNIN_SOURCE),
                key("us-east-1", SSO_SOURCE),
                key("us-east-1", STS_SOURCE),
            ]
        );
        // SSO_REGION = us-east-1 is one task, not two.
        let s =
            SourceSettings { sso_region: Some("us-east-1".into()), process_sts: false, ..SourceSettings::default() };
        assert_eq!(plan_tasks(&s, &enabled).len(), 3);
        // --regions restricts every source.
        let s = SourceSettings { regions: Some(vec!["eu-west-1".into()]), ..SourceSettings::default() };
        assert_eq!(plan_tasks(&s, &enabled), [key("eu-west-1", STS_SOURCE)]);
    }
}
