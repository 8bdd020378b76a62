//! `iam-tracker collect` end to end: the real binary against the local LookupEvents server
//! (each test starts its own on 127.0.0.1) and trail folders, checked through the store, the
//! alerts file and the JSON run report.
//!
//! - backfill of 90 days over several short-deadline runs, every event stored once;
//! - crash safety: SIGKILL at random moments, then a run to completion;
//! - late events behind the checkpoint, inside (and outside) the overlap;
//! - throttle storms and 5xx answers on the real 2 requests/s limit;
//! - gzip trail files with a corrupt and an empty one;
//! - exit codes (every task failed) and `--dry-run`.
//!
//! The binary limits itself to 2 LookupEvents requests per second per region, so runs are
//! paced by that; most tests start from a checkpoint a few hours or days back (written into
//! the store beforehand) instead of the 90-day initial load, which costs ~16 requests per task.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use iam_tracker::store::local::LocalStore;
use iam_tracker::store::{Batch, EventQuery, Progress, Store, TaskKey};
use iam_tracker::timefmt;
use iam_tracker_lookup_server::generate::Rng;
use iam_tracker_lookup_server::{Fault, LookupServer, ServerConfig};
use serde_json::{json, Value};

use crate::support::{load_builtins, run_record};

const ACCOUNT: &str = "111122223333";
const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;
const IAM: &str = "iam.amazonaws.com";
const STS: &str = "sts.amazonaws.com";
const SIGNIN: &str = "signin.amazonaws.com";

/// A CloudTrail record. Some kinds raise alerts with the built-in detectors: `CreateUser`
/// (user-creation) and a root `ConsoleLogin` (root-activity).
fn record(id: &str, secs: i64, source: &str, region: &str, kind: u64) -> Value {
    let user = json!({"type": "IAMUser", "userName": "alice", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        "accountId": ACCOUNT, "principalId": "AIDAEXAMPLE"});
    let (name, identity, request, response) = match source {
        IAM if kind.is_multiple_of(4) => ("CreateUser", user, json!({"userName": format!("u-{id}")}), Value::Null),
        IAM => ("ListUsers", user, Value::Null, Value::Null),
        SIGNIN if kind.is_multiple_of(3) => (
            "ConsoleLogin",
            json!({"type": "Root", "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT,
                "principalId": ACCOUNT}),
            Value::Null,
            json!({"ConsoleLogin": "Success"}),
        ),
        SIGNIN => ("ConsoleLogin", user, Value::Null, json!({"ConsoleLogin": "Success"})),
        _ => (
            "AssumeRole",
            user,
            json!({"roleArn": format!("arn:aws:iam::{ACCOUNT}:role/ReadOnly"), "roleSessionName": "s"}),
            Value::Null,
        ),
    };
    json!({
        "eventVersion": "1.08",
        "userIdentity": identity,
        "eventTime": timefmt::rfc3339(secs),
        "eventSource": source,
        "eventName": name,
        "awsRegion": region,
        "sourceIPAddress": "198.51.100.7",
        "userAgent": "aws-cli/2.15",
        "requestParameters": request,
        "responseElements": response,
        "eventID": id,
        "eventType": "AwsApiCall",
        "recipientAccountId": ACCOUNT,
    })
}

/// What was put on the server: per event id, its task and time; and the alerts the built-in
/// detectors raise on those records (dedup key → event id), computed in this process.
#[derive(Default)]
struct Seeded {
    events: BTreeMap<String, (TaskKey, i64)>,
    records: Vec<String>,
}

impl Seeded {
    /// Adds `n` events of `source` to `region`, at deterministic times in `[from, to]`.
    fn add(&mut self, server: &LookupServer, region: &str, source: &str, n: usize, span: (i64, i64), seed: u64) {
        let (from, to) = span;
        let mut rng = Rng(seed);
        let short = source.split('.').next().unwrap_or(source);
        for i in 0..n {
            let t = from + rng.below((to - from).max(1) as usize + 1) as i64;
            let id = format!("{region}-{short}-{seed}-{i:05}");
            let rec = record(&id, t, source, region, i as u64);
            server.add_event(region, rec.clone()).expect("seed event");
            self.records.push(rec.to_string());
            self.events.insert(id, (key(region, source), t));
        }
    }

