//! Alerts as delivered, the run summary, and how both are printed.

use std::collections::BTreeMap;
use std::io::{self, Write};

use serde::{Deserialize, Serialize};

use crate::plugin::FaultKind;
use crate::Severity;

/// An alert with the event facts it is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RaisedAlert {
    pub event_id: Option<String>,
    pub event_time: Option<String>,
    pub event_source: String,
    pub event_name: String,
    pub user_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip: Option<String>,
    pub detector: String,
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub dedup_key: String,
    /// Where the record came from: `file record N` or `file line N`.
    pub source: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub context: Vec<(String, String)>,
}

/// A record that was not processed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rejection {
    pub origin: String,
    pub reason: String,
}

/// A failed plugin call.
#[derive(Debug, Clone, Serialize)]
pub struct FaultRecord {
    pub plugin: String,
    pub kind: &'static str,
    pub message: String,
    pub event_id: Option<String>,
    pub origin: String,
    pub log_tail: Vec<String>,
}

/// Per-plugin figures for the summary.
#[derive(Debug, Clone, Serialize)]
pub struct PluginLine {
    pub id: String,
    pub calls: u64,
    pub alerts: u64,
    pub faults: u64,
    pub disabled: Option<String>,
}

/// Keep at most this many detailed rejections and faults (all are counted).
pub const DETAIL_LIMIT: usize = 1000;

/// The run summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub records_read: u64,
    pub records_rejected: u64,
    pub rejections: Vec<Rejection>,
    /// Files in input folders that were not read (not named like record files).
    pub skipped_files: Vec<String>,
    pub alerts: u64,
    pub alerts_by_severity: BTreeMap<Severity, u64>,
    /// Alerts suppressed by config exclusions, counted per exclusion.
    pub alerts_excluded: u64,
    pub excluded_by: BTreeMap<String, u64>,
    pub plugin_faults: u64,
    pub faults: Vec<FaultRecord>,
    pub plugins: Vec<PluginLine>,
}

impl Summary {
    pub fn reject(&mut self, origin: String, reason: String) {
        self.records_rejected += 1;
        if self.rejections.len() < DETAIL_LIMIT {
            self.rejections.push(Rejection { origin, reason });
        }
    }

    pub fn fault(&mut self, f: FaultRecord) {
        self.plugin_faults += 1;
        if self.faults.len() < DETAIL_LIMIT {
            self.faults.push(f);
        }
    }

    pub fn exclude(&mut self, exclusion: String) {
        self.alerts_excluded += 1;
        *self.excluded_by.entry(exclusion).or_default() += 1;
    }

    pub fn alert(&mut self, severity: Severity) {
        self.alerts += 1;
        *self.alerts_by_severity.entry(severity).or_default() += 1;
    }

    /// Exit code: 0 clean, 1 when records were rejected or plugins faulted.
    pub fn exit_code(&self) -> i32 {
        if self.records_rejected > 0 || self.plugin_faults > 0 || self.plugins.iter().any(|p| p.disabled.is_some()) {
            1
        } else {
            0
        }
    }

    /// Print the human summary (stderr in the CLI).
    pub fn print(&self, w: &mut dyn Write, color: bool) -> io::Result<()> {
        let paint = |code: &str, s: &str| if color { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_string() };
        writeln!(w, "records read: {}, rejected: {}", self.records_read, self.records_rejected)?;
        for r in &self.rejections {
            writeln!(w, "  {} {}: {}", paint("33", "rejected"), r.origin, r.reason)?;
        }
        if self.records_rejected as usize > self.rejections.len() {
            writeln!(w, "  ... and {} more rejections", self.records_rejected as usize - self.rejections.len())?;
        }
        if !self.skipped_files.is_empty() {
            writeln!(
                w,
                "skipped {} file(s) in folders that are not .json/.jsonl/.gz record files: {}",
                self.skipped_files.len(),
                self.skipped_files.join(", ")
            )?;
        }
        let by: Vec<String> = self.alerts_by_severity.iter().rev().map(|(s, n)| format!("{s} {n}")).collect();
        if by.is_empty() {
            writeln!(w, "alerts: 0")?;
        } else {
            writeln!(w, "alerts: {} ({})", self.alerts, by.join(", "))?;
        }
        if self.alerts_excluded > 0 {
            let by: Vec<String> = self.excluded_by.iter().map(|(e, n)| format!("{e}: {n}")).collect();
            writeln!(w, "alerts excluded by config: {} ({})", self.alerts_excluded, by.join(", "))?;
        }
        writeln!(w, "plugin faults: {}", self.plugin_faults)?;
        for f in &self.faults {
            let ev = f.event_id.as_deref().unwrap_or("-");
            writeln!(
                w,
                "  {} {} on event {ev} ({}): {}: {}",
                paint("31", "fault"),
                f.plugin,
                f.origin,
                f.kind,
                f.message
            )?;
            for line in &f.log_tail {
                writeln!(w, "      plugin log: {line}")?;
            }
        }
        for p in self.plugins.iter().filter(|p| p.disabled.is_some()) {
            writeln!(
                w,
                "  {} {} for the rest of the run: {}",
                paint("31", "disabled"),
                p.id,
                p.disabled.as_deref().unwrap_or("")
            )?;
        }
        Ok(())
    }
}

/// Output format for alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
    Jsonl,
}

/// Writes alerts as they are raised.
pub struct AlertWriter<W: Write> {
    out: W,
    format: Format,
    color: bool,
    count: u64,
}

fn severity_color(s: Severity) -> &'static str {
    match s {
        Severity::Critical => "1;31",
        Severity::High => "31",
        Severity::Warning => "33",
        Severity::Info => "36",
    }
}

impl<W: Write> AlertWriter<W> {
    pub fn new(out: W, format: Format, color: bool) -> Self {
        AlertWriter { out, format, color, count: 0 }
    }

    pub fn write(&mut self, a: &RaisedAlert) -> io::Result<()> {
        match self.format {
            Format::Jsonl => {
                serde_json::to_writer(&mut self.out, a)?;
                writeln!(self.out)?;
            }
            Format::Json => {
                self.out.write_all(if self.count == 0 { b"[\n  " } else { b",\n  " })?;
                serde_json::to_writer(&mut self.out, a)?;
            }
            Format::Text => {
                let sev = a.severity.as_str().to_ascii_uppercase();
                let sev = if self.color {
                    format!("\x1b[{}m{sev:<8}\x1b[0m", severity_color(a.severity))
                } else {
                    format!("{sev:<8}")
                };
                let title = if self.color { format!("\x1b[1m{}\x1b[0m", a.title) } else { a.title.clone() };
                writeln!(self.out, "{sev} {title}  [{}]", a.detector)?;
                writeln!(self.out, "         {}", a.message)?;
                writeln!(
                    self.out,
                    "         {} {} by {} at {} · event {} · {}",
                    a.event_source,
                    a.event_name,
                    a.user_name,
                    a.event_time.as_deref().unwrap_or("?"),
                    a.event_id.as_deref().unwrap_or("?"),
                    a.source
                )?;
            }
        }
        self.count += 1;
        Ok(())
    }

    pub fn finish(mut self) -> io::Result<W> {
        if self.format == Format::Json {
            self.out.write_all(if self.count == 0 { b"[]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Fault kind label for reports.
pub fn fault_kind(k: FaultKind) -> &'static str {
    k.as_str()
}
