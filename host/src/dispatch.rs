//! Routing: each event goes to the user-name extractor at most once, then only to the
//! detectors whose subscriptions match its (eventSource, eventName). Routes are memoised
//! per pair.
//!
//! When the extractor runs is a [`Extract`] setting: `detect` only needs the user name for
//! events a detector looks at (most events match none, and the extractor call is the
//! largest per-event cost), while `collect` stores it with every event.

use std::collections::HashMap;
use std::rc::Rc;
use std::sync::Arc;

use iam_tracker_plugin_sdk::PluginKind;

use crate::event::CloudTrailEvent;
use crate::plugin::{Current, Fault, LoadError, Plugin, PluginAlert};

/// What one event produced.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The extracted actor (`unknown` when the extractor gave none or faulted).
    pub user_name: String,
    /// Alerts with the id of the detector that raised them.
    pub alerts: Vec<(String, PluginAlert)>,
    /// Failed plugin calls, by plugin id.
    pub faults: Vec<(String, Fault)>,
}

/// When the extractor runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Extract {
    /// On every event (the user name is stored with each event).
    Always,
    /// Only on events routed to at least one detector (the user name only appears in alerts).
    #[default]
    WhenRouted,
}

/// The loaded plugins and the routing index.
pub struct Dispatcher {
    /// When the extractor runs.
    pub extract: Extract,
    /// Alert exclusions from the config.
    pub exclusions: Vec<crate::config::Exclusion>,
    extractor: Option<Plugin>,
    detectors: Vec<Plugin>,
    routes: HashMap<String, HashMap<String, Rc<[usize]>>>,
}

impl Dispatcher {
    /// Build from loaded plugins; rejects duplicate ids and more than one extractor.
    pub fn new(plugins: Vec<Plugin>) -> Result<Self, LoadError> {
        let mut extractor: Option<Plugin> = None;
        let mut detectors: Vec<Plugin> = Vec::new();
        for p in plugins {
            let clash = extractor.iter().chain(detectors.iter()).find(|q| q.id() == p.id());
            if let Some(q) = clash {
                return Err(LoadError::Duplicate {
                    id: p.id().to_string(),
                    first: q.source.to_string(),
                    second: p.source.to_string(),
                });
            }
            match p.kind() {
                PluginKind::Extractor => {
                    if let Some(q) = &extractor {
                        return Err(LoadError::Duplicate {
                            id: format!("{} (a second user-name extractor)", p.id()),
                            first: format!("{} ({})", q.id(), q.source),
                            second: p.source.to_string(),
                        });
                    }
                    extractor = Some(p);
                }
                PluginKind::Detector => detectors.push(p),
            }
        }
        Ok(Dispatcher {
            extract: Extract::default(),
            exclusions: Vec::new(),
            extractor,
            detectors,
            routes: HashMap::new(),
        })
    }

    /// Keep only the named detectors (`--only`). Unknown ids are an error.
    pub fn retain_only(&mut self, only: &[String]) -> Result<(), LoadError> {
        if only.is_empty() {
            return Ok(());
        }
        for id in only {
            if !self.detectors.iter().any(|d| d.id() == id) {
                let available: Vec<&str> = self.detectors.iter().map(Plugin::id).collect();
                return Err(LoadError::UnknownOnly { id: id.clone(), available: available.join(", ") });
            }
        }
        self.detectors.retain(|d| only.iter().any(|o| o == d.id()));
        self.routes.clear();
        Ok(())
    }

    /// Every loaded plugin, extractor first.
    pub fn plugins(&self) -> impl Iterator<Item = &Plugin> {
        self.extractor.iter().chain(self.detectors.iter())
    }

    pub fn has_extractor(&self) -> bool {
        self.extractor.is_some()
    }

    fn route(&mut self, source: &str, name: &str) -> Rc<[usize]> {
        if let Some(r) = self.routes.get(source).and_then(|m| m.get(name)) {
            return r.clone();
        }
        let hits: Rc<[usize]> = self
            .detectors
            .iter()
            .enumerate()
            .filter(|(_, d)| d.info.subscribes_to(source, name))
            .map(|(i, _)| i)
            .collect();
        self.routes.entry(source.to_string()).or_default().insert(name.to_string(), hits.clone());
        hits
    }

    /// The first exclusion that suppresses an alert from `detector` on `event`.
    pub fn excluded_by(
        &self,
        detector: &str,
        event: &CloudTrailEvent,
        user_name: &str,
    ) -> Option<&crate::config::Exclusion> {
        self.exclusions.iter().find(|e| e.matches(detector, event, user_name))
    }

