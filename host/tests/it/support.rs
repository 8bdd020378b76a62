//! Shared helpers: workspace paths, loading plugins, running one record; [`moto`], the
//! local AWS server; [`dynamodb`], the DynamoDB server of the store tests.

#[cfg(feature = "aws")]
pub mod dynamodb;
pub mod moto;

use std::path::PathBuf;
use std::sync::Arc;

use iam_tracker::detect;
use iam_tracker::dispatch::{self, Dispatcher, LoadOptions};
use iam_tracker::event::CloudTrailEvent;
use iam_tracker::input::{Origin, Position};
use iam_tracker::report::{RaisedAlert, Summary};

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

pub fn fixtures_dir() -> PathBuf {
    root().join("target/plugins/fixtures")
}

pub fn load_builtins() -> Dispatcher {
    dispatch::load(&LoadOptions::default()).expect("built-in plugins load (run `cargo xtask build-plugins`)")
}

/// Run one record through the dispatcher, returning its alerts and the summary.
pub fn run_record(d: &mut Dispatcher, record: &str) -> (Vec<RaisedAlert>, Summary) {
    let mut alerts = Vec::new();
    let mut summary = Summary::default();
    let ev = CloudTrailEvent::parse(record).expect("record parses");
    let origin = Origin { file: "test".into(), position: Position::Record(0) };
    detect::process_event(d, Arc::new(ev), &origin, &mut |a| alerts.push(a), &mut summary);
    (alerts, summary)
}

pub fn record(source: &str, name: &str) -> String {
    serde_json::json!({
        "eventVersion": "1.08",
        "eventSource": source,
        "eventName": name,
        "eventID": format!("id-{name}"),
        "eventTime": "2026-03-01T00:00:00Z",
        "userIdentity": {"type": "IAMUser", "userName": "tester", "arn": "arn:aws:iam::111122223333:user/tester"},
        "recipientAccountId": "111122223333"
    })
    .to_string()
}

pub fn root_login() -> String {
    serde_json::json!({
        "eventSource": "signin.amazonaws.com", "eventName": "ConsoleLogin", "eventID": "root-1",
        "userIdentity": {"type": "Root", "arn": "arn:aws:iam::111122223333:root", "accountId": "111122223333"},
        "responseElements": {"ConsoleLogin": "Success"}, "sourceIPAddress": "203.0.113.9",
        "recipientAccountId": "111122223333"
    })
    .to_string()
}
