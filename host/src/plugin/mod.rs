//! The wasmtime plugin host: one engine per process, components compiled once (or loaded
//! precompiled), one reused store per plugin, and faults contained per plugin.
//!
//! Sandbox: plugins link against nothing but `iam-tracker:plugin/{host,event,types}` (no
//! WASI: no files, network, environment or clock). Each store has a memory cap, and every
//! call runs under a fresh epoch deadline. A trap (panic, timeout, memory overrun) is
//! returned as a [`Fault`]; the plugin is re-instantiated from its `InstancePre`, and after
//! `max_consecutive_faults` traps in a row it is disabled for the rest of the run.
//!
//! Calls are synchronous and CPU-only. Never call a plugin from inside an async runtime's
//! worker without `spawn_blocking`; WASI-free plugins make this safe, but the rule keeps
//! the host clear of the sync-WASI-in-tokio panic (docs/architecture.md).

pub mod bindings;
mod builtin;
mod state;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use iam_tracker_plugin_sdk::{PluginInfo, PluginKind, Severity, Subscription};
use wasmtime::component::{Component, Linker, Resource};
use wasmtime::{Engine, Store, StoreLimitsBuilder};

use bindings::detector::{Detector, DetectorPre};
use bindings::extractor::{UserNameExtractor, UserNameExtractorPre};
use bindings::wit;
pub use state::Current;
use state::PluginState;

/// The WIT package and version this host implements.
pub const WIT_PACKAGE: &str = "iam-tracker:plugin";
pub const INTERFACE_VERSION: &str = "0.1.0";

/// The canonical built-in list (from `plugins/builtin.txt`) compiled into this binary.
pub fn builtin_ids() -> &'static [&'static str] {
    builtin::CANONICAL
}

/// Sandbox limits applied to every plugin.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Linear memory cap per plugin instance.
    pub memory_bytes: usize,
    /// Wall-clock deadline per call.
    pub call_timeout: Duration,
    /// Traps in a row after which a plugin is disabled for the run.
    pub max_consecutive_faults: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 64 << 20, call_timeout: Duration::from_millis(100), max_consecutive_faults: 3 }
    }
}

/// Where a plugin came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Builtin,
    File(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Source::Builtin => f.write_str("built-in"),
            Source::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// A plugin that could not be loaded. Messages name the component.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot create the wasmtime engine: {0}")]
    Engine(String),
    #[error("{name}: cannot read: {detail}")]
    Read { name: String, detail: String },
    #[error("{name}: not a valid WebAssembly component: {detail}")]
    NotComponent { name: String, detail: String },
    #[error(
        "{name}: incompatible plugin: it exports {found}, but this host wants {WIT_PACKAGE}/detection@{INTERFACE_VERSION} or {WIT_PACKAGE}/extraction@{INTERFACE_VERSION} (0.1.x)"
    )]
    Incompatible { name: String, found: String },
    #[error("{name}: imports `{import}`, but plugins may import only {WIT_PACKAGE}/host, /event and /types (build for wasm32-unknown-unknown without WASI)")]
    ForbiddenImport { name: String, import: String },
    #[error("{name}: cannot instantiate: {detail}")]
    Instantiate { name: String, detail: String },
    #[error("{name}: plugin id {id:?} is invalid (use lowercase letters, digits and dashes)")]
    BadId { name: String, id: String },
    #[error("plugin {id}: configure rejected its config: {detail}")]
    Config { id: String, detail: String },
    #[error("duplicate plugin id {id:?}: loaded from {first} and again from {second}")]
    Duplicate { id: String, first: String, second: String },
    #[error("built-in plugin {id:?} was not built into this binary: run `cargo xtask build-plugins`, then rebuild")]
    MissingBuiltin { id: String },
    #[error("--only {id:?}: no such detector (loaded: {available})")]
    UnknownOnly { id: String, available: String },
    #[error("config: {detail}")]
    ConfigIds { detail: String },
    #[error("{dir}: cannot read plugin folder: {detail}")]
    PluginDir { dir: String, detail: String },
}

/// How a call went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// The call ran past its wall-clock deadline.
    Timeout,
    /// The plugin tried to grow memory past its cap.
    MemoryLimit,
    /// The plugin panicked (or hit `unreachable`).
    Panic,
    /// Any other trap.
    Trap,
    /// The plugin returned an error (no trap; the instance stays usable).
    Error,
}

