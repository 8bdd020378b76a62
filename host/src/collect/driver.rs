//! Running a collection: the source tasks on a tokio runtime, the [`Collector`] on the
//! calling thread (it owns the plugins and the store), connected by a bounded channel.
//!
//! The order of a run: deliver alerts left pending by an earlier run, read the
//! checkpoints (or the files already read), start the sources, handle every message until
//! the sources end, deliver, report.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use crate::collect::lookup::{LookupApi, SourceSettings};
use crate::collect::run::{Collector, RunReport};
use crate::collect::trail::{ObjectSource, TrailLocation, TrailSettings};
use crate::collect::{Deadline, SourceMsg};
use crate::store::{StoreError, TaskKey};

/// Messages in flight between the sources and the collector (bounded: a slow store slows
/// the sources instead of filling memory).
pub const CHANNEL_CAPACITY: usize = 16;

/// A `--source` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceSpec {
    /// CloudTrail LookupEvents in every enabled region.
    CloudTrail,
    /// Trail log files in a folder or under an S3 prefix.
    Trail(TrailLocation),
}

impl SourceSpec {
    /// `cloudtrail`, `trail:PATH`, `trail:s3://BUCKET/PREFIX` or `s3://BUCKET/PREFIX`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        if t.eq_ignore_ascii_case("cloudtrail") {
            return Ok(SourceSpec::CloudTrail);
        }
        let loc = t.strip_prefix("trail:").or_else(|| t.starts_with("s3://").then_some(t));
        match loc {
            Some(l) => TrailLocation::parse(l).map(SourceSpec::Trail).map_err(|e| e.to_string()),
            None => Err(format!(
                "`{text}` is not a source: use cloudtrail, trail:PATH, trail:s3://BUCKET/PREFIX or s3://BUCKET/PREFIX"
            )),
        }
    }
}

/// Why a collection could not run at all.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Source(String),
}

