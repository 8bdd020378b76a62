//! Glue used by the export macros: conversions between SDK types and WIT types, and the
//! panic hook. Not part of the public API.

use crate::bindings::wit_types as w;
use crate::bindings::CloudtrailEvent;
use crate::{Alert, Detector, Event, PluginError, PluginInfo, PluginKind, Severity};

/// Route panic messages to the host log, so a trap report says why the plugin died.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            crate::log::error(&format!("panicked: {info}"));
        }));
    });
}

fn severity(s: Severity) -> w::Severity {
    match s {
        Severity::Info => w::Severity::Info,
        Severity::Warning => w::Severity::Warning,
        Severity::High => w::Severity::High,
        Severity::Critical => w::Severity::Critical,
    }
}

pub fn info_to_wit(info: PluginInfo) -> w::PluginInfo {
    w::PluginInfo {
        id: info.id,
        version: info.version,
        description: info.description,
        kind: match info.kind {
            PluginKind::Detector => w::PluginKind::Detector,
            PluginKind::Extractor => w::PluginKind::Extractor,
        },
        default_severity: severity(info.default_severity),
        subscriptions: info
            .subscriptions
            .into_iter()
            .map(|s| w::Subscription { event_source: s.event_source, event_name: s.event_name })
            .collect(),
    }
}

pub fn error_to_wit(e: PluginError) -> w::PluginError {
    match e {
        PluginError::InvalidConfig(m) => w::PluginError::InvalidConfig(m),
        PluginError::BadEvent(m) => w::PluginError::BadEvent(m),
        PluginError::Internal(m) => w::PluginError::Internal(m),
    }
}

fn alert_to_wit(a: Alert) -> w::Alert {
    w::Alert {
        severity: severity(a.severity),
        title: a.title,
        message: a.message,
        dedup_key: a.dedup_key,
        context: a.context,
    }
}

pub fn detect<D: Detector>(state: &D, handle: &CloudtrailEvent) -> Result<Vec<w::Alert>, w::PluginError> {
    install_panic_hook();
    let event = Event::from_handle(handle);
    state.detect(&event).map(|alerts| alerts.into_iter().map(alert_to_wit).collect()).map_err(error_to_wit)
}
