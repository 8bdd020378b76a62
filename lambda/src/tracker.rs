//! The `tracker` function: built once per container ([`Tracker::cold_start`]), then one
//! collection per scheduled invocation ([`Tracker::run`]).
//!
//! Cold start reads the configuration (an invalid variable fails it, named), connects the
//! DynamoDB store and the SNS sink, loads the built-in plugins from their embedded precompiled
//! artifacts, and fetches the third-party plugins from `PLUGINS_S3_URI` (admitted by SHA-256,
//! compiled once into `/tmp`; refusals are reported, never fatal). Every run reuses all of it.

use std::path::PathBuf;

use iam_tracker::collect::driver::{collect_with, Parts, RunSpec, SourceSpec};
use iam_tracker::collect::run::{CollectSettings, RunReport};
use iam_tracker::collect::trail::TrailSettings;
use iam_tracker::collect::Deadline;
use iam_tracker::dispatch::{Dispatcher, LoadOptions};
use iam_tracker::plugin::{Limits, PluginHost};
use iam_tracker::report::RaisedAlert;
use iam_tracker::sink::{AlertSink, MultiSink, SinkError};
use serde_json::{json, Value};

use crate::config::TrackerConfig;

/// Where compiled third-party plugins are cached (Lambda's writable `/tmp`).
pub const PLUGIN_CACHE_ENV: &str = "IAM_TRACKER_PLUGIN_CACHE";

