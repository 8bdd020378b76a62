//! The detect pipeline, bytes in to alerts out: read inputs, parse each record once, run
//! the extractor and the subscribed detectors, and count everything in a [`Summary`].

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::dispatch::Dispatcher;
use crate::event::CloudTrailEvent;
use crate::input::{self, Item, Origin, Position};
use crate::plugin::{Fault, PluginAlert};
use crate::report::{FaultRecord, PluginLine, RaisedAlert, Summary};

/// Pipeline settings.
#[derive(Debug, Clone)]
pub struct Options {
    pub max_record_bytes: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { max_record_bytes: crate::event::DEFAULT_MAX_RECORD_BYTES }
    }
}

/// Process every record of the given paths; `sink` receives each alert as it is raised.
pub fn run_paths(
    dispatcher: &mut Dispatcher,
    paths: &[PathBuf],
    opts: &Options,
    sink: &mut dyn FnMut(RaisedAlert),
) -> Summary {
    let mut summary = Summary::default();
    let expanded = input::expand_paths(paths);
    for (path, reason) in expanded.errors {
        summary.reject(path, reason);
    }
    summary.skipped_files = expanded.skipped.iter().map(|p| p.display().to_string()).collect();
    for file in expanded.files {
        let label = if file.as_os_str() == "-" { "-".to_string() } else { file.display().to_string() };
        match input::read_text(&file) {
            Ok(text) => run_text(dispatcher, &label, &text, opts, sink, &mut summary),
            Err(reason) => summary.reject(label, reason),
        }
    }
    finish(dispatcher, &mut summary);
    summary
}

/// Copy the per-plugin figures into the summary (call once at the end of a run).
pub fn finish(dispatcher: &Dispatcher, summary: &mut Summary) {
    summary.plugins = dispatcher
        .plugins()
        .map(|p| PluginLine {
            id: p.id().to_string(),
            calls: p.stats.calls,
            alerts: p.stats.alerts,
            faults: p.stats.faults,
            disabled: p.stats.disabled.clone(),
        })
        .collect();
}

/// Process the records in one file's text.
pub fn run_text(
    dispatcher: &mut Dispatcher,
    label: &str,
    text: &str,
    opts: &Options,
    sink: &mut dyn FnMut(RaisedAlert),
    summary: &mut Summary,
) {
    // One origin for the whole file, its position updated per record (no allocation per record).
    let mut origin = Origin { file: label.to_string(), position: Position::File };
    input::split_records(text, |position, item| {
        origin.position = position;
        if position != Position::File {
            summary.records_read += 1;
        }
        match item {
            Item::Rejected(reason) => summary.reject(origin.to_string(), reason),
            Item::Record(raw) => match CloudTrailEvent::parse_with_limit(raw, opts.max_record_bytes) {
                Err(e) => summary.reject(origin.to_string(), e.to_string()),
                Ok(ev) => process_event(dispatcher, Arc::new(ev), &origin, sink, summary),
            },
        }
    });
}

/// Run the plugins on one parsed event.
pub fn process_event(
    dispatcher: &mut Dispatcher,
    ev: Arc<CloudTrailEvent>,
    origin: &Origin,
    sink: &mut dyn FnMut(RaisedAlert),
    summary: &mut Summary,
) {
    let outcome = dispatcher.process(ev.clone());
    for (plugin, f) in outcome.faults {
        summary.fault(fault_record(plugin, f, &ev, origin));
    }
    let (id, time) = (ev.event_id.as_deref(), ev.event_time.as_deref());
    raise_alerts(dispatcher, &ev, &outcome.user_name, outcome.alerts, (id, time), origin, summary, sink);
}

/// A failed plugin call on `ev`, for the summary.
pub fn fault_record(plugin: String, f: Fault, ev: &CloudTrailEvent, origin: &dyn fmt::Display) -> FaultRecord {
    FaultRecord {
        plugin,
        kind: f.kind.as_str(),
        message: f.message,
        event_id: ev.event_id.clone(),
        origin: origin.to_string(),
        log_tail: f.log_tail,
    }
}

/// Turn what the detectors raised on `ev` into delivered alerts: each passes the config
/// exclusions (counted per exclusion when suppressed) and is counted by severity.
/// `(event_id, event_time)` are the event's as the alert reports them (`collect` reports
/// the stored ones); the default dedup key is `<detector>:<event_id>`.
#[allow(clippy::too_many_arguments)]
pub fn raise_alerts(
    dispatcher: &Dispatcher,
    ev: &CloudTrailEvent,
    user_name: &str,
    alerts: Vec<(String, PluginAlert)>,
    (event_id, event_time): (Option<&str>, Option<&str>),
    origin: &dyn fmt::Display,
    summary: &mut Summary,
    sink: &mut dyn FnMut(RaisedAlert),
) {
    for (detector, a) in alerts {
        if let Some(ex) = dispatcher.excluded_by(&detector, ev, user_name) {
            summary.exclude(ex.describe());
            continue;
        }
        summary.alert(a.severity);
        let dedup_key = a.dedup_key.unwrap_or_else(|| format!("{detector}:{}", event_id.unwrap_or_default()));
        sink(RaisedAlert {
            event_id: event_id.map(str::to_string),
            event_time: event_time.map(str::to_string),
            event_source: ev.event_source.clone(),
            event_name: ev.event_name.clone(),
            user_name: user_name.to_string(),
            aws_region: ev.aws_region.clone(),
            source_ip: ev.source_ip_address.clone(),
            detector,
            severity: a.severity,
            title: a.title,
            message: a.message,
            dedup_key,
            source: origin.to_string(),
            context: a.context,
        });
    }
}