/// Feed the collector from the sources `spawn` starts (it gets the sending end of the
/// channel and returns the warnings of the run), then finish the run.
fn drive<F>(rt: &Runtime, mut collector: Collector<'_>, now: i64, spawn: F) -> RunReport
where
    F: FnOnce(mpsc::Sender<SourceMsg>) -> tokio::task::JoinHandle<Vec<String>>,
{
    // Alerts an earlier run recorded but could not deliver go first.
    collector.deliver_pending(now);
    let (tx, mut rx) = mpsc::channel(CHANNEL_CAPACITY);
    let handle = {
        let _guard = rt.enter();
        spawn(tx)
    };
    while let Some(msg) = rx.blocking_recv() {
        collector.handle(msg, now);
    }
    match rt.block_on(handle) {
        Ok(warnings) => warnings.into_iter().for_each(|w| collector.warn(w)),
        Err(e) => collector.warn(format!("a source task stopped abnormally: {e}")),
    }
    collector.finish(now)
}

/// Collect from CloudTrail LookupEvents with `api`, from the checkpoints in the store.
pub fn collect_lookup<A: LookupApi>(
    rt: &Runtime,
    api: Arc<A>,
    settings: &SourceSettings,
    mut collector: Collector<'_>,
    now: i64,
    deadline: Deadline,
) -> Result<RunReport, CollectError> {
    let checkpoints: HashMap<TaskKey, i64> =
        collector.store().checkpoints()?.into_iter().map(|(k, c)| (k, c.last_processed)).collect();
    for (task, c) in &checkpoints {
        collector.note_checkpoint(task, Some(*c));
    }
    let settings = settings.clone();
    Ok(drive(rt, collector, now, move |tx| {
        tokio::spawn(
            async move { crate::collect::lookup::run_all(api, &settings, checkpoints, now, deadline, tx).await },
        )
    }))
}

/// Collect from trail files with `src` (whose location is `label`), skipping the files
/// the store has as read.
pub fn collect_trail<S: ObjectSource>(
    rt: &Runtime,
    src: Arc<S>,
    label: String,
    settings: TrailSettings,
    collector: Collector<'_>,
    now: i64,
    deadline: Deadline,
) -> Result<RunReport, CollectError> {
    let done = collector.store().files_done(&crate::collect::trail::trail_task(label.clone()))?;
    Ok(drive(rt, collector, now, move |tx| {
        tokio::spawn(async move {
            let s =
                crate::collect::trail::run_trail(src, label, move |k| done.contains(k), settings, deadline, tx).await;
            tracing::info!(
                "trail: {} objects listed, {} read, {} already read, {} digest/insight files skipped, {} not record files",
                s.listed,
                s.files_done,
                s.skipped_done,
                s.skipped_digest + s.skipped_insight,
                s.skipped_not_records
            );
            let mut warnings = Vec::new();
            if s.files_unreadable > 0 {
                warnings
                    .push(format!("{} trail file(s) could not be read; they are retried next run", s.files_unreadable));
            }
            if s.files_left > 0 {
                warnings.push(format!("{} trail file(s) left for the next run (deadline)", s.files_left));
            }
            if s.list_problems > 0 {
                warnings.push(format!("{} problem(s) while listing the trail location", s.list_problems));
            }
            warnings
        })
    }))
}

/// Everything a `collect` run needs (the CLI and the Lambda build one).
pub struct CollectRequest {
    pub source: SourceSpec,
    pub store: crate::store::spec::StoreSpec,
    pub sinks: Vec<crate::sink::SinkSpec>,
    /// Format of alerts on stdout.
    pub stdout_format: crate::report::Format,
    pub color: bool,
    pub lookup: SourceSettings,
    pub trail: TrailSettings,
    pub settings: crate::collect::run::CollectSettings,
    pub load: crate::dispatch::LoadOptions,
    pub deadline: Deadline,
    /// Overrides every AWS endpoint (else the standard chain: `AWS_ENDPOINT_URL`, ...).
    pub endpoint_url: Option<String>,
    /// Progress bars (a terminal) instead of log lines.
    pub progress_bars: bool,
}

fn open_sinks(specs: &[crate::sink::SinkSpec], req: &CollectRequest) -> Result<crate::sink::MultiSink, CollectError> {
    use crate::sink::{AlertSink, FileSink, SinkSpec, StdoutSink};
    let mut sinks: Vec<Box<dyn AlertSink>> = Vec::new();
    for s in specs {
        match s {
            SinkSpec::Stdout => sinks.push(Box::new(StdoutSink::new(req.stdout_format, req.color))),
            SinkSpec::File(p) => {
                sinks.push(Box::new(FileSink::open(p).map_err(|e| CollectError::Source(e.to_string()))?))
            }
            #[cfg(feature = "aws")]
            SinkSpec::Sns(arn) => sinks.push(Box::new(
                crate::aws::sns::SnsSink::connect(arn, req.endpoint_url.as_deref())
                    .map_err(|e| CollectError::Source(e.to_string()))?,
            )),
            #[cfg(not(feature = "aws"))]
            SinkSpec::Sns(arn) => {
                return Err(CollectError::Source(format!(
                    "--alerts sns:{arn}: this build has no AWS support (feature `aws`); use stdout or file:PATH"
                )))
            }
        }
    }
    Ok(crate::sink::MultiSink(sinks))
}

/// Run one collection: load the plugins, open the store and sinks, read the source, and
/// return the report. Errors are for runs that could not start.
pub fn run(req: CollectRequest) -> Result<RunReport, CollectError> {
    use crate::collect::run::Observer;
    let now = crate::timefmt::now();
    let mut dispatcher =
        crate::dispatch::load(&req.load).map_err(|e| CollectError::Source(format!("cannot load the plugins: {e}")))?;
    if !dispatcher.has_extractor() {
        return Err(CollectError::Source("no user-name extractor is loaded (is `user-name` disabled?)".into()));
    }
    // A dry run writes nothing: it reads the checkpoints of an existing store, or starts
    // from scratch in a throwaway store.
    let scratch;
    let mut store: Box<dyn crate::store::Store> = if req.settings.dry_run {
        match req.store.open_existing_at(req.endpoint_url.as_deref()) {
            Ok(s) => s,
            Err(_) => {
                scratch = ScratchDir::new()?;
                Box::new(crate::store::local::LocalStore::open(&scratch.0)?)
            }
        }
    } else {
        req.store.open_at(req.endpoint_url.as_deref())?
    };
    let sink_specs = if req.settings.dry_run { vec![crate::sink::SinkSpec::Stdout] } else { req.sinks.clone() };
    let mut sink = open_sinks(&sink_specs, &req)?;
    let mut bars = crate::collect::progress::Bars::default();
    let mut logs = crate::collect::progress::Logs;
    let observer: &mut dyn Observer = if req.progress_bars { &mut bars } else { &mut logs };
    let mut parts = Parts { dispatcher: &mut dispatcher, store: store.as_mut(), sink: &mut sink };
    let run = RunSpec {
        source: &req.source,
        lookup: &req.lookup,
        trail: &req.trail,
        settings: req.settings.clone(),
        deadline: req.deadline,
        endpoint_url: req.endpoint_url.as_deref(),
    };
    collect_with(&mut parts, &run, observer, now)
}

/// What a collection runs with, built once (per process, or per Lambda container) and
/// reused by every run: the loaded plugins, the store and the alert sinks.
pub struct Parts<'a> {
    pub dispatcher: &'a mut crate::dispatch::Dispatcher,
    pub store: &'a mut dyn crate::store::Store,
    pub sink: &'a mut dyn crate::sink::AlertSink,
}

