//! The real `tracker` binary as a Lambda function, under our Runtime API stub, against the
//! LookupEvents test server, DynamoDB (Local, or moto), and moto for SNS and S3:
//! - every event stored once, every alert published once;
//! - a second invocation stores and publishes nothing new;
//! - a faulty third-party plugin fetched from the S3 prefix is isolated (its trap is counted,
//!   collection goes on) and an unlisted one is refused and reported;
//! - the real `exporter` binary writes Parquet objects under
//!   `iam-events/year=YYYY/month=M/day=D/region=R/` in a moto bucket with the right rows
//!   (read back with parquet-rs), and a second invocation rewrites only the open date, nothing
//!   of the closed ones;
//! - an invalid variable fails the cold start, naming the variable (both functions);
//! - the cold start (process start to the first `next`) and the peak RSS are printed, for
//!   `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use iam_tracker::aws::dynamodb::DynamoOptions;
use iam_tracker::store::{EventQuery, Store};
use iam_tracker_lambda::plugins::sha256_hex;
use serde_json::json;

mod support;

use support::runtime_api::RuntimeApi;
use support::{aws_env, invoke, lambda_env, plugin_dist, record, rt, Running};

/// Messages moto recorded as published to `topic_arn`: (subject, detector attribute, body).
fn published(topic_arn: &str) -> Vec<(String, String, String)> {
    support::moto::sns_sent(topic_arn)
        .iter()
        .map(|m| {
            let detector = m[3]["detector"]["Value"].as_str().unwrap_or("").to_string();
            (m[2].as_str().unwrap_or("").to_string(), detector, m[1].as_str().unwrap_or("").to_string())
        })
        .collect()
}

/// A topic and a bucket holding the third-party plugins on moto; returns the topic ARN, the
/// plugins URI and the digest list.
fn moto_fixtures() -> (String, String, String) {
    let topic = support::moto_topic("alerts");
    let rt = rt();
    let config = rt.block_on(support::moto::sdk_config());
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let bucket = support::moto::unique_name("plugins");
    rt.block_on(s3.create_bucket().bucket(&bucket).send()).expect("create bucket");
    let dist = plugin_dist();
    let faulty = std::fs::read(dist.join("fixtures/fixture-faulty.wasm")).expect("run `cargo xtask build-plugins`");
    for (key, bytes) in [("third-party/faulty.wasm", &faulty), ("third-party/unlisted.wasm", &faulty)] {
        rt.block_on(
            s3.put_object()
                .bucket(&bucket)
                .key(key)
                .body(aws_sdk_s3::primitives::ByteStream::from(bytes.clone()))
                .send(),
        )
        .expect("put plugin");
    }
    (topic, format!("s3://{bucket}/third-party/"), format!("faulty.wasm={}", sha256_hex(&faulty)))
}

