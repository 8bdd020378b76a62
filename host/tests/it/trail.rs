//! The trail-file source end to end: a local folder and an S3 prefix on a moto server,
//! with good, corrupt, empty and partly malformed files, the done set of a second run,
//! and the deadline.

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iam_tracker::aws::s3::S3Prefix;
use iam_tracker::collect::trail::{
    run_trail, Listing, LocalDir, ObjectSource, TrailError, TrailSettings, TrailSummary, TRAIL_TASK_REGION,
};
use iam_tracker::collect::{Deadline, SourceBatch, SourceMsg, TaskEnd, TaskStatus};
use iam_tracker::store::Progress;
use tokio::sync::mpsc;

use crate::support::moto;

const ACCOUNT: &str = "111122223333";

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).expect("gzip write");
    enc.finish().expect("gzip finish")
}

/// A trail file body with `n` records whose ids start with `tag`.
fn trail_file(tag: &str, n: usize) -> Vec<u8> {
    let records: Vec<serde_json::Value> = (0..n)
        .map(|i| {
            serde_json::json!({
                "eventVersion": "1.08",
                "eventSource": "iam.amazonaws.com",
                "eventName": "CreateUser",
                "eventID": format!("{tag}-{i}"),
                "eventTime": "2024-05-01T00:00:00Z",
                "awsRegion": "us-east-1",
                "userIdentity": {"type": "IAMUser", "userName": "alice"},
                "recipientAccountId": ACCOUNT,
            })
        })
        .collect();
    gzip(serde_json::json!({ "Records": records }).to_string().as_bytes())
}

/// `[org/]AWSLogs/.../<account>_CloudTrail_<region>_20240501T<hhmm>Z_<tag>.json.gz`
fn layout_key(org: Option<&str>, account: &str, region: &str, hhmm: &str, tag: &str) -> String {
    let org = org.map(|o| format!("{o}/")).unwrap_or_default();
    format!("AWSLogs/{org}{account}/CloudTrail/{region}/2024/05/01/{account}_CloudTrail_{region}_20240501T{hhmm}Z_{tag}.json.gz")
}

/// What one run sent, taken apart.
struct Run {
    started_first: bool,
    batches: Vec<SourceBatch>,
    end: TaskEnd,
    summary: TrailSummary,
}

impl Run {
    fn done_keys(&self) -> HashSet<String> {
        self.batches
            .iter()
            .filter_map(|b| match &b.progress {
                Progress::FileDone { key, .. } => Some(key.clone()),
                _ => None,
            })
            .collect()
    }

    /// Event id -> how many times it arrived.
    fn event_ids(&self) -> BTreeMap<String, usize> {
        let mut out = BTreeMap::new();
        for r in self.batches.iter().flat_map(|b| &b.records) {
            let v: serde_json::Value = serde_json::from_str(&r.text).expect("record JSON");
            let id = v["eventID"].as_str().expect("eventID").to_string();
            *out.entry(id).or_insert(0) += 1;
        }
        out
    }

    /// Batches that did not complete their file (unreadable files).
    fn not_done(&self) -> Vec<&SourceBatch> {
        self.batches.iter().filter(|b| b.progress == Progress::None).collect()
    }
}

async fn run<S: ObjectSource>(
    src: S,
    label: &str,
    done: HashSet<String>,
    settings: TrailSettings,
    deadline: Deadline,
) -> Run {
    let (tx, mut rx) = mpsc::channel(4);
    let handle = tokio::spawn(run_trail(
        Arc::new(src),
        label.to_string(),
        move |k: &str| done.contains(k),
        settings,
        deadline,
        tx,
    ));
    let mut msgs = Vec::new();
    while let Some(m) = rx.recv().await {
        msgs.push(m);
    }
    let summary = handle.await.expect("run_trail task");
    let started_first = matches!(msgs.first(), Some(SourceMsg::Started { task, window: None })
        if task.region == TRAIL_TASK_REGION && task.source == label);
    let mut batches = Vec::new();
    let mut end = None;
    for m in msgs {
        match m {
            SourceMsg::Batch(b) => {
                assert!(end.is_none(), "a batch after Done");
                assert_eq!(b.task.source, label);
                batches.push(b);
            }
            SourceMsg::Done(e) => end = Some(e),
            SourceMsg::Started { .. } => {}
        }
    }
    Run { started_first, batches, end: end.expect("the run ends with Done"), summary }
}