    fn add_one(&mut self, server: &LookupServer, region: &str, source: &str, id: &str, t: i64, kind: u64) {
        let rec = record(id, t, source, region, kind);
        server.add_event(region, rec.clone()).expect("seed event");
        self.records.push(rec.to_string());
        self.events.insert(id.to_owned(), (key(region, source), t));
    }

    fn ids(&self) -> BTreeSet<String> {
        self.events.keys().cloned().collect()
    }

    /// The dedup keys of every alert the seeded records raise, with their event ids.
    fn expected_alerts(&self) -> BTreeMap<String, String> {
        let mut d = load_builtins();
        let mut out = BTreeMap::new();
        for r in &self.records {
            for a in run_record(&mut d, r).0 {
                out.insert(a.dedup_key.clone(), a.event_id.clone().unwrap_or_default());
            }
        }
        out
    }
}

fn key(region: &str, source: &str) -> TaskKey {
    TaskKey { region: region.to_owned(), source: source.to_owned() }
}

/// The LookupEvents server on its own thread. `rate` requests per second per region.
fn server(rate: f64) -> LookupServer {
    LookupServer::start_in_thread(ServerConfig { rate_per_region: rate, ..ServerConfig::default() })
        .expect("lookup server starts")
}

/// A temp folder holding a store, the alerts file, the report and the binary's logs.
struct Work {
    dir: tempfile::TempDir,
}

impl Work {
    fn new() -> Self {
        Work { dir: tempfile::tempdir().expect("tempdir") }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store_dir(&self) -> PathBuf {
        self.path("store")
    }

    /// Writes checkpoints into a new store, as if earlier runs had got that far.
    fn checkpoints(&self, tasks: &[TaskKey], to: i64) {
        let mut store = LocalStore::open(&self.store_dir()).expect("store opens");
        for t in tasks {
            let batch = Batch {
                events: Vec::new(),
                alerts: Vec::new(),
                progress: Progress::Checkpoint { task: t.clone(), to },
                task: Some(t.clone()),
                now: timefmt::now(),
            };
            store.commit(&batch).expect("checkpoint committed");
        }
    }

    /// `iam-tracker collect` with a clean environment, into this folder. Logs go to `log.txt`.
    fn collect(&self, endpoint: &str, regions: &str, extra: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_iam-tracker"));
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("AWS_ACCESS_KEY_ID", "test")
            .env("AWS_SECRET_ACCESS_KEY", "test")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("IAM_TRACKER_NO_PROGRESS", "1")
            .env("NO_COLOR", "1")
            .env("PROCESS_SSO_EVENTS", "false")
            .arg("collect")
            .args(["--endpoint-url", endpoint])
            .arg(format!("--store=local:{}", self.store_dir().display()))
            .arg(format!("--alerts=file:{}", self.path("alerts.jsonl").display()))
            .arg(format!("--report-json={}", self.path("report.json").display()))
            .args(["--regions", regions])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(self.log());
        c
    }

    fn log(&self) -> Stdio {
        let f = std::fs::OpenOptions::new().create(true).append(true).open(self.path("log.txt")).expect("log file");
        Stdio::from(f)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.path("log.txt")).unwrap_or_default();
        let start = text.len().saturating_sub(4000);
        let start = (start..text.len()).find(|i| text.is_char_boundary(*i)).unwrap_or(text.len());
        text[start..].to_owned()
    }

    /// Runs to the end (bounded: a hung collector fails the test instead of the suite).
    fn run(&self, cmd: &mut Command) -> (ExitStatus, Value) {
        let _ = std::fs::remove_file(self.path("report.json"));
        let mut child = cmd.spawn().expect("binary starts");
        let status = wait_bounded(&mut child, Duration::from_secs(180))
            .unwrap_or_else(|| panic!("collect did not end within 180 s; log:\n{}", self.log_tail()));
        (status, self.report())
    }

