//! The Athena engine against moto: StartQueryExecution with the database, workgroup and
//! output location, and seeded results read back (header row dropped, nulls kept). Each test seeds its own region, because moto's result queue is per
//! account and region and taken at StartQueryExecution. Paging and FAILED, which moto cannot
//! produce, are unit tests in `aws::athena` (aws-smithy-mocks).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use iam_tracker::analytics::queries::{self, Dialect, Params};
use iam_tracker::analytics::QueryEngine;
use iam_tracker::aws::athena::{AthenaEngine, AthenaSettings};
use time::macros::date;

use crate::support::moto;

/// POST a JSON body to moto's control API.
fn moto_post(path: &str, body: &str) {
    let endpoint = &moto::moto().endpoint;
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).expect("connect to moto");
    s.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send");
    let mut resp = String::new();
    s.read_to_string(&mut resp).expect("response");
    assert!(resp.starts_with("HTTP/1.1 20") || resp.starts_with("HTTP/1.0 20"), "moto {path}: {resp}");
}

fn client(region: &str) -> aws_sdk_athena::Client {
    let conf = aws_sdk_athena::Config::builder()
        .behavior_version(aws_sdk_athena::config::BehaviorVersion::latest())
        .region(aws_sdk_athena::config::Region::new(region.to_string()))
        .credentials_provider(aws_sdk_athena::config::Credentials::new("AKIDTEST", "secret", None, None, "test"))
        .endpoint_url(&moto::moto().endpoint)
        .build();
    aws_sdk_athena::Client::from_conf(conf)
}

fn datum(v: Option<&str>) -> serde_json::Value {
    match v {
        Some(s) => serde_json::json!({"VarCharValue": s}),
        None => serde_json::json!({}),
    }
}

#[test]
fn runs_a_query_and_reads_the_seeded_rows() {
    // A region of its own keeps this test's seeded results away from parallel tests.
    let region = "eu-north-1";
    let rows = [
        [Some("event_name"), Some("event_count"), Some("unique_users")],
        [Some("CreatePermissionSet"), Some("3"), Some("2")],
        [Some("DeleteAccountAssignment"), Some("1"), None],
    ];
    let body = serde_json::json!({
        "account_id": "123456789012",
        "region": region,
        "results": [{
            "rows": rows.iter().map(|r| serde_json::json!({"Data": r.iter().map(|v| datum(*v)).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "column_info": [
                {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": "event_name", "Label": "event_name", "Type": "varchar", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": true},
                {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": "event_count", "Label": "event_count", "Type": "bigint", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": false},
                {"CatalogName": "hive", "SchemaName": "", "TableName": "", "Name": "unique_users", "Label": "unique_users", "Type": "bigint", "Precision": 0, "Scale": 0, "Nullable": "UNKNOWN", "CaseSensitive": false}
            ]
        }]
    });
    moto_post("/moto-api/static/athena/query-results", &body.to_string());

    let q = queries::find("sso_activity_summary").expect("query");
    let sql = queries::render(q, Dialect::Athena, &Params::new(date!(2024 - 05 - 10))).expect("renders");
    let settings = AthenaSettings {
        database: "iam_tracker_test".into(),
        workgroup: "primary".into(),
        output_location: Some("s3://athena-results-test/".into()),
        poll_initial: Duration::from_millis(10),
        poll_max: Duration::from_millis(50),
        ..AthenaSettings::default()
    };
    let mut engine = AthenaEngine::new(client(region), settings).expect("engine");
    let (r, stats) = engine.run(q.name, &sql).expect("runs against moto");
    assert_eq!(r.columns, ["event_name", "event_count", "unique_users"]);
    assert_eq!(
        r.rows,
        [
            vec![Some("CreatePermissionSet".to_string()), Some("3".to_string()), Some("2".to_string())],
            vec![Some("DeleteAccountAssignment".to_string()), Some("1".to_string()), None],
        ],
        "header dropped, null kept"
    );
    let id = stats.execution_id.clone().expect("execution id");
    assert_eq!(stats.data_scanned_bytes, Some(0), "moto reports zero statistics");
    assert_eq!(stats.estimated_cost_usd(), Some(0.0));

    // The query really went to Athena with our text, database and output location.
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let exec =
        rt.block_on(client(region).get_query_execution().query_execution_id(&id).send()).expect("GetQueryExecution");
    let qe = exec.query_execution().expect("execution");
    assert_eq!(qe.query(), Some(sql.as_str()));
    assert_eq!(qe.query_execution_context().and_then(|c| c.database()), Some("iam_tracker_test"));
    let loc = qe.result_configuration().and_then(|c| c.output_location()).unwrap_or_default();
    assert!(loc.starts_with("s3://athena-results-test/"), "{loc}");
}

#[test]
fn a_query_with_no_rows_gives_columns_of_nothing() {
    // Nothing seeded for this region: moto returns an empty result set.
    let region = "sa-east-1";
    let settings = AthenaSettings {
        output_location: Some("s3://athena-results-test/".into()),
        poll_initial: Duration::from_millis(10),
        ..AthenaSettings::default()
    };
    let mut engine = AthenaEngine::new(client(region), settings).expect("engine");
    let (r, stats) = engine.run("root_usage", "SELECT 1").expect("runs");
    assert!(r.rows.is_empty(), "{r:?}");
    assert!(stats.execution_id.is_some());
}