impl FaultKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::Timeout => "timeout",
            FaultKind::MemoryLimit => "memory limit",
            FaultKind::Panic => "panic",
            FaultKind::Trap => "trap",
            FaultKind::Error => "error",
        }
    }

    /// Traps poison the instance; errors do not.
    pub fn is_trap(self) -> bool {
        self != FaultKind::Error
    }
}

/// One failed plugin call.
#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    pub message: String,
    /// The plugin's last log lines (a panic message lands here).
    pub log_tail: Vec<String>,
}

/// Counters per plugin for the run summary.
#[derive(Debug, Clone, Default)]
pub struct PluginStats {
    pub calls: u64,
    pub alerts: u64,
    pub faults: u64,
    pub traps: u64,
    pub reinstantiations: u64,
    pub consecutive_traps: u32,
    /// Why the plugin was disabled for the run, if it was.
    pub disabled: Option<String>,
}

/// How a plugin was loaded.
#[derive(Debug, Clone)]
pub struct LoadInfo {
    /// Loaded from a precompiled artifact.
    pub precompiled: bool,
    /// Why a precompiled artifact was not used, if one existed.
    pub fallback: Option<String>,
    pub load_time: Duration,
    /// The interface version the component exports (`0.1.0`).
    pub interface_version: String,
}

enum Pre {
    Detector(DetectorPre<PluginState>),
    Extractor(UserNameExtractorPre<PluginState>),
}

enum Inst {
    Detector(Detector),
    Extractor(UserNameExtractor),
}

/// A loaded, configured plugin with its own store.
pub struct Plugin {
    pub info: PluginInfo,
    pub source: Source,
    pub load: LoadInfo,
    pub stats: PluginStats,
    id: Arc<str>,
    config: String,
    pre: Pre,
    inst: Inst,
    store: Store<PluginState>,
    engine: Engine,
    limits: Limits,
    /// Keeps the epoch ticking while any plugin is alive.
    _ticker: Arc<EpochTicker>,
}

struct EpochTicker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::Builder::new()
            .name("wasm-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(Duration::from_millis(iam_tracker_engine::EPOCH_TICK_MS));
                    engine.increment_epoch();
                }
            })
            .ok();
        EpochTicker { stop, handle }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// The process-wide engine, linker and epoch ticker.
pub struct PluginHost {
    engine: Engine,
    linker: Linker<PluginState>,
    limits: Limits,
    ticker: Arc<EpochTicker>,
}

fn wit_severity(s: wit::Severity) -> Severity {
    match s {
        wit::Severity::Info => Severity::Info,
        wit::Severity::Warning => Severity::Warning,
        wit::Severity::High => Severity::High,
        wit::Severity::Critical => Severity::Critical,
    }
}

fn convert_info(i: wit::PluginInfo) -> PluginInfo {
    PluginInfo {
        id: i.id,
        version: i.version,
        description: i.description,
        kind: match i.kind {
            wit::PluginKind::Detector => PluginKind::Detector,
            wit::PluginKind::Extractor => PluginKind::Extractor,
        },
        default_severity: wit_severity(i.default_severity),
        subscriptions: i
            .subscriptions
            .into_iter()
            .map(|s| Subscription { event_source: s.event_source, event_name: s.event_name })
            .collect(),
    }
}

/// An alert as a plugin returned it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginAlert {
    pub severity: Severity,
    pub title: String,
    pub message: String,
    pub dedup_key: Option<String>,
    pub context: Vec<(String, String)>,
}

fn convert_alert(a: wit::Alert) -> PluginAlert {
    PluginAlert {
        severity: wit_severity(a.severity),
        title: a.title,
        message: a.message,
        dedup_key: a.dedup_key,
        context: a.context,
    }
}

fn plugin_error_text(e: &wit::PluginError) -> String {
    match e {
        wit::PluginError::InvalidConfig(m) => format!("invalid config: {m}"),
        wit::PluginError::BadEvent(m) => format!("bad event: {m}"),
        wit::PluginError::Internal(m) => format!("internal error: {m}"),
    }
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && id.starts_with(|c: char| c.is_ascii_lowercase())
}

