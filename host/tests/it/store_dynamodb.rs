//! What only the DynamoDB store has: its item layout against the test server (absent
//! attributes, the compressed raw record, oversized items, the original's items and keys,
//! call counts, `init`), and the faults no local server produces, with `aws-smithy-mocks`
//! (UnprocessedItems, throttling, a deadline that passes). The shared behaviour is in
//! `store_contract.rs`.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemOutput;
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemError, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemOutput;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use aws_smithy_mocks::{mock, MockResponse, MockResponseInterceptor, RuleMode};
use iam_tracker::aws::dynamodb::{DynamoOptions, DynamoStore, TableNames};
use iam_tracker::store::{Batch, EventQuery, Progress, Store, StoreError, TaskKey};

use crate::store_contract::{alert, batch, event, three_events};
use crate::support::dynamodb as server;

/// 2024-05-01T12:00:00Z
const NOW: i64 = 1_714_564_800;

fn task() -> TaskKey {
    TaskKey { region: "us-east-1".into(), source: "iam.amazonaws.com".into() }
}

fn get_item(client: &Client, table: &str, key: &[(&str, &str)]) -> std::collections::HashMap<String, AttributeValue> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let mut req = client.get_item().table_name(table).consistent_read(true);
    for (k, v) in key {
        req = req.key(*k, AttributeValue::S(v.to_string()));
    }
    rt.block_on(req.send()).expect("GetItem").item.expect("the item exists")
}

