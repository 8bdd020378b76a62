//! The real `tracker` binary as a Lambda function, under our Runtime API stub, against the
//! LookupEvents test server, DynamoDB (Local, or moto), and moto for SNS and S3:
//! - every event stored once, every alert published once;
//! - a second invocation stores and publishes nothing new;
//! - a faulty third-party plugin fetched from the S3 prefix is isolated (its trap is counted,
//!   collection goes on) and an unlisted one is refused and reported;
//! - an invalid variable fails the cold start, naming the variable;
//! - the cold start (process start to the first `next`) and the peak RSS are printed, for
//!   `docs/benchmarks.md`.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use iam_tracker::aws::dynamodb::DynamoOptions;
use iam_tracker::store::{EventQuery, Store};
use iam_tracker_lambda::plugins::sha256_hex;
use iam_tracker_lookup_server::{LookupServer, ServerConfig};
use serde_json::{json, Value};

mod support {
    use std::path::PathBuf;

    /// The workspace root.
    pub fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
    }

    // Shared with the host's tests; this test uses part of it.
    #[allow(dead_code)]
    #[path = "../../../host/tests/it/support/dynamodb.rs"]
    pub mod dynamodb;
    #[path = "../../../host/tests/it/support/moto.rs"]
    pub mod moto;
    #[path = "runtime_api.rs"]
    pub mod runtime_api;
}

use support::runtime_api::RuntimeApi;

const ACCOUNT: &str = "111122223333";

fn record(id: &str, secs: i64, source: &str, name: &str, root: bool) -> Value {
    let identity = if root {
        json!({"type": "Root", "arn": format!("arn:aws:iam::{ACCOUNT}:root"), "accountId": ACCOUNT})
    } else {
        json!({"type": "IAMUser", "userName": "alice", "arn": format!("arn:aws:iam::{ACCOUNT}:user/alice"),
            "accountId": ACCOUNT})
    };
    json!({
        "eventVersion": "1.08", "userIdentity": identity,
        "eventTime": iam_tracker::timefmt::rfc3339(secs), "eventSource": source, "eventName": name,
        "awsRegion": "us-east-1", "sourceIPAddress": "198.51.100.7", "userAgent": "aws-cli/2.15",
        "requestParameters": if name == "CreateUser" { json!({"userName": format!("u-{id}")}) } else { Value::Null },
        "responseElements": if source.starts_with("signin") { json!({"ConsoleLogin": "Success"}) } else { Value::Null },
        "eventID": id, "eventType": "AwsApiCall", "recipientAccountId": ACCOUNT,
    })
}

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

fn aws_env(cmd: &mut Command, lookup: &str, dynamodb: &str, moto: &str) {
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ENDPOINT_URL_CLOUDTRAIL", lookup)
        .env("AWS_ENDPOINT_URL_EC2", lookup)
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb)
        .env("AWS_ENDPOINT_URL_SNS", moto)
        .env("AWS_ENDPOINT_URL_S3", moto);
}

fn lambda_env(cmd: &mut Command, api: &RuntimeApi, name: &str) {
    cmd.env("AWS_LAMBDA_RUNTIME_API", &api.addr)
        .env("AWS_LAMBDA_FUNCTION_NAME", name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "test");
}

/// Kills the function process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Peak resident memory of a process (kB), from `/proc`.
fn peak_rss_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find(|l| l.starts_with("VmHWM:"))?.split_whitespace().nth(1)?.parse().ok()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

