//! One contract for every store: the same test functions run against the embedded store
//! ([`LocalStore`], in a temporary directory) and the DynamoDB store ([`DynamoStore`], over
//! new tables on the test server of `support/dynamodb.rs`). [`contract!`] generates a
//! `local::NAME` and a `dynamodb::NAME` test for each function.
//!
//! What only one store can show stays with it: SQLite's rollback of a failing transaction,
//! its query plans and TTL deletion at commit in `store/local.rs`; unprocessed items,
//! throttling, truncation and the original's item formats in `store_dynamodb.rs`.

use std::collections::HashSet;

use iam_tracker::store::local::LocalStore;
use iam_tracker::store::{
    AlertRecord, Batch, Checkpoint, CommitReport, EventQuery, EventType, Progress, Store, StoredEvent, TaskKey,
};
use iam_tracker::Severity;

/// 2024-05-01T12:00:00Z
const NOW: i64 = 1_714_564_800;

/// A store under test and what keeps it alive (the local store's directory).
pub struct Subject {
    pub store: Box<dyn Store + Send>,
    _keep: Option<tempfile::TempDir>,
}

/// A second handle on the same data (another process, in effect).
pub type Reopen = Box<dyn Fn() -> Box<dyn Store + Send>>;

fn local() -> (Subject, Reopen) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let store: Box<dyn Store + Send> = Box::new(LocalStore::open(&dir).expect("open"));
    let reopen: Reopen =
        Box::new(move || -> Box<dyn Store + Send> { Box::new(LocalStore::open(&dir).expect("reopen")) });
    (Subject { store, _keep: Some(tmp) }, reopen)
}

#[cfg(feature = "aws")]
fn dynamo() -> (Subject, Reopen) {
    let store = crate::support::dynamodb::store();
    let tables = store.tables().clone();
    let reopen: Reopen = Box::new(move || -> Box<dyn Store + Send> {
        Box::new(
            iam_tracker::aws::dynamodb::DynamoStore::from_conf(
                crate::support::dynamodb::client_conf(),
                tables.clone(),
                Default::default(),
            )
            .expect("second handle"),
        )
    });
    (Subject { store: Box::new(store), _keep: None }, reopen)
}

/// A test per store for each contract function `fn NAME(store: &mut dyn Store, reopen: &Reopen)`.
macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod local {
            $(
                #[test]
                fn $name() {
                    let (mut s, reopen) = super::local();
                    super::$name(&mut *s.store, &reopen);
                }
            )*
        }
        #[cfg(feature = "aws")]
        mod dynamodb {
            $(
                #[test]
                fn $name() {
                    let (mut s, reopen) = super::dynamo();
                    super::$name(&mut *s.store, &reopen);
                }
            )*
        }
    };
}

contract!(
    recommitting_a_batch_stores_nothing_twice,
    duplicates_inside_one_batch_count_once,
    checkpoint_only_moves_forward_and_counts_stored_events,
    record_run_keeps_the_checkpoint_and_a_new_task_reads_as_never,
    file_done_is_recorded_with_its_task_count,
    dedup_live_pending_and_expired_keys,
    dedup_is_per_key_so_two_detectors_on_one_event_both_alert,
    alerts_since_filters_and_orders_by_creation,
    queries_by_date_user_event_name_since_and_limit,
    a_date_partition_reads_in_id_pages_and_counts,
    a_batch_committed_again_after_a_crash_before_progress_is_harmless,
    two_handles_see_each_others_commits,
    many_events_in_one_batch_are_all_stored_once,
);

fn task(region: &str) -> TaskKey {
    TaskKey { region: region.into(), source: "iam.amazonaws.com".into() }
}

