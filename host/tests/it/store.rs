//! The read-back commands against a real store: seeded through `LocalStore::commit`, read by
//! the built binary (`events`, `alerts`), and their exit codes.

use std::path::Path;
use std::process::{Command, Output};

use iam_tracker::store::local::{LocalStore, DATA_DIR_ENV};
use iam_tracker::store::{AlertRecord, Batch, EventType, Progress, Store, StoredEvent, TaskKey};
use iam_tracker::Severity;
use serde_json::Value;

/// 2024-05-01T12:00:00Z
const NOW: i64 = 1_714_564_800;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_iam-tracker"));
    c.env_remove("IAM_TRACKER_CONFIG").env_remove(DATA_DIR_ENV).env("NO_COLOR", "1");
    c
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn jsonl(out: &Output) -> Vec<Value> {
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    text(&out.stdout).lines().map(|l| serde_json::from_str(l).expect("each line is JSON")).collect()
}

fn event(id: &str, time: &str, user: &str, name: &str) -> StoredEvent {
    let raw = serde_json::json!({"eventID": id, "eventTime": time, "eventName": name,
        "userIdentity": {"type": "IAMUser", "userName": user}});
    StoredEvent {
        event_date: time[..10].to_string(),
        event_id: id.into(),
        event_time: time.into(),
        event_source: "iam.amazonaws.com".into(),
        event_name: name.into(),
        event_type: EventType::Iam,
        user_name: Some(user.into()),
        identity_type: Some("IAMUser".into()),
        principal_arn: Some(format!("arn:aws:iam::111122223333:user/{user}")),
        aws_region: Some("us-east-1".into()),
        source_ip: Some("203.0.113.9".into()),
        user_agent: Some("aws-cli/2".into()),
        error_code: None,
        error_message: None,
        recipient_account_id: Some("111122223333".into()),
        raw: raw.to_string(),
    }
}

fn alert(key: &str, created_at: i64) -> AlertRecord {
    AlertRecord {
        dedup_key: key.into(),
        detector: "user-creation".into(),
        severity: Severity::High,
        title: "IAM User Created".into(),
        event_id: Some("e1".into()),
        event_time: Some("2024-05-01T08:00:00Z".into()),
        payload: serde_json::json!({"dedup_key": key, "title": "IAM User Created"}).to_string(),
        created_at,
        sent_at: None,
        dedup_until: created_at + 3600,
        expires_at: created_at + 30 * 86_400,
    }
}

fn seed(dir: &Path) {
    let mut store = LocalStore::open(dir).expect("open store");
    let task = TaskKey { region: "us-east-1".into(), source: "iam.amazonaws.com".into() };
    store
        .commit(&Batch {
            events: vec![
                event("e1", "2024-05-01T08:00:00Z", "alice", "CreateUser"),
                event("e2", "2024-05-01T09:00:00Z", "bob", "CreateUser"),
                event("e3", "2024-05-02T10:00:00Z", "alice", "CreateAccessKey"),
            ],
            alerts: vec![alert("user-creation:e1", NOW), alert("user-creation:e2", NOW + 60)],
            progress: Progress::Checkpoint { task: task.clone(), to: NOW },
            task: Some(task),
            now: NOW + 60,
        })
        .expect("commit");
    store.mark_sent("user-creation:e1", NOW + 5).expect("mark sent");
}

#[test]
fn events_and_alerts_read_back_what_was_committed() {
    let tmp = tempfile::tempdir().expect("tempdir");
    seed(tmp.path());
    let spec = format!("local:{}", tmp.path().display());

    let out = bin().args(["events", "--store", &spec, "--format", "jsonl", "--user", "alice"]).output().expect("runs");
    let rows = jsonl(&out);
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["event_id"].as_str()).collect();
    assert_eq!(ids, ["e1", "e3"]);
    assert_eq!(rows[0]["user_name"], "alice");
    assert_eq!(rows[0]["event_type"], "iam");
    assert_eq!(rows[0]["principal_arn"], "arn:aws:iam::111122223333:user/alice");
    assert_eq!(rows[0]["error_code"], Value::Null);
    assert_eq!(rows[1]["raw"]["eventName"], "CreateAccessKey", "raw is nested JSON");

    let out = bin()
        .args(["events", "--store", &spec, "--format", "jsonl", "--date", "2024-05-01", "--event-name", "CreateUser"])
        .output()
        .expect("runs");
    let ids: Vec<String> = jsonl(&out).iter().filter_map(|r| r["event_id"].as_str().map(String::from)).collect();
    assert_eq!(ids, ["e1", "e2"]);

    let out = bin()
        .args(["events", "--store", &spec, "--format", "jsonl", "--since", "2024-05-01T09:00:00Z", "--limit", "1"])
        .output()
        .expect("runs");
    assert_eq!(jsonl(&out).iter().filter_map(|r| r["event_id"].as_str()).collect::<Vec<_>>(), ["e2"]);

    // `alerts` without --store reads the default store, here set through the environment.
    let out = bin().env(DATA_DIR_ENV, tmp.path()).args(["alerts", "--format", "jsonl"]).output().expect("runs");
    let rows = jsonl(&out);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0]["dedup_key"], "user-creation:e1");
    assert_eq!(rows[0]["sent_at"], NOW + 5);
    assert_eq!(rows[0]["severity"], "high");
    assert_eq!(rows[0]["payload"]["title"], "IAM User Created", "payload is nested JSON");
    assert_eq!(rows[1]["dedup_key"], "user-creation:e2");
    assert_eq!(rows[1]["sent_at"], Value::Null);

    let out = bin().args(["alerts", "--store", &spec, "--pending", "--format", "jsonl"]).output().expect("runs");
    assert_eq!(jsonl(&out).iter().filter_map(|r| r["dedup_key"].as_str()).collect::<Vec<_>>(), ["user-creation:e2"]);

    let out = bin().args(["events", "--store", &spec]).output().expect("runs");
    assert_eq!(out.status.code(), Some(0), "stderr: {}", text(&out.stderr));
    let table = text(&out.stdout);
    assert!(table.starts_with("TIME "), "{table}");
    assert_eq!(table.lines().count(), 4, "header + 3 events: {table}");
}

#[test]
fn unusable_stores_and_flags_exit_2_with_one_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let one_line_error = |out: &Output, needle: &str| {
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
        assert!(stderr.contains(needle), "missing {needle:?} in {stderr}");
        assert!(out.stdout.is_empty());
    };
    let out = bin().args(["events", "--store", "foo:bar"]).output().expect("runs");
    one_line_error(&out, "`foo:bar` is not a store: expected local:DIR");

    let missing = tmp.path().join("typo");
    let out = bin().args(["alerts", "--store", &format!("local:{}", missing.display())]).output().expect("runs");
    one_line_error(&out, &format!("cannot open the store at {}", missing.display()));
    assert!(!missing.exists(), "a read-back command does not create a store");

    seed(tmp.path());
    let spec = format!("local:{}", tmp.path().display());
    let out = bin().args(["events", "--store", &spec, "--since", "yesterday"]).output().expect("runs");
    one_line_error(&out, "bad --since: `yesterday`");
    let out = bin().args(["events", "--store", &spec, "--date", "2024-13-01"]).output().expect("runs");
    one_line_error(&out, "bad --date: `2024-13-01`");
}
