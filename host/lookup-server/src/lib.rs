//! A local CloudTrail `LookupEvents` server (plus EC2 `DescribeRegions`) for iam-tracker's tests
//! and benchmarks. Nothing else implements LookupEvents (moto answers 500 NotImplemented), so this
//! crate emulates the parts the collector relies on:
//!
//! - the CloudTrail JSON 1.1 protocol for `LookupEvents`: one lookup attribute, `StartTime` /
//!   `EndTime` (inclusive), `MaxResults` 1–50 (default 50), an opaque `NextToken` bound to its
//!   query, newest first, and the real API's error names;
//! - per-region event sets, the region taken from the SigV4 credential scope;
//! - a token-bucket rate limit per region (2 requests/s, burst 2 by default) answering
//!   `ThrottlingException`;
//! - fault injection: queued 5xx / throttle answers, throttle storms, late-arriving events (just add
//!   an event with an old `eventTime`: running paginations are snapshots and stay consistent);
//! - EC2 `DescribeRegions` (query protocol) on the same port, with opt-in statuses.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use iam_tracker_lookup_server::{LookupServer, ServerConfig};
//! let server = LookupServer::start(ServerConfig::default()).await?;
//! server.add_event("us-east-1", serde_json::json!({
//!     "eventID": "e1", "eventTime": "2024-05-01T12:00:00Z",
//!     "eventSource": "iam.amazonaws.com", "eventName": "CreateUser",
//!     "userIdentity": {"type": "IAMUser", "userName": "alice"}
//! })).expect("valid record");
//! let endpoint = server.endpoint(); // "http://127.0.0.1:PORT": give it to the SDK's endpoint_url
//! # let _ = endpoint; Ok(()) }
//! ```
//!
//! See the crate's README.md for what is not emulated.

pub mod control;
pub mod generate;
mod http;
pub mod seed;
pub mod store;
pub mod time;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use control::{Fault, Stats};
pub use store::SeedError;

/// One region of the account, as DescribeRegions reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegionInfo {
    /// `us-east-1`, …
    pub name: String,
    /// `opt-in-not-required`, `opted-in` or `not-opted-in`.
    pub opt_in_status: String,
}

impl RegionInfo {
    /// A region with a name and an opt-in status.
    pub fn new(name: impl Into<String>, opt_in_status: impl Into<String>) -> Self {
        Self { name: name.into(), opt_in_status: opt_in_status.into() }
    }

    /// Whether the account can use the region (EC2 lists only these without `AllRegions`).
    pub fn enabled(&self) -> bool {
        self.opt_in_status != "not-opted-in"
    }
}

/// A realistic account: 16 default commercial regions, `ap-east-1` opted in, and `me-south-1`,
/// `af-south-1` not opted in.
pub fn default_regions() -> Vec<RegionInfo> {
    const ALWAYS: [&str; 16] = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "ca-central-1",
        "sa-east-1",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
        "eu-north-1",
        "ap-south-1",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-southeast-1",
        "ap-southeast-2",
    ];
    let mut v: Vec<RegionInfo> = ALWAYS.iter().map(|r| RegionInfo::new(*r, "opt-in-not-required")).collect();
    v.push(RegionInfo::new("ap-east-1", "opted-in"));
    v.push(RegionInfo::new("me-south-1", "not-opted-in"));
    v.push(RegionInfo::new("af-south-1", "not-opted-in"));
    v
}

/// How to run a server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// LookupEvents requests per second per region (token refill rate). ≤ 0 or non-finite: no limit.
    pub rate_per_region: f64,
    /// Bucket size: requests allowed at once after a quiet period.
    pub burst: u32,
    /// The account's regions, for DescribeRegions and the opt-in check.
    pub regions: Vec<RegionInfo>,
    /// Port on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Refuse LookupEvents in a configured `not-opted-in` region with `UnrecognizedClientException`,
    /// as AWS does. Regions not in `regions` are always served.
    pub reject_not_opted_in: bool,
    /// Print one line per request (time, region, operation, body start, status) to stderr.
    pub log_requests: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            rate_per_region: 2.0,
            burst: 2,
            regions: default_regions(),
            port: 0,
            reject_not_opted_in: true,
            log_requests: false,
        }
    }
}

/// State shared by the handle and the connection tasks.
pub(crate) struct Shared {
    pub(crate) store: Mutex<store::Store>,
    pub(crate) control: Mutex<control::Control>,
    pub(crate) regions: Vec<RegionInfo>,
    pub(crate) reject_not_opted_in: bool,
    pub(crate) log_requests: bool,
    request_counter: AtomicU64,
}

/// Locks a mutex, ignoring poisoning (a panicking test thread must not wedge the server).
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn new(cfg: &ServerConfig) -> Self {
        Self {
            store: Mutex::new(store::Store::default()),
            control: Mutex::new(control::Control::new(cfg.rate_per_region, cfg.burst)),
            regions: cfg.regions.clone(),
            reject_not_opted_in: cfg.reject_not_opted_in,
            log_requests: cfg.log_requests,
            request_counter: AtomicU64::new(0),
        }
    }

    /// A fresh request id in UUID shape.
    pub(crate) fn next_request_id(&self) -> String {
        let n = self.request_counter.fetch_add(1, Ordering::Relaxed) + 1;
        format!("1f0a7c3e-0000-4000-8000-{n:012x}")
    }
}