pub fn event(id: &str, time: &str, user: Option<&str>, name: &str) -> StoredEvent {
    StoredEvent {
        event_date: time.get(..10).filter(|d| d.as_bytes().get(4) == Some(&b'-')).unwrap_or("1970-01-01").into(),
        event_id: id.into(),
        event_time: time.into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: name.into(),
        event_type: EventType::Iam,
        user_name: user.map(Into::into),
        identity_type: Some("IAMUser".into()),
        principal_arn: Some(format!("arn:aws:iam::111122223333:user/{}", user.unwrap_or("x"))),
        aws_region: Some("us-east-1".into()),
        source_ip: Some("203.0.113.9".into()),
        user_agent: None,
        error_code: None,
        error_message: None,
        recipient_account_id: Some("111122223333".into()),
        raw: format!(r#"{{"eventID":"{id}","eventName":"{name}","requestParameters":{{"userName":"u-{id}"}}}}"#),
    }
}

pub fn alert(key: &str, created_at: i64, window: i64) -> AlertRecord {
    AlertRecord {
        dedup_key: key.into(),
        detector: "user-creation".into(),
        severity: Severity::High,
        title: "IAM User Created".into(),
        event_id: Some("e1".into()),
        event_time: Some("2024-05-01T12:00:00Z".into()),
        payload: format!(r#"{{"dedup_key":"{key}","created":{created_at}}}"#),
        created_at,
        sent_at: None,
        dedup_until: created_at + window,
        expires_at: created_at + 30 * 86_400,
    }
}

pub fn batch(events: Vec<StoredEvent>, alerts: Vec<AlertRecord>, progress: Progress, now: i64) -> Batch {
    Batch { events, alerts, progress, task: None, now }
}

pub fn three_events() -> Vec<StoredEvent> {
    vec![
        event("e1", "2024-04-30T23:59:59Z", Some("alice"), "CreateUser"),
        event("e2", "2024-05-01T08:00:00Z", Some("bob"), "CreateAccessKey"),
        event("e3", "2024-05-01T09:30:00.250Z", Some("alice"), "CreateAccessKey"),
    ]
}

fn all(store: &dyn Store) -> Vec<StoredEvent> {
    store.events(&EventQuery::default()).expect("events")
}

fn recommitting_a_batch_stores_nothing_twice(store: &mut dyn Store, _: &Reopen) {
    let b = batch(
        three_events(),
        vec![alert("d:e1", NOW, 3600)],
        Progress::Checkpoint { task: task("us-east-1"), to: NOW },
        NOW,
    );
    let first = store.commit(&b).expect("first commit");
    assert_eq!(
        first,
        CommitReport { stored: 3, already_stored: 0, alerts_pending: 1, alerts_duplicate: 0, checkpoint_moved: true }
    );
    let again = store.commit(&b).expect("second commit");
    assert_eq!(
        again,
        CommitReport { stored: 0, already_stored: 3, alerts_pending: 0, alerts_duplicate: 1, checkpoint_moved: false }
    );
    assert_eq!(all(store), three_events(), "stored exactly once, every attribute round-trips");
    assert_eq!(store.pending_alerts().expect("pending").len(), 1);
    let cp = store.checkpoint(&task("us-east-1")).expect("checkpoint").expect("exists");
    assert_eq!(cp.events_processed, 3, "re-reads do not inflate the count");
    assert_eq!((cp.last_processed, cp.last_execution), (NOW, NOW));
}

fn duplicates_inside_one_batch_count_once(store: &mut dyn Store, _: &Reopen) {
    let mut evs = three_events();
    evs.push(evs[0].clone());
    let r = store.commit(&batch(evs, vec![], Progress::None, NOW)).expect("commit");
    assert_eq!((r.stored, r.already_stored), (3, 1));
    assert_eq!(all(store).len(), 3);
}

fn checkpoint_only_moves_forward_and_counts_stored_events(store: &mut dyn Store, _: &Reopen) {
    let t = task("eu-west-1");
    assert_eq!(store.checkpoint(&t).expect("read"), None, "no progress, no checkpoint");
    let r = store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: t.clone(), to: NOW }, NOW)).expect("c1");
    assert!(r.checkpoint_moved);
    let evs = three_events();
    let r = store
        .commit(&batch(evs[..2].to_vec(), vec![], Progress::Checkpoint { task: t.clone(), to: NOW - 600 }, NOW + 60))
        .expect("older slice");
    assert!(!r.checkpoint_moved, "an older `to` must not move the checkpoint back");
    let r = store
        .commit(&batch(vec![], vec![], Progress::Checkpoint { task: t.clone(), to: NOW }, NOW + 60))
        .expect("same slice end");
    assert!(!r.checkpoint_moved, "an equal `to` does not move it either");
    let cp = store.checkpoint(&t).expect("read").expect("exists");
    assert_eq!(cp.last_processed, NOW);
    assert_eq!(cp.last_execution, NOW + 60);
    assert_eq!(cp.events_processed, 2, "events of a batch whose checkpoint did not move still count");
    assert_eq!(cp.status, "partial", "a commit before the run's end says partial");
    // A deadline-cut slice stores events but moves nothing; its events still count.
    let partial = Batch { task: Some(t.clone()), ..batch(evs[2..].to_vec(), vec![], Progress::None, NOW + 120) };
    let r = store.commit(&partial).expect("partial slice");
    assert_eq!((r.stored, r.checkpoint_moved), (1, false));
    let cp = store.checkpoint(&t).expect("read").expect("exists");
    assert_eq!((cp.last_processed, cp.events_processed), (NOW, 3));
    // Re-reading it stores nothing and counts nothing.
    store.commit(&partial).expect("re-read");
    assert_eq!(store.checkpoint(&t).expect("read").expect("exists").events_processed, 3);
    let r = store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: t.clone(), to: NOW + 1 }, NOW + 180));
    assert!(r.expect("forward").checkpoint_moved);
    assert_eq!(store.checkpoint(&t).expect("read").expect("exists").last_processed, NOW + 1);
}

