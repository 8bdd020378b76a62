//! The LookupEvents source against the local LookupEvents server, through the real SDK
//! adapter: pagination over regions and sources, task planning and region discovery (and
//! its fallback), throttle storms and 5xx, the deadline and resuming, late events.
//!
//! Each test starts its own server on 127.0.0.1 (random port). SDK configs are explicit
//! (static credentials, region, endpoint), so nothing is read from the ambient AWS setup.
//! `now` is passed in, so windows and slices are deterministic.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region};
use iam_tracker::aws::cloudtrail::SdkLookup;
use iam_tracker::collect::lookup::{
    plan_tasks, run_all, LookupApi, LookupError, LookupPage, RetryPolicy, SourceSettings, DEFAULT_ENABLED_REGIONS,
    IAM_SOURCE, SIGNIN_SOURCE, SSO_SOURCE, STS_SOURCE,
};
use iam_tracker::collect::{Deadline, SourceBatch, SourceMsg, TaskEnd, TaskStatus};
use iam_tracker::store::{Progress, TaskKey};
use iam_tracker::timefmt;
use iam_tracker_lookup_server::{Fault, LookupServer, ServerConfig};
use serde_json::{json, Value};
use tokio::sync::mpsc;

/// 2026-03-01T09:00:00Z.
const NOW: i64 = 1_772_355_600;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

fn init_env() {
    static ONCE: Once = Once::new();
    // Edition 2021: set_var is safe; done once, before any SDK client exists. The configs
    // below are explicit anyway; this keeps IMDS and ambient credentials out for sure.
    ONCE.call_once(|| {
        std::env::set_var("AWS_EC2_METADATA_DISABLED", "true");
        std::env::set_var("AWS_ACCESS_KEY_ID", "test");
        std::env::set_var("AWS_SECRET_ACCESS_KEY", "test");
    });
}

async fn server(rate: f64) -> LookupServer {
    init_env();
    LookupServer::start(ServerConfig { rate_per_region: rate, ..ServerConfig::default() }).await.expect("server starts")
}

async fn sdk_at(endpoint: &str) -> SdkLookup {
    let conf = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(endpoint)
        .load()
        .await;
    SdkLookup::new(&conf)
}

async fn sdk(server: &LookupServer) -> Arc<SdkLookup> {
    Arc::new(sdk_at(&server.endpoint()).await)
}

fn key(region: &str, source: &str) -> TaskKey {
    TaskKey { region: region.to_owned(), source: source.to_owned() }
}

/// A CloudTrail record; the region's event set is chosen when it is added.
fn record(id: &str, secs: i64, source: &str, region: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/alice", "userName": "alice"},
        "eventTime": timefmt::rfc3339(secs),
        "eventSource": source,
        "eventName": "Something",
        "awsRegion": region,
        "eventID": id,
    })
}

/// Seeds `n` events of `source` in `region`, evenly over `[from, to]`; returns their ids
/// (unique per region, source and `from`).
fn seed(server: &LookupServer, region: &str, source: &str, n: i64, from: i64, to: i64) -> Vec<String> {
    let short = source.split('.').next().unwrap_or(source);
    (0..n)
        .map(|i| {
            let t = if n == 1 { from } else { from + (to - from) * i / (n - 1) };
            let id = format!("{region}-{short}-{from}-{i:04}");
            server.add_event(region, record(&id, t, source, region)).expect("seed");
            id
        })
        .collect()
}

/// Settings for tests that are not about the rate limit.
fn fast() -> SourceSettings {
    SourceSettings {
        rate_per_region: 0.0,
        retry: RetryPolicy { max_attempts: 12, base: Duration::from_millis(20), cap: Duration::from_millis(500) },
        ..SourceSettings::default()
    }
}

/// Runs `run_all` and collects every message and the warnings.
async fn run(
    api: Arc<impl LookupApi>,
    settings: &SourceSettings,
    checkpoints: HashMap<TaskKey, i64>,
    now: i64,
    deadline: Deadline,
) -> (Vec<SourceMsg>, Vec<String>) {
    let (tx, mut rx) = mpsc::channel(32);
    let settings = settings.clone();
    let handle = tokio::spawn(async move { run_all(api, &settings, checkpoints, now, deadline, tx).await });
    let mut msgs = Vec::new();
    while let Some(m) = rx.recv().await {
        msgs.push(m);
    }
    (msgs, handle.await.expect("run_all"))
}

