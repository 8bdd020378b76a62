//! The SNS alert sink: against the shared moto server (publish, read back what moto
//! recorded, assert subject, body and attributes exactly), through the `collect` CLI
//! (published once, a rerun publishes nothing, a missing topic leaves alerts pending until a
//! good topic delivers them once), and with `aws-smithy-mocks` for the faults no server
//! produces (throttling, 5xx, KMS errors).
//!
//! What was published is read from moto's `GET /moto-api/data.json`
//! (`sns.Topic[].sent_notifications`: `[message_id, message, subject, attributes, group]`),
//! filtered by topic ARN: tests share the server and each uses its own topic.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use aws_sdk_sns::config::retry::RetryConfig;
use aws_sdk_sns::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_sns::operation::publish::PublishOutput;
use aws_smithy_mocks::{create_mock_http_client, mock, MockResponseInterceptor, Rule, RuleMode};
use iam_tracker::aws::sns::{PublishRetry, SnsSink};
use iam_tracker::report::RaisedAlert;
use iam_tracker::sink::AlertSink;
use iam_tracker::Severity;
use serde_json::Value;

use crate::support::{moto, root};

/// One notification moto recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Published {
    subject: Option<String>,
    message: String,
    /// name -> (type, value)
    attributes: BTreeMap<String, (String, String)>,
}

/// Everything moto recorded as published to `topic_arn`, oldest first.
fn published(topic_arn: &str) -> Vec<Published> {
    moto::sns_sent(topic_arn)
        .iter()
        .map(|n| Published {
            message: n[1].as_str().expect("message").to_string(),
            subject: n[2].as_str().map(str::to_string),
            attributes: n[3]
                .as_object()
                .map(|m| {
                    m.iter()
                        .map(|(k, v)| {
                            let t = v["Type"].as_str().unwrap_or_default().to_string();
                            (k.clone(), (t, v["Value"].as_str().unwrap_or_default().to_string()))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        })
        .collect()
}

/// A runtime for the test's own SDK calls (the sink has its own; it is not called from
/// inside this one).
fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("test runtime")
}

/// A new topic on moto in `region`; its ARN.
fn create_topic(rt: &tokio::runtime::Runtime, region: &str, prefix: &str) -> String {
    let conf = rt.block_on(moto::sdk_config());
    let conf = aws_sdk_sns::config::Builder::from(&conf).region(Region::new(region.to_string())).build();
    let client = aws_sdk_sns::Client::from_conf(conf);
    let out = rt.block_on(client.create_topic().name(moto::unique_name(prefix)).send()).expect("create topic");
    out.topic_arn().expect("topic arn").to_string()
}

fn alert() -> RaisedAlert {
    RaisedAlert {
        event_id: Some("0b2d6c1e-aaaa-bbbb-cccc-000000000001".into()),
        event_time: Some("2025-08-10T18:26:07Z".into()),
        event_source: "signin.amazonaws.com".into(),
        event_name: "ConsoleLogin".into(),
        user_name: "root".into(),
        aws_region: Some("us-east-1".into()),
        source_ip: Some("203.0.113.9".into()),
        detector: "root-activity".into(),
        severity: Severity::Critical,
        title: "Root Account Login".into(),
        message: "Root account console login detected from IP 203.0.113.9".into(),
        dedup_key: "root-activity:0b2d6c1e".into(),
        source: "test record 0".into(),
        context: Vec::new(),
    }
}

fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, (String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), ("String".to_string(), v.to_string()))).collect()
}

