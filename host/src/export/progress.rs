//! Progress of an export run: one bar over the events to write on a terminal ([`Bar`]),
//! log lines otherwise ([`Logs`]), and the summary table ([`print_report`]).

use std::io::{self, Write};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::manifest::Decision;
use super::run::{DateReport, ExportObserver, ExportReport};

/// A bar over every event of the dates being written.
pub struct Bar {
    bar: ProgressBar,
}

impl Default for Bar {
    fn default() -> Self {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style = ProgressStyle::with_template("{prefix:<12} [{bar:30}] {pos}/{len} events {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        Bar { bar }
    }
}

impl ExportObserver for Bar {
    fn planned(&mut self, _dates: usize, events: u64) {
        self.bar.set_length(events);
    }

    fn date_started(&mut self, date: &str, decision: Decision, _events: u64) {
        self.bar.set_prefix(date.to_string());
        self.bar.set_message(format!("({})", decision.as_str()));
    }

    fn events_done(&mut self, n: u64) {
        self.bar.inc(n);
    }

    fn date_done(&mut self, r: &DateReport) {
        if let Some(e) = &r.error {
            self.bar.println(format!("{}: FAILED: {e}", r.date));
        }
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Log lines: one per date written.
pub struct Logs;

impl ExportObserver for Logs {
    fn planned(&mut self, dates: usize, events: u64) {
        tracing::info!("exporting {dates} date(s), {events} events");
    }

    fn date_done(&mut self, r: &DateReport) {
        match &r.error {
            Some(e) => tracing::warn!("{}: failed: {e}", r.date),
            None if r.decision.exports() => tracing::info!(
                "{}: {} rows in {} file(s), {} bytes ({}){}",
                r.date,
                r.rows,
                r.files,
                r.bytes,
                r.decision.as_str(),
                if r.skipped > 0 { format!(", {} events skipped", r.skipped) } else { String::new() }
            ),
            None => tracing::debug!("{}: {}", r.date, r.decision.as_str()),
        }
    }
}

/// The summary: one line per date, the totals, then every failure and skipped event.
pub fn print_report(r: &ExportReport, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "export {} -> {}", r.store, r.target)?;
    let header = ["date", "status", "events", "rows", "files", "bytes", "deleted", "skipped"];
    let mut rows: Vec<[String; 8]> = r
        .dates
        .iter()
        .map(|d| {
            let status = match (&d.error, d.decision.exports()) {
                (Some(_), _) => "FAILED".to_string(),
                (None, true) => format!("exported ({})", d.decision.as_str()),
                (None, false) => d.decision.as_str().to_string(),
            };
            [
                d.date.clone(),
                status,
                d.store_count.to_string(),
                d.rows.to_string(),
                d.files.to_string(),
                d.bytes.to_string(),
                d.deleted.to_string(),
                d.skipped.to_string(),
            ]
        })
        .collect();
    let (rows_total, files, bytes, skipped) = r.totals();
    let exported = r.dates.iter().filter(|d| d.decision.exports() && d.error.is_none()).count();
    let unchanged = r.dates.iter().filter(|d| d.decision == Decision::Unchanged).count();
    let failed = r.dates.iter().filter(|d| d.error.is_some()).count();
    rows.push([
        "total".into(),
        format!("{exported} exported, {unchanged} unchanged, {failed} failed"),
        r.dates.iter().map(|d| d.store_count).sum::<u64>().to_string(),
        rows_total.to_string(),
        files.to_string(),
        bytes.to_string(),
        r.dates.iter().map(|d| d.deleted).sum::<usize>().to_string(),
        skipped.to_string(),
    ]);
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].len()).chain([header[i].len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: &[String]| -> String {
        cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(i, (c, w))| if i >= 2 { format!("{c:>w$}") } else { format!("{c:<w$}") })
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    writeln!(w, "{}", line(&header.map(str::to_string)))?;
    for row in &rows {
        writeln!(w, "{}", line(row))?;
    }
    for d in &r.dates {
        if let Some(e) = &d.error {
            writeln!(w, "  {}: {e}", d.date)?;
        }
        for s in &d.skipped_events {
            writeln!(w, "  skipped: {s}")?;
        }
        if d.skipped > d.skipped_events.len() as u64 {
            writeln!(w, "  skipped: {} more events of {}", d.skipped - d.skipped_events.len() as u64, d.date)?;
        }
    }
    writeln!(w, "finished in {:.1}s", r.seconds)?;
    Ok(())
}