/// What the collector would have stored: event ids (with how often each came), the
/// checkpoints, and per task its messages in order.
#[derive(Default)]
struct Sim {
    delivered: BTreeMap<String, usize>,
    times: HashMap<String, i64>,
    checkpoints: HashMap<TaskKey, i64>,
    ends: BTreeMap<TaskKey, TaskEnd>,
    batches: BTreeMap<TaskKey, Vec<SourceBatch>>,
}

impl Sim {
    fn apply(&mut self, msgs: &[SourceMsg]) {
        for m in msgs {
            match m {
                SourceMsg::Started { .. } => {}
                SourceMsg::Batch(b) => {
                    assert!(b.rejections.is_empty(), "{:?}", b.rejections);
                    for r in &b.records {
                        let v: Value = serde_json::from_str(&r.text).expect("record is JSON");
                        let id = v["eventID"].as_str().expect("eventID").to_owned();
                        let t = timefmt::parse_event_time(v["eventTime"].as_str().expect("eventTime")).expect("time");
                        *self.delivered.entry(id.clone()).or_default() += 1;
                        self.times.insert(id, t);
                    }
                    if let Progress::Checkpoint { task, to } = &b.progress {
                        assert_eq!(task, &b.task);
                        let cp = self.checkpoints.entry(task.clone()).or_insert(*to);
                        *cp = (*cp).max(*to);
                    }
                    self.batches.entry(b.task.clone()).or_default().push(b.clone());
                }
                SourceMsg::Done(end) => {
                    assert!(self.ends.insert(end.task.clone(), end.clone()).is_none(), "one Done per task");
                }
            }
        }
    }

    fn ids(&self) -> BTreeSet<String> {
        self.delivered.keys().cloned().collect()
    }

    fn total(&self, f: impl Fn(&TaskEnd) -> u64) -> u64 {
        self.ends.values().map(f).sum()
    }
}

fn set(ids: impl IntoIterator<Item = String>) -> BTreeSet<String> {
    ids.into_iter().collect()
}

/// Every task's messages: Started first, Done last, checkpoints strictly increasing, and
/// every record of a slice inside that slice (so slices come oldest first).
fn check_order(msgs: &[SourceMsg], sim: &Sim) {
    let mut started = BTreeSet::new();
    for m in msgs {
        match m {
            SourceMsg::Started { task, .. } => assert!(started.insert(task.clone()), "{task} started twice"),
            SourceMsg::Batch(b) => assert!(started.contains(&b.task), "{} batch before Started", b.task),
            SourceMsg::Done(e) => assert!(started.contains(&e.task), "{} done before Started", e.task),
        }
    }
    for (task, batches) in &sim.batches {
        let window = msgs.iter().find_map(|m| match m {
            SourceMsg::Started { task: t, window } if t == task => *window,
            _ => None,
        });
        let window = window.expect("a task with batches has a window");
        let mut slice_start = window.start;
        let mut in_slice = Vec::new();
        for b in batches {
            for r in &b.records {
                let v: Value = serde_json::from_str(&r.text).expect("json");
                in_slice.push(timefmt::parse_event_time(v["eventTime"].as_str().expect("time")).expect("time"));
            }
            if let Progress::Checkpoint { to, .. } = b.progress {
                assert!(to > slice_start, "{task}: checkpoint {to} not after {slice_start}");
                assert!(
                    in_slice.iter().all(|t| *t >= slice_start && *t <= to),
                    "{task}: slice [{slice_start}, {to}] delivered {in_slice:?}"
                );
                slice_start = to;
                in_slice.clear();
            }
        }
    }
}