fn write(root: &Path, rel: &str, bytes: &[u8]) -> String {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(&p, bytes).expect("write");
    p.display().to_string()
}

/// Folders in [`local_tree`]: the root, `AWSLogs`, the account, `CloudTrail` and
/// `CloudTrail-Digest` with region/year/month/day under each, and `exports`.
const LOCAL_TREE_FOLDERS: u64 = 1 + 1 + 1 + (1 + 4) + (1 + 4) + 1;

/// A folder with two good files, a corrupt gzip, an empty file and a JSON Lines file with
/// one malformed record. Returns the folder and the keys (canonical paths) by name.
fn local_tree() -> (tempfile::TempDir, BTreeMap<&'static str, String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical tempdir");
    let mut corrupt = trail_file("corrupt", 3);
    corrupt.truncate(corrupt.len() - 12);
    let mut keys = BTreeMap::new();
    keys.insert("good1", write(&root, &layout_key(None, ACCOUNT, "us-east-1", "0005", "a"), &trail_file("good1", 2)));
    keys.insert("good2", write(&root, &layout_key(None, ACCOUNT, "us-east-1", "0010", "b"), &trail_file("good2", 3)));
    keys.insert("corrupt", write(&root, &layout_key(None, ACCOUNT, "us-east-1", "0015", "c"), &corrupt));
    keys.insert("empty", write(&root, &layout_key(None, ACCOUNT, "us-east-1", "0020", "d"), b""));
    keys.insert(
        "empty-records",
        write(&root, &layout_key(None, ACCOUNT, "us-east-1", "0025", "e"), &gzip(br#"{"Records":[]}"#)),
    );
    let lines = "{\"eventSource\":\"sts.amazonaws.com\",\"eventName\":\"AssumeRole\",\"eventID\":\"lines-0\"}\n\
                 {\"eventSource\": oops\n\
                 {\"eventSource\":\"sts.amazonaws.com\",\"eventName\":\"AssumeRole\",\"eventID\":\"lines-2\"}\n";
    keys.insert("malformed", write(&root, "exports/extra.jsonl", lines.as_bytes()));
    write(&root, "exports/README.txt", b"not records");
    write(&root, "AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2024/05/01/digest.json.gz", &gzip(b"{}"));
    (dir, keys)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_folder_reads_each_file_once_and_reports_bad_ones() {
    let (dir, keys) = local_tree();
    let label = dir.path().display().to_string();
    let first = run(
        LocalDir::new(dir.path()).expect("open"),
        &label,
        HashSet::new(),
        TrailSettings::default(),
        Deadline::none(),
    )
    .await;
    assert!(first.started_first, "Started comes first");
    assert_eq!(first.end.status, TaskStatus::Complete);
    assert!(
        first.end.error.as_deref().is_some_and(|e| e.contains("1 file(s) could not be read")),
        "{:?}",
        first.end.error
    );

    // One batch per file, oldest first; outside-layout files first.
    let order: Vec<String> = first
        .batches
        .iter()
        .map(|b| match &b.progress {
            Progress::FileDone { key, task } => {
                assert_eq!((task.region.as_str(), task.source.as_str()), (TRAIL_TASK_REGION, label.as_str()));
                key.clone()
            }
            _ => b.rejections[0].origin.clone(),
        })
        .collect();
    let want: Vec<String> =
        ["malformed", "good1", "good2", "corrupt", "empty", "empty-records"].iter().map(|n| keys[n].clone()).collect();
    assert_eq!(order, want);

    // Every good record once, with its file and index.
    let ids = first.event_ids();
    let want_ids = ["good1-0", "good1-1", "good2-0", "good2-1", "good2-2", "lines-0", "lines-2"];
    assert_eq!(ids.keys().map(String::as_str).collect::<Vec<_>>(), want_ids);
    assert!(ids.values().all(|&n| n == 1), "{ids:?}");
    let good2 = &first.batches[2];
    assert_eq!(good2.records[2].origin, format!("{} record 2", keys["good2"]));

    // The malformed record is rejected by name; its file is still done.
    let malformed = &first.batches[0];
    assert_eq!(malformed.records.len(), 2);
    assert_eq!(malformed.rejections.len(), 1);
    assert_eq!(malformed.rejections[0].origin, format!("{} line 2", keys["malformed"]));
    assert!(matches!(&malformed.progress, Progress::FileDone { key, .. } if key == &keys["malformed"]));

    // The corrupt file: one rejection naming it, not done.
    let bad = first.not_done();
    assert_eq!(bad.len(), 1);
    assert!(bad[0].records.is_empty());
    assert_eq!(bad[0].rejections[0].origin, keys["corrupt"]);
    assert!(bad[0].rejections[0].reason.contains("gzip"), "{:?}", bad[0].rejections);

    // Empty files are done with nothing in them.
    for name in ["empty", "empty-records"] {
        let b =
            first.batches.iter().find(|b| matches!(&b.progress, Progress::FileDone { key, .. } if key == &keys[name]));
        assert!(b.is_some_and(|b| b.records.is_empty() && b.rejections.is_empty()), "{name}");
    }
    assert_eq!(
        (
            first.summary.files_done,
            first.summary.files_unreadable,
            first.summary.records,
            first.summary.record_rejections
        ),
        (5, 1, 7, 1)
    );
    assert_eq!((first.summary.skipped_digest, first.summary.skipped_not_records), (1, 1));
    // Requests: the 6 files fetched plus the folders listed.
    assert_eq!(first.end.stats.requests, 6 + LOCAL_TREE_FOLDERS);

    // Second run with the done set: nothing is read again but the corrupt file, which is
    // reported again.
    let done = first.done_keys();
    assert_eq!(done.len(), 5);
    let second =
        run(LocalDir::new(dir.path()).expect("open"), &label, done, TrailSettings::default(), Deadline::none()).await;
    assert_eq!(second.end.status, TaskStatus::Complete);
    assert!(second.event_ids().is_empty());
    assert_eq!(second.batches.len(), 1);
    assert_eq!(second.not_done()[0].rejections[0].origin, keys["corrupt"]);
    assert_eq!(second.summary.skipped_done, 5);
}

/// A folder source whose downloads after the first one take until after the deadline.
struct SlowAfterFirst {
    inner: LocalDir,
    first: String,
    until: Instant,
}

impl ObjectSource for SlowAfterFirst {
    async fn list(&self) -> Result<Listing, TrailError> {
        self.inner.list().await
    }

    async fn get(&self, key: &str) -> Result<Vec<u8>, TrailError> {
        if key != self.first {
            tokio::time::sleep_until(self.until.into()).await;
        }
        self.inner.get(key).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deadline_stops_between_files_and_the_next_run_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = std::fs::canonicalize(dir.path()).expect("canonical");
    let times = ["0000", "0005", "0010", "0015", "0020", "0025"];
    let keys: Vec<String> = times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            write(&root, &layout_key(None, ACCOUNT, "eu-west-1", t, &format!("f{i}")), &trail_file(&format!("f{i}"), 4))
        })
        .collect();
    let label = root.display().to_string();
    let deadline_at = Instant::now() + Duration::from_secs(1);
    let slow = SlowAfterFirst {
        inner: LocalDir::new(&root).expect("open"),
        first: keys[0].clone(),
        until: deadline_at + Duration::from_millis(100),
    };
    let settings = TrailSettings { prefetch: 1, ..TrailSettings::default() };
    let first = run(slow, &label, HashSet::new(), settings.clone(), Deadline(Some(deadline_at))).await;
    assert_eq!(first.end.status, TaskStatus::Deadline);
    // Whole files only: every batch completes its file.
    assert!(first.batches.iter().all(|b| matches!(b.progress, Progress::FileDone { .. })));
    let done_first = first.summary.files_done;
    assert!(done_first >= 1 && done_first < keys.len() as u64, "{:?}", first.summary);
    assert_eq!(first.summary.files_left, keys.len() as u64 - done_first);
    // Oldest first: the files done are a prefix of the time order.
    let done = first.done_keys();
    assert!(keys[..done_first as usize].iter().all(|k| done.contains(k)));

    let second = run(LocalDir::new(&root).expect("open"), &label, done, settings, Deadline::none()).await;
    assert_eq!(second.end.status, TaskStatus::Complete);
    let mut all = first.event_ids();
    for (id, n) in second.event_ids() {
        *all.entry(id).or_insert(0) += n;
    }
    assert_eq!(all.len(), keys.len() * 4);
    assert!(all.values().all(|&n| n == 1), "every event exactly once over both runs: {all:?}");

    // A deadline already passed reads nothing and says so.
    let none = run(
        LocalDir::new(&root).expect("open"),
        &label,
        HashSet::new(),
        TrailSettings::default(),
        Deadline::after(Duration::ZERO),
    )
    .await;
    assert!(none.batches.is_empty());
    assert_eq!(none.end.status, TaskStatus::Deadline);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_prefix_on_moto_reads_each_object_once_including_org_trails() {
    let conf = moto::sdk_config().await;
    let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let bucket = moto::unique_name("trail");
    client.create_bucket().bucket(&bucket).send().await.expect("create bucket");
    let org = "o-abcdef1234";
    let mut corrupt = trail_file("corrupt", 2);
    corrupt.truncate(20);
    let objects: Vec<(String, Vec<u8>)> = vec![
        (layout_key(None, ACCOUNT, "us-east-1", "0005", "a"), trail_file("acct-a", 3)),
        (layout_key(None, ACCOUNT, "us-east-1", "0010", "b"), trail_file("acct-b", 2)),
        (layout_key(Some(org), "444455556666", "eu-west-1", "0000", "c"), trail_file("org-c", 4)),
        (layout_key(Some(org), "444455556666", "eu-west-1", "0020", "d"), trail_file("org-d", 1)),
        (layout_key(None, ACCOUNT, "us-east-1", "0015", "bad"), corrupt),
        (layout_key(None, ACCOUNT, "us-east-1", "0030", "empty"), Vec::new()),
        (format!("AWSLogs/{ACCOUNT}/CloudTrail-Digest/us-east-1/2024/05/01/{ACCOUNT}_CloudTrail-Digest_us-east-1_t_us-east-1_20240501T003000Z.json.gz"), gzip(b"{}")),
        (format!("AWSLogs/{ACCOUNT}/CloudTrail/us-east-1/2024/05/01/"), Vec::new()),
        ("outside/AWSLogs-not/x.json.gz".to_string(), trail_file("outside", 1)),
    ];
    for (key, body) in &objects {
        client.put_object().bucket(&bucket).key(key).body(body.clone().into()).send().await.expect("put object");
    }
    let uri = |k: &str| format!("s3://{bucket}/{k}");
    let label = format!("s3://{bucket}/AWSLogs/");
    // Two keys a page: the listing has to follow continuation tokens.
    let source = || S3Prefix::from_sdk_config(&conf, &bucket, "AWSLogs/").with_page_size(2);

    let first = run(source(), &label, HashSet::new(), TrailSettings::default(), Deadline::none()).await;
    assert!(first.started_first);
    assert_eq!(first.end.status, TaskStatus::Complete);
    let ids = first.event_ids();
    assert_eq!(ids.len(), 3 + 2 + 4 + 1, "{ids:?}");
    assert!(ids.values().all(|&n| n == 1), "{ids:?}");
    assert!(!ids.keys().any(|id| id.starts_with("outside")), "objects outside the prefix are not listed");
    // Time order across accounts: 00:00 (org) first.
    assert!(matches!(&first.batches[0].progress, Progress::FileDone { key, .. } if key == &uri(&objects[2].0)));
    let bad = first.not_done();
    assert_eq!(bad.len(), 1);
    assert_eq!(bad[0].rejections[0].origin, uri(&objects[4].0));
    assert!(bad[0].rejections[0].reason.contains("gzip"), "{:?}", bad[0].rejections);
    let done = first.done_keys();
    assert_eq!(done.len(), 5, "4 files with records and the empty one: {done:?}");
    assert!(done.contains(&uri(&objects[5].0)));
    assert_eq!(first.summary.skipped_digest, 1);
    assert_eq!(first.summary.skipped_not_records, 1);
    // 8 keys under the prefix at 2 a page = 4 list calls, plus 6 objects fetched.
    assert_eq!(first.summary.listed, 8);
    assert_eq!(first.end.stats.requests, 4 + 6);

    let second = run(source(), &label, done, TrailSettings::default(), Deadline::none()).await;
    assert_eq!(second.end.status, TaskStatus::Complete);
    assert!(second.event_ids().is_empty(), "nothing is read twice");
    assert_eq!(second.batches.len(), 1, "only the corrupt object, reported again");
    assert_eq!(second.not_done()[0].rejections[0].origin, uri(&objects[4].0));
    assert_eq!(second.summary.skipped_done, 5);

    // Region and since filters work from the key alone.
    let only_eu = TrailSettings { regions: Some(vec!["eu-west-1".into()]), ..TrailSettings::default() };
    let eu = run(source(), &label, HashSet::new(), only_eu, Deadline::none()).await;
    assert_eq!(eu.event_ids().len(), 5);
    assert_eq!(eu.summary.skipped_other_region, 4);
    let later = TrailSettings { since: iam_tracker::timefmt::parse_date("2024-05-02"), ..TrailSettings::default() };
    let none = run(source(), &label, HashSet::new(), later, Deadline::none()).await;
    assert!(none.batches.is_empty());
    assert_eq!(none.summary.skipped_before_since, 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_errors_carry_the_key_and_the_s3_code() {
    let conf = moto::sdk_config().await;
    let client = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&conf).force_path_style(true).build());
    let bucket = moto::unique_name("trail-err");
    client.create_bucket().bucket(&bucket).send().await.expect("create bucket");

    let src = S3Prefix::from_sdk_config(&conf, &bucket, "");
    let missing = format!("s3://{bucket}/AWSLogs/nothing.json.gz");
    let e = src.get(&missing).await.expect_err("a missing key is an error");
    assert!(e.to_string().contains(&missing), "{e}");
    match e {
        TrailError::Get { key, code, status, .. } => {
            assert_eq!((key.as_str(), code.as_deref(), status), (missing.as_str(), Some("NoSuchKey"), Some(404)));
        }
        other => panic!("expected a Get error, got {other:?}"),
    }
    assert!(
        matches!(src.get("s3://another-bucket/k").await, Err(TrailError::Get { code: Some(c), .. }) if c == "NotInBucket")
    );

    // A bucket that does not exist fails the task, with the code in the error.
    let gone = moto::unique_name("no-such-bucket");
    let label = format!("s3://{gone}/");
    let failed = run(
        S3Prefix::from_sdk_config(&conf, &gone, ""),
        &label,
        HashSet::new(),
        TrailSettings::default(),
        Deadline::none(),
    )
    .await;
    assert_eq!(failed.end.status, TaskStatus::Failed);
    let err = failed.end.error.as_deref().unwrap_or_default();
    assert!(err.contains("NoSuchBucket") && err.contains(&gone), "{err}");
    assert!(failed.batches.is_empty());
}