fn record_run_keeps_the_checkpoint_and_a_new_task_reads_as_never(store: &mut dyn Store, _: &Reopen) {
    let (a, b) = (task("us-east-1"), task("ap-south-1"));
    store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: a.clone(), to: NOW }, NOW)).expect("commit");
    store.record_run(&a, NOW + 10, "error", Some("throttled")).expect("record a");
    store.record_run(&b, NOW + 20, "ok", None).expect("record b");
    let cps = store.checkpoints().expect("all");
    assert_eq!(cps.len(), 2, "{cps:?}");
    assert_eq!(cps[0].0, b, "ordered by region");
    assert_eq!(
        cps[0].1,
        Checkpoint {
            last_processed: 0,
            last_execution: NOW + 20,
            events_processed: 0,
            status: "ok".into(),
            last_error: None
        },
        "a task that never advanced reads as last_processed 0 (never)"
    );
    assert_eq!(
        cps[1].1,
        Checkpoint {
            last_processed: NOW,
            last_execution: NOW + 10,
            events_processed: 0,
            status: "error".into(),
            last_error: Some("throttled".into()),
        }
    );
    // The error is cleared when the next run ends well.
    store.record_run(&a, NOW + 15, "ok", None).expect("record a again");
    assert_eq!(store.checkpoint(&a).expect("read").expect("exists").last_error, None);
    // A later checkpoint on the never-advanced task moves it.
    let r = store.commit(&batch(vec![], vec![], Progress::Checkpoint { task: b.clone(), to: 5 }, NOW + 30));
    assert!(r.expect("commit b").checkpoint_moved);
    let cp = store.checkpoint(&b).expect("read").expect("exists");
    assert_eq!((cp.last_processed, cp.status.as_str()), (5, "ok"), "status stays what the run recorded");
}

fn file_done_is_recorded_with_its_task_count(store: &mut dyn Store, _: &Reopen) {
    let t = TaskKey { region: "trail".into(), source: "s3://bucket/AWSLogs/".into() };
    let key = "s3://bucket/AWSLogs/1/CloudTrail/us-east-1/2024/05/01/a.json.gz";
    assert!(!store.file_done(key).expect("read"));
    let r = store
        .commit(&batch(three_events(), vec![], Progress::FileDone { key: key.into(), task: t.clone() }, NOW))
        .expect("commit");
    assert_eq!((r.stored, r.checkpoint_moved), (3, false));
    assert!(store.file_done(key).expect("read"));
    assert!(!store.file_done("other").expect("read"));
    assert_eq!(store.files_done(&t).expect("read").into_iter().collect::<Vec<_>>(), vec![key.to_string()]);
    let other = TaskKey { region: "trail".into(), source: "elsewhere".into() };
    assert!(store.files_done(&other).expect("read").is_empty());
    let cp = store.checkpoint(&t).expect("read").expect("row for the task");
    assert_eq!((cp.events_processed, cp.last_processed, cp.last_execution), (3, 0, NOW));
    // Many files of one task, and the file markers are not checkpoints.
    for i in 0..30 {
        let k = format!("s3://bucket/AWSLogs/f{i:02}.json.gz");
        store.commit(&batch(vec![], vec![], Progress::FileDone { key: k, task: t.clone() }, NOW)).expect("file");
    }
    assert_eq!(store.files_done(&t).expect("read").len(), 31);
    let tasks: Vec<TaskKey> = store.checkpoints().expect("all").into_iter().map(|(k, _)| k).collect();
    assert_eq!(tasks, vec![t]);
}