#[test]
fn tracker_stores_and_publishes_once_isolates_a_faulty_plugin_and_a_rerun_adds_nothing() {
    let (lookup, mut seeded) = support::lookup_world();
    let now = iam_tracker::timefmt::now();
    // The faulty plugin traps on this one; collection must go on.
    lookup
        .add_event("us-east-1", record("evt-panic", now - 1800, "iam.amazonaws.com", "FixturePanic", false))
        .expect("seed");
    seeded.push("evt-panic".into());
    let expected_alerts = support::SEEDED_ALERTS;

    let store = support::dynamodb::store_with(DynamoOptions::default());
    let tables = store.tables().clone();
    let (topic, plugins_uri, sha) = moto_fixtures();
    let cache = tempfile::tempdir().expect("cache dir");

    let api = RuntimeApi::start();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracker"));
    aws_env(&mut cmd, &lookup.endpoint(), &support::dynamodb::server().endpoint, &support::moto::moto().endpoint);
    lambda_env(&mut cmd, &api, "e2e-tracker", 256);
    support::tracker_env(&mut cmd, &tables, &topic);
    cmd.env("PLUGINS_S3_URI", &plugins_uri)
        .env("PLUGINS_SHA256", &sha)
        .env("IAM_TRACKER_PLUGIN_CACHE", cache.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut child = Running(cmd.spawn().expect("start the tracker"));
    let ready = api.wait_ready(Duration::from_secs(60)).unwrap_or_else(|e| panic!("cold start failed: {e}"));
    let init = ready.duration_since(started);

    let first = invoke(&api, "the first invocation");
    assert_eq!(first["events_stored"], seeded.len(), "{first:#}");
    assert_eq!(first["alerts_delivered"], expected_alerts, "{first:#}");
    assert_eq!(first["tasks_failed"], 0, "{first:#}");
    let refused = first["plugins_refused"].to_string();
    assert!(refused.contains("unlisted.wasm: not listed in PLUGINS_SHA256"), "{refused}");
    assert_eq!(first["report"]["summary"]["plugin_faults"], 1, "the faulty plugin trapped once: {first:#}");
    assert_eq!(first["status"], "partial", "a plugin fault is a problem worth an alarm: {first:#}");

    let stored: Vec<String> =
        store.events(&EventQuery::default()).expect("read back").into_iter().map(|e| e.event_id).collect();
    let mut want = seeded.clone();
    want.sort();
    let mut got = stored.clone();
    got.sort();
    assert_eq!(got, want, "every event stored once");
    let notes = published(&topic);
    assert_eq!(notes.len(), expected_alerts, "each alert published once");
    let mut per_detector: BTreeMap<String, usize> = BTreeMap::new();
    for (subject, detector, _) in &notes {
        assert!(subject.starts_with('[') && subject.contains("] IAM Alert: "), "{subject}");
        *per_detector.entry(detector.clone()).or_default() += 1;
    }
    assert_eq!(per_detector.get("user-creation"), Some(&10), "{per_detector:?}");
    assert_eq!(per_detector.get("root-activity"), Some(&10), "{per_detector:?}");

    let second = invoke(&api, "the second invocation");
    assert_eq!(second["events_stored"], 0, "{second:#}");
    assert_eq!(published(&topic).len(), expected_alerts, "a rerun publishes nothing new");

    let rss = support::peak_rss_kib(child.0.id());
    eprintln!(
        "tracker (this build): cold start {:.0} ms to the first `next`; peak RSS {} MiB after two runs",
        init.as_secs_f64() * 1000.0,
        rss.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
    );
    // The EMF line went to stdout with the partial-failure metrics.
    let emf = child.stop_and_emf_lines();
    assert_eq!(emf.len(), 2, "one EMF line per invocation: {emf:?}");
    assert_eq!(emf[0]["FunctionName"], "e2e-tracker");
    assert!(emf[0]["Problems"].as_u64().unwrap_or(0) >= 2, "fault + refusal counted: {}", emf[0]);
}

/// Start `bin` as the function `name` with `vars`, none of its servers reachable: the cold
/// start must fail, name `variable` on stderr, and never ask for work.
fn assert_cold_start_fails(bin: &str, name: &str, vars: &[(&str, &str)], variable: &str) {
    let api = RuntimeApi::start();
    let mut cmd = Command::new(bin);
    aws_env(&mut cmd, "http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9");
    lambda_env(&mut cmd, &api, name, 256);
    cmd.envs(vars.iter().copied()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let out = cmd.spawn().expect("start").wait_with_output().expect("exits");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(variable), "{err}");
    assert!(api.first_next().is_none(), "a broken config never asks for work");
}

#[test]
fn an_invalid_variable_fails_the_cold_start_and_names_it() {
    assert_cold_start_fails(
        env!("CARGO_BIN_EXE_tracker"),
        "bad-config",
        &[
            ("EVENTS_TABLE_NAME", "e"),
            ("CONTROL_TABLE_NAME", "c"),
            ("ALERTS_TABLE_NAME", "a"),
            ("ALERTS_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t"),
            ("MAX_WORKERS", "lots"),
        ],
        "MAX_WORKERS",
    );
}

/// A stored event of `region` (or none) at `secs`, through the collector's own conversion.
fn stored(id: &str, secs: i64, region: Option<&str>) -> iam_tracker::store::StoredEvent {
    let mut r = record(id, secs, "iam.amazonaws.com", "CreateUser", false);
    match region {
        Some(region) => r["awsRegion"] = region.into(),
        None => {
            r.as_object_mut().expect("object").remove("awsRegion");
        }
    }
    let ev = iam_tracker::event::CloudTrailEvent::parse(&r.to_string()).expect("fixture record parses");
    iam_tracker::collect::run::stored_event(&ev, Some("alice"), secs)
}

/// Every object of `bucket`: key -> (ETag, LastModified).
fn objects(s3: &aws_sdk_s3::Client, bucket: &str) -> BTreeMap<String, (String, String)> {
    let rt = rt();
    let mut out = BTreeMap::new();
    let mut token = None;
    loop {
        let page = rt
            .block_on(s3.list_objects_v2().bucket(bucket).set_continuation_token(token.take()).send())
            .expect("list the analytics bucket");
        for o in page.contents() {
            out.insert(
                o.key().expect("key").to_string(),
                (o.e_tag().unwrap_or("").to_string(), format!("{:?}", o.last_modified())),
            );
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    out
}

/// Rows of a Parquet object, read back with parquet-rs (and the event ids it holds).
fn parquet_rows(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> (usize, Vec<String>) {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let rt = rt();
    let obj = rt.block_on(s3.get_object().bucket(bucket).key(key).send()).expect("get object");
    assert_eq!(obj.content_type(), Some("application/vnd.apache.parquet"), "{key}");
    let bytes = rt.block_on(obj.body.collect()).expect("download").into_bytes();
    let tmp = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(tmp.path(), &bytes).expect("write");
    let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(tmp.path()).expect("open"))
        .unwrap_or_else(|e| panic!("{key} is not Parquet: {e}"))
        .build()
        .expect("reader");
    let mut rows = 0;
    let mut ids = Vec::new();
    for batch in reader {
        let batch = batch.expect("batch");
        rows += batch.num_rows();
        let col = batch.column_by_name("event_id").expect("event_id column");
        let col = col.as_any().downcast_ref::<arrow_array::StringArray>().expect("event_id is a string column");
        ids.extend(col.iter().flatten().map(str::to_string));
    }
    (rows, ids)
}

/// `iam-events/year=YYYY/month=M/day=D/region=R/`, spelled here independently of the
/// exporter's layout module: no leading zeros on month and day.
fn partition(secs: i64, region: &str) -> String {
    let date = iam_tracker::timefmt::date_of(secs);
    let mut parts = date.split('-').map(|p| p.parse::<u32>().expect("date part"));
    let (y, m, d) = (parts.next().expect("y"), parts.next().expect("m"), parts.next().expect("d"));
    format!("iam-events/year={y}/month={m}/day={d}/region={region}/")
}

#[test]
fn exporter_writes_parquet_per_date_and_region_and_a_rerun_rewrites_only_the_open_date() {
    let now = iam_tracker::timefmt::now();
    let day = 86_400;
    // Two closed dates (past the 2-day lateness), at noon so no event crosses midnight, and
    // one open date.
    let noon = now - now.rem_euclid(day) + day / 2;
    let (closed_a, closed_b, today) = (noon - 4 * day, noon - 5 * day, now - 60);
    let mut events = Vec::new();
    let mut want: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut add = |id: &str, secs: i64, region: Option<&str>| {
        events.push(stored(id, secs, region));
        want.entry(partition(secs, region.unwrap_or("unknown"))).or_default().push(id.to_string());
    };
    for i in 0..3 {
        add(&format!("a-use1-{i}"), closed_a + i, Some("us-east-1"));
    }
    for i in 0..2 {
        add(&format!("a-euw1-{i}"), closed_a + 10 + i, Some("eu-west-1"));
    }
    add("b-use1-0", closed_b, Some("us-east-1"));
    add("b-none-0", closed_b + 1, None);
    add("t-use1-0", today, Some("us-east-1"));
    let open_prefix = partition(today, "us-east-1");

    let mut store = support::dynamodb::store_with(DynamoOptions::default());
    let batch = iam_tracker::store::Batch {
        events,
        alerts: Vec::new(),
        progress: iam_tracker::store::Progress::None,
        task: None,
        now,
    };
    store.commit(&batch).expect("seed the events table");
    let events_table = store.tables().events.clone();

    let rt = rt();
    let config = rt.block_on(support::moto::sdk_config());
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let bucket = support::moto::unique_name("analytics");
    rt.block_on(s3.create_bucket().bucket(&bucket).send()).expect("create bucket");

    let staging = tempfile::tempdir().expect("staging dir");
    let api = RuntimeApi::start();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_exporter"));
    aws_env(&mut cmd, "http://127.0.0.1:9", &support::dynamodb::server().endpoint, &support::moto::moto().endpoint);
    lambda_env(&mut cmd, &api, "e2e-exporter", 256);
    cmd.env("EVENTS_TABLE_NAME", &events_table)
        .env("ANALYTICS_BUCKET_NAME", &bucket)
        .env("EXPORT_DAYS_BACK", "6")
        .env("LOG_LEVEL", "INFO")
        .env("TMPDIR", staging.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let mut child = Running(cmd.spawn().expect("start the exporter"));
    api.wait_ready(Duration::from_secs(60)).unwrap_or_else(|e| panic!("cold start failed: {e}"));

    let first = invoke(&api, "the first invocation");
    assert_eq!(first["status"], "ok", "{first:#}");
    assert_eq!(first["rows"], 8, "{first:#}");
    assert_eq!(first["files"], want.len(), "one file per (date, region): {first:#}");
    assert_eq!(first["dates_exported"].as_array().map(Vec::len), Some(3), "{first:#}");
    assert_eq!(first["dates_deferred"], json!([]), "{first:#}");

    let before = objects(&s3, &bucket);
    let parquet: Vec<&String> = before.keys().filter(|k| k.ends_with(".parquet")).collect();
    assert_eq!(parquet.len(), want.len(), "{before:#?}");
    for (prefix, ids) in &want {
        let keys: Vec<&&String> = parquet.iter().filter(|k| k.starts_with(prefix.as_str())).collect();
        assert_eq!(keys.len(), 1, "one object under {prefix}: {parquet:?}");
        assert!(!keys[0][prefix.len()..].contains('/'), "{} is directly under {prefix}", keys[0]);
        let (rows, mut got) = parquet_rows(&s3, &bucket, keys[0]);
        let mut ids = ids.clone();
        ids.sort();
        got.sort();
        assert_eq!((rows, got), (ids.len(), ids), "{}", keys[0]);
    }

    // LastModified has a one-second resolution: make any rewrite visible.
    std::thread::sleep(Duration::from_millis(1100));
    let second = invoke(&api, "the second invocation");
    assert_eq!(second["status"], "ok", "{second:#}");
    assert_eq!(second["dates_unchanged"].as_array().map(Vec::len), Some(2), "closed dates skipped: {second:#}");
    assert_eq!(second["dates_exported"], json!([iam_tracker::timefmt::date_of(today)]), "{second:#}");
    assert_eq!((second["rows"].as_u64(), second["files"].as_u64()), (Some(1), Some(1)), "{second:#}");
    let after = objects(&s3, &bucket);
    assert_eq!(after.keys().collect::<Vec<_>>(), before.keys().collect::<Vec<_>>(), "no object added or removed");
    let open_date = iam_tracker::timefmt::date_of(today);
    for (key, v) in &before {
        let rewritten = key.starts_with(&open_prefix) || key.ends_with(&format!("_manifest/{open_date}.json"));
        if rewritten {
            assert_ne!(&after[key], v, "{key} (open date) was written again");
        } else {
            assert_eq!(&after[key], v, "{key} (closed date) must not be written again");
        }
    }

    let emf = child.stop_and_emf_lines();
    assert_eq!(emf.len(), 2, "one EMF line per invocation: {emf:?}");
    assert_eq!(emf[0]["FunctionName"], "e2e-exporter");
    assert_eq!((emf[0]["Problems"].as_u64(), emf[0]["RowsExported"].as_u64()), (Some(0), Some(8)), "{}", emf[0]);
}

#[test]
fn an_invalid_exporter_variable_fails_the_cold_start_and_names_it() {
    assert_cold_start_fails(
        env!("CARGO_BIN_EXE_exporter"),
        "bad-exporter-config",
        &[("EVENTS_TABLE_NAME", "e"), ("ANALYTICS_BUCKET_NAME", "b"), ("EXPORT_DAYS_BACK", "0")],
        "EXPORT_DAYS_BACK",
    );
}