/// The interface (`detection`/`extraction`) a component exports, with its version.
fn classify_exports(engine: &Engine, component: &Component, name: &str) -> Result<(PluginKind, String), LoadError> {
    let ty = component.component_type();
    let mut found = Vec::new();
    for (export, _) in ty.exports(engine) {
        found.push(export.to_string());
        for (iface, kind) in [("detection", PluginKind::Detector), ("extraction", PluginKind::Extractor)] {
            let prefix = format!("{WIT_PACKAGE}/{iface}@");
            if let Some(version) = export.strip_prefix(&prefix) {
                if version.starts_with("0.1.") {
                    return Ok((kind, version.to_string()));
                }
            }
        }
    }
    for (import, _) in ty.imports(engine) {
        if !import.starts_with(&format!("{WIT_PACKAGE}/")) {
            return Err(LoadError::ForbiddenImport { name: name.to_string(), import: import.to_string() });
        }
    }
    Err(LoadError::Incompatible {
        name: name.to_string(),
        found: if found.is_empty() { "nothing".into() } else { found.join(", ") },
    })
}

fn check_imports(engine: &Engine, component: &Component, name: &str) -> Result<(), LoadError> {
    for (import, _) in component.component_type().imports(engine) {
        if !import.starts_with(&format!("{WIT_PACKAGE}/")) {
            return Err(LoadError::ForbiddenImport { name: name.to_string(), import: import.to_string() });
        }
    }
    Ok(())
}

/// Classify a wasmtime call error.
fn classify_trap(err: &wasmtime::Error) -> (FaultKind, String) {
    let text = format!("{err:#}");
    if let Some(trap) = err.downcast_ref::<wasmtime::Trap>() {
        match trap {
            wasmtime::Trap::Interrupt => return (FaultKind::Timeout, "wall-clock deadline exceeded".into()),
            wasmtime::Trap::UnreachableCodeReached => {
                return (FaultKind::Panic, "guest panicked or aborted (unreachable executed)".into())
            }
            _ => {}
        }
    }
    if text.contains("growing memory") || text.contains("memory.grow") {
        return (FaultKind::MemoryLimit, format!("memory limit exceeded ({})", first_line(&text)));
    }
    (FaultKind::Trap, first_line(&text).to_string())
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or(s)
}