fn dedup_live_pending_and_expired_keys(store: &mut dyn Store, _: &Reopen) {
    let none = || Progress::None;
    // Two alerts with one key in one batch: the second is a duplicate.
    let r = store.commit(&batch(vec![], vec![alert("k", NOW, 3600), alert("k", NOW, 3600)], none(), NOW));
    assert_eq!(r.map(|r| (r.alerts_pending, r.alerts_duplicate)).expect("commit"), (1, 1));
    // Still pending after its window: a repeat is a duplicate (never a second pending row).
    let r = store.commit(&batch(vec![], vec![alert("k", NOW + 7200, 3600)], none(), NOW + 7200)).expect("c");
    assert_eq!((r.alerts_pending, r.alerts_duplicate), (0, 1));
    store.mark_sent("k", NOW + 7300).expect("sent");
    assert!(store.pending_alerts().expect("pending").is_empty());
    // Sent, within the window (dedup_until = NOW + 3600 > now): duplicate.
    let r = store.commit(&batch(vec![], vec![alert("k", NOW + 100, 3600)], none(), NOW + 3599)).expect("c");
    assert_eq!((r.alerts_pending, r.alerts_duplicate), (0, 1));
    // Sent and the window is over: replaced by a new pending alert.
    let r = store.commit(&batch(vec![], vec![alert("k", NOW + 3600, 3600)], none(), NOW + 3600)).expect("c");
    assert_eq!((r.alerts_pending, r.alerts_duplicate), (1, 0));
    let pending = store.pending_alerts().expect("pending");
    assert_eq!(pending.len(), 1);
    assert_eq!((pending[0].created_at, pending[0].sent_at, pending[0].dedup_until), (NOW + 3600, None, NOW + 7200));
    // Marking twice keeps the first delivery time; an unknown key is an error.
    store.mark_sent("k", NOW + 3700).expect("sent");
    store.mark_sent("k", NOW + 3800).expect("sent again");
    assert_eq!(store.alerts(None).expect("alerts")[0].sent_at, Some(NOW + 3700));
    let err = store.mark_sent("nope", NOW).expect_err("unknown key").to_string();
    assert!(err.contains("mark_sent") && err.contains("`nope`"), "{err}");
}

fn dedup_is_per_key_so_two_detectors_on_one_event_both_alert(store: &mut dyn Store, _: &Reopen) {
    // The collector's dedup key is `detector:event_id`: the original keyed on (event id,
    // severity), so two detectors of one severity on one event lost an alert.
    let mut a = alert("user-creation:e1", NOW, 3600);
    let mut b = alert("access-key-creation:e1", NOW, 3600);
    a.severity = Severity::Critical;
    b.severity = Severity::Critical;
    b.detector = "access-key-creation".into();
    let r = store.commit(&batch(vec![], vec![a, b], Progress::None, NOW)).expect("commit");
    assert_eq!((r.alerts_pending, r.alerts_duplicate), (2, 0));
    let detectors: HashSet<String> = store.pending_alerts().expect("pending").into_iter().map(|a| a.detector).collect();
    assert_eq!(detectors.len(), 2);
}

fn alerts_since_filters_and_orders_by_creation(store: &mut dyn Store, _: &Reopen) {
    let alerts = vec![alert("b", NOW + 10, 60), alert("a", NOW, 60), alert("c", NOW + 20, 60), alert("a2", NOW, 60)];
    store.commit(&batch(vec![], alerts, Progress::None, NOW + 20)).expect("commit");
    let keys =
        |since| -> Vec<String> { store.alerts(since).expect("alerts").into_iter().map(|a| a.dedup_key).collect() };
    assert_eq!(keys(None), ["a", "a2", "b", "c"]);
    assert_eq!(keys(Some(NOW + 10)), ["b", "c"]);
    assert_eq!(keys(Some(NOW + 21)), Vec::<String>::new());
    let pending: Vec<String> = store.pending_alerts().expect("pending").into_iter().map(|a| a.dedup_key).collect();
    assert_eq!(pending, ["a", "a2", "b", "c"], "oldest first, then by key");
    let full = store.alerts(Some(NOW + 20)).expect("alerts");
    assert_eq!(full, vec![alert("c", NOW + 20, 60)], "every field round-trips");
}