#[test]
fn event_items_have_the_issue_layout_with_absent_attributes_and_a_compressed_raw() {
    let mut store = server::store();
    let mut e = event("e1", "2024-05-01T08:00:00Z", Some("alice"), "CreateUser");
    e.raw = r#"{"eventID":"e1","requestParameters":{"userName":"bob"},"responseElements":null}"#.into();
    store.commit(&batch(vec![e.clone()], vec![], Progress::None, NOW)).expect("commit");
    let item = get_item(&server::client(), &store.tables().events, &[("event_date", "2024-05-01"), ("event_id", "e1")]);
    assert_eq!(item.get("request_parameters"), Some(&AttributeValue::S(r#"{"userName":"bob"}"#.into())));
    for absent in ["response_elements", "user_agent", "error_code", "error_message", "ttl", "truncated"] {
        assert!(!item.contains_key(absent), "{absent} must be absent: {item:?}");
    }
    assert!(!item.values().any(|v| matches!(v, AttributeValue::Null(_))), "no NULL attributes");
    for present in [
        "event_time",
        "event_name",
        "event_source",
        "event_type",
        "user_name",
        "aws_region",
        "source_ip",
        "identity_type",
        "principal_arn",
        "recipient_account_id",
        "raw_gz",
    ] {
        assert!(item.contains_key(present), "{present} missing: {item:?}");
    }
    assert!(matches!(item.get("raw_gz"), Some(AttributeValue::B(_))));
    assert_eq!(store.events(&EventQuery::default()).expect("read"), vec![e]);
}

#[test]
fn event_retention_sets_ttl_from_the_event_time() {
    let mut store = server::store_with(DynamoOptions { event_retention: Some(90 * 86_400), ..Default::default() });
    store
        .commit(&batch(vec![event("e1", "2024-05-01T08:00:00Z", None, "GetUser")], vec![], Progress::None, NOW))
        .expect("c");
    let item = get_item(&server::client(), &store.tables().events, &[("event_date", "2024-05-01"), ("event_id", "e1")]);
    assert_eq!(item.get("ttl"), Some(&AttributeValue::N((1_714_550_400 + 90 * 86_400).to_string())));
}

#[test]
fn an_item_over_400_kb_is_stored_truncated_with_its_raw_record() {
    let mut store = server::store();
    let mut rng = fastrand::Rng::with_seed(3);
    let hex: String = (0..700_000).map(|_| char::from_digit(rng.u32(0..16), 16).expect("digit")).collect();
    let mut e = event("big", "2024-05-01T08:00:00Z", Some("alice"), "PutRolePolicy");
    e.raw = format!(r#"{{"eventID":"big","requestParameters":{{"policyDocument":"{hex}"}}}}"#);
    let r = store.commit(&batch(vec![e.clone()], vec![], Progress::None, NOW)).expect("the server accepts it");
    assert_eq!(r.stored, 1);
    assert_eq!(store.counters().truncated_items, 1);
    let item =
        get_item(&server::client(), &store.tables().events, &[("event_date", "2024-05-01"), ("event_id", "big")]);
    assert_eq!(item.get("truncated"), Some(&AttributeValue::Ss(vec!["request_parameters".into()])));
    let back = store.events(&EventQuery::default()).expect("read");
    assert_eq!(back, vec![e], "the raw record is whole");
}

#[test]
fn batches_use_the_fewest_calls() {
    let mut store = server::store();
    let events: Vec<_> =
        (0..260).map(|i| event(&format!("c{i:03}"), "2024-05-01T10:00:00Z", None, "GetUser")).collect();
    store.commit(&batch(events.clone(), vec![], Progress::None, NOW)).expect("commit");
    let c = store.counters();
    assert_eq!((c.batch_write_calls, c.batch_get_calls, c.retries), (11, 3, 0), "ceil(260/25), ceil(260/100)");
    store.commit(&batch(events, vec![], Progress::None, NOW)).expect("again");
    assert_eq!(store.counters().batch_write_calls, 11, "nothing new, nothing written");
}

#[test]
fn a_failing_progress_step_leaves_the_events_and_a_recommit_is_harmless() {
    let mut good = server::store();
    // Same events and alerts tables, a control table that does not exist: the progress part fails.
    let broken_tables = TableNames { control: format!("{}-missing", good.tables().control), ..good.tables().clone() };
    let mut broken = DynamoStore::from_conf(server::client_conf(), broken_tables, DynamoOptions::default()).expect("s");
    let b = Batch {
        task: Some(task()),
        ..batch(three_events(), vec![alert("k", NOW, 60)], Progress::Checkpoint { task: task(), to: NOW }, NOW)
    };
    let err = broken.commit(&b).expect_err("control table missing").to_string();
    assert!(err.contains("-missing") && err.contains("ResourceNotFound"), "{err}");
    assert_eq!(
        good.events(&EventQuery {
            from_date: Some("2024-04-30".into()),
            to_date: Some("2024-05-01".into()),
            ..Default::default()
        })
        .expect("read")
        .len(),
        3,
        "events were stored first"
    );
    assert_eq!(good.checkpoint(&task()).expect("read"), None, "no progress");
    let r = good.commit(&b).expect("re-commit");
    assert_eq!((r.stored, r.already_stored, r.alerts_pending, r.checkpoint_moved), (0, 3, 1, true));
}

#[test]
fn the_originals_checkpoints_are_read_and_moved_forward_in_its_format() {
    let mut store = server::store();
    let client = server::client();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let s = |v: &str| AttributeValue::S(v.into());
    for (key, ts) in
        [("iam-events", "2024-05-01T11:00:00.500000+00:00"), ("sts-eu-west-1", "2024-05-01T13:00:00+00:00")]
    {
        rt.block_on(
            client
                .put_item()
                .table_name(&store.tables().control)
                .item("region", s(key))
                .item("last_processed_timestamp", s(ts))
                .item("last_execution_time", s("2024-05-01T11:05:00+00:00"))
                .item("events_processed_count", AttributeValue::N("40".into()))
                .item("processing_status", s("active"))
                .item("last_error", s(""))
                .send(),
        )
        .expect("legacy item");
    }
    let cps = store.checkpoints().expect("all");
    let sts = TaskKey { region: "eu-west-1".into(), source: "sts.amazonaws.com".into() };
    assert_eq!(cps.iter().map(|(k, _)| k.clone()).collect::<Vec<_>>(), vec![sts.clone(), task()]);
    let cp = store.checkpoint(&task()).expect("read").expect("legacy");
    assert_eq!(
        (cp.last_processed, cp.events_processed, cp.status.as_str(), cp.last_error),
        (NOW - 3600, 40, "active", None)
    );
    // Forward from the original's value (with microseconds), counting with ADD.
    let b = Batch {
        task: Some(task()),
        ..batch(three_events(), vec![], Progress::Checkpoint { task: task(), to: NOW - 3600 }, NOW)
    };
    assert!(!store.commit(&b).expect("same second").checkpoint_moved, "11:00:00 is not after 11:00:00.5");
    let r = store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: task(), to: NOW }, NOW)).expect("forward");
    assert!(r.checkpoint_moved);
    let item = get_item(&client, &store.tables().control, &[("region", "iam-events")]);
    assert_eq!(
        item.get("last_processed_timestamp"),
        Some(&s("2024-05-01T12:00:00+00:00")),
        "ISO, as the original wrote"
    );
    assert_eq!(item.get("events_processed_count"), Some(&AttributeValue::N("43".into())));
    store.record_run(&task(), NOW + 9, "error", Some("AccessDenied")).expect("record");
    let item = get_item(&client, &store.tables().control, &[("region", "iam-events")]);
    assert_eq!(item.get("last_error"), Some(&s("AccessDenied")), "last_error is actually written");
    assert_eq!(item.get("processing_status"), Some(&s("error")));
}

#[test]
fn init_is_idempotent_and_enables_ttl() {
    let store = server::store();
    let again = store.create_tables().expect("second init");
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|t| !t.created && t.missing_indexes.is_empty()), "{again:?}");
    let ttl: Vec<bool> = again.iter().map(|t| t.ttl_enabled).collect();
    assert_eq!(ttl, [true, false, true], "events and alerts expire by `ttl`");
    let fresh = DynamoStore::from_conf(
        server::client_conf(),
        TableNames::for_stack(&crate::support::moto::unique_name("init")),
        DynamoOptions::default(),
    )
    .expect("store");
    assert!(fresh.check_tables().expect_err("no tables yet").to_string().contains("iam-tracker init"));
    let made = fresh.create_tables().expect("init");
    assert!(made.iter().all(|t| t.created));
    fresh.check_tables().expect("tables exist now");
}