impl PluginHost {
    /// The one engine of this process, with its epoch ticker.
    pub fn new(limits: Limits) -> Result<Self, LoadError> {
        let engine = iam_tracker_engine::engine().map_err(|e| LoadError::Engine(e.to_string()))?;
        let mut linker: Linker<PluginState> = Linker::new(&engine);
        Detector::add_to_linker::<PluginState, wasmtime::component::HasSelf<PluginState>>(&mut linker, |s| s)
            .map_err(|e| LoadError::Engine(format!("cannot link host functions: {e}")))?;
        let ticker = Arc::new(EpochTicker::start(engine.clone()));
        Ok(PluginHost { engine, linker, limits, ticker })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Load one plugin from component bytes, trying `precompiled` first.
    /// `config` is the JSON passed to `configure` (`{}` when none).
    pub fn load(
        &self,
        name: &str,
        wasm: Option<&[u8]>,
        precompiled: Option<&[u8]>,
        source: Source,
        config: &str,
    ) -> Result<Plugin, LoadError> {
        let started = Instant::now();
        let mut fallback = None;
        let mut component = None;
        if let Some(bytes) = precompiled {
            // SAFETY: precompiled artifacts are native code. We only deserialize artifacts
            // built by `cargo xtask` into this binary, or `.cwasm` files the operator placed
            // in a plugin folder they trust; wasmtime still checks version and config.
            match unsafe { Component::deserialize(&self.engine, bytes) } {
                Ok(c) => component = Some(c),
                Err(e) => fallback = Some(first_line(&format!("{e:#}")).to_string()),
            }
        }
        let precompiled_used = component.is_some();
        let component = match component {
            Some(c) => c,
            None => {
                let bytes = wasm.ok_or_else(|| LoadError::Read {
                    name: name.to_string(),
                    detail: format!(
                        "precompiled artifact unusable ({}) and no .wasm to compile",
                        fallback.clone().unwrap_or_default()
                    ),
                })?;
                if let Some(reason) = &fallback {
                    tracing::warn!(
                        plugin = name,
                        reason = reason.as_str(),
                        "precompiled artifact not usable; compiling"
                    );
                }
                Component::new(&self.engine, bytes).map_err(|e| LoadError::NotComponent {
                    name: name.to_string(),
                    detail: first_line(&format!("{e:#}")).into(),
                })?
            }
        };
        let (kind, interface_version) = classify_exports(&self.engine, &component, name)?;
        check_imports(&self.engine, &component, name)?;
        let inst_err = |e: wasmtime::Error| LoadError::Instantiate { name: name.to_string(), detail: format!("{e:#}") };
        let instance_pre = self.linker.instantiate_pre(&component).map_err(inst_err)?;
        let pre = match kind {
            PluginKind::Detector => Pre::Detector(DetectorPre::new(instance_pre).map_err(inst_err)?),
            PluginKind::Extractor => Pre::Extractor(UserNameExtractorPre::new(instance_pre).map_err(inst_err)?),
        };
        let placeholder: Arc<str> = Arc::from(name);
        let (mut store, inst) = self.instantiate(&pre, placeholder).map_err(inst_err)?;
        store.set_epoch_deadline(self.deadline_ticks());
        let info = match &inst {
            Inst::Detector(d) => d.iam_tracker_plugin_detection().call_info(&mut store),
            Inst::Extractor(x) => x.iam_tracker_plugin_extraction().call_info(&mut store),
        }
        .map(convert_info)
        .map_err(|e| LoadError::Instantiate { name: name.to_string(), detail: format!("info() trapped: {e:#}") })?;
        if !valid_id(&info.id) {
            return Err(LoadError::BadId { name: name.to_string(), id: info.id });
        }
        let id: Arc<str> = Arc::from(info.id.as_str());
        store.data_mut().plugin_id = id.clone();
        let mut plugin = Plugin {
            info,
            source,
            load: LoadInfo { precompiled: precompiled_used, fallback, load_time: Duration::ZERO, interface_version },
            stats: PluginStats::default(),
            id,
            config: config.to_string(),
            pre,
            inst,
            store,
            engine: self.engine.clone(),
            limits: self.limits.clone(),
            _ticker: self.ticker.clone(),
        };
        plugin.configure()?;
        plugin.load.load_time = started.elapsed();
        Ok(plugin)
    }

    fn deadline_ticks(&self) -> u64 {
        deadline_ticks(&self.limits)
    }

    fn instantiate(&self, pre: &Pre, id: Arc<str>) -> wasmtime::Result<(Store<PluginState>, Inst)> {
        instantiate(&self.engine, &self.limits, pre, id)
    }

    /// Load the built-in plugins compiled into this binary (canonical order).
    pub fn load_builtins(&self, config: &dyn Fn(&str) -> String) -> Result<Vec<Plugin>, LoadError> {
        let mut out = Vec::new();
        for id in builtin::CANONICAL {
            let b = builtin::BUILTINS
                .iter()
                .find(|b| b.id == *id)
                .ok_or_else(|| LoadError::MissingBuiltin { id: id.to_string() })?;
            let cwasm = if std::env::var_os("IAM_TRACKER_NO_PRECOMPILED").is_some() { None } else { b.cwasm };
            out.push(self.load(id, b.wasm, cwasm, Source::Builtin, &config(id))?);
        }
        Ok(out)
    }

    /// Load a component that was vetted elsewhere (e.g. a third-party plugin from S3 whose
    /// SHA-256 was checked), compiling it at most once: the native artifact is cached in
    /// `cache_dir` as `<key>.cwasm`, where `key` identifies the bytes (their SHA-256). A cached
    /// artifact that wasmtime refuses (another version or target) is recompiled and replaced.
    /// Failing to write the cache only costs a compile next time.
    pub fn load_cached(
        &self,
        name: &str,
        wasm: &[u8],
        key: &str,
        cache_dir: &Path,
        config: &str,
    ) -> Result<Plugin, LoadError> {
        let cached = cache_dir.join(format!("{key}.cwasm"));
        if let Ok(bytes) = std::fs::read(&cached) {
            match self.load(name, Some(wasm), Some(&bytes), Source::File(PathBuf::from(name)), config) {
                Ok(p) if p.load.precompiled => return Ok(p),
                Ok(_) | Err(_) => {} // stale or unusable: compile again below
            }
        }
        let artifact = self.engine.precompile_component(wasm).map_err(|e| LoadError::NotComponent {
            name: name.to_string(),
            detail: first_line(&format!("{e:#}")).into(),
        })?;
        let written = std::fs::create_dir_all(cache_dir).and_then(|()| {
            let tmp = cache_dir.join(format!("{key}.cwasm.tmp-{}", std::process::id()));
            std::fs::write(&tmp, &artifact)?;
            std::fs::rename(&tmp, &cached)
        });
        if let Err(e) = written {
            tracing::warn!(plugin = name, cache = %cached.display(), "cannot cache the compiled plugin: {e}");
        }
        self.load(name, Some(wasm), Some(&artifact), Source::File(PathBuf::from(name)), config)
    }

    /// Load every component in a folder: `X.wasm`, with `X.cwasm` tried first when present.
    pub fn load_dir(&self, dir: &Path, config: &dyn Fn(&str) -> String) -> Result<Vec<Plugin>, LoadError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| LoadError::PluginDir { dir: dir.display().to_string(), detail: e.to_string() })?;
        let mut stems: Vec<PathBuf> = Vec::new();
        for entry in entries {
            let path = entry
                .map_err(|e| LoadError::PluginDir { dir: dir.display().to_string(), detail: e.to_string() })?
                .path();
            if matches!(path.extension().and_then(|e| e.to_str()), Some("wasm" | "cwasm")) {
                let stem = path.with_extension("");
                if !stems.contains(&stem) {
                    stems.push(stem);
                }
            }
        }
        stems.sort();
        let mut out = Vec::new();
        for stem in stems {
            let wasm_path = stem.with_extension("wasm");
            let cwasm_path = stem.with_extension("cwasm");
            let read = |p: &Path| -> Result<Option<Vec<u8>>, LoadError> {
                match std::fs::read(p) {
                    Ok(b) => Ok(Some(b)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(e) => Err(LoadError::Read { name: p.display().to_string(), detail: e.to_string() }),
                }
            };
            let wasm = read(&wasm_path)?;
            let cwasm =
                if std::env::var_os("IAM_TRACKER_NO_PRECOMPILED").is_some() { None } else { read(&cwasm_path)? };
            let shown = if wasm.is_some() { &wasm_path } else { &cwasm_path };
            let name = shown.display().to_string();
            // The config is looked up by id, which is only known after info(); load with
            // the id guessed from the file name, then reconfigure if it differs.
            let guess = stem.file_name().and_then(|s| s.to_str()).unwrap_or_default().to_string();
            let mut plugin =
                self.load(&name, wasm.as_deref(), cwasm.as_deref(), Source::File(shown.clone()), &config(&guess))?;
            if plugin.info.id != guess {
                plugin.config = config(&plugin.info.id.clone());
                plugin.configure()?;
            }
            out.push(plugin);
        }
        Ok(out)
    }
}

