//! Drives the server with the official AWS SDK for Rust (aws-sdk-cloudtrail, aws-sdk-ec2), as the
//! collector will: paginators, lookup attributes, time ranges, per-region sets, throttling and
//! retries, injected 5xx, throttle storms, late events between pages, DescribeRegions, and the
//! `lookup-server` binary with its control API.
//!
//! Each test starts its own server on a random port. Clients are configured explicitly (static
//! credentials, region, endpoint, retry config) so nothing reads the environment or IMDS.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::sync::Once;
use std::time::{Duration, Instant};

use aws_sdk_cloudtrail::config::retry::RetryConfig;
use aws_sdk_cloudtrail::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_cloudtrail::error::ProvideErrorMetadata as _;
use aws_sdk_cloudtrail::primitives::DateTime;
use aws_sdk_cloudtrail::types::{LookupAttribute, LookupAttributeKey};
use iam_tracker_lookup_server::{Fault, LookupServer, ServerConfig};
use serde_json::{json, Value};

const T0: i64 = 1_772_355_600; // 2026-03-01T09:00:00Z

fn init_env() {
    static ONCE: Once = Once::new();
    // Edition 2021: set_var is safe to call; done once, before any client exists.
    ONCE.call_once(|| std::env::set_var("AWS_EC2_METADATA_DISABLED", "true"));
}

fn iso(secs: i64) -> String {
    iam_tracker_lookup_server::time::format_iso8601(secs * 1_000_000)
}

fn record(id: &str, secs: i64, source: &str, name: &str) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::123456789012:user/alice", "userName": "alice",
                          "accessKeyId": "AKIAEXAMPLE"},
        "eventTime": iso(secs),
        "eventSource": source,
        "eventName": name,
        "awsRegion": "us-east-1",
        "eventID": id,
        "readOnly": false,
    })
}

/// A server without rate limiting (for tests that are not about throttling).
async fn unlimited_server() -> LookupServer {
    init_env();
    LookupServer::start(ServerConfig { rate_per_region: 0.0, ..ServerConfig::default() }).await.expect("server starts")
}

fn cloudtrail(server: &LookupServer, region: &str, retry: RetryConfig) -> aws_sdk_cloudtrail::Client {
    let conf = aws_sdk_cloudtrail::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(server.endpoint())
        .retry_config(retry)
        .build();
    aws_sdk_cloudtrail::Client::from_conf(conf)
}

fn no_retries() -> RetryConfig {
    RetryConfig::disabled()
}

/// All events of a query through the SDK paginator, with the number of pages.
async fn all_events(
    client: &aws_sdk_cloudtrail::Client,
    page: i32,
    attr: Option<LookupAttribute>,
    range: Option<(DateTime, DateTime)>,
) -> (Vec<aws_sdk_cloudtrail::types::Event>, usize) {
    let mut req = client.lookup_events().max_results(page).set_lookup_attributes(attr.map(|a| vec![a]));
    if let Some((s, e)) = range {
        req = req.start_time(s).end_time(e);
    }
    let mut stream = req.into_paginator().send();
    let mut events = Vec::new();
    let mut pages = 0;
    while let Some(p) = stream.next().await {
        let p = p.expect("page");
        pages += 1;
        events.extend(p.events.unwrap_or_default());
    }
    (events, pages)
}

fn ids(events: &[aws_sdk_cloudtrail::types::Event]) -> Vec<String> {
    events.iter().map(|e| e.event_id().unwrap_or_default().to_owned()).collect()
}

fn attr(key: LookupAttributeKey, value: &str) -> LookupAttribute {
    LookupAttribute::builder().attribute_key(key).attribute_value(value).build().expect("attribute")
}