fn queries_by_date_user_event_name_since_and_limit(store: &mut dyn Store, _: &Reopen) {
    let mut evs = three_events();
    evs.push(event("e0", "2024-04-29T10:00:00Z", None, "CreateUser"));
    evs.push(event("e4", "redacted", Some("carol"), "CreateUser"));
    store.commit(&batch(evs, vec![], Progress::None, NOW)).expect("commit");
    let q =
        |q: EventQuery| -> Vec<String> { store.events(&q).expect("query").into_iter().map(|e| e.event_id).collect() };
    let date = |d: &str| EventQuery { from_date: Some(d.into()), to_date: Some(d.into()), ..Default::default() };
    // Ordered by time; an event whose time is not a time sorts first.
    assert_eq!(q(EventQuery::default()), ["e4", "e0", "e1", "e2", "e3"]);
    assert_eq!(q(date("2024-05-01")), ["e2", "e3"]);
    assert_eq!(q(date("2024-04-30")), ["e1"]);
    assert_eq!(q(date("2024-05-02")), Vec::<String>::new());
    let range =
        |f: &str, t: &str| EventQuery { from_date: Some(f.into()), to_date: Some(t.into()), ..Default::default() };
    assert_eq!(q(range("2024-04-30", "2024-05-01")), ["e1", "e2", "e3"]);
    assert_eq!(q(EventQuery { from_date: Some("2024-04-30".into()), ..Default::default() }), ["e1", "e2", "e3"]);
    assert_eq!(q(EventQuery { to_date: Some("2024-04-30".into()), ..Default::default() }), ["e4", "e0", "e1"]);
    assert_eq!(q(EventQuery { user_name: Some("alice".into()), ..Default::default() }), ["e1", "e3"]);
    assert_eq!(q(EventQuery { event_name: Some("CreateAccessKey".into()), ..Default::default() }), ["e2", "e3"]);
    assert_eq!(
        q(EventQuery { user_name: Some("alice".into()), event_name: Some("CreateUser".into()), ..Default::default() }),
        ["e1"]
    );
    assert_eq!(
        q(EventQuery { user_name: Some("alice".into()), ..range("2024-05-01", "2024-05-01") }),
        ["e3"],
        "user index with a date range"
    );
    assert_eq!(
        q(EventQuery {
            event_name: Some("CreateUser".into()),
            to_date: Some("2024-04-29".into()),
            ..Default::default()
        }),
        ["e4", "e0"],
        "e4's time is not a time, so it is filed under 1970-01-01"
    );
    // 2024-04-30T23:59:59Z is 1_714_521_599; since is inclusive and crosses the date line.
    assert_eq!(q(EventQuery { since: Some(1_714_521_599), ..Default::default() }), ["e1", "e2", "e3"]);
    assert_eq!(q(EventQuery { since: Some(1_714_521_600), ..Default::default() }), ["e2", "e3"]);
    assert_eq!(
        q(EventQuery { since: Some(1_714_521_600), user_name: Some("alice".into()), ..Default::default() }),
        ["e3"]
    );
    assert_eq!(q(EventQuery { since: Some(NOW), ..Default::default() }), Vec::<String>::new());
    assert_eq!(q(EventQuery { limit: Some(2), ..Default::default() }), ["e4", "e0"]);
    assert_eq!(q(EventQuery { user_name: Some("alice".into()), limit: Some(1), ..Default::default() }), ["e1"]);
    assert_eq!(q(EventQuery { user_name: Some("nobody".into()), ..Default::default() }), Vec::<String>::new());
}

fn a_date_partition_reads_in_id_pages_and_counts(store: &mut dyn Store, _: &Reopen) {
    let events: Vec<StoredEvent> = (0..7)
        .map(|i| event(&format!("id-{i}"), "2024-05-01T10:00:00Z", None, "GetUser"))
        .chain([event("other-day", "2024-05-02T10:00:00Z", None, "GetUser")])
        .collect();
    store.commit(&batch(events, vec![], Progress::None, 0)).expect("commit");
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store.events_page("2024-05-01", after.as_deref(), 3).expect("page");
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 3);
        after = page.last().map(|e| e.event_id.clone());
        seen.extend(page.into_iter().map(|e| e.event_id));
    }
    assert_eq!(seen, (0..7).map(|i| format!("id-{i}")).collect::<Vec<_>>());
    assert_eq!(store.events_page("2024-05-01", Some("id-5"), 10).expect("page").len(), 1);
    assert_eq!(store.date_count("2024-05-01").expect("count"), 7);
    assert_eq!(store.date_count("2024-05-02").expect("count"), 1);
    assert_eq!(store.date_count("2024-05-03").expect("count"), 0);
}