#[test]
fn published_alerts_carry_subject_body_and_attributes_exactly() {
    let rt = rt();
    let arn = create_topic(&rt, "us-east-1", "sns-exact");
    let conf = rt.block_on(moto::sdk_config());
    let mut sink = SnsSink::from_sdk_config(&conf, &arn).expect("sink");
    assert_eq!(sink.describe(), format!("sns:{arn}"));

    let mut hostile = alert();
    hostile.severity = Severity::High;
    hostile.detector = "user-creation".into();
    hostile.event_name = "CreateUser".into();
    hostile.title = "IAM User Created".into();
    hostile.user_name = "mallory\nSeverity: LOW".into();
    hostile.message = "User mallory\nSeverity: LOW created user eve\u{7}".into();
    hostile.source_ip = None;
    hostile.event_id = Some("evt-2".into());
    sink.deliver(&alert()).expect("first alert published");
    sink.deliver(&hostile).expect("second alert published");
    sink.finish().expect("finish");

    let got = published(&arn);
    assert_eq!(got.len(), 2, "{got:#?}");
    assert_eq!(
        got[0],
        Published {
            subject: Some("[CRITICAL] IAM Alert: Root Account Login".into()),
            message: "IAM Activity Alert: Root Account Login\n\
                      \n\
                      Severity: CRITICAL\n\
                      Time: 2025-08-10T18:26:07Z\n\
                      Region: us-east-1\n\
                      \n\
                      Root account console login detected from IP 203.0.113.9\n\
                      \n\
                      Event Details:\n\
                      - Event Name: ConsoleLogin\n\
                      - User: root\n\
                      - Source IP: 203.0.113.9\n\
                      - Event ID: 0b2d6c1e-aaaa-bbbb-cccc-000000000001\n\
                      - Detector: root-activity\n\
                      \n\
                      Action Required: Review this activity immediately in CloudTrail.\n"
                .into(),
            attributes: attrs(&[
                ("severity", "CRITICAL"),
                ("event_name", "ConsoleLogin"),
                ("detector", "root-activity")
            ]),
        }
    );
    assert_eq!(
        got[1],
        Published {
            subject: Some("[HIGH] IAM Alert: IAM User Created".into()),
            message: "IAM Activity Alert: IAM User Created\n\
                      \n\
                      Severity: HIGH\n\
                      Time: 2025-08-10T18:26:07Z\n\
                      Region: us-east-1\n\
                      \n\
                      User mallory\\nSeverity: LOW created user eve\\u{0007}\n\
                      \n\
                      Event Details:\n\
                      - Event Name: CreateUser\n\
                      - User: mallory\\nSeverity: LOW\n\
                      - Source IP: unknown\n\
                      - Event ID: evt-2\n\
                      - Detector: user-creation\n\
                      \n\
                      Action Required: Review this activity immediately in CloudTrail.\n"
                .into(),
            attributes: attrs(&[("severity", "HIGH"), ("event_name", "CreateUser"), ("detector", "user-creation")]),
        }
    );
}

#[test]
fn the_sink_publishes_in_the_topics_region() {
    let rt = rt();
    // The config says us-east-1; the topic lives in eu-west-1, where moto keeps it.
    let arn = create_topic(&rt, "eu-west-1", "sns-region");
    let conf = rt.block_on(moto::sdk_config());
    assert_eq!(conf.region().map(|r| r.as_ref()), Some("us-east-1"));
    let mut sink = SnsSink::from_sdk_config(&conf, &arn).expect("sink");
    sink.deliver(&alert()).expect("published in eu-west-1");
    assert_eq!(published(&arn).len(), 1);
}

#[test]
fn a_missing_topic_is_a_delivery_error_naming_the_topic_and_the_code() {
    let rt = rt();
    let conf = rt.block_on(moto::sdk_config());
    let arn = format!("arn:aws:sns:us-east-1:123456789012:{}", moto::unique_name("no-such-topic"));
    let mut sink = SnsSink::from_sdk_config(&conf, &arn).expect("sink");
    let started = std::time::Instant::now();
    let err = sink.deliver(&alert()).expect_err("no such topic");
    let text = err.to_string();
    assert!(text.contains(&arn) && text.contains("NotFound"), "{text}");
    assert!(text.contains("after 1 attempt(s), not retryable"), "not retried: {text}");
    assert!(started.elapsed() < Duration::from_secs(10), "failed fast: {:?}", started.elapsed());
}

#[test]
fn the_sink_refuses_to_run_inside_an_async_runtime_instead_of_panicking() {
    let rt = rt();
    let conf = rt.block_on(moto::sdk_config());
    let arn = "arn:aws:sns:us-east-1:123456789012:never-published";
    let mut sink = SnsSink::from_sdk_config(&conf, arn).expect("sink");
    let err = rt.block_on(async { sink.deliver(&alert()) }).expect_err("inside a runtime");
    assert!(err.to_string().contains("async runtime"), "{err}");
}

// ---- faults no server produces: aws-smithy-mocks --------------------------------------

const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:mocked";

/// An SNS error answer as SNS writes it (awsQuery XML).
fn error_xml(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type>\
         <Code>{code}</Code><Message>{message}</Message></Error><RequestId>req-1</RequestId></ErrorResponse>"
    )
}

/// A client whose every Publish is answered by `rule` (no network: the mock HTTP client;
/// the endpoint is loopback anyway).
fn mocked(rule: &Rule) -> SnsSink {
    let conf = aws_sdk_sns::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(RetryConfig::disabled())
        .http_client(create_mock_http_client())
        .interceptor(MockResponseInterceptor::new().rule_mode(RuleMode::Sequential).with_rule(rule))
        .build();
    SnsSink::with_client(aws_sdk_sns::Client::from_conf(conf), TOPIC).expect("sink").with_retry(PublishRetry {
        attempts: 4,
        base: Duration::from_millis(5),
        max: Duration::from_millis(20),
    })
}