#[tokio::test]
async fn paginator_three_pages_newest_first() {
    let server = unlimited_server().await;
    for i in 0..7 {
        server
            .add_event("us-east-1", record(&format!("e{i}"), T0 + i * 60, "iam.amazonaws.com", "CreateUser"))
            .expect("seed");
    }
    // A fractional-second record, to check EventTime round-trips with its fraction.
    let mut frac = record("frac", T0 - 10, "sts.amazonaws.com", "AssumeRole");
    frac["eventTime"] = json!("2026-03-01T08:59:50.250Z");
    frac["userIdentity"] = json!({"type": "AssumedRole", "arn": "arn:aws:sts::123456789012:assumed-role/Admin/sess-1"});
    server.add_event("us-east-1", frac.clone()).expect("seed");

    let client = cloudtrail(&server, "us-east-1", no_retries());
    let (events, pages) = all_events(&client, 3, None, None).await;
    assert_eq!(pages, 3);
    assert_eq!(ids(&events), ["e6", "e5", "e4", "e3", "e2", "e1", "e0", "frac"]);
    let first = &events[0];
    assert_eq!(first.event_name(), Some("CreateUser"));
    assert_eq!(first.event_source(), Some("iam.amazonaws.com"));
    assert_eq!(first.username(), Some("alice"));
    assert_eq!(first.read_only(), Some("false"));
    assert_eq!(first.access_key_id(), Some("AKIAEXAMPLE"));
    assert_eq!(first.event_time().map(DateTime::secs), Some(T0 + 360));
    assert_eq!(first.resources.as_ref().map(Vec::len), Some(0), "Resources: []");
    let ct: Value = serde_json::from_str(first.cloud_trail_event().expect("record")).expect("json");
    assert_eq!(ct, record("e6", T0 + 360, "iam.amazonaws.com", "CreateUser"));
    let last = &events[7];
    assert_eq!(last.username(), Some("sess-1"));
    let t = last.event_time().expect("time");
    assert_eq!((t.secs(), t.subsec_nanos()), (T0 - 10, 250_000_000));
    assert_eq!(serde_json::from_str::<Value>(last.cloud_trail_event().expect("record")).expect("json"), frac);

    let stats = server.stats();
    assert_eq!(stats.pages_served, 3);
    assert_eq!(stats.events_served, 8);
    assert_eq!(stats.requests_by_region.get("us-east-1"), Some(&3));

    // The default page size is 50; 51 is refused.
    let (all, pages) = all_events(&client, 50, None, None).await;
    assert_eq!((all.len(), pages), (8, 1));
    let err = client.lookup_events().max_results(51).send().await.expect_err("51 is too many");
    assert_eq!(err.into_service_error().code(), Some("InvalidMaxResultsException"));
}

#[tokio::test]
async fn event_source_and_event_name_filters() {
    let server = unlimited_server().await;
    let seed = [
        ("a", "iam.amazonaws.com", "CreateUser"),
        ("b", "sts.amazonaws.com", "AssumeRole"),
        ("c", "iam.amazonaws.com", "AttachUserPolicy"),
        ("d", "signin.amazonaws.com", "ConsoleLogin"),
        ("e", "iam.amazonaws.com", "CreateUser"),
        ("f", "sso.amazonaws.com", "CreateUser"),
    ];
    for (i, (id, src, name)) in seed.iter().enumerate() {
        server.add_event("us-east-1", record(id, T0 + i as i64, src, name)).expect("seed");
    }
    let client = cloudtrail(&server, "us-east-1", no_retries());
    let (iam, pages) =
        all_events(&client, 2, Some(attr(LookupAttributeKey::EventSource, "iam.amazonaws.com")), None).await;
    assert_eq!((ids(&iam), pages), (vec!["e".to_owned(), "c".into(), "a".into()], 2));
    let (create, _) = all_events(&client, 50, Some(attr(LookupAttributeKey::EventName, "CreateUser")), None).await;
    assert_eq!(ids(&create), ["f", "e", "a"]);
    let (by_id, _) = all_events(&client, 50, Some(attr(LookupAttributeKey::EventId, "d")), None).await;
    assert_eq!(ids(&by_id), ["d"]);
    let (none, pages) = all_events(&client, 50, Some(attr(LookupAttributeKey::EventName, "DeleteUser")), None).await;
    assert_eq!((none.len(), pages), (0, 1));

    let err = client
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventName, "CreateUser"))
        .lookup_attributes(attr(LookupAttributeKey::EventSource, "iam.amazonaws.com"))
        .send()
        .await
        .expect_err("two attributes");
    assert!(err.into_service_error().is_invalid_lookup_attributes_exception());
}