// ---- faults no server produces (aws-smithy-mocks) ----

/// A store whose client answers from these rules (any order) and never touches the network.
fn mocked(rules: &[&aws_smithy_mocks::Rule], opts: DynamoOptions) -> DynamoStore {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for r in rules {
        interceptor = interceptor.with_rule(r);
    }
    let conf = aws_sdk_dynamodb::config::Builder::new()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new("AKIDTEST", "secret", None, None, "static"))
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor);
    DynamoStore::from_conf(conf, TableNames::for_stack("mock"), opts).expect("mocked store")
}

fn fast() -> DynamoOptions {
    DynamoOptions {
        backoff_base: Duration::from_millis(2),
        backoff_cap: Duration::from_millis(20),
        ..Default::default()
    }
}

fn nothing_stored_yet() -> aws_smithy_mocks::Rule {
    mock!(Client::batch_get_item).then_output(|| BatchGetItemOutput::builder().build())
}

fn updates() -> aws_smithy_mocks::Rule {
    mock!(Client::update_item).then_output(|| UpdateItemOutput::builder().build())
}

fn puts() -> aws_smithy_mocks::Rule {
    mock!(Client::put_item).then_output(|| PutItemOutput::builder().build())
}

/// The last `n` write requests of a BatchWriteItem input, as its unprocessed items.
fn unprocessed(
    input: &aws_sdk_dynamodb::operation::batch_write_item::BatchWriteItemInput,
    n: usize,
) -> BatchWriteItemOutput {
    let (table, reqs) = input.request_items().and_then(|m| m.iter().next()).expect("one table");
    let left = reqs[reqs.len().saturating_sub(n)..].to_vec();
    BatchWriteItemOutput::builder().unprocessed_items(table.clone(), left).build()
}

fn ten_events() -> Vec<iam_tracker::store::StoredEvent> {
    (0..10).map(|i| event(&format!("u{i}"), "2024-05-01T10:00:00Z", None, "GetUser")).collect()
}

