//! The DynamoDB store benchmark: `--events` generated events (default 100 000) written
//! through [`DynamoStore::commit`] in batches of `--batch` (default 1 000, a LookupEvents slice
//! or a few trail files) into new tables on the server at `$IAM_TRACKER_DYNAMODB_URL`.
//!
//! Run it with `cargo xtask bench-dynamodb [--release] [-- ARGS]`, which starts DynamoDB Local
//! on a free port for it and stops it afterwards. It prints a markdown report and writes the
//! same to `target/bench-dynamodb-report.md` (paste it into `docs/benchmarks.md`).
//!
//! Reported: wall time and events/s of the commits, BatchWriteItem calls against the minimum
//! `ceil(n / 25)` (the target: within 5% when nothing is throttled), BatchGetItem calls
//! against `ceil(n / 100)`, retries and throttled answers, a second pass over the same events
//! (everything already stored: reads only), and the process's peak RSS (`VmHWM`).

use std::time::Instant;

use iam_tracker::aws::dynamodb::{DynamoOptions, DynamoStore, TableNames, GET_CHUNK, WRITE_CHUNK};
use iam_tracker::store::{Batch, EventType, Progress, Store, StoredEvent, TaskKey};

struct Args {
    events: usize,
    batch: usize,
}

fn args() -> Args {
    let mut a = Args { events: 100_000, batch: 1_000 };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut num = |name: &str| -> usize {
            it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{name} takes a positive number"))
        };
        match flag.as_str() {
            "--events" => a.events = num("--events"),
            "--batch" => a.batch = num("--batch").max(1),
            "--bench" => {}
            "--help" | "-h" => {
                println!("dynamodb bench: [--events N (100000)] [--batch B (1000)]; needs IAM_TRACKER_DYNAMODB_URL");
                std::process::exit(0);
            }
            other => panic!("unknown argument {other}; try --help"),
        }
    }
    a
}

/// A realistic IAM event (~1 KB raw record).
fn event(i: usize) -> StoredEvent {
    let day = 1 + i % 28;
    let time = format!("2024-05-{day:02}T{:02}:{:02}:{:02}Z", (i / 3600) % 24, (i / 60) % 60, i % 60);
    let id = format!("{:08x}-{:04x}-4bench-{:012x}", i * 2_654_435_761 % 0xffff_ffff, i % 0xffff, i);
    let user = format!("user-{}", i % 500);
    let raw = serde_json::json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": format!("arn:aws:iam::111122223333:user/{user}"),
            "accountId": "111122223333", "accessKeyId": "AKIAEXAMPLE", "userName": user},
        "eventTime": time, "eventSource": "iam.amazonaws.com", "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1", "sourceIPAddress": "203.0.113.9",
        "userAgent": "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64 prompt/off command/iam.create-access-key",
        "requestParameters": {"userName": user},
        "responseElements": {"accessKey": {"userName": user, "accessKeyId": format!("AKIA{i:016}"), "status": "Active",
            "createDate": time}},
        "requestID": format!("req-{i}"), "eventID": id, "readOnly": false, "eventType": "AwsApiCall",
        "managementEvent": true, "recipientAccountId": "111122223333", "eventCategory": "Management",
        "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256", "clientProvidedHostHeader": "iam.amazonaws.com"}
    });
    StoredEvent {
        event_date: time[..10].to_string(),
        event_id: id,
        event_time: time,
        event_source: "iam.amazonaws.com".into(),
        event_name: "CreateAccessKey".into(),
        event_type: EventType::Iam,
        user_name: Some(user),
        identity_type: Some("IAMUser".into()),
        principal_arn: Some("arn:aws:iam::111122223333:user/x".into()),
        aws_region: Some("us-east-1".into()),
        source_ip: Some("203.0.113.9".into()),
        user_agent: Some("aws-cli/2.15.0".into()),
        error_code: None,
        error_message: None,
        recipient_account_id: Some("111122223333".into()),
        raw: raw.to_string(),
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn main() {
    let a = args();
    let url = std::env::var("IAM_TRACKER_DYNAMODB_URL")
        .unwrap_or_else(|_| panic!("set IAM_TRACKER_DYNAMODB_URL, or run `cargo xtask bench-dynamodb`"));
    let conf = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("AKIDTEST", "secret", None, None, "static"))
        .endpoint_url(&url);
    let stack = format!("bench-{}", std::process::id());
    let mut store =
        DynamoStore::from_conf(conf, TableNames::for_stack(&stack), DynamoOptions::default()).expect("store");
    store.create_tables().expect("create the bench tables");
    let task = TaskKey { region: "us-east-1".into(), source: "iam.amazonaws.com".into() };
    let events: Vec<StoredEvent> = (0..a.events).map(event).collect();
    let raw_bytes: usize = events.iter().map(|e| e.raw.len()).sum();

    let pass = |store: &mut DynamoStore| -> (f64, u64, u64) {
        let t = Instant::now();
        let (mut stored, mut already) = (0, 0);
        for (k, chunk) in events.chunks(a.batch).enumerate() {
            let b = Batch {
                events: chunk.to_vec(),
                alerts: vec![],
                progress: Progress::Checkpoint { task: task.clone(), to: 1_714_521_600 + k as i64 },
                task: Some(task.clone()),
                now: 1_714_564_800,
            };
            let r = store.commit(&b).expect("commit");
            stored += r.stored;
            already += r.already_stored;
        }
        (t.elapsed().as_secs_f64(), stored, already)
    };
    let (secs, stored, _) = pass(&mut store);
    let first = store.counters();
    let (secs2, stored2, already2) = pass(&mut store);
    let second = store.counters();
    assert_eq!(stored as usize, a.events, "every event stored once");
    assert_eq!((stored2, already2 as usize), (0, a.events), "the second pass stores nothing");
    let n = a.events as u64;
    let min_writes = n.div_ceil(WRITE_CHUNK as u64);
    let min_gets = n.div_ceil(GET_CHUNK as u64);
    let profile = if cfg!(debug_assertions) { "debug (dev profile)" } else { "release" };
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let report = format!(
        "### DynamoDB store: {n} events into DynamoDB Local\n\n\
         Build: {profile}; {cores} cores; load average at the end: {}; batches of {} events; \
         raw records {:.0} MB ({:.0} B each).\n\n\
         | pass | wall | events/s | BatchWriteItem calls (min ceil(n/25)) | BatchGetItem calls (min ceil(n/100)) | retries | throttled |\n\
         |---|---|---|---|---|---|---|\n\
         | first (all new) | {secs:.1} s | {:.0} | {} ({min_writes}, {:+.2}%) | {} ({min_gets}) | {} | {} |\n\
         | second (all stored) | {secs2:.1} s | {:.0} | {} | {} | {} | {} |\n\n\
         Peak RSS of the benchmark process: {:.0} MiB.\n",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" "),
        a.batch,
        raw_bytes as f64 / 1e6,
        raw_bytes as f64 / a.events as f64,
        n as f64 / secs,
        first.batch_write_calls,
        (first.batch_write_calls as f64 / min_writes as f64 - 1.0) * 100.0,
        first.batch_get_calls,
        first.retries,
        first.throttled,
        n as f64 / secs2,
        second.batch_write_calls - first.batch_write_calls,
        second.batch_get_calls - first.batch_get_calls,
        second.retries - first.retries,
        second.throttled - first.throttled,
        peak_rss_mib(),
    );
    println!("{report}");
    let out = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-dynamodb-report.md");
    if let Err(e) = std::fs::write(&out, &report) {
        eprintln!("cannot write {}: {e}", out.display());
    }
}