#[tokio::test]
async fn time_range_is_inclusive() {
    let server = unlimited_server().await;
    for i in 0..6 {
        server
            .add_event("us-east-1", record(&format!("t{i}"), T0 + i * 10, "iam.amazonaws.com", "GetUser"))
            .expect("seed");
    }
    let client = cloudtrail(&server, "us-east-1", no_retries());
    let range = (DateTime::from_secs(T0 + 10), DateTime::from_secs(T0 + 30));
    let (events, _) = all_events(&client, 1, None, Some(range)).await;
    assert_eq!(ids(&events), ["t3", "t2", "t1"]);
    // Millisecond bounds: the SDK sends fractional epoch seconds.
    let range = (DateTime::from_millis((T0 + 10) * 1000 + 1), DateTime::from_millis((T0 + 30) * 1000 - 1));
    let (events, _) = all_events(&client, 50, None, Some(range)).await;
    assert_eq!(ids(&events), ["t2"]);
    let err = client
        .lookup_events()
        .start_time(DateTime::from_secs(T0 + 30))
        .end_time(DateTime::from_secs(T0))
        .send()
        .await
        .expect_err("reversed range");
    assert!(err.into_service_error().is_invalid_time_range_exception());
}

#[tokio::test]
async fn per_region_event_sets() {
    let server = unlimited_server().await;
    server
        .add_events(
            "us-east-1",
            (0..2).map(|i| record(&format!("use1-{i}"), T0 + i, "iam.amazonaws.com", "CreateUser")),
        )
        .expect("seed");
    server
        .add_events(
            "eu-west-1",
            (0..3).map(|i| record(&format!("euw1-{i}"), T0 + i, "sts.amazonaws.com", "AssumeRole")),
        )
        .expect("seed");
    let (us, _) = all_events(&cloudtrail(&server, "us-east-1", no_retries()), 50, None, None).await;
    let (eu, _) = all_events(&cloudtrail(&server, "eu-west-1", no_retries()), 50, None, None).await;
    let (ap, _) = all_events(&cloudtrail(&server, "ap-south-1", no_retries()), 50, None, None).await;
    assert_eq!(ids(&us), ["use1-1", "use1-0"]);
    assert_eq!(ids(&eu), ["euw1-2", "euw1-1", "euw1-0"]);
    assert!(ap.is_empty());
    // A region the account has not opted in to answers like AWS does.
    let err = cloudtrail(&server, "me-south-1", no_retries()).lookup_events().send().await.expect_err("not opted in");
    assert_eq!(err.into_service_error().code(), Some("UnrecognizedClientException"));
    let stats = server.stats();
    for r in ["us-east-1", "eu-west-1", "ap-south-1", "me-south-1"] {
        assert_eq!(stats.requests_by_region.get(r), Some(&1), "{r}");
    }
}

#[tokio::test]
async fn throttles_above_two_per_second_and_sdk_retries_through() {
    init_env();
    let server = LookupServer::start(ServerConfig::default()).await.expect("server");
    server.add_event("us-east-1", record("x", T0, "iam.amazonaws.com", "CreateUser")).expect("seed");

    // Six immediate requests without retries: the bucket holds 2, refilled at 2/s.
    let client = cloudtrail(&server, "us-east-1", no_retries());
    let (mut ok, mut throttled) = (0, 0);
    for _ in 0..6 {
        match client.lookup_events().send().await {
            Ok(_) => ok += 1,
            Err(e) => {
                let e = e.into_service_error();
                assert_eq!(e.code(), Some("ThrottlingException"), "{e:?}");
                assert_eq!(e.message(), Some("Rate exceeded"));
                throttled += 1;
            }
        }
    }
    assert!(ok >= 2 && throttled >= 1, "ok {ok}, throttled {throttled}");
    assert_eq!(server.stats().throttled_by_region.get("us-east-1"), Some(&throttled));

    // Six concurrent requests with the SDK's standard retries (more attempts than the default 3,
    // which is not always enough at 2/s): all succeed, some after ThrottlingException.
    tokio::time::sleep(Duration::from_millis(1100)).await; // refill the bucket
    server.reset_stats();
    let client = cloudtrail(&server, "us-east-1", RetryConfig::standard().with_max_attempts(10));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..6 {
        let c = client.clone();
        tasks.spawn(async move { c.lookup_events().send().await.map(|o| o.events().len()) });
    }
    while let Some(r) = tasks.join_next().await {
        assert_eq!(r.expect("task").expect("retried to success"), 1);
    }
    let stats = server.stats();
    assert_eq!(stats.pages_served, 6);
    let throttled = stats.throttled_by_region.get("us-east-1").copied().unwrap_or(0);
    assert!(throttled >= 1, "{stats:?}");
    assert_eq!(stats.requests_by_region.get("us-east-1"), Some(&(6 + throttled)));
    // 4 requests over the burst need at least 1.5 s of refill at 2/s.
    assert!(started.elapsed() >= Duration::from_millis(1400), "{:?}", started.elapsed());
}