fn deadline_ticks(limits: &Limits) -> u64 {
    let ms = limits.call_timeout.as_millis() as u64;
    ms.div_ceil(iam_tracker_engine::EPOCH_TICK_MS).max(1) + 1
}

fn instantiate(
    engine: &Engine,
    limits: &Limits,
    pre: &Pre,
    id: Arc<str>,
) -> wasmtime::Result<(Store<PluginState>, Inst)> {
    let store_limits = StoreLimitsBuilder::new().memory_size(limits.memory_bytes).trap_on_grow_failure(true).build();
    let mut store = Store::new(engine, PluginState::new(id, store_limits));
    store.limiter(|s| &mut s.limits);
    store.epoch_deadline_trap();
    store.set_epoch_deadline(deadline_ticks(limits));
    let inst = match pre {
        Pre::Detector(p) => Inst::Detector(p.instantiate(&mut store)?),
        Pre::Extractor(p) => Inst::Extractor(p.instantiate(&mut store)?),
    };
    Ok((store, inst))
}

impl Plugin {
    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn kind(&self) -> PluginKind {
        self.info.kind
    }

    pub fn is_disabled(&self) -> bool {
        self.stats.disabled.is_some()
    }

    fn configure(&mut self) -> Result<(), LoadError> {
        let Inst::Detector(d) = &self.inst else { return Ok(()) };
        self.store.set_epoch_deadline(deadline_ticks(&self.limits));
        match d.iam_tracker_plugin_detection().call_configure(&mut self.store, &self.config) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(LoadError::Config { id: self.info.id.clone(), detail: plugin_error_text(&e) }),
            Err(e) => Err(LoadError::Config { id: self.info.id.clone(), detail: format!("configure trapped: {e:#}") }),
        }
    }

    /// Replace the instance after a trap (a trapped instance cannot be entered again).
    fn reinstantiate(&mut self) -> Result<(), String> {
        let (store, inst) =
            instantiate(&self.engine, &self.limits, &self.pre, self.id.clone()).map_err(|e| format!("{e:#}"))?;
        self.store = store;
        self.inst = inst;
        self.stats.reinstantiations += 1;
        self.configure().map_err(|e| e.to_string())
    }

    fn record_trap(&mut self, kind: FaultKind, message: String) -> Fault {
        let log_tail: Vec<String> = self.store.data().log_tail.iter().cloned().collect();
        self.stats.faults += 1;
        self.stats.traps += 1;
        self.stats.consecutive_traps += 1;
        if self.stats.consecutive_traps >= self.limits.max_consecutive_faults {
            self.stats.disabled =
                Some(format!("{} traps in a row, the last: {}", self.stats.consecutive_traps, kind.as_str()));
        } else if let Err(e) = self.reinstantiate() {
            self.stats.disabled = Some(format!("cannot re-instantiate after a trap: {e}"));
        }
        Fault { kind, message, log_tail }
    }

    fn begin(&mut self, current: &Current) {
        self.stats.calls += 1;
        self.store.data_mut().current = Some(current.clone());
        self.store.data_mut().log_tail.clear();
        self.store.set_epoch_deadline(deadline_ticks(&self.limits));
    }

    /// Run the detector on one event. The caller checks subscriptions.
    pub fn detect(&mut self, current: &Current) -> Result<Vec<PluginAlert>, Fault> {
        if !matches!(self.inst, Inst::Detector(_)) {
            return Err(Fault { kind: FaultKind::Error, message: "not a detector".into(), log_tail: vec![] });
        }
        self.begin(current);
        let res = match &self.inst {
            Inst::Detector(d) => d.iam_tracker_plugin_detection().call_detect(&mut self.store, Resource::new_borrow(0)),
            Inst::Extractor(_) => {
                return Err(Fault { kind: FaultKind::Error, message: "not a detector".into(), log_tail: vec![] })
            }
        };
        self.store.data_mut().current = None;
        match res {
            Ok(Ok(alerts)) => {
                self.stats.consecutive_traps = 0;
                self.stats.alerts += alerts.len() as u64;
                Ok(alerts.into_iter().map(convert_alert).collect())
            }
            Ok(Err(e)) => {
                self.stats.consecutive_traps = 0;
                self.stats.faults += 1;
                let log_tail = self.store.data().log_tail.iter().cloned().collect();
                Err(Fault { kind: FaultKind::Error, message: plugin_error_text(&e), log_tail })
            }
            Err(e) => {
                let (kind, message) = classify_trap(&e);
                Err(self.record_trap(kind, message))
            }
        }
    }

    /// Run the extractor on one event.
    pub fn extract(&mut self, current: &Current) -> Result<Option<String>, Fault> {
        let not_extractor = || Fault { kind: FaultKind::Error, message: "not an extractor".into(), log_tail: vec![] };
        if !matches!(self.inst, Inst::Extractor(_)) {
            return Err(not_extractor());
        }
        self.begin(current);
        let res = match &self.inst {
            Inst::Extractor(x) => {
                x.iam_tracker_plugin_extraction().call_extract_user_name(&mut self.store, Resource::new_borrow(0))
            }
            Inst::Detector(_) => return Err(not_extractor()),
        };
        self.store.data_mut().current = None;
        match res {
            Ok(name) => {
                self.stats.consecutive_traps = 0;
                Ok(name)
            }
            Err(e) => {
                let (kind, message) = classify_trap(&e);
                Err(self.record_trap(kind, message))
            }
        }
    }
}