#[test]
fn unprocessed_items_twice_then_success_writes_everything() {
    let calls = Arc::new(AtomicUsize::new(0));
    let sizes = Arc::new(Mutex::new(Vec::new()));
    let (c, sz) = (calls.clone(), sizes.clone());
    let write = mock!(Client::batch_write_item).then_compute_response(move |input| {
        let n = input.request_items().and_then(|m| m.values().next()).map_or(0, Vec::len);
        sz.lock().expect("sizes").push(n);
        match c.fetch_add(1, Ordering::SeqCst) {
            0 => MockResponse::Output(unprocessed(input, 4)),
            1 => MockResponse::Output(unprocessed(input, 1)),
            _ => MockResponse::Output(BatchWriteItemOutput::builder().build()),
        }
    });
    let (get, upd, put) = (nothing_stored_yet(), updates(), puts());
    let mut store = mocked(&[&write, &get, &upd, &put], fast());
    let b = Batch {
        task: Some(task()),
        ..batch(ten_events(), vec![alert("k", NOW, 60)], Progress::Checkpoint { task: task(), to: NOW }, NOW)
    };
    let r = store.commit(&b).expect("commit");
    assert_eq!((r.stored, r.alerts_pending, r.checkpoint_moved), (10, 1, true));
    assert_eq!(*sizes.lock().expect("sizes"), vec![10, 4, 1], "each retry sends exactly what was unprocessed");
    let c = store.counters();
    assert_eq!((c.batch_write_calls, c.unprocessed_items, c.retries), (3, 5, 2));
    assert_eq!(upd.num_calls(), 3, "dates registry, counters, checkpoint");
}

#[test]
fn throttling_is_retried() {
    let throttled =
        r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#;
    let write = mock!(Client::batch_write_item)
        .sequence()
        .http_status(400, Some(throttled.to_string()))
        .times(2)
        .output(|| BatchWriteItemOutput::builder().build())
        .build();
    let (get, upd, put) = (nothing_stored_yet(), updates(), puts());
    let mut store = mocked(&[&write, &get, &upd, &put], fast());
    let r = store
        .commit(&batch(ten_events(), vec![], Progress::Checkpoint { task: task(), to: NOW }, NOW))
        .expect("commit");
    assert_eq!((r.stored, r.checkpoint_moved), (10, true));
    let c = store.counters();
    assert_eq!((c.batch_write_calls, c.throttled, c.retries), (3, 2, 2));
}

#[test]
fn a_validation_error_is_not_retried_and_names_the_table() {
    let write = mock!(Client::batch_write_item).then_error(|| {
        BatchWriteItemError::generic(
            aws_sdk_dynamodb::error::ErrorMetadata::builder().code("ValidationException").message("bad item").build(),
        )
    });
    let (get, upd) = (nothing_stored_yet(), updates());
    let mut store = mocked(&[&write, &get, &upd], fast());
    let err = store
        .commit(&batch(ten_events(), vec![], Progress::Checkpoint { task: task(), to: NOW }, NOW))
        .expect_err("fails");
    let text = err.to_string();
    assert!(text.contains("mock-events") && text.contains("ValidationException"), "{text}");
    assert_eq!((store.counters().batch_write_calls, upd.num_calls()), (1, 0), "no retry, no progress");
}

#[test]
fn a_deadline_with_unprocessed_items_fails_the_commit_and_writes_no_progress() {
    let write =
        mock!(Client::batch_write_item).then_compute_response(|input| MockResponse::Output(unprocessed(input, 3)));
    let (get, upd, put) = (nothing_stored_yet(), updates(), puts());
    let opts = DynamoOptions { commit_deadline: Duration::from_millis(300), ..fast() };
    let mut store = mocked(&[&write, &get, &upd, &put], opts);
    let started = Instant::now();
    let b = Batch {
        task: Some(task()),
        ..batch(ten_events(), vec![alert("k", NOW, 60)], Progress::Checkpoint { task: task(), to: NOW }, NOW)
    };
    let err = store.commit(&b).expect_err("deadline");
    assert!(matches!(err, StoreError::Deadline { pending: 3 }), "{err:?}");
    assert!(started.elapsed() < Duration::from_secs(5), "gave up at the deadline");
    assert!(store.counters().batch_write_calls > 2, "it kept retrying until then");
    assert_eq!((upd.num_calls(), put.num_calls()), (0, 0), "no alert, no counters, no checkpoint");
}