#[tokio::test]
async fn injected_server_errors_are_retried_by_the_sdk() {
    let server = unlimited_server().await;
    server.add_event("us-east-1", record("x", T0, "iam.amazonaws.com", "CreateUser")).expect("seed");
    server.fail_next(Some("us-east-1"), 1, Fault::ServerError(500));
    let client = cloudtrail(&server, "us-east-1", RetryConfig::standard());
    let out = client.lookup_events().send().await.expect("retried after the 500");
    assert_eq!(out.events().len(), 1);
    let stats = server.stats();
    assert_eq!((stats.errors_injected, stats.pages_served), (1, 1));
    assert_eq!(stats.requests_by_region.get("us-east-1"), Some(&2));

    // Without retries the 503 (any region) surfaces; then the queue is empty again.
    server.fail_next(None, 1, Fault::ServerError(503));
    let client = cloudtrail(&server, "eu-west-1", no_retries());
    let err = client.lookup_events().send().await.expect_err("503");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    assert_eq!(err.into_service_error().code(), Some("ServiceUnavailable"));
    client.lookup_events().send().await.expect("queue drained");
    // An injected throttle.
    server.fail_next(Some("eu-west-1"), 1, Fault::Throttle);
    let err = client.lookup_events().send().await.expect_err("throttle");
    assert_eq!(err.into_service_error().code(), Some("ThrottlingException"));
}

#[tokio::test]
async fn throttle_storm_blocks_a_region_for_a_while() {
    let server = unlimited_server().await;
    server.throttle_storm(Some("us-west-2"), Duration::from_millis(1500));
    let west = cloudtrail(&server, "us-west-2", no_retries());
    for _ in 0..3 {
        let err = west.lookup_events().send().await.expect_err("storm");
        assert_eq!(err.into_service_error().code(), Some("ThrottlingException"));
    }
    cloudtrail(&server, "us-east-1", no_retries()).lookup_events().send().await.expect("other region is fine");
    tokio::time::sleep(Duration::from_millis(1600)).await;
    west.lookup_events().send().await.expect("storm over");
    assert_eq!(server.stats().throttled_by_region.get("us-west-2"), Some(&3));

    // The SDK's standard retries ride out a short storm.
    server.throttle_storm(None, Duration::from_millis(700));
    let patient = cloudtrail(&server, "us-west-2", RetryConfig::standard().with_max_attempts(8));
    patient.lookup_events().send().await.expect("retries outlast the storm");
}

#[tokio::test]
async fn next_token_stays_stable_when_a_late_event_arrives() {
    let server = unlimited_server().await;
    for i in 0..6 {
        server
            .add_event("us-east-1", record(&format!("e{i}"), T0 + i * 100, "iam.amazonaws.com", "CreateUser"))
            .expect("seed");
    }
    let client = cloudtrail(&server, "us-east-1", no_retries());
    let p1 = client.lookup_events().max_results(2).send().await.expect("page 1");
    assert_eq!(ids(p1.events()), ["e5", "e4"]);
    let token = p1.next_token().expect("more pages").to_owned();

    // Late arrivals: one older than everything seen so far, one tied in time with e2.
    server.add_event("us-east-1", record("late", T0 + 150, "iam.amazonaws.com", "CreateUser")).expect("late");
    server.add_event("us-east-1", record("e2-twin", T0 + 200, "iam.amazonaws.com", "CreateUser")).expect("late");

    let mut seen = ids(p1.events());
    let mut next = Some(token.clone());
    while let Some(t) = next {
        let p = client.lookup_events().max_results(2).next_token(t).send().await.expect("page");
        seen.extend(ids(p.events()));
        next = p.next_token().map(str::to_owned);
    }
    assert_eq!(seen, ["e5", "e4", "e3", "e2", "e1", "e0"], "the running pagination is a snapshot");

    // A fresh query sees the late events in their place (ties: EventId descending).
    let (fresh, _) = all_events(&client, 3, None, None).await;
    assert_eq!(ids(&fresh), ["e5", "e4", "e3", "e2-twin", "e2", "late", "e1", "e0"]);

    // The token belongs to its query.
    let err = client
        .lookup_events()
        .max_results(2)
        .lookup_attributes(attr(LookupAttributeKey::EventName, "CreateUser"))
        .next_token(token)
        .send()
        .await
        .expect_err("token from another query");
    assert!(err.into_service_error().is_invalid_next_token_exception());
    let err = client.lookup_events().next_token("garbage!").send().await.expect_err("bad token");
    assert!(err.into_service_error().is_invalid_next_token_exception());
}

