//! Plain Rust mirrors of the WIT records, used by rule code natively and in the guest.

use serde::{Deserialize, Serialize};

/// Alert severity, as in the detector specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    High,
    Critical,
}

impl Severity {
    /// Lowercase name, as used in case files, JSON output and configs.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parse a lowercase (or any-case) severity name.
    pub fn parse(s: &str) -> Option<Severity> {
        match s.to_ascii_lowercase().as_str() {
            "info" => Some(Severity::Info),
            "warning" => Some(Severity::Warning),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a plugin is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PluginKind {
    Detector,
    Extractor,
}

/// One (eventSource, eventName) pair; `*` matches anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub event_source: String,
    pub event_name: String,
}

impl Subscription {
    pub fn new(event_source: &str, event_name: &str) -> Self {
        Subscription { event_source: event_source.to_string(), event_name: event_name.to_string() }
    }

    /// Whether an event with this source and name matches.
    pub fn matches(&self, event_source: &str, event_name: &str) -> bool {
        (self.event_source == "*" || self.event_source == event_source)
            && (self.event_name == "*" || self.event_name == event_name)
    }
}

/// Static description of a plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub id: String,
    pub version: String,
    pub description: String,
    pub kind: PluginKind,
    pub default_severity: Severity,
    pub subscriptions: Vec<Subscription>,
}

impl PluginInfo {
    /// Whether any subscription matches the event.
    pub fn subscribes_to(&self, event_source: &str, event_name: &str) -> bool {
        self.subscriptions.iter().any(|s| s.matches(event_source, event_name))
    }
}

/// One alert produced by a detector.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Alert {
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub dedup_key: Option<String>,
    pub context: Vec<(String, String)>,
}

impl Alert {
    pub fn new(severity: Severity, title: impl Into<String>, message: impl Into<String>) -> Self {
        Alert { severity, title: title.into(), message: message.into(), dedup_key: None, context: Vec::new() }
    }

    /// Set the dedup key (default `<detector id>:<eventID>`).
    pub fn with_dedup_key(mut self, key: impl Into<String>) -> Self {
        self.dedup_key = Some(key.into());
        self
    }

    /// Add a key/value fact.
    pub fn with_context(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }
}

/// A plugin's typed error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PluginError {
    InvalidConfig(String),
    BadEvent(String),
    Internal(String),
}

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PluginError::InvalidConfig(m) => write!(f, "invalid config: {m}"),
            PluginError::BadEvent(m) => write!(f, "bad event: {m}"),
            PluginError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

impl std::error::Error for PluginError {}