    fn report(&self) -> Value {
        std::fs::read_to_string(self.path("report.json"))
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null)
    }

    fn store(&self) -> LocalStore {
        LocalStore::open_existing(&self.store_dir()).expect("store exists")
    }

    /// Stored event ids, in store order (duplicates kept).
    fn stored_ids(&self) -> Vec<String> {
        self.store().events(&EventQuery::default()).expect("events").into_iter().map(|e| e.event_id).collect()
    }

    /// Dedup keys in the alerts file, with how often each was delivered. Every line must be JSON.
    fn delivered(&self) -> BTreeMap<String, usize> {
        let text = std::fs::read_to_string(self.path("alerts.jsonl")).unwrap_or_default();
        let mut out = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let v: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("alerts.jsonl line {} is not JSON ({e}): {line}", n + 1));
            let k = v["dedup_key"].as_str().expect("dedup_key").to_owned();
            *out.entry(k).or_default() += 1;
        }
        out
    }

    /// Every seeded id stored exactly once, and nothing else.
    fn assert_all_stored_once(&self, seeded: &Seeded) {
        let ids = self.stored_ids();
        let distinct: BTreeSet<String> = ids.iter().cloned().collect();
        assert_eq!(ids.len(), distinct.len(), "an event is stored twice");
        let want = seeded.ids();
        let missing: Vec<&String> = want.difference(&distinct).take(10).collect();
        let extra: Vec<&String> = distinct.difference(&want).take(10).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{} stored, {} seeded; missing {missing:?}, unexpected {extra:?}; log:\n{}",
            distinct.len(),
            want.len(),
            self.log_tail()
        );
    }

    /// Every expected alert delivered at least once (repeats allowed), none unexpected, and
    /// the store has every one of them marked sent.
    fn assert_alerts_delivered(&self, expected: &BTreeMap<String, String>) {
        let delivered = self.delivered();
        let lost: Vec<&String> = expected.keys().filter(|k| !delivered.contains_key(*k)).take(10).collect();
        assert!(lost.is_empty(), "{} alerts never delivered, e.g. {lost:?}", lost.len());
        let unexpected: Vec<&String> = delivered.keys().filter(|k| !expected.contains_key(*k)).take(10).collect();
        assert!(unexpected.is_empty(), "alerts nobody raised: {unexpected:?}");
        let recorded = self.store().alerts(None).expect("alerts");
        assert_eq!(recorded.len(), expected.len(), "one alert record per dedup key");
        assert!(recorded.iter().all(|a| a.sent_at.is_some()), "an alert is still pending");
    }

    /// The crash invariants, readable at any moment: (1) for each task, every seeded event at
    /// or before its checkpoint is stored; (2) every stored event's alerts are recorded;
    /// (3) every alert marked sent is in the alerts file.
    fn assert_consistent(&self, seeded: &Seeded, expected: &BTreeMap<String, String>, when: &str) {
        let Ok(store) = LocalStore::open_existing(&self.store_dir()) else { return };
        let stored: BTreeSet<String> = self.stored_ids().into_iter().collect();
        for (task, cp) in store.checkpoints().expect("checkpoints") {
            let behind: Vec<&String> = seeded
                .events
                .iter()
                .filter(|(id, (t, time))| *t == task && *time <= cp.last_processed && !stored.contains(*id))
                .map(|(id, _)| id)
                .take(5)
                .collect();
            assert!(behind.is_empty(), "{when}: checkpoint of {task} is past unstored events {behind:?}");
        }
        let recorded: BTreeMap<String, Option<i64>> =
            store.alerts(None).expect("alerts").into_iter().map(|a| (a.dedup_key, a.sent_at)).collect();
        for (k, event) in expected {
            if stored.contains(event) {
                assert!(recorded.contains_key(k), "{when}: event {event} is stored but its alert {k} is not");
            }
        }
        let delivered = self.delivered();
        for (k, sent) in &recorded {
            if sent.is_some() {
                assert!(delivered.contains_key(k), "{when}: alert {k} is marked sent but is not in the file");
            }
        }
    }
}