#[tokio::test]
async fn describe_regions_with_and_without_all_regions() {
    let server = unlimited_server().await;
    // Through aws-config's loader this time, everything explicit so no env, profile or IMDS is used.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("eu-central-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .endpoint_url(server.endpoint())
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let ec2 = aws_sdk_ec2::Client::new(&sdk);

    let enabled = ec2.describe_regions().send().await.expect("DescribeRegions");
    let names: Vec<&str> = enabled.regions().iter().filter_map(|r| r.region_name()).collect();
    assert_eq!(names.len(), 17, "{names:?}");
    assert!(names.contains(&"ap-east-1") && !names.contains(&"me-south-1") && !names.contains(&"af-south-1"));
    let use1 = enabled.regions().iter().find(|r| r.region_name() == Some("us-east-1")).expect("us-east-1");
    assert_eq!(use1.endpoint(), Some("ec2.us-east-1.amazonaws.com"));
    assert_eq!(use1.opt_in_status(), Some("opt-in-not-required"));

    let all = ec2.describe_regions().all_regions(true).send().await.expect("AllRegions");
    assert_eq!(all.regions().len(), 19);
    let me = all.regions().iter().find(|r| r.region_name() == Some("me-south-1")).expect("me-south-1");
    assert_eq!(me.opt_in_status(), Some("not-opted-in"));

    let filtered = ec2
        .describe_regions()
        .all_regions(true)
        .filters(aws_sdk_ec2::types::Filter::builder().name("opt-in-status").values("not-opted-in").build())
        .send()
        .await
        .expect("filter");
    assert_eq!(filtered.regions().len(), 2);
    let named = ec2.describe_regions().region_names("af-south-1").send().await.expect("names");
    assert_eq!(named.regions().len(), 1);
    assert_eq!(server.stats().describe_regions_requests, 4);

    // CloudTrail through the same SdkConfig.
    let ct = aws_sdk_cloudtrail::Client::new(&sdk);
    ct.lookup_events().send().await.expect("LookupEvents via SdkConfig");
    assert_eq!(server.stats().requests_by_region.get("eu-central-1"), Some(&1));
}

/// One raw HTTP/1.1 request (for the control API), returning status and body.
fn http(addr: &str, method: &str, path: &str, body: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut out = String::new();
    s.read_to_string(&mut out).expect("read");
    let status = out.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, out.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default())
}