#[test]
fn throttling_is_retried_until_the_publish_succeeds() {
    let rule = mock!(aws_sdk_sns::Client::publish)
        .match_requests(|r| {
            r.topic_arn() == Some(TOPIC)
                && r.subject() == Some("[CRITICAL] IAM Alert: Root Account Login")
                && r.message_attributes().is_some_and(|a| {
                    a.len() == 3
                        && a.get("severity").and_then(|v| v.string_value()) == Some("CRITICAL")
                        && a.get("event_name").and_then(|v| v.string_value()) == Some("ConsoleLogin")
                        && a.get("detector").and_then(|v| v.string_value()) == Some("root-activity")
                        && a.values().all(|v| v.data_type() == "String")
                })
        })
        .sequence()
        .http_status(400, Some(error_xml("Throttled", "Rate exceeded")))
        .http_status(400, Some(error_xml("KMSThrottling", "KMS rate exceeded")))
        .output(|| PublishOutput::builder().message_id("m-1").build())
        .build();
    let mut sink = mocked(&rule);
    sink.deliver(&alert()).expect("delivered on the third attempt");
    assert_eq!(rule.num_calls(), 3, "two throttled attempts, then the publish");
}

#[test]
fn throttling_that_lasts_fails_the_delivery_after_every_attempt() {
    let rule = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(400, Some(error_xml("Throttled", "Rate exceeded")))
        .times(10)
        .build();
    let mut sink = mocked(&rule);
    let err = sink.deliver(&alert()).expect_err("still throttled").to_string();
    assert!(err.contains(TOPIC) && err.contains("throttled by SNS (Throttled) after 4 attempt(s)"), "{err}");
    assert!(err.contains("Rate exceeded"), "{err}");
    assert_eq!(rule.num_calls(), 4);
}

#[test]
fn server_errors_are_retried_and_then_reported_with_their_code() {
    let rule = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(500, Some(error_xml("InternalError", "internal failure")))
        .times(10)
        .build();
    let mut sink = mocked(&rule);
    let err = sink.deliver(&alert()).expect_err("server keeps failing").to_string();
    assert!(err.contains("publish failed (InternalError) after 4 attempt(s), gave up"), "{err}");
    assert_eq!(rule.num_calls(), 4);

    // A 503 without a parseable body is retried too, and can then succeed.
    let rule = mock!(aws_sdk_sns::Client::publish)
        .sequence()
        .http_status(503, None)
        .output(|| PublishOutput::builder().message_id("m-2").build())
        .build();
    mocked(&rule).deliver(&alert()).expect("second attempt succeeds");
    assert_eq!(rule.num_calls(), 2);
}

#[test]
fn kms_and_permission_errors_fail_at_once() {
    for (code, status) in [("KMSDisabled", 400), ("AuthorizationError", 403), ("InvalidParameter", 400)] {
        let rule = mock!(aws_sdk_sns::Client::publish)
            .sequence()
            .http_status(status, Some(error_xml(code, "nope")))
            .output(|| PublishOutput::builder().message_id("never").build())
            .build();
        let mut sink = mocked(&rule);
        let err = sink.deliver(&alert()).expect_err(code).to_string();
        assert!(err.contains(TOPIC) && err.contains(&format!("({code}) after 1 attempt(s), not retryable")), "{err}");
        assert_eq!(rule.num_calls(), 1, "{code} is not retried");
    }
}

// ---- the collect CLI ---------------------------------------------------------------------

/// `iam-tracker` with a clean environment: static credentials, a region, no instance
/// metadata, no profile files, no progress bars.
fn bin(home: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iam-tracker"));
    c.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", home)
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("no-aws-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-aws-credentials"))
        .env("IAM_TRACKER_NO_PROGRESS", "1")
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// `collect` of the bundled sample trail into `store`, alerts to `sink`.
fn collect(home: &Path, store: &Path, sink: &str) -> Output {
    bin(home)
        .arg("collect")
        .arg(format!("--source=trail:{}", root().join("samples").display()))
        .arg(format!("--store=local:{}", store.display()))
        .arg(format!("--alerts={sink}"))
        .args(["--endpoint-url", &moto::moto().endpoint])
        .output()
        .expect("collect runs")
}

/// Dedup keys of the pending alerts, from `iam-tracker alerts --pending`.
fn pending(home: &Path, store: &Path) -> Vec<String> {
    let out = bin(home)
        .args(["alerts", "--pending", "--format", "jsonl"])
        .arg(format!("--store=local:{}", store.display()))
        .output()
        .expect("alerts runs");
    assert!(out.status.success(), "alerts --pending: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("jsonl");
            v["dedup_key"].as_str().expect("dedup_key").to_string()
        })
        .collect()
}