#[tokio::test]
async fn every_event_of_every_region_and_source_is_delivered_once_oldest_slice_first() {
    let server = server(0.0).await;
    let cp = NOW - 2 * DAY;
    let first_slice_end = cp - 900 + 6 * HOUR;
    let mut expected = Vec::new();
    // 120 IAM events inside one 6-hour slice (3 pages), one exactly on the slice boundary,
    // and more over the rest of the window.
    expected.extend(seed(&server, "us-east-1", IAM_SOURCE, 120, cp, cp + 5 * HOUR));
    server.add_event("us-east-1", record("boundary", first_slice_end, IAM_SOURCE, "us-east-1")).expect("seed");
    expected.push("boundary".into());
    expected.extend(seed(&server, "us-east-1", IAM_SOURCE, 30, cp + 7 * HOUR, NOW - 400));
    expected.extend(seed(&server, "us-east-1", SIGNIN_SOURCE, 60, cp - 600, NOW - 300));
    expected.extend(seed(&server, "us-east-1", SSO_SOURCE, 55, cp, NOW - 1000));
    expected.extend(seed(&server, "us-east-1", STS_SOURCE, 70, cp + HOUR, cp + 2 * HOUR));
    // Regions without a checkpoint: the 90-day initial load.
    expected.extend(seed(&server, "eu-west-1", STS_SOURCE, 80, NOW - 60 * DAY, NOW - HOUR));
    expected.extend(seed(&server, "eu-central-1", SSO_SOURCE, 20, NOW - 80 * DAY, NOW - 2 * DAY));
    expected.extend(seed(&server, "eu-central-1", STS_SOURCE, 5, NOW - 5 * DAY, NOW - DAY));
    expected.extend(seed(&server, "ap-east-1", STS_SOURCE, 10, NOW - 3 * DAY, NOW - DAY)); // opted in
                                                                                           // Never delivered: older than 90 days, newer than the buffer, a region not opted in,
                                                                                           // a source nobody reads there, before the overlap of a checkpointed task.
    let excluded = [
        seed(&server, "eu-west-1", STS_SOURCE, 3, NOW - 95 * DAY, NOW - 91 * DAY),
        seed(&server, "us-east-2", STS_SOURCE, 2, NOW - 200, NOW - 10),
        seed(&server, "me-south-1", STS_SOURCE, 4, NOW - 3 * DAY, NOW - DAY),
        seed(&server, "eu-west-1", IAM_SOURCE, 3, NOW - 3 * DAY, NOW - DAY),
        seed(&server, "us-east-1", IAM_SOURCE, 2, cp - 3 * HOUR, cp - HOUR),
    ]
    .concat();

    let settings = SourceSettings { sso_region: Some("eu-central-1".into()), rate_per_region: 200.0, ..fast() };
    let checkpoints: HashMap<TaskKey, i64> =
        [IAM_SOURCE, SIGNIN_SOURCE, SSO_SOURCE, STS_SOURCE].iter().map(|s| (key("us-east-1", s), cp)).collect();
    let (msgs, warnings) = run(sdk(&server).await, &settings, checkpoints, NOW, Deadline::none()).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut sim = Sim::default();
    sim.apply(&msgs);

    // Exactly once each, nothing else.
    assert_eq!(sim.ids(), set(expected.clone()));
    assert!(
        sim.delivered.values().all(|n| *n == 1),
        "duplicates: {:?}",
        sim.delivered.iter().filter(|(_, n)| **n > 1).collect::<Vec<_>>()
    );
    assert!(excluded.iter().all(|id| !sim.delivered.contains_key(id)));

    // The tasks: sts in the 17 enabled regions (ap-east-1 opted in; me-south-1 and af-south-1
    // not), iam/signin/sso in us-east-1, sso in eu-central-1 too. All complete.
    let mut want: BTreeSet<TaskKey> =
        server.regions().iter().filter(|r| r.enabled()).map(|r| key(&r.name, STS_SOURCE)).collect();
    want.extend([key("us-east-1", IAM_SOURCE), key("us-east-1", SIGNIN_SOURCE), key("us-east-1", SSO_SOURCE)]);
    want.insert(key("eu-central-1", SSO_SOURCE));
    assert_eq!(want.len(), 21);
    assert_eq!(sim.ends.keys().cloned().collect::<BTreeSet<_>>(), want);
    for end in sim.ends.values() {
        assert_eq!((end.status, &end.error), (TaskStatus::Complete, &None), "{}", end.task);
        assert_eq!((end.stats.retries, end.stats.throttled, end.stats.server_errors), (0, 0, 0));
    }
    // Every task's checkpoint reaches the end of the window; slices come oldest first.
    for task in &want {
        assert_eq!(sim.checkpoints.get(task), Some(&(NOW - 300)), "{task}");
    }
    check_order(&msgs, &sim);
    let iam = &sim.batches[&key("us-east-1", IAM_SOURCE)];
    assert_eq!(iam[0].progress, Progress::Checkpoint { task: key("us-east-1", IAM_SOURCE), to: first_slice_end });
    assert_eq!(iam[0].records.len(), 121, "the first slice: 3 pages, the boundary event included");
    assert!(
        iam[0].records.iter().any(|r| r.origin.contains("slice 2026-02-27T08:45:00Z page 3 item ")),
        "{:?}",
        iam[0].records[120].origin
    );
    // Requests the server saw = requests counted (no hidden SDK retries).
    let server_requests: u64 = server.stats().requests_by_region.values().sum();
    assert_eq!(sim.total(|e| e.stats.requests), server_requests);
}