/// Waits for a child at most `limit`; kills it (and returns `None`) after that.
fn wait_bounded(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let start = Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("wait") {
            return Some(s);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `report.tasks`, or a panic naming the report.
fn tasks(report: &Value) -> &serde_json::Map<String, Value> {
    report["tasks"].as_object().unwrap_or_else(|| panic!("no tasks in the report: {report}"))
}

fn all_complete(report: &Value) -> bool {
    let t = tasks(report);
    !t.is_empty() && t.values().all(|t| t["status"] == "complete")
}

#[test]
fn backfill_of_90_days_over_many_short_runs_stores_every_event_once() {
    let server = server(50.0);
    let now = timefmt::now();
    let (from, to) = (now - 89 * DAY, now - 10 * MINUTE);
    let mut seeded = Seeded::default();
    seeded.add(&server, "us-east-1", IAM, 300, (from, to), 1);
    seeded.add(&server, "us-east-1", SIGNIN, 150, (from, to), 2);
    seeded.add(&server, "us-east-1", STS, 250, (from, to), 3);
    seeded.add(&server, "eu-west-1", STS, 1150, (from, to), 4);
    seeded.add(&server, "ap-southeast-2", STS, 1150, (from, to), 5);
    assert_eq!(seeded.events.len(), 3000);
    let expected = seeded.expected_alerts();
    assert!(expected.len() > 100, "the mix raises alerts: {}", expected.len());

    let w = Work::new();
    let regions = "us-east-1,eu-west-1,ap-southeast-2";
    // Each run starts with a 6-hour slice and grows it with the (low) density, so an 8 s run
    // covers about a month of this backlog at 2 requests/s: several runs are needed.
    let mut runs = 0;
    let mut deadline_runs = 0;
    loop {
        runs += 1;
        assert!(runs <= 40, "not complete after 40 runs; log:\n{}", w.log_tail());
        let (status, report) = w.run(&mut w.collect(&server.endpoint(), regions, &["--deadline", "8s"]));
        assert_eq!(status.code(), Some(0), "run {runs}: {report}\nlog:\n{}", w.log_tail());
        w.assert_consistent(&seeded, &expected, &format!("after run {runs}"));
        if all_complete(&report) {
            break;
        }
        deadline_runs += 1;
        assert!(tasks(&report).values().all(|t| t["status"] == "complete" || t["status"] == "deadline"), "{report}");
    }
    assert!(deadline_runs >= 2, "the backlog needed several runs ({runs})");
    w.assert_all_stored_once(&seeded);
    w.assert_alerts_delivered(&expected);
    // Checkpoints reached the end of each task's window (past the newest event).
    let store = w.store();
    let cps: BTreeMap<TaskKey, i64> =
        store.checkpoints().expect("checkpoints").into_iter().map(|(k, c)| (k, c.last_processed)).collect();
    for (region, source) in
        [("us-east-1", IAM), ("us-east-1", SIGNIN), ("us-east-1", STS), ("eu-west-1", STS), ("ap-southeast-2", STS)]
    {
        let cp =
            cps.get(&key(region, source)).copied().unwrap_or_else(|| panic!("no checkpoint for {region}/{source}"));
        assert!(cp >= to && cp <= timefmt::now() - 5 * MINUTE, "{region}/{source}: checkpoint {cp}, newest event {to}");
    }

    // One more run: everything is re-read only in the overlap, nothing new is stored.
    let (status, report) = w.run(&mut w.collect(&server.endpoint(), regions, &[]));
    assert_eq!(status.code(), Some(0), "{report}");
    assert!(tasks(&report).values().all(|t| t["stored"] == 0), "{report}");
    w.assert_all_stored_once(&seeded);
}

#[test]
fn sigkill_at_random_moments_loses_no_event_and_no_alert() {
    let server = server(100.0);
    let now = timefmt::now();
    let start = now - 2 * DAY;
    let tasks_run = [key("us-east-1", IAM), key("us-east-1", STS), key("eu-west-1", STS)];
    let mut seeded = Seeded::default();
    seeded.add(&server, "us-east-1", IAM, 160, (start + HOUR, now - 10 * MINUTE), 11);
    seeded.add(&server, "us-east-1", STS, 100, (start + HOUR, now - 10 * MINUTE), 12);
    seeded.add(&server, "eu-west-1", STS, 140, (start + HOUR, now - 10 * MINUTE), 13);
    let expected = seeded.expected_alerts();
    assert!(expected.len() >= 30, "{}", expected.len());

    let mut rng = Rng(0x5eed_c011);
    let mut killed_running = 0;
    // Four stores, five kills each, then a run to completion: each store sees kills from the
    // very start of its backlog to its end.
    for epoch in 0..4 {
        let w = Work::new();
        w.checkpoints(&tasks_run, start);
        for trial in 0..5 {
            let delay = match trial {
                0 => Duration::from_millis(rng.below(400) as u64),
                _ => Duration::from_millis(200 + rng.below(5000) as u64),
            };
            let mut child = w
                .collect(&server.endpoint(), "us-east-1,eu-west-1", &[])
                .env("PROCESS_SIGNIN_EVENTS", "false")
                .spawn()
                .expect("binary starts");
            let t0 = Instant::now();
            while t0.elapsed() < delay && child.try_wait().expect("wait").is_none() {
                std::thread::sleep(Duration::from_millis(5));
            }
            if child.try_wait().expect("wait").is_none() {
                // SAFETY: kill(2) on our own child's pid; it has not been reaped yet.
                let rc = unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGKILL) };
                assert_eq!(rc, 0, "kill failed");
                killed_running += 1;
            }
            let status = child.wait().expect("wait");
            let when = format!("epoch {epoch} trial {trial} (after {delay:?}, {status})");
            w.assert_consistent(&seeded, &expected, &when);
        }
        let (status, report) =
            w.run(w.collect(&server.endpoint(), "us-east-1,eu-west-1", &[]).env("PROCESS_SIGNIN_EVENTS", "false"));
        assert_eq!(status.code(), Some(0), "epoch {epoch}: {report}\nlog:\n{}", w.log_tail());
        assert!(all_complete(&report), "{report}");
        w.assert_consistent(&seeded, &expected, &format!("epoch {epoch} final"));
        w.assert_all_stored_once(&seeded);
        w.assert_alerts_delivered(&expected);
    }
    assert!(killed_running >= 8, "only {killed_running} of 20 kills hit a running collector");
}