/// (detector, event id) of each notification, from its attributes and body.
fn keys(notes: &[Published]) -> Vec<(String, String)> {
    let mut k: Vec<(String, String)> = notes
        .iter()
        .map(|n| {
            let id = n.message.lines().find_map(|l| l.strip_prefix("- Event ID: ")).expect("event id line");
            (n.attributes["detector"].1.clone(), id.to_string())
        })
        .collect();
    k.sort();
    k
}

fn log(out: &Output) -> String {
    format!("exit {:?}\nstderr:\n{}", out.status.code(), String::from_utf8_lossy(&out.stderr))
}

/// The sample trail raises one alert per built-in detector.
const SAMPLE_ALERTS: usize = 14;

#[test]
fn collect_publishes_each_alert_once_and_a_rerun_publishes_nothing() {
    let rt = rt();
    let arn = create_topic(&rt, "us-east-1", "sns-cli");
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");

    let out = collect(tmp.path(), &store, &format!("sns:{arn}"));
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    let first = published(&arn);
    assert_eq!(first.len(), SAMPLE_ALERTS, "{}", log(&out));
    let k = keys(&first);
    let mut distinct = k.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), SAMPLE_ALERTS, "each alert once: {k:?}");
    for n in &first {
        let subject = n.subject.as_deref().expect("subject");
        let sev = &n.attributes["severity"].1;
        assert!(subject.starts_with(&format!("[{sev}] IAM Alert: ")) && subject.len() < 100, "{subject}");
        assert_eq!(n.attributes.len(), 3, "{n:?}");
        assert!(n.attributes.values().all(|(t, v)| t == "String" && !v.is_empty()), "{n:?}");
        assert!(n.message.starts_with("IAM Activity Alert: "), "{}", n.message);
        assert!(n.message.ends_with("Action Required: Review this activity immediately in CloudTrail.\n"));
        assert!(n.message.contains(&format!("- Event Name: {}\n", n.attributes["event_name"].1)), "{}", n.message);
    }
    assert!(pending(tmp.path(), &store).is_empty());

    // Rerun: the files are read already and every alert is sent: nothing new.
    let out = collect(tmp.path(), &store, &format!("sns:{arn}"));
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    assert_eq!(published(&arn), first, "a rerun publishes nothing");
}

#[test]
fn a_missing_topic_leaves_alerts_pending_until_a_good_topic_delivers_them_once() {
    let rt = rt();
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let missing = format!("arn:aws:sns:us-east-1:123456789012:{}", moto::unique_name("missing"));

    let out = collect(tmp.path(), &store, &format!("sns:{missing}"));
    assert_eq!(out.status.code(), Some(1), "undelivered alerts exit 1: {}", log(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&missing) && stderr.contains("NotFound"), "the error names topic and code: {stderr}");
    assert!(published(&missing).is_empty());
    let left = pending(tmp.path(), &store);
    assert_eq!(left.len(), SAMPLE_ALERTS, "every alert stays pending: {left:?}");

    // `--alerts sns` takes the topic from ALERTS_SNS_TOPIC_ARN (the Lambda's variable).
    let arn = create_topic(&rt, "us-east-1", "sns-later");
    let out = bin(tmp.path())
        .env("ALERTS_SNS_TOPIC_ARN", &arn)
        .arg("collect")
        .arg(format!("--source=trail:{}", root().join("samples").display()))
        .arg(format!("--store=local:{}", store.display()))
        .arg("--alerts=sns")
        .args(["--endpoint-url", &moto::moto().endpoint])
        .output()
        .expect("collect runs");
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    let delivered = published(&arn);
    assert_eq!(delivered.len(), SAMPLE_ALERTS, "every pending alert delivered once: {}", log(&out));
    let mut k = keys(&delivered);
    k.dedup();
    assert_eq!(k.len(), SAMPLE_ALERTS);
    assert!(pending(tmp.path(), &store).is_empty());

    // And once only.
    let out = collect(tmp.path(), &store, &format!("sns:{arn}"));
    assert_eq!(out.status.code(), Some(0), "{}", log(&out));
    assert_eq!(published(&arn).len(), SAMPLE_ALERTS);
}

#[test]
fn bad_sns_sinks_are_refused_before_the_run() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = tmp.path().join("store");
    let out = collect(tmp.path(), &store, "sns");
    assert_eq!(out.status.code(), Some(2), "{}", log(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ALERTS_SNS_TOPIC_ARN"), "{}", log(&out));
    let out = collect(tmp.path(), &store, "sns:arn:aws:sqs:us-east-1:123456789012:queue");
    assert_eq!(out.status.code(), Some(2), "{}", log(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an SNS topic ARN"), "{}", log(&out));
}
