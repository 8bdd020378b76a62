//! Progress of a collection run: bars per task on a terminal ([`Bars`]), log lines
//! otherwise ([`Logs`]), and the final summary table ([`print_report`]).

use std::collections::HashMap;
use std::io::{self, Write};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::collect::run::{Observer, RunReport, TaskReport};
use crate::store::TaskKey;
use crate::timefmt;
use crate::window::Span;

/// One bar per task on stderr; the position is the share of the task's window (or of its
/// files) done.
pub struct Bars {
    multi: MultiProgress,
    bars: HashMap<TaskKey, ProgressBar>,
}

impl Default for Bars {
    fn default() -> Self {
        Bars { multi: MultiProgress::with_draw_target(ProgressDrawTarget::stderr()), bars: HashMap::new() }
    }
}

fn counts(r: &TaskReport) -> String {
    format!("read {} stored {} alerts {}", r.read, r.stored, r.alerts)
}

impl Observer for Bars {
    fn task_started(&mut self, task: &TaskKey, window: Option<Span>) {
        let bar = self.multi.add(ProgressBar::new(1000));
        let style = ProgressStyle::with_template("{prefix:<36} [{bar:30}] {percent:>3}% {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        bar.set_prefix(task.to_string());
        if let Some(w) = window {
            bar.set_message(format!("from {}", timefmt::rfc3339(w.start)));
        }
        self.bars.insert(task.clone(), bar);
    }

    fn batch_done(&mut self, task: &TaskKey, report: &TaskReport, position: Option<(Span, i64)>) {
        if let Some(bar) = self.bars.get(task) {
            if let Some((w, at)) = position {
                let span = (w.end - w.start).max(1);
                bar.set_position((((at - w.start).clamp(0, span) * 1000) / span) as u64);
            }
            bar.set_message(counts(report));
        }
    }

    fn task_done(&mut self, task: &TaskKey, report: &TaskReport) {
        if let Some(bar) = self.bars.get(task) {
            let status = report.status.map_or("ended", |s| match s {
                crate::collect::TaskStatus::Complete => "done",
                crate::collect::TaskStatus::Deadline => "stopped at the deadline",
                crate::collect::TaskStatus::Failed => "FAILED",
            });
            if report.status == Some(crate::collect::TaskStatus::Complete) {
                bar.set_position(1000);
            }
            bar.finish_with_message(format!("{status}: {}", counts(report)));
        }
    }
}

/// Plain log lines (not a terminal): one at the start and end of each task, one per
/// batch at debug level.
pub struct Logs;

impl Observer for Logs {
    fn task_started(&mut self, task: &TaskKey, window: Option<Span>) {
        match window {
            Some(w) => tracing::debug!("{task}: reading {} .. {}", timefmt::rfc3339(w.start), timefmt::rfc3339(w.end)),
            None => tracing::debug!("{task}: started"),
        }
    }

    fn batch_done(&mut self, task: &TaskKey, report: &TaskReport, position: Option<(Span, i64)>) {
        let at = position.map(|(_, at)| timefmt::rfc3339(at)).unwrap_or_default();
        tracing::debug!("{task}: {} {at}", counts(report));
    }

    fn task_done(&mut self, task: &TaskKey, report: &TaskReport) {
        let status = report.status.map_or("ended".to_string(), |s| format!("{s:?}").to_lowercase());
        tracing::info!("{task}: {status}: {}", counts(report));
    }
}

fn checkpoint(c: Option<i64>) -> String {
    match c {
        Some(t) if t > 0 => timefmt::rfc3339(t),
        _ => "-".into(),
    }
}

/// The final summary: a table per task, the totals, then records, alerts and faults.
pub fn print_report(r: &RunReport, w: &mut dyn Write, color: bool) -> io::Result<()> {
    if r.dry_run {
        writeln!(w, "dry run: nothing was stored and no alert was delivered")?;
    }
    let header = [
        "task",
        "status",
        "read",
        "stored",
        "dup",
        "filtered",
        "rejected",
        "alerts",
        "dedup",
        "requests",
        "retries",
        "checkpoint before",
        "checkpoint after",
    ];
    let mut rows: Vec<Vec<String>> = Vec::new();
    let row = |name: String, t: &TaskReport| {
        vec![
            name,
            t.status.map_or("-".to_string(), |s| format!("{s:?}").to_lowercase()),
            t.read.to_string(),
            t.stored.to_string(),
            t.already_stored.to_string(),
            t.filtered.values().sum::<u64>().to_string(),
            t.rejected.to_string(),
            t.alerts.to_string(),
            t.alerts_duplicate.to_string(),
            t.requests.requests.to_string(),
            t.requests.retries.to_string(),
            checkpoint(t.checkpoint_before),
            checkpoint(t.checkpoint_after),
        ]
    };
    for (k, t) in &r.tasks {
        rows.push(row(k.to_string(), t));
    }
    let total = r.total();
    rows.push(row("total".into(), &total));
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| -> String {
        cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect::<Vec<_>>().join("  ").trim_end().to_string()
    };
    writeln!(w, "{}", line(&header.map(str::to_string)))?;
    for row in &rows {
        writeln!(w, "{}", line(row))?;
    }
    for (k, t) in &r.tasks {
        if let Some(e) = &t.error {
            writeln!(w, "  {k}: {e}")?;
        }
    }
    if !total.filtered.is_empty() {
        let by: Vec<String> = total.filtered.iter().map(|(k, v)| format!("{k} {v}")).collect();
        writeln!(w, "filtered: {}", by.join(", "))?;
    }
    if total.requests.throttled + total.requests.server_errors > 0 {
        writeln!(w, "retried: {} throttled, {} server errors", total.requests.throttled, total.requests.server_errors)?;
    }
    r.summary.print(w, color)?;
    writeln!(
        w,
        "alerts delivered: {}, duplicates suppressed: {}, excluded: {}, delivery failures: {}, still pending: {}",
        r.alerts_delivered, total.alerts_duplicate, total.alerts_excluded, r.delivery_failures, r.alerts_pending
    )?;
    for e in &r.delivery_errors {
        writeln!(w, "  delivery failed: {e}")?;
    }
    for e in &r.store_errors {
        writeln!(w, "  store error: {e}")?;
    }
    for warning in &r.warnings {
        writeln!(w, "warning: {warning}")?;
    }
    Ok(())
}