/// DescribeRegions through the adapter, and the tasks planned from it.
#[tokio::test]
async fn tasks_are_planned_from_the_enabled_regions_and_the_env() {
    let server = server(0.0).await;
    let api = sdk(&server).await;
    let enabled = api.enabled_regions().await.expect("DescribeRegions");
    assert_eq!(enabled.len(), 17, "{enabled:?}");
    assert!(enabled.iter().any(|r| r == "ap-east-1"), "opted-in regions are kept");
    assert!(!enabled.iter().any(|r| r == "me-south-1" || r == "af-south-1"), "not-opted-in regions are dropped");

    let env = |pairs: &[(&str, &str)]| {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        SourceSettings::from_vars(|k| map.get(k).cloned())
    };
    let all = env(&[]).expect("defaults");
    let tasks = plan_tasks(&all, &enabled);
    assert_eq!(tasks.len(), 17 + 3);
    let in_region = |tasks: &[TaskKey], source: &str| {
        tasks.iter().filter(|t| t.source == source).map(|t| t.region.clone()).collect::<Vec<_>>()
    };
    assert_eq!(in_region(&tasks, IAM_SOURCE), ["us-east-1"]);
    assert_eq!(in_region(&tasks, SIGNIN_SOURCE), ["us-east-1"]);
    assert_eq!(in_region(&tasks, SSO_SOURCE), ["us-east-1"]);
    assert_eq!(in_region(&tasks, STS_SOURCE).len(), 17);

    let s = env(&[
        ("PROCESS_SIGNIN_EVENTS", "FALSE"),
        ("PROCESS_STS_EVENTS", "0"),
        ("SSO_REGION", "eu-west-2"),
        ("MAX_WORKERS", "3"),
    ])
    .expect("valid");
    assert_eq!(s.max_workers, 3);
    assert_eq!(
        plan_tasks(&s, &enabled),
        [key("eu-west-2", SSO_SOURCE), key("us-east-1", IAM_SOURCE), key("us-east-1", SSO_SOURCE)]
    );
    let s = env(&[
        ("PROCESS_IAM_EVENTS", "no"),
        ("PROCESS_SIGNIN_EVENTS", "No"),
        ("PROCESS_SSO_EVENTS", "false"),
        ("PROCESS_STS_EVENTS", "Yes"),
    ])
    .expect("valid");
    assert!(plan_tasks(&s, &enabled).iter().all(|t| t.source == STS_SOURCE));
    let none = env(&[
        ("PROCESS_IAM_EVENTS", "0"),
        ("PROCESS_SIGNIN_EVENTS", "0"),
        ("PROCESS_SSO_EVENTS", "0"),
        ("PROCESS_STS_EVENTS", "0"),
    ])
    .expect("valid");
    assert!(plan_tasks(&none, &enabled).is_empty());
    // Empty values are unset.
    assert_eq!(env(&[("PROCESS_IAM_EVENTS", ""), ("SSO_REGION", " ")]).expect("valid"), SourceSettings::default());

    for (var, value) in
        [("PROCESS_STS_EVENTS", "maybe"), ("MAX_WORKERS", "0"), ("MAX_WORKERS", "lots"), ("SSO_REGION", "Frankfurt")]
    {
        let err = env(&[(var, value)]).expect_err("invalid").to_string();
        assert!(err.contains(var) && err.contains(value), "{err}");
    }
}