#[tokio::test]
async fn binary_generates_serves_and_stops_on_stdin_eof() {
    init_env();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lookup-server"))
        .args(["--generate", "3000", "--regions", "3", "--days", "2", "--end", "2026-03-01T00:00:00Z", "--rate", "0"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn lookup-server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("endpoint line");
    let endpoint = line.trim().strip_prefix("endpoint=").expect("endpoint=…").to_owned();
    let addr = endpoint.trim_start_matches("http://").to_owned();

    let conf = |region: &str| {
        aws_sdk_cloudtrail::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(region.to_owned()))
            .credentials_provider(Credentials::new("test", "test", None, None, "static"))
            .endpoint_url(endpoint.clone())
            .retry_config(RetryConfig::disabled())
            .build()
    };
    let use1 = aws_sdk_cloudtrail::Client::from_conf(conf("us-east-1"));
    let mut stream = use1
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventSource, "iam.amazonaws.com"))
        .into_paginator()
        .items()
        .send();
    let mut iam = 0;
    let mut last_time = i64::MAX;
    while let Some(e) = stream.next().await {
        let e = e.expect("event");
        let t = e.event_time().expect("time").secs();
        assert!(t <= last_time, "newest first");
        last_time = t;
        iam += 1;
    }
    assert!(iam > 100, "iam events in us-east-1: {iam}");
    let eu = aws_sdk_cloudtrail::Client::from_conf(conf("us-east-2"));
    let sts = eu
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventSource, "sts.amazonaws.com"))
        .send()
        .await
        .expect("us-east-2");
    assert_eq!(sts.events().len(), 50);
    let iam_eu = eu
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventSource, "iam.amazonaws.com"))
        .send()
        .await
        .expect("us-east-2");
    assert!(iam_eu.events().is_empty(), "IAM events only in us-east-1");

    // Control API: a late event and an injected 503.
    let late = record("late-one", 1_772_200_000, "iam.amazonaws.com", "CreateUser");
    let (status, body) = http(&addr, "POST", "/_lookup-server/events", &late.to_string());
    assert_eq!((status, body.as_str()), (200, r#"{"added":1}"#));
    let got = use1
        .lookup_events()
        .lookup_attributes(attr(LookupAttributeKey::EventId, "late-one"))
        .send()
        .await
        .expect("late event");
    assert_eq!(got.events().len(), 1);
    assert_eq!(http(&addr, "POST", "/_lookup-server/fail?region=us-east-1&n=1&status=503", "").0, 200);
    let err = use1.lookup_events().send().await.expect_err("injected 503");
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(503));
    let (status, stats) = http(&addr, "GET", "/_lookup-server/stats", "");
    assert_eq!(status, 200);
    let stats: Value = serde_json::from_str(&stats).expect("stats json");
    assert_eq!(stats["errors_injected"], 1);

    // Closing stdin stops it.
    drop(child.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{status:?}");
            break;
        }
        assert!(Instant::now() < deadline, "lookup-server did not stop on stdin EOF");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[test]
fn threaded_server_for_sync_callers() {
    init_env();
    let server = LookupServer::start_in_thread(ServerConfig::default()).expect("server");
    let addr = server.addr().to_string();
    let (status, body) = http(&addr, "GET", "/health", "");
    assert_eq!((status, body.as_str()), (200, "ok\n"));
    // Malformed requests get a 400, never a crash.
    let (status, body) = {
        let mut s = std::net::TcpStream::connect(&addr).expect("connect");
        let payload = "{\"MaxResults\": \"many\"}";
        write!(
            s,
            "POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101.LookupEvents\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
            payload.len()
        )
        .expect("write");
        let mut out = String::new();
        s.read_to_string(&mut out).expect("read");
        (out.split(' ').nth(1).unwrap_or("").to_owned(), out)
    };
    assert_eq!(status, "400");
    assert!(body.contains("SerializationException"), "{body}");
    drop(server);
    assert!(std::net::TcpStream::connect(&addr).is_err(), "stopped on drop");
}

#[tokio::test]
async fn trail_file_records_are_served_byte_for_byte() {
    let server = unlimited_server().await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../samples/AWSLogs/111122223333/CloudTrail/us-east-1/2026/03/01")
        .join("111122223333_CloudTrail_us-east-1_20260301T0930Z_iamtracker.json.gz");
    let records = iam_tracker_lookup_server::seed::load_file(&path).expect("sample trail");
    assert_eq!(records.len(), 38);
    let use1: Vec<_> = records.iter().filter(|r| r.region == "us-east-1").map(|r| r.raw.clone()).collect();
    assert_eq!(server.add_seed_records(records).expect("seed"), 38);
    let (events, _) = all_events(&cloudtrail(&server, "us-east-1", no_retries()), 50, None, None).await;
    let mut served: Vec<String> = events.iter().map(|e| e.cloud_trail_event().expect("record").to_owned()).collect();
    let mut expected = use1;
    served.sort();
    expected.sort();
    assert_eq!(served, expected);
    // Root's Username is "root"; times are whole seconds.
    let root = events
        .iter()
        .find(|e| e.event_name() == Some("ConsoleLogin") && e.username() == Some("root"))
        .expect("root login");
    assert_eq!(root.event_source(), Some("signin.amazonaws.com"));
}