    /// Run only the extractor (`Ok(None)` when there is none or it returned none).
    pub fn extract_only(&mut self, event: Arc<CloudTrailEvent>) -> Result<Option<String>, Fault> {
        match self.extractor.as_mut() {
            Some(x) => x.extract(&Current { event, actor: None }),
            None => Ok(None),
        }
    }

    /// Run the extractor and the subscribed detectors on one event (the extractor as
    /// [`Dispatcher::extract`] says).
    pub fn process(&mut self, event: Arc<CloudTrailEvent>) -> Outcome {
        let route = self.route(&event.event_source, &event.event_name);
        let mut faults = Vec::new();
        let actor = if self.extract == Extract::Always || !route.is_empty() {
            let (actor, fault) = self.extract_actor(&event);
            faults.extend(fault);
            actor
        } else {
            None
        };
        let mut out = self.detect_routed(event, actor, &route);
        faults.append(&mut out.faults);
        out.faults = faults;
        out
    }

    /// Run the extractor alone: the non-empty user name it gives, and its fault if any.
    pub fn extract_actor(&mut self, event: &Arc<CloudTrailEvent>) -> (Option<Arc<str>>, Option<(String, Fault)>) {
        let Some(x) = self.extractor.as_mut().filter(|x| !x.is_disabled()) else { return (None, None) };
        match x.extract(&Current { event: event.clone(), actor: None }) {
            Ok(name) => (name.filter(|n| !n.is_empty()).map(Arc::from), None),
            Err(f) => (None, Some((x.id().to_string(), f))),
        }
    }

    /// Run the subscribed detectors on an event whose actor is already extracted.
    pub fn detect(&mut self, event: Arc<CloudTrailEvent>, actor: Option<Arc<str>>) -> Outcome {
        let route = self.route(&event.event_source, &event.event_name);
        self.detect_routed(event, actor, &route)
    }

    fn detect_routed(&mut self, event: Arc<CloudTrailEvent>, actor: Option<Arc<str>>, route: &[usize]) -> Outcome {
        let mut out = Outcome { user_name: actor.as_deref().unwrap_or("unknown").to_string(), ..Outcome::default() };
        let current = Current { event, actor };
        for &i in route {
            let d = &mut self.detectors[i];
            if d.is_disabled() {
                continue;
            }
            match d.detect(&current) {
                Ok(alerts) => out.alerts.extend(alerts.into_iter().map(|a| (d.id().to_string(), a))),
                Err(f) => out.faults.push((d.id().to_string(), f)),
            }
        }
        out
    }
}

/// What to load for a run.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Folders of third-party components (`--plugin-dir`).
    pub plugin_dirs: Vec<std::path::PathBuf>,
    /// Keep only these detectors (`--only`).
    pub only: Vec<String>,
    /// Skip the built-in plugins (used by `plugins test`).
    pub no_builtins: bool,
    pub config: crate::config::Config,
    pub limits: crate::plugin::Limits,
}

/// Load the built-ins and plugin folders, configure them, and build the dispatcher.
pub fn load(opts: &LoadOptions) -> Result<Dispatcher, LoadError> {
    let host = crate::plugin::PluginHost::new(opts.limits.clone())?;
    load_with(opts, &host, Vec::new())
}

/// As [`load`] with a given host, plus `extra` plugins the caller loaded with that host
/// (e.g. vetted third-party components from S3 in the Lambda function).
pub fn load_with(
    opts: &LoadOptions,
    host: &crate::plugin::PluginHost,
    extra: Vec<Plugin>,
) -> Result<Dispatcher, LoadError> {
    let config_for = |id: &str| opts.config.plugin_config(id);
    let mut plugins = Vec::new();
    if !opts.no_builtins {
        plugins.extend(host.load_builtins(&config_for)?);
    }
    for dir in &opts.plugin_dirs {
        plugins.extend(host.load_dir(dir, &config_for)?);
    }
    plugins.extend(extra);
    let known: Vec<&str> = plugins.iter().map(Plugin::id).collect();
    opts.config.check_ids(&known).map_err(|detail| LoadError::ConfigIds { detail })?;
    let plugins = plugins.into_iter().filter(|p| !opts.config.is_disabled(p.id()) || p.kind() == PluginKind::Extractor);
    let mut d = Dispatcher::new(plugins.collect())?;
    d.exclusions = opts.config.exclusions.clone();
    d.retain_only(&opts.only)?;
    Ok(d)
}