/// The adapter, but DescribeRegions is not allowed.
struct NoDescribeRegions(SdkLookup);

impl LookupApi for NoDescribeRegions {
    fn lookup_page(
        &self,
        region: &str,
        event_source: &str,
        start: i64,
        end: i64,
        next_token: Option<String>,
    ) -> impl Future<Output = Result<LookupPage, LookupError>> + Send {
        self.0.lookup_page(region, event_source, start, end, next_token)
    }

    async fn enabled_regions(&self) -> Result<Vec<String>, LookupError> {
        Err(LookupError::Fatal {
            code: "UnauthorizedOperation".into(),
            detail: "not allowed: ec2:DescribeRegions".into(),
        })
    }
}

#[tokio::test]
async fn region_discovery_failure_falls_back_to_the_default_regions_and_says_so() {
    // The adapter against a dead port: a retryable transport error, not a panic or a hang.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    init_env();
    let nowhere = sdk_at(&format!("http://127.0.0.1:{dead}")).await;
    let err = nowhere.enabled_regions().await.expect_err("nobody listens");
    assert!(matches!(err, LookupError::Server { status: None, .. }), "{err:?}");
    let err = nowhere.lookup_page("us-east-1", IAM_SOURCE, NOW - 60, NOW, None).await.expect_err("nobody listens");
    assert!(err.is_retryable(), "{err:?}");

    // run_all falls back to the default regions, warns, and still collects.
    let server = server(0.0).await;
    let ids = seed(&server, "us-east-1", STS_SOURCE, 7, NOW - 2 * HOUR, NOW - HOUR);
    let ids2 = seed(&server, "ap-northeast-3", STS_SOURCE, 3, NOW - 2 * HOUR, NOW - HOUR);
    seed(&server, "ap-east-1", STS_SOURCE, 3, NOW - 2 * HOUR, NOW - HOUR);
    let api = Arc::new(NoDescribeRegions(sdk_at(&server.endpoint()).await));
    let settings = SourceSettings { process_iam: false, process_signin: false, process_sso: false, ..fast() };
    let checkpoints = DEFAULT_ENABLED_REGIONS.iter().map(|r| (key(r, STS_SOURCE), NOW - 3 * HOUR)).collect();
    let (msgs, warnings) = run(api, &settings, checkpoints, NOW, Deadline::none()).await;
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    let w = &warnings[0];
    assert!(w.contains("DescribeRegions") && w.contains("UnauthorizedOperation"), "{w}");
    assert!(w.contains("17 regions enabled by default") && w.contains("ap-northeast-3"), "{w}");
    let mut sim = Sim::default();
    sim.apply(&msgs);
    let regions: BTreeSet<String> = sim.ends.keys().map(|t| t.region.clone()).collect();
    assert_eq!(regions, DEFAULT_ENABLED_REGIONS.iter().map(|r| (*r).to_owned()).collect());
    assert!(sim.ends.values().all(|e| e.status == TaskStatus::Complete));
    assert_eq!(sim.ids(), set(ids.into_iter().chain(ids2)), "opt-in regions are skipped on the fallback");
}

#[tokio::test]
async fn a_failing_region_never_stops_the_others() {
    let server = server(0.0).await;
    let ids = seed(&server, "us-east-1", STS_SOURCE, 60, NOW - 2 * HOUR, NOW - HOUR);
    let settings = SourceSettings {
        process_iam: false,
        process_signin: false,
        process_sso: false,
        regions: Some(vec!["me-south-1".into(), "us-east-1".into()]),
        max_workers: 1,
        ..fast()
    };
    let (msgs, warnings) = run(sdk(&server).await, &settings, HashMap::new(), NOW, Deadline::none()).await;
    assert!(warnings.is_empty(), "--regions skips DescribeRegions: {warnings:?}");
    assert_eq!(server.stats().describe_regions_requests, 0);
    let mut sim = Sim::default();
    sim.apply(&msgs);
    let failed = &sim.ends[&key("me-south-1", STS_SOURCE)];
    assert_eq!(failed.status, TaskStatus::Failed);
    assert!(failed.error.as_deref().is_some_and(|e| e.contains("UnrecognizedClientException")), "{failed:?}");
    assert_eq!(failed.stats.requests, 1, "fatal errors are not retried");
    assert_eq!(sim.ends[&key("us-east-1", STS_SOURCE)].status, TaskStatus::Complete);
    assert_eq!(sim.ids(), set(ids));
    assert!(!sim.checkpoints.contains_key(&key("me-south-1", STS_SOURCE)));
}