fn a_batch_committed_again_after_a_crash_before_progress_is_harmless(store: &mut dyn Store, _: &Reopen) {
    // What a crash between the events (and alerts) and the progress leaves behind is exactly a
    // commit without progress; the source then re-reads the slice and commits it whole.
    let t = task("us-west-2");
    let evs = three_events();
    let alerts = vec![alert("user-creation:e1", NOW, 3600)];
    store.commit(&batch(evs.clone(), alerts.clone(), Progress::None, NOW)).expect("events and alerts only");
    assert_eq!(store.checkpoint(&t).expect("read"), None, "no progress without the progress step");
    let full = Batch {
        task: Some(t.clone()),
        ..batch(evs, alerts, Progress::Checkpoint { task: t.clone(), to: NOW }, NOW + 5)
    };
    let r = store.commit(&full).expect("re-commit");
    assert_eq!(
        r,
        CommitReport { stored: 0, already_stored: 3, alerts_pending: 0, alerts_duplicate: 1, checkpoint_moved: true }
    );
    assert_eq!(all(store), three_events());
    assert_eq!(store.pending_alerts().expect("pending").len(), 1, "the alert is pending once");
    let cp = store.checkpoint(&t).expect("read").expect("exists");
    assert_eq!((cp.last_processed, cp.events_processed), (NOW, 0), "nothing newly stored, nothing counted");
}

fn two_handles_see_each_others_commits(a: &mut dyn Store, reopen: &Reopen) {
    // Nothing is cached in a handle: a second process sees every commit, and a checkpoint
    // decision is made on what is stored.
    let mut b = reopen();
    let t = task("us-east-1");
    let r = a.commit(&batch(
        three_events(),
        vec![alert("k", NOW, 60)],
        Progress::Checkpoint { task: t.clone(), to: NOW },
        NOW,
    ));
    assert!(r.expect("a commits").checkpoint_moved);
    let r = b
        .commit(&batch(
            three_events(),
            vec![alert("k", NOW, 60)],
            Progress::Checkpoint { task: t.clone(), to: NOW - 1 },
            NOW,
        ))
        .expect("b commits");
    assert_eq!((r.stored, r.already_stored, r.alerts_duplicate, r.checkpoint_moved), (0, 3, 1, false));
    b.mark_sent("k", NOW + 1).expect("b marks sent");
    assert!(a.pending_alerts().expect("a reads").is_empty());
    assert_eq!(a.checkpoint(&t).expect("a reads").map(|c| c.last_processed), Some(NOW));
}

fn many_events_in_one_batch_are_all_stored_once(store: &mut dyn Store, _: &Reopen) {
    // More than one BatchGetItem (100) and many BatchWriteItem chunks (25) for DynamoDB.
    let t = task("us-east-1");
    let events: Vec<StoredEvent> = (0..260)
        .map(|i| {
            event(&format!("m{i:04}"), &format!("2024-05-0{}T10:{:02}:00Z", 1 + i % 3, i % 60), Some("u"), "GetUser")
        })
        .collect();
    let b = Batch {
        task: Some(t.clone()),
        ..batch(events.clone(), vec![], Progress::Checkpoint { task: t.clone(), to: NOW }, NOW)
    };
    let r = store.commit(&b).expect("commit");
    assert_eq!((r.stored, r.already_stored), (260, 0));
    let mut half = events[..130].to_vec();
    half.push(event("m-new", "2024-05-01T11:00:00Z", None, "GetUser"));
    let r = store.commit(&batch(half, vec![], Progress::None, NOW)).expect("overlap");
    assert_eq!((r.stored, r.already_stored), (1, 130));
    let counts: u64 =
        ["2024-05-01", "2024-05-02", "2024-05-03"].iter().map(|d| store.date_count(d).expect("count")).sum();
    assert_eq!(counts, 261);
    assert_eq!(store.checkpoint(&t).expect("read").expect("exists").events_processed, 260);
}