/// A cold start that cannot complete. The message says what and why.
#[derive(Debug, thiserror::Error)]
pub enum ColdStartError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("store: {0}")]
    Store(#[from] iam_tracker::store::StoreError),
    #[error("alerts: {0}")]
    Sink(#[from] SinkError),
    #[error("plugins: {0}")]
    Plugins(String),
}

/// Alerts written to the function's log when alerting is off (`ALERTS_ENABLED=false`), so
/// they are still recorded as delivered somewhere an operator can search.
pub struct LogSink;

impl AlertSink for LogSink {
    fn describe(&self) -> String {
        "log".into()
    }

    fn deliver(&mut self, alert: &RaisedAlert) -> Result<(), SinkError> {
        let text = serde_json::to_string(alert)
            .map_err(|e| SinkError { sink: "log".into(), detail: format!("cannot encode the alert: {e}") })?;
        tracing::warn!(target: "iam_tracker::alert", alert = %text, "alert (alerts are disabled: logged only)");
        Ok(())
    }
}

/// Everything a run needs, built once per container.
pub struct Tracker {
    cfg: TrackerConfig,
    dispatcher: Dispatcher,
    store: Box<dyn iam_tracker::store::Store + Send>,
    sink: MultiSink,
    /// Third-party components refused at cold start, repeated in every response.
    refused: Vec<String>,
}

impl Tracker {
    /// Build the container's state. Blocking: call it from a plain thread (`spawn_blocking`).
    pub fn cold_start(cfg: TrackerConfig) -> Result<Self, ColdStartError> {
        use iam_tracker::aws::dynamodb::{DynamoOptions, DynamoStore, TableNames};
        let tables = TableNames {
            events: cfg.tables.events.clone(),
            control: cfg.tables.control.clone(),
            alerts: cfg.tables.alerts.clone(),
        };
        let opts = DynamoOptions {
            event_retention: cfg.event_retention_days.map(|d| i64::from(d) * 86_400),
            ..DynamoOptions::default()
        };
        let label = format!("dynamodb:{}", tables.events);
        let store = DynamoStore::connect(tables, label, None, opts)?;
        let sink: Box<dyn AlertSink> = match &cfg.alerts_topic {
            Some(arn) => Box::new(iam_tracker::aws::sns::SnsSink::connect(arn, None)?),
            None => Box::new(LogSink),
        };
        let host = PluginHost::new(Limits::default()).map_err(|e| ColdStartError::Plugins(e.to_string()))?;
        let config_for = |id: &str| cfg.plugin_config.plugin_config(id);
        let fetched = match &cfg.third_party {
            None => crate::plugins::Fetched::default(),
            Some(tp) => fetch_third_party(&tp.uri, &tp.allowed, &host, &config_for),
        };
        for r in &fetched.refused {
            tracing::warn!("third-party plugin refused: {r}");
        }
        let load = LoadOptions {
            plugin_dirs: Vec::new(),
            only: Vec::new(),
            no_builtins: false,
            config: cfg.plugin_config.clone(),
            limits: Limits::default(),
        };
        let dispatcher = iam_tracker::dispatch::load_with(&load, &host, fetched.plugins)
            .map_err(|e| ColdStartError::Plugins(e.to_string()))?;
        if !dispatcher.has_extractor() {
            return Err(ColdStartError::Plugins("no user-name extractor is loaded (is `user-name` disabled?)".into()));
        }
        Ok(Tracker { cfg, dispatcher, store: Box::new(store), sink: MultiSink(vec![sink]), refused: fetched.refused })
    }

    /// One collection from CloudTrail LookupEvents until `deadline`. Blocking.
    pub fn run(&mut self, deadline: Deadline) -> Result<RunReport, iam_tracker::collect::driver::CollectError> {
        let settings = CollectSettings { filters: self.cfg.filters.clone(), ..CollectSettings::default() };
        let trail = TrailSettings::default();
        let spec = RunSpec {
            source: &SourceSpec::CloudTrail,
            lookup: &self.cfg.sources,
            trail: &trail,
            settings,
            deadline,
            endpoint_url: None,
        };
        let mut parts = Parts { dispatcher: &mut self.dispatcher, store: self.store.as_mut(), sink: &mut self.sink };
        let mut observer = iam_tracker::collect::progress::Logs;
        collect_with(&mut parts, &spec, &mut observer, iam_tracker::timefmt::now())
    }

    /// Third-party components refused at cold start.
    pub fn refused(&self) -> &[String] {
        &self.refused
    }
}

/// Fetch the third-party plugins with a short-lived runtime (cold start runs on a plain thread).
fn fetch_third_party(
    uri: &str,
    allowed: &[(String, String)],
    host: &PluginHost,
    config_for: &dyn Fn(&str) -> String,
) -> crate::plugins::Fetched {
    let cache = std::env::var_os(PLUGIN_CACHE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/tmp/iam-tracker-plugins"));
    let (bucket, prefix) = match iam_tracker::collect::trail::TrailLocation::parse(uri) {
        Ok(iam_tracker::collect::trail::TrailLocation::S3 { bucket, prefix }) => (bucket, prefix),
        _ => {
            return crate::plugins::Fetched {
                plugins: Vec::new(),
                refused: vec![format!("PLUGINS_S3_URI `{uri}` is not an s3://bucket/prefix URI")],
            }
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            return crate::plugins::Fetched {
                plugins: Vec::new(),
                refused: vec![format!("cannot start a runtime to fetch the third-party plugins: {e}")],
            }
        }
    };
    rt.block_on(async {
        let config = iam_tracker::aws::sdk_config(None).await;
        let src = iam_tracker::aws::s3::S3Prefix::from_sdk_config(&config, bucket, prefix);
        crate::plugins::fetch(&src, allowed, host, &cache, config_for).await
    })
}

/// The invocation's response: totals first, then the whole run report.
pub fn response(report: &RunReport, refused: &[String]) -> Value {
    let sum = |f: fn(&iam_tracker::collect::run::TaskReport) -> u64| -> u64 { report.tasks.values().map(f).sum() };
    let errors: Vec<String> = report
        .tasks
        .iter()
        .filter_map(|(k, t)| t.error.as_ref().map(|e| format!("{k}: {e}")))
        .chain(report.store_errors.iter().cloned())
        .chain(report.delivery_errors.iter().cloned())
        .collect();
    json!({
        "status": match report.exit_code() { 0 => "ok", 1 => "partial", _ => "failed" },
        "events_read": sum(|t| t.read),
        "events_stored": sum(|t| t.stored),
        "events_already_stored": sum(|t| t.already_stored),
        "events_filtered": sum(|t| t.filtered.values().sum()),
        "records_rejected": report.summary.records_rejected,
        "alerts_raised": sum(|t| t.alerts),
        "alerts_delivered": report.alerts_delivered,
        "alerts_pending": report.alerts_pending,
        "tasks_failed": report.tasks.values().filter(|t| t.error.is_some()).count(),
        "errors": errors,
        "plugins_refused": refused,
        "report": report,
    })
}

/// The partial-failure metrics of a run, for [`crate::emf::line`].
pub fn metrics(report: &RunReport, refused: usize) -> Vec<(&'static str, u64)> {
    let tasks_failed = report.tasks.values().filter(|t| t.error.is_some()).count() as u64;
    let faults = report.summary.plugin_faults;
    let problems = report.summary.records_rejected
        + report.delivery_failures
        + report.store_errors.len() as u64
        + faults
        + refused as u64;
    vec![
        ("TasksFailed", tasks_failed),
        ("Problems", problems),
        ("EventsStored", report.tasks.values().map(|t| t.stored).sum()),
        ("AlertsDelivered", report.alerts_delivered),
        ("AlertsPending", report.alerts_pending),
    ]
}