#[tokio::test]
async fn throttle_storms_and_server_errors_lose_nothing_and_are_counted() {
    // The server's real limit (2 requests/s per region) and our default limiter and retries.
    let server = server(2.0).await;
    let cp = NOW - 5 * HOUR; // one slice per task
    let mut expected = seed(&server, "us-east-1", IAM_SOURCE, 90, cp - 600, NOW - 400);
    expected.extend(seed(&server, "us-east-1", STS_SOURCE, 40, cp, NOW - 400));
    expected.extend(seed(&server, "eu-west-1", STS_SOURCE, 110, cp, NOW - 400));
    server.throttle_storm(Some("us-east-1"), Duration::from_millis(1500));
    server.fail_next(Some("eu-west-1"), 3, Fault::ServerError(503));
    server.fail_next(None, 2, Fault::ServerError(500));
    server.fail_next(Some("us-east-1"), 1, Fault::Throttle);

    let settings = SourceSettings {
        process_signin: false,
        process_sso: false,
        regions: Some(vec!["us-east-1".into(), "eu-west-1".into()]),
        ..SourceSettings::default()
    };
    let checkpoints = [key("us-east-1", IAM_SOURCE), key("us-east-1", STS_SOURCE), key("eu-west-1", STS_SOURCE)]
        .into_iter()
        .map(|k| (k, cp))
        .collect();
    let (msgs, warnings) = run(sdk(&server).await, &settings, checkpoints, NOW, Deadline::none()).await;
    assert!(warnings.is_empty(), "{warnings:?}");
    let mut sim = Sim::default();
    sim.apply(&msgs);
    assert_eq!(sim.ends.len(), 3);
    for end in sim.ends.values() {
        assert_eq!((end.status, &end.error), (TaskStatus::Complete, &None), "{}", end.task);
        assert_eq!(sim.checkpoints.get(&end.task), Some(&(NOW - 300)));
    }
    assert_eq!(sim.ids(), set(expected));
    assert!(sim.delivered.values().all(|n| *n == 1));

    // Our counters agree with what the server answered, request for request.
    let stats = server.stats();
    let (requests, throttled) =
        (stats.requests_by_region.values().sum::<u64>(), stats.throttled_by_region.values().sum::<u64>());
    assert_eq!(sim.total(|e| e.stats.requests), requests);
    assert_eq!(sim.total(|e| e.stats.throttled), throttled);
    assert_eq!(sim.total(|e| e.stats.server_errors), 5, "3 × 503 and 2 × 500");
    assert_eq!(sim.total(|e| e.stats.retries), throttled + 5, "every failed call was retried");
    assert!(throttled >= 2, "the injected throttle and the storm: {stats:?}");
    assert_eq!(stats.pages_served, requests - throttled - 5);
}