#[test]
fn late_events_inside_the_overlap_are_collected_and_older_ones_are_not() {
    let server = server(100.0);
    let now = timefmt::now();
    let mut seeded = Seeded::default();
    seeded.add(&server, "us-east-1", IAM, 40, (now - 2 * HOUR, now - 10 * MINUTE), 21);
    let w = Work::new();
    w.checkpoints(&[key("us-east-1", IAM)], now - 3 * HOUR);
    let only_iam = |c: &mut Command| {
        c.env("PROCESS_SIGNIN_EVENTS", "false").env("PROCESS_STS_EVENTS", "false");
    };
    let mut cmd = w.collect(&server.endpoint(), "us-east-1", &[]);
    only_iam(&mut cmd);
    let (status, report) = w.run(&mut cmd);
    assert_eq!(status.code(), Some(0), "{report}");
    w.assert_all_stored_once(&seeded);
    let cp = w.store().checkpoint(&key("us-east-1", IAM)).expect("checkpoint").expect("a checkpoint").last_processed;
    assert!(cp >= now - 5 * MINUTE, "checkpoint {cp} at the window end");

    // Delivered late: behind the checkpoint, within the 15-minute overlap; one alerts.
    let late_time = cp - 5 * MINUTE;
    seeded.add_one(&server, "us-east-1", IAM, "late-in-overlap-1", late_time, 0);
    seeded.add_one(&server, "us-east-1", IAM, "late-in-overlap-2", cp - 12 * MINUTE, 1);
    // Older than the overlap: not read again (the documented limit).
    let too_old = record("late-too-old", cp - 40 * MINUTE, IAM, "us-east-1", 1);
    server.add_event("us-east-1", too_old).expect("seed");
    let expected = seeded.expected_alerts();
    assert!(expected.values().any(|e| e == "late-in-overlap-1"), "the late CreateUser alerts");

    let mut cmd = w.collect(&server.endpoint(), "us-east-1", &[]);
    only_iam(&mut cmd);
    let (status, report) = w.run(&mut cmd);
    assert_eq!(status.code(), Some(0), "{report}");
    let t = &tasks(&report)["us-east-1/iam.amazonaws.com"];
    assert_eq!(t["stored"], 2, "{report}");
    w.assert_all_stored_once(&seeded);
    assert!(!w.stored_ids().contains(&"late-too-old".to_owned()));
    w.assert_alerts_delivered(&expected);
}

