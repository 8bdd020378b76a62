//! Per-plugin store state and the host side of the WIT imports (`host.log` and the
//! `cloudtrail-event` resource). A plugin sees exactly one event at a time: the one the
//! host put in [`PluginState::current`] before the call.

use std::collections::VecDeque;
use std::sync::Arc;

use wasmtime::component::Resource;
use wasmtime::StoreLimits;

use super::bindings::detector::iam_tracker::plugin::{event, host, types};
use super::bindings::{CloudtrailEvent, Level};
use crate::event::CloudTrailEvent;

/// Lines of plugin log kept for fault reports.
const LOG_TAIL: usize = 8;
/// Log lines per plugin forwarded to the host log before the rest are only counted.
const LOG_FORWARD_LIMIT: u64 = 200;

/// The event a plugin is currently looking at, and its actor.
#[derive(Clone)]
pub struct Current {
    pub event: Arc<CloudTrailEvent>,
    pub actor: Option<Arc<str>>,
}

/// What each plugin's `Store` holds.
pub struct PluginState {
    pub plugin_id: Arc<str>,
    pub limits: StoreLimits,
    pub current: Option<Current>,
    pub log_tail: VecDeque<String>,
    pub log_lines: u64,
}

impl PluginState {
    pub fn new(plugin_id: Arc<str>, limits: StoreLimits) -> Self {
        PluginState { plugin_id, limits, current: None, log_tail: VecDeque::new(), log_lines: 0 }
    }

    fn ev(&self) -> Option<&CloudTrailEvent> {
        self.current.as_ref().map(|c| &*c.event)
    }

    fn with<T>(&self, f: impl FnOnce(&CloudTrailEvent) -> T) -> Option<T> {
        self.ev().map(f)
    }
}

impl types::Host for PluginState {}

impl host::Host for PluginState {
    fn log(&mut self, level: Level, message: String) {
        self.log_lines += 1;
        let line: String = message.chars().take(2000).collect();
        if self.log_lines <= LOG_FORWARD_LIMIT {
            let id = &*self.plugin_id;
            match level {
                Level::Debug => tracing::debug!(plugin = id, "{line}"),
                Level::Info => tracing::info!(plugin = id, "{line}"),
                Level::Warn => tracing::warn!(plugin = id, "{line}"),
                Level::Error => tracing::warn!(plugin = id, "plugin error log: {line}"),
            }
        }
        if self.log_tail.len() == LOG_TAIL {
            self.log_tail.pop_front();
        }
        self.log_tail.push_back(line);
    }
}

impl event::Host for PluginState {}

macro_rules! opt_getters {
    ($($name:ident => |$e:ident| $body:expr;)*) => {
        $(
            fn $name(&mut self, _event: Resource<CloudtrailEvent>) -> Option<String> {
                self.with(|$e| $body).flatten()
            }
        )*
    };
}

impl event::HostCloudtrailEvent for PluginState {
    fn event_source(&mut self, _event: Resource<CloudtrailEvent>) -> String {
        self.with(|e| e.event_source.clone()).unwrap_or_default()
    }

    fn event_name(&mut self, _event: Resource<CloudtrailEvent>) -> String {
        self.with(|e| e.event_name.clone()).unwrap_or_default()
    }

    opt_getters! {
        event_id => |e| e.event_id.clone();
        event_time => |e| e.event_time.clone();
        aws_region => |e| e.aws_region.clone();
        source_ip_address => |e| e.source_ip_address.clone();
        user_agent => |e| e.user_agent.clone();
        error_code => |e| e.error_code.clone();
        error_message => |e| e.error_message.clone();
        recipient_account_id => |e| e.recipient_account_id.clone();
        identity_type => |e| e.identity.identity_type.clone();
        principal_id => |e| e.identity.principal_id.clone();
        identity_arn => |e| e.identity.arn.clone();
        account_id => |e| e.identity.account_id.clone();
        user_name => |e| e.identity.user_name.clone();
        invoked_by => |e| e.identity.invoked_by.clone();
        session_issuer_arn => |e| e.identity.session_issuer_arn.clone();
    }

    fn actor(&mut self, _event: Resource<CloudtrailEvent>) -> Option<String> {
        self.current.as_ref().and_then(|c| c.actor.as_deref().map(str::to_string))
    }

    fn field(&mut self, _event: Resource<CloudtrailEvent>, path: String) -> Option<String> {
        self.with(|e| e.field(&path)).flatten()
    }

    fn raw_json(&mut self, _event: Resource<CloudtrailEvent>) -> String {
        self.with(|e| e.raw_json().to_string()).unwrap_or_default()
    }

    fn drop(&mut self, _rep: Resource<CloudtrailEvent>) -> wasmtime::Result<()> {
        // The event is borrowed for the length of one call; the host owns it.
        Ok(())
    }
}