#[tokio::test]
async fn a_deadline_stops_cleanly_and_the_next_run_resumes_from_the_checkpoint() {
    let server = server(2.0).await;
    let task = key("us-east-1", IAM_SOURCE);
    let cp0 = NOW - 3 * DAY;
    let all = seed(&server, "us-east-1", IAM_SOURCE, 300, cp0, NOW - 400);
    let settings = SourceSettings {
        process_sts: false,
        process_signin: false,
        process_sso: false,
        regions: Some(vec!["us-east-1".into()]),
        ..SourceSettings::default()
    };

    // Run 1: about 7 requests are needed at 2 per second; 1 second is not enough.
    let started = Instant::now();
    let store = HashMap::from([(task.clone(), cp0)]);
    let (msgs, _) = run(sdk(&server).await, &settings, store, NOW, Deadline::after(Duration::from_secs(1))).await;
    let took = started.elapsed();
    assert!(took < Duration::from_millis(2500), "stopped at the deadline, not after: {took:?}");
    let mut first = Sim::default();
    first.apply(&msgs);
    assert_eq!(first.ends[&task].status, TaskStatus::Deadline);
    assert_eq!(first.ends[&task].error, None);
    let cp1 = *first.checkpoints.get(&task).expect("the first slice (one page) completed");
    assert!(cp1 < NOW - 300, "the window is not done");
    // Nothing up to the checkpoint is missing from what was delivered.
    let window_start = cp0 - 900;
    let up_to_cp: BTreeSet<String> = all
        .iter()
        .filter(|id| {
            let t = server_time(&all, id, cp0);
            t >= window_start && t <= cp1
        })
        .cloned()
        .collect();
    assert!(!up_to_cp.is_empty());
    assert!(up_to_cp.is_subset(&first.ids()), "checkpoint {cp1} passed undelivered events");
    assert!(first.ids().len() < all.len());

    // Run 2 resumes from the stored checkpoint and completes the rest.
    let store = HashMap::from([(task.clone(), cp1)]);
    let (msgs, _) = run(sdk(&server).await, &settings, store, NOW, Deadline::none()).await;
    let mut second = Sim::default();
    second.apply(&msgs);
    assert_eq!(second.ends[&task].status, TaskStatus::Complete);
    assert_eq!(second.checkpoints.get(&task), Some(&(NOW - 300)));
    let union: BTreeSet<String> = first.ids().union(&second.ids()).cloned().collect();
    assert_eq!(union, set(all), "every event over the two runs");
    // The second run re-read only the overlap before cp1, not the first run's whole work.
    assert!(second.times.values().all(|t| *t >= cp1 - 900));
}

/// The time `seed` gave event `id` (its index over `[from, NOW - 400]`).
fn server_time(all: &[String], id: &str, from: i64) -> i64 {
    let n = all.len() as i64;
    let i = all.iter().position(|x| x == id).expect("seeded") as i64;
    from + (NOW - 400 - from) * i / (n - 1)
}

#[tokio::test]
async fn late_events_inside_the_overlap_are_collected_older_ones_are_not() {
    let server = server(0.0).await;
    let task = key("us-east-1", IAM_SOURCE);
    let on_time = seed(&server, "us-east-1", IAM_SOURCE, 10, NOW - 2 * HOUR, NOW - HOUR);
    let settings = SourceSettings {
        process_sts: false,
        process_signin: false,
        process_sso: false,
        regions: Some(vec!["us-east-1".into()]),
        ..fast()
    };
    let (msgs, _) =
        run(sdk(&server).await, &settings, HashMap::from([(task.clone(), NOW - 3 * HOUR)]), NOW, Deadline::none())
            .await;
    let mut first = Sim::default();
    first.apply(&msgs);
    assert_eq!(first.ids(), set(on_time));
    let cp = first.checkpoints[&task];
    assert_eq!(cp, NOW - 300);

    // CloudTrail delivers two events late, after the run: one 10 minutes behind the
    // checkpoint (inside the 15-minute overlap), one 30 minutes behind it (outside).
    server.add_event("us-east-1", record("late-inside", cp - 600, IAM_SOURCE, "us-east-1")).expect("late");
    server.add_event("us-east-1", record("late-outside", cp - 1800, IAM_SOURCE, "us-east-1")).expect("late");
    let later = NOW + 600;
    let (msgs, _) =
        run(sdk(&server).await, &settings, HashMap::from([(task.clone(), cp)]), later, Deadline::none()).await;
    let mut second = Sim::default();
    second.apply(&msgs);
    assert!(second.delivered.contains_key("late-inside"), "inside the overlap: collected");
    // The documented limit: LookupEvents cannot see an event delivered later than the
    // overlap behind the checkpoint (trail files, or a larger overlap, cover that).
    assert!(!second.delivered.contains_key("late-outside"));
    assert_eq!(second.checkpoints[&task], later - 300);
}