#[test]
fn throttle_storms_and_server_errors_lose_nothing_and_are_counted() {
    // The real limit: 2 requests/s per region, burst 2.
    let server = server(2.0);
    let now = timefmt::now();
    let mut seeded = Seeded::default();
    seeded.add(&server, "us-east-1", IAM, 220, (now - 6 * HOUR, now - 10 * MINUTE), 31);
    seeded.add(&server, "eu-west-1", STS, 180, (now - 6 * HOUR, now - 10 * MINUTE), 32);
    let expected = seeded.expected_alerts();
    let w = Work::new();
    w.checkpoints(&[key("us-east-1", IAM), key("eu-west-1", STS)], now - 7 * HOUR);
    // A short storm in us-east-1 (a longer one could exhaust the retries: that is a failure,
    // tested elsewhere) and 5xx answers in eu-west-1.
    server.throttle_storm(Some("us-east-1"), Duration::from_millis(800));
    server.fail_next(Some("eu-west-1"), 1, Fault::ServerError(503));
    server.fail_next(Some("eu-west-1"), 1, Fault::ServerError(500));
    server.fail_next(Some("eu-west-1"), 1, Fault::Throttle);
    let mut cmd = w.collect(&server.endpoint(), "us-east-1,eu-west-1", &[]);
    cmd.env("PROCESS_SIGNIN_EVENTS", "false");
    // sts runs in us-east-1 too; it has no events there.
    let (status, report) = w.run(&mut cmd);
    assert_eq!(status.code(), Some(0), "{report}\nlog:\n{}", w.log_tail());
    assert!(all_complete(&report), "{report}");
    w.assert_all_stored_once(&seeded);
    w.assert_alerts_delivered(&expected);
    let sum =
        |field: &str| -> u64 { tasks(&report).values().map(|t| t["requests"][field].as_u64().unwrap_or(0)).sum() };
    assert!(sum("throttled") >= 2, "throttled answers counted: {report}");
    assert!(sum("server_errors") >= 2, "5xx answers counted: {report}");
    assert!(sum("retries") >= sum("throttled") + sum("server_errors") - 1, "each failure retried: {report}");
    let stats = server.stats();
    assert!(stats.throttled_by_region.get("us-east-1").copied().unwrap_or(0) >= 1, "{stats:?}");
    assert_eq!(stats.errors_injected, 3, "every injected fault was served");
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip write");
    enc.finish().expect("gzip finish")
}

fn write_trail_file(root: &Path, region: &str, day: &str, name: &str, body: &[u8]) -> PathBuf {
    let (y, m, d) = (&day[0..4], &day[5..7], &day[8..10]);
    let dir = root.join(format!("AWSLogs/{ACCOUNT}/CloudTrail/{region}/{y}/{m}/{d}"));
    std::fs::create_dir_all(&dir).expect("mkdir");
    let p = dir.join(name);
    std::fs::write(&p, body).expect("write trail file");
    p
}

#[test]
fn trail_files_are_read_once_with_a_corrupt_and_an_empty_file() {
    let w = Work::new();
    let trail = w.path("trail");
    let mut seeded = Seeded::default();
    let base = timefmt::parse_event_time("2024-05-01T00:00:00Z").expect("time");
    for (f, region) in [(0, "us-east-1"), (1, "us-east-1"), (2, "eu-west-1")] {
        let source = if region == "us-east-1" { IAM } else { STS };
        let records: Vec<Value> = (0..30)
            .map(|i| {
                let id = format!("trail-{f}-{i}");
                let r = record(&id, base + f * HOUR + i * MINUTE, source, region, i as u64);
                seeded.records.push(r.to_string());
                seeded.events.insert(id, (key("trail", "x"), 0));
                r
            })
            .collect();
        let body = gzip(json!({ "Records": records }).to_string().as_bytes());
        let name = format!("{ACCOUNT}_CloudTrail_{region}_20240501T0{f}00Z_file{f}.json.gz");
        write_trail_file(&trail, region, "2024-05-01", &name, &body);
    }
    let corrupt_name = format!("{ACCOUNT}_CloudTrail_us-east-1_20240501T0300Z_corrupt.json.gz");
    write_trail_file(&trail, "us-east-1", "2024-05-01", &corrupt_name, b"\x1f\x8b\x08\x00garbage that is not deflate");
    let empty_name = format!("{ACCOUNT}_CloudTrail_us-east-1_20240501T0400Z_empty.json.gz");
    write_trail_file(&trail, "us-east-1", "2024-05-01", &empty_name, b"");
    let expected = seeded.expected_alerts();
    assert!(!expected.is_empty());

    let source = format!("--source=trail:{}", trail.display());
    // `--regions` limits the trail by key; both regions are listed.
    let (status, report) = w.run(&mut w.collect("http://127.0.0.1:9", "us-east-1,eu-west-1", &[&source]));
    assert_eq!(status.code(), Some(1), "problems, not failure: {report}\nlog:\n{}", w.log_tail());
    w.assert_all_stored_once(&seeded);
    w.assert_alerts_delivered(&expected);
    let text = report.to_string();
    assert!(text.contains("corrupt.json.gz"), "the corrupt file is named: {report}");
    let files_done: u64 = tasks(&report).values().map(|t| t["files_done"].as_u64().unwrap_or(0)).sum();
    assert!((3..=4).contains(&files_done), "three good files (and maybe the empty one) done: {report}");

    // Second run: the good files are done; the corrupt one is reported again.
    let (status, report) = w.run(&mut w.collect("http://127.0.0.1:9", "us-east-1,eu-west-1", &[&source]));
    assert_eq!(status.code(), Some(1), "{report}");
    let read: u64 = tasks(&report).values().map(|t| t["read"].as_u64().unwrap_or(0)).sum();
    let stored: u64 = tasks(&report).values().map(|t| t["stored"].as_u64().unwrap_or(0)).sum();
    assert_eq!((read, stored), (0, 0), "nothing read again: {report}");
    assert!(report.to_string().contains("corrupt.json.gz"), "{report}");
    w.assert_all_stored_once(&seeded);
    assert_eq!(w.delivered().values().sum::<usize>(), expected.len(), "no alert delivered twice");
}