/// A running server. Dropping it (or [`LookupServer::shutdown`]) stops it.
pub struct LookupServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown_tx: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for LookupServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LookupServer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut shutdown: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        // EMFILE and friends: back off instead of spinning.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                let mut conn_shutdown = shutdown.clone();
                tokio::spawn(async move {
                    let svc = service_fn(move |req| http::handle(Arc::clone(&shared), req));
                    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), svc);
                    tokio::select! {
                        _ = conn => {}
                        _ = conn_shutdown.changed() => {}
                    }
                });
            }
        }
    }
}

impl LookupServer {
    /// Binds 127.0.0.1 (`cfg.port`, 0 = random) and serves on the current tokio runtime.
    pub async fn start(cfg: ServerConfig) -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", cfg.port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(&cfg));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        tokio::spawn(accept_loop(listener, Arc::clone(&shared), shutdown_rx));
        Ok(Self { shared, addr, shutdown_tx, thread: None })
    }

    /// Like [`LookupServer::start`], but on a thread of its own with its own runtime, for callers
    /// without one (benchmarks, synchronous tests). Dropping the handle stops and joins the thread.
    pub fn start_in_thread(cfg: ServerConfig) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::new(&cfg));
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("lookup-server".into()).spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
                Ok(rt) => rt,
                Err(e) => {
                    let _ = addr_tx.send(Err(e));
                    return;
                }
            };
            rt.block_on(async move {
                let bound = TcpListener::bind(("127.0.0.1", cfg.port)).await.and_then(|l| Ok((l.local_addr()?, l)));
                match bound {
                    Ok((addr, listener)) => {
                        let _ = addr_tx.send(Ok(addr));
                        accept_loop(listener, thread_shared, shutdown_rx).await;
                    }
                    Err(e) => {
                        let _ = addr_tx.send(Err(e));
                    }
                }
            });
        })?;
        let addr = addr_rx.recv().map_err(|_| std::io::Error::other("server thread died"))??;
        Ok(Self { shared, addr, shutdown_tx, thread: Some(thread) })
    }

    /// `http://127.0.0.1:PORT`, for the SDK's `endpoint_url`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configured regions.
    pub fn regions(&self) -> &[RegionInfo] {
        &self.shared.regions
    }

    /// Adds one CloudTrail record to a region (replacing an event with the same `eventID`
    /// there). Returns its EventId. An event with an old `eventTime` added after a collector run is
    /// a late-arriving event.
    pub fn add_event(&self, region: &str, record: serde_json::Value) -> Result<String, SeedError> {
        lock(&self.shared.store).add(region, record, None)
    }

    /// Like [`LookupServer::add_event`] with the record's JSON text, which is then served as
    /// `CloudTrailEvent` byte for byte (`add_event` re-serializes the record, with sorted keys).
    pub fn add_raw_event(&self, region: &str, json: &str) -> Result<String, SeedError> {
        let record = serde_json::from_str(json).map_err(|e| SeedError::Json(e.to_string()))?;
        lock(&self.shared.store).add(region, record, Some(json))
    }

    /// Adds records to a region; stops at the first invalid one. Returns how many were added.
    pub fn add_events<I>(&self, region: &str, records: I) -> Result<usize, SeedError>
    where
        I: IntoIterator<Item = serde_json::Value>,
    {
        let mut store = lock(&self.shared.store);
        let mut n = 0;
        for r in records {
            store.add(region, r, None)?;
            n += 1;
        }
        Ok(n)
    }

    /// Adds records read by [`seed::parse_records`] / [`seed::load_file`], each to its region,
    /// keeping their original JSON text. Stops at the first invalid one; returns how many were added.
    pub fn add_seed_records<I>(&self, records: I) -> Result<usize, SeedError>
    where
        I: IntoIterator<Item = seed::SeedRecord>,
    {
        let mut store = lock(&self.shared.store);
        let mut n = 0;
        for r in records {
            store.add(&r.region, r.record, Some(&r.raw))?;
            n += 1;
        }
        Ok(n)
    }

    /// Events stored for a region.
    pub fn event_count(&self, region: &str) -> usize {
        lock(&self.shared.store).len(region)
    }

    /// Removes a region's events (`None`: all).
    pub fn clear_events(&self, region: Option<&str>) {
        lock(&self.shared.store).clear(region);
    }

    /// Makes the next `n` LookupEvents requests of `region` (`None`: of any region) that pass the
    /// rate limit fail with `fault`. Region-specific faults are used before region-less ones.
    pub fn fail_next(&self, region: Option<&str>, n: usize, fault: Fault) {
        lock(&self.shared.control).fail_next(region, n, fault);
    }

    /// Answers every LookupEvents request of `region` (`None`: all regions) with
    /// `ThrottlingException` for `duration` from now.
    pub fn throttle_storm(&self, region: Option<&str>, duration: Duration) {
        lock(&self.shared.control).throttle_storm(region, duration);
    }

    /// Sets a region's rate limit in requests per second (≤ 0 or infinite: unlimited).
    pub fn set_rate(&self, region: &str, per_second: f64) {
        lock(&self.shared.control).set_rate(region, per_second);
    }

    /// A copy of the counters.
    pub fn stats(&self) -> Stats {
        lock(&self.shared.control).stats.clone()
    }

    /// Zeroes the counters.
    pub fn reset_stats(&self) {
        lock(&self.shared.control).stats = Stats::default();
    }

    /// Stops accepting and drops open connections (also done on drop).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for LookupServer {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