/// A topic and a bucket holding the third-party plugins on moto; returns the topic ARN, the
/// plugins URI and the digest list.
fn moto_fixtures() -> (String, String, String) {
    let rt = rt();
    let config = rt.block_on(support::moto::sdk_config());
    let sns = aws_sdk_sns::Client::new(&config);
    let name = support::moto::unique_name("alerts");
    let topic =
        rt.block_on(sns.create_topic().name(&name).send()).expect("create topic").topic_arn().expect("arn").to_string();
    let s3 = aws_sdk_s3::Client::from_conf(aws_sdk_s3::config::Builder::from(&config).force_path_style(true).build());
    let bucket = support::moto::unique_name("plugins");
    rt.block_on(s3.create_bucket().bucket(&bucket).send()).expect("create bucket");
    let dist = support::root().join("target/plugins");
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
    let lookup = LookupServer::start_in_thread(ServerConfig { rate_per_region: 50.0, ..ServerConfig::default() })
        .expect("lookup server");
    let now = iam_tracker::timefmt::now();
    let mut seeded = Vec::new();
    for i in 0..40 {
        let (source, name, root) = match i % 4 {
            0 => ("iam.amazonaws.com", "CreateUser", false),
            1 => ("iam.amazonaws.com", "ListUsers", false),
            2 => ("signin.amazonaws.com", "ConsoleLogin", true),
            _ => ("signin.amazonaws.com", "ConsoleLogin", false),
        };
        let id = format!("evt-{i:03}");
        lookup.add_event("us-east-1", record(&id, now - 3600 + i * 30, source, name, root)).expect("seed");
        seeded.push(id);
    }
    // The faulty plugin traps on this one; collection must go on.
    lookup
        .add_event("us-east-1", record("evt-panic", now - 1800, "iam.amazonaws.com", "FixturePanic", false))
        .expect("seed");
    seeded.push("evt-panic".into());
    // 10 CreateUser (user-creation) + 10 root ConsoleLogin (root-activity).
    let expected_alerts = 20;

    let store = support::dynamodb::store_with(DynamoOptions::default());
    let tables = store.tables().clone();
    let (topic, plugins_uri, sha) = moto_fixtures();
    let cache = tempfile::tempdir().expect("cache dir");

    let api = RuntimeApi::start();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracker"));
    aws_env(&mut cmd, &lookup.endpoint(), &support::dynamodb::server().endpoint, &support::moto::moto().endpoint);
    lambda_env(&mut cmd, &api, "e2e-tracker");
    cmd.env("EVENTS_TABLE_NAME", &tables.events)
        .env("CONTROL_TABLE_NAME", &tables.control)
        .env("ALERTS_TABLE_NAME", &tables.alerts)
        .env("ALERTS_SNS_TOPIC_ARN", &topic)
        .env("PROCESS_STS_EVENTS", "false")
        .env("PROCESS_SSO_EVENTS", "false")
        .env("PLUGINS_S3_URI", &plugins_uri)
        .env("PLUGINS_SHA256", &sha)
        .env("IAM_TRACKER_PLUGIN_CACHE", cache.path())
        .env("LOG_LEVEL", "INFO")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    let started = Instant::now();
    let mut child = Running(cmd.spawn().expect("start the tracker"));
    let ready = api.wait_ready(Duration::from_secs(60)).unwrap_or_else(|e| panic!("cold start failed: {e}"));
    let init = ready.duration_since(started);

    let first = api.invoke(json!({"source": "aws.events"}), Duration::from_secs(120), Duration::from_secs(150));
    let first = first.unwrap_or_else(|e| panic!("first invocation failed: {e}"));
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

    let second = api.invoke(json!({"source": "aws.events"}), Duration::from_secs(120), Duration::from_secs(150));
    let second = second.unwrap_or_else(|e| panic!("second invocation failed: {e}"));
    assert_eq!(second["events_stored"], 0, "{second:#}");
    assert_eq!(published(&topic).len(), expected_alerts, "a rerun publishes nothing new");

    let rss = peak_rss_kb(child.0.id());
    eprintln!(
        "tracker (this build): cold start {:.0} ms to the first `next`; peak RSS {} MiB after two runs",
        init.as_secs_f64() * 1000.0,
        rss.map_or("?".into(), |k| format!("{:.1}", k as f64 / 1024.0))
    );
    // The EMF line went to stdout with the partial-failure metrics.
    let _ = child.0.kill();
    let mut out = String::new();
    child.0.stdout.take().expect("stdout").read_to_string(&mut out).expect("stdout");
    let emf: Vec<Value> =
        out.lines().filter_map(|l| serde_json::from_str(l).ok()).filter(|v: &Value| v.get("_aws").is_some()).collect();
    assert_eq!(emf.len(), 2, "one EMF line per invocation: {out}");
    assert_eq!(emf[0]["FunctionName"], "e2e-tracker");
    assert!(emf[0]["Problems"].as_u64().unwrap_or(0) >= 2, "fault + refusal counted: {}", emf[0]);
}

#[test]
fn an_invalid_variable_fails_the_cold_start_and_names_it() {
    let api = RuntimeApi::start();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tracker"));
    aws_env(&mut cmd, "http://127.0.0.1:9", "http://127.0.0.1:9", "http://127.0.0.1:9");
    lambda_env(&mut cmd, &api, "bad-config");
    cmd.env("EVENTS_TABLE_NAME", "e")
        .env("CONTROL_TABLE_NAME", "c")
        .env("ALERTS_TABLE_NAME", "a")
        .env("ALERTS_SNS_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:t")
        .env("MAX_WORKERS", "lots")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().expect("start");
    let out = child.wait_with_output().expect("exits");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("MAX_WORKERS"), "{err}");
    assert!(api.first_next().is_none(), "a broken config never asks for work");
}