#[test]
fn every_task_failing_exits_2_and_a_dry_run_stores_nothing() {
    // A port nothing listens on.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let w = Work::new();
    let started = Instant::now();
    let (status, report) = w.run(
        w.collect(&format!("http://127.0.0.1:{closed}"), "us-east-1", &["--deadline", "4s"])
            .env("PROCESS_SIGNIN_EVENTS", "false")
            .env("PROCESS_STS_EVENTS", "false"),
    );
    let log = w.log_tail();
    assert_eq!(status.code(), Some(2), "{report}\nlog:\n{log}");
    assert!(started.elapsed() < Duration::from_secs(60), "the deadline bounds the run");
    let t = &tasks(&report)["us-east-1/iam.amazonaws.com"];
    assert_eq!(t["status"], "failed", "{report}");
    assert!(t["error"].as_str().is_some_and(|e| e.contains("Connection refused") || e.contains("connect")), "{report}");
    assert!(log.contains("us-east-1/iam.amazonaws.com") && log.contains("failed"), "{log}");

    // A dry run reads and detects but writes nothing.
    let server = server(100.0);
    let now = timefmt::now();
    let mut seeded = Seeded::default();
    seeded.add(&server, "us-east-1", IAM, 20, (now - HOUR, now - 10 * MINUTE), 41);
    let w = Work::new();
    let stdout = w.path("stdout.jsonl");
    let (status, report) = w.run(
        w.collect(&server.endpoint(), "us-east-1", &["--dry-run", "--format", "jsonl"])
            .env("PROCESS_SIGNIN_EVENTS", "false")
            .env("PROCESS_STS_EVENTS", "false")
            .stdout(std::fs::File::create(&stdout).expect("stdout file")),
    );
    assert_eq!(status.code(), Some(0), "{report}\nlog:\n{}", w.log_tail());
    assert_eq!(report["dry_run"], true);
    let t = &tasks(&report)["us-east-1/iam.amazonaws.com"];
    assert_eq!(t["read"], 20, "{report}");
    assert!(LocalStore::open_existing(&w.store_dir()).is_err(), "no store was created");
    assert!(w.delivered().is_empty(), "nothing delivered to the configured sinks");
    // The alerts it would raise are printed instead, each once.
    let printed: Vec<Value> = std::fs::read_to_string(&stdout)
        .expect("stdout")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
        .collect();
    let expected = seeded.expected_alerts();
    assert!(!expected.is_empty(), "the seeded events raise alerts");
    assert_eq!(t["alerts"], expected.len(), "{report}");
    assert_eq!(printed.len(), expected.len(), "each alert printed once: {printed:?}");
    let keys: BTreeSet<String> = printed.iter().filter_map(|a| a["dedup_key"].as_str().map(str::to_string)).collect();
    assert_eq!(keys, expected.keys().cloned().collect::<BTreeSet<_>>());
}

/// The dedup key of a published alert: its `detector` attribute and the `Event ID:` line.
fn published_key(n: &Value) -> String {
    let detector = n[3]["detector"]["Value"].as_str().unwrap_or("?");
    let body = n[1].as_str().unwrap_or("");
    let event = body.lines().find_map(|l| l.trim().strip_prefix("- Event ID: ")).unwrap_or("?");
    format!("{detector}:{event}")
}