/// What one run reads and how.
pub struct RunSpec<'a> {
    pub source: &'a SourceSpec,
    pub lookup: &'a SourceSettings,
    pub trail: &'a TrailSettings,
    pub settings: crate::collect::run::CollectSettings,
    pub deadline: Deadline,
    /// Overrides every AWS endpoint (else the standard chain).
    pub endpoint_url: Option<&'a str>,
}

/// One run over prepared parts: deliver pending alerts, read the source from the store's
/// progress, store, detect, deliver, report. It starts its own async runtime for the sources,
/// so it must be called from a plain thread (in Lambda: `spawn_blocking`).
pub fn collect_with(
    parts: &mut Parts<'_>,
    run: &RunSpec<'_>,
    observer: &mut dyn crate::collect::run::Observer,
    now: i64,
) -> Result<RunReport, CollectError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CollectError::Source(format!("cannot start the async runtime: {e}")))?;
    let collector = Collector::new(parts.dispatcher, parts.store, parts.sink, observer, run.settings.clone());
    match run.source {
        #[cfg(feature = "aws")]
        SourceSpec::CloudTrail => {
            let config = rt.block_on(crate::aws::sdk_config(run.endpoint_url));
            let api = Arc::new(crate::aws::cloudtrail::SdkLookup::new(&config));
            collect_lookup(&rt, api, run.lookup, collector, now, run.deadline)
        }
        SourceSpec::Trail(loc @ TrailLocation::Local(path)) => {
            let src =
                Arc::new(crate::collect::trail::LocalDir::new(path).map_err(|e| CollectError::Source(e.to_string()))?);
            collect_trail(&rt, src, loc.label(), run.trail.clone(), collector, now, run.deadline)
        }
        #[cfg(feature = "aws")]
        SourceSpec::Trail(loc @ TrailLocation::S3 { bucket, prefix }) => {
            let config = rt.block_on(crate::aws::sdk_config(run.endpoint_url));
            let src = Arc::new(crate::aws::s3::S3Prefix::from_sdk_config(&config, bucket, prefix));
            collect_trail(&rt, src, loc.label(), run.trail.clone(), collector, now, run.deadline)
        }
        #[cfg(not(feature = "aws"))]
        SourceSpec::CloudTrail | SourceSpec::Trail(TrailLocation::S3 { .. }) => Err(CollectError::Source(
            "this build has no AWS support (feature `aws`); use --source trail:PATH with a local folder".into(),
        )),
    }
}

/// A temporary folder removed on drop (dry runs without a store).
struct ScratchDir(std::path::PathBuf);

impl ScratchDir {
    fn new() -> Result<Self, CollectError> {
        let dir = std::env::temp_dir().join(format!("iam-tracker-dry-run-{}", std::process::id()));
        std::fs::create_dir_all(&dir)
            .map_err(|e| CollectError::Source(format!("cannot create {}: {e}", dir.display())))?;
        Ok(ScratchDir(dir))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