#[test]
fn lookup_events_into_dynamodb_with_sns_alerts_stores_and_publishes_once_and_a_rerun_adds_nothing() {
    let server = server(50.0);
    let now = timefmt::now();
    let (from, to) = (now - 6 * HOUR, now - 10 * MINUTE);
    let mut seeded = Seeded::default();
    seeded.add(&server, "us-east-1", IAM, 60, (from, to), 11);
    seeded.add(&server, "us-east-1", SIGNIN, 45, (from, to), 12);
    seeded.add(&server, "us-east-1", STS, 30, (from, to), 13);
    let expected = seeded.expected_alerts();
    assert!(expected.len() > 20, "the mix raises alerts: {}", expected.len());

    let stack = crate::support::moto::unique_name("e2e");
    let ddb = crate::support::dynamodb::server().endpoint.clone();
    let moto = crate::support::moto::moto().endpoint.clone();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let sns = aws_sdk_sns::Client::new(&rt.block_on(crate::support::moto::sdk_config()));
    let topic = rt
        .block_on(sns.create_topic().name(crate::support::moto::unique_name("alerts")).send())
        .expect("create topic")
        .topic_arn()
        .expect("topic arn")
        .to_string();

    let w = Work::new();
    // Every service at its own local server, through the SDK's per-service endpoint variables.
    let aws = |c: &mut Command| {
        c.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", w.dir.path())
            .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
            .env("AWS_SECRET_ACCESS_KEY", "secret")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_ENDPOINT_URL_CLOUDTRAIL", server.endpoint())
            .env("AWS_ENDPOINT_URL_EC2", server.endpoint())
            .env("AWS_ENDPOINT_URL_DYNAMODB", &ddb)
            .env("AWS_ENDPOINT_URL_SNS", &moto)
            .env("IAM_TRACKER_NO_PROGRESS", "1")
            .env("NO_COLOR", "1")
            .env("PROCESS_SSO_EVENTS", "false");
    };
    let mut init = Command::new(env!("CARGO_BIN_EXE_iam-tracker"));
    aws(&mut init);
    let out = init.args(["init", "--store", &format!("dynamodb:{stack}")]).output().expect("init runs");
    assert!(out.status.success(), "init: {}", String::from_utf8_lossy(&out.stderr));

    let collect = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_iam-tracker"));
        aws(&mut c);
        c.arg("collect")
            .arg(format!("--store=dynamodb:{stack}"))
            .arg(format!("--alerts=sns:{topic}"))
            .arg(format!("--report-json={}", w.path("report.json").display()))
            .args(["--regions", "us-east-1", "--since", "1d"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(w.log());
        c
    };
    let (status, report) = w.run(&mut collect());
    assert_eq!(status.code(), Some(0), "{report}\nlog:\n{}", w.log_tail());

    let store = iam_tracker::aws::dynamodb::DynamoStore::from_conf(
        crate::support::dynamodb::client_conf(),
        iam_tracker::aws::dynamodb::TableNames::for_stack(&stack),
        iam_tracker::aws::dynamodb::DynamoOptions::default(),
    )
    .expect("store");
    let ids: Vec<String> =
        store.events(&EventQuery::default()).expect("events").into_iter().map(|e| e.event_id).collect();
    let distinct: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(ids.len(), distinct.len(), "an event is stored twice");
    assert_eq!(distinct, seeded.ids(), "every seeded event stored, nothing else");

    let notes = crate::support::moto::sns_sent(&topic);
    let keys: Vec<String> = notes.iter().map(published_key).collect();
    let distinct_keys: BTreeSet<&String> = keys.iter().collect();
    assert_eq!(keys.len(), expected.len(), "one publish per alert: {keys:?}");
    assert_eq!(distinct_keys.len(), keys.len(), "an alert was published twice");
    let want: BTreeSet<String> = expected.keys().cloned().collect();
    let got: BTreeSet<String> = keys.iter().cloned().collect();
    assert_eq!(got, want, "published alerts are the raised ones (detector:event id)");
    assert!(store.pending_alerts().expect("pending").is_empty(), "every alert is marked sent");

    // A rerun re-reads the overlap: nothing new is stored or published.
    let (status, report) = w.run(&mut collect());
    assert_eq!(status.code(), Some(0), "{report}\nlog:\n{}", w.log_tail());
    assert!(tasks(&report).values().all(|t| t["stored"] == 0), "{report}");
    assert_eq!(crate::support::moto::sns_sent(&topic).len(), expected.len(), "the rerun published again");
}
